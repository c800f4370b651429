"""pytest-docker on the real daemon: a FROM scratch busybox httpd, built locally, published on loopback.

No image can be pulled on CI machines (design §7), so the only image is built here from a static busybox.
pytest-docker's fixtures are overridden for Debian's compose v1 (`up --build -d`: v1 has no --wait).
Every prerequisite that is missing (docker CLI, daemon, compose, busybox-static) skips with the reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_docker.plugin import Services

from platformctl.drivers.docker import DockerClient
from tests.support.docker_env import DockerDaemon, compose_command, probe_daemon, static_busybox

HERE = Path(__file__).parent
BODY = (HERE / "image" / "www" / "index.html").read_text()
PROJECT = re.compile(r"pctltest(\d+)")


@dataclass(frozen=True)
class WebContainer:
    """The compose service `web`: its container name, the cluster name it poses as the node of, its URL."""

    container: str
    cluster_name: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


@pytest.fixture(scope="session")
def docker_daemon() -> DockerDaemon:
    daemon = probe_daemon()
    if isinstance(daemon, str):
        pytest.skip(daemon)
    return daemon


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale_runs(daemon: DockerDaemon) -> None:
    """Remove containers and images left by killed test runs (their pytest process is gone)."""
    found = DockerClient(daemon.endpoint).get("/containers/json", params={"all": "1"})
    for c in found if isinstance(found, list) else []:
        m = PROJECT.fullmatch((c.get("Labels") or {}).get("com.docker.compose.project", ""))
        if m and not _pid_alive(int(m.group(1))):
            subprocess.run([daemon.cli, "rm", "-f", c["Id"]], capture_output=True, timeout=60, check=False)
            subprocess.run(
                [daemon.cli, "rmi", str(c.get("Image"))], capture_output=True, timeout=60, check=False
            )


@pytest.fixture(scope="session")
def docker_compose_command(docker_daemon: DockerDaemon) -> str:
    cmd = compose_command()
    if cmd is None:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` works (Debian: apt-get install docker-compose)"
        )
    return cmd


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(HERE / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    # Unique per pytest process: several test runs may share one daemon.
    return f"pctltest{os.getpid()}"


@pytest.fixture(scope="session")
def compose_env(
    tmp_path_factory: pytest.TempPathFactory, docker_compose_project_name: str, docker_daemon: DockerDaemon
) -> Iterator[WebContainer]:
    """Stage the build context (Dockerfile, www/, static busybox) and export the compose variables."""
    busybox = static_busybox()
    if isinstance(busybox, str):
        pytest.skip(busybox)
    _reap_stale_runs(docker_daemon)
    ctx = tmp_path_factory.mktemp("image")
    shutil.copy(HERE / "image" / "Dockerfile", ctx / "Dockerfile")
    shutil.copytree(HERE / "image" / "www", ctx / "www")
    shutil.copy(busybox, ctx / "busybox")
    cluster = docker_compose_project_name
    container = f"{cluster}-control-plane"  # how kind names a cluster's node container
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PCTL_TEST_IMAGE_CONTEXT", str(ctx))
        mp.setenv("PCTL_TEST_CONTAINER", container)
        yield WebContainer(container, cluster, "", 0)


@pytest.fixture(scope="session")
def docker_setup(compose_env: WebContainer) -> list[str]:
    # compose v1 has no `up --wait`; readiness is waited for below (wait_until_responsive).
    return ["up --build -d"]


@pytest.fixture(scope="session")
def docker_cleanup(compose_env: WebContainer) -> list[str]:
    # --rmi local: also remove the image compose built for this run.
    return ["down -v --rmi local"]


def _responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return bool(resp.status == 200 and resp.read().decode() == BODY)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def web(docker_services: Services, docker_ip: str, compose_env: WebContainer) -> WebContainer:
    """The running container, answering HTTP on its loopback port."""
    if docker_ip not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip(f"DOCKER_HOST points at {docker_ip}: tests may only connect to loopback")
    port = docker_services.port_for("web", 8080)
    running = WebContainer(compose_env.container, compose_env.cluster_name, docker_ip, port)
    docker_services.wait_until_responsive(check=lambda: _responds(running.url), timeout=30.0, pause=0.2)
    return running
