"""`platformctl tools`: which kind/helm/kubectl (and the provider's minikube) would be used, from where, and
whether they match the pin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformctl.drivers.tools import OPTIONAL_TOOLS, TOOLS, ToolInfo, ToolResolver
from platformctl.errors import PlatformError, UsageError
from platformctl.plan.lock import VersionLock, load_lock
from platformctl.reporting import Reporter

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec


@dataclass(frozen=True)
class ToolRow:
    name: str
    pinned: str
    path: str | None
    version: str | None
    source: str
    matches: bool
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "version": self.version,
            "pinned": self.pinned,
            "matches_pin": self.matches,
            "source": self.source,
            "note": self.note,
        }


def _row(info: ToolInfo) -> ToolRow:
    return ToolRow(
        name=info.name,
        pinned=info.pinned,
        path=str(info.path) if info.path else None,
        version=info.version,
        source=info.source,
        matches=info.matches,
        note=info.note,
    )


def make_resolver(
    *,
    lock: VersionLock | None = None,
    cache_dir: Path | None = None,
    allow_download: bool = True,
    reporter: Reporter | None = None,
    env: Mapping[str, str] | None = None,
    bases: Mapping[str, str] | None = None,
) -> ToolResolver:
    return ToolResolver(
        lock or load_lock(),
        cache_dir=cache_dir,
        allow_download=allow_download,
        reporter=reporter,
        env=env,
        bases=bases,
    )


def spec_tools(spec: PlatformSpec) -> tuple[str, ...]:
    """kind, helm and kubectl, plus what the spec's provider drives beyond them (minikube)."""
    from platformctl import providers

    extra = [t for t in providers.tools(spec.cluster.provider) if t not in TOOLS]
    return (*TOOLS, *extra)


def bundle_tools(spec: PlatformSpec, *, all_tools: bool = False) -> tuple[str, ...]:
    """The tool binaries ``bundle DIR`` carries: the provider's beyond kind/helm/kubectl (minikube),
    and with ``all_tools`` (``bundle --tools``) kind, helm and kubectl too."""
    return spec_tools(spec) if all_tools else spec_tools(spec)[len(TOOLS) :]


def select_tools(requested: Sequence[str], spec: PlatformSpec) -> tuple[str, ...]:
    """The tools a command works on: the ones named (``tools install minikube``), else ``spec_tools``."""
    if not requested:
        return spec_tools(spec)
    known = (*TOOLS, *OPTIONAL_TOOLS)
    for name in requested:
        if name not in known:
            raise UsageError(f"TOOL: unknown tool {name!r}; known: {', '.join(known)}")
    return tuple(dict.fromkeys(requested))


def list_tools(
    resolver: ToolResolver, *, install: bool = False, names: Sequence[str] = TOOLS
) -> tuple[list[ToolRow], list[PlatformError]]:
    """Detect each tool (``install``: download missing/off-version ones). Errors are collected, not raised,
    so one bad tool does not hide the others."""
    rows: list[ToolRow] = []
    errors: list[PlatformError] = []
    for name in names:
        try:
            info = resolver.ensure(name) if install else resolver.detect(name)
        except PlatformError as exc:
            errors.append(exc)
            rows.append(ToolRow(name, resolver.pinned(name), None, None, "missing", False, exc.message))
            continue
        rows.append(_row(info))
    return rows, errors
