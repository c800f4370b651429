"""Strict offline validation of the rendered workloads against Kubernetes 1.32 and the pinned CRDs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from platformctl.components import conference, infra, iris
from platformctl.drivers.schema import CrdSchemas, strict_schema, validate_objects
from platformctl.plan.lock import VersionLock
from tests.workloads.conftest import MakeCtx, rendered


@pytest.fixture(scope="module")
def schemas(upstream_crds: list[dict[str, Any]]) -> CrdSchemas:
    return CrdSchemas(upstream_crds, strict=True)


def _all(make_ctx: MakeCtx, workloads: dict[str, Any]) -> list[dict[str, Any]]:
    ctx = make_ctx(workloads)
    return [o for c in (infra.COMPONENT, conference.COMPONENT, iris.COMPONENT) for o in rendered(c, ctx)]


def _one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name))


@pytest.mark.parametrize(
    "workloads", [{}, {"namespace": "apps", "model_namespace": "models", "persistence": True}]
)
def test_rendered_workloads_validate_strictly(
    make_ctx: MakeCtx, schemas: CrdSchemas, lock: VersionLock, workloads: dict[str, Any]
) -> None:
    objs = _all(make_ctx, workloads)
    kinds = {o["kind"] for o in objs}
    assert {"Service", "StatefulSet", "Job", "Component", "Subscription", "InferenceService"} <= kinds
    assert validate_objects(objs, crds=schemas, kubernetes_version=lock.kubernetes.version) == []


def test_kubernetes_validate_has_the_pinned_minor(lock: VersionLock) -> None:
    import kubernetes_validate.utils as kv

    minor = ".".join(lock.kubernetes.version.lstrip("v").split(".")[:2])
    assert minor in {".".join(v.split(".")[:2]) for v in kv.all_versions()}


def test_unknown_field_in_knative_service_is_rejected(
    make_ctx: MakeCtx, schemas: CrdSchemas, lock: VersionLock
) -> None:
    ksvc = _one(_all(make_ctx, {}), "Service", "frontend")
    assert ksvc["apiVersion"] == "serving.knative.dev/v1"
    ksvc["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"  # typo
    errors = validate_objects([ksvc], crds=schemas, kubernetes_version=lock.kubernetes.version)
    assert len(errors) == 1 and "imagePulPolicy" in errors[0] and "Service default/frontend" in errors[0]


def test_wrong_type_in_knative_service_is_rejected(
    make_ctx: MakeCtx, schemas: CrdSchemas, lock: VersionLock
) -> None:
    ksvc = _one(_all(make_ctx, {}), "Service", "frontend")
    ksvc["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8080"
    errors = validate_objects([ksvc], crds=schemas, kubernetes_version=lock.kubernetes.version)
    assert errors and "containerPort" in errors[0] and "not of type 'integer'" in errors[0]


def test_unknown_field_in_inference_service_is_rejected(
    make_ctx: MakeCtx, schemas: CrdSchemas, lock: VersionLock
) -> None:
    isvc = _one(_all(make_ctx, {}), "InferenceService", "sklearn-iris")
    isvc["spec"]["predictor"]["model"]["protocol"] = "v2"  # the field is protocolVersion
    errors = validate_objects([isvc], crds=schemas, kubernetes_version=lock.kubernetes.version)
    assert errors and "protocol" in errors[0]


def test_dapr_component_and_subscription_checks(
    make_ctx: MakeCtx, schemas: CrdSchemas, lock: VersionLock
) -> None:
    objs = _all(make_ctx, {})
    comp = _one(objs, "Component", "conference-pubsub")
    comp["spec"]["metadata"][0]["valu"] = "x"
    sub = _one(objs, "Subscription", "frontend-subscription")
    del sub["spec"]["routes"]
    sub["spec"]["route"] = "/api/new-events/"  # v1alpha1 shape under the v2alpha1 apiVersion
    errors = validate_objects([comp, sub], crds=schemas, kubernetes_version=lock.kubernetes.version)
    assert any("Component default/conference-pubsub" in e and "valu" in e for e in errors)
    assert any("Subscription" in e and "'routes' is a required property" in e for e in errors)
    assert any("Subscription" in e and "route" in e and "Additional properties" in e for e in errors)


def test_preserve_unknown_fields_is_respected(
    make_ctx: MakeCtx, schemas: CrdSchemas, lock: VersionLock
) -> None:
    comp = _one(_all(make_ctx, {}), "Component", "conference-pubsub")
    comp["spec"]["metadata"][0]["value"] = {"any": ["shape", 1]}  # x-kubernetes-preserve-unknown-fields
    assert validate_objects([comp], crds=schemas, kubernetes_version=lock.kubernetes.version) == []


def test_core_kinds_are_strict(make_ctx: MakeCtx, schemas: CrdSchemas, lock: VersionLock) -> None:
    objs = _all(make_ctx, {})
    sts = _one(objs, "StatefulSet", "redis")
    sts["spec"]["replica"] = 1
    errors = validate_objects([sts], crds=schemas, kubernetes_version=lock.kubernetes.version)
    assert errors and "StatefulSet default/redis" in errors[0] and "replica" in errors[0]
    sts = _one(objs, "StatefulSet", "redis")
    sts["spec"]["replicas"] = "one"
    assert validate_objects([sts], crds=schemas, kubernetes_version=lock.kubernetes.version)


def test_custom_resource_metadata_and_unknown_kinds(schemas: CrdSchemas, lock: VersionLock) -> None:
    bad_meta = {
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "x", "labels": {"a": 1}, "nmespace": "y"},
        "spec": {"type": "state.redis", "version": "v1", "metadata": []},
    }
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    errors = validate_objects([bad_meta, unknown], crds=schemas, kubernetes_version=lock.kubernetes.version)
    assert any("metadata.nmespace: unknown field" in e for e in errors)
    assert any("metadata.labels" in e for e in errors)
    assert any("Widget w" in e and "no schema" in e for e in errors)


def test_strict_schema_injects_only_where_fields_are_listed() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}},
            "m": {"type": "object", "additionalProperties": {"type": "string"}},
            "p": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"c": {}}},
        },
    }
    out = strict_schema(schema)
    assert out["additionalProperties"] is False
    assert out["properties"]["a"]["additionalProperties"] is False
    assert out["properties"]["m"]["additionalProperties"] == {"type": "string"}
    assert "additionalProperties" not in out["properties"]["p"]
    assert "additionalProperties" not in schema  # the CRD's own schema is untouched


def test_platformctl_render_output_validates(
    tmp_path: Path, schemas: CrdSchemas, lock: VersionLock, workloads_upstream: Path
) -> None:
    """The files `platformctl render` writes (ownership labels included) pass strict validation."""
    import yaml

    from platformctl.plan.spec import PlatformSpec
    from platformctl.usecases.render import SourceOptions, render

    spec = PlatformSpec.model_validate({"workloads": {"namespace": "apps", "persistence": True}})
    result = render(
        spec,
        only=("infra", "conference", "iris"),
        sources=SourceOptions(manifests_dir=workloads_upstream, allow_download=False),
        out_dir=tmp_path,
        lock=lock,
    )
    assert [c.name for c in result.components] == ["infra", "conference", "iris"]
    objs = [d for p in sorted(tmp_path.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    assert len(objs) == sum(len(c.objects) for c in result.components) >= 20
    assert validate_objects(objs, crds=schemas, kubernetes_version=lock.kubernetes.version) == []


def test_crds_through_the_source_resolver(
    workloads_upstream: Path, lock: VersionLock, tmp_path: Path
) -> None:
    """The same CRDs come through SourceResolver (sha256-verified bundle), e.g. for `render --validate`."""
    from platformctl.drivers.schema import crds_from_sources
    from platformctl.drivers.sources import SourceResolver

    resolver = SourceResolver(
        lock, manifests_dir=workloads_upstream, cache_dir=tmp_path, allow_download=False
    )
    names = {c["metadata"]["name"] for c in crds_from_sources(lock, resolver)}
    assert {
        "services.serving.knative.dev",
        "inferenceservices.serving.kserve.io",
        "subscriptions.dapr.io",
    } <= names
