"""smoke-test covers transformers and custom predictors the same way as built-in runtimes: each model's
protocol health endpoint through its URL, and a two-tier model's predictor behind the transformer too.
Real kserve processes (a transformer and model servers) behind nginx; InferenceServices on the fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.models.conftest import fake_cluster
from tests.smoke.conftest import DOMAIN
from tests.support.cli_main import run_main
from tests.support.modelserver import model_python, model_server
from tests.support.nginx import nginx_ingress
from tests.support.transformer import transformer

pytestmark = [pytest.mark.nginx, pytest.mark.model]
IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"


@pytest.fixture
def servers(tmp_path: Path, needs_nginx: None) -> Iterator[dict[str, int]]:
    python, reason = model_python()
    if python is None:
        pytest.skip(reason)
    with ExitStack() as stack:
        pred = stack.enter_context(model_server(tmp_path, name="two-tier"))
        tr = stack.enter_context(transformer(tmp_path, name="two-tier", predictor_port=pred.port))
        custom = stack.enter_context(model_server(tmp_path, name="custom"))
        yield {
            f"two-tier.default.{DOMAIN}": tr.port,
            f"two-tier-predictor.default.{DOMAIN}": pred.port,
            f"custom.default.{DOMAIN}": custom.port,
        }


def test_transformer_and_custom_predictor_are_checked(
    upstream_dir: Path, tmp_path: Path, servers: dict[str, int]
) -> None:
    with fake_cluster(upstream_dir) as cluster, nginx_ingress(tmp_path, servers) as nginx:
        for args in (
            ["two-tier", "--format", "sklearn", "--storage-uri", IRIS_URI,
             "--transformer-image", "ghcr.io/acme/iris-transformer:1.0"],
            ["custom", "--image", "ghcr.io/acme/iris-server:1.0", "--protocol", "v2", "--port", "8080"],
        ):  # fmt: skip
            ran = run_main([*cluster.args, "deploy-model", *args], env=cluster.env)
            assert ran.exit_code == 0, ran.stderr
        ran = run_main(
            [*cluster.args, "smoke-test", "--ingress", nginx.address, "-o", "json", "--timeout", "5"]
        )
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    checks = {c["check"]: c for c in json.loads(ran.stdout)["checks"]}
    # two-tier (v1): through the transformer, then the predictor behind it
    assert checks["model:two-tier:ready"]["url"] == f"http://two-tier.default.{DOMAIN}/v1/models/two-tier"
    assert checks["model:two-tier:predictor"]["url"] == (
        f"http://two-tier-predictor.default.{DOMAIN}/v1/models/two-tier"
    )
    # the custom predictor (v2, from platformctl's protocol annotation): the OIP model-ready endpoint
    assert checks["model:custom:ready"]["url"] == f"http://custom.default.{DOMAIN}/v2/models/custom/ready"
    assert all(checks[c]["result"] == "pass" for c in ("model:two-tier:ready", "model:two-tier:predictor",
                                                       "model:custom:ready"))  # fmt: skip


def test_a_dead_predictor_behind_a_live_transformer_fails_its_own_check(
    upstream_dir: Path, tmp_path: Path, servers: dict[str, int]
) -> None:
    routes = dict(servers)
    routes.pop(f"two-tier-predictor.default.{DOMAIN}")  # the gateway has no route: 404 for that tier
    with fake_cluster(upstream_dir) as cluster, nginx_ingress(tmp_path, routes) as nginx:
        ran = run_main(
            [*cluster.args, "deploy-model", "two-tier", "--format", "sklearn", "--storage-uri", IRIS_URI,
             "--transformer-image", "ghcr.io/acme/iris-transformer:1.0"],
            env=cluster.env,
        )  # fmt: skip
        assert ran.exit_code == 0, ran.stderr
        ran = run_main(
            [*cluster.args, "smoke-test", "--ingress", nginx.address, "-o", "json", "--timeout", "2"]
        )
    assert ran.exit_code == 1
    checks = {c["check"]: c for c in json.loads(ran.stdout)["checks"]}
    assert checks["model:two-tier:ready"]["result"] == "pass"
    assert checks["model:two-tier:predictor"]["result"] == "fail"
