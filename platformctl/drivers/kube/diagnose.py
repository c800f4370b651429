"""What to tell the user when something is not ready: conditions, Events, unready pods, crash logs.

Never raises: every lookup that fails becomes a line saying so, because diagnostics are produced
while another error is already being reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from platformctl.drivers.kube.connect import KubeApi
from platformctl.drivers.kube.mapping import RestMapper
from platformctl.kubeobjects import conditions

MAX_EVENTS = 8
MAX_PODS = 5
LOG_LINES = 20
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def _safe(lines: list[str], what: str, fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as exc:  # diagnostics must not mask the original failure
        lines.append(f"(could not read {what}: {exc})")


def label_selector_of(obj: dict[str, Any]) -> str | None:
    """matchLabels (+ simple matchExpressions) of a workload as a label selector string."""
    sel = (obj.get("spec") or {}).get("selector") or {}
    parts = [f"{k}={v}" for k, v in (sel.get("matchLabels") or {}).items()]
    for expr in sel.get("matchExpressions") or []:
        op = expr.get("operator")
        values = ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            parts.append(str(expr["key"]))
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
    return ",".join(parts) or None


def _event_time(ev: dict[str, Any]) -> str:
    return str(
        ev.get("lastTimestamp")
        or ev.get("eventTime")
        or ev.get("firstTimestamp")
        or (ev.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def events_for(
    api: KubeApi, kind: str, name: str, namespace: str | None, limit: int = MAX_EVENTS
) -> list[str]:
    path = f"/api/v1/namespaces/{namespace}/events" if namespace else "/api/v1/events"
    selector = f"involvedObject.kind={kind},involvedObject.name={name}"
    lst = api.request("GET", path, query=[("fieldSelector", selector)]) or {}
    events = [
        e
        for e in lst.get("items") or []
        if (e.get("involvedObject") or {}).get("name") == name
        and (e.get("involvedObject") or {}).get("kind") == kind
    ]
    events.sort(key=_event_time)
    out = []
    for ev in events[-limit:]:
        count = f" (x{ev['count']})" if int(ev.get("count") or 1) > 1 else ""
        out.append(
            f"event {ev.get('type', 'Normal')} {ev.get('reason', '')}: "
            f"{ev.get('message', '')}{count}".rstrip()
        )
    return out


def _pod_ready(pod: dict[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return True
    ready = conditions(pod).get("Ready")
    return phase == "Running" and bool(ready and ready.get("status") == "True")


def describe_pod(api: KubeApi, pod: dict[str, Any]) -> list[str]:
    md = pod.get("metadata") or {}
    name, namespace = str(md.get("name")), str(md.get("namespace"))
    status = pod.get("status") or {}
    lines = [f"pod {namespace}/{name}: phase {status.get('phase', 'Unknown')}"]
    scheduled = conditions(pod).get("PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        lines.append(
            f"  {scheduled.get('reason', 'Unschedulable')}: {scheduled.get('message', '')}".rstrip(": ")
        )
    statuses = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    for cs in statuses:
        cname = cs.get("name", "?")
        state = cs.get("state") or {}
        last = (cs.get("lastState") or {}).get("terminated")
        crashing = False
        if "waiting" in state:
            w = state["waiting"] or {}
            lines.append(
                f"  container {cname}: waiting {w.get('reason', '')}: {w.get('message', '')}".rstrip(": ")
            )
            crashing = w.get("reason") in ("CrashLoopBackOff", "RunContainerError") or last is not None
        elif "terminated" in state:
            t = state["terminated"] or {}
            lines.append(
                f"  container {cname}: terminated {t.get('reason', '')} (exit code {t.get('exitCode', '?')})"
                + (f": {t['message']}" if t.get("message") else "")
            )
            crashing = int(t.get("exitCode") or 0) != 0
        elif not cs.get("ready", False):
            lines.append(f"  container {cname}: running but not ready (restarts {cs.get('restartCount', 0)})")
        if last:
            lines.append(
                f"  container {cname}: last terminated {last.get('reason', '')} "
                f"(exit code {last.get('exitCode', '?')})"
            )
        if crashing:
            previous = "waiting" in state and last is not None
            try:
                lines.extend(_logs(api, namespace, name, str(cname), previous))
            except Exception as exc:  # diagnostics must not mask the original failure
                lines.append(f"  (could not read logs of {name}/{cname}: {exc})")
    _safe(
        lines,
        f"events of pod {name}",
        lambda: lines.extend("  " + e for e in events_for(api, "Pod", name, namespace, 5)),
    )
    return lines


def _logs(api: KubeApi, namespace: str, pod: str, container: str, previous: bool) -> list[str]:
    query = [("container", container), ("tailLines", str(LOG_LINES))]
    if previous:
        query.append(("previous", "true"))
    text = api.request("GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query=query, text=True)
    tail = [ln for ln in str(text or "").splitlines() if ln.strip()][-LOG_LINES:]
    header = f"  logs of {container}{' (previous run)' if previous else ''}, last {len(tail)} lines:"
    return [header, *("    | " + ln for ln in tail)]


def diagnose(
    api: KubeApi, mapper: RestMapper, api_version: str, kind: str, name: str, namespace: str | None
) -> list[str]:
    lines: list[str] = []
    where = f"{namespace}/{name}" if namespace else name
    obj: dict[str, Any] | None = None

    def read() -> None:
        nonlocal obj
        info = mapper.resolve(api_version, kind)
        try:
            obj = api.request("GET", info.path(namespace, name))
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                lines.append(f"{kind} {where} does not exist")
                return
            raise

    _safe(lines, f"{kind} {where}", read)
    if obj is not None:
        for c in conditions(obj).values():
            reason = f" ({c['reason']})" if c.get("reason") else ""
            message = f": {c['message']}" if c.get("message") else ""
            lines.append(f"condition {c.get('type')}={c.get('status')}{reason}{message}")
    _safe(lines, f"events of {kind} {where}", lambda: lines.extend(events_for(api, kind, name, namespace)))
    if obj is not None and kind in WORKLOAD_KINDS and namespace:
        selector = label_selector_of(obj)
        if selector:

            def pods() -> None:
                lst = (
                    api.request(
                        "GET", f"/api/v1/namespaces/{namespace}/pods", query=[("labelSelector", selector)]
                    )
                    or {}
                )
                items = lst.get("items") or []
                unready = [p for p in items if not _pod_ready(p)]
                if not items:
                    lines.append(f"no pods match {selector}")
                for pod in unready[:MAX_PODS]:
                    lines.extend(describe_pod(api, pod))
                if len(unready) > MAX_PODS:
                    lines.append(f"… and {len(unready) - MAX_PODS} more unready pods")

            _safe(lines, f"pods of {kind} {where}", pods)
    return lines
