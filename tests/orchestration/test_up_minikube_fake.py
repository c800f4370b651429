"""`up`/`down` end to end with cluster.provider minikube: the fake minikube (tests/fakebin/minikube) hands out
a kubeconfig for the fake API server, so the real engine, components and runner do the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.errors import SafetyError
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases.down import down
from platformctl.usecases.render import SourceOptions
from platformctl.usecases.up import UpOptions, up
from tests.fakeapi import FakeApiServer
from tests.orchestration.test_up_fake import assert_all_succeeded, sources
from tests.support.cli_main import run_main

__all__ = ["sources"]  # the fixture, shared with test_up_fake.py

pytestmark = pytest.mark.slow

FAKE_MINIKUBE = Path(__file__).resolve().parents[1] / "fakebin" / "minikube"
SPEC = PlatformSpec.model_validate({"cluster": {"provider": "minikube", "cpus": 4, "memory_mb": 8192}})


@pytest.fixture
def minikube_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_api: FakeApiServer) -> Iterator[Path]:
    kc = tmp_path / "fake-minikube-kubeconfig.json"
    kc.write_text(json.dumps(yaml.safe_load(fake_api.kubeconfig_text(context="platform"))))
    state = tmp_path / "minikube"
    monkeypatch.setenv("PLATFORMCTL_MINIKUBE", str(FAKE_MINIKUBE))
    monkeypatch.setenv("FAKE_MINIKUBE_STATE", str(state))
    monkeypatch.setenv("FAKE_MINIKUBE_KUBECONFIG", str(kc))
    monkeypatch.setenv("FAKE_MINIKUBE_IP", "127.0.0.3")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kube" / "config"))
    yield state


def _calls(state: Path, verb: str) -> list[dict[str, Any]]:
    lines = (state / "calls.jsonl").read_text().splitlines()
    return [c for c in map(json.loads, lines) if c["argv"][:1] == [verb]]


def test_minikube_provider_full_up_reuse_refusal_and_down(
    minikube_env: Path,
    fake_api: FakeApiServer,
    sources: SourceOptions,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    res = up(SPEC, UpOptions(sources=sources, timeout=120))
    assert_all_succeeded(res)
    assert res.cluster is not None and res.cluster.created and res.context == "platform"
    (start,) = _calls(minikube_env, "start")
    assert start["argv"][:4] == ["start", "-p", "platform", "--driver=docker"]
    assert "--cpus=4" in start["argv"] and "--memory=8192m" in start["argv"]
    kubeconfig = tmp_path / "kube" / "config"
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    # The platform's domain is the node IP's sslip.io name, and the gateway is a NodePort Service.
    domain_cm = fake_api.get("ConfigMap", "config-domain", "knative-serving")
    assert domain_cm is not None
    assert [k for k in domain_cm["data"] if not k.startswith("_")] == ["127.0.0.3.sslip.io"]
    gateway = next(
        o for o in fake_api.objects("Service", "istio-system") if o["spec"].get("type") == "NodePort"
    )
    assert sorted(p.get("nodePort", 0) for p in gateway["spec"]["ports"])[-2:] == [31080, 31443]

    again = up(SPEC, UpOptions(sources=sources, timeout=120))
    assert again.cluster is not None and not again.cluster.created
    assert again.changed == 0
    assert len(_calls(minikube_env, "start")) == 1

    # A dry run renders for the domain the real run uses.
    from platformctl.usecases.render import make_render_context as real

    seen: list[str] = []

    def spy(spec: PlatformSpec, *args: Any, **kw: Any) -> Any:
        seen.append(spec.domain)
        return real(spec, *args, **kw)

    monkeypatch.setattr("platformctl.usecases.up.make_render_context", spy)
    dry = up(SPEC, UpOptions(sources=sources, timeout=120, dry_run=True))
    # (preflight's context comes first: it only sizes the render; the applied objects use the last one)
    assert dry.mode == "server-dry-run" and seen[-1] == "127.0.0.3.sslip.io" and len(seen) <= 2

    # The CLI's read-only commands find the cluster through the same provider (per-command context).
    cli_env = {"KUBECONFIG": str(kubeconfig), "PLATFORMCTL_MINIKUBE": str(FAKE_MINIKUBE)}
    mk = ["--set", "cluster.provider=minikube"]
    st = run_main(["status", "-o", "json", *mk], env=cli_env)
    assert st.exit_code == 0, st.stderr
    assert json.loads(st.stdout)["context"] == "platform"
    # smoke-test dials the node IP's NodePort (nothing listens there in this test: the checks fail fast).
    smoke = run_main(
        ["smoke-test", "--no-cluster", "--retries", "0", "--timeout", "1", "-o", "json", *mk], env=cli_env
    )
    report = json.loads(smoke.stdout)
    assert smoke.exit_code == 1 and report["ingress"] == "127.0.0.3:31080"
    urls = [r["url"] for r in report["checks"] if r["group"] != "ingress"]
    assert urls and all(".default.127.0.0.3.sslip.io" in u for u in urls)

    # a profile platformctl did not create is refused (exit 5), neither reused nor deleted
    other = PlatformSpec.model_validate({"cluster": {"provider": "minikube", "name": "theirs"}})
    (minikube_env / "theirs.json").write_text(json.dumps({"name": "theirs"}))
    with pytest.raises(SafetyError) as info:
        up(other, UpOptions(sources=sources))
    assert info.value.exit_code == 5
    with pytest.raises(SafetyError):
        down(other, confirmed=True)
    assert (minikube_env / "theirs.json").exists()

    result = down(SPEC, confirmed=False)  # deleting our own profile needs no prompt
    assert result.cluster_deleted and result.provider == "minikube"
    assert not (minikube_env / "platform.json").exists()
    assert "platform" not in [c["name"] for c in yaml.safe_load(kubeconfig.read_text())["contexts"]]
