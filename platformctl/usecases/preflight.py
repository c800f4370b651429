"""Preflight: what ``up`` checks before it downloads or creates anything, each failure with its fix.

Order (``up`` runs them unless ``--skip-preflight``):

1. **Sources** — every pinned source this run needs (kind/helm binaries, manifests, chart archives) is
   in the bundle, the cache or downloadable. Missing ones are listed in one message; with downloads
   allowed, the hosts they come from are resolved first, so an offline machine learns everything that
   is missing at once instead of after each download's retries (a DNS ``EAI_AGAIN`` is as final as
   ``EAI_NONAME`` when no name resolves).
2. **kind / minikube** (providers that create the cluster) — Docker reachable, the host ports free
   when the provider publishes them (kind; naming the process where the OS allows), Docker's
   memory/CPUs against the platform's requests (usecases/sizing.py, a warning).
3. **existing cluster** — the API answers, its version is inside the lock's supported range, a
   default StorageClass exists when PVCs will be created (the Dapr scheduler's 3 claims,
   ``workloads.persistence``), SelfSubjectAccessReviews allow what ``up`` creates, a LoadBalancer
   address can be expected for the gateway, and the nodes' allocatable CPU/memory against the requests.

Verdicts use doctor's ``CheckResult``; ``fail`` stops ``up`` (``CheckFailed``, exit 1) before any
change, ``warn`` is reported and ``up`` goes on. ``platformctl doctor --context X`` runs the
existing-cluster checks (without sizing, which needs a render).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from platformctl import reporting
from platformctl.errors import CheckFailed, PlatformError
from platformctl.plan import names as component_names
from platformctl.usecases.doctor import CheckResult, DoctorProbes, check_docker, check_ports

if TYPE_CHECKING:
    from platformctl.components.base import KubeObject, RenderContext
    from platformctl.components.dag import Plan
    from platformctl.drivers.kube.engine import Engine
    from platformctl.plan.lock import VersionLock
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.render import SourceOptions
    from platformctl.usecases.sizing import Sizing

DEFAULT_CLASS_ANNOTATIONS = (
    # storage.k8s.io docs "Change the default StorageClass"; the beta key is still honoured.
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
# What `up` creates that needs cluster-wide rights, checked with SelfSubjectAccessReview
# (authorization.k8s.io/v1). Server-side apply sends PATCH, which creates a missing object: both verbs.
REQUIRED_ACCESS: tuple[tuple[str, str, str], ...] = tuple(
    (verb, group, resource)
    for group, resource in (
        ("", "namespaces"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("rbac.authorization.k8s.io", "clusterroles"),
    )
    for verb in ("create", "patch")
)
# spec.providerID prefixes of cloud node controllers that provision LoadBalancers
# (kubernetes/cloud-provider-aws "aws://", cloud-provider-gcp "gce://", cloud-provider-azure "azure://").
CLOUD_PROVIDER_PREFIXES = ("aws://", "gce://", "azure://")


@dataclass
class PreflightReport:
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.verdict == "fail"]

    def raise_for_failures(self) -> None:
        bad = self.failed
        if not bad:
            return
        first = bad[0]
        msg = f"preflight: {first.detail}"
        if len(bad) > 1:
            msg += f" (and {len(bad) - 1} more: {', '.join(c.name for c in bad[1:])})"
        raise CheckFailed(
            msg + "; nothing was created",
            details=[f"{c.name}: {c.detail} — fix: {c.fix}" for c in bad[1:]],
            hint=first.fix or None,
        )


# -- 1. sources ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Needed:
    what: str  # e.g. "kind v0.30.0 binary", "manifest kserve/v0.16.0/kserve.yaml"
    url: str  # where a download would come from


def missing_sources(
    plan: Plan, spec: PlatformSpec, sources: SourceOptions, lock: VersionLock, *, tools: Any = None
) -> list[Needed]:
    """Pinned sources this run needs that are in neither the bundle, --charts-dir nor the cache."""
    from platformctl.drivers.sources import SourceResolver
    from platformctl.drivers.tools import ToolResolver, release_asset
    from platformctl.usecases.render import chart_resolver

    out: list[Needed] = []
    tool_resolver = tools or ToolResolver(lock, allow_download=sources.allow_download)
    from platformctl.providers import tools as provider_tools

    wanted_tools: list[str] = list(provider_tools(spec.cluster.provider))  # kind, minikube, none
    has_charts = False
    resolver = SourceResolver(
        lock, manifests_dir=sources.manifests_dir, cache_dir=sources.cache_dir, allow_download=False
    )
    charts = chart_resolver(sources)
    for name in plan.order:
        comp_spec = spec.components.get(name)
        if name not in lock.components:
            continue  # workloads (infra/conference/iris) come from our own templates
        _, release = lock.release(name, comp_spec.version if comp_spec is not None else None)
        for pinned in release.files:
            bundled = resolver.bundle_path(pinned)
            if (bundled is not None and bundled.is_file()) or resolver.cache_path(pinned).is_file():
                continue
            out.append(Needed(f"manifest {pinned.path}", resolver.url_for(pinned)))
        if release.charts is not None:
            has_charts = True
            for chart in release.charts.names:
                if charts.missing(release.charts, chart) is not None:
                    fname = f"{chart}-{release.charts.version}.tgz"
                    out.append(Needed(f"chart {fname}", f"{release.charts.repo.rstrip('/')}/{fname}"))
    if has_charts and sources.helm_binary is None:
        wanted_tools.append("helm")
    for tool in wanted_tools:
        try:
            info = tool_resolver.detect(tool)
        except PlatformError:
            info = None
        if info is not None and (
            info.source == "env" or (info.usable and (info.matches or not sources.allow_download))
        ):
            continue
        try:
            url = release_asset(tool, lock.tools[tool].version, tool_resolver.plat).url
        except PlatformError:
            url = ""
        out.append(Needed(f"{tool} {lock.tools[tool].version} binary", url))
    return out


def check_sources(
    plan: Plan,
    spec: PlatformSpec,
    sources: SourceOptions,
    lock: VersionLock,
    *,
    resolver: Callable[[str], list[str]] | None = None,
    tools: Any = None,
) -> CheckResult:
    from platformctl.drivers import system as host

    missing = missing_sources(plan, spec, sources, lock, tools=tools)
    if not missing:
        return CheckResult("sources", "ok", "every pinned source is in the bundle, --charts-dir or the cache")
    listing = "; ".join(n.what for n in missing)
    how = (
        "make an offline bundle on a connected machine (`platformctl bundle DIR` includes manifests and "
        "charts; `platformctl tools install` fetches kind/helm) and pass --manifests-dir DIR"
    )
    if not sources.allow_download:
        return CheckResult(
            "sources",
            "fail",
            f"{len(missing)} pinned source(s) missing and downloads are disabled: {listing}",
            how,
        )
    resolve = resolver or host.system_resolver
    hosts = sorted({urlsplit(n.url).hostname or "" for n in missing} - {""})
    unresolved = [h for h in hosts if not resolve(h)]
    if hosts and len(unresolved) == len(hosts):
        return CheckResult(
            "sources",
            "fail",
            f"offline: {', '.join(unresolved)} do not resolve, so {len(missing)} pinned source(s) cannot be "
            f"downloaded: {listing}",
            how + " (or fix DNS / set --mirror)",
        )
    if unresolved:
        return CheckResult(
            "sources",
            "warn",
            f"{len(missing)} source(s) to download; {', '.join(unresolved)} do not resolve: {listing}",
            how,
        )
    return CheckResult("sources", "ok", f"{len(missing)} pinned source(s) will be downloaded and verified")


# -- 2. kind ------------------------------------------------------------------------------------------
SizingSource = Callable[[], "Sizing | None"]


def kind_checks(
    spec: PlatformSpec, probes: DoctorProbes, sizing_of: SizingSource | None
) -> list[CheckResult]:
    """Docker and the host ports; then, only when those pass, the sizing (it costs a render)."""
    from platformctl.usecases.sizing import fit

    results, info, client = check_docker(probes)
    out = list(results)
    if client is None:
        return out
    try:
        containers = client.containers()
    except PlatformError:
        containers = None
    out.extend(check_ports(spec, probes, containers))
    if any(r.verdict == "fail" for r in out):
        return out
    sizing = sizing_of() if sizing_of is not None else None
    if sizing is not None and info is not None:
        mem, cpus = info.get("MemTotal"), info.get("NCPU")
        f = fit(
            sizing,
            cpu=float(cpus) if isinstance(cpus, int) else None,
            memory=float(mem) if isinstance(mem, int) else None,
            where="Docker",
        )
        out.append(
            CheckResult(
                "sizing",
                "ok" if f.fits else "warn",
                f.detail,
                ""
                if f.fits
                else "give Docker more memory/CPUs (Docker Desktop: Settings → Resources) or "
                "disable components: --set components.<name>.enabled=false",
            )
        )
    return out


# -- 3. existing cluster ------------------------------------------------------------------------------
def _minor(version: str) -> tuple[int, int] | None:
    parts = version.lstrip("v").split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()))
    except (IndexError, ValueError):
        return None


def check_version(engine: Engine, spec: PlatformSpec, lock: VersionLock) -> CheckResult:
    """The server's version against the selected version set's range (``sets.<name>.kubernetes``)."""
    from platformctl.plan.lock import k8s_tuple

    raw = engine.api.request("GET", "/version") or {}
    git = str(raw.get("gitVersion") or f"v{raw.get('major')}.{raw.get('minor')}")
    set_name, vset = lock.selected_set(spec)
    rng = vset.kubernetes
    where = f"version set {set_name} supports {rng.describe()} ({rng.source})"
    have = k8s_tuple(git)
    if len(have) < 2:
        return CheckResult("kubernetes-version", "warn", f"server version {git!r} not understood; {where}")
    if rng.min is not None and have < k8s_tuple(rng.min):
        return CheckResult(
            "kubernetes-version",
            "fail",
            f"server {git} is older than version set {set_name} supports ({where})",
            f"upgrade the cluster to {rng.min} or newer, pick another set (`platformctl versions`), "
            f"or use provider kind (node {rng.version})",
        )
    if rng.max is not None and have[:2] > k8s_tuple(rng.max)[:2]:
        return CheckResult(
            "kubernetes-version",
            "warn",
            f"server {git} is newer than version set {set_name} is known to work with ({where})",
            "expect deprecation warnings; report what breaks",
        )
    return CheckResult("kubernetes-version", "ok", f"server {git}; {where}")


def needs_pvcs(spec: PlatformSpec, plan: Plan) -> list[str]:
    why: list[str] = []
    if component_names.DAPR in plan.order:
        # dapr/dapr@v1.15.14 charts/dapr/charts/dapr_scheduler: 3 replicas whenever the scheduler is
        # enabled (_helpers.tpl dapr_scheduler.get-replicas), each with a 1Gi volumeClaimTemplate.
        why.append("the Dapr scheduler (3 claims of 1Gi)")
    if spec.workloads.persistence and {component_names.INFRA, component_names.CONFERENCE} & set(plan.order):
        why.append("workloads.persistence")
    return why


def check_storage_class(engine: Engine, spec: PlatformSpec, plan: Plan) -> CheckResult:
    classes = engine.list("storage.k8s.io/v1", "StorageClass")
    default = [
        str((c.get("metadata") or {}).get("name"))
        for c in classes
        if any(
            ((c.get("metadata") or {}).get("annotations") or {}).get(a) == "true"
            for a in DEFAULT_CLASS_ANNOTATIONS
        )
    ]
    if default:
        return CheckResult("storage-class", "ok", f"default StorageClass {', '.join(default)}")
    why = needs_pvcs(spec, plan)
    names = ", ".join(str((c.get("metadata") or {}).get("name")) for c in classes) or "none"
    if not why:
        return CheckResult(
            "storage-class", "ok", f"no default StorageClass ({names}); nothing in this run needs one"
        )
    return CheckResult(
        "storage-class",
        "fail",
        f"no default StorageClass (classes: {names}), but {' and '.join(why)} need PersistentVolumeClaims",
        "mark one default: kubectl annotate storageclass <name> "
        "storageclass.kubernetes.io/is-default-class=true (or install a provisioner, e.g. local-path)",
    )


def check_permissions(engine: Engine) -> CheckResult:
    denied: list[str] = []
    for verb, group, resource in REQUIRED_ACCESS:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource}},
        }
        answer = engine.api.request(
            "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body=review
        )
        if not ((answer or {}).get("status") or {}).get("allowed"):
            denied.append(f"{verb} {resource}{'.' + group if group else ''}")
    if denied:
        return CheckResult(
            "permissions",
            "fail",
            f"the credentials of this context may not {', '.join(denied)}",
            "use a context with cluster-admin rights (up installs CRDs, webhooks and ClusterRoles)",
        )
    return CheckResult(
        "permissions", "ok", f"allowed: {len(REQUIRED_ACCESS)} cluster-wide create/patch checks"
    )


def check_load_balancer(engine: Engine) -> CheckResult:
    services = engine.list("v1", "Service")
    for svc in services:
        spec = svc.get("spec") or {}
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if spec.get("type") == "LoadBalancer" and ingress:
            md = svc.get("metadata") or {}
            return CheckResult(
                "load-balancer",
                "ok",
                f"Service {md.get('namespace')}/{md.get('name')} has a LoadBalancer address: "
                "LoadBalancers are provisioned here",
            )
    for node in engine.list("v1", "Node"):
        provider = str((node.get("spec") or {}).get("providerID") or "")
        if provider.startswith(CLOUD_PROVIDER_PREFIXES):
            return CheckResult(
                "load-balancer",
                "ok",
                f"cloud nodes ({provider.split('://')[0]}): LoadBalancers are provisioned",
            )
    return CheckResult(
        "load-balancer",
        "warn",
        "no LoadBalancer Service has an address and the nodes name no cloud provider: the Istio gateway's "
        "address may stay <pending>",
        "install a LoadBalancer implementation (e.g. MetalLB, cloud-provider-kind), or reach the gateway "
        "with `kubectl port-forward` and `smoke-test --ingress`",
    )


def check_allocatable(engine: Engine, sizing: Sizing) -> CheckResult:
    from platformctl.usecases.sizing import fit, quantity

    cpu = memory = 0.0
    nodes = engine.list("v1", "Node")
    for node in nodes:
        alloc = (node.get("status") or {}).get("allocatable") or {}
        try:
            cpu += quantity(alloc.get("cpu", 0))
            memory += quantity(alloc.get("memory", 0))
        except ValueError:
            continue
    if not nodes:
        return CheckResult("sizing", "warn", f"{sizing.summary()}; no nodes visible to compare with")
    f = fit(sizing, cpu=cpu, memory=memory, where=f"{len(nodes)} node(s) allocatable")
    return CheckResult(
        "sizing",
        "ok" if f.fits else "warn",
        f.detail,
        "" if f.fits else "add nodes or disable components: --set components.<name>.enabled=false",
    )


def cluster_checks(
    engine: Engine,
    spec: PlatformSpec,
    plan: Plan | None,
    lock: VersionLock,
    sizing_of: SizingSource | None = None,
) -> list[CheckResult]:
    """The existing-cluster checks; each API failure becomes that check's verdict, not an exception.
    Sizing (it costs a render) runs only when the others found nothing failing."""
    from platformctl.components.dag import build_plan

    the_plan = plan or build_plan(spec)
    out = [CheckResult("api", "ok", f"{engine.server} answers (context {engine.context_name})")]
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("kubernetes-version", lambda: check_version(engine, spec, lock)),
        ("storage-class", lambda: check_storage_class(engine, spec, the_plan)),
        ("permissions", lambda: check_permissions(engine)),
        ("load-balancer", lambda: check_load_balancer(engine)),
    ]
    for name, fn in checks:
        try:
            out.append(fn())
        except PlatformError as exc:
            out.append(CheckResult(name, "warn", f"could not check: {exc.message}"))
    sizing = sizing_of() if sizing_of is not None and not any(r.verdict == "fail" for r in out) else None
    if sizing is not None:
        try:
            out.append(check_allocatable(engine, sizing))
        except PlatformError as exc:
            out.append(CheckResult("sizing", "warn", f"could not check: {exc.message}"))
    return out


# -- the whole preflight for `up` ---------------------------------------------------------------------
def render_sizing(plan: Plan, ctx: RenderContext) -> Sizing:
    """Requests of everything this run would apply (renders through ``ctx``: its helm memo is reused)."""
    from platformctl.components.base import Apply
    from platformctl.usecases.sizing import size

    objects: dict[str, list[KubeObject]] = {}
    for name in plan.order:
        objects[name] = [
            o
            for step in plan.components[name].steps(ctx)
            if isinstance(step, Apply)
            for o in step.render(ctx)
        ]
    return size(objects)


def report(reporter: Reporter, results: Sequence[CheckResult]) -> None:
    for r in results:
        if r.verdict == "warn":
            reporting.log(reporter, "preflight", f"warning: {r.name}: {r.detail} — {r.fix}")
        elif r.verdict == "ok":
            reporting.log(reporter, "preflight", f"{r.name}: {r.detail}")


def run_for_up(
    spec: PlatformSpec,
    plan: Plan,
    sources: SourceOptions,
    lock: VersionLock,
    *,
    kubeconfig: str | None,
    context: str | None,
    connect: Callable[[str | None, str | None, Reporter], Engine],
    reporter: Reporter,
    ctx: RenderContext,
    probes: DoctorProbes | None = None,
) -> PreflightReport:
    """Every preflight check ``up`` needs, in order; raises ``CheckFailed`` before anything changes."""
    rep = PreflightReport()
    rep.checks.append(check_sources(plan, spec, sources, lock))
    report(reporter, rep.checks)
    rep.raise_for_failures()  # nothing is downloaded before this

    def sizing_of() -> Sizing | None:
        try:
            return render_sizing(plan, ctx)
        except PlatformError as exc:  # the run reports a render failure with its component: not masked
            reporting.log(reporter, "preflight", f"sizing skipped: {exc.message}")
            return None

    from platformctl.providers import manages_cluster

    if manages_cluster(spec.cluster.provider):  # kind/minikube: Docker (and kind's host ports) first
        results = kind_checks(spec, probes or DoctorProbes(), sizing_of)
    else:
        engine = connect(kubeconfig, context, reporter)  # API unreachable: ClusterError (exit 4) here
        results = cluster_checks(engine, spec, plan, lock, sizing_of)
    rep.checks.extend(results)
    report(reporter, results)
    rep.raise_for_failures()
    return rep


def cluster_doctor(
    spec: PlatformSpec,
    kubeconfig: str | None,
    context: str | None,
    lock: VersionLock,
    *,
    connect: Callable[[str | None, str | None, Reporter], Engine] | None = None,
) -> list[CheckResult]:
    """``doctor --context X``: the existing-cluster checks against that context (no render, no sizing)."""
    from platformctl.errors import ClusterError, ConfigError

    def default_connect(kc: str | None, ctx: str | None, rep: Reporter) -> Engine:
        from platformctl.drivers.kube.engine import Engine

        return Engine.connect(kc, ctx, reporter=rep)

    try:
        engine = (connect or default_connect)(kubeconfig, context, reporting.NullReporter())
    except ConfigError:
        raise  # an unknown context is bad input (exit 2), not a failing check
    except ClusterError as exc:
        return [
            CheckResult("api", "fail", exc.message, exc.hint or "check the context's server and credentials")
        ]
    return cluster_checks(engine, spec, None, lock)
