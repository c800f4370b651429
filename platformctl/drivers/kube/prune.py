"""Delete everything carrying platformctl's ownership labels, in reverse dependency order.

Order: admission webhook configurations (so dying webhooks cannot block deletes) → custom
resources (while their controllers still run to clear finalizers; waited for) → other namespaced
objects → cluster-scoped objects → CRDs → Namespaces; then wait for CRDs and Namespaces to
disappear. Whatever is still there at the deadline is reported with its finalizers instead of
hanging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from platformctl.drivers.kube.apply import WEBHOOK_KINDS, ObjectResult
from platformctl.drivers.kube.connect import KubeApi
from platformctl.drivers.kube.labels import selector
from platformctl.drivers.kube.mapping import ResourceInfo, RestMapper
from platformctl.drivers.kube.retry import ApiError, RetryPolicy, retry_call
from platformctl.drivers.kube.wait import Progress, gone, watch_until
from platformctl.errors import NotReadyError
from platformctl.kubeobjects import PROTECTED_NAMESPACES, conditions
from platformctl.reporting import NullReporter, Reporter, log

RANK_WEBHOOK, RANK_CUSTOM, RANK_NAMESPACED, RANK_CLUSTER, RANK_CRD, RANK_NAMESPACE = range(6)


@dataclass
class PruneReport:
    deleted: list[ObjectResult] = field(default_factory=list)
    # API group versions discovery could not read (e.g. an aggregated API that is down): not searched
    unavailable: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.deleted)


@dataclass(frozen=True)
class Found:
    info: ResourceInfo
    obj: dict[str, Any]
    rank: int

    @property
    def namespace(self) -> str | None:
        ns = (self.obj.get("metadata") or {}).get("namespace")
        return str(ns) if ns and self.info.namespaced else None

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name"))

    def result(self) -> ObjectResult:
        return ObjectResult(self.info.api_version, self.info.kind, self.namespace, self.name, "deleted")

    def label(self) -> str:
        return f"{self.info.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


def rank_of(info: ResourceInfo, custom_groups: set[str]) -> int:
    if info.kind in WEBHOOK_KINDS:
        return RANK_WEBHOOK
    if info.kind == "CustomResourceDefinition" and info.group == "apiextensions.k8s.io":
        return RANK_CRD
    if info.kind == "Namespace" and info.group == "":
        return RANK_NAMESPACE
    if info.group in custom_groups:
        return RANK_CUSTOM
    return RANK_NAMESPACED if info.namespaced else RANK_CLUSTER


# PROTECTED_NAMESPACES (platformctl.kubeobjects) are never deleted, even when labelled: the cluster
# needs them (a component may apply "default").
# Maintained by controllers from their Service (they copy its labels): they go with the Service.
DERIVED_KINDS = frozenset({("", "Endpoints"), ("discovery.k8s.io", "EndpointSlice")})


def _skipped(info: ResourceInfo, obj: dict[str, Any]) -> bool:
    if (info.group, info.kind) in DERIVED_KINDS or _controlled(obj):
        return True
    name = (obj.get("metadata") or {}).get("name")
    return info.group == "" and info.kind == "Namespace" and name in PROTECTED_NAMESPACES


def _controlled(obj: dict[str, Any]) -> bool:
    """Objects with a controller owner are removed by the garbage collector with their owner."""
    return any(ref.get("controller") for ref in (obj.get("metadata") or {}).get("ownerReferences") or [])


def stuck_details(found: Found, last: Progress) -> list[str]:
    obj = last.obj or found.obj
    lines = [f"{found.label()}: {last.summary}"]
    for c in conditions(obj).values():
        if found.info.kind == "Namespace" and c.get("status") == "True":
            lines.append(f"  {c.get('type')}: {c.get('message', '')}")
    return lines


class Pruner:
    def __init__(
        self,
        api: KubeApi,
        mapper: RestMapper,
        *,
        policy: RetryPolicy | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.api = api
        self.mapper = mapper
        self.policy = policy or RetryPolicy()
        self.reporter = reporter or NullReporter()

    def _call(self, fn: Callable[[], Any], deadline: float, what: str) -> Any:
        return retry_call(fn, deadline=deadline, what=what, policy=self.policy)

    def discover(self, component: str | None, deadline: float) -> list[Found]:
        resources = self._call(self.mapper.all_resources, deadline, "discover API resources")
        crds = self._call(
            lambda: self.api.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"),
            deadline,
            "list CustomResourceDefinitions",
        )
        custom_groups = {str((c.get("spec") or {}).get("group")) for c in (crds or {}).get("items") or []}
        sel = selector(component)
        found: dict[str, Found] = {}
        for info in resources:
            if info.group == "events.k8s.io" or (info.group == "" and info.kind == "Event"):
                continue
            lst = self._call(
                lambda i=info: self.api.request("GET", i.path(None), query=[("labelSelector", sel)]),  # type: ignore[misc]
                deadline,
                f"list {info.kind}",
            )
            for obj in (lst or {}).get("items") or []:
                if _skipped(info, obj):
                    continue
                md = obj.get("metadata") or {}
                key = str(md.get("uid") or f"{info.kind}/{md.get('namespace')}/{md.get('name')}")
                found.setdefault(key, Found(info, obj, rank_of(info, custom_groups)))
        return sorted(found.values(), key=lambda f: (f.rank, f.info.kind, f.namespace or "", f.name))

    def _delete(self, f: Found, deadline: float) -> bool:
        def delete() -> bool:
            try:
                self.api.request(
                    "DELETE", f.info.path(f.namespace, f.name), query=[("propagationPolicy", "Background")]
                )
            except ApiError as exc:
                if exc.status == 404:
                    return False
                raise
            return True

        result: bool = self._call(delete, deadline, f"delete {f.label()}")
        return result

    def wait_gone(self, found: list[Found], deadline: float) -> list[tuple[Found, Progress]]:
        stuck: list[tuple[Found, Progress]] = []
        for f in found:
            try:
                last = watch_until(
                    self.api,
                    f.info,
                    namespace=f.namespace,
                    name=f.name,
                    check=gone,
                    deadline=deadline,
                    policy=self.policy,
                )
            except ApiError as exc:
                if exc.status != 404:
                    raise
                continue  # the resource type itself is gone (its CRD was deleted)
            if last.state != "ready":
                stuck.append((f, last))
        return stuck

    def _blocking_content(self, namespace: str, found: list[Found]) -> list[str]:
        """What we deleted in a stuck namespace that is still there, with its finalizers."""
        lines: list[str] = []
        for f in found:
            if f.namespace != namespace:
                continue
            try:
                live = self.api.request("GET", f.info.path(f.namespace, f.name))
            except ApiError as exc:
                if exc.status != 404:
                    lines.append(f"  (could not read {f.label()}: {exc.server_message})")
                continue
            fins = ", ".join((live or {}).get("metadata", {}).get("finalizers") or []) or "none"
            lines.append(f"  still holding it: {f.label()} (finalizers: {fins})")
        return lines

    def prune(self, component: str | None, deadline: float) -> PruneReport:
        report = PruneReport()
        found = self.discover(component, deadline)
        report.unavailable = list(self.mapper.unavailable)
        for line in report.unavailable:
            log(self.reporter, f"prune:{component or 'all'}", f"not searched (discovery failed): {line}")
        step = f"prune:{component or 'all'}"
        to_wait: list[Found] = []
        for rank in sorted({f.rank for f in found}):
            group = [f for f in found if f.rank == rank]
            for f in group:
                self._delete(f, deadline)
                report.deleted.append(f.result())
                log(self.reporter, step, f"deleted {f.label()}")
            if rank == RANK_CUSTOM:
                # Gone before their controllers are deleted, so finalizers can still be cleared;
                # half the time left at most, the rest is checked again at the end.
                now = self.policy.clock()
                self.wait_gone(group, min(deadline, now + max(1.0, (deadline - now) / 2)))
            if rank in (RANK_CUSTOM, RANK_CRD, RANK_NAMESPACE):
                to_wait.extend(group)
        stuck = self.wait_gone(to_wait, deadline)
        if stuck:
            details: list[str] = []
            for f, last in stuck:
                details += stuck_details(f, last)
                if f.rank == RANK_NAMESPACE:
                    details += self._blocking_content(f.name, found)
            raise NotReadyError(
                f"prune: {len(stuck)} object(s) still terminating at the deadline (finalizers remain)",
                details=details,
                hint="the controllers owning those finalizers may be gone; remove the finalizers by hand",
            )
        return report
