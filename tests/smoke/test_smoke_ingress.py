"""smoke-test end to end through Debian nginx (Host routing), the real KServe model server and the
conference double, with real sslip.io hostnames resolved locally and ``--ingress`` pointing at nginx."""

from __future__ import annotations

import json
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.smoke.conftest import (
    IRIS_HOST,
    WRONG_HOST,
    routes,
    service_host,
)
from tests.support.cli_main import run_main
from tests.support.conference_double import ConferenceDouble, conference_double
from tests.support.modelserver import ModelServerProcess
from tests.support.nginx import NginxIngress, nginx_ingress

pytestmark = [pytest.mark.nginx, pytest.mark.model]

ALL_CHECKS = {
    "ingress",
    "health:agenda-service",
    "health:c4p-service",
    "health:frontend",
    "health:notifications-service",
    "frontend:html",
    "frontend:info",
    "agenda:items",
    "c4p:proposals",
    "c4p:flags",
    "model:sklearn-iris:ready",
    "iris:v1-predict",
    "iris:v2-infer",
    "iris:v2-health",
}


def smoke(ingress: NginxIngress, *extra: str) -> tuple[int, dict[str, dict[str, object]], str]:
    ran = run_main(
        ["smoke-test", "--no-cluster", "--ingress", ingress.address, "-o", "json", "--timeout", "5", *extra]
    )
    data = json.loads(ran.stdout)
    return ran.exit_code, {c["check"]: c for c in data["checks"]}, ran.stderr


def test_all_checks_pass_through_nginx(
    ingress: NginxIngress, double: ConferenceDouble, tmp_path: Path
) -> None:
    junit = tmp_path / "smoke.xml"
    code, checks, err = smoke(ingress, "--junit-xml", str(junit))
    assert code == 0, err
    assert set(checks) == ALL_CHECKS
    assert all(c["result"] == "pass" for c in checks.values())
    assert checks["iris:v2-infer"]["url"] == f"http://{IRIS_HOST}/v2/models/sklearn-iris/infer"
    # Requests really went through nginx with the sslip.io Host header (no DNS involved).
    log = ingress.access_log()
    assert "POST /v1/models/sklearn-iris:predict" in log and "POST /v2/models/sklearn-iris/infer" in log
    assert (service_host("c4p-service"), "/health/readiness") in double.hits
    # c4p's scale-from-zero delay shows in its latency.
    slowest_c4p = max(
        float(str(checks[k]["elapsed_seconds"])) for k in ("c4p:proposals", "health:c4p-service")
    )
    assert slowest_c4p >= 0.3
    suite = ElementTree.parse(junit).getroot()
    assert suite.get("tests") == str(len(ALL_CHECKS)) and suite.get("failures") == "0"


def test_table_output_and_only(ingress: NginxIngress) -> None:
    ran = run_main(["smoke-test", "--no-cluster", "--ingress", ingress.address, "--only", "iris,ingress"])
    assert ran.exit_code == 0, ran.stderr
    for check in ("iris:v1-predict", "iris:v2-infer", "iris:v2-health", "ingress"):
        assert check in ran.stdout
    assert "frontend:html" not in ran.stdout
    bad = run_main(["smoke-test", "--no-cluster", "--ingress", ingress.address, "--only", "nope"])
    assert bad.exit_code == 2 and "--only" in bad.stderr


def test_wrong_prediction_fails_only_the_prediction_checks(
    tmp_path: Path,
    needs_nginx: None,
    double: ConferenceDouble,
    iris_server: ModelServerProcess,
    wrong_iris_server: ModelServerProcess,
) -> None:
    r = routes(double, iris_server.port)
    r[IRIS_HOST] = wrong_iris_server.port  # the model answers, but with [0, 0]
    with nginx_ingress(tmp_path, r) as n:
        code, checks, err = smoke(n)
    assert code == 1
    failed = {k for k, c in checks.items() if c["result"] == "fail"}
    assert failed == {"iris:v1-predict", "iris:v2-infer"}
    assert "predicted [0, 0], expected [1, 1]" in str(checks["iris:v1-predict"]["detail"])
    assert "iris:v1-predict" in err  # the one-line error names the failing checks


def test_503_fails_that_check_after_retries(
    tmp_path: Path, needs_nginx: None, iris_server: ModelServerProcess
) -> None:
    with (
        conference_double(faults={"/api/service/info": 503}) as d,
        nginx_ingress(tmp_path, routes(d, iris_server.port)) as n,
    ):
        code, checks, _ = smoke(n, "--retries", "2")
    assert code == 1
    assert {k for k, c in checks.items() if c["result"] == "fail"} == {"frontend:info"}
    info = checks["frontend:info"]
    assert info["status"] == 503 and info["attempts"] == 3
    assert "HTTP 503" in str(info["detail"])


def test_failed_flag_evaluation_fails_the_smoke_test(
    tmp_path: Path, needs_nginx: None, iris_server: ModelServerProcess
) -> None:
    """Everything answers, but c4p-service cannot reach flagd: no events would flow, so it must fail."""
    with (
        conference_double(events_enabled=False) as d,
        nginx_ingress(tmp_path, routes(d, iris_server.port)) as n,
    ):
        code, checks, err = smoke(n)
    assert code == 1
    assert {k for k, c in checks.items() if c["result"] == "fail"} == {"c4p:flags"}
    assert "FLAGD_HOST" in str(checks["c4p:flags"]["detail"]) and "c4p:flags" in err


def test_timeout_fails_that_check_within_its_deadline(
    tmp_path: Path, needs_nginx: None, iris_server: ModelServerProcess
) -> None:
    with (
        conference_double(faults={"/api/agenda/": 30.0}) as d,
        nginx_ingress(tmp_path, routes(d, iris_server.port)) as n,
    ):
        started = time.monotonic()
        # 3 s, not 1: under CPU load the healthy checks must still answer within the deadline.
        code, checks, _ = smoke(n, "--timeout", "3")
        elapsed = time.monotonic() - started
    assert code == 1
    assert {k for k, c in checks.items() if c["result"] == "fail"} == {"agenda:items"}, checks["c4p:flags"]
    assert "timed out" in str(checks["agenda:items"]["detail"])
    assert elapsed < 20  # the deadline, not the 30 s hang, bounds the run


def test_unknown_host_fails_only_its_check(ingress: NginxIngress) -> None:
    code, checks, _ = smoke(ingress, "--model-url", f"wrong-iris=http://{WRONG_HOST}")
    assert code == 1
    assert {k for k, c in checks.items() if c["result"] == "fail"} == {"model:wrong-iris:ready"}
    assert checks["model:wrong-iris:ready"]["status"] == 404  # nginx's default server: no route


def test_connection_refused_is_reported(needs_nginx: None) -> None:
    from tests.support.modelserver import free_port

    port = free_port()  # nothing listens here
    ran = run_main(
        [
            "smoke-test",
            "--no-cluster",
            "--ingress",
            f"127.0.0.1:{port}",
            "-o",
            "json",
            "--timeout",
            "1",
            "--only",
            "ingress",
            "--retries",
            "1",
        ]
    )
    assert ran.exit_code == 1
    check = json.loads(ran.stdout)["checks"][0]
    assert check["result"] == "fail" and check["status"] is None and check["attempts"] == 2
