"""``platformctl models list`` / ``describe`` / ``delete``: InferenceServices as rows, one model's tiers,
deletion by name (its platformctl-created storage Secret and ServiceAccount go with it: owner references)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl.errors import UsageError
from platformctl.kubeobjects import condition
from platformctl.usecases.deploy_model import predictor_traffic, validate_name
from platformctl.usecases.model_spec import ISVC_API, ISVC_KIND, ModelSettings, settings_from_live

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
    cond = condition(obj, "Ready")
    if cond is None:
        return False, "no Ready condition yet"
    ok = cond.get("status") == "True"
    return ok, None if ok else (cond.get("reason") or cond.get("message"))


def to_row(obj: dict[str, Any]) -> ModelRow:
    meta = obj.get("metadata") or {}
    settings = settings_from_live(obj)
    ready, reason = _ready(obj)
    return ModelRow(
        name=str(meta.get("name")),
        namespace=str(meta.get("namespace")),
        format=settings.format or ("custom" if settings.custom else None),
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


def _condition(obj: dict[str, Any], kind: str) -> tuple[bool | None, str | None]:
    cond = condition(obj, kind)
    if cond is None:
        return None, None
    ok = cond.get("status") == "True"
    return ok, None if ok else (cond.get("reason") or cond.get("message"))


@dataclass
class ComponentView:
    """One tier of an InferenceService: what serves it, its URL and readiness."""

    component: str  # predictor / transformer
    serves: str  # "sklearn (runtime kserve-sklearnserver)" / "image ghcr.io/me/server:1"
    url: str | None
    ready: bool | None  # None: KServe reported no condition for it yet
    reason: str | None
    revision: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "serves": self.serves,
            "url": self.url,
            "ready": self.ready,
            "reason": self.reason,
            "revision": self.revision,
        }


@dataclass
class ModelDescription:
    row: ModelRow
    protocol: str
    settings: ModelSettings
    components: list[ComponentView]

    def to_dict(self) -> dict[str, Any]:
        s = self.settings
        return {
            **self.row.to_dict(),
            "protocol": self.protocol,
            "minReplicas": s.min_replicas,
            "maxReplicas": s.max_replicas,
            "canaryTrafficPercent": s.canary_traffic_percent,
            "serviceAccountName": s.service_account,
            "storageUri": s.storage_uri,
            "components": [c.to_dict() for c in self.components],
        }


def describe_model(engine: Engine, name: str, namespace: str) -> ModelDescription:
    """The model's tiers (transformer, then predictor) with URLs and readiness, and its settings."""
    validate_name(name, "NAME")
    validate_name(namespace, "--namespace")
    obj = engine.get(ISVC_API, ISVC_KIND, name, namespace)
    if obj is None:
        raise UsageError(f"NAME: InferenceService {name!r} not found in namespace {namespace}")
    s = settings_from_live(obj)
    comps = (obj.get("status") or {}).get("components") or {}
    views: list[ComponentView] = []
    if s.transformer_image is not None:
        t = comps.get("transformer") or {}
        ok, why = _condition(obj, "TransformerReady")
        views.append(
            ComponentView(
                "transformer",
                f"image {s.transformer_image}",
                t.get("url"),
                ok,
                why,
                t.get("latestReadyRevision") or t.get("latestCreatedRevision"),
            )
        )
    p = comps.get("predictor") or {}
    ok, why = _condition(obj, "PredictorReady")
    if s.custom:
        serves = f"image {s.image}"
    else:
        serves = f"{s.format}" + (f" (runtime {s.runtime})" if s.runtime else " (runtime: KServe picks)")
    views.append(
        ComponentView(
            "predictor",
            serves,
            p.get("url"),
            ok,
            why,
            p.get("latestReadyRevision") or p.get("latestCreatedRevision"),
        )
    )
    return ModelDescription(to_row(obj), s.protocol or "v1", s, views)
