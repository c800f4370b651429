"""The upstream corpus (PLATFORMCTL_UPSTREAM_DIR) one version set at a time, through its LOCK.yaml.

The corpus holds several consistent version sets (LOCK.yaml ``sets:``) side by side, so a test that
globs the whole directory mixes releases (two kserve.yaml, two serving-core.yaml ...). Tests pick a
set and get exactly that set's files; a new set in the corpus is picked up without a code change.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

# LOCK.yaml `files:` entries name the upstream project of each file; the set maps the project's
# name (without the "-crds" suffix of the CRD-only entries) to its version.
_SET_KEY = {"istio-crds": "istio", "dapr-crds": "dapr"}


@dataclass(frozen=True)
class UpstreamFile:
    component: str  # LOCK.yaml `component` (kserve, knative-serving, net-istio, istio-crds, ...)
    version: str
    path: str  # relative to the corpus root: <dir>/<version>/<file>
    sha256: str
    url: str


@cache
def _lock(root: Path) -> dict[str, Any]:
    with (root / "LOCK.yaml").open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def _version(value: object) -> str:
    # set values may carry a remark after the version: "1.21.1 (file labels; ...)"
    return str(value).split()[0]


def set_names(root: Path) -> list[str]:
    """Every version set the corpus describes, in LOCK.yaml order."""
    return [k for k, v in _lock(root)["sets"].items() if isinstance(v, dict)]


def set_versions(root: Path, name: str) -> dict[str, str]:
    entry = _lock(root)["sets"][name]
    return {k: _version(v) for k, v in entry.items() if isinstance(v, str | int | float)}


def set_files(root: Path, name: str) -> list[UpstreamFile]:
    """The files of one set, in LOCK.yaml order; fails if the set names a version with no file."""
    versions = set_versions(root, name)
    out: list[UpstreamFile] = []
    for f in _lock(root)["files"]:
        key = _SET_KEY.get(f["component"], f["component"])
        if key in versions and versions[key] == _version(f["version"]):
            out.append(UpstreamFile(f["component"], f["version"], f["file"], f["sha256"], f["upstream_url"]))
    assert out, f"set {name} selects no file of {root / 'LOCK.yaml'}"
    return out


def find(root: Path, name: str, directory: str, pattern: str) -> list[Path]:
    """Paths of set ``name`` under ``<directory>/<version>/`` whose remainder matches ``pattern``."""
    hits = []
    for f in set_files(root, name):
        parts = f.path.split("/", 2)
        if parts[0] == directory and len(parts) == 3 and fnmatch.fnmatch(parts[2], pattern):
            hits.append(root / f.path)
    assert hits, f"set {name}: no {directory}/*/{pattern} in {root / 'LOCK.yaml'}"
    return hits
