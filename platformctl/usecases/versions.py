"""``platformctl versions``: every pinned version, chart and file (URL + sha256) from the version lock."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from platformctl.plan.lock import VersionLock, load_lock
from platformctl.plan.spec import COMPONENTS, PlatformSpec


@dataclass(frozen=True)
class FileInfo:
    role: str
    version: str
    path: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ChartInfo:
    repo: str
    version: str
    names: list[str]


@dataclass(frozen=True)
class ComponentVersion:
    name: str
    version: str
    default: bool  # this is the lock's default version of the component
    selected: bool  # the spec selects this version (what `up` installs)
    enabled: bool
    chart: ChartInfo | None
    files: list[FileInfo] = field(default_factory=list)


@dataclass(frozen=True)
class VersionsReport:
    kubernetes: str
    kind: str
    node_image: str
    tools: dict[str, str]
    components: list[ComponentVersion]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def files(self) -> list[tuple[str, FileInfo]]:
        return [(c.name, f) for c in self.components for f in c.files]


def _order(name: str) -> tuple[int, str]:
    # Spec order first (the DAG's display order), then anything else the lock pins.
    return (COMPONENTS.index(name) if name in COMPONENTS else len(COMPONENTS), name)


def versions_report(
    spec: PlatformSpec | None = None, *, lock: VersionLock | None = None, all_versions: bool = False
) -> VersionsReport:
    """The pinned platform. ``spec`` selects versions/enablement (default: the lock defaults);
    ``all_versions`` lists every version the lock pins, not only the selected one."""
    lk = lock or load_lock()
    spec = spec or PlatformSpec()
    comps: list[ComponentVersion] = []
    for name in sorted(lk.components, key=_order):
        clock = lk.components[name]
        cspec = spec.components.get(name)
        selected, _ = lk.release(name, cspec.version if cspec else None)
        versions = sorted(clock.versions) if all_versions else [selected]
        for ver in versions:
            rel = clock.versions[ver]
            chart = (
                ChartInfo(rel.charts.repo, rel.charts.version, list(rel.charts.names)) if rel.charts else None
            )
            files = [FileInfo(f.role, f.version, f.path, f.url, f.sha256, f.size) for f in rel.files]
            comps.append(
                ComponentVersion(
                    name=name,
                    version=ver,
                    default=ver == clock.default,
                    selected=ver == selected,
                    enabled=cspec.enabled if cspec else True,
                    chart=chart,
                    files=files,
                )
            )
    return VersionsReport(
        kubernetes=lk.kubernetes.version,
        kind=lk.kind.version,
        node_image=spec.cluster.node_image or lk.kind.node_image,
        tools={name: pin.version for name, pin in lk.tools.items()},
        components=comps,
    )
