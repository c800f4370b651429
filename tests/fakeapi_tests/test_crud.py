"""CRUD through the typed client: metadata, errors as Status, selectors, patches, status subresource."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from tests.fakeapi import FakeApiServer
from tests.fakeapi_tests.kube import apps, batch, core, deployment, status_of


def _cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": labels or {}}, "data": data}


def test_create_get_replace_delete_configmap(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    made = v1.create_namespaced_config_map("default", _cm("c", a="1"))
    assert made.metadata.uid and made.metadata.creation_timestamp
    rv1 = int(made.metadata.resource_version)
    got = v1.read_namespaced_config_map("c", "default")
    assert got.data == {"a": "1"} and got.metadata.resource_version == str(rv1)
    got.data["a"] = "2"
    replaced = v1.replace_namespaced_config_map("c", "default", got)
    assert int(replaced.metadata.resource_version) > rv1
    assert replaced.metadata.uid == made.metadata.uid
    v1.delete_namespaced_config_map("c", "default")
    with pytest.raises(ApiException) as info:
        v1.read_namespaced_config_map("c", "default")
    body = status_of(info.value)
    assert (info.value.status, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    assert body["message"] == 'configmaps "c" not found'


def test_replace_with_stale_resource_version_conflicts(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    stale = v1.create_namespaced_config_map("default", _cm("c", a="1"))
    v1.patch_namespaced_config_map("c", "default", {"data": {"a": "2"}})
    stale.data["a"] = "3"
    with pytest.raises(ApiException) as info:
        v1.replace_namespaced_config_map("c", "default", stale)
    assert info.value.status == 409
    assert status_of(info.value)["reason"] == "Conflict"
    assert "the object has been modified" in status_of(info.value)["message"]


def test_already_exists_and_missing_namespace(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespaced_config_map("default", _cm("c"))
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_config_map("default", _cm("c"))
    assert (info.value.status, status_of(info.value)["reason"]) == (409, "AlreadyExists")
    assert status_of(info.value)["message"] == 'configmaps "c" already exists'
    with pytest.raises(ApiException) as info:
        apps(fake_api).create_namespaced_deployment("istio-system", deployment("d", "istio-system"))
    assert info.value.status == 404
    assert status_of(info.value)["message"] == 'namespaces "istio-system" not found'


def test_generate_name(fake_api: FakeApiServer) -> None:
    body = {
        "metadata": {"generateName": "storage-version-migration-", "namespace": "default"},
        "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "i"}]}}
        },
    }
    a = batch(fake_api).create_namespaced_job("default", body)
    b = batch(fake_api).create_namespaced_job("default", body)
    assert a.metadata.name.startswith("storage-version-migration-")
    assert a.metadata.name != b.metadata.name


def test_label_and_field_selectors(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespaced_config_map("default", _cm("a", {"tier": "web", "env": "prod"}))
    v1.create_namespaced_config_map("default", _cm("b", {"tier": "db", "env": "dev"}))
    v1.create_namespaced_config_map("default", _cm("c", {"tier": "web"}))

    def names(**kw: str) -> list[str]:
        return [i.metadata.name for i in v1.list_namespaced_config_map("default", **kw).items]

    assert names(label_selector="tier=web") == ["a", "c"]
    assert names(label_selector="tier==web,env=prod") == ["a"]
    assert names(label_selector="tier!=web") == ["b"]
    assert names(label_selector="env in (prod, dev)") == ["a", "b"]
    assert names(label_selector="env notin (prod)") == ["b", "c"]
    assert names(label_selector="env") == ["a", "b"]
    assert names(label_selector="!env") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.namespace=default,metadata.name!=b") == ["a", "c"]
    everywhere = v1.list_config_map_for_all_namespaces(label_selector="tier=db").items
    assert [i.metadata.name for i in everywhere] == ["b"]


def test_generation_bumps_on_spec_not_status() -> None:
    with FakeApiServer(controllers=False) as fake:
        api = apps(fake)
        api.create_namespaced_deployment("default", deployment("d"))
        api.patch_namespaced_deployment_status("d", "default", {"status": {"replicas": 7}})
        got = api.read_namespaced_deployment("d", "default")
        assert (got.metadata.generation, got.status.replicas) == (1, 7)
        api.patch_namespaced_deployment("d", "default", {"spec": {"replicas": 3}, "status": {"replicas": 1}})
        got = api.read_namespaced_deployment("d", "default")
        # the main endpoint ignores status for kinds with a status subresource
        assert (got.metadata.generation, got.spec.replicas, got.status.replicas) == (2, 3, 7)


def test_json_patch_and_merge_patch(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespaced_config_map("default", _cm("c", a="1", b="2"))
    v1.patch_namespaced_config_map(
        "c",
        "default",
        [{"op": "replace", "path": "/data/a", "value": "9"}, {"op": "remove", "path": "/data/b"}],
    )
    assert v1.read_namespaced_config_map("c", "default").data == {"a": "9"}
    v1.patch_namespaced_config_map("c", "default", {"data": {"a": None, "z": "0"}})
    assert v1.read_namespaced_config_map("c", "default").data == {"z": "0"}
    with pytest.raises(ApiException) as info:
        v1.patch_namespaced_config_map("c", "default", [{"op": "remove", "path": "/data/nope"}])
    assert info.value.status == 422


def test_finalizers_hold_deletion(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespaced_config_map(
        "default", {"metadata": {"name": "c", "finalizers": ["example.com/hold"]}}
    )
    v1.delete_namespaced_config_map("c", "default", propagation_policy="Foreground")
    held = v1.read_namespaced_config_map("c", "default")
    assert held.metadata.deletion_timestamp is not None
    v1.patch_namespaced_config_map("c", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as info:
        v1.read_namespaced_config_map("c", "default")
    assert info.value.status == 404


def test_namespace_termination(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespace({"metadata": {"name": "team"}})
    assert v1.read_namespace("team").status.phase == "Active"
    v1.create_namespaced_config_map("team", _cm("plain"))
    v1.create_namespaced_config_map("team", {"metadata": {"name": "held", "finalizers": ["x.io/f"]}})
    v1.delete_namespace("team")
    ns = v1.read_namespace("team")
    assert ns.status.phase == "Terminating"
    assert [c.metadata.name for c in v1.list_namespaced_config_map("team").items] == ["held"]
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_config_map("team", _cm("late"))
    assert info.value.status == 403 and "being terminated" in status_of(info.value)["message"]
    v1.patch_namespaced_config_map("held", "team", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as info:
        v1.read_namespace("team")
    assert info.value.status == 404


def test_owner_deletion_collects_dependents(fake_api: FakeApiServer) -> None:
    apps(fake_api).create_namespaced_deployment("default", deployment("web"))
    assert fake_api.wait_idle()
    assert len(fake_api.objects("Pod", "default")) == 1
    apps(fake_api).delete_namespaced_deployment("web", "default")
    assert fake_api.objects("Pod", "default") == []


def test_service_defaults(fake_api: FakeApiServer) -> None:
    svc = core(fake_api).create_namespaced_service(
        "default", {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    )
    assert svc.spec.cluster_ip.startswith("10.96.")
    port = svc.spec.ports[0]
    assert (port.protocol, port.target_port, port.node_port >= 30000) == ("TCP", 80, True)


def test_delete_collection(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    for name in ("a", "b"):
        v1.create_namespaced_config_map("default", _cm(name, {"x": "1"}))
    v1.create_namespaced_config_map("default", _cm("keep"))
    v1.delete_collection_namespaced_config_map("default", label_selector="x=1")
    assert [c.metadata.name for c in v1.list_namespaced_config_map("default").items] == ["keep"]
