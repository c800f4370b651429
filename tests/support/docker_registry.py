"""Debian's ``docker-registry`` (distribution 2.8, the program of the ``registry`` image) on loopback,
and tiny images written into it through the registry API (no Docker, no internet).

    with docker_registry(tmp_path / "src") as address:        # "127.0.0.1:PORT"
        image = push_image(address, "pctl/app", "1.0", b"layer bytes")
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from platformctl.drivers.registry import OCI_INDEX, OCI_MANIFEST, Manifest, RegistryClient, sha256_digest

REGISTRY = "/usr/bin/docker-registry"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def docker_registry(data: Path) -> Iterator[str]:
    """``docker-registry serve`` on 127.0.0.1:<free port>, storage under ``data``; yields host:port."""
    if not Path(REGISTRY).is_file():
        pytest.skip("docker-registry not installed (Debian: apt-get install docker-registry)")
    data.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    cfg = data / "registry.yml"
    cfg.write_text(
        "version: 0.1\n"
        "log:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data / 'store'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    proc = subprocess.Popen(
        [REGISTRY, "serve", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"docker-registry did not answer on 127.0.0.1:{port} within 20s")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def layer(content: bytes, name: str = "file") -> bytes:
    """A gzip'd tar holding one file (deterministic bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


@dataclass(frozen=True)
class PushedImage:
    address: str
    repository: str
    tag: str
    digest: str  # of the manifest (or index) under the tag
    blobs: tuple[str, ...]

    @property
    def tagged(self) -> str:
        return f"{self.address}/{self.repository}:{self.tag}"

    @property
    def pinned(self) -> str:
        return f"{self.address}/{self.repository}@{self.digest}"


def _manifest_for(client: RegistryClient, address: str, repo: str, content: bytes, arch: str) -> Manifest:
    layer_bytes = layer(content)
    diff = sha256_digest(gzip.decompress(layer_bytes))
    config = json.dumps(
        {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff]}, "config": {}},
        sort_keys=True,
    ).encode()
    with tempfile.TemporaryDirectory() as tmp:
        for data in (config, layer_bytes):
            path = Path(tmp) / "blob"
            path.write_bytes(data)
            client.push_blob(address, repo, sha256_digest(data), path)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": sha256_digest(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha256_digest(layer_bytes),
                    "size": len(layer_bytes),
                }
            ],
        },
        indent=3,  # not the registry's own formatting: a re-serialised copy would change the digest
    ).encode()
    return Manifest(OCI_MANIFEST, body, sha256_digest(body))


def push_image(address: str, repo: str, tag: str, content: bytes, arch: str = "amd64") -> PushedImage:
    with RegistryClient() as client:
        m = _manifest_for(client, address, repo, content, arch)
        client.put_manifest(address, repo, tag, m)
        body = m.json()
        blobs = (m.digest, body["config"]["digest"], body["layers"][0]["digest"])
    return PushedImage(address, repo, tag, m.digest, blobs)


def push_index(address: str, repo: str, tag: str, content: bytes, arches: tuple[str, ...]) -> PushedImage:
    """A multi-platform index (one child manifest per architecture) under ``tag``."""
    with RegistryClient() as client:
        children = [_manifest_for(client, address, repo, content + a.encode(), a) for a in arches]
        for child in children:
            client.put_manifest(address, repo, child.digest, child)
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {
                        "mediaType": OCI_MANIFEST,
                        "digest": c.digest,
                        "size": len(c.data),
                        "platform": {"os": "linux", "architecture": a},
                    }
                    for c, a in zip(children, arches, strict=True)
                ],
            }
        ).encode()
        index = Manifest(OCI_INDEX, body, sha256_digest(body))
        client.put_manifest(address, repo, tag, index)
    return PushedImage(address, repo, tag, index.digest, (index.digest, *(c.digest for c in children)))
