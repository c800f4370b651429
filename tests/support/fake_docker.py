"""A Docker Engine API stand-in on loopback for `doctor`/preflight: point DOCKER_HOST at ``tcp://...``.

Serves ``/version``, ``/info`` (memory and CPUs) and ``/containers/json`` (what publishes which host
port), the three calls drivers/docker.py makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.httpserver import LocalHTTPServer

GiB = 1024**3


@contextmanager
def fake_docker(
    *, memory: int = 16 * GiB, cpus: int = 8, published: dict[int, str] | None = None
) -> Iterator[LocalHTTPServer]:
    """``published``: host port -> container name publishing it (kind's node publishes 80/443)."""
    with LocalHTTPServer() as srv:
        srv.add("/version", json.dumps({"Version": "27.5.1", "ApiVersion": "1.47"}).encode())
        info = {"MemTotal": memory, "NCPU": cpus, "OSType": "linux", "Architecture": "x86_64"}
        srv.add("/info", json.dumps(info).encode())
        containers = [
            {"Id": f"c{port}", "Names": [f"/{name}"], "Ports": [{"PublicPort": port, "PrivatePort": port}]}
            for port, name in (published or {}).items()
        ]
        srv.add("/containers/json", json.dumps(containers).encode())
        yield srv
