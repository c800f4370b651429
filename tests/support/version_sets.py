"""Per-version-set test seams: a --charts-dir holding the chart each set pins.

The test charts in tests/charts mimic one chart version each (istio 1.27.1, dapr 1.15.14). A set pinning
another version gets the real published archive from the upstream corpus (``charts/<name>-<version>.tgz``,
sha256 in its LOCK.yaml), e.g. dapr-1.18.3.tgz for kserve-0.20. Nothing here names a set.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from platformctl.plan.lock import VersionLock

TEST_CHARTS = Path(__file__).resolve().parents[1] / "charts"


def _test_chart_version(name: str) -> str | None:
    meta = TEST_CHARTS / name / "Chart.yaml"
    if not meta.is_file():
        return None
    return str((yaml.safe_load(meta.read_text(encoding="utf-8")) or {}).get("version", ""))


def charts_dir_for(lock: VersionLock, set_name: str, upstream: Path, into: Path) -> Path:
    """A directory with every chart ``set_name`` pins: the test chart when its version matches, else the
    upstream archive. Skips the test when neither exists."""
    into.mkdir(parents=True, exist_ok=True)
    vset = lock.sets[set_name]
    for comp, version in vset.components.items():
        charts = lock.components[comp].versions[version].charts
        if charts is None:
            continue
        for name in charts.names:
            if _test_chart_version(name) == charts.version:
                (into / name).symlink_to(TEST_CHARTS / name, target_is_directory=True)
                continue
            archive = upstream / "charts" / f"{name}-{charts.version}.tgz"
            if not archive.is_file():
                pytest.skip(f"no chart {name} {charts.version} for set {set_name} (not in {upstream}/charts)")
            (into / archive.name).symlink_to(archive)
    return into
