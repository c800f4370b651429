"""Per-version-set test seams: a --charts-dir holding the chart archives each set pins.

Every chart is the real archive from the upstream corpus (``charts/<name>-<version>.tgz``, sha256 in its
LOCK.yaml and verified by platformctl before use), e.g. dapr-1.18.3.tgz for kserve-0.20. Nothing here
names a set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from platformctl.plan.lock import VersionLock


def charts_dir_for(lock: VersionLock, set_name: str, upstream: Path, into: Path) -> Path:
    """A directory with every chart archive ``set_name`` pins. Skips the test when the corpus lacks one."""
    into.mkdir(parents=True, exist_ok=True)
    vset = lock.sets[set_name]
    for comp, version in vset.components.items():
        charts = lock.components[comp].versions[version].charts
        if charts is None:
            continue
        for name in charts.names:
            archive = upstream / "charts" / f"{name}-{charts.version}.tgz"
            if not archive.is_file():
                pytest.skip(f"no chart {name} {charts.version} for set {set_name} (not in {upstream}/charts)")
            (into / archive.name).symlink_to(archive)
    return into
