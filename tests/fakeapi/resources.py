"""Resource types the fake serves, and the discovery documents built from them.

Built-in kinds are a fixed table; custom resources are learned from CustomResourceDefinitions once
they are Established and forgotten when the CRD is deleted (the real apiserver does the same through
its apiextensions server). Discovery JSON is cached and rebuilt only when the set of types changes.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" for the core group
    versions: tuple[str, ...]  # served versions, preferred (storage) first
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    categories: tuple[str, ...] = ()
    builtin: bool = True
    crd_name: str = ""  # the CRD that defines it (custom resources only)
    extra_subresources: tuple[str, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str]:
        return (self.group, self.plural)

    @property
    def group_resource(self) -> str:
        """`deployments.apps` / `configmaps`: how the apiserver names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str | None = None) -> str:
        v = version or self.versions[0]
        return f"{self.group}/{v}" if self.group else v


def _b(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool,
    short: tuple[str, ...] = (),
    status: bool = False,
    extra: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group=group,
        versions=(version,),
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        short_names=short,
        status_subresource=status,
        extra_subresources=extra,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _b("", "v1", "namespaces", "Namespace", False, ("ns",), status=True, extra=("finalize",)),
    _b("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    _b("", "v1", "secrets", "Secret", True),
    _b("", "v1", "services", "Service", True, ("svc",), status=True),
    _b("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    _b("", "v1", "pods", "Pod", True, ("po",), status=True, extra=("log",)),
    _b("", "v1", "events", "Event", True, ("ev",)),
    _b("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    _b("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), status=True),
    _b("apps", "v1", "deployments", "Deployment", True, ("deploy",), status=True, extra=("scale",)),
    _b("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), status=True, extra=("scale",)),
    _b("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), status=True),
    _b("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), status=True, extra=("scale",)),
    _b("batch", "v1", "jobs", "Job", True, status=True),
    _b("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _b(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        status=True,
    ),
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _b(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _b("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), status=True),
    _b(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        status=True,
    ),
    _b("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",)),
    _b("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",)),
    _b("", "v1", "nodes", "Node", False, ("no",), status=True),
    _b("coordination.k8s.io", "v1", "leases", "Lease", True),
    _b("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, status=True),
)


_KUBE_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key: the apiserver's version priority, highest first.

    Kubernetes orders the versions of an API group (and picks ``preferredVersion``, the first) with
    k8s.io/apimachinery pkg/version/helpers.go ``CompareKubeAwareVersionStrings``, documented at
    https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definition-versioning/#version-priority:
    versions matching ``v<major>[(alpha|beta)<minor>]`` come first, GA before beta before alpha, then
    the higher major, then the higher minor; any other string after them, alphabetically.
    (Before this the fake named the first version it happened to learn as preferred, which hid that a
    real apiserver prefers serving.kserve.io/v1beta1 and lists v1alpha1-only kinds nowhere else.)
    """
    m = _KUBE_VERSION.match(version)
    if m is None:
        return (3, 0, 0, version)
    level = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (level, -int(m.group(1)), -int(m.group(3) or 0), "")


def resource_type_from_crd(crd: dict[str, Any]) -> ResourceType | None:
    """The type a CRD defines; None when the CRD is malformed or serves no version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if not names.get("plural") or not names.get("kind") or not spec.get("group") or not versions:
        return None
    # the storage version first: it is what the fake reports when a version is not asked for
    versions.sort(key=lambda v: 0 if v.get("storage") else 1)
    status = any("status" in (v.get("subresources") or {}) for v in versions)
    scale = any("scale" in (v.get("subresources") or {}) for v in versions)
    return ResourceType(
        group=spec["group"],
        versions=tuple(v["name"] for v in versions),
        plural=names["plural"],
        singular=names.get("singular") or names["kind"].lower(),
        kind=names["kind"],
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        status_subresource=status,
        categories=tuple(names.get("categories") or ()),
        builtin=False,
        crd_name=crd.get("metadata", {}).get("name", ""),
        extra_subresources=("scale",) if scale else (),
    )


class Registry:
    """Thread-safe map of served types; hands out cached discovery JSON."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], ResourceType] = {}
        self._by_gv_plural: dict[tuple[str, str, str], ResourceType] = {}
        self._by_kind: dict[str, list[ResourceType]] = {}
        self._cache: dict[str, bytes] = {}
        for rt in BUILTIN_TYPES:
            self._add(rt)

    def _add(self, rt: ResourceType) -> None:
        self._by_key[rt.key] = rt
        for v in rt.versions:
            self._by_gv_plural[(rt.group, v, rt.plural)] = rt
        self._by_kind.setdefault(rt.kind, []).append(rt)

    def _remove(self, rt: ResourceType) -> None:
        self._by_key.pop(rt.key, None)
        for v in rt.versions:
            self._by_gv_plural.pop((rt.group, v, rt.plural), None)
        kinds = self._by_kind.get(rt.kind, [])
        if rt in kinds:
            kinds.remove(rt)

    def learn(self, rt: ResourceType) -> None:
        with self._lock:
            old = self._by_key.get(rt.key)
            if old == rt:
                return  # e.g. a status write to an Established CRD: keep the discovery cache
            if old is not None:
                if old.builtin:
                    return  # a CRD cannot shadow a built-in type
                self._remove(old)
            self._add(rt)
            self._cache.clear()

    def forget(self, key: tuple[str, str]) -> ResourceType | None:
        with self._lock:
            rt = self._by_key.get(key)
            if rt is None or rt.builtin:
                return None
            self._remove(rt)
            self._cache.clear()
            return rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gv_plural.get((group, version, plural))

    def by_key(self, key: tuple[str, str]) -> ResourceType | None:
        return self._by_key.get(key)

    def by_kind(self, kind: str) -> list[ResourceType]:
        with self._lock:
            return list(self._by_kind.get(kind, []))

    def by_api_version_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self.by_kind(kind):
            if rt.group == group and version in rt.versions:
                return rt
        return None

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._by_key.values())

    # -- discovery documents (cached bytes) --------------------------------------------------

    def _cached(self, name: str, build: Any) -> bytes:
        with self._lock:
            hit = self._cache.get(name)
            if hit is None:
                hit = json.dumps(build()).encode()
                self._cache[name] = hit
            return hit

    def _groups(self) -> dict[str, list[str]]:
        """Served versions per group, in Kubernetes version priority order (the preferred one first)."""
        groups: dict[str, list[str]] = {}
        for rt in self._by_key.values():
            vs = groups.setdefault(rt.group, [])
            for v in rt.versions:
                if v not in vs:
                    vs.append(v)
        return {g: sorted(vs, key=version_priority) for g, vs in groups.items()}

    def api_versions_json(self) -> bytes:
        return self._cached(
            "/api",
            lambda: {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
                ],
            },
        )

    def api_groups_json(self) -> bytes:
        def build() -> dict[str, Any]:
            out = []
            for group, versions in sorted(self._groups().items()):
                if not group:
                    continue
                gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
                out.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}

        return self._cached("/apis", build)

    def resource_list_json(self, group: str, version: str) -> bytes | None:
        if version not in self._groups().get(group, []):
            return None
        gv = f"{group}/{version}" if group else version

        def build() -> dict[str, Any]:
            resources: list[dict[str, Any]] = []
            for rt in sorted(self._by_key.values(), key=lambda r: r.plural):
                if rt.group != group or version not in rt.versions:
                    continue
                entry: dict[str, Any] = {
                    "name": rt.plural,
                    "singularName": rt.singular,
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": list(ALL_VERBS),
                }
                if rt.short_names:
                    entry["shortNames"] = list(rt.short_names)
                if rt.categories:
                    entry["categories"] = list(rt.categories)
                resources.append(entry)
                subs = (("status",) if rt.status_subresource else ()) + rt.extra_subresources
                for sub in subs:
                    resources.append(
                        {
                            "name": f"{rt.plural}/{sub}",
                            "singularName": "",
                            "namespaced": rt.namespaced,
                            "kind": "Scale" if sub == "scale" else rt.kind,
                            "verbs": ["get"] if sub == "log" else ["get", "patch", "update"],
                        }
                    )
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

        return self._cached(f"/{gv}", build)
