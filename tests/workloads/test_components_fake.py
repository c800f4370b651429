"""infra, conference and iris brought up through the fake API server with simulated controllers."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from platformctl.components import conference, infra, iris
from platformctl.components.base import Apply, Component, RenderContext
from platformctl.drivers.kube.engine import Engine
from platformctl.errors import NotReadyError
from tests.fakeapi import FakeApiServer
from tests.workloads.conftest import MakeCtx

TIMEOUT = 20.0


def run(component: Component, engine: Engine, ctx: RenderContext, timeout: float = TIMEOUT) -> None:
    """What ``up`` does with one component: apply and wait, step by step, in order."""
    for step in component.steps(ctx):
        if isinstance(step, Apply):
            engine.apply(step.render(ctx), component=component.name, timeout=timeout)
        else:
            step.check(engine, timeout)


# The CRDs the workloads use (the pinned upstream definitions, parsed once per session: kserve.yaml is big).
NEEDED_CRDS = {
    "services.serving.knative.dev",
    "revisions.serving.knative.dev",
    "inferenceservices.serving.kserve.io",
    "components.dapr.io",
    "subscriptions.dapr.io",
}


@pytest.fixture(scope="session")
def needed_crds(upstream_crds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    crds = [c for c in upstream_crds if c["metadata"]["name"] in NEEDED_CRDS]
    assert {c["metadata"]["name"] for c in crds} == NEEDED_CRDS
    return crds


def install_prerequisites(engine: Engine, crds: list[dict[str, Any]]) -> None:
    """What knative-serving, kserve and dapr leave behind that the workloads need: CRDs + the injector."""
    engine.apply(crds, component="test-crds", timeout=TIMEOUT)
    labels = {"app": "dapr-sidecar-injector"}
    engine.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dapr-system"}},
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "dapr-sidecar-injector", "namespace": "dapr-system"},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "injector", "image": "daprio/dapr:1.15.14"}]},
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "dapr-sidecar-injector", "namespace": "dapr-system"},
                "spec": {"selector": labels, "ports": [{"port": 443, "targetPort": 4000}]},
            },
        ],
        component="dapr",
        timeout=TIMEOUT,
    )


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    # StatefulSets take a while, so "infra ready before the app" is observable in the request log.
    with FakeApiServer(latency={"StatefulSet": 0.3, "Job": 0.2}) as server:
        yield server


@pytest.fixture
def engine(fake: FakeApiServer, needed_crds: list[dict[str, Any]]) -> Engine:
    eng = Engine.connect(str(fake.kubeconfig_path), fake.context)
    install_prerequisites(eng, needed_crds)
    return eng


def _first(requests: list[tuple[str, str]], method: set[str], fragment: str) -> int:
    return next(i for i, (m, p) in enumerate(requests) if m in method and fragment in p)


def _last(requests: list[tuple[str, str]], fragment: str) -> int:
    return max(i for i, (_, p) in enumerate(requests) if fragment in p)


def _ready_replicas(fake: FakeApiServer, kind: str, name: str) -> int:
    obj = fake.get(kind, name, "default") or {}
    return int((obj.get("status") or {}).get("readyReplicas") or 0)


def test_up_orders_infra_injector_then_knative_services(
    fake: FakeApiServer, engine: Engine, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx()
    # Only infra's objects, none of its waits: conference itself must hold the Knative Services back
    # until Redis/PostgreSQL/Kafka (slowed down by latency) and the topic Job are ready.
    for step in infra.COMPONENT.steps(ctx):
        if isinstance(step, Apply):
            engine.apply(step.render(ctx), component="infra", timeout=TIMEOUT)
        elif step.name.startswith("generate passwords"):
            step.check(engine, TIMEOUT)
    fake.reset_request_log()
    state_when_ksvcs_applied: dict[str, int] = {}
    for step in conference.COMPONENT.steps(ctx):
        if isinstance(step, Apply):
            objects = step.render(ctx)
            if any(o["apiVersion"] == "serving.knative.dev/v1" for o in objects):
                state_when_ksvcs_applied = {
                    n: _ready_replicas(fake, "StatefulSet", n) for n in ("redis", "postgresql", "kafka")
                }
                job = fake.get("Job", "kafka-create-topics", "default") or {}
                state_when_ksvcs_applied["job-succeeded"] = int(
                    (job.get("status") or {}).get("succeeded") or 0
                )
            engine.apply(objects, component="conference", timeout=TIMEOUT)
        else:
            step.check(engine, TIMEOUT)
    run(iris.COMPONENT, engine, ctx)
    assert state_when_ksvcs_applied == {"redis": 1, "postgresql": 1, "kafka": 1, "job-succeeded": 1}

    reqs = list(fake.requests)
    first_ksvc_write = _first(
        reqs, {"PATCH", "POST", "PUT"}, "/apis/serving.knative.dev/v1/namespaces/default/services"
    )
    # The readiness checks (StatefulSets, topic Job, the injector and its endpoints) all came first.
    assert _last(reqs, "/statefulsets") < first_ksvc_write
    assert _last(reqs, "/jobs") < first_ksvc_write
    assert _last(reqs, "/namespaces/dapr-system/endpointslices") < first_ksvc_write
    assert _last(reqs, "/namespaces/dapr-system/deployments") < first_ksvc_write

    ksvcs = {
        o["metadata"]["name"]: o
        for o in fake.objects("Service", "default")
        if o["apiVersion"] == "serving.knative.dev/v1"
    }
    assert set(ksvcs) == {"frontend", "agenda-service", "c4p-service", "notifications-service"}
    # Ownership labels from the engine, so status/prune/down find them.
    assert ksvcs["frontend"]["metadata"]["labels"]["platformctl.io/component"] == "conference"

    health = conference.COMPONENT.health(engine, ctx)
    assert health.healthy, health.reason
    assert dict(health.urls)["frontend"] == "http://frontend.default.127.0.0.1.sslip.io"
    ihealth = iris.COMPONENT.health(engine, ctx)
    assert (
        ihealth.healthy
        and dict(ihealth.urls)["sklearn-iris"] == "http://sklearn-iris.default.127.0.0.1.sslip.io"
    )
    assert infra.COMPONENT.health(engine, ctx).healthy


def test_rerun_keeps_generated_secrets(fake: FakeApiServer, engine: Engine, make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    run(infra.COMPONENT, engine, ctx)

    def data(name: str) -> dict[str, str]:
        secret = fake.get("Secret", name, "default")
        assert secret is not None, f"Secret {name} missing"
        return dict(secret["data"])

    first = {n: data(n) for n in ("redis", "postgresql")}
    for name, key in (("redis", "redis-password"), ("postgresql", "postgres-password")):
        secret = {"data": first[name]}
        value = base64.b64decode(secret["data"][key])
        assert len(value) == 32  # secrets.token_urlsafe(24)
    assert first["redis"]["redis-password"] != first["postgresql"]["postgres-password"]

    run(infra.COMPONENT, engine, ctx)
    assert {n: data(n) for n in ("redis", "postgresql")} == first  # same bytes

    # A Secret deleted by hand is regenerated (not left missing), with a new value.
    assert engine.delete("v1", "Secret", "redis", "default")
    run(infra.COMPONENT, engine, ctx)
    assert data("redis") != first["redis"]


def test_inference_service_never_ready_reports_revision(
    fake: FakeApiServer, engine: Engine, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx(timeouts={"model": 2})
    fake.never_ready(
        kind="InferenceService",
        namespace="default",
        name="sklearn-iris",
        reason="RevisionMissing",
        message="Revision sklearn-iris-predictor-00001 failed: model download failed",
    )
    with pytest.raises(NotReadyError) as info:
        run(iris.COMPONENT, engine, ctx, timeout=60)
    err = info.value
    assert "InferenceService default/sklearn-iris is not Ready after 2s" in err.message
    assert "sklearn-iris-predictor-00001" in err.message
    assert any("RevisionMissing" in d and "model download failed" in d for d in err.details)
    health = iris.COMPONENT.health(engine, ctx)
    assert not health.healthy and "RevisionMissing" in health.reason


def test_knative_service_never_ready_names_the_revision(
    fake: FakeApiServer, engine: Engine, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx()
    run(infra.COMPONENT, engine, ctx)
    fake.never_ready(
        kind="Service",
        namespace="default",
        name="frontend",
        reason="ContainerMissing",
        message="image not found",
    )
    with pytest.raises(NotReadyError) as info:
        for step in conference.COMPONENT.steps(ctx):
            if isinstance(step, Apply):
                engine.apply(step.render(ctx), component="conference", timeout=TIMEOUT)
            else:
                step.check(engine, 2.0 if step.name == "knative services ready" else TIMEOUT)
    err = info.value
    assert err.message.startswith("Knative Service default/frontend is not Ready")
    assert "frontend-00001" in " ".join([err.message, *err.details])
    assert any("ContainerMissing" in d and "image not found" in d for d in err.details)


def test_no_sidecar_requests_before_the_injector_is_ready(
    fake: FakeApiServer, engine: Engine, make_ctx: MakeCtx
) -> None:
    ctx = make_ctx()
    run(infra.COMPONENT, engine, ctx)
    fake.never_ready(
        kind="Deployment", namespace="dapr-system", name="dapr-sidecar-injector", reason="CrashLoopBackOff"
    )
    with pytest.raises(NotReadyError, match="dapr-sidecar-injector"):
        run(conference.COMPONENT, engine, ctx, timeout=2.0)
    assert not [o for o in fake.objects("Service", "default") if o["apiVersion"] == "serving.knative.dev/v1"]


def test_custom_namespace_is_created_and_used(fake: FakeApiServer, engine: Engine, make_ctx: MakeCtx) -> None:
    ctx = make_ctx({"namespace": "apps", "model_namespace": "models"})
    for comp in (infra.COMPONENT, conference.COMPONENT, iris.COMPONENT):
        run(comp, engine, ctx)
    names = {o["metadata"]["name"] for o in fake.objects("Namespace")}
    assert {"apps", "models"} <= names
    assert fake.get("Secret", "redis", "apps") is not None
    isvc: Any = fake.get("InferenceService", "sklearn-iris", "models")
    assert isvc is not None and isvc["status"]["url"] == "http://sklearn-iris.models.127.0.0.1.sslip.io"
