"""``platformctl render``: every object ``up`` would apply, one YAML document stream per component.

Deterministic by construction, so a GitOps repository only sees real changes: components in plan
(topological) order, objects in the order ``up`` applies them, mapping keys sorted (``apiVersion``,
``kind``, ``metadata`` first), no timestamps. The ownership labels the engine adds on apply are added
here too, so applying the rendered files elsewhere yields objects ``status``/``down`` recognise.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformctl import __version__, reporting
from platformctl.components.base import Apply, KubeObject, RenderContext
from platformctl.plan.dag import Plan, build_plan

if TYPE_CHECKING:
    from platformctl.plan.lock import VersionLock
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter

# Same values as platformctl.drivers.kube.labels (kept literal: importing the kube driver package here
# would pull the kubernetes client into `render`, which needs no cluster).
MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY = "platformctl"
COMPONENT_KEY = "platformctl.io/component"
HEADER_PREFIX = "# Rendered by platformctl"


@dataclass(frozen=True)
class SourceOptions:
    """Where manifests and charts come from (flags --manifests-dir, --charts-dir, --no-download)."""

    manifests_dir: Path | None = None
    charts_dir: Path | None = None
    allow_download: bool = True
    helm_binary: Path | None = None
    cache_dir: Path | None = None


def make_render_context(
    spec: PlatformSpec,
    sources: SourceOptions,
    reporter: Reporter,
    lock: VersionLock | None = None,
) -> RenderContext:
    from platformctl.drivers.sources import SourceResolver
    from platformctl.plan.lock import load_lock

    the_lock = lock or load_lock()
    resolver = SourceResolver(
        the_lock,
        manifests_dir=sources.manifests_dir,
        cache_dir=sources.cache_dir,
        allow_download=sources.allow_download,
        reporter=reporter,
    )

    helm_binary: list[Path] = [sources.helm_binary] if sources.helm_binary else []
    helm_lock = threading.Lock()

    def helm(
        chart: str, repo: str, version: str, release: str, namespace: str, values: dict[str, Any]
    ) -> list[KubeObject]:
        from platformctl.drivers.helm import render_chart
        from platformctl.usecases.cluster import ensure_tool

        # Resolved at the first chart render only: components without charts never need helm.
        with helm_lock:
            if not helm_binary:
                helm_binary.append(
                    ensure_tool("helm", allow_download=sources.allow_download, reporter=reporter)
                )

        return render_chart(
            chart=chart,
            repo=repo,
            version=version,
            release=release,
            namespace=namespace,
            values=values,
            chart_dir=sources.charts_dir,
            helm_binary=helm_binary[0],
        )

    return RenderContext(spec=spec, lock=the_lock, sources=resolver, reporter=reporter, helm_render=helm)


@dataclass
class RenderedComponent:
    name: str
    version: str
    objects: list[KubeObject]
    filename: str

    def text(self) -> str:
        return to_yaml(self.objects, header=f"{self.name} {self.version}")


@dataclass
class RenderResult:
    components: list[RenderedComponent] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c.text() for c in self.components)


def _ordered(value: Any, top: bool = False) -> Any:
    if isinstance(value, dict):
        first = ("apiVersion", "kind", "metadata") if top else ()
        keys = [k for k in first if k in value] + sorted(k for k in value if k not in first)
        return {k: _ordered(value[k]) for k in keys}
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return value


def labelled(obj: KubeObject, component: str) -> KubeObject:
    """A copy of ``obj`` with the ownership labels the engine sets on apply."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    labels = dict(meta.get("labels") or {})
    labels[MANAGED_BY_KEY] = MANAGED_BY
    labels[COMPONENT_KEY] = component
    meta["labels"] = labels
    out["metadata"] = meta
    return out


def to_yaml(objects: Sequence[KubeObject], *, header: str) -> str:
    import yaml

    # libyaml's emitter when present: the same YAML ~10x faster (CRDs are hundreds of KB).
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    parts = [f"{HEADER_PREFIX} {__version__}: {header}. Apply with server-side apply.\n"]
    for obj in objects:
        parts.append("---\n")
        parts.append(
            yaml.dump(
                _ordered(obj, top=True), Dumper=dumper, sort_keys=False, default_flow_style=False, width=4096
            )
        )
    return "".join(parts)


def render_objects(name: str, ctx: RenderContext, plan: Plan) -> tuple[str, list[KubeObject]]:
    comp = plan.components[name]
    objects: list[KubeObject] = []
    for step in comp.steps(ctx):
        if isinstance(step, Apply):
            objects.extend(labelled(o, name) for o in step.render(ctx))
    return comp.version(ctx), objects


def render(
    spec: PlatformSpec,
    *,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    sources: SourceOptions = SourceOptions(),
    reporter: Reporter | None = None,
    out_dir: Path | None = None,
    lock: VersionLock | None = None,
    plan: Plan | None = None,
) -> RenderResult:
    """Render the plan; with ``out_dir`` also write ``NN-<component>.yaml`` (NN = apply order)."""
    rep: Reporter = reporter or reporting.NullReporter()
    the_plan = plan or build_plan(spec, only=only, skip=skip)
    ctx = make_render_context(spec, sources, rep, lock)
    result = RenderResult()
    for i, name in enumerate(the_plan.order, start=1):
        reporting.start(rep, name, "rendering")
        version, objects = render_objects(name, ctx, the_plan)
        result.components.append(RenderedComponent(name, version, objects, f"{i:02d}-{name}.yaml"))
        reporting.finish(rep, name, f"{len(objects)} objects")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for c in result.components:
            path = out_dir / c.filename
            path.write_text(c.text(), encoding="utf-8")
            result.written.append(path)
        result.removed = _remove_stale(out_dir, {p.name for p in result.written})
    return result


def _remove_stale(out_dir: Path, keep: set[str]) -> list[Path]:
    """Files an earlier render wrote for components no longer rendered (or renumbered): the directory
    must hold exactly what ``up`` would apply. Only files carrying our header are touched."""
    removed: list[Path] = []
    for path in sorted(out_dir.glob("[0-9][0-9]-*.yaml")):
        if path.name in keep:
            continue
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
        if first.startswith(HEADER_PREFIX):
            path.unlink()
            removed.append(path)
    return removed
