"""The cluster the app tests run against: a fake API server that knows the pinned Knative Serving and
Dapr CRDs (and holds the platform's shared building blocks as ``up`` applies them), or a real cluster
with the platform installed when PLATFORMCTL_TEST_KUBECONFIG is set (tests/conftest.py KubeTarget)."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from platformctl.components.workloads import APP_IMAGES, PLATFORM_BLOCKS, building_block
from platformctl.drivers.kube.engine import Engine
from tests.conftest import KubeTarget
from tests.fakeapi import FakeApiServer
from tests.support.cli_main import Ran, run_main

# Real, pinned images (the conference app's) so the same tests run on a real cluster:
# both listen on 8080 and answer /health/readiness.
IMAGE_V1 = APP_IMAGES["notifications-service"]
IMAGE_V2 = APP_IMAGES["agenda-service"]
KNATIVE_CRDS = {
    "services.serving.knative.dev",
    "revisions.serving.knative.dev",
    "configurations.serving.knative.dev",
    "routes.serving.knative.dev",
}
DAPR_CRDS = {"components.dapr.io", "subscriptions.dapr.io"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_REAL_KUBECONFIG = os.environ.get("PLATFORMCTL_TEST_KUBECONFIG")
_REAL_CONTEXT = os.environ.get("PLATFORMCTL_TEST_CONTEXT")


def pinned_crds(upstream: Path) -> list[dict[str, Any]]:
    from platformctl.drivers.schema import crd_paths, load_crds
    from platformctl.plan.lock import load_lock

    return [
        c
        for c in load_crds(crd_paths(load_lock(), upstream))
        if c["metadata"]["name"] in KNATIVE_CRDS | DAPR_CRDS
    ]


@dataclass
class AppCluster:
    target: KubeTarget
    engine: Engine
    namespace: str = "default"

    @property
    def fake(self) -> FakeApiServer | None:
        return self.target.fake

    @property
    def args(self) -> list[str]:
        out = ["--kubeconfig", self.target.kubeconfig]
        return out + (["--context", self.target.context] if self.target.context else [])

    def run(self, *args: str) -> Ran:
        return run_main([*self.args, *args], env={"COLUMNS": "200"})

    def writes(self) -> list[tuple[str, str]]:
        assert self.fake is not None
        return [(r.method, r.path) for r in self.fake.records if r.method in WRITES]

    def ksvc(self, name: str) -> dict[str, Any] | None:
        return self.engine.get("serving.knative.dev/v1", "Service", name, self.namespace)

    def component(self, name: str) -> dict[str, Any] | None:
        return self.engine.get("dapr.io/v1alpha1", "Component", name, self.namespace)


@contextmanager
def make_app_cluster(upstream_dir: Path) -> Iterator[AppCluster]:
    if _REAL_KUBECONFIG:
        target = KubeTarget(kubeconfig=_REAL_KUBECONFIG, context=_REAL_CONTEXT or None, fake=None)
        yield AppCluster(target, Engine.connect(target.kubeconfig, target.context))
        return
    with FakeApiServer() as fake:
        engine = Engine.connect(str(fake.kubeconfig_path), fake.context)
        engine.apply(copy.deepcopy(pinned_crds(upstream_dir)), component="crds")
        # what `up` applies for app teams (components/conference.py render_support)
        engine.apply(
            [building_block(name, ctype, "default") for name, ctype in PLATFORM_BLOCKS.items()],
            component="conference",
        )
        fake.reset_request_log()
        yield AppCluster(KubeTarget(str(fake.kubeconfig_path), fake.context, fake), engine)


@pytest.fixture
def app_cluster(upstream_dir: Path) -> Iterator[AppCluster]:
    with make_app_cluster(upstream_dir) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def shared_app_cluster() -> Iterator[AppCluster]:
    """One cluster per module for tests that must leave it untouched (bad input): request log reset."""
    upstream = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not upstream:
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    with make_app_cluster(Path(upstream)) as cluster:
        yield cluster


@pytest.fixture
def untouched_cluster(shared_app_cluster: AppCluster) -> AppCluster:
    if shared_app_cluster.fake is not None:
        shared_app_cluster.fake.reset_request_log()
    return shared_app_cluster


@pytest.fixture
def app_name(app_cluster: AppCluster) -> Iterator[str]:
    """A fresh app name; whatever the test left behind is deleted afterwards (real clusters)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    yield name
    if app_cluster.fake is None and app_cluster.ksvc(name) is not None:
        app_cluster.run("apps", "delete", name, "--yes", "--force")
