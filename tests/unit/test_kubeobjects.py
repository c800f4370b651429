"""platformctl.kubeobjects: the one home of object identity, the dedupe rule and condition reading."""

from __future__ import annotations

from typing import Any

from platformctl import kubeobjects
from platformctl.components import dapr, istio, knative, kserve
from platformctl.drivers.kube import apply, prune
from platformctl.kubeobjects import (
    PROTECTED_NAMESPACES,
    api_group,
    condition,
    conditions,
    dedupe,
    identity,
    is_true,
)


def obj(kind: str, name: str, api_version: str = "v1", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **extra}


def test_identity_is_group_kind_namespace_name() -> None:
    assert api_group("apps/v1") == "apps"
    assert api_group("v1") == ""
    assert api_group(None) == ""
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}}
    assert identity(dep) == ("apps", "Deployment", "n", "d")
    assert identity({"kind": "Namespace", "metadata": {"name": "x"}}) == ("", "Namespace", "", "x")
    assert identity({}) == ("", "", "", "")


def test_duplicates_collapse_to_the_first_definition_at_its_position() -> None:
    first = obj("ConfigMap", "cm", data={"v": "1"})
    other = obj("ConfigMap", "other")
    later = obj("ConfigMap", "cm", data={"v": "2"})
    gen = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generateName": "j-"}}
    assert dedupe([first, other, later, gen, gen]) == [first, other, gen, gen]
    # same group, another version: still the same object, and the first one stays
    assert dedupe(
        [obj("Gateway", "g", "networking.istio.io/v1beta1"), obj("Gateway", "g", "networking.istio.io/v1")]
    ) == [obj("Gateway", "g", "networking.istio.io/v1beta1")]
    # another namespace or another group is another object
    a = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "a"}}
    b = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "b"}}
    c = obj("ConfigMap", "cm", "example.com/v1")
    assert dedupe([a, b, c, first]) == [a, b, c, first]
    assert dedupe(iter([first, later])) == [first]  # any iterable


def test_the_engine_and_the_components_share_the_one_rule() -> None:
    assert vars(apply)["dedupe"] is kubeobjects.dedupe  # imported, not a copy
    for module in (dapr, istio, knative, kserve):
        assert vars(module)["dedupe"] is kubeobjects.dedupe, module.__name__


def test_conditions_by_type() -> None:
    pod = {
        "status": {
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                "not a condition",
                {"status": "True"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
                {"type": "Ready", "status": "True"},
            ]
        }
    }
    assert list(conditions(pod)) == ["PodScheduled", "Ready"]
    ready = condition(pod)
    assert ready is not None and ready["reason"] == "ContainersNotReady"  # the first of a repeated type
    assert not is_true(pod)
    assert is_true(pod, "PodScheduled")
    assert condition(pod, "Initialized") is None
    assert not is_true(pod, "Initialized")
    for empty in (None, {}, {"status": None}, {"status": {"conditions": None}}):
        assert conditions(empty) == {}
        assert condition(empty) is None
        assert not is_true(empty)


def test_protected_namespaces_are_the_clusters_own() -> None:
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} == PROTECTED_NAMESPACES
    assert vars(prune)["PROTECTED_NAMESPACES"] is PROTECTED_NAMESPACES
