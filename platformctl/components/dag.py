"""The plan: the spec's enabled components as a DAG (from the registry's ``depends_on``).

Selection rules (``--only`` / ``--skip``), decided once here:

* The plan holds the spec's enabled components, narrowed by ``--only`` (if given) and minus ``--skip``.
* ``--only`` naming a component the spec disables is a usage error (enable it in the spec instead).
* A dependency that is *not* in the plan (skipped, disabled, or left out by ``--only``) becomes an
  **external prerequisite**: the plan runs only when it is already installed and healthy on the cluster.
  ``up`` checks that before touching anything (``Plan.external``) and refuses with a message naming the
  missing dependency and the fix; ``render`` and ``--dry-run`` without a cluster only need the objects,
  so they do not check. This keeps ``--only kserve`` useful for re-applying one component on a running
  platform, and impossible on an empty cluster where it could only fail half-way.
* Unknown names, dependencies on unknown components and cycles are errors naming the culprit.

Order is deterministic: ties in the topological order are broken by the spec's display order
(``COMPONENTS``), so render output and progress lines are stable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from platformctl.errors import ConfigError, UsageError
from platformctl.plan.spec import COMPONENTS, PlatformSpec

if TYPE_CHECKING:
    from platformctl.components.base import Component


@dataclass(frozen=True)
class Plan:
    """Components to run, in topological order, with their dependencies inside the plan."""

    order: tuple[str, ...]
    # name -> dependencies that are part of this plan (the runner waits for these).
    deps: Mapping[str, tuple[str, ...]]
    # Dependencies outside the plan that must already be healthy on the cluster: name -> needed by.
    external: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    components: Mapping[str, Component] = field(default_factory=dict)

    def dependents(self, name: str) -> list[str]:
        """Every component that (transitively) depends on ``name``, in plan order."""
        hit: set[str] = {name}
        out: list[str] = []
        for n in self.order:
            if n != name and any(d in hit for d in self.deps[n]):
                hit.add(n)
                out.append(n)
        return out

    def reverse(self) -> tuple[str, ...]:
        """Removal order: dependents before what they depend on."""
        return tuple(reversed(self.order))

    def critical_path(self, durations: Mapping[str, float]) -> tuple[float, list[str]]:
        """Longest dependency chain by ``durations`` (the lower bound of any parallel schedule)."""
        best: dict[str, tuple[float, list[str]]] = {}
        for n in self.order:
            base = max((best[d] for d in self.deps[n]), key=lambda t: t[0], default=(0.0, []))
            best[n] = (base[0] + durations.get(n, 0.0), [*base[1], n])
        if not best:
            return 0.0, []
        return max(best.values(), key=lambda t: t[0])


def _display_rank(name: str) -> int:
    return COMPONENTS.index(name) if name in COMPONENTS else len(COMPONENTS)


def _check_names(flag: str, names: Iterable[str], known: Sequence[str]) -> None:
    for n in names:
        if n not in known:
            raise UsageError(f"{flag} {n}: unknown component; choose from: {', '.join(known)}")


def topological(nodes: Iterable[str], deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Kahn's algorithm with display-order tie breaking; raises ConfigError naming a cycle."""
    node_list = list(nodes)
    members = set(node_list)
    pending = {n: [d for d in deps.get(n, ()) if d in members] for n in node_list}
    order: list[str] = []
    done: set[str] = set()
    while pending:
        ready = sorted((n for n, ds in pending.items() if all(d in done for d in ds)), key=_display_rank)
        if not ready:
            raise ConfigError(f"component dependencies form a cycle: {' -> '.join(_find_cycle(pending))}")
        n = ready[0]
        order.append(n)
        done.add(n)
        del pending[n]
    return order


def _find_cycle(pending: Mapping[str, Sequence[str]]) -> list[str]:
    # Every remaining node has an unfinished dependency, so walking dependencies must revisit a node.
    start = min(pending, key=_display_rank)
    path = [start]
    while True:
        nxt = next(d for d in pending[path[-1]] if d in pending)
        if nxt in path:
            return [*path[path.index(nxt) :], nxt]
        path.append(nxt)


def build_plan(
    spec: PlatformSpec,
    *,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    get_component: Callable[[str], Component] | None = None,
) -> Plan:
    """The DAG for ``spec`` narrowed by ``--only``/``--skip`` (see the module docstring for the rules)."""
    if get_component is None:
        from platformctl.components import registry

        get_component = registry.get
    known = list(spec.components)
    _check_names("--only", only, known)
    _check_names("--skip", skip, known)
    both = [n for n in only if n in skip]
    if both:
        raise UsageError(
            f"--only {both[0]} --skip {both[0]}: a component cannot be both run and skipped; drop one flag"
        )
    for n in only:
        if not spec.components[n].enabled:
            raise UsageError(
                f"--only {n}: the component is disabled in the spec; set components.{n}.enabled: true"
            )
    selected = [n for n in COMPONENTS if n in known and spec.components[n].enabled]
    if only:
        selected = [n for n in selected if n in only]
    selected = [n for n in selected if n not in skip]
    if skip and not selected:
        raise UsageError(
            f"--skip {','.join(skip)}: every component is skipped or disabled, nothing would run; "
            "skip fewer components"
        )

    components: dict[str, Component] = {}
    all_deps: dict[str, tuple[str, ...]] = {}
    for n in selected:
        comp = get_component(n)
        for d in comp.depends_on:
            if d not in known:
                raise ConfigError(f"component {n!r} depends on unknown component {d!r}")
        components[n] = comp
        all_deps[n] = tuple(comp.depends_on)
    # Cycles through components outside the selection still matter (they could never be satisfied).
    _full_cycle_check(all_deps, get_component)

    order = topological(selected, all_deps)
    inside = set(selected)
    external: dict[str, list[str]] = {}
    for n in order:
        for d in all_deps[n]:
            if d not in inside:
                external.setdefault(d, []).append(n)
    return Plan(
        order=tuple(order),
        deps={n: tuple(d for d in all_deps[n] if d in inside) for n in order},
        external={k: tuple(v) for k, v in sorted(external.items(), key=lambda kv: _display_rank(kv[0]))},
        components=components,
    )


def _full_cycle_check(deps: dict[str, tuple[str, ...]], get_component: Callable[[str], Component]) -> None:
    closure = dict(deps)
    todo = [d for ds in deps.values() for d in ds if d not in closure]
    while todo:
        n = todo.pop()
        if n in closure:
            continue
        closure[n] = tuple(get_component(n).depends_on)
        todo.extend(d for d in closure[n] if d not in closure)
    topological(list(closure), closure)
