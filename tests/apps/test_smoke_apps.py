"""smoke-test includes deploy-app's apps: any answer below 500 passes (or --path NAME=/PATH), and an app
scaled to zero is reported as a cold start. Requests go to a loopback server standing in for the
ingress (--ingress), targets are discovered from the fake API server."""

from __future__ import annotations

import json

from platformctl.usecases.smoke_test import Targets, build_checks
from tests.apps.conftest import IMAGE_V1, AppCluster
from tests.conftest import requires_fake
from tests.support.httpserver import LocalHTTPServer


def test_apps_are_checked_through_the_ingress(app_cluster: AppCluster) -> None:
    requires_fake(app_cluster.target)
    for name in ("hello", "broken"):
        assert app_cluster.run("deploy-app", name, "--image", IMAGE_V1, "--no-dapr").exit_code == 0
    with LocalHTTPServer() as ingress:
        ingress.add("/", b"hi")  # hello: any status < 500 counts
        ingress.add("/healthz", b"ok")
        ingress.add("/boom", b"", status=503)  # broken
        ran = app_cluster.run(
            "smoke-test",
            "--ingress",
            f"127.0.0.1:{ingress.port}",
            "--only",
            "apps",
            "--path",
            "broken=/boom",
            "--retries",
            "0",
            "-o",
            "json",
        )
        assert ran.exit_code == 1, ran.output
        checks = {c["check"]: c for c in json.loads(ran.stdout)["checks"]}
        assert set(checks) == {"app:hello", "app:broken"}
        assert checks["app:hello"]["result"] == "pass" and checks["app:hello"]["status"] == 200
        assert checks["app:hello"]["url"].endswith("/")
        assert checks["app:broken"]["result"] == "fail" and checks["app:broken"]["url"].endswith("/boom")
        assert "app:broken" in ran.stderr and "HTTP 503" in ran.stderr
        ran = app_cluster.run(
            "smoke-test",
            "--ingress",
            f"127.0.0.1:{ingress.port}",
            "--only",
            "app:hello",
            "--path",
            "hello=/healthz",
            "-o",
            "json",
        )
        assert ran.exit_code == 0, ran.output
        (check,) = json.loads(ran.stdout)["checks"]
        assert check["url"].endswith("/healthz") and check["result"] == "pass"
        # apps get no conference-style /health/readiness check
        assert not any(p == "/health/readiness" for _, p in ingress.requests)


def test_unknown_path_app_is_exit_2(app_cluster: AppCluster) -> None:
    ran = app_cluster.run("smoke-test", "--path", "nope=/x", "--ingress", "127.0.0.1:9")
    assert ran.exit_code == 2 and "--path: no app named 'nope'" in ran.stderr
    ran = app_cluster.run("smoke-test", "--path", "hello", "--ingress", "127.0.0.1:9")
    assert ran.exit_code == 2 and ran.stderr.startswith("error: --path")


def test_scaled_to_zero_app_is_a_cold_start_check() -> None:
    t = Targets(
        apps={"cold": "http://cold.default.example.com", "warm": "http://warm.default.example.com"},
        app_pods_before={"cold": 0, "warm": 2},
        app_paths={"warm": "/healthz"},
    )
    checks = {c.id: c for c in build_checks(t)}
    assert checks["app:cold"].note.startswith("cold start")
    assert checks["app:warm"].note == "" and checks["app:warm"].url.endswith("/healthz")
    assert checks["ingress"].url == "http://cold.default.example.com/"
