"""Which cluster a command talks to, through the provider seam (platformctl/providers/).

Kept for the call sites that predate the providers: every function here asks the provider that
``cluster.provider`` names, so the rules are stated once, in the providers:
* ``kind``: kubeconfig = --kubeconfig, else ``cluster.kubeconfig`` (one file each), else the file of the
  $KUBECONFIG chain kubectl would write the context to (see providers/kind.kubeconfig_path);
  context is always ``kind-<cluster.name>`` (a different --context is a usage error, not silently ignored).
* ``minikube``: as kind, with context ``<cluster.name>`` (the profile name).
* ``existing``: --kubeconfig/--context, else ``cluster.kubeconfig``/``cluster.context``, else the
  kubeconfig's current context.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from platformctl import providers
from platformctl.providers import ProviderOptions, Target

if TYPE_CHECKING:
    from platformctl.drivers.kind import KindCluster
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.render import SourceOptions

# The target a command connects to (the name predates providers/).
ClusterInfo = Target


def ensure_tool(name: str, *, allow_download: bool, reporter: Reporter | None = None) -> Path:
    """The pinned tool (kind/helm/...): see drivers/tools.require_tool."""
    from platformctl.drivers.tools import require_tool

    return require_tool(name, allow_download=allow_download, reporter=reporter)


def kind_cluster(binary: Path | None = None, *, allow_download: bool = False) -> KindCluster:
    from platformctl.providers.kind import KindProvider

    return KindProvider(ProviderOptions(binary=binary, allow_download=allow_download)).cluster()


def kubeconfig_contexts(kubeconfig: str | None) -> list[str]:
    """Context names of ``kubeconfig`` (one file), else of the merged $KUBECONFIG chain (completion)."""
    from platformctl.drivers.kubeconfig import kubeconfig_chain, merge_chain

    chain = [Path(kubeconfig).expanduser()] if kubeconfig else kubeconfig_chain()
    merged, _ = merge_chain(chain)
    return [str(c["name"]) for c in merged["contexts"]]


def reachable_target(
    spec: PlatformSpec,
    kubeconfig: str | None,
    context: str | None,
    *,
    explicit_context_wins: bool = False,
) -> tuple[str | None, str | None] | None:
    """Where a read-only command (dry-run, status) should connect, or None when there is no cluster yet.

    ``explicit_context_wins``: for commands that only look (status), an explicit ``--context`` naming
    another cluster is where the user wants to look, as with kubectl; ``up --dry-run`` keeps ``up``'s
    refusal so that a dry run never promises what the real run would refuse.
    """
    opts = ProviderOptions(kubeconfig=kubeconfig, context=context, allow_download=False)
    provider = providers.create(spec, opts)
    if explicit_context_wins and context and context != provider.context_name(spec):
        return kubeconfig or spec.cluster.kubeconfig, context
    target = provider.target(spec)
    if not provider.exists(spec):
        return None
    return target.kubeconfig, target.context


def dry_run_target(
    spec: PlatformSpec,
    kubeconfig: str | None,
    context: str | None,
    *,
    force: bool,
    sources: SourceOptions,
) -> tuple[ClusterInfo | None, str]:
    """Where ``up --dry-run`` checks its plan: the provider's ``dry_run`` makes every check ``ensure``
    makes before it changes anything and raises what ``up`` would raise (context mismatch, a cluster or
    kubeconfig entry platformctl did not create, a changed config, no binary without downloads).

    Returns (the cluster to dry-run against, "") or (None, why there is none yet: render only)."""
    from platformctl.usecases.up_images import hosts_dir_enabled

    opts = ProviderOptions(
        kubeconfig=kubeconfig,
        context=context,
        force=force,
        allow_download=sources.allow_download,
        # part of kind's config: a changed setting is drift; the same answer `up` uses
        registry_cache=hosts_dir_enabled(spec, sources),
    )
    return providers.create(spec, opts).dry_run(spec)
