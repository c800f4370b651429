"""doctor checks under controlled conditions: fake Docker, occupied ports, fake DNS, fake /proc/sys."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from platformctl.drivers.docker import DockerClient, Endpoint, resolve_endpoint
from platformctl.drivers.sources import Downloader
from platformctl.drivers.system import PortStatus, port_status, read_sysctl
from platformctl.drivers.tools import ToolResolver
from platformctl.errors import ClusterError, UsageError
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import ClusterSpec, PlatformSpec
from platformctl.usecases.doctor import (
    CheckResult,
    DoctorProbes,
    check_arch,
    check_dns,
    check_docker,
    check_inotify,
    check_ports,
    check_tools,
    exit_verdict,
    run_doctor,
)
from tests.support.httpserver import LocalHTTPServer

GiB = 1024**3
VERSION = {"Version": "27.5.1", "ApiVersion": "1.47", "Os": "linux", "Arch": "amd64"}


def info(mem: int = 16 * GiB, cpus: int = 8, arch: str = "x86_64") -> dict[str, Any]:
    return {"MemTotal": mem, "NCPU": cpus, "OSType": "linux", "Architecture": arch}


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class FakeDockerSocket:
    """A Docker Engine API stand-in on a unix socket: /version, /info, /containers/json."""

    def __init__(self, path: Path, answers: dict[str, Any]) -> None:
        self.path = path
        self.answers = answers
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def address_string(self) -> str:
                return "unix"

            def do_GET(self) -> None:
                p = self.path.split("?", 1)[0]
                outer.requests.append(p)
                if p in outer.answers:
                    body, status = json.dumps(outer.answers[p]).encode(), 200
                else:
                    body, status = b'{"message":"page not found"}', 404
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = _UnixHTTPServer(str(path), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeDockerSocket:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    # AF_UNIX paths are limited to ~107 bytes: pytest's tmp_path can be longer.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pd-", dir="/tmp") as d:
        yield Path(d)


def probes(**kw: Any) -> DoctorProbes:
    kw.setdefault("resolver", lambda host: ["127.0.0.1"])
    kw.setdefault("system", "Linux")
    kw.setdefault("machine", "x86_64")
    kw.setdefault("port_check", lambda addr, port: PortStatus(True, f"{addr}:{port} is free"))
    kw.setdefault("dns_label", lambda: "doctor-check")
    return DoctorProbes(**kw)


# -- Docker ------------------------------------------------------------------------------------------


def test_docker_over_unix_socket_reports_version_and_resources(short_tmp: Path) -> None:
    sock = short_tmp / "docker.sock"
    with FakeDockerSocket(sock, {"/version": VERSION, "/info": info()}) as fake:
        client = DockerClient(resolve_endpoint({"DOCKER_HOST": f"unix://{sock}"}))
        results, got_info, _ = check_docker(probes(docker=client))
    assert results[0] == CheckResult("docker", "ok", f"Docker 27.5.1 (API 1.47, linux) at unix://{sock}")
    assert results[1].name == "docker-resources" and results[1].verdict == "ok"
    assert "16.0 GiB, 8 CPUs" in results[1].detail
    assert got_info is not None and got_info["NCPU"] == 8
    assert fake.requests == ["/version", "/info"]


def test_docker_low_resources_warn(short_tmp: Path) -> None:
    sock = short_tmp / "d.sock"
    with FakeDockerSocket(sock, {"/version": VERSION, "/info": info(mem=4 * GiB, cpus=2)}):
        results, _, _ = check_docker(
            probes(docker=DockerClient(Endpoint(f"unix://{sock}", "http://docker", str(sock))))
        )
    res = results[1]
    assert res.verdict == "warn"
    assert "memory 4.0 GiB < 8 GiB" in res.detail and "CPUs 2 < 4" in res.detail
    assert "Resources" in res.fix


def test_docker_over_loopback_tcp() -> None:
    with LocalHTTPServer() as srv:
        srv.add("/version", json.dumps(VERSION).encode(), content_type="application/json")
        srv.add("/info", json.dumps(info(mem=8 * GiB, cpus=4)).encode(), content_type="application/json")
        client = DockerClient(resolve_endpoint({"DOCKER_HOST": f"tcp://127.0.0.1:{srv.port}"}))
        results, _, _ = check_docker(probes(docker=client))
    assert [r.verdict for r in results] == ["ok", "ok"]  # exactly 8 GiB / 4 CPUs is enough


def test_docker_unreachable_fails_with_fix(short_tmp: Path) -> None:
    client = DockerClient(resolve_endpoint({"DOCKER_HOST": f"unix://{short_tmp}/none.sock"}))
    with pytest.raises(ClusterError, match="not reachable"):
        client.version()
    results, got_info, got_client = check_docker(probes(docker=client))
    assert len(results) == 1 and results[0].verdict == "fail"
    assert "start Docker" in results[0].fix
    assert got_info is None and got_client is None


def test_docker_endpoint_rules(tmp_path: Path) -> None:
    assert resolve_endpoint({"DOCKER_HOST": "tcp://10.0.0.1:2375"}).base_url == "http://10.0.0.1:2375"
    tls = resolve_endpoint(
        {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/c"}
    )
    assert tls.base_url == "https://h:2376" and tls.tls == ("/c/ca.pem", "/c/cert.pem", "/c/key.pem")
    with pytest.raises(UsageError, match="ssh"):
        resolve_endpoint({"DOCKER_HOST": "ssh://me@host"})
    # A docker context selected in ~/.docker/config.json wins over the default socket.
    import hashlib

    meta = tmp_path / ".docker/contexts/meta" / hashlib.sha256(b"colima").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Endpoints": {"docker": {"Host": "unix:///x/colima.sock"}}}))
    (tmp_path / ".docker/config.json").write_text(json.dumps({"currentContext": "colima"}))
    assert resolve_endpoint({}, home=tmp_path).uds == "/x/colima.sock"


# -- ports -------------------------------------------------------------------------------------------


def test_port_status_detects_a_listener() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        st = port_status("127.0.0.1", port)
        assert not st.free and str(port) in st.detail
    # Closed again: free.
    assert port_status("127.0.0.1", port).free


def test_port_status_detects_a_bound_but_not_listening_socket() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        st = port_status("127.0.0.1", port)
    assert not st.free and "already bound" in st.detail


def test_check_ports_uses_spec_address_and_ports() -> None:
    with socket.socket() as busy, socket.socket() as tmp:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        tmp.bind(("127.0.0.1", 0))
        busy_port, free_port = busy.getsockname()[1], tmp.getsockname()[1]
        tmp.close()
        spec = PlatformSpec(cluster=ClusterSpec(http_port=free_port, https_port=busy_port))
        results = check_ports(spec, probes(port_check=port_status), containers=[])
    by = {r.name: r for r in results}
    assert by[f"port:{free_port}"].verdict == "ok"
    bad = by[f"port:{busy_port}"]
    assert bad.verdict == "fail" and "https_port" in bad.fix


def test_port_published_by_our_kind_node_is_ok() -> None:
    spec = PlatformSpec(cluster=ClusterSpec(http_port=18080, https_port=18443))
    taken = probes(port_check=lambda a, p: PortStatus(False, f"something is listening on {a}:{p}"))
    containers = [
        {"Names": ["/platform-control-plane"], "Ports": [{"PublicPort": 18080}, {"PublicPort": 18443}]}
    ]
    assert {r.verdict for r in check_ports(spec, taken, containers)} == {"ok"}
    other = [{"Names": ["/nginx"], "Ports": [{"PublicPort": 18080}]}]
    res = check_ports(spec, taken, other)
    assert res[0].verdict == "fail" and "container nginx" in res[0].detail


# -- DNS ---------------------------------------------------------------------------------------------


def test_dns_ok_when_sslip_resolves_to_embedded_ip() -> None:
    asked: list[str] = []

    def resolver(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    res = check_dns(PlatformSpec(), probes(resolver=resolver))
    assert res.verdict == "ok" and asked == ["doctor-check.127.0.0.1.sslip.io"]


def test_dns_rebinding_protection_warns_and_mentions_smoke_tests() -> None:
    res = check_dns(PlatformSpec(), probes(resolver=lambda h: []))
    assert res.verdict == "warn" and "rebinding" in res.detail
    assert "smoke tests still work" in res.fix


def test_dns_wrong_answer_warns() -> None:
    res = check_dns(PlatformSpec(), probes(resolver=lambda h: ["192.168.1.1"]))
    assert res.verdict == "warn" and "192.168.1.1" in res.detail


def test_dns_custom_domain_needs_wildcard() -> None:
    spec = PlatformSpec(domain="apps.example.com")
    assert check_dns(spec, probes(resolver=lambda h: ["203.0.113.7"])).verdict == "ok"
    res = check_dns(spec, probes(resolver=lambda h: []))
    assert res.verdict == "warn" and "*.apps.example.com" in res.fix


# -- inotify / arch ----------------------------------------------------------------------------------


def _sysctls(root: Path, watches: int, instances: int) -> Path:
    d = root / "fs/inotify"
    d.mkdir(parents=True)
    (d / "max_user_watches").write_text(f"{watches}\n")
    (d / "max_user_instances").write_text(f"{instances}\n")
    return root


def test_inotify_low_limits_warn_with_kind_doc(tmp_path: Path) -> None:
    root = _sysctls(tmp_path, 8192, 128)
    assert read_sysctl("fs.inotify.max_user_watches", root) == 8192
    res = check_inotify(probes(sysctl_root=root), None)
    assert res.verdict == "warn"
    assert "max_user_watches=8192 < 524288" in res.detail and "max_user_instances=128 < 512" in res.detail
    assert "kind.sigs.k8s.io/docs/user/known-issues" in res.fix


def test_inotify_high_enough_is_ok(tmp_path: Path) -> None:
    res = check_inotify(probes(sysctl_root=_sysctls(tmp_path, 524288, 512)), None)
    assert res.verdict == "ok"


def test_inotify_not_checked_on_macos(tmp_path: Path) -> None:
    assert check_inotify(probes(system="Darwin", sysctl_root=tmp_path), None).verdict == "ok"


def test_arch_notes() -> None:
    assert check_arch(probes(machine="x86_64"), None).detail == "linux-amd64"
    arm = check_arch(probes(machine="x86_64"), {"Architecture": "aarch64"})
    assert arm.verdict == "ok" and "arm64" in arm.detail and "exec format error" in arm.fix
    assert check_arch(probes(machine="riscv64"), None).verdict == "warn"


# -- tools -------------------------------------------------------------------------------------------


def _fake(d: Path, name: str, text: str) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(f"#!/bin/sh\necho '{text}'\n")
    (d / name).chmod(0o755)


def test_tools_check_ok_warn_fail(tmp_path: Path) -> None:
    lock = load_lock()
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "kind", f"kind {lock.tools['kind'].version} go linux/amd64")
    _fake(bin_dir, "helm", "v3.0.0+gabc")
    common: dict[str, Any] = {
        "cache_dir": tmp_path / "c",
        "env": {},
        "search_path": str(bin_dir),
        "plat": "linux-amd64",
    }
    online = check_tools(probes(tools=ToolResolver(lock, downloader=Downloader(retries=0), **common)), lock)
    assert [(r.name, r.verdict) for r in online] == [
        ("tool:kind", "ok"),
        ("tool:helm", "warn"),
        ("tool:kubectl", "warn"),
    ]
    assert "`platformctl tools install` fetches helm" in online[1].detail
    offline = check_tools(probes(tools=ToolResolver(lock, allow_download=False, **common)), lock)
    assert [r.verdict for r in offline] == ["ok", "fail", "fail"]


# -- whole run ---------------------------------------------------------------------------------------


def test_run_doctor_all_checks_in_order(short_tmp: Path, tmp_path: Path) -> None:
    sock = short_tmp / "docker.sock"
    lock = load_lock()
    answers = {"/version": VERSION, "/info": info(), "/containers/json": []}
    with FakeDockerSocket(sock, answers) as fake:
        results = run_doctor(
            PlatformSpec(cluster=ClusterSpec(http_port=18080, https_port=18443)),
            lock=lock,
            probes=probes(
                docker=DockerClient(resolve_endpoint({"DOCKER_HOST": f"unix://{sock}"})),
                sysctl_root=_sysctls(tmp_path / "sys", 524288, 512),
                tools=ToolResolver(
                    lock, cache_dir=tmp_path / "c", env={}, search_path=str(tmp_path), plat="linux-amd64"
                ),
            ),
        )
        assert "/containers/json" in fake.requests
    names = [r.name for r in results]
    assert names == [
        "docker",
        "docker-resources",
        "tool:kind",
        "tool:helm",
        "tool:kubectl",
        "port:18080",
        "port:18443",
        "dns",
        "inotify",
        "arch",
    ]
    assert exit_verdict(results) == "warn"  # tools will be downloaded
    assert exit_verdict([CheckResult("x", "ok", "")]) == "ok"
    assert exit_verdict([CheckResult("x", "ok", ""), CheckResult("y", "fail", "")]) == "fail"


def test_existing_cluster_does_not_need_docker_or_ports(short_tmp: Path, tmp_path: Path) -> None:
    lock = load_lock()
    spec = PlatformSpec(cluster=ClusterSpec(provider="existing"), domain="apps.example.com")
    results = run_doctor(
        spec,
        lock=lock,
        probes=probes(
            docker=DockerClient(resolve_endpoint({"DOCKER_HOST": f"unix://{short_tmp}/none.sock"})),
            sysctl_root=_sysctls(tmp_path / "sys", 524288, 512),
            tools=ToolResolver(
                lock, cache_dir=tmp_path / "c", env={}, search_path=str(tmp_path), plat="linux-amd64"
            ),
        ),
    )
    by = {r.name: r for r in results}
    assert by["docker"].verdict == "ok" and "existing" in by["docker"].detail
    assert by["ports"].verdict == "ok"


def test_real_docker_daemon_when_available() -> None:
    """Against the real daemon ($DOCKER_HOST or /var/run/docker.sock) when one is reachable."""
    import os

    endpoint = resolve_endpoint(dict(os.environ))
    try:
        DockerClient(endpoint, timeout=3).version()
    except ClusterError as exc:
        pytest.skip(f"no reachable Docker daemon: {exc.message}")
    results, got_info, _ = check_docker(probes(docker=DockerClient(endpoint)))
    assert results[0].verdict == "ok" and "API" in results[0].detail
    assert got_info is not None and isinstance(got_info.get("NCPU"), int) and got_info["NCPU"] >= 1
