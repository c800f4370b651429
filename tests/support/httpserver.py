"""A loopback HTTP server for tests: serve fixed bytes per path, with scripted misbehaviour.

    with LocalHTTPServer() as srv:
        srv.add("/a.yaml", b"...")                       # 200 with the bytes
        srv.add("/b.yaml", data, fail_first=2)           # 500 twice, then 200 (retry tests)
        srv.add("/c.yaml", data, truncate=10)            # announces len(data), sends 10 bytes, closes
        srv.add("/d.yaml", data, tamper=True)            # flips one byte of the body
        srv.add("/e.yaml", data, status=404)             # always that status
        srv.add("/f.yaml", data, delay=0.5)              # sleep before answering
        url = srv.url("/a.yaml")
        srv.requests                                     # [(method, path), ...]

Binds 127.0.0.1:0 only (tests reach only loopback addresses).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Route:
    body: bytes
    status: int = 200
    fail_first: int = 0  # answer 500 this many times first
    truncate: int | None = None  # send only this many bytes while announcing the full length
    tamper: bool = False
    delay: float = 0.0
    content_type: str = "application/octet-stream"
    hits: int = 0


class LocalHTTPServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def add(self, path: str, body: bytes, **kwargs: object) -> Route:
        route = Route(body=body, **kwargs)  # type: ignore[arg-type]
        with self._lock:
            self.routes[path if path.startswith("/") else "/" + path] = route
        return route

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for _, p in self.requests if p == path)

    def __enter__(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _answer(self, send_body: bool) -> None:
                path = self.path.split("?", 1)[0]
                with outer._lock:
                    outer.requests.append((self.command, path))
                    route = outer.routes.get(path)
                    if route is not None:
                        route.hits += 1
                        hit = route.hits
                if route is None:
                    self._plain(404, b"not found\n", send_body)
                    return
                if route.delay:
                    time.sleep(route.delay)
                if hit <= route.fail_first:
                    self._plain(500, b"injected server error\n", send_body)
                    return
                if route.status != 200:
                    self._plain(route.status, b"status %d\n" % route.status, send_body)
                    return
                body = route.body
                if route.tamper and body:
                    body = bytes([body[0] ^ 0x01]) + body[1:]
                self.send_response(200)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(body)))
                if route.truncate is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if not send_body:
                    return
                if route.truncate is not None:
                    self.wfile.write(body[: route.truncate])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _plain(self, status: int, body: bytes, send_body: bool) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(True)

            def do_HEAD(self) -> None:
                self._answer(False)

        return Handler
