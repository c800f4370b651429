"""``platformctl render``: every object ``up`` would apply, one YAML document stream per component.

Deterministic by construction, so a GitOps repository only sees real changes: components in plan
(topological) order, objects in the order ``up`` applies them, mapping keys sorted (``apiVersion``,
``kind``, ``metadata`` first), no timestamps. The ownership labels the engine adds on apply are added
here too, so applying the rendered files elsewhere yields objects ``status``/``down`` recognise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformctl import __version__, reporting
from platformctl.components.base import Apply, KubeObject, RenderContext
from platformctl.components.dag import Plan, build_plan
from platformctl.errors import SafetyError, UsageError

if TYPE_CHECKING:
    from platformctl.drivers.charts import ChartResolver
    from platformctl.drivers.schema import CrdSchemas
    from platformctl.drivers.sources import SourceResolver
    from platformctl.plan.lock import VersionLock
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.context import CommandContext

HEADER_PREFIX = "# Rendered by platformctl"


@dataclass(frozen=True)
class SourceOptions:
    """Where manifests and charts come from (flags --manifests-dir, --charts-dir, --no-download)."""

    manifests_dir: Path | None = None
    charts_dir: Path | None = None
    allow_download: bool = True
    helm_binary: Path | None = None
    cache_dir: Path | None = None
    # --allow-unpinned-charts: use chart archives/directories that match no pinned digest.
    allow_unpinned_charts: bool = False


def chart_resolver(sources: SourceOptions, reporter: Reporter | None = None) -> ChartResolver:
    """The verified chart source for these options (drivers/charts.py)."""
    import os

    from platformctl.drivers.charts import ChartResolver
    from platformctl.drivers.sources import default_cache_dir

    return ChartResolver(
        charts_dir=sources.charts_dir,
        bundle_dir=sources.manifests_dir,
        cache_dir=sources.cache_dir if sources.cache_dir is not None else default_cache_dir(),
        allow_download=sources.allow_download,
        allow_unpinned=sources.allow_unpinned_charts,
        reporter=reporter,
        mirror=os.environ.get("PLATFORMCTL_MIRROR") or None,
    )


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
    charts = chart_resolver(sources, reporter)

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

        pin = the_lock.chart_pin(repo, version, chart)
        return render_chart(
            chart=chart,
            repo=repo,
            version=version,
            release=release,
            namespace=namespace,
            values=values,
            chart_path=charts.resolve(pin, chart),
            helm_binary=helm_binary[0],
            cache_dir=sources.cache_dir,
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
class ComponentValidation:
    """``render --validate`` for one component. ``errors``/``no_schema`` entries name the object as
    ``<kind> <namespace>/<name> (<apiVersion>)``; errors add ``: <JSON path>: <why>``."""

    name: str
    objects: int
    valid: int = 0
    invalid: int = 0
    errors: list[str] = field(default_factory=list)
    # Objects of a kind neither Kubernetes nor any known CRD describes: not checked, not passed either.
    no_schema: list[str] = field(default_factory=list)
    # "<apiVersion> <kind>" → paths its CRD marks x-kubernetes-preserve-unknown-fields (accepted unchecked).
    free_form: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "component": self.name,
            "objects": self.objects,
            "valid": self.valid,
            "invalid": self.invalid,
            "no_schema": len(self.no_schema),
            "errors": self.errors,
            "no_schema_objects": self.no_schema,
            "free_form_fields": self.free_form,
        }


@dataclass
class ValidationReport:
    kubernetes_version: str
    components: list[ComponentValidation] = field(default_factory=list)
    # Custom resource kinds whose schema came from the render itself / from pinned upstream files only.
    crd_kinds_rendered: int = 0
    crd_kinds_pinned: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(not c.errors for c in self.components)

    @property
    def errors(self) -> list[str]:
        return [f"{c.name}: {e}" for c in self.components for e in c.errors]

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "strict": True,
            "kubernetes_version": self.kubernetes_version,
            "crd_kinds": {"rendered": self.crd_kinds_rendered, "pinned_files": self.crd_kinds_pinned},
            "seconds": round(self.seconds, 2),
            "components": [c.as_dict() for c in self.components],
        }


@dataclass
class RenderResult:
    components: list[RenderedComponent] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    validation: ValidationReport | None = None

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
    # The engine's own preparation (pure; no kubernetes import): render shows exactly what `up` sends.
    from platformctl.drivers.kube.apply import prepare

    comp = plan.components[name]
    objects: list[KubeObject] = []
    for step in comp.steps(ctx):
        if isinstance(step, Apply):
            objects.extend(prepare(o, name) for o in step.render(ctx))
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
    validate: bool = False,
    force: bool = False,
) -> RenderResult:
    """Render the plan; with ``out_dir`` also write ``NN-<component>.yaml`` (NN = apply order).

    ``validate``: also check every rendered object offline in strict mode (see validate_rendered) into
    ``result.validation``; the files are written either way, so failures can be inspected.
    ``force``: replace files in ``out_dir`` that an earlier render did not write (refused otherwise)."""
    rep: Reporter = reporter or reporting.NullReporter()
    the_plan = plan or build_plan(spec, only=only, skip=skip)
    if out_dir is not None:
        _check_out_dir(out_dir)  # before rendering: a bad --out should fail in milliseconds
        names = [f"{i:02d}-{name}.yaml" for i, name in enumerate(the_plan.order, start=1)]
        _check_out_entries(out_dir, names)  # before writing anything: no partial writes
        foreign = [n for n in names if _foreign(out_dir / n)] if not force else []
        if foreign:
            raise SafetyError(
                f"--out {out_dir}: {', '.join(foreign)} not written by platformctl render; not overwriting",
                hint="move those files away, choose another --out, or re-run with --force",
            )
    ctx = make_render_context(spec, sources, rep, lock)
    result = RenderResult()
    for i, name in enumerate(the_plan.order, start=1):
        reporting.start(rep, name, "rendering")
        version, objects = render_objects(name, ctx, the_plan)
        result.components.append(RenderedComponent(name, version, objects, f"{i:02d}-{name}.yaml"))
        reporting.finish(rep, name, f"{len(objects)} objects")
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--out {out_dir}: cannot create the directory ({exc.strerror})") from exc
        for c in result.components:
            path = out_dir / c.filename
            try:
                path.write_text(c.text(), encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--out {out_dir}: cannot write {path.name} ({exc.strerror})") from exc
            result.written.append(path)
        result.removed = _remove_stale(out_dir, {p.name for p in result.written})
    if validate:
        result.validation = validate_rendered(result.components, spec=spec, sources=ctx.sources, reporter=rep)
    return result


def render_command(
    cctx: CommandContext,
    *,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    out_dir: Path | None = None,
    validate: bool = False,
    force: bool = False,
) -> RenderResult:
    """``platformctl render`` with the per-command context: the spec, sources, lock and reporter come from
    ``cctx`` (``force``: replace foreign files in ``out_dir``, as ``render`` says). Never touches the
    cluster: the spec as written is rendered, not the provider's (no ``minikube ip`` for the domain)."""
    return render(
        cctx.spec,
        only=only,
        skip=skip,
        sources=cctx.sources,
        reporter=cctx.reporter,
        out_dir=out_dir,
        lock=cctx.lock,
        validate=validate,
        force=force,
    )


