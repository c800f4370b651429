"""``platformctl status``: per component version and health (with the reason), and the URLs.

Works on partial installs: every component is asked independently and an error while judging one
(a CRD not installed yet, an API call failing) becomes that component's reason instead of aborting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl.errors import ClusterError, NotReadyError, PlatformError
from platformctl.kubeobjects import condition
from platformctl.plan.spec import COMPONENTS

if TYPE_CHECKING:
    from platformctl.components.base import Component, RenderContext
    from platformctl.drivers.kube.engine import Engine
    from platformctl.plan.spec import PlatformSpec

# The routable workloads whose ``status.url`` users want (Knative Services, InferenceServices).
URL_KINDS: tuple[tuple[str, str, str], ...] = (
    ("serving.knative.dev/v1", "Service", "ksvc"),
    ("serving.kserve.io/v1beta1", "InferenceService", "isvc"),
)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    enabled: bool
    version: str
    healthy: bool
    reason: str = ""
    urls: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Endpoint:
    kind: str  # ksvc | isvc
    namespace: str
    name: str
    url: str
    ready: bool
    reason: str = ""


@dataclass
class StatusResult:
    context: str
    server: str
    components: list[ComponentStatus]
    endpoints: list[Endpoint]

    @property
    def healthy(self) -> bool:
        return all(c.healthy for c in self.components if c.enabled)

    def as_dict(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "server": self.server,
            "healthy": self.healthy,
            "components": [
                {**asdict(c), "urls": [{"name": n, "url": u} for n, u in c.urls]} for c in self.components
            ],
            "endpoints": [asdict(e) for e in self.endpoints],
        }


def _ready(obj: dict[str, Any]) -> tuple[bool, str]:
    cond = condition(obj, "Ready")
    if cond is None:
        return False, "no Ready condition yet"
    ok = cond.get("status") == "True"
    return ok, "" if ok else str(cond.get("message") or cond.get("reason") or "not ready")


def endpoints(engine: Engine) -> list[Endpoint]:
    out: list[Endpoint] = []
    for api_version, kind, short in URL_KINDS:
        try:
            items = engine.list(api_version, kind)
        except PlatformError:
            continue  # CRD not installed (partial install): nothing of that kind to show
        for obj in items:
            meta = obj.get("metadata") or {}
            ready, reason = _ready(obj)
            out.append(
                Endpoint(
                    kind=short,
                    namespace=str(meta.get("namespace", "")),
                    name=str(meta.get("name", "")),
                    url=str((obj.get("status") or {}).get("url") or ""),
                    ready=ready,
                    reason=reason,
                )
            )
    return sorted(out, key=lambda e: (e.kind, e.namespace, e.name))


def component_status(
    name: str, comp: Component, enabled: bool, engine: Engine, ctx: RenderContext
) -> ComponentStatus:
    try:
        version = comp.version(ctx)
    except PlatformError as exc:
        version = f"? ({exc.message})"
    try:
        h = comp.health(engine, ctx)
    except (ClusterError, NotReadyError) as exc:
        return ComponentStatus(name, enabled, version, False, exc.message)
    except PlatformError as exc:
        return ComponentStatus(name, enabled, version, False, exc.message)
    return ComponentStatus(name, enabled, h.version or version, h.healthy, h.reason, list(h.urls))


def status(
    spec: PlatformSpec, engine: Engine, ctx: RenderContext, *, include_disabled: bool = False
) -> StatusResult:
    from platformctl.components import registry

    comps: list[ComponentStatus] = []
    for name in COMPONENTS:
        enabled = spec.components[name].enabled
        if not enabled and not include_disabled:
            continue
        comps.append(component_status(name, registry.get(name), enabled, engine, ctx))
    return StatusResult(engine.context_name, engine.server, comps, endpoints(engine))
