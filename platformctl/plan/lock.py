"""The version lock (manifests/lock.yaml): every pinned version, URL and sha256 as data.

``components.<name>.versions`` pins each release's files and charts. ``sets`` names consistent
combinations (one version per component, the kind version and node image by digest, the Kubernetes
range the set supports and where that range comes from); ``default_set`` is the one ``up`` installs
when platform.yaml sets no ``versions:``. Adding a set or moving the default is a data-only change:
nothing here names a set or a version.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from platformctl.errors import ConfigError
from platformctl.resources import data_dir

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PinnedFile(_Strict):
    role: str  # upstream component the file belongs to (e.g. net-istio inside knative-serving)
    version: str
    path: str  # bundle-relative: <component>/<version>/<file>, the bundle layout (`platformctl bundle`)
    url: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class ChartPin(_Strict):
    repo: str
    version: str
    names: list[str]
    # sha256 of each chart's published archive (<repo>/<name>-<version>.tgz), the digest the chart
    # repository's index.yaml lists: verified for every source (download, cache, --charts-dir, bundle).
    digests: dict[str, str] = {}
    # sha256 of archives packaged from the release's source tag with `helm package` (bytes differ from
    # the published archive, whose digest is then not known to the lock): accepted as known local
    # packaging, so an offline bundle built from source verifies. A published archive of a chart
    # without a ``digests`` entry is verified against the repository's index.yaml at download time.
    packaged_digests: dict[str, str] = {}
    # Image registry and tag the chart's pods run (Istio's global.hub/global.tag): set explicitly so
    # the images never depend on how the chart was packaged (source charts default to a dev hub).
    image_hub: str | None = None
    image_tag: str | None = None

    def known_digests(self, name: str) -> dict[str, str]:
        """digest -> what it is, for every pinned archive of chart ``name``."""
        out: dict[str, str] = {}
        if name in self.packaged_digests:
            out[self.packaged_digests[name]] = "source-packaged archive"
        if name in self.digests:
            out[self.digests[name]] = "published archive"
        return out


class Release(_Strict):
    files: list[PinnedFile] = []
    charts: ChartPin | None = None
    # Release-specific values platformctl sets, each documented by that release (cited in the lock),
    # e.g. KServe's deploy.defaultDeploymentMode name. Read by the component that owns the release.
    settings: dict[str, str] = {}

    def file(self, filename: str) -> PinnedFile:
        for f in self.files:
            if f.filename == filename or f.path.endswith("/" + filename):
                return f
        raise KeyError(filename)


class ComponentLock(_Strict):
    # The default set's version of this component: filled in from ``sets[default_set]`` when the lock
    # file leaves it out (so moving the default stays one line); when given, it must agree.
    default: str
    versions: dict[str, Release]


class ToolPin(_Strict):
    version: str
    # sha256 per "<os>-<arch>" when known; otherwise the release's checksum file is used.
    sha256: dict[str, str] = {}


class KindLock(_Strict):
    version: str
    node_image: str


_K8S_VERSION = r"^v\d+\.\d+(\.\d+)?$"


def k8s_tuple(version: str) -> tuple[int, ...]:
    """``v1.33.0`` → (1, 33, 0); ``v1.34.1+k3s1`` / ``v1.30.2-gke.1`` → (1, 34, 1) / (1, 30, 2)."""
    core = version.strip().lstrip("v").split("+", 1)[0].split("-", 1)[0]
    out: list[int] = []
    for part in core.split("."):
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


class KubernetesLock(_Strict):
    # The Kubernetes version of the set's node image: what kind runs and what render validates against.
    version: str = Field(pattern=_K8S_VERSION)
    # The range of server versions the set supports (``min`` inclusive). None: no bound is known.
    min: str | None = Field(default=None, pattern=_K8S_VERSION)
    max: str | None = Field(default=None, pattern=_K8S_VERSION)
    source: str  # where the range comes from (an upstream file), or why it is unbounded

    def supports(self, server_version: str) -> bool:
        """True when ``server_version`` (e.g. ``v1.33.4``, ``v1.34.1+k3s1``) is inside the range.

        ``max`` bounds the minor release (``max: v1.34.0`` admits every v1.34 patch)."""
        have = k8s_tuple(server_version)
        if self.min is not None and have < k8s_tuple(self.min):
            return False
        return not (self.max is not None and have[:2] > k8s_tuple(self.max)[:2])

    def describe(self) -> str:
        """``>= v1.33.0``, ``>= v1.33.0, <= v1.34.x``, or ``any (<why>)`` when unbounded."""
        parts = [f">= {self.min}"] if self.min else []
        if self.max:
            parts.append("<= v" + ".".join(map(str, k8s_tuple(self.max)[:2])) + ".x")
        return ", ".join(parts) if parts else "any"


def _needs_default(entry: object, component: str, picks: dict[str, object]) -> bool:
    return isinstance(entry, dict) and "default" not in entry and component in picks


class VersionSet(_Strict):
    source: str  # the upstream file that names this combination
    components: dict[str, str]  # component -> version under components.<name>.versions
    kind: KindLock
    kubernetes: KubernetesLock


class VersionLock(_Strict):
    schema_: int = Field(alias="schema")
    default_set: str
    sets: dict[str, VersionSet]
    tools: dict[str, ToolPin]
    components: dict[str, ComponentLock]

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: object) -> object:
        """components.<name>.default = the default set's version unless the file states it."""
        if not isinstance(data, dict):
            return data
        sets, name, comps = data.get("sets"), data.get("default_set"), data.get("components")
        if isinstance(sets, dict) and isinstance(name, str) and name not in sets:
            raise ValueError(f"default_set: {name!r} is not under sets: ({', '.join(sorted(sets))})")
        chosen = sets.get(name) if isinstance(sets, dict) and isinstance(name, str) else None
        picks = chosen.get("components") if isinstance(chosen, dict) else None
        if not isinstance(comps, dict) or not isinstance(picks, dict):
            return data
        missing = sorted(c for c in comps if c not in picks)
        if missing:
            raise ValueError(f"sets.{name}.components: no version for {', '.join(missing)}")
        filled = dict(data)
        filled["components"] = {
            c: {**v, "default": picks[c]} if _needs_default(v, c, picks) else v for c, v in comps.items()
        }
        return filled

    @model_validator(mode="after")
    def _consistent(self) -> VersionLock:
        if self.default_set not in self.sets:
            raise ValueError(
                f"default_set: {self.default_set!r} is not under sets: ({', '.join(sorted(self.sets))})"
            )
        for set_name, vset in self.sets.items():
            missing = sorted(set(self.components) - set(vset.components))
            if missing:
                raise ValueError(f"sets.{set_name}.components: no version for {', '.join(missing)}")
            for comp, ver in vset.components.items():
                if comp not in self.components:
                    raise ValueError(f"sets.{set_name}.components.{comp}: not a component of the lock")
                if ver not in self.components[comp].versions:
                    raise ValueError(
                        f"sets.{set_name}.components.{comp}: {ver!r} is not under components.{comp}.versions"
                    )
        for comp, clock in self.components.items():
            want = self.sets[self.default_set].components[comp]
            if clock.default != want:
                raise ValueError(
                    f"components.{comp}.default: {clock.default!r} differs from the default set "
                    f"{self.default_set}'s {want!r} (drop the line: the set decides)"
                )
        return self

    @property
    def kind(self) -> KindLock:
        """The default set's kind version and node image."""
        return self.sets[self.default_set].kind

    @property
    def kubernetes(self) -> KubernetesLock:
        """The default set's Kubernetes version and supported range."""
        return self.sets[self.default_set].kubernetes

    def version_set(self, name: str | None = None) -> tuple[str, VersionSet]:
        """The set called ``name`` (None: the default set); unknown names are a ConfigError (exit 2)."""
        chosen = name or self.default_set
        if chosen not in self.sets:
            raise ConfigError(
                f"versions: {chosen!r} is not a version set of the lock; "
                f"sets: {', '.join(sorted(self.sets))} (default {self.default_set})"
            )
        return chosen, self.sets[chosen]

    def release(
        self, component: str, version: str | None = None, version_set: str | None = None
    ) -> tuple[str, Release]:
        """The pinned release of ``component`` at ``version``; without one, the version ``version_set``
        (None: the default set) names for it."""
        try:
            comp = self.components[component]
        except KeyError:
            raise ConfigError(
                f"unknown component {component!r}: the lock pins {', '.join(sorted(self.components))}"
            ) from None
        ver = version or self.version_set(version_set)[1].components.get(component) or comp.default
        if ver not in comp.versions:
            raise ConfigError(
                f"components.{component}.version: {ver!r} is not in the version lock; "
                f"pinned versions: {', '.join(sorted(comp.versions))} (add it to manifests/lock.yaml)"
            )
        return ver, comp.versions[ver]

    def chart_pin(self, repo: str, version: str, name: str) -> ChartPin:
        """The ChartPin of chart ``name`` at ``repo``/``version`` (what components pass to helm)."""
        for comp in self.components.values():
            for rel in comp.versions.values():
                pin = rel.charts
                if pin is not None and pin.repo == repo and pin.version == version and name in pin.names:
                    return pin
        raise ConfigError(f"manifests/lock.yaml pins no chart {name!r} {version} from {repo}")

    def all_charts(self) -> list[tuple[str, str, ChartPin]]:
        """Every pinned chart of every version, as (component, chart name, pin)."""
        out: list[tuple[str, str, ChartPin]] = []
        for comp_name, comp in self.components.items():
            for rel in comp.versions.values():
                if rel.charts is not None:
                    out.extend((comp_name, n, rel.charts) for n in rel.charts.names)
        return out

    def selected_set(self, spec: PlatformSpec) -> tuple[str, VersionSet]:
        """The version set ``spec`` selects (``versions:``; None: the default set)."""
        return self.version_set(spec.versions)

    def selected(self, spec: PlatformSpec, component: str) -> tuple[str, Release]:
        """The release ``spec`` installs for ``component``: its ``components.<name>.version`` override,
        else the selected set's version."""
        cspec = spec.components.get(component)
        return self.release(component, cspec.version if cspec else None, spec.versions)

    def selected_versions(self, spec: PlatformSpec) -> dict[str, str | None]:
        """component -> the version ``spec`` installs, for every component of the lock."""
        return {name: self.selected(spec, name)[0] for name in self.components}

    def all_files(self) -> list[tuple[str, PinnedFile]]:
        """Every pinned file of every version, as (component, file)."""
        out: list[tuple[str, PinnedFile]] = []
        for name, comp in self.components.items():
            for rel in comp.versions.values():
                out.extend((name, f) for f in rel.files)
        return out

    def set_files(self, name: str | None = None) -> list[tuple[str, PinnedFile]]:
        """Every pinned file of the set ``name`` (None: the default set), as (component, file)."""
        _, vset = self.version_set(name)
        return [
            (comp, f)
            for comp in self.components
            for f in self.components[comp].versions[vset.components[comp]].files
        ]


def default_lock_path() -> Path:
    return data_dir("manifests") / "lock.yaml"


@cache
def load_lock(path: Path | None = None) -> VersionLock:
    p = path or default_lock_path()
    with p.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return VersionLock.model_validate(raw)
