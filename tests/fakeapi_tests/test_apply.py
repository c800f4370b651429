"""Server-side apply through the DynamicClient: create, merge, conflicts, force, no-op, dry-run."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.fakeapi import FakeApiServer
from tests.fakeapi_tests.kube import core, deployment, dynamic, status_of


def _cm(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default"},
        "data": data,
    }


class Applier:
    def __init__(self, fake: FakeApiServer, api_version: str = "v1", kind: str = "ConfigMap") -> None:
        self.res = dynamic(fake).resources.get(api_version=api_version, kind=kind)

    def __call__(self, body: dict[str, Any], manager: str = "platformctl", **kw: Any) -> dict[str, Any]:
        out: dict[str, Any] = self.res.server_side_apply(
            body=body, field_manager=manager, namespace=body["metadata"].get("namespace"), **kw
        ).to_dict()
        return out


def _managers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["manager"]: m for m in obj["metadata"]["managedFields"]}


def test_apply_creates_and_records_fields(fake_api: FakeApiServer) -> None:
    obj = Applier(fake_api)(_cm(a="1"))
    entry = _managers(obj)["platformctl"]
    assert entry["operation"] == "Apply" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}
    assert core(fake_api).read_namespaced_config_map("c", "default").data == {"a": "1"}


def test_noop_apply_keeps_resource_version(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api)
    first = apply(_cm(a="1"))
    rv = fake_api.resource_version
    again = apply(_cm(a="1"))
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert fake_api.resource_version == rv
    changed = apply(_cm(a="2"))
    assert int(changed["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


def test_noop_apply_of_workload_after_controller_status_update(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api, "apps/v1", "Deployment")
    apply(deployment("web"))
    assert fake_api.wait_idle()
    rv = fake_api.resource_version
    assert apply(deployment("web"))["metadata"]["resourceVersion"] == str(
        fake_api.get("Deployment", "web", "default")["metadata"]["resourceVersion"]  # type: ignore[index]
    )
    assert fake_api.resource_version == rv


def test_two_managers_merge_and_conflict(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api)
    apply(_cm(a="1"), manager="alice")
    merged = apply(_cm(b="2"), manager="bob")
    assert merged["data"] == {"a": "1", "b": "2"}
    # same value: shared ownership, no conflict
    apply(_cm(a="1", b="2"), manager="bob")
    with pytest.raises(ApiException) as info:
        apply(_cm(a="changed"), manager="bob")
    body = status_of(info.value)
    assert (info.value.status, body["reason"]) == (409, "Conflict")
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.a'
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "alice"', "field": ".data.a"}
    ]
    forced = apply(_cm(a="changed"), manager="bob", force_conflicts=True)
    assert forced["data"]["a"] == "changed"
    assert "alice" not in _managers(forced)  # lost its only field: the entry goes


def test_omitted_fields_are_removed_unless_owned_by_another(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api)
    apply(_cm(a="1", b="2", c="3"))
    apply(_cm(c="3"), manager="other")
    out = apply(_cm(a="1"))
    assert out["data"] == {"a": "1", "c": "3"}
    assert _managers(out)["platformctl"]["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_update_manager_conflict_names_version_and_keeps_controller_value(fake_api: FakeApiServer) -> None:
    """A controller that patched a field (caBundle) owns it: re-applying without it keeps its value."""
    hook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "hook"},
        "webhooks": [
            {
                "name": "w.example.com",
                "clientConfig": {"service": {"name": "s", "namespace": "n"}},
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
            }
        ],
    }
    apply = Applier(fake_api, "admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
    apply(hook)
    res = dynamic(fake_api).resources.get(
        api_version="admissionregistration.k8s.io/v1", kind="MutatingWebhookConfiguration"
    )
    res.patch(
        name="hook",
        body=[{"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": "Q0E="}],
        content_type="application/json-patch+json",
        field_manager="cainjector",
    )
    again = apply(hook)
    assert again["webhooks"][0]["clientConfig"]["caBundle"] == "Q0E="
    hook["webhooks"][0]["clientConfig"]["caBundle"] = "other"  # type: ignore[index]
    with pytest.raises(ApiException) as info:
        apply(hook)
    message = status_of(info.value)["message"]
    assert message.startswith(
        'Apply failed with 1 conflict: conflict with "cainjector" using admissionregistration'
    )
    assert message.endswith('.webhooks[name="w.example.com"].clientConfig.caBundle')


def test_keyed_lists_merge_by_name(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api, "apps/v1", "Deployment")
    out = apply(deployment("web"))
    fields = _managers(out)["platformctl"]["fieldsV1"]
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {'k:{"name":"web"}': {".": {}, "f:image": {}, "f:name": {}}}
    sidecar = deployment("web")
    sidecar["spec"]["template"]["spec"]["containers"] = [{"name": "proxy", "image": "envoy"}]
    merged = apply(sidecar, manager="injector")
    names = [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]]
    assert names == ["web", "proxy"]


def test_dry_run_stores_nothing(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api)
    rv = fake_api.resource_version
    out = apply(_cm(a="1"), dry_run="All")
    assert out["data"] == {"a": "1"}
    assert fake_api.resource_version == rv
    assert fake_api.get("ConfigMap", "c", "default") is None
    apply(_cm(a="1"))
    apply(_cm(a="2"), dry_run="All")
    assert fake_api.get("ConfigMap", "c", "default")["data"] == {"a": "1"}  # type: ignore[index]


def test_apply_requires_field_manager_and_matching_name(fake_api: FakeApiServer) -> None:
    dyn = dynamic(fake_api)
    res = dyn.resources.get(api_version="v1", kind="ConfigMap")
    with pytest.raises(ApiException) as info:
        res.server_side_apply(body=_cm(a="1"), namespace="default")
    assert info.value.status == 422 and "fieldManager" in status_of(info.value)["message"]
    with pytest.raises(ApiException) as info:
        dyn.request(
            "patch",
            "/api/v1/namespaces/default/configmaps/other",
            body=_cm(a="1"),
            field_manager="m",
            content_type="application/apply-patch+yaml",
        )
    assert info.value.status == 400


def test_apply_ignores_status_on_main_endpoint(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api, "apps/v1", "Deployment")
    body = deployment("web")
    body["status"] = {"replicas": 99}
    apply(body)
    assert fake_api.wait_idle()
    stored = fake_api.get("Deployment", "web", "default")
    assert stored is not None and stored["status"]["replicas"] == 1


def test_status_writes_do_not_disturb_spec_ownership(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api, "apps/v1", "Deployment")
    apply(deployment("web"))
    res = dynamic(fake_api).resources.get(api_version="apps/v1", kind="Deployment")
    res.status.patch(
        name="web",
        namespace="default",
        body={"status": {"replicas": 5}},
        content_type="application/merge-patch+json",
        field_manager="kube-controller-manager",
    )
    obj = res.get(name="web", namespace="default").to_dict()
    managers = _managers(obj)
    assert managers["kube-controller-manager"]["subresource"] == "status"
    assert managers["kube-controller-manager"]["fieldsV1"] == {"f:status": {"f:replicas": {}}}
    assert "f:spec" in managers["platformctl"]["fieldsV1"]
    # the spec is still ours: a different value from another applier conflicts with platformctl
    other = deployment("web", replicas=3)
    with pytest.raises(ApiException) as info:
        apply(other, manager="someone-else")
    assert 'conflict with "platformctl": .spec.replicas' in status_of(info.value)["message"]


def test_applier_keeps_list_items_another_manager_updates(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api, "apps/v1", "Deployment")
    body = deployment("web", image="web:v1")
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "proxy:v1"})
    apply(body)
    item = 'k:{"name":"web"}'
    containers = ("f:spec", "f:template", "f:spec", "f:containers")

    def fields(obj: dict[str, Any], manager: str) -> dict[str, Any]:
        node: dict[str, Any] = _managers(obj)[manager]["fieldsV1"]
        for el in containers:
            node = node[el]
        return node

    # the real apiserver's FieldsV1 for an applied keyed list item: the item itself (".") and its fields
    created = fake_api.get("Deployment", "web", "default")
    assert created is not None
    assert fields(created, "platformctl")[item] == {".": {}, "f:image": {}, "f:name": {}}
    # another manager (an Update, like `kubectl set image`) changes one field of that item
    dynamic(fake_api).resources.get(api_version="apps/v1", kind="Deployment").patch(
        name="web",
        namespace="default",
        body=[{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "web:v2"}],
        content_type="application/json-patch+json",
        field_manager="kubectl-set",
    )
    after = fake_api.get("Deployment", "web", "default")
    assert after is not None
    # it takes that field only; the item (".") and its other fields stay with the applier
    assert fields(after, "kubectl-set") == {item: {"f:image": {}}}
    assert fields(after, "platformctl")[item] == {".": {}, "f:name": {}}
    # so the applier omitting the sidecar prunes it, but omitting nothing of "web" keeps "web"
    body["spec"]["template"]["spec"]["containers"] = [{"name": "web"}]
    pruned = apply(body)
    names = [c["name"] for c in pruned["spec"]["template"]["spec"]["containers"]]
    assert names == ["web"]
    assert pruned["spec"]["template"]["spec"]["containers"][0]["image"] == "web:v2"


def test_finalizers_are_a_set_owned_per_value(fake_api: FakeApiServer) -> None:
    apply = Applier(fake_api)
    body = _cm(a="1")
    body["metadata"]["finalizers"] = ["example.com/a"]
    created = apply(body)
    # metadata.finalizers is `listType=set`: each value is owned as v:"<value>"
    assert _managers(created)["platformctl"]["fieldsV1"]["f:metadata"] == {
        "f:finalizers": {'v:"example.com/a"': {}}
    }
    # a controller adds its own finalizer (an Update): it takes that value, not the list
    core(fake_api).patch_namespaced_config_map(
        "c", "default", {"metadata": {"finalizers": ["example.com/a", "example.com/b"]}}
    )
    got = fake_api.get("ConfigMap", "c", "default")
    assert got is not None
    assert _managers(got)["OpenAPI-Generator"]["fieldsV1"] == {
        "f:metadata": {"f:finalizers": {'v:"example.com/b"': {}}}
    }
    # re-applying ours is no conflict and keeps theirs; dropping ours removes only ours
    assert apply(body)["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    del body["metadata"]["finalizers"]
    assert apply(body)["metadata"]["finalizers"] == ["example.com/b"]
