"""Build an image from a local directory and push it, through the Docker Engine API (no docker CLI).

``POST /build`` takes the directory as a tar stream and answers JSON lines (``{"stream": …}`` progress,
``{"aux": {"ID": …}}`` the image, ``{"error": …}`` a failure); ``POST /images/{name}/push`` answers
the same way with ``{"aux": {"Digest": …}}`` (Docker Engine API v1.41+, "Build an image" and "Push an
image"). The tag is derived from the content: every change of a file makes a new tag, so a re-deploy
makes a new Knative revision.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformctl.errors import ClusterError, PlatformError, UsageError

if TYPE_CHECKING:
    from platformctl.drivers.docker import DockerClient

LineCallback = Callable[[str], None]
BUILD_READ_TIMEOUT = 600.0  # seconds without a byte from the daemon before a build is given up
LOG_TAIL = 15  # lines of the build log shown when a build fails
SKIP_DIRS = frozenset({".git", "__pycache__"})


def _files(directory: Path) -> list[Path]:
    out: list[Path] = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(names):
            out.append(Path(root) / name)
    return sorted(out, key=lambda p: p.relative_to(directory).as_posix())


def check_context(directory: Path, flag: str = "--build") -> Path:
    """The directory, if it is one with a Dockerfile; UsageError naming ``flag`` otherwise."""
    if not directory.is_dir():
        raise UsageError(f"{flag}: {directory} is not a directory")
    if not (directory / "Dockerfile").is_file():
        raise UsageError(f"{flag}: {directory} has no Dockerfile")
    return directory


def context_digest(directory: Path) -> str:
    """sha256 (hex) over every file's path, executable bit and bytes: the image tag of this content."""
    digest = hashlib.sha256()
    for path in _files(directory):
        rel = path.relative_to(directory).as_posix()
        executable = os.access(path, os.X_OK)
        digest.update(f"{rel}\0{int(executable)}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(65536), b""):
                digest.update(block)
    return digest.hexdigest()


def context_tar(directory: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in _files(directory):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(directory).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            with path.open("rb") as fh:
                tar.addfile(info, fh)
    return buf.getvalue()


def _json_lines(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict):
                    yield item
    if buffer.strip():
        try:
            item = json.loads(buffer)
        except ValueError:
            return
        if isinstance(item, dict):
            yield item


@dataclass
class StreamResult:
    aux: list[dict[str, Any]]
    log: list[str]
    error: str | None


def _post_stream(
    client: DockerClient,
    path: str,
    *,
    params: dict[str, str],
    body: bytes | None,
    headers: dict[str, str],
    on_line: LineCallback | None,
) -> StreamResult:
    import httpx

    from platformctl.drivers.docker import DockerClient as _Client

    long_client = _Client(client.endpoint, timeout=BUILD_READ_TIMEOUT)
    aux: list[dict[str, Any]] = []
    log: list[str] = []
    error: str | None = None
    try:
        with (
            long_client._client() as http,
            http.stream("POST", path, params=params, content=body, headers=headers) as resp,
        ):
            if resp.status_code != 200:
                text = resp.read().decode("utf-8", "replace")
                try:
                    message = str(json.loads(text).get("message") or text)
                except (ValueError, AttributeError):
                    message = text
                return StreamResult(aux, log, f"HTTP {resp.status_code}: {message.strip()[:500]}")
            for item in _json_lines(resp.iter_bytes()):
                if item.get("error"):
                    error = str(item.get("error")).strip()
                    log.append(error)
                    continue
                if isinstance(item.get("aux"), dict):
                    aux.append(item["aux"])
                said = item.get("stream") or item.get("status")
                if said:
                    for line in str(said).splitlines():
                        if line.strip():
                            log.append(line.rstrip())
                            if on_line is not None:
                                on_line(line.rstrip())
    except (httpx.HTTPError, OSError) as exc:
        raise ClusterError(
            f"Docker daemon not reachable at {client.endpoint.host}: {exc or type(exc).__name__}",
            hint="start Docker, or set DOCKER_HOST",
        ) from None
    return StreamResult(aux, log, error)


def build_image(
    client: DockerClient, directory: Path, tag: str, *, on_line: LineCallback | None = None
) -> str:
    """Build ``directory`` (its Dockerfile) as ``tag``; the image ID. PlatformError (exit 1) with the
    last lines of the build log when the build fails."""
    check_context(directory)
    result = _post_stream(
        client,
        "/build",
        params={"t": tag, "rm": "1", "forcerm": "1"},
        body=context_tar(directory),
        headers={"Content-Type": "application/x-tar"},
        on_line=on_line,
    )
    if result.error is not None:
        raise PlatformError(
            f"docker build of {directory} failed: {result.error.splitlines()[0] if result.error else ''}",
            details=[f"| {line}" for line in result.log[-LOG_TAIL:]],
            hint="fix the Dockerfile or the files it copies, then run deploy-app again",
        )
    image_id: str | None = next((str(a["ID"]) for a in reversed(result.aux) if a.get("ID")), None)
    if image_id is None:
        # older daemons report only "Successfully built <id>"; ask for the tag instead
        data = client.get(f"/images/{tag}/json")
        image_id = str((data or {}).get("Id") or "") if isinstance(data, dict) else ""
    if not image_id:
        raise PlatformError(f"docker build of {directory}: the daemon reported no image ID")
    return image_id


def push_image(
    client: DockerClient, repository: str, tag: str, *, on_line: LineCallback | None = None
) -> str:
    """Push ``repository:tag``; the manifest digest (``sha256:…``) the registry answered."""
    # X-Registry-Auth is required by the API; "{}" means: the daemon's own credentials (docker login).
    auth = base64.urlsafe_b64encode(b"{}").decode()
    result = _post_stream(
        client,
        f"/images/{repository}/push",
        params={"tag": tag},
        body=None,
        headers={"X-Registry-Auth": auth},
        on_line=on_line,
    )
    if result.error is not None:
        raise PlatformError(
            f"docker push of {repository}:{tag} failed: {result.error}",
            details=[f"| {line}" for line in result.log[-LOG_TAIL:]],
            hint="check the registry address and `docker login` to it",
        )
    digest = next((str(a["Digest"]) for a in reversed(result.aux) if a.get("Digest")), None)
    if not digest:
        raise PlatformError(f"docker push of {repository}:{tag}: the registry reported no digest")
    return digest
