"""Shared fixtures: the fake API server, the cluster under test, the upstream manifests.

Nothing in the test suite may read the developer's ~/.kube/config or caches: HOME, KUBECONFIG and
XDG_CACHE_HOME point into a session temp dir (tests that need a cluster get an explicit kubeconfig).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.fakeapi import FakeApiServer

# read before the session fixture below hides the real HOME
_REAL_KUBECONFIG = os.environ.get("PLATFORMCTL_TEST_KUBECONFIG")
_REAL_CONTEXT = os.environ.get("PLATFORMCTL_TEST_CONTEXT")


@pytest.fixture(autouse=True, scope="session")
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("KUBECONFIG", str(home / ".kube" / "config"))  # does not exist: no silent fallback
        mp.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        yield


@pytest.fixture
def fake_api() -> Iterator[FakeApiServer]:
    """A fresh fake API server per test, controllers on, no latency."""
    with FakeApiServer() as fake:
        yield fake


@dataclass(frozen=True)
class KubeTarget:
    """Where contract tests run: a real cluster (PLATFORMCTL_TEST_KUBECONFIG) or a fresh fake."""

    kubeconfig: str
    context: str | None
    fake: FakeApiServer | None

    @property
    def is_fake(self) -> bool:
        return self.fake is not None


@pytest.fixture
def kube_target() -> Iterator[KubeTarget]:
    if _REAL_KUBECONFIG:
        yield KubeTarget(kubeconfig=_REAL_KUBECONFIG, context=_REAL_CONTEXT or None, fake=None)
        return
    with FakeApiServer() as fake:
        yield KubeTarget(kubeconfig=str(fake.kubeconfig_path), context=fake.context, fake=fake)


def requires_fake(target: KubeTarget) -> FakeApiServer:
    """The target's fake, or skip: simulated controllers and fault injection exist only there."""
    if target.fake is None:
        _skip("needs simulated controllers/fault injection: not available on a real cluster")
    assert target.fake is not None
    return target.fake


def _skip(reason: str) -> NoReturn:
    pytest.skip(reason)


@pytest.fixture
def upstream_dir() -> Path:
    value = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not value:
        pytest.skip(
            "PLATFORMCTL_UPSTREAM_DIR unset (point it at the upstream manifests, e.g. ../shared/upstream)"
        )
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"PLATFORMCTL_UPSTREAM_DIR={value} is not a directory")
    return path
