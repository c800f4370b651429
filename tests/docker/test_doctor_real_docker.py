"""`platformctl doctor` against the real Docker daemon (and a real container holding a loopback port)."""

from __future__ import annotations

import json
import socket
import subprocess
from typing import Any

import pytest

from platformctl.drivers import system
from platformctl.drivers.docker import DockerClient
from tests.docker.conftest import WebContainer
from tests.support.cli_main import Ran, run_main
from tests.support.docker_env import DockerDaemon

pytestmark = pytest.mark.docker

GiB = 1024**3


@pytest.fixture(autouse=True)
def no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    # doctor's DNS check would ask the system resolver; tests reach only loopback.
    monkeypatch.setattr(system, "system_resolver", lambda host: ["127.0.0.1"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docker_json(daemon: DockerDaemon, *args: str) -> Any:
    """What the docker CLI itself reports (the independent witness doctor is compared with)."""
    out = subprocess.run(
        [daemon.cli, *args, "--format", "{{json .}}"], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(out.stdout)


def _doctor(*sets: str) -> tuple[Ran, dict[str, dict[str, str]]]:
    args = ["doctor", "-o", "json", "--no-download"]
    for s in sets:
        args += ["--set", s]
    ran = run_main(args)
    data = json.loads(ran.stdout)
    return ran, {c["name"]: c for c in data["checks"]}


def test_doctor_reports_the_real_daemon_version_memory_and_cpus(docker_daemon: DockerDaemon) -> None:
    info = _docker_json(docker_daemon, "info")
    server = _docker_json(docker_daemon, "version")["Server"]
    _, checks = _doctor(f"cluster.http_port={_free_port()}", f"cluster.https_port={_free_port()}")

    docker = checks["docker"]
    assert docker["verdict"] == "ok", docker
    assert docker["detail"] == (
        f"Docker {server['Version']} (API {server['ApiVersion']}, {info['OSType']}) "
        f"at {docker_daemon.endpoint.host}"
    )
    res = checks["docker-resources"]
    assert f"Docker has {info['MemTotal'] / GiB:.1f} GiB, {info['NCPU']} CPUs" in res["detail"], res
    small = info["MemTotal"] < 8 * GiB or info["NCPU"] < 4
    assert res["verdict"] == ("warn" if small else "ok"), res
    if info["NCPU"] < 4:
        assert f"CPUs {info['NCPU']} < 4" in res["detail"]


def test_port_held_by_a_real_container_fails_naming_it(web: WebContainer) -> None:
    free = _free_port()
    ran, checks = _doctor(
        "cluster.name=another-cluster", f"cluster.http_port={web.port}", f"cluster.https_port={free}"
    )
    held = checks[f"port:{web.port}"]
    assert held["verdict"] == "fail", held
    assert f"port {web.port} on 127.0.0.1 is already in use by container {web.container}" in held["detail"]
    assert "--set cluster.http_port=" in held["fix"]
    assert checks[f"port:{free}"]["verdict"] == "ok"
    assert ran.exit_code == 1 and f"port:{web.port}" in ran.stderr


def test_port_published_by_this_platforms_kind_node_is_ok(web: WebContainer) -> None:
    # The container is named <cluster>-control-plane, as kind names the node that publishes 80/443.
    _, checks = _doctor(
        f"cluster.name={web.cluster_name}",
        f"cluster.http_port={web.port}",
        f"cluster.https_port={_free_port()}",
    )
    own = checks[f"port:{web.port}"]
    assert own == {
        "name": f"port:{web.port}",
        "verdict": "ok",
        "detail": f"http: published by this platform's kind node {web.container}",
        "fix": "",
    }


def test_container_publishes_only_on_loopback(web: WebContainer, docker_daemon: DockerDaemon) -> None:
    mine = [c for c in DockerClient(docker_daemon.endpoint).containers() if f"/{web.container}" in c["Names"]]
    assert len(mine) == 1
    published = [p for p in mine[0]["Ports"] if p.get("PublicPort")]
    assert published and all(p["IP"] == "127.0.0.1" for p in published), published
    assert {p["PublicPort"] for p in published} == {web.port}
