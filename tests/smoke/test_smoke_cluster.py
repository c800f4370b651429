"""smoke-test discovering its targets from a cluster: Knative Services and InferenceServices (with
status.url) served by the fake API server, requests through nginx to the real model server and the
conference double. c4p-service has no pods, so its check reports a cold start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.models.conftest import fake_cluster
from tests.smoke.conftest import SERVICES
from tests.support.cli_main import run_main
from tests.support.nginx import NginxIngress

pytestmark = [pytest.mark.nginx, pytest.mark.model]

# Design §5 images; the fake's controllers only need a valid Knative Service.
IMAGES = {
    "frontend": "salaboy/frontend-go-1739aa83b5e69d4ccb8a5615830ae66c:v2.0.0",
    "agenda-service": "salaboy/agenda-service-0967b907d9920c99918e2b91b91937b3:v2.0.0",
    "c4p-service": "salaboy/c4p-service-a3dc0474cbfa348afcdf47a8eee70ba9:v2.0.0",
    "notifications-service": "salaboy/notifications-service-0e27884e01429ab7e350cb5dff61b525:v2.0.0",
}


def ksvc(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "template": {
                "spec": {"containers": [{"image": IMAGES[name], "ports": [{"containerPort": 8080}]}]}
            }
        },
    }


def test_discovers_from_cluster_and_reports_c4p_cold_start(upstream_dir: Path, ingress: NginxIngress) -> None:
    with fake_cluster(upstream_dir) as cluster:
        cluster.engine.apply([ksvc(s) for s in SERVICES], component="conference")
        deployed = run_main(
            [
                *cluster.args,
                "deploy-model",
                "sklearn-iris",
                "--format",
                "sklearn",
                "--protocol",
                "v2",
                "--storage-uri",
                "gs://kfserving-examples/models/sklearn/1.0/model",
            ],
            env=cluster.env,
        )
        assert deployed.exit_code == 0, deployed.stderr
        for name in SERVICES:
            cluster.engine.wait_ready("serving.knative.dev/v1", "Service", name, "default", 10)
        ran = run_main(
            [*cluster.args, "smoke-test", "--ingress", ingress.address, "-o", "json", "--timeout", "5"]
        )
        pod_lists = [p for m, p in cluster.fake.requests if m == "GET" and p.endswith("/pods")]
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    report = json.loads(ran.stdout)
    assert report["discovered_from"] == "cluster fake"
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["iris:v2-infer"]["result"] == "pass"
    assert (
        checks["health:c4p-service"]["url"]
        == "http://c4p-service.default.127.0.0.1.sslip.io/health/readiness"
    )
    assert checks["c4p:proposals"]["detail"].startswith("c4p-service had 0 pods: cold start")
    assert pod_lists, "c4p's pods must be counted before the checks run"


def test_empty_cluster_fails_with_a_hint(upstream_dir: Path) -> None:
    with fake_cluster(upstream_dir) as cluster:
        ran = run_main([*cluster.args, "smoke-test"])
    assert ran.exit_code == 1
    assert "nothing to check" in ran.stderr and "platformctl up" in ran.stderr
