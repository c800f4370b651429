"""The component contract: name, dependencies, ordered steps (apply / wait), health and removal.

A component is data plus small functions. ``steps()`` returns an ordered list of Apply and Wait
steps; ``up`` executes them in order through the engine, ``render`` collects only the Apply steps'
objects (no cluster needed), ``--dry-run`` sends the Apply steps to the server in dry-run mode.
Objects are rendered lazily (``Apply.render``) because rendering may need Helm or downloads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from platformctl.kubeobjects import KubeObject as KubeObject  # re-exported: the contract's object type

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine
    from platformctl.drivers.sources import SourceResolver
    from platformctl.plan.lock import VersionLock
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter


@dataclass
class RenderContext:
    """What a component needs to produce its objects (no cluster)."""

    spec: PlatformSpec
    lock: VersionLock
    sources: SourceResolver
    reporter: Reporter
    # Callable that renders Helm charts: (chart_name, repo, version, release, namespace, values) -> objects.
    helm_render: Callable[[str, str, str, str, str, dict[str, Any]], list[KubeObject]] | None = None


@dataclass(frozen=True)
class Apply:
    name: str
    render: Callable[[RenderContext], list[KubeObject]]


@dataclass(frozen=True)
class Wait:
    """``check(engine, timeout_seconds)`` blocks until ready or raises NotReadyError with diagnostics."""

    name: str
    check: Callable[[Engine, float], None]


Step = Apply | Wait


@dataclass(frozen=True)
class Health:
    healthy: bool
    version: str
    reason: str = ""
    urls: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (name, url)


class Component(Protocol):
    name: str
    depends_on: tuple[str, ...]
    # Namespaces this component owns (removed by prune after its objects).
    namespaces: tuple[str, ...]

    def version(self, ctx: RenderContext) -> str: ...

    def steps(self, ctx: RenderContext) -> list[Step]: ...

    def health(self, engine: Engine, ctx: RenderContext) -> Health: ...
