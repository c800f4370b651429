"""`platformctl predict` against REAL KServe model servers behind Debian nginx (Host routing, like the
Istio gateway): a two-tier model (a real kserve transformer in front of the sklearn iris predictor),
a v2 model, a model error, and a cold start (a predictor that starts on the first request).

The InferenceServices live on the fake API server (KServe's real CRDs); their ``status.url`` names
``*.127.0.0.1.sslip.io`` hosts, which ``predict`` dials through ``--ingress`` (nginx) with the real
name as the Host header.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.models.conftest import Cluster, fake_cluster
from tests.support.cli_main import Ran, run_main
from tests.support.coldstart import ColdStartPredictor, cold_start_predictor
from tests.support.modelserver import model_python, model_server
from tests.support.nginx import NginxIngress, nginx_binary, nginx_ingress
from tests.support.transformer import transformer

pytestmark = [pytest.mark.nginx, pytest.mark.model]
DOMAIN = "127.0.0.1.sslip.io"
IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"
ROWS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]
NAMED = [
    dict(zip(("sepal_length", "sepal_width", "petal_length", "petal_width"), r, strict=True)) for r in ROWS
]


@dataclass
class Setup:
    cluster: Cluster
    nginx: NginxIngress
    cold: ColdStartPredictor

    def predict(self, *args: str) -> Ran:
        return run_main(
            [*self.cluster.args, "predict", *args, "--ingress", self.nginx.address], env=self.cluster.env
        )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    upstream = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not upstream:
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    python, reason = model_python()
    if python is None:
        pytest.skip(reason)
    binary, why = nginx_binary()
    if binary is None:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("predict")
    with ExitStack() as stack:
        cluster = stack.enter_context(fake_cluster(Path(upstream)))
        predictor = stack.enter_context(model_server(tmp, name="iris-2tier"))
        tr = stack.enter_context(transformer(tmp, name="iris-2tier", predictor_port=predictor.port))
        v2 = stack.enter_context(model_server(tmp, name="sklearn-iris"))
        cold = stack.enter_context(cold_start_predictor(tmp, name="cold-iris"))
        routes = {
            f"iris-2tier.default.{DOMAIN}": tr.port,  # KServe routes the model's URL to the transformer
            f"iris-2tier-predictor.default.{DOMAIN}": predictor.port,
            f"sklearn-iris.default.{DOMAIN}": v2.port,
            f"cold-iris.default.{DOMAIN}": cold.port,
        }
        nginx = stack.enter_context(nginx_ingress(tmp, routes))
        for args in (
            ["iris-2tier", "--format", "sklearn", "--storage-uri", IRIS_URI,
             "--transformer-image", "ghcr.io/acme/iris-transformer:1.0"],
            ["sklearn-iris", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI],
            ["cold-iris", "--format", "sklearn", "--storage-uri", IRIS_URI, "--min-replicas", "0"],
        ):  # fmt: skip
            ran = run_main([*cluster.args, "deploy-model", *args], env=cluster.env)
            assert ran.exit_code == 0, ran.stderr
        yield Setup(cluster, nginx, cold)


def test_two_tier_v1_goes_through_the_transformer(setup: Setup) -> None:
    ran = setup.predict("iris-2tier", "--instances", json.dumps(NAMED))
    assert ran.exit_code == 0, ran.stderr
    # postprocess turned the predictor's class ids [1, 1] into species names
    assert json.loads(ran.stdout) == {"predictions": ["versicolor", "versicolor"]}
    assert (
        f"POST http://iris-2tier.default.{DOMAIN}/v1/models/iris-2tier:predict -> HTTP 200 in" in ran.stderr
    )
    assert "cold start" not in ran.stderr  # minReplicas 1
    # the transformer's preprocess rejects rows without feature names: its 400 body is shown, exit 1
    bad = setup.predict("iris-2tier", "--instances", json.dumps(ROWS))
    assert bad.exit_code == 1
    assert "expected the features" in bad.stdout and "HTTP 400" in bad.stderr
    described = run_main([*setup.cluster.args, "models", "describe", "iris-2tier"], env=setup.cluster.env)
    assert described.exit_code == 0, described.stderr
    out = described.stdout
    assert out.index("Transformer:") < out.index("Predictor:")
    assert f"URL:      http://iris-2tier-transformer.default.{DOMAIN}" in out
    assert f"URL:      http://iris-2tier-predictor.default.{DOMAIN}" in out
    assert "serves:   image ghcr.io/acme/iris-transformer:1.0" in out


def test_v2_input_data_file_and_stdin(setup: Setup, tmp_path: Path) -> None:
    ran = setup.predict("sklearn-iris", "--input", f"input-0:2,4:FP32={json.dumps(ROWS)}")
    assert ran.exit_code == 0, ran.stderr
    body = json.loads(ran.stdout)
    assert body["model_name"] == "sklearn-iris" and body["outputs"][0]["data"] == [1, 1]
    assert "/v2/models/sklearn-iris/infer -> HTTP 200" in ran.stderr
    request = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": ROWS}]}
    f = tmp_path / "req.json"
    f.write_text(json.dumps(request, indent=2) + "\n")  # sent byte for byte, as written
    raw = setup.predict("sklearn-iris", "--data", str(f), "-o", "json")
    assert raw.exit_code == 0, raw.stderr
    assert json.loads(raw.stdout)["outputs"][0]["data"] == [1, 1]
    assert raw.stdout.count("\n") == 1  # -o json: the raw body, one line as the server sent it

    from typer.testing import CliRunner

    from platformctl.cli.app import main
    from tests.support.cli_main import clean_env

    args = [*setup.cluster.args, "predict", "sklearn-iris", "--data", "-", "--ingress", setup.nginx.address]
    with CliRunner().isolation(input=json.dumps(request), env=clean_env(setup.cluster.env)) as (out, _, _):
        try:
            main(args)
        except SystemExit as exc:
            assert exc.code in (0, None)
        assert json.loads(out.getvalue().decode())["outputs"][0]["data"] == [1, 1]


def test_metadata_and_ready(setup: Setup) -> None:
    meta = setup.predict("sklearn-iris", "--metadata")
    assert meta.exit_code == 0, meta.stderr
    assert json.loads(meta.stdout)["name"] == "sklearn-iris"
    assert (
        "GET http://sklearn-iris.default.127.0.0.1.sslip.io/v2/models/sklearn-iris -> HTTP 200" in meta.stderr
    )
    ready = setup.predict("sklearn-iris", "--ready")
    assert ready.exit_code == 0 and ready.stdout.strip() == "ready"
    assert "/v2/models/sklearn-iris/ready -> HTTP 200" in ready.stderr
    v1 = setup.predict("iris-2tier", "--ready")  # v1: GET /v1/models/NAME (through the transformer)
    assert v1.exit_code == 0 and v1.stdout.strip() == "ready"
    assert "/v1/models/iris-2tier -> HTTP 200" in v1.stderr


def test_a_model_error_is_shown_and_exits_1(setup: Setup) -> None:
    ran = setup.predict("sklearn-iris", "--input", "input-0:1,3:FP32=[[1,2,3]]")
    assert ran.exit_code == 1
    assert "X has 3 features" in ran.stdout  # the model server's own message
    assert "HTTP 500" in ran.stderr and "error: HTTP 500 from POST" in ran.stderr


def test_cold_start_is_marked_once(setup: Setup) -> None:
    assert not setup.cold.started.is_set()
    started = time.monotonic()
    first = setup.predict("cold-iris", "--instances", json.dumps(ROWS))
    assert first.exit_code == 0, first.stderr
    assert setup.cold.started.is_set() and setup.cold.server is not None
    assert json.loads(first.stdout) == {"predictions": [1, 1]}
    assert "cold start: the model was scaled to zero" in first.stderr
    assert time.monotonic() - started >= setup.cold.server.startup_seconds  # it included the start-up
    # Now a predictor pod runs (what Knative reports after scaling up): the next request is warm.
    setup.cluster.engine.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": "cold-iris-predictor-00001-deployment-abc",
                    "namespace": "default",
                    "labels": {"serving.kserve.io/inferenceservice": "cold-iris", "component": "predictor"},
                },
                "spec": {
                    "containers": [{"name": "kserve-container", "image": "kserve/sklearnserver:v0.16.0"}]
                },
            }
        ],
        component="test",
    )
    fake = setup.cluster.fake
    (pod_type,) = fake.registry.by_kind("Pod")

    def running(pod: dict[str, object]) -> None:
        pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}

    fake.store.mutate(pod_type, "default", "cold-iris-predictor-00001-deployment-abc", running)
    second = setup.predict("cold-iris", "--instances", json.dumps(ROWS))
    assert second.exit_code == 0, second.stderr
    assert "cold start" not in second.stderr


def test_unknown_host_404_is_shown(setup: Setup) -> None:
    # An InferenceService whose host nginx has no route for: the gateway's 404 is the answer.
    ran = run_main(
        [*setup.cluster.args, "deploy-model", "unrouted", "--format", "sklearn", "--storage-uri", IRIS_URI],
        env=setup.cluster.env,
    )
    assert ran.exit_code == 0, ran.stderr
    res = setup.predict("unrouted", "--instances", json.dumps(ROWS))
    assert res.exit_code == 1 and "HTTP 404" in res.stderr and "404" in res.stdout
