"""The kind end-to-end test's Docker-side precondition, checked against the real daemon and registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from platformctl.drivers.docker import Endpoint
from tests.orchestration.test_e2e_kind import skip_reason
from tests.support.docker_env import PULL_PROBE_IMAGE, DockerDaemon, docker_pull, probe_daemon, probe_pull

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
OPT_IN = "set PLATFORMCTL_E2E=1 to run"


def test_e2e_skip_reason_follows_a_real_pull_attempt(docker_daemon: DockerDaemon) -> None:
    attempt = docker_pull(docker_daemon.cli)  # a fresh attempt, independent of the session's cached probe
    if attempt.ok:
        # Registry reachable: only the opt-in stands between this machine and the long run.
        assert (skip_reason({}) or "").startswith(OPT_IN)
        assert skip_reason({"PLATFORMCTL_E2E": "1"}) is None
        return
    session = probe_pull(docker_daemon.cli)
    assert not session.ok, "the session's pull probe succeeded where a real pull fails"
    expected = f"images cannot be pulled here: docker pull {PULL_PROBE_IMAGE}: {session.detail}"
    # The opt-in does not help when nothing can be pulled: the reason says why.
    assert skip_reason({}) == expected
    assert skip_reason({"PLATFORMCTL_E2E": "1"}) == expected
    assert session.detail and "images cannot be pulled" not in session.detail


def test_e2e_test_is_skipped_with_the_pull_reason(docker_daemon: DockerDaemon) -> None:
    if probe_pull(docker_daemon.cli).ok:
        pytest.skip("images can be pulled here: the e2e test is gated only by PLATFORMCTL_E2E")
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q",
         "tests/orchestration/test_e2e_kind.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "1 skipped" in ran.stdout
    assert "SKIPPED" in ran.stdout and "images cannot be pulled here: docker pull" in ran.stdout, ran.stdout


def test_unreachable_daemon_is_the_reason(docker_daemon: DockerDaemon, tmp_path: Path) -> None:
    sock = tmp_path / "none.sock"
    reason = probe_daemon(Endpoint(f"unix://{sock}", "http://docker", str(sock)))
    assert isinstance(reason, str)
    assert reason.startswith(f"no reachable Docker daemon: Docker daemon not reachable at unix://{sock}")
