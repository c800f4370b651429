"""deploy-model / models list / models delete through the real CLI entry point, the real engine and the
fake API server (with KServe's real CRDs and ClusterServingRuntimes)."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.models.conftest import Cluster
from tests.support.cli_main import run_main

IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"
ISVC = "InferenceService"


def deploy(cluster: Cluster, *args: str) -> tuple[int, str, str]:
    ran = run_main([*cluster.args, "deploy-model", *args], env=cluster.env)
    return ran.exit_code, ran.stdout, ran.stderr


def test_dry_run_prints_yaml_and_touches_nothing(cluster: Cluster) -> None:
    code, out, err = deploy(
        cluster,
        "sklearn-iris",
        "--format",
        "sklearn",
        "--protocol",
        "v2",
        "--storage-uri",
        IRIS_URI,
        "--min-replicas",
        "0",
        "--max-replicas",
        "3",
        "--cpu",
        "100m",
        "--memory",
        "256Mi",
        "--gpu",
        "1",
        "--env",
        "GREETING=hello world",
        "--dry-run",
    )
    assert code == 0, err
    obj = yaml.safe_load(out)
    assert obj["apiVersion"] == "serving.kserve.io/v1beta1" and obj["kind"] == ISVC
    pred = obj["spec"]["predictor"]
    assert pred["minReplicas"] == 0 and pred["maxReplicas"] == 3
    assert pred["model"]["modelFormat"] == {"name": "sklearn"}
    assert pred["model"]["protocolVersion"] == "v2" and pred["model"]["storageUri"] == IRIS_URI
    assert pred["model"]["resources"]["limits"] == {"cpu": "100m", "memory": "256Mi", "nvidia.com/gpu": "1"}
    assert pred["model"]["env"] == [{"name": "GREETING", "value": "hello world"}]
    assert "canaryTrafficPercent" not in pred and "runtime" not in pred["model"]
    assert "kserve-sklearnserver" in err and "kserve-mlserver" in err  # who can serve sklearn over v2
    # --dry-run reads the live object (to show what would change) but never writes
    assert cluster.writes() == []
    assert "new InferenceService default/sklearn-iris" in err
    assert cluster.fake.objects(kind=ISVC) == []
    # Every field name the template emits is one the pinned KServe CRD declares (strict: unknown
    # fields are errors), so the template's keys are sourced from kserve.yaml v0.16.0, not memory.
    from pathlib import Path

    from platformctl.drivers.schema import CrdSchemas, crd_paths, load_crds, validate_objects
    from platformctl.plan.lock import load_lock

    upstream = Path(os.environ["PLATFORMCTL_UPSTREAM_DIR"])  # the cluster fixture skips when unset
    lock = load_lock()
    crds = CrdSchemas(load_crds(crd_paths(lock, upstream)), strict=True)
    assert validate_objects([obj], crds=crds, kubernetes_version=lock.kubernetes.version) == []
    obj["spec"]["predictor"]["minReplica"] = 1  # a typo the schema must catch
    errors = validate_objects([obj], crds=crds, kubernetes_version=lock.kubernetes.version)
    assert len(errors) == 1 and "minReplica" in errors[0]


def test_deploy_waits_ready_and_prints_url_and_requests(cluster: Cluster) -> None:
    code, out, err = deploy(
        cluster, "sklearn-iris", "--format", "sklearn", "--protocol", "v2", "--storage-uri", IRIS_URI
    )
    assert code == 0, err
    (obj,) = cluster.fake.objects(kind=ISVC, namespace="default")
    assert obj["spec"]["predictor"]["model"]["storageUri"] == IRIS_URI
    assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "platformctl"
    assert "inferenceservice default/sklearn-iris: Ready" in out
    assert "URL: http://sklearn-iris.default.127.0.0.1.sslip.io" in out
    assert "--resolve sklearn-iris.default.127.0.0.1.sslip.io:80:127.0.0.1" in out
    assert "/v2/models/sklearn-iris/infer" in out and "Host:sklearn-iris.default.127.0.0.1.sslip.io" in out


def test_deploy_json_and_no_wait(cluster: Cluster) -> None:
    code, out, err = deploy(
        cluster,
        "m1",
        "--format",
        "xgboost",
        "--storage-uri",
        "s3://my-bucket/models/xgb",
        "--no-wait",
        "-o",
        "json",
        "--namespace",
        "default",
        "--ingress",
        "127.0.0.1:8080",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["applied"] is True and data["ready"] is False and data["action"] == "created"
    assert data["manifest"]["spec"]["predictor"]["model"]["modelFormat"]["name"] == "xgboost"


def test_canary_keeps_previous_revision(cluster: Cluster) -> None:
    assert deploy(cluster, "sklearn-iris", "--format", "sklearn", "--storage-uri", IRIS_URI)[0] == 0
    code, out, err = deploy(
        cluster,
        "sklearn-iris",
        "--canary-traffic-percent",
        "10",
        "--storage-uri",
        IRIS_URI + "-2",
        "-o",
        "json",
    )
    assert code == 0, err
    (obj,) = cluster.fake.objects(kind=ISVC)
    pred = obj["spec"]["predictor"]
    assert pred["canaryTrafficPercent"] == 10
    assert pred["model"]["storageUri"] == IRIS_URI + "-2"
    assert pred["model"]["modelFormat"]["name"] == "sklearn"  # inherited from the running model
    assert obj["metadata"]["generation"] == 2
    data = json.loads(out)
    assert data["canaryTrafficPercent"] == 10
    # the fake's KServe splits like the real one: P% to the new revision, the rest to the rolled-out one
    split = [(t["revisionName"], t["percent"], t.get("tag")) for t in data["traffic"]]
    assert split == [("sklearn-iris-predictor-00002", 10, None), ("sklearn-iris-predictor-00001", 90, "prev")]
    listed = run_main([*cluster.args, "models", "list", "-o", "json"], env=cluster.env)
    assert listed.exit_code == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert [(t["revisionName"], t["percent"]) for t in row["traffic"]] == [
        ("sklearn-iris-predictor-00002", 10),
        ("sklearn-iris-predictor-00001", 90),
    ]
    table = run_main([*cluster.args, "models", "list"], env={**cluster.env, "COLUMNS": "200"})
    assert "sklearn-iris-predictor-00002:10% (latest) sklearn-iris-predictor-00001:90%" in table.stdout


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["Bad_Name", "--format", "sklearn", "--storage-uri", IRIS_URI], "NAME"),
        (["m", "--format", "nosuchformat", "--storage-uri", IRIS_URI], "--format"),
        (["m", "--format", "triton", "--protocol", "v1", "--storage-uri", IRIS_URI], "--protocol"),
        (["m", "--format", "sklearn", "--protocol", "v3", "--storage-uri", IRIS_URI], "--protocol"),
        (
            ["m", "--format", "sklearn", "--runtime", "kserve-tritonserver", "--storage-uri", IRIS_URI],
            "--runtime",
        ),
        (["m", "--format", "sklearn", "--runtime", "nope", "--storage-uri", IRIS_URI], "--runtime"),
        (["m", "--format", "sklearn", "--storage-uri", "ftp://host/model"], "--storage-uri"),
        (["m", "--format", "sklearn", "--storage-uri", "gs://UPPER/model"], "--storage-uri"),
        (["m", "--format", "sklearn", "--storage-uri", "hf://only-one-part"], "--storage-uri"),
        (["m", "--format", "sklearn", "--storage-uri", "pvc://bad_claim/x"], "--storage-uri"),
        (["m", "--format", "sklearn", "--storage-uri", "https://nohost"], "--storage-uri"),
        (["m", "--format", "sklearn"], "--storage-uri"),
        (["m", "--storage-uri", IRIS_URI], "--format"),
        (["m", "--format", "sklearn", "--storage-uri", IRIS_URI, "--env", "NOEQUALS"], "--env"),
        (["m", "--format", "sklearn", "--storage-uri", IRIS_URI, "--cpu", "lots"], "--cpu"),
        (["m", "--format", "sklearn", "--storage-uri", IRIS_URI, "--min-replicas", "-1"], "--min-replicas"),
        (
            [
                "m",
                "--format",
                "sklearn",
                "--storage-uri",
                IRIS_URI,
                "--min-replicas",
                "3",
                "--max-replicas",
                "2",
            ],
            "--max-replicas",
        ),
        (["m", "--format", "sklearn", "--storage-uri", IRIS_URI, "--gpu", "0"], "--gpu"),
        (["m", "--format", "sklearn", "--storage-uri", IRIS_URI, "--namespace", "Bad"], "--namespace"),
        (
            ["m", "--format", "sklearn", "--storage-uri", IRIS_URI, "--canary-traffic-percent", "10"],
            "--canary-traffic-percent",
        ),
        (["sklearn-iris", "--canary-traffic-percent", "101"], "--canary-traffic-percent"),
    ],
)
def test_bad_input_exit_2_and_nothing_applied(shared_cluster: Cluster, args: list[str], flag: str) -> None:
    cluster = shared_cluster
    code, out, err = deploy(cluster, *args)
    assert code == 2, (out, err)
    first = err.strip().splitlines()[0]
    assert first.startswith("error:") and flag in first
    assert len(err.strip().splitlines()) <= 2  # one line (+ an optional hint)
    assert cluster.writes() == []
    assert cluster.fake.objects(kind=ISVC) == []


def test_live_cluster_runtimes_decide_what_is_servable(cluster: Cluster) -> None:
    # The cluster only has the sklearn runtime: xgboost (which the pinned release serves) is refused.
    cluster.install_runtimes({"kserve-sklearnserver"})
    cluster.fake.reset_request_log()
    code, _, err = deploy(cluster, "m", "--format", "xgboost", "--storage-uri", "gs://bucket/xgb")
    assert code == 2 and "cluster fake" in err and "sklearn" in err
    assert cluster.writes() == []
    assert deploy(cluster, "m", "--format", "sklearn", "--storage-uri", "gs://bucket/skl")[0] == 0


def test_models_list_and_delete(cluster: Cluster) -> None:
    assert deploy(cluster, "sklearn-iris", "--format", "sklearn", "--storage-uri", IRIS_URI)[0] == 0
    ran = run_main([*cluster.args, "models", "list", "-o", "json"])
    assert ran.exit_code == 0, ran.stderr
    (row,) = json.loads(ran.stdout)
    assert row["name"] == "sklearn-iris" and row["format"] == "sklearn" and row["ready"] is True
    assert row["url"] == "http://sklearn-iris.default.127.0.0.1.sslip.io"
    assert row["traffic"][0]["percent"] == 100
    table = run_main([*cluster.args, "models", "list"], env={"COLUMNS": "200"})
    assert "sklearn-iris" in table.stdout and "100%" in table.stdout

    missing = run_main([*cluster.args, "models", "delete", "nope", "--yes"])
    assert missing.exit_code == 2 and "not found" in missing.stderr

    ran = run_main([*cluster.args, "models", "delete", "sklearn-iris", "--yes"])
    assert ran.exit_code == 0, ran.stderr
    assert cluster.fake.objects(kind=ISVC) == []


def test_bad_input_is_reported_before_connecting() -> None:
    # No cluster at all: the flag error still wins (exit 2), not "cluster unreachable" (exit 4).
    ran = run_main(
        ["--kubeconfig", "/nonexistent/kubeconfig", "deploy-model", "m", "--format", "sklearn",
         "--storage-uri", "gs://bucket/m", "--cpu", "2 cores"]
    )  # fmt: skip
    assert ran.exit_code == 2 and "--cpu" in ran.stderr


def test_model_that_never_gets_ready_exits_1_with_diagnostics(cluster: Cluster) -> None:
    cluster.fake.never_ready(
        kind=ISVC,
        namespace="default",
        name="broken",
        reason="ModelLoadFailed",
        message="no model at storageUri",
    )
    code, _, err = deploy(
        cluster, "broken", "--format", "sklearn", "--storage-uri", "gs://bucket/none", "--timeout", "3"
    )
    assert code == 1
    assert "ModelLoadFailed" in err or "no model at storageUri" in err
    assert cluster.fake.objects(kind=ISVC)  # applied; the wait is what failed


def test_models_delete_asks_first(cluster: Cluster) -> None:
    from typer.testing import CliRunner

    from platformctl.cli.app import main
    from tests.support.cli_main import clean_env

    assert deploy(cluster, "sklearn-iris", "--format", "sklearn", "--storage-uri", IRIS_URI)[0] == 0

    def delete(answer: str) -> int:
        with CliRunner().isolation(input=answer, env=clean_env()):
            try:
                main([*cluster.args, "models", "delete", "sklearn-iris"])
            except SystemExit as exc:
                return int(exc.code or 0)
        return 0

    assert delete("n\n") == 1  # declined: nothing deleted, same exit code as a declined `down`
    assert len(cluster.fake.objects(kind=ISVC)) == 1
    assert delete("y\n") == 0
    assert cluster.fake.objects(kind=ISVC) == []


def test_models_delete_without_an_answer_names_yes(cluster: Cluster) -> None:
    # Regression: stdin closed at the prompt printed a bare "error: aborted".
    assert deploy(cluster, "sklearn-iris", "--format", "sklearn", "--storage-uri", IRIS_URI)[0] == 0
    ran = run_main([*cluster.args, "models", "delete", "sklearn-iris"], env=cluster.env)
    # like `down` without a terminal: exit 5 naming --yes (issue 9), not 130 (that is Ctrl-C)
    assert ran.exit_code == 5
    assert "confirm interactively or pass --yes" in ran.stderr
    assert len(cluster.fake.objects(kind=ISVC)) == 1
