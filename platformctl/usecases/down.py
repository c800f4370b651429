"""``platformctl down``: remove the platform.

* providers that manage their cluster (``kind``, ``minikube``): delete the cluster, only when platformctl
  created it (``force`` overrides; the rule is providers/ownership.py's).
* provider ``existing``: prune every component in reverse DAG order through the engine (only objects
  carrying platformctl's ownership labels are touched), then a final sweep for labelled leftovers.
  This deletes workloads on a shared cluster, so it needs ``confirmed`` (the CLI asks, or ``--yes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl import reporting
from platformctl.components.dag import topological
from platformctl.errors import SafetyError

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.context import CommandContext


@dataclass
class DownResult:
    provider: str
    target: str  # cluster name (kind, minikube) or context (existing)
    cluster_deleted: bool = False
    # component → number of objects deleted
    pruned: dict[str, int] = field(default_factory=dict)


def removal_order() -> list[str]:
    """Every registered component, dependents first (reverse of the full DAG)."""
    from platformctl.components import registry
    from platformctl.plan.spec import COMPONENTS

    deps = {n: tuple(registry.get(n).depends_on) for n in COMPONENTS}
    return list(reversed(topological(COMPONENTS, deps)))


def _count(report: Any) -> int:
    deleted = getattr(report, "deleted", None)
    if isinstance(deleted, int):
        return deleted
    return len(deleted) if deleted is not None else 0


def down(
    spec: PlatformSpec,
    *,
    confirmed: bool,
    force: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
    reporter: Reporter | None = None,
    connect: Callable[[str | None, str | None, Reporter], Engine] | None = None,
    timeout: float | None = None,
) -> DownResult:
    rep: Reporter = reporter or reporting.NullReporter()
    from platformctl import providers

    opts = providers.ProviderOptions(
        kubeconfig=kubeconfig, context=context, force=force, allow_download=False
    )
    provider = providers.create(spec, opts)
    if provider.manages_cluster:
        name = spec.cluster.name
        reporting.start(rep, "cluster", f"deleting {provider.name} cluster {name}")
        try:
            deleted = provider.remove(spec)
        except BaseException as exc:
            reporting.fail(rep, "cluster", str(exc) or type(exc).__name__)
            raise
        reporting.finish(rep, "cluster", "deleted" if deleted else "no such cluster")
        return DownResult(provider.name, name, cluster_deleted=deleted)

    target = provider.target(spec)
    if not confirmed:
        raise SafetyError(
            f"down would delete every platformctl-managed object on context {target.context or '(current)'}; "
            "confirm interactively or pass --yes"
        )
    if connect is None:
        from platformctl.usecases.up import default_connect

        connect = default_connect
    engine = connect(target.kubeconfig, target.context, rep)
    result = DownResult("existing", engine.context_name)
    limit = timeout or spec.timeouts.component
    for name in removal_order():
        reporting.start(rep, name, "pruning")
        report = engine.prune(component=name, timeout=limit)
        result.pruned[name] = _count(report)
        reporting.finish(rep, name, f"{result.pruned[name]} deleted")
    # Objects labelled by a component this version no longer knows (renamed, removed): sweep them too.
    leftovers = _count(engine.prune(component=None, timeout=limit))
    if leftovers:
        result.pruned["(other)"] = leftovers
    return result


def down_command(
    cctx: CommandContext, *, confirmed: bool, reporter: Reporter | None = None, timeout: float | None = None
) -> DownResult:
    """``platformctl down`` with the per-command context: the spec, --kubeconfig, --context and --force
    come from ``cctx``, and an existing cluster is pruned through ``cctx.engine`` (connected once: the
    cluster a confirmation question named is the one pruned). ``reporter`` overrides ``cctx.reporter``
    (the CLI asks its question before its progress view starts)."""
    return down(
        cctx.spec,
        confirmed=confirmed,
        force=cctx.force,
        kubeconfig=cctx.kubeconfig,
        context=cctx.context,
        reporter=reporter or cctx.reporter,
        connect=lambda kubeconfig, context, rep: cctx.engine,
        timeout=timeout,
    )
