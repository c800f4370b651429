"""Debian's nginx as the ingress stand-in: routes by Host header, like the Istio gateway, on loopback.

Started in the foreground (``daemon off``) with a generated config whose prefix, pid file, temp
directories and logs all live in a temp directory, so no root and no /var paths are needed. Unknown
hosts get 404 from a default server (what the Istio gateway answers for a host with no route).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.modelserver import free_port

NGINX = "/usr/sbin/nginx"


def nginx_binary() -> tuple[str | None, str]:
    found = NGINX if Path(NGINX).exists() else shutil.which("nginx")
    if found is None:
        return None, "nginx not installed (apt-get install nginx; .ci/run does): ingress stand-in unavailable"
    return found, ""


@dataclass
class NginxIngress:
    port: int
    prefix: Path
    proc: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def access_log(self) -> str:
        p = self.prefix / "access.log"
        return p.read_text() if p.exists() else ""


# server_names_hash_bucket_size: sslip.io names (sklearn-iris-predictor.default.127.0.0.1.sslip.io) exceed
# the default 64-byte bucket and nginx refuses to start.
@dataclass(frozen=True)
class Tls:
    """Serve https: routed hosts get ``cert``; the default server (no/unknown SNI) gets ``default_cert``."""

    cert: Path
    key: Path
    default_cert: Path
    default_key: Path


def render_config(
    prefix: Path, port: int, routes: Mapping[str, int], *, read_timeout: float = 60, tls: Tls | None = None
) -> str:
    ssl = " ssl" if tls else ""
    default_tls = (
        f"\n    ssl_certificate {tls.default_cert};\n    ssl_certificate_key {tls.default_key};"
        if tls
        else ""
    )
    route_tls = f"\n    ssl_certificate {tls.cert};\n    ssl_certificate_key {tls.key};" if tls else ""
    servers = [
        f"  server {{\n    listen 127.0.0.1:{port}{ssl} default_server;\n    server_name _;{default_tls}\n"
        "    return 404;\n  }"
    ]
    for host, upstream in sorted(routes.items()):
        servers.append(
            f"  server {{\n    listen 127.0.0.1:{port}{ssl};\n    server_name {host};{route_tls}\n"
            f"    location / {{\n      proxy_pass http://127.0.0.1:{upstream};\n"
            f"      proxy_set_header Host $host;\n      proxy_http_version 1.1;\n"
            f"      proxy_read_timeout {int(read_timeout)}s;\n    }}\n  }}"
        )
    temps = "\n".join(
        f"  {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\ndaemon off;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  access_log {prefix / 'access.log'};\n  server_names_hash_bucket_size 128;\n{temps}\n"
        + "\n".join(servers)
        + "\n}\n"
    )


def _wait_listening(port: int, proc: subprocess.Popen[bytes], prefix: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
            raise RuntimeError(f"nginx exited with {proc.returncode}: {err[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within {timeout}s")


@contextmanager
def nginx_ingress(
    tmp_dir: Path, routes: Mapping[str, int], *, read_timeout: float = 60, tls: Tls | None = None
) -> Iterator[NginxIngress]:
    """Run nginx routing each Host in ``routes`` to ``127.0.0.1:<port>``; yield once it listens."""
    binary, reason = nginx_binary()
    if binary is None:
        raise RuntimeError(reason)
    prefix = tmp_dir / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render_config(prefix, port, routes, read_timeout=read_timeout, tls=tls))
    # -e: the startup error log before the config is read defaults to /var/log/nginx (not writable).
    cmd = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(port, proc, prefix, 10)
        yield NginxIngress(port, prefix, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
