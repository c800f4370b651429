"""``platformctl versions``: the version sets side by side, and every pinned version, chart and file
(URL + sha256) from the version lock."""

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
class SetInfo:
    name: str
    default: bool  # the lock's default_set
    selected: bool  # the set the spec selects (``versions:``)
    source: str
    components: dict[str, str]
    kind: str
    node_image: str
    kubernetes: str
    kubernetes_range: str  # e.g. ">= v1.33.0", or "any"
    kubernetes_min: str | None
    kubernetes_max: str | None
    kubernetes_source: str


@dataclass(frozen=True)
class PinnedFileInfo:
    """One pinned file of the lock, whichever set uses it."""

    component: str
    role: str
    version: str
    path: str
    url: str
    sha256: str
    size: int
    sets: list[str]  # the sets whose component version pins this file


@dataclass(frozen=True)
class VersionsReport:
    kubernetes: str
    kind: str
    node_image: str
    tools: dict[str, str]
    components: list[ComponentVersion]
    version_set: str = ""  # the selected set
    default_set: str = ""
    sets: list[SetInfo] = field(default_factory=list)
    pinned_files: list[PinnedFileInfo] = field(default_factory=list)

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
    set_name, vset = lk.selected_set(spec)
    comps: list[ComponentVersion] = []
    for name in sorted(lk.components, key=_order):
        clock = lk.components[name]
        cspec = spec.components.get(name)
        selected, _ = lk.selected(spec, name)
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
        kubernetes=vset.kubernetes.version,
        kind=vset.kind.version,
        node_image=spec.cluster.node_image or vset.kind.node_image,
        tools={name: pin.version for name, pin in lk.tools.items()},
        components=comps,
        version_set=set_name,
        default_set=lk.default_set,
        sets=[_set_info(lk, name, set_name) for name in lk.sets],
        pinned_files=_pinned_files(lk),
    )


def _set_info(lk: VersionLock, name: str, selected: str) -> SetInfo:
    vset = lk.sets[name]
    k8s = vset.kubernetes
    return SetInfo(
        name=name,
        default=name == lk.default_set,
        selected=name == selected,
        source=vset.source,
        components={c: vset.components[c] for c in sorted(vset.components, key=_order)},
        kind=vset.kind.version,
        node_image=vset.kind.node_image,
        kubernetes=k8s.version,
        kubernetes_range=k8s.describe(),
        kubernetes_min=k8s.min,
        kubernetes_max=k8s.max,
        kubernetes_source=k8s.source,
    )


def _pinned_files(lk: VersionLock) -> list[PinnedFileInfo]:
    out: list[PinnedFileInfo] = []
    for comp in sorted(lk.components, key=_order):
        for ver, rel in lk.components[comp].versions.items():
            users = [n for n, s in lk.sets.items() if s.components.get(comp) == ver]
            out.extend(
                PinnedFileInfo(comp, f.role, f.version, f.path, f.url, f.sha256, f.size, users)
                for f in rel.files
            )
    return out
