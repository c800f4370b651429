"""Prune finds kinds served only in a non-preferred version of their group.

On a real apiserver ``serving.kserve.io`` prefers v1beta1 (InferenceService), while ClusterServingRuntime,
ServingRuntime, TrainedModel, InferenceGraph and ClusterStorageContainer exist only in v1alpha1: a prune
that lists only each group's preferred version never sees them. This reproduces that shape with two
CRDs in one group and runs unchanged against a real cluster (PLATFORMCTL_TEST_KUBECONFIG).
"""

from __future__ import annotations

from typing import Any

from tests.conftest import KubeTarget
from tests.engine.helpers import connect, crd, namespace, unique


def custom(group: str, version: str, kind: str, name: str, ns: str) -> dict[str, Any]:
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": name, "namespace": ns}}


def test_preferred_version_follows_kubernetes_priority(kube_target: KubeTarget) -> None:
    eng = connect(kube_target)
    owner = unique("prio")
    group = f"{owner}.platformctl.example.com"
    eng.apply(
        [
            crd(group, "Model", "models", versions=("v1beta1",)),
            crd(group, "Runtime", "runtimes", versions=("v1alpha1",)),
        ],
        component=owner,
    )
    try:
        groups = eng.api.request("GET", "/apis")["groups"]
        mine = next(g for g in groups if g["name"] == group)
        assert mine["preferredVersion"]["version"] == "v1beta1"  # beta beats alpha
        assert [v["version"] for v in mine["versions"]] == ["v1beta1", "v1alpha1"]
    finally:
        eng.prune(component=owner, timeout=60)


def test_prune_deletes_kinds_only_served_in_a_non_preferred_version(kube_target: KubeTarget) -> None:
    eng = connect(kube_target)
    crds_owner = unique("prune-crds")
    group = f"{crds_owner}.platformctl.example.com"
    eng.apply(
        [
            crd(group, "Model", "models", versions=("v1beta1",)),
            crd(group, "Runtime", "runtimes", versions=("v1alpha1",)),
        ],
        component=crds_owner,
    )
    ns = unique("prune-ns")
    users = unique("prune-users")
    eng.apply(
        [
            namespace(ns),
            custom(group, "v1beta1", "Model", "m", ns),
            custom(group, "v1alpha1", "Runtime", "r", ns),
        ],
        component=users,
    )
    try:
        # Only the component that made the custom resources: their CRDs stay, so nothing goes implicitly.
        report = eng.prune(component=users, timeout=60)
        deleted = {(r.kind, r.namespace, r.name) for r in report.deleted}
        assert {("Model", ns, "m"), ("Runtime", ns, "r")} <= deleted
        assert eng.get(f"{group}/v1alpha1", "Runtime", "r", ns) is None
        # Each (group, kind) once, although a group lists several versions.
        kinds = [(r.api_version.rsplit("/", 1)[0], r.kind, r.namespace, r.name) for r in report.deleted]
        assert len(kinds) == len(set(kinds))
    finally:
        eng.prune(component=users, timeout=60)
        eng.prune(component=crds_owner, timeout=60)
