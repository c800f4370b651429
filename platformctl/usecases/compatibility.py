"""Can the selected version set go onto this cluster? Its Kubernetes range, and no downgrades.

The range is data (manifests/lock.yaml ``sets.<name>.kubernetes``: ``min``/``max`` and the upstream
file they come from, e.g. Knative 1.21's webhook refuses servers older than v1.33.0). ``up`` calls
:func:`check_cluster_version` after connecting and before applying anything; a preflight of an existing
cluster can call :func:`kubernetes_problem` with the server's ``gitVersion``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platformctl.errors import UsageError
from platformctl.plan.lock import k8s_tuple, load_lock

if TYPE_CHECKING:
    from collections.abc import Sequence

    from platformctl.components.base import RenderContext
    from platformctl.drivers.kube.engine import Engine
    from platformctl.plan.lock import VersionLock
    from platformctl.plan.spec import PlatformSpec


def kubernetes_problem(
    spec: PlatformSpec, server_version: str, lock: VersionLock | None = None
) -> str | None:
    """None when ``server_version`` is supported by the spec's version set, else one line naming the
    cluster's version, the set, its range and where the range comes from."""
    set_name, vset = (lock or load_lock()).selected_set(spec)
    rng = vset.kubernetes
    if not server_version or rng.supports(server_version):
        return None
    return (
        f"the cluster runs Kubernetes {server_version}, but version set {set_name} supports "
        f"{rng.describe()} ({rng.source})"
    )


def check_cluster_version(engine: Engine, spec: PlatformSpec, lock: VersionLock | None = None) -> None:
    """Raise UsageError (exit 2, nothing changed) when the cluster is outside the set's range."""
    version = str(engine.server_version.get("gitVersion") or "")
    problem = kubernetes_problem(spec, version, lock)
    if problem is not None:
        lk = lock or load_lock()
        others = [n for n, s in lk.sets.items() if s.kubernetes.supports(version)]
        hint = (
            f"select a set that supports it (versions: {others[0]} in platform.yaml)"
            if others
            else "upgrade the cluster"
        )
        raise UsageError(problem, hint=hint + "; `platformctl versions` shows every set's range")


def version_changes(
    components: Sequence[str], engine: Engine, ctx: RenderContext
) -> list[tuple[str, str, str]]:
    """(component, running version, selected version) for every installed component of the lock whose
    running version differs from the one the spec selects. The running version is what the component's
    health reads from its main workload (app.kubernetes.io/version label, else the image tag); a
    component that is not installed reports the selected version, so it is not a change."""
    from platformctl.components import registry

    out: list[tuple[str, str, str]] = []
    for name in components:
        if name not in ctx.lock.components:
            continue
        comp = registry.get(name)
        selected = comp.version(ctx)  # the version this run installs (the lock's, for the selected set)
        running = comp.health(engine, ctx).version
        if running and running.lstrip("v") != selected.lstrip("v"):
            out.append((name, running, selected))
    return out


def check_no_downgrade(
    changes: Sequence[tuple[str, str, str]], lock: VersionLock, spec: PlatformSpec
) -> None:
    """Raise UsageError (exit 2, nothing changed) when a change of ``version_changes`` goes backwards."""
    found = [(n, have, want) for n, have, want in changes if k8s_tuple(have) > k8s_tuple(want)]
    if not found:
        return
    set_name, _ = lock.selected_set(spec)
    what = "; ".join(f"{n} {running} runs, set {set_name} has {want}" for n, running, want in found)
    name, running, _ = found[0]
    newer = [s for s, v in lock.sets.items() if v.components.get(name, "").lstrip("v") == running.lstrip("v")]
    fix = f"select `versions: {newer[0]}`" if newer else "select the version the cluster runs"
    raise UsageError(
        f"downgrades are not supported: {what}",
        hint=f"{fix}, or remove the platform (`platformctl down`) and run up again",
    )
