"""Issue 9 item 2: re-deploying a model keeps what the user did not change (the live InferenceService is
the base), `deploy-model` shows a field-level diff, and `models promote NAME` ends a canary."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.models.conftest import Cluster
from tests.support.cli_main import run_main

IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"
ISVC = "InferenceService"


def deploy(cluster: Cluster, *args: str) -> tuple[int, str, str]:
    ran = run_main([*cluster.args, "deploy-model", *args], env=cluster.env)
    return ran.exit_code, ran.stdout, ran.stderr


def live(cluster: Cluster) -> dict[str, Any]:
    (obj,) = cluster.fake.objects(kind=ISVC)
    return obj


def test_redeploy_with_one_flag_keeps_every_other_live_value(cluster: Cluster) -> None:
    assert deploy(
        cluster, "iris", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI,
        "--min-replicas", "0", "--max-replicas", "3", "--env", "A=1",
    )[0] == 0  # fmt: skip
    # No --format: the model exists, so it is the base (this used to fail: "--format is required").
    code, out, err = deploy(cluster, "iris", "--memory", "512Mi")
    assert code == 0, err
    pred = live(cluster)["spec"]["predictor"]
    assert pred["model"]["protocolVersion"] == "v2"  # kept: v2 clients keep working
    assert pred["model"]["storageUri"] == IRIS_URI
    assert pred["model"]["env"] == [{"name": "A", "value": "1"}]
    assert pred["minReplicas"] == 0 and pred["maxReplicas"] == 3
    assert pred["model"]["resources"]["limits"] == {"memory": "512Mi"}
    # the diff names exactly the fields that changed
    assert "InferenceService default/iris: 1 field(s) change" in err
    assert (
        '+ spec.predictor.model.resources: {"limits":{"memory":"512Mi"},"requests":{"memory":"512Mi"}}' in err
    )
    assert "/v2/models/iris/infer" in out  # the printed request follows the live protocol


def test_redeploy_with_format_does_not_drop_protocol_after_a_canary(cluster: Cluster) -> None:
    # The path: v2 model, canary, then "promote" by re-running without --canary-traffic-percent.
    assert (
        deploy(cluster, "iris", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI)[0] == 0
    )
    code, _, err = deploy(cluster, "iris", "--canary-traffic-percent", "10", "--storage-uri", IRIS_URI + "-2")
    assert code == 0, err
    assert live(cluster)["spec"]["predictor"]["canaryTrafficPercent"] == 10
    code, out, err = deploy(
        cluster, "iris", "--format", "sklearn", "--storage-uri", IRIS_URI + "-2", "-o", "json"
    )
    assert code == 0, err
    pred = live(cluster)["spec"]["predictor"]
    assert pred["model"]["protocolVersion"] == "v2"
    assert "canaryTrafficPercent" not in pred
    data = json.loads(out)
    assert data["existed"] is True
    assert data["changes"] == [{"path": "spec.predictor.canaryTrafficPercent", "old": 10, "new": None}]
    assert [(t["revisionName"], t["percent"]) for t in data["traffic"]] == [("iris-predictor-00002", 100)]


def test_canary_path_keeps_live_values_too(cluster: Cluster) -> None:
    assert deploy(
        cluster, "iris", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI,
        "--cpu", "200m", "--node-selector", "pool=cpu",
    )[0] == 0  # fmt: skip
    code, _, err = deploy(cluster, "iris", "--canary-traffic-percent", "20", "--storage-uri", IRIS_URI + "-2")
    assert code == 0, err
    pred = live(cluster)["spec"]["predictor"]
    assert pred["canaryTrafficPercent"] == 20 and pred["model"]["storageUri"] == IRIS_URI + "-2"
    assert pred["model"]["protocolVersion"] == "v2"
    assert pred["model"]["resources"]["requests"] == {"cpu": "200m"}
    assert pred["nodeSelector"] == {"pool": "cpu"}


def test_dry_run_redeploy_prints_the_diff_and_writes_nothing(cluster: Cluster) -> None:
    assert (
        deploy(cluster, "iris", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI)[0] == 0
    )
    cluster.fake.reset_request_log()
    code, out, err = deploy(
        cluster, "iris", "--storage-uri", IRIS_URI + "-2", "--min-replicas", "0", "--dry-run"
    )
    assert code == 0, err
    assert cluster.writes() == []
    assert live(cluster)["spec"]["predictor"]["model"]["storageUri"] == IRIS_URI
    assert f'~ spec.predictor.model.storageUri: "{IRIS_URI}" -> "{IRIS_URI}-2"' in err
    assert "~ spec.predictor.minReplicas: 1 -> 0" in err
    assert "2 field(s) change" in err
    shown = yaml.safe_load(out)
    assert shown["spec"]["predictor"]["model"]["protocolVersion"] == "v2"
    # an identical re-deploy says so
    code, _, err = deploy(cluster, "iris", "--dry-run")
    assert code == 0 and "InferenceService default/iris: no changes" in err


def test_fields_platformctl_does_not_model_survive_a_redeploy(cluster: Cluster) -> None:
    assert deploy(cluster, "iris", "--format", "sklearn", "--storage-uri", IRIS_URI)[0] == 0
    obj = live(cluster)
    # As if set with kubectl (or defaulted by KServe's webhook): a field deploy-model has no flag for.
    obj["spec"]["predictor"]["timeout"] = 120
    obj["metadata"].setdefault("annotations", {})["team"] = "ml"
    manifest = {k: obj[k] for k in ("apiVersion", "kind", "spec")}
    manifest["metadata"] = {k: obj["metadata"][k] for k in ("name", "namespace", "annotations")}
    cluster.engine.apply([manifest], component="models")
    code, _, err = deploy(cluster, "iris", "--max-replicas", "4")
    assert code == 0, err
    after = live(cluster)
    assert after["spec"]["predictor"]["timeout"] == 120
    assert after["metadata"]["annotations"]["team"] == "ml"
    assert after["spec"]["predictor"]["maxReplicas"] == 4


def test_switching_to_a_custom_predictor_replaces_the_model(cluster: Cluster) -> None:
    assert deploy(cluster, "m", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI)[0] == 0
    code, _, err = deploy(cluster, "m", "--image", "ghcr.io/acme/iris-server:1.0", "--port", "8081")
    assert code == 0, err
    pred = live(cluster)["spec"]["predictor"]
    assert "model" not in pred
    (container,) = pred["containers"]
    assert container["image"] == "ghcr.io/acme/iris-server:1.0"
    # the protocol is kept (v2): the readiness probe and printed requests follow it
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/models/m/ready"
    assert live(cluster)["metadata"]["annotations"]["platformctl.io/protocol"] == "v2"


def test_models_promote_ends_the_canary_and_changes_nothing_else(cluster: Cluster) -> None:
    assert (
        deploy(cluster, "iris", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI)[0] == 0
    )
    assert deploy(cluster, "iris", "--canary-traffic-percent", "10", "--storage-uri", IRIS_URI + "-2")[0] == 0
    before = live(cluster)
    ran = run_main([*cluster.args, "models", "promote", "iris", "-o", "json"], env=cluster.env)
    assert ran.exit_code == 0, ran.stderr
    data = json.loads(ran.stdout)
    assert data["changes"] == [{"path": "spec.predictor.canaryTrafficPercent", "old": 10, "new": None}]
    assert [(t["revisionName"], t["percent"]) for t in data["traffic"]] == [("iris-predictor-00002", 100)]
    after = live(cluster)
    expected = dict(before["spec"]["predictor"])
    del expected["canaryTrafficPercent"]
    assert after["spec"]["predictor"] == expected
    # nothing left to promote: exit 2, one line naming NAME
    again = run_main([*cluster.args, "models", "promote", "iris"], env=cluster.env)
    assert again.exit_code == 2 and "no canary" in again.stderr
    missing = run_main([*cluster.args, "models", "promote", "nope"], env=cluster.env)
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_custom_predictor_redeploy_keeps_image_and_checks_flags(cluster: Cluster) -> None:
    assert (
        deploy(cluster, "c", "--image", "ghcr.io/acme/server:1", "--port", "9000", "--args", "--x=1")[0] == 0
    )
    code, _, err = deploy(cluster, "c", "--port", "9001")  # no --image: the live one is kept
    assert code == 0, err
    (container,) = live(cluster)["spec"]["predictor"]["containers"]
    assert container["image"] == "ghcr.io/acme/server:1" and container["args"] == ["--x=1"]
    assert container["ports"] == [{"containerPort": 9001, "protocol": "TCP"}]
    cluster.fake.reset_request_log()
    code, _, err = deploy(cluster, "c", "--storage-uri", IRIS_URI)
    assert code == 2 and err.startswith("error: --storage-uri: c is a custom predictor")
    assert cluster.writes() == []
    code, _, err = deploy(cluster, "iris", "--format", "sklearn", "--storage-uri", IRIS_URI, "--args", "-v")
    assert code == 2 and "--args: only for a custom predictor" in err
