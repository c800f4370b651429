"""A stand-in for the conference app (design §5) behind the ingress: stdlib HTTP, one thread per request.

Serves every service's ``/health/readiness`` and ``/health/liveness``, the frontend's ``/`` (HTML),
``/api/service/info``, ``/api/agenda/agenda-items/``, ``/api/c4p/proposals/`` and
``/api/c4p/service-info`` (c4p's flag evaluation: ``events_enabled``). The first request
that reaches c4p (Host ``c4p-service.*`` or the frontend's ``/api/c4p/`` proxy) waits ``cold_start``
seconds, like a Knative revision scaling from zero. ``faults`` maps a path prefix to an HTTP status
(e.g. 503) or to a delay in seconds (float) for failure-case tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Fault = int | float  # int: answer with this status; float: sleep this long first


@dataclass
class ConferenceDouble:
    cold_start: float = 0.0
    faults: dict[str, Fault] = field(default_factory=dict)
    # What c4p-service's flag evaluation yields (False: flagd unreachable, as with a wrong FLAGD_HOST).
    events_enabled: bool = True
    port: int = 0
    hits: list[tuple[str, str]] = field(default_factory=list)  # (host, path)
    _warm: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _c4p_cold_start(self) -> None:
        with self._lock:  # concurrent first requests all wait for the same "pod"
            if not self._warm:
                time.sleep(self.cold_start)
                self._warm = True

    def answer(self, host: str, path: str) -> tuple[int, str, str]:
        self.hits.append((host, path))
        for prefix, fault in self.faults.items():
            if path.startswith(prefix):
                if isinstance(fault, int):
                    return fault, "text/plain", "injected fault\n"
                time.sleep(fault)
        service = host.split(".", 1)[0]
        if service == "c4p-service" or path.startswith("/api/c4p/"):
            self._c4p_cold_start()
        if path in ("/health/readiness", "/health/liveness"):
            return 200, "application/json", json.dumps({"status": "UP", "service": service})
        if path == "/":
            return 200, "text/html; charset=utf-8", "<!DOCTYPE html><html><body>Conference</body></html>"
        if path == "/api/service/info":
            info = {"name": "frontend", "version": "v2.0.0", "source": "double", "podName": "double"}
            return 200, "application/json", json.dumps(info)
        if path == "/api/agenda/agenda-items/":
            return 200, "application/json", json.dumps([{"id": "1", "title": "Platform engineering"}])
        if path == "/api/c4p/proposals/":
            return 200, "application/json", json.dumps([])
        if path == "/api/c4p/service-info":
            c4p: dict[str, object] = {"name": "C4P", "version": "2.0.0", "eventsEnabled": self.events_enabled}
            return 200, "application/json", json.dumps(c4p)
        return 404, "text/plain", "not found\n"


def _handler(double: ConferenceDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").split(":")[0]
            status, ctype, body = double.answer(host, self.path.split("?")[0])
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@contextmanager
def conference_double(
    *, cold_start: float = 0.0, faults: Mapping[str, Fault] | None = None, events_enabled: bool = True
) -> Iterator[ConferenceDouble]:
    double = ConferenceDouble(cold_start=cold_start, faults=dict(faults or {}), events_enabled=events_enabled)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    server.daemon_threads = True
    double.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, name="conference-double", daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
