"""Discovery: built-in groups, and CRDs learned once Established / forgotten on delete."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.fakeapi import FakeApiServer
from tests.fakeapi_tests.kube import crd, dynamic


def _get(fake: FakeApiServer, path: str) -> Any:
    req = urllib.request.Request(fake.url + path, headers={"Authorization": f"Bearer {fake.token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def _status(fake: FakeApiServer, path: str) -> int:
    try:
        _get(fake, path)
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def test_version_and_core_group(fake_api: FakeApiServer) -> None:
    assert _get(fake_api, "/version")["gitVersion"].startswith("v1.")
    assert _get(fake_api, "/api")["versions"] == ["v1"]
    names = {r["name"]: r for r in _get(fake_api, "/api/v1")["resources"]}
    assert names["namespaces"]["namespaced"] is False
    assert names["pods"]["kind"] == "Pod" and "po" in names["pods"]["shortNames"]
    assert "pods/status" in names and "pods/log" in names
    assert "watch" in names["configmaps"]["verbs"]


def test_all_required_builtin_groups_are_served(fake_api: FakeApiServer) -> None:
    groups = {g["name"]: g for g in _get(fake_api, "/apis")["groups"]}
    expected = {
        "apps": ("v1", {"deployments", "statefulsets", "daemonsets", "replicasets"}),
        "batch": ("v1", {"jobs"}),
        "discovery.k8s.io": ("v1", {"endpointslices"}),
        "apiextensions.k8s.io": ("v1", {"customresourcedefinitions"}),
        "rbac.authorization.k8s.io": ("v1", {"roles", "clusterroles", "rolebindings", "clusterrolebindings"}),
        "admissionregistration.k8s.io": (
            "v1",
            {"mutatingwebhookconfigurations", "validatingwebhookconfigurations"},
        ),
        "policy": ("v1", {"poddisruptionbudgets"}),
        "autoscaling": ("v2", {"horizontalpodautoscalers"}),
        "scheduling.k8s.io": ("v1", {"priorityclasses"}),
        "coordination.k8s.io": ("v1", {"leases"}),
        "apiregistration.k8s.io": ("v1", {"apiservices"}),
    }
    for group, (version, plurals) in expected.items():
        assert groups[group]["preferredVersion"]["version"] == version
        served = {r["name"] for r in _get(fake_api, f"/apis/{group}/{version}")["resources"]}
        assert plurals <= served, group
    apps = {r["name"] for r in _get(fake_api, "/apis/apps/v1")["resources"]}
    assert "deployments/status" in apps and "deployments/scale" in apps
    assert _status(fake_api, "/openapi/v2") == 404


def test_crd_is_learned_then_forgotten(fake_api: FakeApiServer) -> None:
    dyn = dynamic(fake_api)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(body=crd(versions=("v1", "v1beta1")))
    assert fake_api.wait_idle()  # the CRD controller sets Established
    resources = {r["name"]: r for r in _get(fake_api, "/apis/example.com/v1")["resources"]}
    assert resources["widgets"]["shortNames"] == ["wd"]
    assert resources["widgets"]["namespaced"] is True
    assert resources["widgets"]["singularName"] == "widget"
    assert "widgets/status" in resources
    assert _status(fake_api, "/apis/example.com/v1beta1") == 200
    group = next(g for g in _get(fake_api, "/apis")["groups"] if g["name"] == "example.com")
    assert group["preferredVersion"]["version"] == "v1"

    dyn.resources.invalidate_cache()
    widgets = dyn.resources.get(api_version="example.com/v1", kind="Widget")
    widgets.create(
        body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
        namespace="default",
    )
    assert [w.metadata.name for w in widgets.get(namespace="default").items] == ["w"]
    # the same object is served under every served version
    assert _get(fake_api, "/apis/example.com/v1beta1/namespaces/default/widgets/w")["apiVersion"] == (
        "example.com/v1beta1"
    )

    crds.delete(name="widgets.example.com")
    assert _status(fake_api, "/apis/example.com/v1") == 404
    assert "example.com" not in {g["name"] for g in _get(fake_api, "/apis")["groups"]}
    assert fake_api.objects(kind="Widget") == []
    with pytest.raises(ApiException) as info:
        widgets.get(namespace="default")
    assert info.value.status == 404


def test_cluster_scoped_crd(fake_api: FakeApiServer) -> None:
    dyn = dynamic(fake_api)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(body=crd(group="ops.example.com", kind="Knob", plural="knobs", scope="Cluster", status=False))
    assert fake_api.wait_idle()
    resources = {r["name"]: r for r in _get(fake_api, "/apis/ops.example.com/v1")["resources"]}
    assert resources["knobs"]["namespaced"] is False
    assert "knobs/status" not in resources
    dyn.resources.invalidate_cache()
    knobs = dyn.resources.get(api_version="ops.example.com/v1", kind="Knob")
    made = knobs.create(body={"apiVersion": "ops.example.com/v1", "kind": "Knob", "metadata": {"name": "k"}})
    assert made.metadata.namespace is None


def test_crd_gets_established(fake_api: FakeApiServer) -> None:
    dyn = dynamic(fake_api)
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    crds.create(body=crd())
    assert fake_api.wait_idle()
    got = crds.get(name="widgets.example.com").to_dict()
    conds = {c["type"]: c["status"] for c in got["status"]["conditions"]}
    assert conds == {"NamesAccepted": "True", "Established": "True"}
    assert got["status"]["acceptedNames"]["kind"] == "Widget"


def test_custom_resources_are_404_until_the_crd_is_established() -> None:
    with FakeApiServer(latency={"CustomResourceDefinition": 0.5}) as fake:
        dyn = dynamic(fake)
        crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
        crds.create(body=crd())
        # like the apiextensions server: neither discovery nor the resource until Established=True
        assert _status(fake, "/apis/example.com/v1") == 404
        assert _status(fake, "/apis/example.com/v1/namespaces/default/widgets") == 404
        assert "example.com" not in {g["name"] for g in _get(fake, "/apis")["groups"]}
        assert not (crds.get(name="widgets.example.com").to_dict().get("status") or {}).get("conditions")
        assert fake.wait_idle()
        assert _status(fake, "/apis/example.com/v1") == 200
        assert _get(fake, "/apis/example.com/v1/namespaces/default/widgets")["items"] == []


def test_no_crd_controller_means_never_served() -> None:
    with FakeApiServer(controllers=False) as fake:
        dyn = dynamic(fake)
        crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
        crds.create(body=crd())
        time.sleep(0.1)
        assert _status(fake, "/apis/example.com/v1") == 404
        # whoever sets Established (here: by hand, through /status) makes it served
        established = {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}
        crds.status.patch(
            body={"metadata": {"name": "widgets.example.com"}, "status": {"conditions": [established]}},
            content_type="application/merge-patch+json",
        )
        assert _status(fake, "/apis/example.com/v1") == 200


def test_invalid_crd_name_is_rejected(fake_api: FakeApiServer) -> None:
    body = crd()
    body["metadata"]["name"] = "wrong.example.com"
    with pytest.raises(ApiException) as info:
        dynamic(fake_api).resources.get(
            api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition"
        ).create(body=body)
    assert info.value.status == 422


def test_version_priority_matches_the_apiserver_ordering() -> None:
    """The example list of the Kubernetes docs (custom-resource-definition-versioning, "Version priority")."""
    from tests.fakeapi.resources import version_priority

    given = ["v11alpha2", "foo1", "v10", "v12alpha1", "v3beta1", "v1", "v11beta2", "foo10", "v2", "v10beta3"]
    expected = [
        "v10",
        "v2",
        "v1",
        "v11beta2",
        "v10beta3",
        "v3beta1",
        "v12alpha1",
        "v11alpha2",
        "foo1",
        "foo10",
    ]
    assert sorted(given, key=version_priority) == expected
