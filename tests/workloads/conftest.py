"""Fixtures of the workload tests: a RenderContext factory and the pinned upstream CRDs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from platformctl.components.base import Apply, Component, RenderContext
from platformctl.plan.lock import VersionLock, load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.reporting import RecordingReporter

KubeObject = dict[str, Any]
MakeCtx = Callable[..., RenderContext]


@pytest.fixture
def make_ctx() -> MakeCtx:
    def make(workloads: dict[str, Any] | None = None, **overrides: Any) -> RenderContext:
        raw: dict[str, Any] = {"workloads": workloads or {}, **overrides}
        spec = PlatformSpec.model_validate(raw)
        # Workload components render from templates only: no sources or helm needed.
        return RenderContext(spec=spec, lock=load_lock(), sources=None, reporter=RecordingReporter())  # type: ignore[arg-type]

    return make


def rendered(component: Component, ctx: RenderContext) -> list[KubeObject]:
    """What ``platformctl render`` shows for a component: its Apply steps' objects, in order."""
    out: list[KubeObject] = []
    for step in component.steps(ctx):
        if isinstance(step, Apply):
            out.extend(step.render(ctx))
    return out


@pytest.fixture(scope="session")
def workloads_upstream() -> Path:
    value = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not value:
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    return Path(value)


@pytest.fixture(scope="session")
def lock() -> VersionLock:
    return load_lock()


@pytest.fixture(scope="session")
def upstream_crds(workloads_upstream: Path, lock: VersionLock) -> list[KubeObject]:
    """Every CRD of the pinned Knative, KServe and Dapr files, parsed once per session."""
    from platformctl.drivers.schema import crd_paths, load_crds

    return load_crds(crd_paths(lock, workloads_upstream))
