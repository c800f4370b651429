"""examples/hello-app against a stand-in Dapr sidecar on loopback: the state and publish calls it makes
are the Dapr HTTP API's (v1.0), and the subscription route acknowledges CloudEvents."""

from __future__ import annotations

import importlib.util
import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from platformctl.drivers.image_build import context_digest
from tests.apps.conftest import AppCluster

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello-app"


class FakeDapr:
    """The sidecar's /v1.0/state and /v1.0/publish endpoints, in memory."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, Any]] = {}
        self.published: list[tuple[str, str, Any]] = []
        self.calls: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                outer.calls.append(("GET", self.path))
                _, _, _, store, key = self.path.split("/", 4)  # /v1.0/state/<store>/<key>
                if key in outer.state.get(store, {}):
                    self._send(200, outer.state[store][key])
                else:
                    self._send(204)

            def do_POST(self) -> None:
                outer.calls.append(("POST", self.path))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                parts = self.path.split("/")
                if parts[2] == "state":
                    for item in body:
                        outer.state.setdefault(parts[3], {})[item["key"]] = item["value"]
                    self._send(204)
                elif parts[2] == "publish":
                    outer.published.append((parts[3], parts[4], body))
                    self._send(204)
                else:
                    self._send(404)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hello_app", EXAMPLE / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def app_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, FakeDapr]]:
    dapr = FakeDapr()
    monkeypatch.setenv("DAPR_HTTP_PORT", str(dapr.port))
    monkeypatch.setenv("STATESTORE_NAME", "statestore")
    monkeypatch.setenv("PUBSUB_NAME", "pubsub")
    monkeypatch.setenv("K_REVISION", "hello-00001")
    server = _load_app().serve(0, host="127.0.0.1")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", dapr
    finally:
        server.shutdown()
        dapr.server.shutdown()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def test_visits_go_through_the_dapr_state_and_pubsub_apis(app_url: tuple[str, FakeDapr]) -> None:
    url, dapr = app_url
    assert _get(url + "/healthz") == {"status": "ok"}
    first = _get(url + "/")
    second = _get(url + "/")
    assert first["visits"] == 1 and second["visits"] == 2 and second["revision"] == "hello-00001"
    assert dapr.state == {"statestore": {"visits": 2}}
    assert dapr.published == [("pubsub", "visits", {"visits": 1}), ("pubsub", "visits", {"visits": 2})]
    assert ("GET", "/v1.0/state/statestore/visits") in dapr.calls


def test_subscription_route_acknowledges_cloud_events(app_url: tuple[str, FakeDapr]) -> None:
    url, dapr = app_url
    event = {"specversion": "1.0", "type": "com.dapr.event.sent", "topic": "visits", "data": {"visits": 7}}
    req = urllib.request.Request(
        url + "/events",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200 and json.loads(resp.read()) == {"status": "SUCCESS"}
    assert _get(url + "/events/last") == {"last": {"visits": 7}}
    assert dapr.state["statestore"]["last-event"] == {"visits": 7}


def test_the_docs_command_renders(untouched_cluster: AppCluster) -> None:
    """docs/apps.md's command line, as a dry run: the content tag, the bindings, the subscription."""
    ran = untouched_cluster.run(
        "deploy-app",
        "hello",
        "--build",
        str(EXAMPLE),
        "--statestore",
        "statestore",
        "--pubsub",
        "pubsub",
        "--subscribe",
        "visits=/events",
        "--dry-run",
    )
    assert ran.exit_code == 0, ran.output
    ksvc, sub = list(yaml.safe_load_all(ran.stdout))
    container = ksvc["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"kind.local/hello:{context_digest(EXAMPLE)[:16]}"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"STATESTORE_NAME": "statestore", "PUBSUB_NAME": "pubsub"}  # what app.py reads
    assert sub["spec"] == {"topic": "visits", "routes": {"default": "/events"}, "pubsubname": "pubsub"}
