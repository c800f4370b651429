"""smoke-test building blocks against a real loopback HTTP server: retries/backoff, selection, JUnit."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree

import pytest

from platformctl.drivers.http import Endpoint, HttpClient
from platformctl.errors import UsageError
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases import smoke_test as st
from tests.support.cli_main import run_main


class Flaky:
    """Answers 503 ``failures`` times, then 200 JSON: a revision scaling from zero."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.hits = 0


@pytest.fixture
def flaky() -> Iterator[tuple[Flaky, int]]:
    state = Flaky(2)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            ok = state.hits > state.failures
            body = json.dumps({"ok": ok}).encode()
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state, int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_retries_with_backoff_until_ready(flaky: tuple[Flaky, int]) -> None:
    state, port = flaky
    sleeps: list[float] = []
    check = st.Check("x", "g", "GET", "http://svc.default.127.0.0.1.sslip.io/", st._json_ok)
    with HttpClient(ingress=Endpoint("127.0.0.1", port)) as client:
        res = st.run_check(client, check, timeout=10, retries=4, backoff=0.01, sleep=sleeps.append)
    assert res.ok and res.attempts == 3 and state.hits == 3
    assert sleeps == [0.01, 0.02]  # doubling backoff


def test_retries_are_bounded(flaky: tuple[Flaky, int]) -> None:
    state, port = flaky
    state.failures = 100
    check = st.Check("x", "g", "GET", "http://svc.default.127.0.0.1.sslip.io/", st._json_ok)
    with HttpClient(ingress=Endpoint("127.0.0.1", port)) as client:
        res = st.run_check(client, check, timeout=10, retries=1, backoff=0.01, sleep=lambda _: None)
    assert not res.ok and res.attempts == 2 and res.status == 503 and "after 2 attempts" in res.detail


def test_select_and_spec_targets() -> None:
    spec = PlatformSpec()
    checks = st.build_checks(st.targets_from_spec(spec))
    assert {c.id for c in st.select(checks, ["iris"])} == {
        "iris:v1-predict",
        "iris:v2-infer",
        "iris:v2-health",
    }
    assert [c.id for c in st.select(checks, ["ingress,c4p:proposals"])] == ["ingress", "c4p:proposals"]
    with pytest.raises(UsageError, match="--only"):
        st.select(checks, ["bogus"])
    no_iris = PlatformSpec.model_validate({"components": {"iris": {"enabled": False}}})
    assert not [c for c in st.build_checks(st.targets_from_spec(no_iris)) if c.group == "iris"]


def test_default_ingress_follows_kind_port() -> None:
    assert st.default_ingress(PlatformSpec()) is None
    spec = PlatformSpec.model_validate({"cluster": {"http_port": 8080}})
    assert st.default_ingress(spec) == Endpoint("127.0.0.1", 8080)


def test_url_overrides() -> None:
    assert st.parse_url_overrides(["frontend=http://f.127.0.0.1.sslip.io/"], "--url") == {
        "frontend": "http://f.127.0.0.1.sslip.io"
    }
    with pytest.raises(UsageError, match="--url"):
        st.parse_url_overrides(["frontend"], "--url")


def test_junit_xml() -> None:
    ok = st.CheckResult("a", "g", "http://a/", True, 0.1, 0.1, 1, 200, "ok")
    bad = st.CheckResult("b", "g", "http://b/", False, 0.2, 0.5, 3, 503, "HTTP 503, expected 200")
    root = ElementTree.fromstring(st.to_junit_xml(st.SmokeReport([ok, bad], 0.6, None, "spec")))
    assert root.get("tests") == "2" and root.get("failures") == "1"
    failure = root.findall("testcase")[1].find("failure")
    assert failure is not None and failure.get("message") == "HTTP 503, expected 200"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--timeout", "-1"], "--timeout: -1.0 must be more than 0 seconds"),
        (
            ["--junit-xml", "{tmp}/afile/x.xml"],
            "--junit-xml {tmp}/afile/x.xml: directory {tmp}/afile does not",
        ),
        (["--junit-xml", "{tmp}"], "--junit-xml {tmp}: is a directory"),
        (["--cacert", "{tmp}/missing.pem"], "--cacert {tmp}/missing.pem: not a readable PEM CA bundle"),
        (["--cacert", "{tmp}/afile"], "--cacert {tmp}/afile: not a readable PEM CA bundle"),
    ],
)
def test_bad_file_and_timeout_flags_are_one_line_usage_errors(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    # Regression: these were "internal error: FileNotFoundError/SSLError/NotADirectoryError" (exit 70).
    (tmp_path / "afile").write_text("not a certificate\n")
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    ran = run_main(
        [
            "smoke-test",
            "--no-cluster",
            "--ingress",
            "127.0.0.1:1",
            "--retries",
            "0",
            "--only",
            "ingress",
            *args,
        ]
    )
    assert ran.exit_code == 2, ran.output
    assert message.replace("{tmp}", str(tmp_path)) in ran.stderr
    assert "internal error" not in ran.stderr


def test_ctrl_c_mid_run_stops_at_once_with_the_interrupted_message(tmp_path: Path) -> None:
    """A real SIGINT while every check waits on a server that never answers: exit 130 with the
    documented line, promptly. Regression: typer swallowed the interrupt (silent exit 130), and the
    checks' worker threads were joined, so Ctrl-C took as long as the slowest request's timeout."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # accepts connections into the backlog, never answers
        port = listener.getsockname()[1]
        listener.settimeout(20)
        env = {**os.environ, "HOME": str(tmp_path), "NO_COLOR": "1"}
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "platformctl", "smoke-test", "--no-cluster"),
                *("--ingress", f"127.0.0.1:{port}", "--timeout", "60", "--retries", "0"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            conn, _ = listener.accept()  # a check is in flight now (kept open, never answered)
            time.sleep(0.3)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
            conn.close()
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 10  # not the 60 s request timeout
    assert "error: interrupted" in err and "Traceback" not in err
