"""Real Docker for tests: is a daemon usable, can images be pulled, which compose command works.

Shared by the pytest-docker fixtures (tests/docker/conftest.py) and the kind end-to-end test
(tests/orchestration/test_e2e_kind.py). Every probe says *why* something is unavailable, so skips
carry a reason. Probes are cached per session: the pull attempt is a real `docker pull`.
"""

from __future__ import annotations

import functools
import os
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformctl.drivers.docker import DockerClient, Endpoint, resolve_endpoint
from platformctl.errors import ClusterError, UsageError

# A tiny public image (≈10 kB): pulling it proves the daemon can reach a registry.
PULL_PROBE_IMAGE = "hello-world:latest"
PULL_TIMEOUT = 120.0


@dataclass(frozen=True)
class DockerDaemon:
    """A reachable daemon: the CLI on PATH, the endpoint platformctl resolves, /version and /info."""

    cli: str
    endpoint: Endpoint
    version: dict[str, Any]
    info: dict[str, Any]


@dataclass(frozen=True)
class PullResult:
    ok: bool
    image: str
    detail: str  # the daemon's error (or "pulled") as docker printed it
    seconds: float


def _docker_cli() -> str | None:
    return shutil.which("docker")


@functools.cache
def probe_daemon(endpoint: Endpoint | None = None) -> DockerDaemon | str:
    """The daemon platformctl would talk to, or the reason it is unusable (for a skip)."""
    cli = _docker_cli()
    if cli is None:
        return "docker CLI not found on PATH (Debian: apt-get install docker.io)"
    try:
        ep = endpoint or resolve_endpoint()
        client = DockerClient(ep, timeout=5)
        version = client.version()
        info = client.info()
    except (ClusterError, UsageError) as exc:
        return f"no reachable Docker daemon: {exc.message} (start dockerd, or fix access to its socket)"
    return DockerDaemon(cli, ep, version, info)


def docker_pull(cli: str, image: str = PULL_PROBE_IMAGE, timeout: float = PULL_TIMEOUT) -> PullResult:
    """One real `docker pull` attempt (not cached)."""
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [cli, "pull", image], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return PullResult(False, image, f"timed out after {timeout:.0f} s", time.monotonic() - start)
    took = time.monotonic() - start
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        return PullResult(False, image, lines[-1] if lines else f"exit {proc.returncode}", took)
    return PullResult(True, image, "pulled", took)


@functools.cache
def probe_pull(cli: str, image: str = PULL_PROBE_IMAGE) -> PullResult:
    """The session's pull attempt (cached: every caller sees the same answer)."""
    return docker_pull(cli, image)


def e2e_docker_skip_reason() -> str | None:
    """Why the real-kind end-to-end test cannot run on this machine's Docker, or None when it can."""
    daemon = probe_daemon()
    if isinstance(daemon, str):
        return daemon
    pull = probe_pull(daemon.cli)
    if not pull.ok:
        return f"images cannot be pulled here: docker pull {pull.image}: {pull.detail}"
    return None


@functools.cache
def compose_command() -> str | None:
    """`docker compose` (v2 plugin) or Debian's compose v1 `docker-compose`, whichever works."""
    candidates: list[list[str]] = []
    cli = _docker_cli()
    if cli:
        candidates.append([cli, "compose"])
    v1 = shutil.which("docker-compose")
    if v1:
        candidates.append([v1])
    for cmd in candidates:
        try:
            ok = subprocess.run([*cmd, "version"], capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if ok.returncode == 0:
            return " ".join(cmd)
    return None


def _has_interpreter(elf: bytes) -> bool | None:
    """Whether a 64-bit little-endian ELF asks for a dynamic loader (PT_INTERP); None if unsure."""
    if len(elf) < 64 or elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        return None
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 4 > len(elf):
            return None
        if struct.unpack_from("<I", elf, off)[0] == 3:  # PT_INTERP
            return True
    return False


def static_busybox() -> Path | str:
    """A statically linked busybox (Debian busybox-static) to put in a FROM scratch image, or why not."""
    reason = "no busybox binary (apt-get install busybox-static, or set PLATFORMCTL_TEST_BUSYBOX)"
    for cand in (os.environ.get("PLATFORMCTL_TEST_BUSYBOX"), "/bin/busybox", shutil.which("busybox")):
        if not cand or not Path(cand).is_file():
            continue
        with open(cand, "rb") as fh:
            head = fh.read(64 * 1024)
        if _has_interpreter(head) is False:
            return Path(cand)
        reason = f"{cand} is not a static binary (FROM scratch needs it: apt-get install busybox-static)"
    return reason
