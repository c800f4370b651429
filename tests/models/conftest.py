"""A fake API server that knows KServe's and Knative's real CRDs (from the pinned upstream manifests)."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.drivers.kube.engine import Engine
from tests.fakeapi import FakeApiServer

KSERVE_CRDS = {
    "inferenceservices.serving.kserve.io",
    "clusterservingruntimes.serving.kserve.io",
    "servingruntimes.serving.kserve.io",
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


@functools.cache
def _docs(path: Path) -> list[dict[str, Any]]:
    # kserve.yaml is 3.5 MB: parse once per session, with libyaml when available.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.load_all(fh, Loader=loader) if d]


@dataclass
class Cluster:
    fake: FakeApiServer
    engine: Engine
    upstream: Path

    @property
    def args(self) -> list[str]:
        return ["--kubeconfig", str(self.fake.kubeconfig_path), "--context", self.fake.context]

    @property
    def env(self) -> dict[str, str]:
        return {"PLATFORMCTL_MANIFESTS_DIR": str(self.upstream)}

    def writes(self) -> list[tuple[str, str]]:
        """Requests that change something (a server-side dry run, ``dryRun=All``, changes nothing)."""
        return [
            (r.method, r.path) for r in self.fake.records if r.method in WRITES and "dryRun" not in r.params
        ]

    def install_runtimes(self, names: set[str] | None = None) -> None:
        """Apply the pinned ClusterServingRuntimes (all, or only ``names``) to the fake cluster."""
        docs = _docs(self.upstream / "kserve/v0.16.0/kserve-cluster-resources.yaml")
        runtimes = [
            d
            for d in docs
            if d["kind"] == "ClusterServingRuntime" and (names is None or d["metadata"]["name"] in names)
        ]
        self.engine.apply(copy.deepcopy(runtimes), component="kserve")


@contextmanager
def fake_cluster(upstream_dir: Path) -> Iterator[Cluster]:
    with FakeApiServer() as fake:
        engine = Engine.connect(str(fake.kubeconfig_path), fake.context)
        crds = [
            d
            for d in _docs(upstream_dir / "kserve/v0.16.0/kserve.yaml")
            if d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"] in KSERVE_CRDS
        ]
        crds += [
            d
            for d in _docs(upstream_dir / "knative/1.15.2/serving-crds.yaml")
            if d["kind"] == "CustomResourceDefinition"
            and d["metadata"]["name"] == "services.serving.knative.dev"
        ]
        engine.apply(copy.deepcopy(crds), component="kserve")
        fake.reset_request_log()
        yield Cluster(fake, engine, upstream_dir)


@pytest.fixture
def cluster(upstream_dir: Path) -> Iterator[Cluster]:
    with fake_cluster(upstream_dir) as c:
        yield c


@pytest.fixture(scope="module")
def _module_cluster() -> Iterator[Cluster]:
    # upstream_dir (tests/conftest.py) is function-scoped; same variable, same skip reason.
    upstream = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not upstream:
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    with fake_cluster(Path(upstream)) as c:
        yield c


@pytest.fixture
def shared_cluster(_module_cluster: Cluster) -> Cluster:
    """One fake per module for tests that must leave it untouched (bad input): request log reset."""
    _module_cluster.fake.reset_request_log()
    return _module_cluster
