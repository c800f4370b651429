"""Readiness rules (pure functions over live objects) and the watch loop that evaluates them.

Each wait lists the object(s) once, judges them, then watches from the list's resourceVersion with
``timeoutSeconds`` bounded by what is left of the single deadline; when the watch ends (server
timeout, 410 Gone, dropped connection) it re-lists and re-watches. Transient API errors are retried
inside the same deadline (retry.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from platformctl.drivers.kube.connect import KubeApi
from platformctl.drivers.kube.mapping import ResourceInfo
from platformctl.drivers.kube.retry import RetryPolicy, backoff_delay, classify, retry_call
from platformctl.kubeobjects import conditions

State = Literal["ready", "pending", "failed"]
MAX_WATCH_SECONDS = 60  # re-list at least this often, so a silently dead watch cannot stall a wait


@dataclass(frozen=True)
class Progress:
    state: State
    summary: str
    obj: dict[str, Any] | None = None


Check = Callable[[list[dict[str, Any]]], Progress]


def _cond_text(c: dict[str, Any]) -> str:
    reason = f" ({c['reason']})" if c.get("reason") else ""
    message = f": {c['message']}" if c.get("message") else ""
    return f"{c.get('type')}={c.get('status')}{reason}{message}"


def _generation_observed(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    if "observedGeneration" not in status:
        return True  # resource does not report it
    return int(status.get("observedGeneration") or 0) >= int(
        (obj.get("metadata") or {}).get("generation") or 0
    )


def _single(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


# --- rules ---------------------------------------------------------------------------------


def crd_established(items: list[dict[str, Any]]) -> Progress:
    obj = _single(items)
    if obj is None:
        return Progress("pending", "CustomResourceDefinition does not exist")
    conds = conditions(obj)
    est = conds.get("Established")
    if est and est.get("status") == "True":
        return Progress("ready", "Established", obj)
    names = conds.get("NamesAccepted")
    if names and names.get("status") == "False":
        return Progress("failed", f"names not accepted: {names.get('message', '')}", obj)
    return Progress("pending", _cond_text(est) if est else "no Established condition yet", obj)


def _int(d: dict[str, Any], key: str) -> int:
    return int(d.get(key) or 0)


def rollout_complete(kind: str) -> Check:
    def check(items: list[dict[str, Any]]) -> Progress:
        obj = _single(items)
        if obj is None:
            return Progress("pending", f"{kind} does not exist")
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        if not _generation_observed(obj) or "observedGeneration" not in status:
            return Progress("pending", "controller has not observed the latest generation", obj)
        if kind == "DaemonSet":
            desired = _int(status, "desiredNumberScheduled")
            updated = _int(status, "updatedNumberScheduled")
            ready = _int(status, "numberReady")
            available = _int(status, "numberAvailable")
            summary = f"{available}/{desired} pods available ({updated} updated, {ready} ready)"
            done = updated >= desired and ready >= desired and available >= desired
            return Progress("ready" if done else "pending", summary, obj)
        desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
        updated = _int(status, "updatedReplicas")
        ready = _int(status, "readyReplicas")
        available = _int(status, "availableReplicas")
        current = _int(status, "replicas")
        if kind == "Deployment":
            progressing = conditions(obj).get("Progressing")
            if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
                return Progress(
                    "failed", f"progress deadline exceeded: {progressing.get('message', '')}", obj
                )
        summary = f"{available}/{desired} replicas available ({updated} updated, {ready} ready)"
        if kind == "StatefulSet" and "availableReplicas" not in status:
            available = ready  # older apiservers do not report it for StatefulSets
            summary = f"{ready}/{desired} replicas ready ({updated} updated)"
        done = updated >= desired and ready >= desired and available >= desired and current <= desired
        if done and kind == "Deployment" and current > updated:
            done = False
            summary += f"; {current - updated} old replicas pending termination"
        return Progress("ready" if done else "pending", summary, obj)

    return check


def job_complete(items: list[dict[str, Any]]) -> Progress:
    obj = _single(items)
    if obj is None:
        return Progress("pending", "Job does not exist")
    conds = conditions(obj)
    failed = conds.get("Failed")
    if failed and failed.get("status") == "True":
        return Progress(
            "failed", f"failed: {failed.get('reason', '')}: {failed.get('message', '')}".rstrip(": "), obj
        )
    complete = conds.get("Complete")
    if complete and complete.get("status") == "True":
        return Progress("ready", "complete", obj)
    status = obj.get("status") or {}
    return Progress(
        "pending",
        f"{_int(status, 'succeeded')} succeeded, {_int(status, 'active')} active, "
        f"{_int(status, 'failed')} failed",
        obj,
    )


def ready_condition(items: list[dict[str, Any]]) -> Progress:
    obj = _single(items)
    if obj is None:
        return Progress("pending", "does not exist")
    ready = conditions(obj).get("Ready")
    if ready is None:
        return Progress("pending", "no Ready condition yet", obj)
    if ready.get("status") == "True" and _generation_observed(obj):
        return Progress("ready", "Ready", obj)
    # Ready=False is often transient for Knative/KServe (e.g. RevisionMissing): keep waiting.
    return Progress("pending", _cond_text(ready), obj)


def endpoints_ready(items: list[dict[str, Any]]) -> Progress:
    total = 0
    for slice_ in items:
        for ep in slice_.get("endpoints") or []:
            total += 1
            if (ep.get("conditions") or {}).get("ready") is not False and ep.get("addresses"):
                # unset means ready: discovery/v1 types.go EndpointConditions.Ready "A nil value
                # indicates an unknown state. In most cases consumers should interpret this ... as ready"
                return Progress("ready", "a ready endpoint is serving", slice_)
    if not items:
        return Progress("pending", "no EndpointSlices for the Service yet")
    return Progress("pending", f"0 of {total} endpoints ready")


def gone(items: list[dict[str, Any]]) -> Progress:
    obj = _single(items)
    if obj is None:
        return Progress("ready", "deleted")
    fin = (obj.get("metadata") or {}).get("finalizers") or []
    spec_fin = (obj.get("spec") or {}).get("finalizers") or []
    blockers = list(fin) + [f"spec:{f}" for f in spec_fin]
    return Progress("pending", f"still terminating (finalizers: {', '.join(blockers) or 'none'})", obj)


# --- the watch loop -------------------------------------------------------------------------


def _key(obj: dict[str, Any]) -> str:
    md = obj.get("metadata") or {}
    return str(md.get("uid") or f"{md.get('namespace')}/{md.get('name')}")


def watch_until(
    api: KubeApi,
    info: ResourceInfo,
    *,
    namespace: str | None,
    check: Check,
    deadline: float,
    name: str | None = None,
    label_selector: str | None = None,
    policy: RetryPolicy | None = None,
) -> Progress:
    """Evaluate ``check`` on the matching objects until it is not "pending" or the deadline passes.

    Returns the last Progress (state "pending" means the deadline passed).
    """
    from kubernetes import watch as _watch

    k8s_watch: Any = _watch  # the client is untyped

    p = policy or RetryPolicy()
    query: list[tuple[str, str]] = []
    if name is not None:
        query.append(("fieldSelector", f"metadata.name={name}"))
    if label_selector:
        query.append(("labelSelector", label_selector))
    path = info.path(namespace)
    what = f"waiting for {info.kind} {namespace + '/' if namespace else ''}{name or label_selector or ''}"
    last = Progress("pending", "not observed yet")
    errors = 0
    while True:
        # always judge at least once, even with no time left: the object may be ready already
        lst = retry_call(
            lambda: api.request("GET", path, query=query), deadline=deadline, what=what, policy=p
        )
        items: dict[str, dict[str, Any]] = {}
        for item in (lst or {}).get("items") or []:
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", info.kind)
            items[_key(item)] = item
        last = check(list(items.values()))
        if last.state != "pending":
            return last
        rv = str(((lst or {}).get("metadata") or {}).get("resourceVersion") or "")
        remaining = deadline - p.clock()
        if remaining <= 0:
            return last
        seconds = max(1, math.ceil(min(remaining, MAX_WATCH_SECONDS)))

        def open_watch(
            *,
            watch: bool = True,
            _preload_content: bool = False,
            resource_version: str = "",
            timeout_seconds: int = 1,
        ) -> Any:
            q = [
                *query,
                ("watch", "true"),
                ("timeoutSeconds", str(timeout_seconds)),
                ("allowWatchBookmarks", "true"),
            ]
            if resource_version:
                q.append(("resourceVersion", resource_version))
            return api.stream(path, q, read_timeout=timeout_seconds + 5)

        w = k8s_watch.Watch()
        try:
            for event in w.stream(open_watch, resource_version=rv, timeout_seconds=seconds):
                etype = event.get("type")
                obj = event.get("raw_object") or event.get("object")
                if etype == "BOOKMARK" or not isinstance(obj, dict):
                    continue
                obj.setdefault("apiVersion", info.api_version)
                obj.setdefault("kind", info.kind)
                if etype == "DELETED":
                    items.pop(_key(obj), None)
                else:
                    items[_key(obj)] = obj
                last = check(list(items.values()))
                if last.state != "pending" or p.clock() >= deadline:
                    w.stop()
                    break
            errors = 0
        except Exception as exc:
            if getattr(exc, "status", None) == 410:
                # "too old resource version": the API concepts doc says re-list, then watch from
                # the list's resourceVersion (kubernetes.watch raises it when timeout_seconds is set)
                continue
            verdict = classify(exc)
            if not verdict.transient:
                raise
            errors += 1
            delay = max(backoff_delay(errors, base=p.base, cap=p.cap, rng=p.rng), verdict.retry_after or 0.0)
            p.sleep(min(delay, max(0.0, deadline - p.clock())))
        if last.state != "pending":
            return last


def deadline_in(timeout: float, clock: Callable[[], float] = time.monotonic) -> float:
    return clock() + timeout
