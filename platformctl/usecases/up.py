"""``platformctl up``: cluster (from the provider: kind, minikube or existing) → engine → run the DAG.

Resumable and idempotent because every step is: applies are server-side (an unchanged object is
reported ``unchanged`` by the engine and nothing is written), waits only read, and the kind cluster is
reused when platformctl created it. An ``up`` stopped anywhere (Ctrl-C, killed, failed step) therefore
completes when run again; there is no separate resume state to get out of sync.

Upgrades (another version set, or a component version override): before anything is applied, ``up``
refuses a cluster outside the set's Kubernetes range and a downgrade (usecases/compatibility.py), and
takes one snapshot of the objects carrying platformctl's ownership labels. When a component's steps are
done (applied and ready), its labelled objects that the new render no longer contains are pruned
(drivers/kube/stale.py: never Namespaces, Secrets or PVCs, never a CRD that still has custom
resources, never objects without our labels such as your InferenceServices). Only components whose
running version differs from the selected one are looked at (a plain re-run lists nothing extra).
``--dry-run`` counts them as "pruned" instead.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from platformctl import reporting
from platformctl.components.base import Apply, KubeObject, RenderContext
from platformctl.components.dag import Plan, build_plan
from platformctl.errors import ClusterError, NotReadyError, PlatformError, UsageError
from platformctl.usecases.compatibility import check_cluster_version, check_no_downgrade, version_changes
from platformctl.usecases.render import SourceOptions, make_render_context, render
from platformctl.usecases.runner import ComponentTaggingReporter, RunResult, TaskContext, run_dag

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine
    from platformctl.drivers.kube.prune import Found
    from platformctl.plan.lock import VersionLock
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.cluster import ClusterInfo
    from platformctl.usecases.context import CommandContext
    from platformctl.usecases.prepull import Prepull, PrepullReport
    from platformctl.usecases.prepull_existing import ExistingPrepull

ACTIONS = ("created", "configured", "unchanged", "not validated", "pruned")
# (component, step name) → called before each step; a test seam for interruptions at exact points.
StepHook = Callable[[str, str], None]
Connect = Callable[[str | None, str | None, "Reporter"], "Engine"]


@dataclass(frozen=True)
class UpOptions:
    only: Sequence[str] = ()
    skip: Sequence[str] = ()
    timeout: float | None = None  # per component; None → spec.timeouts.component
    dry_run: bool = False
    force: bool = False
    force_conflicts: bool = False
    sources: SourceOptions = field(default_factory=SourceOptions)
    kubeconfig: str | None = None  # global --kubeconfig
    context: str | None = None  # global --context
    max_workers: int | None = None
    step_hook: StepHook | None = None
    # issue 11: pre-pull images into the kind node(s) while the DAG runs (None: on for kind).
    prepull: bool | None = None
    prepull_concurrency: int = 3
    skip_preflight: bool = False  # --skip-preflight (experts): see usecases/preflight.py


@dataclass
class UpResult:
    plan: Plan
    run: RunResult | None
    mode: Literal["apply", "server-dry-run", "render-only"]
    context: str = ""
    server: str = ""
    cluster: ClusterInfo | None = None
    # component → {"created": n, "configured": n, "unchanged": n}
    actions: dict[str, dict[str, int]] = field(default_factory=dict)
    rendered_objects: int = 0
    prepull: PrepullReport | None = None  # issue 11: background pre-pull, when one ran
    render_reason: str = ""  # render-only: why there was no cluster to dry-run against

    @property
    def changed(self) -> int:
        return sum(
            c["created"] + c["configured"] + c.get("not validated", 0) + c.get("pruned", 0)
            for c in self.actions.values()
        )

    @property
    def pruned(self) -> int:
        return sum(c.get("pruned", 0) for c in self.actions.values())

    def as_dict(self) -> dict[str, object]:
        """``up -o json|yaml``: the mode, the cluster and per component its result, object actions and
        timings (seconds; ``started`` relative to the start of the run)."""
        data: dict[str, object] = {"mode": self.mode, "context": self.context, "server": self.server}
        if self.run is None:
            data.update(
                ok=True,
                reason=self.render_reason,
                rendered_objects=self.rendered_objects,
                components=[{"name": n, "status": "rendered"} for n in self.plan.order],
            )
            return data
        run = self.run
        data.update(
            ok=run.ok,
            changed=self.changed,
            seconds=round(run.wall, 3),
            components=[
                {
                    "name": name,
                    "status": run.runs[name].status,
                    "reason": run.runs[name].reason,
                    "actions": dict(self.actions.get(name, {})),
                    "started": None
                    if run.runs[name].started is None
                    else round((run.runs[name].started or 0.0) - run.started, 3),
                    "seconds": round(run.runs[name].duration, 3),
                    "steps": [
                        {
                            "name": st.name,
                            "kind": st.kind,
                            "seconds": round(st.duration, 3),
                            "detail": st.detail,
                        }
                        for st in run.runs[name].steps
                    ],
                }
                for name in run.order
            ],
        )
        return data


def default_connect(kubeconfig: str | None, context: str | None, reporter: Reporter) -> Engine:
    from platformctl.drivers.kube.engine import Engine

    return Engine.connect(kubeconfig, context, reporter=reporter)


def check_external(plan: Plan, engine: Engine, ctx: RenderContext) -> None:
    """Dependencies left out of the plan (--only/--skip/disabled) must already be healthy."""
    from platformctl.components import registry

    missing: list[str] = []
    for dep, needed_by in plan.external.items():
        try:
            health = registry.get(dep).health(engine, ctx)
            ok, reason = health.healthy, health.reason
        except (ClusterError, NotReadyError) as exc:
            ok, reason = False, exc.message
        if not ok:
            missing.append(f"{', '.join(needed_by)} needs {dep} ({reason or 'not installed'})")
    if missing:
        raise UsageError(
            "dependencies outside this run are not healthy on the cluster: " + "; ".join(missing),
            hint="add them to --only, drop them from --skip, or enable them in the spec",
        )


class DryRunFilter:
    """Server dry-run cannot validate an object whose Namespace or CRD this same run would create
    (nothing is persisted, so the server answers "namespace not found" / "no matches for kind"), the
    same limit as ``kubectl apply --dry-run=server``. Those objects are counted as "would be created,
    not validated" instead of failing the dry run; everything else goes to the server."""

    PROBE = "platformctl.io/dry-run-probe=none"  # matches nothing: a cheap "is this kind served?"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._namespaces: dict[str, bool] = {}
        self._kinds: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    def _namespace_exists(self, name: str) -> bool:
        with self._lock:
            known = self._namespaces.get(name)
        if known is None:
            known = self.engine.get("v1", "Namespace", name) is not None
            with self._lock:
                self._namespaces[name] = known
        return known

    def _kind_served(self, api_version: str, kind: str) -> bool:
        key = (api_version, kind)
        with self._lock:
            known = self._kinds.get(key)
        if known is None:
            try:
                self.engine.list(api_version, kind, label_selector=self.PROBE)
                known = True
            except PlatformError:
                known = False
            with self._lock:
                self._kinds[key] = known
        return known

    def split(self, objects: Sequence[KubeObject]) -> tuple[list[KubeObject], list[KubeObject]]:
        send: list[KubeObject] = []
        deferred: list[KubeObject] = []
        for obj in objects:
            ns = (obj.get("metadata") or {}).get("namespace")
            ok = self._kind_served(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
            if ok and ns:
                ok = self._namespace_exists(str(ns))
            (send if ok else deferred).append(obj)
        return send, deferred


def format_actions(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[a]} {a}" for a in ACTIONS if counts.get(a))


def run_components(
    plan: Plan,
    engine: Engine,
    ctx: RenderContext,
    *,
    timeout: float,
    dry_run: bool = False,
    force_conflicts: bool = False,
    reporter: Reporter,
    step_hook: StepHook | None = None,
    max_workers: int | None = None,
    cancel: threading.Event | None = None,
    actions: dict[str, dict[str, int]] | None = None,
    snapshot: Sequence[Found] | None = None,
) -> RunResult:
    """Run every component's steps in order, components concurrently per the DAG (runner.py).

    ``snapshot``: the labelled objects on the cluster before the run; when given, each component's
    objects missing from its new render are pruned after its steps (counted as "pruned")."""
    from platformctl.drivers.kube.stale import RenderKeys, of_component

    counts_by: dict[str, dict[str, int]] = actions if actions is not None else {}
    dry = DryRunFilter(engine) if dry_run else None

    def task(name: str, tctx: TaskContext) -> str:
        comp = plan.components[name]
        deadline = time.monotonic() + timeout
        counts: Counter[str] = Counter({a: 0 for a in ACTIONS})
        counts_by[name] = counts
        with tctx.step("plan", "render", "preparing steps"):
            steps = comp.steps(ctx)
        rendered: list[KubeObject] = []
        for step in steps:
            tctx.check_cancelled()
            if step_hook is not None:
                step_hook(name, step.name)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotReadyError(
                    f"timed out after {timeout:g}s before step {step.name!r}",
                    hint="raise --timeout (or timeouts.component) and run up again to resume",
                )
            if isinstance(step, Apply):
                with tctx.step(step.name, "apply", f"applying {step.name}") as timing:
                    objects = step.render(ctx)
                    rendered.extend(objects)
                    step_counts: Counter[str] = Counter()
                    if dry is not None:
                        objects, deferred = dry.split(objects)
                        step_counts["not validated"] = len(deferred)
                    report = engine.apply(
                        objects,
                        component=name,
                        force_conflicts=force_conflicts,
                        dry_run=dry_run,
                        timeout=remaining,
                    )
                    step_counts.update(r.action for r in report.results)
                    counts.update(step_counts)
                    timing.detail = format_actions(step_counts)
            elif not dry_run:  # a dry run changes nothing, so there is nothing to wait for
                with tctx.step(step.name, "wait", f"waiting for {step.name}"):
                    step.check(engine, remaining)
        stale = of_component(snapshot or (), name, RenderKeys.of(rendered))
        if stale:
            tctx.check_cancelled()
            verb = "would prune" if dry_run else "pruning"
            with tctx.step("prune", "prune", f"{verb} {len(stale)} objects no longer rendered") as timing:
                pruned = engine.prune_stale(
                    stale,
                    component=name,
                    timeout=max(1.0, deadline - time.monotonic()),
                    dry_run=dry_run,
                )
                counts["pruned"] += len(pruned.deleted)
                timing.detail = f"{len(pruned.deleted)} pruned" + (
                    f", {len(pruned.kept)} kept" if pruned.kept else ""
                )
        return format_actions(counts) or "nothing to apply"

    return run_dag(
        plan.order,
        plan.deps,
        task,
        reporter=reporter,
        max_workers=max_workers,
        cancel=cancel,
    )


def up(
    spec: PlatformSpec,
    options: UpOptions = UpOptions(),
    *,
    reporter: Reporter | None = None,
    connect: Connect | None = None,
    lock: VersionLock | None = None,
    cancel: threading.Event | None = None,
) -> UpResult:
    """Bring the platform up. Failures of components are in ``result.run`` (call ``raise_for_failure``)."""
    from platformctl.usecases import cluster as cluster_mod

    base: Reporter = reporter or reporting.NullReporter()
    connect = connect or default_connect
    plan = build_plan(spec, only=options.only, skip=options.skip)
    for name in plan.order:  # the plan, before anything runs: a view lists every component from the start
        reporting.pending(base, name)
    rep = ComponentTaggingReporter(base, plan.order)
    timeout = options.timeout or spec.timeouts.component
    checked = spec  # the spec preflight checks and renders for
    if options.sources.manifests_dir is not None:
        # Air-gapped: the bundle's pinned binaries (bundle --tools) into the tool cache, before preflight
        # looks for kind/helm/minikube (a tampered one is refused here, exit 3). In a dry run too: it
        # fills platformctl's own cache, as its source checks do, so it answers as `up` would.
        from platformctl.drivers.tools import ToolResolver
        from platformctl.plan.lock import load_lock
        from platformctl.usecases.bundle_tools import seed_cache

        seed_cache(options.sources.manifests_dir, ToolResolver(lock or load_lock()), base)

    preflight_ctx: RenderContext | None = None
    if not options.skip_preflight:
        # Before anything changes, in a dry run too (it exits with the code `up` would).
        from platformctl.usecases.preflight import run_for_up

        preflight_ctx = make_render_context(spec, options.sources, rep, lock)
        run_for_up(
            spec,
            plan,
            options.sources,
            preflight_ctx.lock,
            kubeconfig=options.kubeconfig,
            context=options.context,
            connect=connect,
            reporter=base,
            ctx=preflight_ctx,
        )
    if options.dry_run:
        # Every check `up` makes before changing anything, with `up`'s errors and exit codes; only a
        # cluster that does not exist yet (and that `up` would create) leaves nothing to check against.
        target, why = cluster_mod.dry_run_target(
            spec,
            options.kubeconfig,
            options.context,
            force=options.force,
            sources=options.sources,
        )
        if target is None:
            rendered = render(spec, plan=plan, sources=options.sources, reporter=rep, lock=lock)
            return UpResult(
                plan=plan,
                run=None,
                mode="render-only",
                rendered_objects=sum(len(c.objects) for c in rendered.components),
                render_reason=why,
            )
        engine = connect(target.kubeconfig, target.context, rep)
        info = None
        from platformctl import providers

        # The domain the real run would use (minikube: <node ip>.sslip.io unless set).
        dry = providers.ProviderOptions(
            kubeconfig=options.kubeconfig, context=options.context, allow_download=False
        )
        spec = providers.resolve_domain(spec, providers.create(spec, dry))
        images = None
    else:
        from platformctl import providers
        from platformctl.usecases.up_images import hosts_dir_enabled, plan_images

        # issue 11: before the cluster is touched, so a bundle lacking an image changes nothing.
        images = plan_images(spec, plan, options.sources, prepull=options.prepull, reporter=base)
        if images is not None and images.bundled and providers.docker_nodes(spec.cluster.provider):
            from platformctl.usecases.up_images import serve_bundle

            serve_bundle(images, reporter=base)  # air-gapped: the nodes will pull from it
        provider = providers.create(
            spec,
            providers.ProviderOptions(
                kubeconfig=options.kubeconfig,
                context=options.context,
                force=options.force,
                allow_download=options.sources.allow_download,
                reporter=base,
                # containerd's hosts.toml directory: for the caches, or for the bundle registry
                registry_cache=hosts_dir_enabled(spec, options.sources),
                node_image_source=images.node_image_source if images is not None else None,
            ),
        )
        info = provider.ensure(spec)
        spec = providers.resolve_domain(spec, provider)  # minikube: <node ip>.sslip.io unless set
        engine = connect(info.kubeconfig, info.context, rep)
    # Refusals first (exit 2, nothing changed): before pre-pull starts anything on the cluster.
    check_cluster_version(engine, spec, lock)
    # preflight's render context when it ran for this spec (its renders are reused); a domain resolved
    # since (minikube: <node ip>.sslip.io) needs a new one
    if preflight_ctx is not None and spec is checked:
        ctx = preflight_ctx
    else:
        ctx = make_render_context(spec, options.sources, rep, lock)
    changes = version_changes(plan.order, engine, ctx)
    check_no_downgrade(changes, ctx.lock, spec)
    prepull = _start_images(info, images, options, base, engine)

    check_external(plan, engine, ctx)
    snapshot: list[Found] = []
    if changes:
        # Before anything is applied: what exists now is what the upgrade may leave behind.
        for name, running, selected in changes:
            reporting.log(base, name, f"upgrading {name} {running} -> {selected}")
        snapshot = engine.managed_objects(timeout=timeout)
    actions: dict[str, dict[str, int]] = {}
    result = UpResult(
        plan=plan,
        run=None,
        mode="server-dry-run" if options.dry_run else "apply",
        context=engine.context_name,
        server=engine.server,
        cluster=info,
        actions=actions,
    )
    try:
        result.run = run_components(
            plan,
            engine,
            ctx,
            timeout=timeout,
            dry_run=options.dry_run,
            force_conflicts=options.force_conflicts,
            reporter=rep,
            step_hook=options.step_hook,
            max_workers=options.max_workers,
            cancel=cancel,
            actions=actions,
            snapshot=snapshot,
        )
    finally:
        if prepull is not None:
            # The DAG is done: pulls not started are left to the kubelet; running ones get a moment.
            prepull.cancel()
            result.prepull = prepull.wait(timeout=prepull.grace)
    return result


def up_command(
    cctx: CommandContext, options: UpOptions = UpOptions(), *, cancel: threading.Event | None = None
) -> UpResult:
    """``platformctl up`` with the per-command context: the spec, the cluster selection (--kubeconfig,
    --context), --force, the sources, the lock, the engine connection and the reporter come from
    ``cctx`` (they override the same fields of ``options``). Component failures are in ``result.run``
    (``raise_for_failure``); the plan is ``result.plan`` and was announced to the reporter (``pending``)
    before anything ran."""
    opts = replace(
        options,
        kubeconfig=cctx.kubeconfig,
        context=cctx.context,
        force=cctx.force,
        sources=cctx.sources,
    )
    return up(cctx.spec, opts, reporter=cctx.reporter, connect=cctx.connect, lock=cctx.lock, cancel=cancel)


def _start_images(
    info: ClusterInfo | None, images: object, options: UpOptions, reporter: Reporter, engine: Engine
) -> Prepull | ExistingPrepull | None:
    """issue 11: load bundled image archives or start the background pre-pull (usecases/up_images.py)."""
    from platformctl.usecases.up_images import UpImages, start_images

    if info is None or not isinstance(images, UpImages):
        return None
    return start_images(
        info, images, reporter=reporter, engine=engine, concurrency=options.prepull_concurrency
    )
