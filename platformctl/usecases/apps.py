"""``platformctl apps list|describe|promote|delete|logs``: the apps deploy-app put on the cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl.errors import SafetyError, UsageError
from platformctl.kubeobjects import condition, conditions
from platformctl.usecases.deploy_app import (
    APP_LABEL,
    COMPONENT,
    KIND_LABEL,
    KSVC_API,
    KSVC_KIND,
    MANAGED_BY,
    REQUEST_ANNOTATION,
    REVISION_KIND,
    SUBSCRIPTION_API,
    bound_components,
    component_scopes,
    is_ours,
    release_components,
    render_service,
    request_from_record,
    set_scopes,
    status_traffic,
    wait_app,
)
from platformctl.usecases.deploy_model import validate_name

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

MIN_SCALE = "autoscaling.knative.dev/min-scale"
MAX_SCALE = "autoscaling.knative.dev/max-scale"
# Labels Knative puts on a revision's pods (knative/serving pkg/apis/serving/register.go).
SERVICE_LABEL = "serving.knative.dev/service"
REVISION_LABEL = "serving.knative.dev/revision"


def _ready(obj: dict[str, Any]) -> tuple[bool, str | None]:
    cond = condition(obj, "Ready")
    if cond is None:
        return False, "no Ready condition yet"
    ok = cond.get("status") == "True"
    return ok, None if ok else (cond.get("reason") or cond.get("message") or "not ready")


def traffic_split(traffic: list[dict[str, Any]]) -> str:
    """``hello-00002:10% (latest, tag v2) hello-00001:90%``."""
    parts = []
    for t in traffic:
        notes = (["latest"] if t.get("latestRevision") else []) + (
            [f"tag {t['tag']}"] if t.get("tag") else []
        )
        suffix = f" ({', '.join(notes)})" if notes else ""
        parts.append(f"{t.get('revisionName') or '?'}:{t.get('percent', 0)}%{suffix}")
    return " ".join(parts)


@dataclass
class AppRow:
    name: str
    namespace: str
    url: str | None
    ready: bool
    reason: str | None
    latest_revision: str | None
    traffic: list[dict[str, Any]] = field(default_factory=list)
    pods: int = 0
    min_scale: int = 0
    max_scale: int | None = None
    managed: bool = True

    def scale(self) -> str:
        return f"{self.pods} ({self.min_scale}-{self.max_scale if self.max_scale is not None else '∞'})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "url": self.url,
            "ready": self.ready,
            "reason": self.reason,
            "latestRevision": self.latest_revision,
            "traffic": self.traffic,
            "pods": self.pods,
            "minScale": self.min_scale,
            "maxScale": self.max_scale,
        }


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def to_row(obj: dict[str, Any], pods: int) -> AppRow:
    meta = obj.get("metadata") or {}
    annotations = ((((obj.get("spec") or {}).get("template") or {}).get("metadata")) or {}).get(
        "annotations"
    ) or {}
    status = obj.get("status") or {}
    ready, reason = _ready(obj)
    return AppRow(
        name=str(meta.get("name")),
        namespace=str(meta.get("namespace")),
        url=status.get("url"),
        ready=ready,
        reason=reason,
        latest_revision=status.get("latestCreatedRevisionName"),
        traffic=status_traffic(obj),
        pods=pods,
        min_scale=_int(annotations.get(MIN_SCALE)) or 0,
        max_scale=_int(annotations.get(MAX_SCALE)),
        managed=is_ours(obj),
    )


def _running_pods(engine: Engine, namespace: str | None) -> dict[tuple[str, str], int]:
    """(namespace, service) -> running pods of any of its revisions."""
    counts: dict[tuple[str, str], int] = {}
    for pod in engine.list("v1", "Pod", namespace=namespace, label_selector=SERVICE_LABEL):
        meta = pod.get("metadata") or {}
        if (pod.get("status") or {}).get("phase") != "Running" or meta.get("deletionTimestamp"):
            continue
        key = (str(meta.get("namespace")), str((meta.get("labels") or {}).get(SERVICE_LABEL)))
        counts[key] = counts.get(key, 0) + 1
    return counts


def list_apps(engine: Engine, namespace: str | None = None) -> list[AppRow]:
    """Every app deploy-app created (all namespaces when ``namespace`` is None), by namespace/name."""
    objs = engine.list(
        KSVC_API, KSVC_KIND, namespace=namespace, label_selector=f"{MANAGED_BY}=platformctl,{KIND_LABEL}=app"
    )
    pods = _running_pods(engine, namespace) if objs else {}
    rows = [
        to_row(o, pods.get((str(o["metadata"].get("namespace")), str(o["metadata"]["name"])), 0))
        for o in objs
    ]
    return sorted(rows, key=lambda r: (r.namespace, r.name))


def get_app(engine: Engine, name: str, namespace: str) -> dict[str, Any]:
    validate_name(name, "NAME")
    validate_name(namespace, "--namespace")
    obj = engine.get(KSVC_API, KSVC_KIND, name, namespace)
    if obj is None:
        raise UsageError(
            f"NAME: app {name!r} not found in namespace {namespace} (see `platformctl apps list`)"
        )
    return obj


@dataclass
class RevisionInfo:
    name: str
    generation: int | None
    created: str | None
    ready: bool
    reason: str | None
    percent: int
    tags: list[str]
    image: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "generation": self.generation,
            "created": self.created,
            "ready": self.ready,
            "reason": self.reason,
            "percent": self.percent,
            "tags": self.tags,
            "image": self.image,
        }


@dataclass
class AppDescription:
    row: AppRow
    conditions: list[dict[str, Any]]
    revisions: list[RevisionInfo]
    bindings: list[str]
    subscriptions: list[dict[str, str]]
    image: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.row.to_dict(),
            "image": self.image,
            "conditions": self.conditions,
            "revisions": [r.to_dict() for r in self.revisions],
            "bindings": self.bindings,
            "subscriptions": self.subscriptions,
        }


def describe_app(engine: Engine, name: str, namespace: str) -> AppDescription:
    obj = get_app(engine, name, namespace)
    pods = _running_pods(engine, namespace).get((namespace, name), 0)
    row = to_row(obj, pods)
    traffic = status_traffic(obj)
    revisions: list[RevisionInfo] = []
    for rev in engine.list(
        KSVC_API, REVISION_KIND, namespace=namespace, label_selector=f"{SERVICE_LABEL}={name}"
    ):
        meta = rev.get("metadata") or {}
        rname = str(meta.get("name"))
        ready, reason = _ready(rev)
        containers = ((rev.get("spec") or {}).get("containers")) or [{}]
        revisions.append(
            RevisionInfo(
                name=rname,
                generation=_int(
                    (meta.get("labels") or {}).get("serving.knative.dev/configurationGeneration")
                ),
                created=meta.get("creationTimestamp"),
                ready=ready,
                reason=reason,
                percent=sum(int(t.get("percent") or 0) for t in traffic if t.get("revisionName") == rname),
                tags=[str(t["tag"]) for t in traffic if t.get("revisionName") == rname and t.get("tag")],
                image=containers[0].get("image"),
            )
        )
    revisions.sort(key=lambda r: (r.generation or 0, r.name), reverse=True)
    subs = [
        {
            "name": str(s["metadata"]["name"]),
            "topic": str((s.get("spec") or {}).get("topic")),
            "route": str(((s.get("spec") or {}).get("routes") or {}).get("default")),
            "pubsub": str((s.get("spec") or {}).get("pubsubname")),
        }
        for s in engine.list(
            SUBSCRIPTION_API, "Subscription", namespace=namespace, label_selector=f"{APP_LABEL}={name}"
        )
    ]
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or [{}]
    return AppDescription(
        row=row,
        conditions=list(conditions(obj).values()),
        revisions=revisions,
        bindings=bound_components(obj),
        subscriptions=subs,
        image=containers[0].get("image"),
    )


def _require_ours(obj: dict[str, Any], name: str, namespace: str, force: bool, what: str) -> None:
    if not is_ours(obj) and not force:
        raise SafetyError(
            f"NAME: Knative Service {namespace}/{name} was not deployed by platformctl; nothing was changed",
            hint=f"pass --force to {what} it anyway",
        )


@dataclass
class PromoteResult:
    name: str
    namespace: str
    changed: bool
    ready: bool
    traffic: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "changed": self.changed,
            "ready": self.ready,
            "traffic": self.traffic,
        }


def promote_app(
    engine: Engine, name: str, namespace: str, *, wait: bool = True, timeout: float = 300
) -> PromoteResult:
    """All traffic to the latest revision: the Service deploy-app rendered, without the canary split."""
    obj = get_app(engine, name, namespace)
    _require_ours(obj, name, namespace, False, "promote")
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REQUEST_ANNOTATION)
    try:
        record = json.loads(raw) if raw else None
    except ValueError:
        record = None
    if not isinstance(record, dict):
        raise SafetyError(
            f"NAME: app {namespace}/{name} has no readable {REQUEST_ANNOTATION} annotation; "
            "re-deploy it with deploy-app (without --traffic-percent) instead"
        )
    req, bindings = request_from_record(name, namespace, record)
    ksvc = render_service(req, dapr=bool(req.dapr), bindings=bindings)
    report = engine.apply([ksvc], component=COMPONENT, timeout=min(timeout, 300))
    changed = any(r.action != "unchanged" for r in report.results)
    live = (
        wait_app(engine, name, namespace, timeout)
        if wait
        else engine.get(KSVC_API, KSVC_KIND, name, namespace)
    )
    return PromoteResult(name, namespace, changed, wait, status_traffic(live or {}))


@dataclass
class DeleteResult:
    deleted: list[str]  # "Kind ns/name"

    def to_dict(self) -> dict[str, Any]:
        return {"deleted": self.deleted}


def check_deletable(engine: Engine, name: str, namespace: str, *, force: bool) -> dict[str, Any]:
    obj = get_app(engine, name, namespace)
    _require_ours(obj, name, namespace, force, "delete")
    return obj


def delete_app(
    engine: Engine, name: str, namespace: str, *, force: bool = False, timeout: float = 60
) -> DeleteResult:
    """Delete the app's Knative Service and what deploy-app created for it (its Subscriptions, and
    Components it created that no other app uses); take it out of the scopes of the rest."""
    obj = check_deletable(engine, name, namespace, force=force)
    deleted: list[str] = []
    bound = bound_components(obj)
    engine.delete(KSVC_API, KSVC_KIND, name, namespace, timeout=timeout)
    deleted.append(f"Service {namespace}/{name}")
    for sub in engine.list(
        SUBSCRIPTION_API, "Subscription", namespace=namespace, label_selector=f"{APP_LABEL}={name}"
    ):
        if (sub["metadata"].get("labels") or {}).get(MANAGED_BY) == "platformctl":
            engine.delete(
                SUBSCRIPTION_API, "Subscription", sub["metadata"]["name"], namespace, timeout=timeout
            )
            deleted.append(f"Subscription {namespace}/{sub['metadata']['name']}")
    if bound:
        scopes = component_scopes(engine, namespace, {name: []})
        released = release_components(engine, namespace, bound, scopes)
        deleted += [f"Component {namespace}/{c}" for c in released]
        set_scopes(engine, namespace, [c for c in bound if c not in released], scopes)
    return DeleteResult(deleted)


@dataclass
class PodLogs:
    pod: str
    container: str
    text: str


def app_pods(engine: Engine, name: str, namespace: str) -> tuple[str, list[str]]:
    """(latest revision, its pods newest first)."""
    obj = get_app(engine, name, namespace)
    status = obj.get("status") or {}
    revision = status.get("latestCreatedRevisionName") or status.get("latestReadyRevisionName")
    if not revision:
        raise UsageError(f"NAME: app {namespace}/{name} has no revision yet; nothing to show")
    pods = engine.list("v1", "Pod", namespace=namespace, label_selector=f"{REVISION_LABEL}={revision}")
    pods.sort(key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""), reverse=True)
    return str(revision), [str(p["metadata"]["name"]) for p in pods]


def app_logs(
    engine: Engine, name: str, namespace: str, *, tail: int | None = None
) -> tuple[str, list[PodLogs]]:
    """The app container's logs of every pod of the latest revision."""
    from platformctl.drivers.kube.logs import read_logs

    revision, pods = app_pods(engine, name, namespace)
    return revision, [PodLogs(p, name, read_logs(engine, namespace, p, name, tail=tail)) for p in pods]


def follow_app_logs(
    engine: Engine, namespace: str, pod: str, container: str, *, tail: int | None = None
) -> Iterator[str]:
    from platformctl.drivers.kube.logs import follow_logs

    return follow_logs(engine, namespace, pod, container, tail=tail)
