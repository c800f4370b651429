"""platformctl's Docker Engine API client (drivers/docker.py) against the real daemon and docker CLI."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from platformctl.drivers.docker import DockerClient, resolve_endpoint
from platformctl.errors import ClusterError
from tests.support.docker_env import DockerDaemon

pytestmark = pytest.mark.docker


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # unix socket paths are limited to ~108 bytes: pytest's tmp_path can be too long.
    with tempfile.TemporaryDirectory(prefix="pctl", dir="/tmp") as d:
        yield Path(d)


def test_current_docker_context_is_followed_as_the_cli_writes_it(
    docker_daemon: DockerDaemon, short_dir: Path
) -> None:
    if docker_daemon.endpoint.uds is None:
        pytest.skip(f"the daemon is at {docker_daemon.endpoint.host}: this test aliases a unix socket")
    # A second path to the same daemon, so a fallback to the default socket cannot pass the test.
    alias = short_dir / "d.sock"
    alias.symlink_to(docker_daemon.endpoint.uds)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(short_dir),
        "DOCKER_CONFIG": str(short_dir / "cfg"),
    }
    for args in (
        ["context", "create", "pctl-test", "--docker", f"host=unix://{alias}"],
        ["context", "use", "pctl-test"],
    ):
        subprocess.run([docker_daemon.cli, *args], env=env, capture_output=True, timeout=30, check=True)

    endpoint = resolve_endpoint(env, home=short_dir)
    assert endpoint.host == f"unix://{alias}" and endpoint.uds == str(alias)
    cli_id = subprocess.run(
        [docker_daemon.cli, "info", "--format", "{{.ID}}"],
        env=env, capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()  # fmt: skip
    assert cli_id and DockerClient(endpoint).info()["ID"] == cli_id


def test_api_errors_name_the_path_and_status(docker_daemon: DockerDaemon) -> None:
    path = "/containers/pctl-no-such-container/json"
    with pytest.raises(ClusterError) as err:
        DockerClient(docker_daemon.endpoint).get(path)
    assert err.value.message.startswith(f"Docker API GET {path} at {docker_daemon.endpoint.host}: HTTP 404")
    assert "No such container" in err.value.message
