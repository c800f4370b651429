"""A minimal image registry on loopback for push tests: the part of the OCI distribution spec (Docker
Registry HTTP API V2) that `docker push` uses — blob existence checks, chunked uploads, manifest PUT.

    with LocalRegistry() as reg:
        reg.address              # "127.0.0.1:PORT": the daemon pushes to loopback registries over HTTP
        reg.manifests            # {(name, reference): bytes} as pushed (reference: tag and digest)

Binds 127.0.0.1:0 only. Blobs are verified against the digest the client names.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64})$")
_UPLOAD = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/(?P<id>[0-9a-f-]*)$")
_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")


class LocalRegistry:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.uploads: dict[str, bytearray] = {}
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}  # (name, ref) → (body, media type)
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LocalRegistry:
        self._thread.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        reg = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _reply(self, code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
                self.send_response(code)
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return bytes(out)
                        out.extend(self.rfile.read(size))
                        self.rfile.readline()  # the CRLF after each chunk
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _route(self) -> None:
                parts = urlsplit(self.path)
                path, query = parts.path, parse_qs(parts.query)
                with reg._lock:
                    reg.requests.append((self.command, path))
                if path == "/v2/" or path == "/v2":
                    self._reply(200, {"Content-Type": "application/json"}, b"{}")
                    return
                if m := _UPLOAD.match(path):
                    self._upload(m["name"], m["id"], query)
                    return
                if m := _BLOB.match(path):
                    blob = reg.blobs.get(m["digest"])
                    if blob is None:
                        self._reply(404)
                    else:
                        self._reply(200, {"Docker-Content-Digest": m["digest"]}, blob)
                    return
                if m := _MANIFEST.match(path):
                    self._manifest(m["name"], m["ref"])
                    return
                self._reply(404)

            def _upload(self, name: str, upload_id: str, query: dict[str, list[str]]) -> None:
                if self.command == "POST" and not upload_id:
                    new = str(uuid.uuid4())
                    reg.uploads[new] = bytearray()
                    self._body()
                    loc = f"/v2/{name}/blobs/uploads/{new}"
                    self._reply(202, {"Location": loc, "Docker-Upload-UUID": new, "Range": "0-0"})
                    return
                buf = reg.uploads.get(upload_id)
                if buf is None:
                    self._reply(404)
                    return
                buf.extend(self._body())
                if self.command == "PATCH":
                    loc = f"/v2/{name}/blobs/uploads/{upload_id}"
                    self._reply(202, {"Location": loc, "Range": f"0-{max(len(buf) - 1, 0)}"})
                    return
                if self.command == "PUT":
                    digest = (query.get("digest") or [""])[0]
                    actual = "sha256:" + hashlib.sha256(bytes(buf)).hexdigest()
                    if digest != actual:
                        self._reply(400, body=b'{"errors":[{"code":"DIGEST_INVALID"}]}')
                        return
                    reg.blobs[digest] = bytes(buf)
                    del reg.uploads[upload_id]
                    self._reply(
                        201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest}
                    )
                    return
                self._reply(405)

            def _manifest(self, name: str, ref: str) -> None:
                if self.command == "PUT":
                    body = self._body()
                    digest = "sha256:" + hashlib.sha256(body).hexdigest()
                    media = self.headers.get("Content-Type", "")
                    reg.manifests[(name, ref)] = (body, media)
                    reg.manifests[(name, digest)] = (body, media)
                    self._reply(
                        201, {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
                    )
                    return
                found = reg.manifests.get((name, ref))
                if found is None:
                    self._reply(404)
                    return
                body, media = found
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                self._reply(200, {"Content-Type": media, "Docker-Content-Digest": digest}, body)

            do_GET = do_HEAD = do_POST = do_PATCH = do_PUT = _route

        return Handler