def _is_crd(obj: KubeObject) -> bool:
    return obj.get("kind") == "CustomResourceDefinition" and str(obj.get("apiVersion", "")).startswith(
        "apiextensions.k8s.io/"
    )


def crd_schemas_for(
    components: Sequence[RenderedComponent],
    *,
    spec: PlatformSpec,
    sources: SourceResolver,
) -> tuple[CrdSchemas, int, int]:
    """Schemas for the custom resources of ``components``: the CRDs the render itself contains (what
    ``up`` applies) and, only when some custom resource kind is not covered by them (e.g. ``--only
    conference``), the pinned upstream CRD files through ``sources`` (bundle → cache → verified
    download; honours --manifests-dir). Returns the schemas and the kind counts (rendered, pinned only)."""
    from platformctl.drivers.schema import PLATFORM_CRD_FILES, CrdSchemas, crds_from_sources, has_core_schema

    rendered = [o for c in components for o in c.objects if _is_crd(o)]
    own = CrdSchemas(rendered)
    objects = (o for c in components for o in c.objects)
    wanted = {(str(o.get("apiVersion")), str(o.get("kind"))) for o in objects}
    k8s = sources.lock.selected_set(spec)[1].kubernetes.version
    if all(has_core_schema(*k, k8s) for k in wanted - own.keys()):
        return own, len(own.keys()), 0
    versions = sources.lock.selected_versions(spec)
    pinned = crds_from_sources(sources.lock, sources, versions, files=PLATFORM_CRD_FILES)
    merged = CrdSchemas(pinned + rendered)  # later wins: the rendered copy is what the cluster gets
    return merged, len(own.keys()), len(merged.keys() - own.keys())


