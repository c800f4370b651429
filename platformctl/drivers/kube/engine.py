"""The engine facade: connect, apply, wait, diagnose, delete, prune (docs/architecture.md "Engine").

Every wait has one deadline and raises NotReadyError carrying diagnostics (diagnose.py) when it
passes or the object fails. The ``kubernetes`` package is imported only inside functions.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from platformctl.drivers.kube.apply import Applier, ObjectResult
from platformctl.drivers.kube.connect import KubeApi, load_client, probe
from platformctl.drivers.kube.diagnose import diagnose as _diagnose
from platformctl.drivers.kube.mapping import RestMapper
from platformctl.drivers.kube.prune import Found, Pruner, PruneReport
from platformctl.drivers.kube.retry import ApiError, RetryPolicy, retry_call
from platformctl.drivers.kube.stale import StaleReport, delete_stale
from platformctl.drivers.kube.wait import (
    Check,
    Progress,
    crd_established,
    endpoints_ready,
    gone,
    job_complete,
    ready_condition,
    rollout_complete,
    watch_until,
)
from platformctl.errors import NotReadyError, UsageError
from platformctl.reporting import NullReporter, Reporter, finish, start

__all__ = ["ApplyReport", "Engine", "ObjectResult", "PruneReport"]

ROLLOUT_KINDS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}


@dataclass
class ApplyReport:
    results: list[ObjectResult] = field(default_factory=list)
    dry_run: bool = False

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.action == action)

    @property
    def changed(self) -> bool:
        return any(r.action != "unchanged" for r in self.results)

    def summary(self) -> str:
        return (
            f"{self.count('created')} created, {self.count('configured')} configured, "
            f"{self.count('unchanged')} unchanged" + (" (dry run)" if self.dry_run else "")
        )


def _where(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


class Engine:
    """One cluster connection. Thread-safe for concurrent component installs."""

    def __init__(
        self,
        api: KubeApi,
        *,
        reporter: Reporter | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.api = api
        self.mapper = RestMapper(api)
        self.reporter: Reporter = reporter or NullReporter()
        self.policy = policy or RetryPolicy()
        self.server_version: dict[str, Any] = {}

    # --- connection --------------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        reporter: Reporter | None = None,
        policy: RetryPolicy | None = None,
    ) -> Engine:
        api_client, server, ctx = load_client(kubeconfig, context)
        api = KubeApi(api_client, server=server, context=ctx)
        version = probe(api)
        engine = cls(api, reporter=reporter, policy=policy)
        engine.server_version = version
        return engine

    @property
    def context_name(self) -> str:
        return self.api.context

    @property
    def server(self) -> str:
        return self.api.server

    @property
    def request_count(self) -> int:
        return self.api.request_count

    def _deadline(self, timeout: float) -> float:
        return self.policy.clock() + timeout

    # --- apply -------------------------------------------------------------------------------

    def apply(
        self,
        objects: Sequence[dict[str, Any]],
        *,
        component: str,
        force_conflicts: bool = False,
        dry_run: bool = False,
        timeout: float = 300,
    ) -> ApplyReport:
        """Server-side apply (field manager ``platformctl``) in dependency order; see apply.py."""
        deadline = self._deadline(timeout)
        applier = Applier(self.api, self.mapper, policy=self.policy, reporter=self.reporter)

        def wait_crds(names: list[str], dl: float) -> None:
            self.wait_established(names, max(0.0, dl - self.policy.clock()))

        start(
            self.reporter, f"apply:{component}", f"{len(objects)} objects" + (" (dry run)" if dry_run else "")
        )
        results = applier.apply_all(
            objects,
            component=component,
            force_conflicts=force_conflicts,
            dry_run=dry_run,
            deadline=deadline,
            wait_established=wait_crds,
        )
        report = ApplyReport(results=results, dry_run=dry_run)
        finish(self.reporter, f"apply:{component}", report.summary())
        return report

    # --- reads / delete ------------------------------------------------------------------------

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The live object, or None when it does not exist (or its kind is not served at all)."""
        resolved = self.mapper.try_resolve(api_version, kind)
        if resolved is None:
            return None
        info = resolved

        def get() -> dict[str, Any] | None:
            try:
                obj: dict[str, Any] = self.api.request(
                    "GET", info.path(namespace if info.namespaced else None, name)
                )
                return obj
            except ApiError as exc:
                if exc.status == 404:
                    return None
                raise

        result: dict[str, Any] | None = retry_call(
            get, deadline=self._deadline(60), what=f"get {kind} {_where(namespace, name)}", policy=self.policy
        )
        return result

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Objects of a kind ([] when the kind is not served, e.g. its CRD is not installed)."""
        info = self.mapper.try_resolve(api_version, kind)
        if info is None:
            return []
        query = [("labelSelector", label_selector)] if label_selector else []
        lst = retry_call(
            lambda: self.api.request("GET", info.path(namespace if info.namespaced else None), query=query),
            deadline=self._deadline(60),
            what=f"list {kind}",
            policy=self.policy,
        )
        items: builtins.list[dict[str, Any]] = list((lst or {}).get("items") or [])
        for item in items:
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", info.kind)
        return items

    def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None, timeout: float = 60
    ) -> bool:
        """Delete and wait until gone. False when it did not exist; NotReadyError when stuck."""
        info = self.mapper.resolve(api_version, kind)
        ns = namespace if info.namespaced else None
        deadline = self._deadline(timeout)

        def delete() -> bool:
            try:
                self.api.request("DELETE", info.path(ns, name), query=[("propagationPolicy", "Background")])
            except ApiError as exc:
                if exc.status == 404:
                    return False
                raise
            return True

        existed: bool = retry_call(
            delete, deadline=deadline, what=f"delete {kind} {_where(ns, name)}", policy=self.policy
        )
        if not existed:
            return False
        last = watch_until(
            self.api, info, namespace=ns, name=name, check=gone, deadline=deadline, policy=self.policy
        )
        if last.state != "ready":
            raise NotReadyError(
                f"{kind} {_where(ns, name)} still exists after {timeout:g}s: {last.summary}",
                details=self.diagnose(api_version, kind, name, ns),
            )
        return True

    # --- waits -------------------------------------------------------------------------------

    def _wait(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        check: Check,
        timeout: float,
        *,
        what: str | None = None,
    ) -> Progress:
        info = self.mapper.resolve(api_version, kind)
        ns = namespace if info.namespaced else None
        step = f"wait:{kind}/{_where(ns, name)}"
        start(self.reporter, step, what or "")
        deadline = self._deadline(timeout)
        last = watch_until(
            self.api, info, namespace=ns, name=name, check=check, deadline=deadline, policy=self.policy
        )
        if last.state == "ready":
            finish(self.reporter, step, last.summary)
            return last
        verb = "failed" if last.state == "failed" else f"not ready after {timeout:g}s"
        raise NotReadyError(
            f"{kind} {_where(ns, name)} {verb}: {last.summary}",
            details=self.diagnose(api_version, kind, name, ns),
        )

    def wait_established(self, crd_names: Sequence[str], timeout: float) -> None:
        deadline = self._deadline(timeout)
        pending = list(dict.fromkeys(crd_names))
        if len(pending) > 3:
            # one list instead of a list+watch per CRD when most are Established already
            info = self.mapper.resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition")
            lst = retry_call(
                lambda: self.api.request("GET", info.path()),
                deadline=deadline,
                what="list CustomResourceDefinitions",
                policy=self.policy,
            )
            done = {
                str(c["metadata"]["name"])
                for c in (lst or {}).get("items") or []
                if crd_established([c]).state == "ready"
            }
            pending = [n for n in pending if n not in done]
        for name in pending:
            remaining = max(0.0, deadline - self.policy.clock())
            self._wait(
                "apiextensions.k8s.io/v1", "CustomResourceDefinition", name, None, crd_established, remaining
            )

    def wait_rollout(self, kind: str, namespace: str, name: str, timeout: float) -> None:
        if kind not in ROLLOUT_KINDS:
            raise UsageError(f"wait_rollout: kind {kind} is not one of {', '.join(ROLLOUT_KINDS)}")
        self._wait(ROLLOUT_KINDS[kind], kind, name, namespace, rollout_complete(kind), timeout)

    def wait_job(self, namespace: str, name: str, timeout: float) -> None:
        self._wait("batch/v1", "Job", name, namespace, job_complete, timeout)

    def wait_ready(
        self, api_version: str, kind: str, name: str, namespace: str | None, timeout: float
    ) -> dict[str, Any]:
        """Ready=True (observedGeneration current); returns the object (``status.url`` for Knative/KServe)."""
        last = self._wait(api_version, kind, name, namespace, ready_condition, timeout)
        return last.obj or {}

    def wait_endpoints(self, namespace: str, service: str, timeout: float) -> None:
        """At least one ready endpoint in the Service's EndpointSlices (webhooks answer only then)."""
        info = self.mapper.resolve("discovery.k8s.io/v1", "EndpointSlice")
        step = f"wait:endpoints/{namespace}/{service}"
        start(self.reporter, step)
        deadline = self._deadline(timeout)
        last = watch_until(
            self.api,
            info,
            namespace=namespace,
            label_selector=f"kubernetes.io/service-name={service}",
            check=endpoints_ready,
            deadline=deadline,
            policy=self.policy,
        )
        if last.state == "ready":
            finish(self.reporter, step, last.summary)
            return
        details = [f"EndpointSlices of Service {namespace}/{service}: {last.summary}"]
        details += self.diagnose("v1", "Service", service, namespace)
        details += self._service_pods(namespace, service)
        raise NotReadyError(
            f"Service {namespace}/{service} has no ready endpoints after {timeout:g}s: {last.summary}",
            details=details,
        )

    def _service_pods(self, namespace: str, service: str) -> builtins.list[str]:
        """Diagnose the pods behind a Service's selector (the webhook's pods)."""
        from platformctl.drivers.kube.diagnose import _pod_ready, describe_pod

        lines: builtins.list[str] = []
        try:
            svc = self.api.request("GET", f"/api/v1/namespaces/{namespace}/services/{service}") or {}
            sel = (svc.get("spec") or {}).get("selector") or {}
            if not sel:
                return lines
            selector = ",".join(f"{k}={v}" for k, v in sel.items())
            pods = self.api.request(
                "GET", f"/api/v1/namespaces/{namespace}/pods", query=[("labelSelector", selector)]
            )
            items = (pods or {}).get("items") or []
            if not items:
                lines.append(f"no pods match the Service selector {selector}")
            for pod in [p for p in items if not _pod_ready(p)][:5]:
                lines.extend(describe_pod(self.api, pod))
        except Exception as exc:
            lines.append(f"(could not read pods of Service {namespace}/{service}: {exc})")
        return lines

    # --- diagnostics / prune -----------------------------------------------------------------

    def diagnose(self, api_version: str, kind: str, name: str, namespace: str | None) -> builtins.list[str]:
        return _diagnose(self.api, self.mapper, api_version, kind, name, namespace)

    def prune(self, *, component: str | None = None, timeout: float = 300) -> PruneReport:
        pruner = Pruner(self.api, self.mapper, policy=self.policy, reporter=self.reporter)
        step = f"prune:{component or 'all'}"
        start(self.reporter, step)
        report = pruner.prune(component, self._deadline(timeout))
        finish(self.reporter, step, f"{len(report.deleted)} objects deleted")
        return report

    def managed_objects(self, *, timeout: float = 300) -> builtins.list[Found]:
        """Every object carrying platformctl's ownership labels (all components), for stale.of_component."""
        pruner = Pruner(self.api, self.mapper, policy=self.policy, reporter=self.reporter)
        return pruner.discover(None, self._deadline(timeout))

    def prune_stale(
        self, stale: builtins.list[Found], *, component: str, timeout: float = 300, dry_run: bool = False
    ) -> StaleReport:
        """Delete objects of ``component`` its new render lacks (drivers/kube/stale.py rules)."""
        pruner = Pruner(self.api, self.mapper, policy=self.policy, reporter=self.reporter)
        return delete_stale(pruner, stale, self._deadline(timeout), step=component, dry_run=dry_run)


def wall_clock() -> float:  # pragma: no cover - re-exported for callers that want the same clock
    return time.monotonic()
