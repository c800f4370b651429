"""Transformers, custom predictors, private storage (S3, GCS) and placement: dry-run output validated
strictly against the pinned InferenceService CRD and the Kubernetes core schemas, applied objects on the
fake API server, and secrets that never reach any output."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.models.conftest import Cluster
from tests.support.cli_main import run_main

IRIS_URI = "gs://kfserving-examples/models/sklearn/1.0/model"
S3_URI = "s3://acme-models/iris/v1"
ISVC = "InferenceService"
# Values that must never be printed (distinctive, so a grep cannot match by accident).
ACCESS_KEY = "AKIAEXAMPLEKEYID7Q3Z"
SECRET_KEY = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY-9f2"
GCS_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEv-gcs-secret-material-42\n-----END PRIVATE KEY-----\n"
S3_ENV = {"ACME_KEY_ID": ACCESS_KEY, "ACME_SECRET": SECRET_KEY}
S3_FLAGS = [
    "--s3-endpoint", "https://minio.acme.internal:9000", "--s3-region", "eu-west-1",
    "--s3-access-key-id-env", "ACME_KEY_ID", "--s3-secret-access-key-env", "ACME_SECRET",
    "--s3-no-verify-ssl",
]  # fmt: skip


def deploy(cluster: Cluster, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    ran = run_main([*cluster.args, "deploy-model", *args], env={**cluster.env, **(env or {})})
    return ran.exit_code, ran.stdout, ran.stderr


def schema_errors(objects: list[dict[str, Any]]) -> list[str]:
    from platformctl.drivers.schema import CrdSchemas, crd_paths, load_crds, validate_objects
    from platformctl.plan.lock import load_lock

    lock = load_lock()
    crds = CrdSchemas(load_crds(crd_paths(lock, Path(os.environ["PLATFORMCTL_UPSTREAM_DIR"]))), strict=True)
    return validate_objects(objects, crds=crds, kubernetes_version=lock.kubernetes.version)


def test_transformer_dry_run_is_a_valid_two_tier_inferenceservice(cluster: Cluster) -> None:
    code, out, err = deploy(
        cluster, "mnist", "--format", "sklearn", "--storage-uri", IRIS_URI,
        "--transformer-image", "ghcr.io/acme/mnist-transformer:1.2",
        "--transformer-env", "FEATURES=petal length, petal width", "--transformer-port", "8080",
        "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    (obj,) = list(yaml.safe_load_all(out))
    (container,) = obj["spec"]["transformer"]["containers"]
    assert container["name"] == "kserve-container"  # the name KServe requires
    assert container["image"] == "ghcr.io/acme/mnist-transformer:1.2"
    assert container["env"] == [{"name": "FEATURES", "value": "petal length, petal width"}]
    assert container["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert obj["spec"]["predictor"]["model"]["modelFormat"]["name"] == "sklearn"
    assert schema_errors([obj]) == []
    assert cluster.writes() == []


def test_custom_predictor_dry_run_and_health_check_follow_the_protocol(cluster: Cluster) -> None:
    code, out, err = deploy(
        cluster, "custom", "--image", "ghcr.io/acme/iris-server@sha256:" + "a" * 64, "--port", "9000",
        "--args", "--model_name=custom", "--args", "--workers 2", "--protocol", "v2", "--env", "LOG=debug",
        "--cpu", "1", "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    obj = yaml.safe_load(out)
    pred = obj["spec"]["predictor"]
    assert "model" not in pred
    (c,) = pred["containers"]
    assert c["name"] == "kserve-container" and c["ports"] == [{"containerPort": 9000, "protocol": "TCP"}]
    assert c["args"] == ["--model_name=custom", "--workers 2"]
    assert c["env"] == [{"name": "LOG", "value": "debug"}]
    assert c["resources"] == {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}
    assert c["readinessProbe"] == {"httpGet": {"path": "/v2/models/custom/ready"}}
    assert obj["metadata"]["annotations"]["platformctl.io/protocol"] == "v2"
    assert "custom predictor" in err
    assert schema_errors([obj]) == []
    code, out, _ = deploy(cluster, "custom1", "--image", "ghcr.io/acme/iris-server:1", "--dry-run")
    assert code == 0
    (c,) = yaml.safe_load(out)["spec"]["predictor"]["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/v1/models/custom1"  # v1: GET /v1/models/NAME


def test_placement_and_autoscaling_fields(cluster: Cluster) -> None:
    code, out, err = deploy(
        cluster, "gpu", "--format", "sklearn", "--storage-uri", IRIS_URI, "--gpu", "1",
        "--node-selector", "nvidia.com/gpu.present=true", "--node-selector", "pool=gpu",
        "--toleration", "nvidia.com/gpu:NoSchedule", "--toleration", "dedicated=ml:NoExecute",
        "--toleration", "spot", "--scale-metric", "rps", "--scale-target", "50", "--min-replicas", "0",
        "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    obj = yaml.safe_load(out)
    pred = obj["spec"]["predictor"]
    assert pred["nodeSelector"] == {"nvidia.com/gpu.present": "true", "pool": "gpu"}
    assert pred["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoExecute"},
        {"key": "spot", "operator": "Exists"},
    ]
    assert pred["scaleMetric"] == "rps" and pred["scaleTarget"] == 50 and pred["minReplicas"] == 0
    assert schema_errors([obj]) == []


def _all_output(*ran: tuple[int, str, str]) -> str:
    return "\n".join(o + e for _, o, e in ran)


def _assert_no_secret(text: str, *secrets: str) -> None:
    for s in secrets:
        for form in (s, base64.b64encode(s.encode()).decode(), json.dumps(s)[1:-1]):
            assert form not in text, f"secret value leaked in output: {form[:6]}…"


def test_s3_credentials_secret_and_service_account(cluster: Cluster, tmp_path: Path) -> None:
    outputs = []
    for fmt in ([], ["-o", "json"], ["-o", "yaml"]):
        ran = deploy(cluster, "iris", "--format", "sklearn", "--storage-uri", S3_URI, *S3_FLAGS, "--dry-run",
                     *fmt, env=S3_ENV)  # fmt: skip
        assert ran[0] == 0, ran[2]
        outputs.append(ran)
    docs = list(yaml.safe_load_all(outputs[0][1]))
    secret, account, isvc = docs
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == "iris-storage"
    # KServe's S3 annotations (endpoint without scheme; "1"/"0" flags)
    assert secret["metadata"]["annotations"] == {
        "serving.kserve.io/s3-endpoint": "minio.acme.internal:9000",
        "serving.kserve.io/s3-region": "eu-west-1",
        "serving.kserve.io/s3-usehttps": "1",
        "serving.kserve.io/s3-verifyssl": "0",
    }
    assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": "<redacted>", "AWS_SECRET_ACCESS_KEY": "<redacted>"}
    assert account["kind"] == "ServiceAccount" and account["secrets"] == [{"name": "iris-storage"}]
    assert isvc["spec"]["predictor"]["serviceAccountName"] == account["metadata"]["name"] == "iris-sa"
    assert schema_errors(docs) == []  # Secret/ServiceAccount: core schemas; InferenceService: the CRD
    assert cluster.writes() == []

    applied = deploy(cluster, "iris", "--format", "sklearn", "--storage-uri", S3_URI, *S3_FLAGS, env=S3_ENV)
    assert applied[0] == 0, applied[2]
    assert "credentials: secret/iris-storage via serviceaccount/iris-sa" in applied[1]
    as_json = deploy(cluster, "iris", "--storage-uri", S3_URI, *S3_FLAGS, "-o", "json", env=S3_ENV)
    assert as_json[0] == 0, as_json[2]
    verbose = run_main(
        [
            "-v",
            *cluster.args,
            "deploy-model",
            "iris",
            "--storage-uri",
            S3_URI,
            *S3_FLAGS,
            "--min-replicas",
            "2",
        ],
        env={**cluster.env, **S3_ENV},
    )
    assert verbose.exit_code == 0, verbose.stderr
    outputs.append((verbose.exit_code, verbose.stdout, verbose.stderr))
    listed = run_main([*cluster.args, "models", "list", "-o", "json"], env=cluster.env)
    described = run_main([*cluster.args, "models", "describe", "iris"], env=cluster.env)
    described_json = run_main([*cluster.args, "models", "describe", "iris", "-o", "yaml"], env=cluster.env)
    assert "Account:    iris-sa" in described.stdout
    text = _all_output(*outputs, applied, as_json) + "".join(
        r.stdout + r.stderr for r in (listed, described, described_json)
    )
    _assert_no_secret(text, ACCESS_KEY, SECRET_KEY)

    # What reached the cluster: the real values, owned by the InferenceService, labelled as ours.
    (isvc_live,) = cluster.fake.objects(kind=ISVC)
    sec = cluster.fake.get("Secret", "iris-storage", "default")
    assert sec is not None
    values = {k: base64.b64decode(v).decode() for k, v in (sec.get("data") or {}).items()}
    values.update(sec.get("stringData") or {})
    assert values == {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    assert sec["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "platformctl"
    assert sec["metadata"]["ownerReferences"][0]["uid"] == isvc_live["metadata"]["uid"]
    sa = cluster.fake.get("ServiceAccount", "iris-sa", "default")
    assert sa is not None
    assert sa["metadata"]["ownerReferences"][0]["uid"] == isvc_live["metadata"]["uid"]

    # ... and removed with the model.
    deleted = run_main([*cluster.args, "models", "delete", "iris", "--yes"], env=cluster.env)
    assert deleted.exit_code == 0, deleted.stderr
    assert cluster.fake.get("Secret", "iris-storage", "default") is None
    assert cluster.fake.get("ServiceAccount", "iris-sa", "default") is None


def test_gcs_credentials_file(cluster: Cluster, tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account", "private_key": GCS_PRIVATE_KEY}))
    ran = deploy(cluster, "iris", "--format", "sklearn", "--storage-uri", IRIS_URI,
                 "--gcs-credentials-file", str(key), "--dry-run")  # fmt: skip
    assert ran[0] == 0, ran[2]
    secret, account, isvc = yaml.safe_load_all(ran[1])
    assert secret["stringData"] == {"gcloud-application-credentials.json": "<redacted>"}
    assert "annotations" not in secret["metadata"]
    assert isvc["spec"]["predictor"]["serviceAccountName"] == "iris-sa"
    assert schema_errors([secret, account, isvc]) == []
    applied = deploy(cluster, "iris", "--format", "sklearn", "--storage-uri", IRIS_URI,
                     "--gcs-credentials-file", str(key), "-o", "json")  # fmt: skip
    assert applied[0] == 0, applied[2]
    _assert_no_secret(_all_output(ran, applied), GCS_PRIVATE_KEY, "MIIEv-gcs-secret-material-42")
    sec = cluster.fake.get("Secret", "iris-storage", "default")
    assert sec is not None
    stored = (sec.get("stringData") or {}).get("gcloud-application-credentials.json") or base64.b64decode(
        sec["data"]["gcloud-application-credentials.json"]
    ).decode()
    assert json.loads(stored)["private_key"] == GCS_PRIVATE_KEY


def test_existing_storage_secret_gets_a_service_account(cluster: Cluster) -> None:
    missing = deploy(cluster, "iris", "--format", "sklearn", "--storage-uri", S3_URI,
                     "--storage-secret", "team-s3")  # fmt: skip
    assert missing[0] == 2 and "--storage-secret" in missing[2] and "not found" in missing[2]
    cluster.engine.apply(
        [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "team-s3", "namespace": "default"},
          "stringData": {"AWS_ACCESS_KEY_ID": ACCESS_KEY}}],
        component="someone-else",
    )  # fmt: skip
    code, out, err = deploy(cluster, "iris", "--format", "sklearn", "--storage-uri", S3_URI,
                            "--storage-secret", "team-s3", "--dry-run")  # fmt: skip
    assert code == 0, err
    account, isvc = yaml.safe_load_all(out)  # no Secret: the user's own is referenced
    assert account["secrets"] == [{"name": "team-s3"}]
    assert isvc["spec"]["predictor"]["serviceAccountName"] == "iris-sa"
    _assert_no_secret(out + err, ACCESS_KEY)


def test_a_secret_platformctl_did_not_create_is_not_overwritten(cluster: Cluster) -> None:
    # Created by someone else (a plain POST, as kubectl create would: no managed-by label).
    meta = {"name": "iris-storage", "namespace": "default"}
    foreign = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": {"x": "y"}}
    cluster.engine.api.request("POST", "/api/v1/namespaces/default/secrets", body=foreign)
    cluster.fake.reset_request_log()
    code, _, err = deploy(
        cluster, "iris", "--format", "sklearn", "--storage-uri", S3_URI, *S3_FLAGS, env=S3_ENV
    )
    assert code == 5 and "--force" in err and "Secret default/iris-storage" in err
    assert cluster.writes() == [] and cluster.fake.objects(kind=ISVC) == []
    code, _, err = deploy(
        cluster, "iris", "--format", "sklearn", "--storage-uri", S3_URI, *S3_FLAGS, "--force", env=S3_ENV
    )
    assert code == 0, err


@pytest.mark.parametrize(
    ("args", "env", "flag"),
    [
        (["--format", "sklearn", "--image", "ghcr.io/a/b:1"], {}, "--format"),
        (["--image", "ghcr.io/a/b:1", "--storage-uri", IRIS_URI], {}, "--storage-uri"),
        (["--image", "Not An Image"], {}, "--image"),
        (["--format", "sklearn", "--storage-uri", IRIS_URI, "--port", "8080"], {}, "--port"),
        (["--image", "ghcr.io/a/b:1", "--port", "70000"], {}, "--port"),
        (
            ["--format", "sklearn", "--storage-uri", IRIS_URI, "--transformer-port", "8080"],
            {},
            "--transformer-port",
        ),
        (
            ["--format", "sklearn", "--storage-uri", IRIS_URI, "--transformer-image", "x y"],
            {},
            "--transformer-image",
        ),
        (
            [
                "--format",
                "sklearn",
                "--storage-uri",
                IRIS_URI,
                "--transformer-image",
                "a/b:1",
                "--transformer-env",
                "NOEQ",
            ],
            {},
            "--transformer-env",
        ),
        (
            ["--format", "sklearn", "--storage-uri", S3_URI, *S3_FLAGS],
            {"ACME_KEY_ID": ACCESS_KEY},
            "--s3-secret-access-key-env",
        ),
        (
            ["--format", "sklearn", "--storage-uri", S3_URI, "--s3-region", "eu-west-1"],
            S3_ENV,
            "--s3-access-key-id-env",
        ),
        (["--format", "sklearn", "--storage-uri", IRIS_URI, *S3_FLAGS], S3_ENV, "--s3-*"),
        (
            [
                "--format",
                "sklearn",
                "--storage-uri",
                S3_URI,
                "--s3-endpoint",
                "ftp://x",
                "--s3-region",
                "r",
                "--s3-access-key-id-env",
                "ACME_KEY_ID",
                "--s3-secret-access-key-env",
                "ACME_SECRET",
            ],
            S3_ENV,
            "--s3-endpoint",
        ),
        (
            ["--format", "sklearn", "--storage-uri", S3_URI, "--storage-secret", "s", *S3_FLAGS],
            S3_ENV,
            "--s3-*",
        ),
        (
            [
                "--format",
                "sklearn",
                "--storage-uri",
                IRIS_URI,
                "--gcs-credentials-file",
                "/nonexistent/k.json",
            ],
            {},
            "--gcs-credentials-file",
        ),
        (
            ["--format", "sklearn", "--storage-uri", IRIS_URI, "--node-selector", "novalue"],
            {},
            "--node-selector",
        ),
        (
            ["--format", "sklearn", "--storage-uri", IRIS_URI, "--toleration", "k:Sometimes"],
            {},
            "--toleration",
        ),
        (["--format", "sklearn", "--storage-uri", IRIS_URI, "--scale-metric", "cpu"], {}, "--scale-metric"),
        (["--format", "sklearn", "--storage-uri", IRIS_URI, "--scale-target", "0"], {}, "--scale-target"),
        (
            ["--format", "sklearn", "--storage-uri", IRIS_URI, "--max-replicas", "2147483648"],
            {},
            "--max-replicas",
        ),
        (["--format", "sklearn", "--storage-uri", IRIS_URI, "--timeout", "nan"], {}, "--timeout"),
        (["--format", "sklearn", "--storage-uri", IRIS_URI, "--timeout", "inf"], {}, "--timeout"),
    ],
)
def test_bad_input_exit_2_naming_the_flag(
    shared_cluster: Cluster, args: list[str], env: dict[str, str], flag: str
) -> None:
    code, out, err = deploy(shared_cluster, "m", *args, env=env)
    assert code == 2, (out, err)
    first = err.strip().splitlines()[0]
    assert first.startswith("error:") and flag in first, err
    _assert_no_secret(out + err, ACCESS_KEY, SECRET_KEY)
    assert shared_cluster.writes() == []


def _kserve_crd_files() -> list[Path]:
    upstream = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    return sorted(Path(upstream).glob("kserve/*/kserve.yaml")) if upstream else []


@pytest.mark.parametrize("crd_file", _kserve_crd_files(), ids=lambda p: p.parent.name)
def test_every_field_platformctl_sets_is_in_each_pinned_kserve_crd(crd_file: Path) -> None:
    # Both version sets (v0.16 today, v0.20 next): a field dropped or renamed upstream fails here.
    from platformctl.drivers.schema import CrdSchemas, load_crds, validate_objects
    from platformctl.plan.lock import load_lock
    from platformctl.usecases.model_spec import ModelSettings, render_isvc

    every = {
        "env": [{"name": "A", "value": "b c"}],
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"},
        "transformer_image": "ghcr.io/acme/t:1",
        "transformer_port": 8080,
        "transformer_env": [{"name": "T", "value": "1"}],
        "min_replicas": 0,
        "max_replicas": 3,
        "canary_traffic_percent": 10,
        "service_account": "m-sa",
        "node_selector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "scale_metric": "rps",
        "scale_target": 5,
        "protocol": "v2",
    }
    custom = ModelSettings(image="ghcr.io/acme/s:1", port=8080, args=["--x"], **every)  # type: ignore[arg-type]
    model = ModelSettings(format="sklearn", runtime="kserve-sklearnserver", storage_uri=S3_URI, **every)  # type: ignore[arg-type]
    objs = [render_isvc("custom", "default", custom), render_isvc("model", "default", model)]
    crds = CrdSchemas(load_crds([crd_file]), strict=True)
    assert validate_objects(objs, crds=crds, kubernetes_version=load_lock().kubernetes.version) == []


def test_dry_run_is_checked_by_the_api_server_and_fails_like_the_deploy(cluster: Cluster) -> None:
    code, _, err = deploy(cluster, "m", "--format", "sklearn", "--storage-uri", IRIS_URI, "--dry-run")
    assert code == 0 and "the API server accepted it (created)" in err
    dry = [r for r in cluster.fake.records if r.method == "PATCH"]
    assert dry and all(r.params.get("dryRun") == "All" for r in dry)  # a server-side dry run
    assert cluster.writes() == [] and cluster.fake.objects(kind=ISVC) == []
    # A namespace that does not exist: the dry run fails exactly as the deploy does (exit 2, one line).
    for extra in (["--dry-run"], []):
        code, _, err = deploy(
            cluster, "m", "--format", "sklearn", "--storage-uri", IRIS_URI, "-n", "nope", *extra
        )
        assert code == 2 and err.startswith("error: --namespace: namespace nope does not exist"), err
    assert cluster.writes() == []
