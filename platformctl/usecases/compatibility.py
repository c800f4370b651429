"""Is the cluster's Kubernetes inside the selected version set's supported range?

The range is data (manifests/lock.yaml ``sets.<name>.kubernetes``: ``min``/``max`` and the upstream
file they come from, e.g. Knative 1.21's webhook refuses servers older than v1.33.0). ``up`` calls
:func:`check_cluster_version` after connecting and before applying anything; a preflight of an existing
cluster can call :func:`kubernetes_problem` with the server's ``gitVersion``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platformctl.errors import UsageError
from platformctl.plan.lock import load_lock

if TYPE_CHECKING:
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
