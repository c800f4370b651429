"""``platformctl models list`` / ``models delete``: InferenceServices as rows, deletion by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl.errors import UsageError
from platformctl.usecases.deploy_model import ISVC_API, ISVC_KIND, predictor_traffic, validate_name

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine


@dataclass
class ModelRow:
    name: str
    namespace: str
    format: str | None
    url: str | None
    ready: bool
    reason: str | None
    traffic: list[dict[str, Any]] = field(default_factory=list)

    def traffic_split(self) -> str:
        """``00001:90% 00002:10% (latest)`` from status.components.predictor.traffic."""
        parts = []
        for t in self.traffic:
            rev = str(t.get("revisionName") or t.get("tag") or "?")
            latest = " (latest)" if t.get("latestRevision") else ""
            parts.append(f"{rev}:{t.get('percent', 0)}%{latest}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "format": self.format,
            "url": self.url,
            "ready": self.ready,
            "reason": self.reason,
            "traffic": self.traffic,
        }


def _ready(obj: dict[str, Any]) -> tuple[bool, str | None]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            ok = cond.get("status") == "True"
            return ok, None if ok else (cond.get("reason") or cond.get("message"))
    return False, "no Ready condition yet"


def to_row(obj: dict[str, Any]) -> ModelRow:
    meta = obj.get("metadata") or {}
    model = ((obj.get("spec") or {}).get("predictor") or {}).get("model") or {}
    ready, reason = _ready(obj)
    return ModelRow(
        name=str(meta.get("name")),
        namespace=str(meta.get("namespace")),
        format=(model.get("modelFormat") or {}).get("name"),
        url=(obj.get("status") or {}).get("url"),
        ready=ready,
        reason=reason,
        traffic=predictor_traffic(obj),
    )


def list_models(engine: Engine, namespace: str | None = None) -> list[ModelRow]:
    """Every InferenceService (all namespaces when ``namespace`` is None), sorted by namespace/name."""
    rows = [to_row(o) for o in engine.list(ISVC_API, ISVC_KIND, namespace=namespace)]
    return sorted(rows, key=lambda r: (r.namespace, r.name))


def delete_model(engine: Engine, name: str, namespace: str, *, timeout: float = 60) -> bool:
    """Delete one InferenceService; UsageError when it does not exist (nothing to confirm)."""
    validate_name(name, "NAME")
    validate_name(namespace, "--namespace")
    if engine.get(ISVC_API, ISVC_KIND, name, namespace) is None:
        raise UsageError(f"NAME: InferenceService {name!r} not found in namespace {namespace}")
    return engine.delete(ISVC_API, ISVC_KIND, name, namespace, timeout=timeout)
