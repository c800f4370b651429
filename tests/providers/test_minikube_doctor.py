"""doctor on cluster.provider minikube: the minikube tool row, no host-port checks, CPUs/memory."""

from __future__ import annotations

from pathlib import Path

from platformctl.drivers.docker import DockerClient, resolve_endpoint
from platformctl.drivers.tools import ToolResolver
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases.doctor import check_minikube_resources, run_doctor
from tests.unit.test_doctor import VERSION, FakeDockerSocket, _sysctls, info, probes, short_tmp

__all__ = ["short_tmp"]  # the fixture, shared with tests/unit/test_doctor.py

GiB = 1024**3
FAKE_MINIKUBE = Path(__file__).resolve().parents[1] / "fakebin" / "minikube"


def minikube(**cluster: object) -> PlatformSpec:
    return PlatformSpec.model_validate({"cluster": {"provider": "minikube", **cluster}})


def test_doctor_checks_minikube_not_kind_ports(short_tmp: Path, tmp_path: Path) -> None:
    sock = short_tmp / "docker.sock"
    lock = load_lock()
    answers = {"/version": VERSION, "/info": info(mem=16 * GiB, cpus=8), "/containers/json": []}
    with FakeDockerSocket(sock, answers):
        results = run_doctor(
            minikube(cpus=4, memory_mb=8192),
            lock=lock,
            probes=probes(
                docker=DockerClient(resolve_endpoint({"DOCKER_HOST": f"unix://{sock}"})),
                sysctl_root=_sysctls(tmp_path / "sys", 524288, 512),
                tools=ToolResolver(
                    lock,
                    cache_dir=tmp_path / "c",
                    env={"PLATFORMCTL_MINIKUBE": str(FAKE_MINIKUBE)},
                    search_path=str(tmp_path),
                    plat="linux-amd64",
                ),
            ),
        )
    by = {r.name: r for r in results}
    assert [r.name for r in results][:6] == [
        "docker", "docker-resources", "tool:kind", "tool:helm", "tool:kubectl", "tool:minikube",
    ]  # fmt: skip
    assert by["tool:minikube"].verdict == "ok" and "minikube v1.38.1 (env:" in by["tool:minikube"].detail
    assert by["ports"].verdict == "ok" and "'minikube'" in by["ports"].detail
    assert by["minikube-resources"].verdict == "ok"


def test_minikube_resources_beyond_docker_fail() -> None:
    res = check_minikube_resources(minikube(cpus=16, memory_mb=32768), info(mem=8 * GiB, cpus=4))
    assert res is not None and res.verdict == "fail"
    assert res.detail == (
        "cluster.cpus 16 > Docker's 4 CPUs; cluster.memory_mb 32768 > Docker's 8192 MiB: "
        "`minikube start` would refuse"
    )
    assert check_minikube_resources(PlatformSpec(), info()) is None  # kind: not this check
    assert check_minikube_resources(minikube(cpus=2), None) is None  # no Docker answer: docker row says so


def test_docker_is_needed_for_minikube(short_tmp: Path, tmp_path: Path) -> None:
    lock = load_lock()
    results = run_doctor(
        minikube(),
        lock=lock,
        probes=probes(
            docker=DockerClient(resolve_endpoint({"DOCKER_HOST": f"unix://{short_tmp}/none.sock"})),
            sysctl_root=_sysctls(tmp_path / "sys", 524288, 512),
            tools=ToolResolver(
                lock, cache_dir=tmp_path / "c", env={}, search_path=str(tmp_path), plat="linux-amd64"
            ),
        ),
    )
    assert results[0].name == "docker" and results[0].verdict == "fail"  # the docker driver needs it