def validate_rendered(
    components: Sequence[RenderedComponent],
    *,
    spec: PlatformSpec,
    sources: SourceResolver,
    reporter: Reporter | None = None,
) -> ValidationReport:
    """Strict offline validation of every rendered object: core kinds with kubernetes-validate for the
    lock's Kubernetes minor, custom resources with jsonschema against their CRD (unknown fields are
    errors). Kinds with no schema and CRD paths that accept anything are reported, never passed silently."""
    from platformctl.drivers.schema import check_object, describe_object

    rep: Reporter = reporter or reporting.NullReporter()
    started = time.monotonic()
    k8s = sources.lock.selected_set(spec)[1].kubernetes.version
    schemas, n_rendered, n_pinned = crd_schemas_for(components, spec=spec, sources=sources)
    report = ValidationReport(
        kubernetes_version=k8s, crd_kinds_rendered=n_rendered, crd_kinds_pinned=n_pinned
    )
    for comp in components:
        reporting.start(rep, comp.name, "validating")
        cv = ComponentValidation(name=comp.name, objects=len(comp.objects))
        for obj in comp.objects:
            found = check_object(obj, schemas=schemas, kubernetes_version=k8s)
            label = describe_object(obj)
            if found is None:
                cv.no_schema.append(label)
            elif found:
                cv.invalid += 1
                cv.errors.extend(f"{label}: {e}" for e in found)
            else:
                cv.valid += 1
            key = (str(obj.get("apiVersion")), str(obj.get("kind")))
            if key in schemas and f"{key[0]} {key[1]}" not in cv.free_form:
                paths = schemas.free_form(key)
                if paths:
                    cv.free_form[f"{key[0]} {key[1]}"] = paths
        report.components.append(cv)
        if cv.errors:
            reporting.fail(rep, comp.name, f"{cv.invalid} of {cv.objects} objects invalid")
        else:
            reporting.finish(rep, comp.name, f"{cv.valid} of {cv.objects} objects valid")
    report.seconds = time.monotonic() - started
    return report


def _check_out_dir(out_dir: Path) -> None:
    """--out must be a directory (or creatable as one): UsageError naming the flag otherwise."""
    for parent in (out_dir, *out_dir.parents):
        if parent.exists():
            if not parent.is_dir():
                what = "is a file" if parent == out_dir else f"{parent} is a file"
                raise UsageError(f"--out {out_dir}: {what}; give a directory (created if missing)")
            return


def _check_out_entries(out_dir: Path, names: list[str]) -> None:
    """Every path render would write or remove as stale must be a regular file (or absent): a
    directory or special file named like an output is a UsageError before anything is written."""
    if not out_dir.is_dir():
        return
    candidates = {out_dir / n for n in names} | set(out_dir.glob("[0-9][0-9]-*.yaml"))
    for path in sorted(candidates):
        if (path.exists() or path.is_symlink()) and not path.is_file():
            raise UsageError(
                f"--out {out_dir}: {path.name} is not a regular file (a directory?); "
                "move it away or choose another --out"
            )


def _foreign(path: Path) -> bool:
    """An existing file that does not start with our header (someone else's)."""
    if not path.exists():
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return not fh.readline().startswith(HEADER_PREFIX)
    except OSError:
        return True


def _remove_stale(out_dir: Path, keep: set[str]) -> list[Path]:
    """Files an earlier render wrote for components no longer rendered (or renumbered): the directory
    must hold exactly what ``up`` would apply. Only files carrying our header are touched."""
    removed: list[Path] = []
    for path in sorted(out_dir.glob("[0-9][0-9]-*.yaml")):
        if path.name in keep:
            continue
        if not path.is_file():
            continue
        # errors="replace": a file that is not UTF-8 is not one of ours (it is left alone)
        with path.open(encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
        if first.startswith(HEADER_PREFIX):
            path.unlink()
            removed.append(path)
    return removed
