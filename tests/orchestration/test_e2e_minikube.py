"""End to end on real Docker + minikube + internet: `up`, `status`, `smoke-test`, `down` with
cluster.provider minikube.

Opt-in (minikube pulls its kicbase image and every component image, minutes and GBs): set
PLATFORMCTL_E2E=1 and PLATFORMCTL_E2E_PROVIDERS to a list containing "minikube" on a machine with Docker
and internet. platformctl fetches minikube v1.38.1 itself (sha256-verified) unless one is on PATH. Skipped
with the reason otherwise: first the missing opt-in, then the Docker side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support.docker_env import e2e_docker_skip_reason

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(3600)]


def skip_reason(env: Mapping[str, str] | None = None) -> str | None:
    """Why this test cannot run here, or None (opt-in first: without it nothing is contacted)."""
    environ = os.environ if env is None else env
    providers = environ.get("PLATFORMCTL_E2E_PROVIDERS", "").replace(",", " ").split()
    if environ.get("PLATFORMCTL_E2E") != "1" or "minikube" not in providers:
        return (
            "set PLATFORMCTL_E2E=1 PLATFORMCTL_E2E_PROVIDERS=minikube to run (needs Docker, internet, "
            "~8 GiB for Docker; pulls images)"
        )
    return e2e_docker_skip_reason()


def test_skip_reason_needs_both_opt_ins() -> None:
    assert skip_reason({}) is not None and "PLATFORMCTL_E2E_PROVIDERS=minikube" in (skip_reason({}) or "")
    assert skip_reason({"PLATFORMCTL_E2E": "1", "PLATFORMCTL_E2E_PROVIDERS": "kind"}) is not None


def _platformctl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "platformctl", *args],
        capture_output=True, text=True, env=env, timeout=3000, check=False,
    )  # fmt: skip


def test_up_status_smoke_down_on_real_minikube(tmp_path: Path) -> None:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    env = dict(os.environ)
    env["KUBECONFIG"] = str(tmp_path / "kubeconfig")
    sets = ["--set", "cluster.provider=minikube", "--set", "cluster.name=platformctl-e2e",
            "--set", "cluster.cpus=4", "--set", "cluster.memory_mb=8192"]  # fmt: skip
    up = _platformctl("up", *sets, env=env)
    try:
        assert up.returncode == 0, up.stderr[-4000:]
        st = _platformctl("status", "-o", "json", *sets, env=env)
        assert st.returncode == 0, st.stderr[-2000:]
        data = json.loads(st.stdout)
        assert data["healthy"], data
        assert any(e["name"] == "frontend" and ".sslip.io" in e["url"] for e in data["endpoints"])
        smoke = _platformctl("smoke-test", *sets, env=env)
        assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-2000:]
    finally:
        down = _platformctl("down", *sets, env=env)
    assert down.returncode == 0, down.stderr[-2000:]
