"""hello-app: a tiny HTTP service for `platformctl deploy-app` (standard library only).

It keeps a visit counter in a Dapr state store and publishes an event per visit through Dapr pub/sub:
the application carries no Redis or Kafka client, only HTTP calls to its sidecar (Dapr HTTP API v1.0:
``/v1.0/state/<store>``, ``/v1.0/publish/<pubsub>/<topic>``). Names come from the environment that
deploy-app sets: STATESTORE_NAME (--statestore), PUBSUB_NAME (--pubsub); the sidecar injector sets
DAPR_HTTP_PORT; Knative sets PORT and K_REVISION. Without a sidecar it counts in memory.

Routes: GET / (count a visit), GET /healthz, POST /events (the --subscribe route: Dapr delivers
CloudEvents here), GET /events/last.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOPIC = os.environ.get("TOPIC", "visits")
_lock = threading.Lock()
_memory: dict[str, Any] = {}


def _dapr(method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    port = os.environ["DAPR_HTTP_PORT"]
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1.0{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def get_state(key: str) -> Any:
    store = os.environ.get("STATESTORE_NAME")
    if not store or "DAPR_HTTP_PORT" not in os.environ:
        return _memory.get(key)
    status, raw = _dapr("GET", f"/state/{store}/{key}")
    if status == 204 or not raw:
        return None
    if status != 200:
        raise RuntimeError(f"state store {store}: HTTP {status}: {raw[:200]!r}")
    return json.loads(raw)


def save_state(key: str, value: Any) -> None:
    store = os.environ.get("STATESTORE_NAME")
    if not store or "DAPR_HTTP_PORT" not in os.environ:
        _memory[key] = value
        return
    status, raw = _dapr("POST", f"/state/{store}", [{"key": key, "value": value}])
    if status not in (200, 204):
        raise RuntimeError(f"state store {store}: HTTP {status}: {raw[:200]!r}")


def publish(event: dict[str, Any]) -> bool:
    pubsub = os.environ.get("PUBSUB_NAME")
    if not pubsub or "DAPR_HTTP_PORT" not in os.environ:
        return False
    status, raw = _dapr("POST", f"/publish/{pubsub}/{TOPIC}", event)
    if status not in (200, 204):
        raise RuntimeError(f"pubsub {pubsub}: HTTP {status}: {raw[:200]!r}")
    return True


class Handler(BaseHTTPRequestHandler):
    server_version = "hello-app/1"

    def _json(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._json(200, {"status": "ok"})
        elif self.path == "/":
            try:
                with _lock:
                    visits = int(get_state("visits") or 0) + 1
                    save_state("visits", visits)
                published = publish({"visits": visits})
            except (OSError, RuntimeError) as exc:
                self._json(502, {"error": str(exc)})
                return
            revision = os.environ.get("K_REVISION", "local")
            self._json(
                200,
                {
                    "message": "hello from hello-app",
                    "visits": visits,
                    "revision": revision,
                    "published": published,
                },
            )
        elif self.path == "/events/last":
            self._json(200, {"last": get_state("last-event")})
        else:
            self._json(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        if self.path != "/events":
            self._json(404, {"error": f"no route {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            event = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(400, {"error": "not JSON"})
            return
        # Dapr delivers a CloudEvent: the published body is its "data"
        save_state("last-event", event.get("data", event) if isinstance(event, dict) else event)
        print(f"event received: {json.dumps(event)[:200]}", flush=True)
        self._json(200, {"status": "SUCCESS"})  # Dapr: 2xx + SUCCESS acknowledges the message

    def log_message(self, format: str, *args: Any) -> None:
        sys.stdout.write(f"{self.address_string()} {format % args}\n")
        sys.stdout.flush()


def serve(port: int, host: str = "") -> ThreadingHTTPServer:
    return ThreadingHTTPServer((host, port), Handler)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    print(f"hello-app listening on :{port}", flush=True)
    serve(port).serve_forever()
