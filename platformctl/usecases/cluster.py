"""Which cluster a command talks to: the kind cluster platformctl manages, or an existing context.

Shared by up/down/status so the rules are stated once:
* provider ``kind``: kubeconfig = --kubeconfig, else ``cluster.kubeconfig``, else $KUBECONFIG/~/.kube/config;
  context is always ``kind-<cluster.name>`` (a different --context is a usage error, not silently ignored).
* provider ``existing``: --kubeconfig/--context, else ``cluster.kubeconfig``/``cluster.context``, else the
  kubeconfig's current context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from platformctl import reporting
from platformctl.errors import SourceError, UsageError

if TYPE_CHECKING:
    from platformctl.drivers.kind import KindCluster, KindConfig
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter


@dataclass(frozen=True)
class ClusterInfo:
    provider: str
    kubeconfig: str | None
    context: str | None
    name: str = ""
    created: bool = False  # kind: this run created the cluster


def ensure_tool(name: str, *, allow_download: bool, reporter: Reporter | None = None) -> Path:
    """The pinned tool (kind/helm) via the tool resolver: $PLATFORMCTL_<TOOL> → PATH at the pinned
    version → cache → sha256-verified download (when allowed). Without downloads an off-pin binary on
    PATH is still used (detect), so read-only commands work wherever the tool is installed."""
    from platformctl.drivers.tools import ToolResolver
    from platformctl.plan.lock import load_lock

    resolver = ToolResolver(load_lock(), allow_download=allow_download, reporter=reporter)
    info = resolver.ensure(name) if allow_download else resolver.detect(name)
    if info.path is None:
        raise SourceError(
            f"{name} {info.pinned} not found (not on PATH, not in the cache)",
            hint=f"run `platformctl tools install`, or set PLATFORMCTL_{name.upper()}=/path/to/{name}",
        )
    return info.path


def kind_cluster(binary: Path | None = None, *, allow_download: bool = False) -> KindCluster:
    from platformctl.drivers.kind import KindCluster

    return KindCluster(binary or ensure_tool("kind", allow_download=allow_download))


def kind_kubeconfig(spec: PlatformSpec, kubeconfig: str | None) -> Path:
    """The file kind's context goes to: --kubeconfig/cluster.kubeconfig (one file), else where kubectl
    would write it in the $KUBECONFIG chain (the file that defines it, else the first that exists)."""
    from platformctl.drivers.kubeconfig import kubeconfig_chain, write_destination

    raw = kubeconfig or spec.cluster.kubeconfig
    if raw:
        return Path(raw).expanduser()
    return write_destination(kubeconfig_chain(), "contexts", f"kind-{spec.cluster.name}")


def _check_kind_context(spec: PlatformSpec, context: str | None) -> str:
    want = f"kind-{spec.cluster.name}"
    if context and context != want:
        raise UsageError(
            f"--context {context}: cluster.provider is 'kind', whose context is {want!r}; "
            "set cluster.provider: existing to install onto another context"
        )
    return want


def existing_target(spec: PlatformSpec, kubeconfig: str | None, context: str | None) -> ClusterInfo:
    return ClusterInfo(
        provider="existing",
        kubeconfig=kubeconfig or spec.cluster.kubeconfig,
        context=context or spec.cluster.context,
    )


def reachable_target(
    spec: PlatformSpec,
    kubeconfig: str | None,
    context: str | None,
    *,
    kind_binary: Path | None = None,
    explicit_context_wins: bool = False,
) -> tuple[str | None, str | None] | None:
    """Where a read-only command (dry-run, status) should connect, or None when there is no cluster yet.

    ``explicit_context_wins``: for commands that only look (status), an explicit ``--context`` naming
    another cluster is where the user wants to look, as with kubectl; ``up --dry-run`` keeps ``up``'s
    refusal so that a dry run never promises what the real run would refuse.
    """
    if explicit_context_wins and context and context != f"kind-{spec.cluster.name}":
        return kubeconfig or spec.cluster.kubeconfig, context
    if spec.cluster.provider == "existing":
        t = existing_target(spec, kubeconfig, context)
        return t.kubeconfig, t.context
    ctx = _check_kind_context(spec, context)
    path = kind_kubeconfig(spec, kubeconfig)
    try:
        exists = kind_cluster(kind_binary).exists(spec.cluster.name)
    except SourceError:
        exists = False  # no kind binary: there cannot be a kind cluster to talk to
    return (str(path), ctx) if exists else None


def _cache(spec: PlatformSpec) -> bool:
    from platformctl.usecases.up_images import cache_enabled

    return cache_enabled(spec)


def _kind_config(spec: PlatformSpec) -> KindConfig:
    from platformctl.drivers.kind import KindConfig
    from platformctl.plan.lock import load_lock

    return KindConfig(
        name=spec.cluster.name,
        node_image=spec.cluster.node_image or load_lock().selected_set(spec)[1].kind.node_image,
        listen_address=spec.cluster.listen_address,
        http_port=spec.cluster.http_port,
        https_port=spec.cluster.https_port,
        registry_cache=_cache(spec),  # issue 11: containerd config_path for the registry caches
    )


def dry_run_target(
    spec: PlatformSpec,
    kubeconfig: str | None,
    context: str | None,
    *,
    force: bool,
    allow_download: bool,
    kind_binary: Path | None = None,
) -> tuple[ClusterInfo | None, str]:
    """Where ``up --dry-run`` checks its plan, making every check ``up`` makes before it changes
    anything and raising what ``up`` would raise (context mismatch, a cluster or kubeconfig entry
    platformctl did not create, a changed kind config, no kind binary without downloads).

    Returns (the cluster to dry-run against, "") or (None, why there is none yet: render only)."""
    if spec.cluster.provider == "existing":
        return existing_target(spec, kubeconfig, context), ""
    from platformctl.drivers import kind as kind_driver

    ctx = _check_kind_context(spec, context)
    path = kind_kubeconfig(spec, kubeconfig)
    try:
        kind = kind_cluster(kind_binary)
    except SourceError:
        if not allow_download:
            raise
        return None, "kind is not installed yet (`up` would download it) and creates the cluster"
    action = kind_driver.preflight(kind, _kind_config(spec), path, force=force)
    if action == "create":
        return None, f"kind cluster {spec.cluster.name!r} does not exist yet: `up` would create it"
    if action == "recreate":
        return None, f"--force: `up` would delete kind cluster {spec.cluster.name!r} and create it again"
    return ClusterInfo("kind", str(path), ctx, name=spec.cluster.name), ""


def ensure_cluster(
    spec: PlatformSpec,
    kubeconfig: str | None,
    context: str | None,
    *,
    force: bool,
    reporter: Reporter,
    kind_binary: Path | None = None,
    allow_download: bool = True,
) -> ClusterInfo:
    """Existing: just the target. Kind: create, or reuse the cluster platformctl created (drivers/kind.py)."""
    if spec.cluster.provider == "existing":
        return existing_target(spec, kubeconfig, context)
    from platformctl.drivers import kind as kind_driver

    ctx = _check_kind_context(spec, context)
    path = kind_kubeconfig(spec, kubeconfig)
    cfg = _kind_config(spec)
    step = "cluster"
    reporting.start(reporter, step, f"kind cluster {spec.cluster.name}")
    try:
        res = kind_driver.ensure_cluster(
            kind_cluster(kind_binary, allow_download=allow_download),
            cfg,
            path,
            force=force,
            on_line=lambda line: reporting.update(reporter, step, line.strip()),
            timeout=spec.timeouts.cluster,
        )
    except BaseException as exc:
        reporting.fail(reporter, step, str(exc) or type(exc).__name__)
        raise
    if not (kubeconfig or spec.cluster.kubeconfig):
        from platformctl.drivers.kubeconfig import kubeconfig_chain, set_current_context

        # With several $KUBECONFIG files the current-context lives in the first that sets one.
        set_current_context(kubeconfig_chain(), ctx, fallback=path)
    reporting.finish(reporter, step, "created" if res.created else "reused (created earlier by platformctl)")
    return ClusterInfo("kind", str(path), ctx, name=spec.cluster.name, created=res.created)
