"""providers/minikube.py + drivers/minikube.py against the fake minikube executable (tests/fakebin/minikube):
create, reuse, refuse a profile platformctl did not create, changed settings, delete, and the ingress/URLs
on <minikube ip>.sslip.io (the fake's IP is a loopback address: tests only dial loopback)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl import providers
from platformctl.components.istio import gateway_values
from platformctl.drivers.minikube import Minikube
from platformctl.errors import ClusterError, SafetyError, UsageError
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.providers import ProviderOptions
from platformctl.providers.minikube import MinikubeProvider
from platformctl.reporting import RecordingReporter

FAKE_MINIKUBE = Path(__file__).resolve().parents[1] / "fakebin" / "minikube"

OTHER = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example.com"}}],
    "users": [{"name": "prod-admin", "user": {"token": "secret-token"}}],
    "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}}],
    "current-context": "prod",
}


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    st = tmp_path / "minikube-state"
    monkeypatch.setenv("FAKE_MINIKUBE_STATE", str(st))
    # The fake edits $KUBECONFIG like minikube does: point the ambient one at a file we can watch.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "ambient-kubeconfig"))
    return st


def calls(state: Path) -> list[dict[str, Any]]:
    path = state / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def argvs(state: Path, verb: str) -> list[list[str]]:
    return [c["argv"] for c in calls(state) if c["argv"][:1] == [verb]]


def make(tmp_path: Path, **kw: Any) -> MinikubeProvider:
    opts = ProviderOptions(
        kubeconfig=str(tmp_path / "kube" / "config"),
        binary=FAKE_MINIKUBE,
        state_dir=tmp_path / "records",
        **kw,
    )
    return MinikubeProvider(opts)


def spec(**cluster: Any) -> PlatformSpec:
    return PlatformSpec.model_validate({"cluster": {"provider": "minikube", **cluster}})


def test_create_starts_profile_with_spec_and_lock_and_merges_context(state: Path, tmp_path: Path) -> None:
    kube = tmp_path / "kube" / "config"
    kube.parent.mkdir()
    kube.write_text(yaml.safe_dump(OTHER))
    rep = RecordingReporter()
    target = make(tmp_path, reporter=rep).ensure(spec(cpus=4, memory_mb=8192))
    assert target.created and target.context == "platform" and target.kubeconfig == str(kube)
    (start,) = argvs(state, "start")
    version = load_lock().kubernetes.version
    assert start == [
        "start", "-p", "platform", "--driver=docker", f"--kubernetes-version={version}",
        "--cpus=4", "--memory=8192m",
    ]  # fmt: skip
    # minikube wrote into a private kubeconfig, never the user's or the ambient one.
    started = next(c for c in calls(state) if c["argv"][:1] == ["start"])
    assert started["kubeconfig"] not in (str(kube), str(tmp_path / "ambient-kubeconfig"))
    assert not (tmp_path / "ambient-kubeconfig").exists()
    data = yaml.safe_load(kube.read_text())
    assert [c["name"] for c in data["contexts"]] == ["prod", "platform"]
    assert data["users"][0] == OTHER["users"][0]  # other entries untouched
    assert data["current-context"] == "platform"
    assert oct(kube.stat().st_mode & 0o777) == "0o600"
    # recorded as created by platformctl, with the settings a later run compares
    record = json.loads((tmp_path / "records" / "platform.json").read_text())
    assert record["settings"] == {
        "cpus": "4", "driver": "docker", "kubernetes_version": version, "memory_mb": "8192",
    }  # fmt: skip
    assert ("finish", "cluster", "created") in [(e.kind, e.step, e.message) for e in rep.events]


def test_second_ensure_reuses_the_profile_and_refreshes_its_context(state: Path, tmp_path: Path) -> None:
    make(tmp_path).ensure(spec())
    again = make(tmp_path).ensure(spec())
    assert not again.created
    assert len(argvs(state, "start")) == 1
    assert argvs(state, "update-context") == [["update-context", "-p", "platform"]]
    kube = yaml.safe_load((tmp_path / "kube" / "config").read_text())
    assert [c["name"] for c in kube["contexts"]] == ["platform"]


def test_profile_not_created_by_platformctl_is_refused_then_replaced_with_force(
    state: Path, tmp_path: Path
) -> None:
    # Someone ran `minikube start -p platform` themselves: no platformctl record.
    Minikube(FAKE_MINIKUBE).start("platform", kubernetes_version="v1.30.0", kubeconfig=tmp_path / "theirs")
    provider = make(tmp_path)
    with pytest.raises(SafetyError, match="a minikube cluster named 'platform' exists but was not") as e:
        provider.ensure(spec())
    assert e.value.exit_code == 5 and "--context platform" in e.value.message
    with pytest.raises(SafetyError, match="not created by platformctl; not deleting it"):
        provider.remove(spec())
    assert argvs(state, "delete") == []
    assert len(argvs(state, "start")) == 1  # nothing started either
    assert not (tmp_path / "kube" / "config").exists()
    forced = make(tmp_path, force=True).ensure(spec())
    assert forced.created
    assert argvs(state, "delete") == [["delete", "-p", "platform"]]


def test_changed_settings_are_explained_not_silently_recreated(state: Path, tmp_path: Path) -> None:
    make(tmp_path).ensure(spec(cpus=4))
    with pytest.raises(SafetyError, match=r"different config \(cpus changed\)") as e:
        make(tmp_path).ensure(spec(cpus=6))
    assert "cpus: created with 4, wanted 6" in e.value.details
    assert len(argvs(state, "start")) == 1 and argvs(state, "delete") == []


def test_foreign_kubeconfig_context_is_refused_before_starting(state: Path, tmp_path: Path) -> None:
    kube = tmp_path / "kube" / "config"
    kube.parent.mkdir()
    foreign = {
        **OTHER,
        "contexts": [{"name": "platform", "context": {"cluster": "prod", "user": "prod-admin"}}],
    }
    kube.write_text(yaml.safe_dump(foreign))
    with pytest.raises(SafetyError, match="context 'platform' exists and was not written by platformctl"):
        make(tmp_path).ensure(spec())
    assert argvs(state, "start") == []
    assert yaml.safe_load(kube.read_text()) == foreign


def test_remove_deletes_only_its_profile_and_context(state: Path, tmp_path: Path) -> None:
    kube = tmp_path / "kube" / "config"
    kube.parent.mkdir()
    kube.write_text(yaml.safe_dump(OTHER))
    make(tmp_path).ensure(spec())
    assert make(tmp_path).remove(spec()) is True
    assert argvs(state, "delete") == [["delete", "-p", "platform"]]
    deleted = next(c for c in calls(state) if c["argv"][:1] == ["delete"])
    assert deleted["kubeconfig"] != str(kube)  # minikube's own kubeconfig edit went to a private file
    assert not (tmp_path / "records" / "platform.json").exists()
    data = yaml.safe_load(kube.read_text())
    assert [c["name"] for c in data["contexts"]] == ["prod"]
    assert [u["name"] for u in data["users"]] == ["prod-admin"]
    assert make(tmp_path).remove(spec()) is False  # gone already: a no-op that says so


def test_start_failure_is_a_cluster_error_and_not_recorded(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MINIKUBE_FAIL", "start")
    with pytest.raises(ClusterError, match="minikube could not start profile 'platform'") as e:
        make(tmp_path).ensure(spec())
    assert any("RSRC_INSUFFICIENT_CORES" in d for d in e.value.details)
    assert not (tmp_path / "records" / "platform.json").exists()
    assert not (tmp_path / "kube" / "config").exists()


def test_profile_list_failure_says_what_is_wrong(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_MINIKUBE_FAIL", "profile-list")
    with pytest.raises(ClusterError, match="minikube profile list` failed"):
        Minikube(FAKE_MINIKUBE).profiles()


def test_context_must_be_the_profile(state: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--context other: cluster\.provider is 'minikube'"):
        make(tmp_path, context="other").target(spec())


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"host": self.headers.get("Host"), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway_on_node_port() -> Iterator[str]:
    """A stand-in for the gateway NodePort at the node IP: 127.0.0.2:31080 (loopback)."""
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.2", 31080), _Echo)
    except OSError as exc:
        pytest.skip(f"cannot listen on 127.0.0.2:31080 here: {exc}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "127.0.0.2"
    server.shutdown()
    server.server_close()


def test_urls_use_node_ip_sslip_domain_and_smoke_dials_the_node_port(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gateway_on_node_port: str
) -> None:
    from platformctl.drivers.http import HttpClient
    from platformctl.usecases import smoke_test as st

    monkeypatch.setenv("FAKE_MINIKUBE_IP", gateway_on_node_port)
    provider = make(tmp_path)
    provider.ensure(spec())
    ingress = provider.ingress(spec())
    assert (ingress.address, ingress.http_port, ingress.https_port) == ("127.0.0.2", 31080, 31443)
    resolved = providers.resolve_domain(spec(), provider)
    assert resolved.domain == "127.0.0.2.sslip.io"
    # An explicit domain is kept.
    explicit = PlatformSpec.model_validate(
        {"cluster": {"provider": "minikube"}, "domain": "apps.example.com"}
    )
    assert providers.resolve_domain(explicit, provider).domain == "apps.example.com"
    urls = st.targets_from_spec(resolved)
    assert urls.models == {"sklearn-iris": "http://sklearn-iris.default.127.0.0.2.sslip.io"}
    assert all(u.endswith(".default.127.0.0.2.sslip.io") for u in urls.services.values())
    # smoke-test's default ingress: the node IP and the gateway NodePort (through the same provider seam).
    monkeypatch.setenv("PLATFORMCTL_MINIKUBE", str(FAKE_MINIKUBE))
    endpoint = st.default_ingress(spec())
    assert endpoint is not None and endpoint.authority() == "127.0.0.2:31080"
    with HttpClient(ingress=endpoint, timeout=5) as client:
        resp = client.request("GET", urls.models["sklearn-iris"] + "/v2/health/ready")
    assert resp.status == 200, resp.error
    assert resp.json() == {"host": "sklearn-iris.default.127.0.0.2.sslip.io", "path": "/v2/health/ready"}
    # The gateway Service is a NodePort on 31080/31443 for minikube, as for kind.
    svc = gateway_values("minikube")["service"]
    assert svc["type"] == "NodePort"
    assert [p.get("nodePort") for p in svc["ports"]] == [None, 31080, 31443]
