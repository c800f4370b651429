"""REST mapping (apiVersion + kind → resource path) from live discovery, never from a stale cache.

Group versions are discovered lazily (one GET per group version) and cached for the engine's
lifetime. A kind that is missing from a cached group version triggers one re-read of that group
version before failing — that is how a CRD created a moment ago becomes usable — and the engine
also invalidates a group version explicitly after it applies a CRD for it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

from platformctl.drivers.kube.connect import KubeApi
from platformctl.drivers.kube.retry import ApiError, backoff_delay, classify
from platformctl.errors import ClusterError


@dataclass(frozen=True)
class ResourceInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


def split_api_version(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return group, version
    return "", api_version


def group_version_path(api_version: str) -> str:
    group, version = split_api_version(api_version)
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


class RestMapper:
    def __init__(self, api: KubeApi) -> None:
        self._api = api
        self._by_gv: dict[str, dict[str, ResourceInfo]] = {}
        self._lock = threading.Lock()
        self.unavailable: list[str] = []  # group versions discovery could not read (all_resources)

    def _fetch(self, api_version: str) -> dict[str, ResourceInfo]:
        group, version = split_api_version(api_version)
        try:
            doc = self._api.request("GET", group_version_path(api_version))
        except ApiError as exc:
            if exc.status == 404:
                return {}  # group version not served (yet)
            raise
        kinds: dict[str, ResourceInfo] = {}
        for res in (doc or {}).get("resources", []):
            name = str(res.get("name", ""))
            if not name or "/" in name:  # subresources (status, scale, log …)
                continue
            info = ResourceInfo(
                group=group,
                version=version,
                kind=str(res.get("kind", "")),
                plural=name,
                namespaced=bool(res.get("namespaced", False)),
                verbs=frozenset(str(v) for v in res.get("verbs", [])),
            )
            kinds.setdefault(info.kind, info)
        return kinds

    def _fetch_retrying(self, api_version: str, attempts: int = 3) -> dict[str, ResourceInfo]:
        """A few quick retries for a transient error before the caller gives up on this group."""
        for attempt in range(attempts):
            try:
                return self._fetch(api_version)
            except ApiError as exc:
                if attempt == attempts - 1 or not classify(exc).transient:
                    raise
                time.sleep(backoff_delay(attempt, base=0.1, cap=1.0))
        raise AssertionError("unreachable")

    def invalidate(self, api_version: str | None = None) -> None:
        with self._lock:
            if api_version is None:
                self._by_gv.clear()
            else:
                self._by_gv.pop(api_version, None)

    def try_resolve(self, api_version: str, kind: str) -> ResourceInfo | None:
        with self._lock:
            cached = self._by_gv.get(api_version)
        if cached is not None and kind in cached:
            return cached[kind]
        fresh = self._fetch(api_version)  # missing or unknown kind: re-read once (fresh CRDs)
        with self._lock:
            self._by_gv[api_version] = fresh
        return fresh.get(kind)

    def resolve(self, api_version: str, kind: str) -> ResourceInfo:
        info = self.try_resolve(api_version, kind)
        if info is None:
            raise ClusterError(
                f"{kind} ({api_version}) is not served by {self._api.server}: "
                "its CustomResourceDefinition is not installed (install the component that provides it first)"
            )
        return info

    def all_resources(self) -> list[ResourceInfo]:
        """Every listable+deletable resource, each (group, kind) once (for prune).

        Every served version of every group is read, not only the preferred one: a group's kinds need
        not share a version (on a real apiserver serving.kserve.io prefers v1beta1, while
        ClusterServingRuntime, ServingRuntime, TrainedModel, InferenceGraph and ClusterStorageContainer
        exist only in v1alpha1). The apiserver lists a group's versions in Kubernetes version priority
        order, preferred first (k8s.io/apimachinery pkg/version/helpers.go CompareKubeAwareVersionStrings),
        so a kind served in several versions is kept in the highest-priority one.
        """
        gvs: list[str] = []
        core = self._api.request("GET", "/api") or {}
        gvs += [str(v) for v in core.get("versions", [])]
        groups = self._api.request("GET", "/apis") or {}
        for g in groups.get("groups", []):
            preferred = (g.get("preferredVersion") or {}).get("groupVersion")
            ordered = [preferred] if preferred else []
            ordered += [v.get("groupVersion") for v in g.get("versions") or [] if v.get("groupVersion")]
            gvs += [str(gv) for gv in dict.fromkeys(ordered) if gv]
        out: list[ResourceInfo] = []
        seen: set[tuple[str, str]] = set()
        self.unavailable = []
        for gv in gvs:
            try:
                kinds = self._fetch_retrying(gv)
            except ApiError as exc:
                # an aggregated API whose backend is down (metrics.k8s.io answering 503) must not
                # stop a prune: nothing of ours lives there
                self.unavailable.append(f"{gv}: {exc.status} {exc.server_message}")
                continue
            with self._lock:
                self._by_gv[gv] = kinds
            for info in kinds.values():
                if {"list", "delete"} <= info.verbs and (info.group, info.kind) not in seen:
                    seen.add((info.group, info.kind))
                    out.append(info)
        return out
