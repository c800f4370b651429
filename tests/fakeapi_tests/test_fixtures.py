"""The shared fixtures in tests/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import KubeTarget, requires_fake
from tests.fakeapi import FakeApiServer
from tests.fakeapi_tests.kube import core


def test_home_and_kubeconfig_are_isolated() -> None:
    home = Path(os.environ["HOME"])
    assert home != Path.home().parent / "root" or "pytest" in str(home)
    assert not (home / ".kube" / "config").exists()
    assert os.environ["KUBECONFIG"] == str(home / ".kube" / "config")
    assert os.environ["XDG_CACHE_HOME"].startswith(str(home))


def test_fake_api_fixture_serves_the_kubeconfig(fake_api: FakeApiServer) -> None:
    text = fake_api.kubeconfig_path.read_text()
    assert fake_api.url in text and "current-context: fake" in text
    assert fake_api.url.startswith("http://127.0.0.1:")
    assert len(core(fake_api).list_namespace().items) == 4


def test_kube_target_is_a_fake_without_a_real_cluster(kube_target: KubeTarget) -> None:
    if not kube_target.is_fake:
        pytest.skip("PLATFORMCTL_TEST_KUBECONFIG is set: the target is a real cluster")
    fake = requires_fake(kube_target)
    assert kube_target.kubeconfig == str(fake.kubeconfig_path)
    assert kube_target.context == "fake"


def test_requires_fake_skips_on_a_real_cluster() -> None:
    with pytest.raises(pytest.skip.Exception, match="not available on a real cluster"):
        requires_fake(KubeTarget(kubeconfig="/nonexistent", context=None, fake=None))
