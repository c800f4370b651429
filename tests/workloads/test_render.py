"""Rendering of infra/conference/iris: golden files, determinism, the conference app and iris facts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.components import conference, infra, iris
from platformctl.components.workloads import APP_IMAGES, FLAGD_IMAGE, INFRA_IMAGES
from tests.workloads.conftest import MakeCtx, rendered

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
COMPONENTS = (infra.COMPONENT, conference.COMPONENT, iris.COMPONENT)

CASES: dict[str, dict[str, Any]] = {
    "workloads-default": {},
    "workloads-custom": {"namespace": "apps", "model_namespace": "models", "persistence": True},
}


def render_all(make_ctx: MakeCtx, workloads: dict[str, Any]) -> list[dict[str, Any]]:
    ctx = make_ctx(workloads)
    return [obj for c in COMPONENTS for obj in rendered(c, ctx)]


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(make_ctx: MakeCtx, case: str) -> None:
    text = yaml.safe_dump_all(render_all(make_ctx, CASES[case]), sort_keys=False)
    path = GOLDEN / f"{case}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} differs: UPDATE_GOLDEN=1 after review"


def test_render_is_deterministic_and_has_no_secrets(make_ctx: MakeCtx) -> None:
    first = render_all(make_ctx, {})
    second = render_all(make_ctx, {})
    assert first == second
    # Secret values are generated at install time only; render never shows (or invents) them.
    assert not [o for o in first if o["kind"] == "Secret"]
    # Passwords are only ever referenced (secretKeyRef), never inlined.
    for obj in first:
        for env in _all_env(obj):
            if "PASSWORD" in env["name"]:
                assert "value" not in env and "secretKeyRef" in env["valueFrom"], env


def _all_env(obj: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "env" and isinstance(value, list):
                found.extend(value)
            else:
                found.extend(_all_env(value))
    elif isinstance(obj, list):
        for item in obj:
            found.extend(_all_env(item))
    return found


def test_knative_services(make_ctx: MakeCtx) -> None:
    ksvcs = by_kind(render_all(make_ctx, {}), "Service")
    names = ["frontend", "agenda-service", "c4p-service", "notifications-service"]
    for name in names:
        svc = ksvcs[name]
        assert svc["apiVersion"] == "serving.knative.dev/v1"
        tmpl = svc["spec"]["template"]
        ann = tmpl["metadata"]["annotations"]
        assert ann["dapr.io/enabled"] == "true"
        assert ann["dapr.io/app-id"] == name
        assert ann["dapr.io/app-port"] == "8080"
        assert ann["dapr.io/metrics-port"] == "9092"
        assert ann["autoscaling.knative.dev/min-scale"] == ("0" if name == "c4p-service" else "1")
        (container,) = tmpl["spec"]["containers"]
        assert container["image"] == APP_IMAGES[name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveness"
        field_refs = {
            e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
            for e in container["env"]
            if "valueFrom" in e and "fieldRef" in e["valueFrom"]
        }
        assert field_refs == {
            "POD_NODENAME": "spec.nodeName",
            "POD_NAME": "metadata.name",
            "POD_NAMESPACE": "metadata.namespace",
            "POD_IP": "status.podIP",
            "POD_SERVICE_ACCOUNT": "spec.serviceAccountName",
        }
    env = {e["name"]: e for e in ksvcs["frontend"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AGENDA_SERVICE_URL"]["value"] == "http://agenda-service.default.svc.cluster.local"
    assert env["FLAGD_HOST"]["value"] == "flagd.default.svc.cluster.local"
    assert env["PUBSUB_NAME"]["value"] == "conference-pubsub"
    c4p = {e["name"]: e for e in ksvcs["c4p-service"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert c4p["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "postgresql",
        "key": "postgres-password",
    }
    assert c4p["POSTGRES_HOST"]["value"] == "postgresql.default.svc.cluster.local"
    agenda = {
        e["name"]: e for e in ksvcs["agenda-service"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert agenda["STATESTORE_NAME"]["value"] == "agenda-service-statestore"


def test_dapr_components_and_subscription(make_ctx: MakeCtx) -> None:
    objs = render_all(make_ctx, {"namespace": "apps"})
    comps = by_kind(objs, "Component")
    state = comps["agenda-service-statestore"]
    assert state["spec"]["type"] == "state.redis"
    meta = {m["name"]: m for m in state["spec"]["metadata"]}
    assert meta["redisHost"]["value"] == "redis.apps.svc.cluster.local:6379"
    assert meta["redisPassword"]["secretKeyRef"] == {"name": "redis", "key": "redis-password"}
    pubsub = comps["conference-pubsub"]
    assert pubsub["spec"]["type"] == "pubsub.kafka"
    pmeta = {m["name"]: m["value"] for m in pubsub["spec"]["metadata"]}
    assert pmeta == {"brokers": "kafka.apps.svc.cluster.local:9092", "authType": "none"}
    (sub,) = by_kind(objs, "Subscription").values()
    assert sub["apiVersion"] == "dapr.io/v2alpha1"
    assert sub["spec"] == {
        "topic": "events-topic",
        "routes": {"default": "/api/new-events/"},
        "pubsubname": "conference-pubsub",
    }
    assert sub["scopes"] == ["frontend"]


def test_flagd(make_ctx: MakeCtx) -> None:
    objs = render_all(make_ctx, {})
    dep = by_kind(objs, "Deployment")["flagd"]
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["image"] == FLAGD_IMAGE == "ghcr.io/open-feature/flagd:v0.5.3"
    assert container["ports"][0]["containerPort"] == 8013
    cm = by_kind(objs, "ConfigMap")["flag-configuration"]
    import json

    flags = json.loads(cm["data"]["flag-config.json"])["flags"]
    assert set(flags) == {"debugEnabled", "callForProposalsEnabled", "eventsEnabled"}
    assert flags["callForProposalsEnabled"]["defaultVariant"] == "on"


def test_infra(make_ctx: MakeCtx) -> None:
    objs = render_all(make_ctx, {})
    sts = by_kind(objs, "StatefulSet")
    assert set(sts) == {"redis", "postgresql", "kafka"}
    images = {n: s["spec"]["template"]["spec"]["containers"][0]["image"] for n, s in sts.items()}
    assert images == {
        "redis": INFRA_IMAGES["redis"],
        "postgresql": INFRA_IMAGES["postgres"],
        "kafka": INFRA_IMAGES["kafka"],
    }
    for s in sts.values():
        assert "readinessProbe" in s["spec"]["template"]["spec"]["containers"][0]
        assert "volumeClaimTemplates" not in s["spec"]  # PVC-free by default
    init = by_kind(objs, "ConfigMap")["c4p-init-sql"]["data"]["init.sql"]
    assert "CREATE TABLE proposals(" in init and "status VARCHAR NOT NULL" in init
    pg = sts["postgresql"]["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in pg["containers"][0]["volumeMounts"]}
    assert mounts["/docker-entrypoint-initdb.d"] == "init-sql"
    kafka_env = {
        e["name"]: e["value"] for e in sts["kafka"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka_env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka.default.svc.cluster.local:9092"
    job = by_kind(objs, "Job")["kafka-create-topics"]
    assert "events-topic" in job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert set(by_kind(objs, "Service")) >= {"redis", "postgresql", "kafka", "flagd"}
    assert not by_kind(objs, "Namespace")  # "default" is never created (or pruned) by us


def test_persistence_option_adds_pvcs(make_ctx: MakeCtx) -> None:
    objs = render_all(make_ctx, {"persistence": True, "namespace": "apps"})
    for s in by_kind(objs, "StatefulSet").values():
        (claim,) = s["spec"]["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        volumes = {v["name"] for v in s["spec"]["template"]["spec"].get("volumes", [])}
        assert "data" not in volumes
    assert set(by_kind(objs, "Namespace")) == {"apps"}


def test_iris(make_ctx: MakeCtx) -> None:
    objs = render_all(make_ctx, {"model_namespace": "models"})
    isvc = by_kind(objs, "InferenceService")["sklearn-iris"]
    assert isvc["metadata"]["namespace"] == "models"
    model = isvc["spec"]["predictor"]["model"]
    assert model == {
        "modelFormat": {"name": "sklearn"},
        "protocolVersion": "v2",
        "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model",
    }
    assert "models" in by_kind(objs, "Namespace")


def test_namespace_flows_everywhere(make_ctx: MakeCtx) -> None:
    objs = render_all(make_ctx, {"namespace": "apps", "model_namespace": "apps"})
    namespaced = [o for o in objs if o["kind"] != "Namespace"]
    assert {o["metadata"]["namespace"] for o in namespaced} == {"apps"}
    text = yaml.safe_dump_all(namespaced)
    assert ".default." not in text and "namespace: default" not in text
    # iris shares infra's namespace: only infra creates it.
    assert [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"] == ["apps"]


def test_every_service_finds_flagd_outside_default(make_ctx: MakeCtx) -> None:
    """agenda, c4p and notifications read FLAGD_HOST too (default flagd.default...): all four get it."""
    objs = render_all(make_ctx, {"namespace": "apps"})
    ksvcs = by_kind(objs, "Service")
    for name in conference.SERVICES:
        env = {
            e["name"]: e.get("value") for e in ksvcs[name]["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env.get("FLAGD_HOST") == "flagd.apps.svc.cluster.local", name
