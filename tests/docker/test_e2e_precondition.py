"""The kind end-to-end test's Docker-side precondition, checked against the real daemon and registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from platformctl.drivers.docker import Endpoint
from tests.orchestration.test_e2e_kind import skip_reason
from tests.support import docker_env
from tests.support.docker_env import PULL_PROBE_IMAGE, DockerDaemon, probe_daemon

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
OPT_IN = "set PLATFORMCTL_E2E=1 to run"


def test_without_opt_in_no_pull_is_attempted(
    docker_daemon: DockerDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may only reach loopback: a pull probe would send DNS and registry traffic off the machine,
    # so it must only ever happen after the user opted in to the real end-to-end run.
    def no_pull(*_a: object, **_k: object) -> None:
        raise AssertionError("a registry pull was attempted without PLATFORMCTL_E2E=1")

    monkeypatch.setattr(docker_env, "probe_pull", no_pull)
    monkeypatch.setattr(docker_env, "docker_pull", no_pull)
    assert (skip_reason({}) or "").startswith(OPT_IN)
    assert (skip_reason({"PLATFORMCTL_E2E": "0"}) or "").startswith(OPT_IN)


def test_opt_in_reports_the_pull_failure(
    docker_daemon: DockerDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the opt-in the pull result decides; simulate the registry's answer instead of dialling out.
    failed = docker_env.PullResult(False, PULL_PROBE_IMAGE, "no such host", 0.1)
    monkeypatch.setattr(docker_env, "probe_pull", lambda cli, image=PULL_PROBE_IMAGE: failed)
    reason = skip_reason({"PLATFORMCTL_E2E": "1"})
    assert reason == f"images cannot be pulled here: docker pull {PULL_PROBE_IMAGE}: no such host"


def test_e2e_test_is_skipped_without_opt_in() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PLATFORMCTL_E2E"}
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q",
         "tests/orchestration/test_e2e_kind.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False, env=env,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "1 skipped" in ran.stdout
    assert OPT_IN in ran.stdout, ran.stdout


def test_unreachable_daemon_is_the_reason(docker_daemon: DockerDaemon, tmp_path: Path) -> None:
    sock = tmp_path / "none.sock"
    reason = probe_daemon(Endpoint(f"unix://{sock}", "http://docker", str(sock)))
    assert isinstance(reason, str)
    assert reason.startswith(f"no reachable Docker daemon: Docker daemon not reachable at unix://{sock}")
