"""apply.py pure logic: ordering, preparation (labels, caBundle), generateName hashing, conflicts."""

from __future__ import annotations

from typing import Any

from platformctl.drivers.kube.apply import comparable, conflict_error, ordered, prepare, spec_hash
from platformctl.drivers.kube.labels import COMPONENT_KEY, MANAGED_BY, MANAGED_BY_KEY, SPEC_HASH_KEY, selector
from platformctl.drivers.kube.retry import api_error_from_response


def obj(kind: str, name: str, api_version: str = "v1", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **extra}


def test_namespaces_then_crds_then_rest_with_webhooks_last() -> None:
    docs = [
        obj("ValidatingWebhookConfiguration", "vw", "admissionregistration.k8s.io/v1"),
        obj("InferenceService", "isvc", "serving.kserve.io/v1beta1"),
        obj("Deployment", "d", "apps/v1"),
        obj("CustomResourceDefinition", "crd", "apiextensions.k8s.io/v1"),
        obj("ConfigMap", "cm"),
        obj("Namespace", "ns"),
        obj("ServiceAccount", "sa"),
        obj("ClusterServingRuntime", "rt", "serving.kserve.io/v1alpha1"),
    ]
    kinds = [d["kind"] for d in ordered(docs)]
    assert kinds == [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "InferenceService",
        "ClusterServingRuntime",  # custom resources keep their file order
        "ValidatingWebhookConfiguration",
    ]


def test_prepare_adds_labels_without_mutating_input() -> None:
    source = obj("ConfigMap", "cm", metadata={"name": "cm", "labels": {"app": "x"}, "resourceVersion": "7"})
    out = prepare(source, "kserve")
    assert out["metadata"]["labels"] == {"app": "x", MANAGED_BY_KEY: MANAGED_BY, COMPONENT_KEY: "kserve"}
    assert "resourceVersion" not in out["metadata"]
    assert source["metadata"]["labels"] == {"app": "x"} and source["metadata"]["resourceVersion"] == "7"
    assert selector("kserve") == f"{MANAGED_BY_KEY}={MANAGED_BY},{COMPONENT_KEY}=kserve"


def test_empty_ca_bundles_are_stripped_but_real_ones_kept() -> None:
    hook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "istio-sidecar-injector"},
        "webhooks": [
            {"name": "a", "clientConfig": {"caBundle": "", "service": {"name": "istiod"}}},
            {"name": "b", "clientConfig": {"caBundle": "LS0tLS1CRUdJTg=="}},
        ],
    }
    out = prepare(hook, "istio")
    assert "caBundle" not in out["webhooks"][0]["clientConfig"]
    assert out["webhooks"][1]["clientConfig"]["caBundle"] == "LS0tLS1CRUdJTg=="
    crd = obj(
        "CustomResourceDefinition",
        "x.example.com",
        "apiextensions.k8s.io/v1",
        spec={"conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {"caBundle": ""}}}},
    )
    assert "caBundle" not in prepare(crd, "c")["spec"]["conversion"]["webhook"]["clientConfig"]
    svc = obj("APIService", "v1beta1.metrics.k8s.io", "apiregistration.k8s.io/v1", spec={"caBundle": None})
    assert "caBundle" not in prepare(svc, "c")["spec"]


def test_status_is_never_applied() -> None:
    assert "status" not in prepare(obj("Deployment", "d", "apps/v1", status={"replicas": 1}), "c")


def test_spec_hash_is_stable_and_content_sensitive() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"generateName": "cleanup-serving-"},
        "spec": {"a": 1},
    }
    h = spec_hash(job)
    with_ann = {**job, "metadata": {"generateName": "cleanup-serving-", "annotations": {SPEC_HASH_KEY: h}}}
    assert spec_hash(with_ann) == spec_hash(
        {**job, "metadata": {"generateName": "cleanup-serving-", "annotations": {}}}
    )
    assert spec_hash({**job, "spec": {"a": 2}}) != h


def test_comparable_ignores_volatile_metadata() -> None:
    a = {"metadata": {"name": "x", "resourceVersion": "1", "managedFields": [1]}, "data": {"k": "v"}}
    b = {"metadata": {"name": "x", "resourceVersion": "2", "managedFields": [2]}, "data": {"k": "v"}}
    assert comparable(a) == comparable(b)
    assert comparable(a) != comparable({**b, "data": {"k": "w"}})


def test_conflict_error_names_manager_and_field() -> None:
    body = (
        '{"kind":"Status","status":"Failure","reason":"Conflict","code":409,'
        '"message":"Apply failed with 1 conflict: conflict with \\"helm\\" using apps/v1: .spec.replicas",'
        '"details":{"causes":[{"reason":"FieldManagerConflict",'
        '"message":"conflict with \\"helm\\" using apps/v1","field":".spec.replicas"}]}}'
    )
    err = conflict_error(api_error_from_response(409, "Conflict", body, {}, "PATCH"), "apply Deployment a/b")
    assert 'field .spec.replicas is managed by "helm"' in err.message
    assert "--force-conflicts" in err.message
    no_causes = body.split(',"details"')[0] + "}"
    err2 = conflict_error(api_error_from_response(409, "Conflict", no_causes, {}, "PATCH"), "apply x")
    assert '.spec.replicas is managed by "helm"' in err2.message
