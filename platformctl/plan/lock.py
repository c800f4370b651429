"""The version lock (manifests/lock.yaml): every pinned version, URL and sha256 as data.

A version bump is a data-only change: add an entry under ``components.<name>.versions`` and move
``default``. Nothing here is computed; everything is read from the lock file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from platformctl.errors import ConfigError
from platformctl.resources import data_dir


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PinnedFile(_Strict):
    role: str  # upstream component the file belongs to (e.g. net-istio inside knative-serving)
    version: str
    path: str  # bundle-relative: <component>/<version>/<file>, the layout of shared/upstream
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

    def file(self, filename: str) -> PinnedFile:
        for f in self.files:
            if f.filename == filename or f.path.endswith("/" + filename):
                return f
        raise KeyError(filename)


class ComponentLock(_Strict):
    default: str
    versions: dict[str, Release]


class ToolPin(_Strict):
    version: str
    # sha256 per "<os>-<arch>" when known; otherwise the release's checksum file is used.
    sha256: dict[str, str] = {}


class KindLock(_Strict):
    version: str
    node_image: str


class KubernetesRange(_Strict):
    """The Kubernetes minors every pinned component supports (``up``'s preflight checks the server)."""

    min: str = Field(pattern=r"^v1\.\d+$")  # oldest supported minor: an older server is refused
    max: str = Field(pattern=r"^v1\.\d+$")  # newest minor known to work: a newer one only warns
    source: str  # where each bound comes from


class KubernetesLock(_Strict):
    version: str
    supported: KubernetesRange | None = None


class VersionLock(_Strict):
    schema_: int = Field(alias="schema")
    kubernetes: KubernetesLock
    kind: KindLock
    tools: dict[str, ToolPin]
    components: dict[str, ComponentLock]

    def release(self, component: str, version: str | None = None) -> tuple[str, Release]:
        """The pinned release of ``component`` at ``version`` (default: the lock's default)."""
        try:
            comp = self.components[component]
        except KeyError:
            raise ConfigError(
                f"unknown component {component!r}: the lock pins {', '.join(sorted(self.components))}"
            ) from None
        ver = version or comp.default
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

    def all_files(self) -> list[tuple[str, PinnedFile]]:
        """Every pinned file of every version, as (component, file)."""
        out: list[tuple[str, PinnedFile]] = []
        for name, comp in self.components.items():
            for rel in comp.versions.values():
                out.extend((name, f) for f in rel.files)
        return out


def default_lock_path() -> Path:
    return data_dir("manifests") / "lock.yaml"


@cache
def load_lock(path: Path | None = None) -> VersionLock:
    p = path or default_lock_path()
    with p.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return VersionLock.model_validate(raw)
