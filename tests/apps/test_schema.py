"""deploy-app --dry-run output, for every option combination, validates strictly against the pinned
Knative Service CRD and Dapr Component/Subscription CRDs of EVERY version set in the upstream dir."""

from __future__ import annotations

import copy
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.components.workloads import PLATFORM_BLOCKS, building_block
from platformctl.drivers.kube.engine import Engine
from platformctl.drivers.schema import CrdSchemas, load_crds, validate_objects
from platformctl.plan.lock import load_lock
from tests.apps.conftest import IMAGE_V1, pinned_crds
from tests.fakeapi import FakeApiServer
from tests.support.cli_main import run_main

K8S = load_lock().kubernetes.version


def _upstream() -> Path:
    value = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not value:
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    return Path(value)


@pytest.fixture(scope="module")
def version_sets() -> dict[str, CrdSchemas]:
    """Knative serving-crds.yaml × Dapr crds/ of each pinned version set, strict."""
    up = _upstream()
    knative = sorted((up / "knative").glob("*/serving-crds.yaml"))
    dapr = sorted((up / "dapr").glob("*/crds"))
    assert len(knative) >= 2 and len(dapr) >= 2, "expected both version sets in the upstream dir"
    out: dict[str, CrdSchemas] = {}
    for k, d in zip(knative, dapr, strict=False):
        crds = load_crds([k, d / "components.yaml", d / "subscription.yaml"])
        out[f"knative-{k.parent.name}+dapr-{d.parent.name}"] = CrdSchemas(crds, strict=True)
    return out


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[str]]:
    with FakeApiServer() as fake:
        engine = Engine.connect(str(fake.kubeconfig_path), fake.context)
        engine.apply(copy.deepcopy(pinned_crds(_upstream())), component="crds")
        engine.apply(
            [building_block(n, t, "default") for n, t in PLATFORM_BLOCKS.items()], component="conference"
        )
        yield ["--kubeconfig", str(fake.kubeconfig_path), "--context", fake.context]


OPTION_GROUPS: list[list[list[str]]] = [
    [[], ["--port", "9000"]],
    [[], ["--env", "GREETING=hello world", "--env", "EMPTY="], ["--env-from-secret", "app-secrets"]],
    [[], ["--min-scale", "2", "--max-scale", "5"], ["--max-scale", "1"]],
    [[], ["--concurrency", "10"], ["--concurrency", "0"]],
    [[], ["--cpu", "250m", "--memory", "128Mi"], ["--memory", "1Gi"]],
    [
        ["--no-dapr"],
        [],
        ["--statestore", "statestore", "--pubsub", "pubsub", "--subscribe", "orders=/orders"],
    ],
    [[], ["--component", "state.redis:cart", "--component", "pubsub.kafka:bus", "--subscribe", "a.b_c=/x/y"]],
    [[], ["--tag", "next"]],
]


def _combinations() -> list[list[str]]:
    """A covering set: each option of each group appears, and a full cross product of two groups."""
    combos: list[list[str]] = []
    for group in OPTION_GROUPS:
        for choice in group:
            combos.append(choice)
    for a, b in itertools.product(OPTION_GROUPS[5], OPTION_GROUPS[6]):
        if "--no-dapr" in a and b:
            continue
        combos.append(a + b)
    combos.append([c for group in OPTION_GROUPS for c in group[-1] if c != "--no-dapr"])
    return combos


def _dry_run(cluster: list[str], *args: str) -> list[dict[str, Any]]:
    ran = run_main([*cluster, "deploy-app", "hello", "--image", IMAGE_V1, *args, "--dry-run"])
    assert ran.exit_code == 0, ran.output
    return [d for d in yaml.safe_load_all(ran.stdout) if d]


@pytest.mark.parametrize("args", _combinations(), ids=lambda a: " ".join(a) or "defaults")
def test_dry_run_validates_strictly(
    cluster: list[str], version_sets: dict[str, CrdSchemas], args: list[str]
) -> None:
    docs = _dry_run(cluster, *args)
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Service" and set(kinds) <= {"Service", "Component", "Subscription"}
    for name, schemas in version_sets.items():
        # core kinds (none expected today) go to kubernetes-validate for the pinned minor
        assert validate_objects(docs, crds=schemas, kubernetes_version=K8S) == [], name


# RevisionSpec fields that are Knative's, not the PodSpec's (the pinned CRD's template.spec properties).
KNATIVE_ONLY = ("containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds")


def as_pod(ksvc: dict[str, Any]) -> dict[str, Any]:
    """The revision template as the Pod Knative will run, for the core (kubernetes-validate) schema."""
    template = copy.deepcopy(ksvc["spec"]["template"])
    spec = {k: v for k, v in template["spec"].items() if k not in KNATIVE_ONLY}
    meta = {
        "name": ksvc["metadata"]["name"],
        "namespace": ksvc["metadata"]["namespace"],
        **template["metadata"],
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@pytest.mark.parametrize("args", _combinations(), ids=lambda a: " ".join(a) or "defaults")
def test_revision_template_is_a_valid_core_pod(cluster: list[str], args: list[str]) -> None:
    ksvc = _dry_run(cluster, *args)[0]
    schemas = CrdSchemas([], strict=True)
    assert validate_objects([as_pod(ksvc)], crds=schemas, kubernetes_version=K8S) == []


def test_core_schema_catches_a_bad_container(cluster: list[str]) -> None:
    pod = as_pod(_dry_run(cluster)[0])
    pod["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    assert validate_objects([pod], crds=CrdSchemas([], strict=True), kubernetes_version=K8S)


def test_a_typo_fails_validation(cluster: list[str], version_sets: dict[str, CrdSchemas]) -> None:
    (ksvc,) = _dry_run(cluster, "--cpu", "1")
    ksvc["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    ksvc["spec"]["traffic"][0]["percentage"] = 5
    for name, schemas in version_sets.items():
        errors = validate_objects([ksvc], crds=schemas, kubernetes_version=K8S)
        assert any("imagePulPolicy" in e for e in errors), (name, errors)
        assert any("percentage" in e for e in errors), (name, errors)


def test_rendered_fields(cluster: list[str]) -> None:
    (ksvc,) = _dry_run(
        cluster,
        "--port",
        "9000",
        "--env",
        "GREETING=hello world",
        "--env-from-secret",
        "app-secrets",
        "--min-scale",
        "1",
        "--max-scale",
        "3",
        "--concurrency",
        "10",
        "--cpu",
        "250m",
        "--memory",
        "128Mi",
        "--no-dapr",
        "--tag",
        "next",
    )
    tmpl = ksvc["spec"]["template"]
    assert tmpl["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "1"
    assert tmpl["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"] == "3"
    assert not any(k.startswith("dapr.io/") for k in tmpl["metadata"]["annotations"])
    spec = tmpl["spec"]
    assert spec["containerConcurrency"] == 10
    (c,) = spec["containers"]
    assert c["ports"] == [{"containerPort": 9000}]
    assert c["env"] == [{"name": "GREETING", "value": "hello world"}]
    assert c["envFrom"] == [{"secretRef": {"name": "app-secrets"}}]
    assert c["resources"] == {
        "requests": {"cpu": "250m", "memory": "128Mi"},
        "limits": {"cpu": "250m", "memory": "128Mi"},
    }
    assert ksvc["spec"]["traffic"] == [{"percent": 100, "latestRevision": True, "tag": "next"}]
