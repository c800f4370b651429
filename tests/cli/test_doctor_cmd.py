"""`platformctl doctor`: rendered verdicts and exit codes against a fake Docker endpoint and high ports."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from platformctl.drivers import system
from platformctl.plan.lock import load_lock
from tests.support.cli_main import Ran, run_main
from tests.support.httpserver import LocalHTTPServer

GiB = 1024**3


def run(args: list[str], env: dict[str, str]) -> Ran:
    return run_main(args, env)


@pytest.fixture(autouse=True)
def no_real_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def fake(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(system, "system_resolver", fake)
    return asked


@pytest.fixture
def docker() -> object:
    with LocalHTTPServer() as srv:
        srv.add("/version", json.dumps({"Version": "27.5.1", "ApiVersion": "1.47"}).encode())
        info = {"MemTotal": 16 * GiB, "NCPU": 8, "OSType": "linux", "Architecture": "x86_64"}
        srv.add("/info", json.dumps(info).encode())
        srv.add("/containers/json", b"[]")
        yield srv


def _env(tmp_path: Path, srv: LocalHTTPServer) -> dict[str, str]:
    lock = load_lock()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {
        "kind": f"kind {lock.tools['kind'].version} go1.24.6 linux/amd64",
        "helm": f"{lock.tools['helm'].version}+gabc",
        "kubectl": json.dumps({"clientVersion": {"gitVersion": lock.tools["kubectl"].version}}),
    }.items():
        (bin_dir / name).write_text(f"#!/bin/sh\necho '{text}'\n")
        (bin_dir / name).chmod(0o755)
    return {
        "PATH": str(bin_dir),
        "DOCKER_HOST": f"tcp://127.0.0.1:{srv.port}",
        "PLATFORMCTL_CACHE_DIR": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
        "COLUMNS": "200",
    }


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_doctor_json_passes_with_healthy_fakes(
    tmp_path: Path, docker: LocalHTTPServer, no_real_dns: list[str]
) -> None:
    http, https = _free_ports(2)
    args = [
        "doctor",
        "-o",
        "json",
        "--set",
        f"cluster.http_port={http}",
        "--set",
        f"cluster.https_port={https}",
    ]
    res = run(args, _env(tmp_path, docker))
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    by = {c["name"]: c for c in data["checks"]}
    assert by["docker"]["verdict"] == "ok" and "27.5.1" in by["docker"]["detail"]
    assert by["docker-resources"]["verdict"] == "ok"
    assert {by[f"tool:{t}"]["verdict"] for t in ("kind", "helm", "kubectl")} == {"ok"}
    assert by[f"port:{http}"]["verdict"] == "ok" and by[f"port:{https}"]["verdict"] == "ok"
    assert by["dns"]["verdict"] == "ok"
    assert no_real_dns and no_real_dns[0].endswith(".127.0.0.1.sslip.io")
    assert data["verdict"] in ("ok", "warn")  # inotify depends on the host running the tests


def test_doctor_fails_on_occupied_port(tmp_path: Path, docker: LocalHTTPServer) -> None:
    (http,) = _free_ports(1)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        https = busy.getsockname()[1]
        res = run(
            ["doctor", "--set", f"cluster.http_port={http}", "--set", f"cluster.https_port={https}"],
            _env(tmp_path, docker),
        )
        owner = system.port_owner(https)  # Linux /proc: this test process holds the socket
    assert res.exit_code == 1
    assert f"port:{https}" in res.stdout and "fail" in res.stdout
    assert "1 check(s) failed" in res.stderr and "https_port" in res.stderr
    if owner is not None:
        import os

        assert owner.startswith(f"pid {os.getpid()} (") and f"pid {os.getpid()}" in " ".join(
            res.stdout.split()
        )


def test_doctor_docker_down_and_no_download(tmp_path: Path, docker: LocalHTTPServer) -> None:
    env = _env(tmp_path, docker)
    env["DOCKER_HOST"] = f"unix://{tmp_path}/nothing.sock"
    env["PATH"] = str(tmp_path / "empty")
    http, https = _free_ports(2)
    res = run(
        [
            "doctor",
            "-o",
            "json",
            "--no-download",
            "--set",
            f"cluster.http_port={http}",
            "--set",
            f"cluster.https_port={https}",
        ],
        env,
    )
    assert res.exit_code == 1
    by = {c["name"]: c["verdict"] for c in json.loads(res.stdout)["checks"]}
    assert by["docker"] == "fail" and by["tool:kind"] == "fail"
    assert "docker-resources" not in by


def test_doctor_bad_set_is_usage_error(tmp_path: Path, docker: LocalHTTPServer) -> None:
    res = run(["doctor", "--set", "cluster.http_port=0"], _env(tmp_path, docker))
    assert res.exit_code == 2
