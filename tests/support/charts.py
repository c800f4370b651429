"""Where tests find Helm charts.

The real chart archives (``<upstream>/charts/*.tgz``: the published Dapr archive and Istio's archives
packaged from the 1.27.1 source tag, provenance in the upstream LOCK.yaml ``charts:`` section) are the
default for every render/install/golden test. ``tests/charts`` holds small hand-written charts; tests use
them only where they need a chart they can break or edit in place (see tests/charts/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
# Deliberately minimal, editable charts: only for tests that break or edit a chart.
MINIMAL_CHARTS = TESTS / "charts"


def upstream_root() -> Path | None:
    raw = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    path = Path(raw) if raw else TESTS.parents[1] / "shared" / "upstream"
    return path if (path / "LOCK.yaml").is_file() else None


def real_charts_dir() -> Path:
    """``<upstream>/charts`` (the real archives), or skip the test when the upstream dir is absent."""
    root = upstream_root()
    if root is None or not (root / "charts").is_dir():
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset (and ../shared/upstream/charts absent)")
    return root / "charts"
