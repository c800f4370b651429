"""The bundle registry: how an air-gapped ``up --manifests-dir DIR`` serves the bundle's images.

Before the kind cluster is created, platformctl loads the pinned ``registry`` image from the bundle
into this machine's Docker (``POST /images/load`` of a ``docker save``-format archive assembled from
the bundle's blobs; the image is then named by its config digest, which the pinned index digest
covers), runs one registry container from it, published on a loopback port only, and pushes every
bundled image into it with the exact manifest bytes (drivers/registry.py), so the registry serves the
digests the manifests pin. Each upstream registry gets its own path prefix in it
(``docker.io/library/redis``, ``gcr.io/knative-releases/…``).

Once the nodes exist, the container joins the ``kind`` network and each node gets one containerd
``hosts.toml`` per upstream registry naming ``http://platformctl-bundle-registry:5000/v2/<upstream>``
with ``override_path = true`` — the host's API root is its URL path (containerd docs/hosts.md,
"override_path field"; its example ``https://non-compliant-mirror.registry/v2/upstream``). The
upstream stays the ``server`` fallback (unreachable when air-gapped).

The registry is told not to require every platform of an index (distribution
docs/content/about/configuration.md, ``validation.manifests.indexes.platforms: none``, set through the
documented ``REGISTRY_*`` environment override), because a bundle keeps the indexes whole but only
this machine's platform of each.
"""

from __future__ import annotations

import json
import re
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from platformctl import reporting
from platformctl.drivers.registry import INDEX_TYPES, Manifest, parse_reference
from platformctl.errors import ClusterError, SourceError
from platformctl.usecases.bundle_images import BundledImage, blob_path, host_platforms
from platformctl.usecases.registry_cache import (
    LABEL,
    NETWORK,
    PORT,
    REGISTRY_IMAGE,
    CacheRegistry,
    write_hosts_toml,
)

if TYPE_CHECKING:
    from platformctl.reporting import Reporter

NAME = "platformctl-bundle-registry"
VOLUME = NAME
LOCAL_TAG = "platformctl/bundle-registry:local"  # the loaded registry image's name in host Docker
CONTAINER_PORT = f"{PORT}/tcp"


def mirror_prefix(upstream: str) -> str:
    """The path prefix of an upstream registry inside the bundle registry (a valid path component)."""
    return re.sub(r"[^a-z0-9._-]+", "-", upstream.lower()).strip("-")


def target_repository(image: str) -> str:
    ref = parse_reference(image)
    return f"{mirror_prefix(ref.registry)}/{ref.repository}"


def hosts_toml(upstream: str) -> str:
    """containerd hosts.toml for ``upstream``: the bundle registry under its prefix first."""
    server = CacheRegistry(upstream).remote_url
    return (
        f'server = "{server}"\n\n'
        f'[host."http://{NAME}:{PORT}/v2/{mirror_prefix(upstream)}"]\n'
        '  capabilities = ["pull", "resolve"]\n'
        "  override_path = true\n"
    )


class Pusher(Protocol):
    """What pushing needs from a registry (drivers/registry.py RegistryClient)."""

    def push_blob(self, registry: str, repository: str, digest: str, path: Path) -> bool: ...

    def put_manifest(self, registry: str, repository: str, reference: str, manifest: Manifest) -> str: ...


class Engine(Protocol):
    """What the bundle registry needs from Docker (drivers/docker.py EngineClient)."""

    def containers_labelled(self, label: str) -> list[dict[str, Any]]: ...
    def image_present(self, image: str) -> bool: ...
    def pull(self, image: str) -> None: ...
    def load_image(self, archive: Path) -> None: ...
    def create_volume(self, name: str, labels: dict[str, str]) -> None: ...
    def create_container(self, name: str, config: dict[str, Any]) -> str: ...
    def start_container(self, name: str) -> None: ...
    def published_port(self, name: str, port: str) -> int | None: ...
    def connect_network(self, network: str, container: str) -> None: ...
    def exec(self, container: str, cmd: list[str]) -> tuple[int, str]: ...


def _manifest(directory: Path, digest: str, media_type: str) -> Manifest:
    data = (directory / blob_path(digest)).read_bytes()
    return Manifest(media_type, data, digest)


def _image_manifests(directory: Path, entry: BundledImage) -> tuple[Manifest, list[Manifest]]:
    """(top manifest or index, the image manifests the bundle holds for it)."""
    top = _manifest(directory, entry.digest, entry.media_type)
    if entry.media_type not in INDEX_TYPES:
        return top, [top]
    have = {b.digest for b in entry.blobs}
    children = [
        _manifest(directory, str(d["digest"]), str(d["mediaType"]))
        for d in top.json().get("manifests") or []
        if d.get("digest") in have
    ]
    return top, children


def push_bundle(
    directory: Path,
    entries: Sequence[BundledImage],
    client: Pusher,
    registry: str,
    *,
    reporter: Reporter | None = None,
) -> int:
    """Push every entry into ``registry`` under its upstream's prefix: blobs (existing ones skipped),
    image manifests by digest, then the index or manifest by digest and by tag. Blobs uploaded."""
    rep = reporter or reporting.NullReporter()
    step = "bundle registry"
    uploaded = 0
    for n, entry in enumerate(entries, start=1):
        repo = target_repository(entry.image)
        top, manifests = _image_manifests(directory, entry)
        for m in manifests:
            body = m.json()
            for d in [body.get("config") or {}, *(body.get("layers") or [])]:
                digest = str(d.get("digest", ""))
                uploaded += client.push_blob(registry, repo, digest, directory / blob_path(digest))
            if m is not top:
                client.put_manifest(registry, repo, m.digest, m)
        client.put_manifest(registry, repo, top.digest, top)
        tag = parse_reference(entry.image).tag
        if tag:
            client.put_manifest(registry, repo, tag, top)
        reporting.progress(rep, step, n, len(entries), f"{n}/{len(entries)} images pushed")
    return uploaded


def docker_archive(directory: Path, entry: BundledImage, dest: Path) -> str:
    """Write a ``docker save``-format archive (manifest.json with Config/RepoTags/Layers, each blob
    under its own name; moby image/tarexport) of this machine's platform of ``entry``, for
    ``POST /images/load``. Returns the image ID Docker gives it: its config digest."""
    _, manifests = _image_manifests(directory, entry)
    chosen = manifests[0] if manifests else None
    if entry.media_type in INDEX_TYPES:
        top = _manifest(directory, entry.digest, entry.media_type).json()
        plats = host_platforms()
        wanted = {
            str(d["digest"])
            for d in top.get("manifests") or []
            if ((d.get("platform") or {}).get("os"), (d.get("platform") or {}).get("architecture")) in plats
        }
        chosen = next((m for m in manifests if m.digest in wanted), None)
    if chosen is None:
        raise SourceError(f"bundle image {entry.image}: no manifest for this machine's platform")
    body = chosen.json()
    config = str(body["config"]["digest"])
    layers = [str(d["digest"]) for d in body.get("layers") or []]
    index = [
        {
            "Config": blob_path(config).removeprefix("images/"),
            "RepoTags": [LOCAL_TAG],
            "Layers": [blob_path(d).removeprefix("images/") for d in layers],
        }
    ]
    with tarfile.open(dest, "w") as tar:
        for digest in dict.fromkeys([config, *layers]):
            tar.add(directory / blob_path(digest), arcname=blob_path(digest).removeprefix("images/"))
        data = json.dumps(index).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        import io

        tar.addfile(info, io.BytesIO(data))
    return config


def container_config(image_id: str) -> dict[str, Any]:
    """The Docker Engine API body of POST /containers/create for the bundle registry."""
    return {
        "Image": image_id,
        "Env": ["REGISTRY_VALIDATION_MANIFESTS_INDEXES_PLATFORMS=none"],
        "Labels": {LABEL: "true", f"{LABEL}.upstream": "bundle"},
        "ExposedPorts": {CONTAINER_PORT: {}},
        "HostConfig": {
            "Binds": [f"{VOLUME}:/var/lib/registry"],
            "RestartPolicy": {"Name": "unless-stopped"},
            # Loopback only: platformctl pushes through it; the nodes use the kind network.
            "PortBindings": {CONTAINER_PORT: [{"HostIp": "127.0.0.1", "HostPort": ""}]},
        },
    }


def start_registry(
    docker: Engine, directory: Path, entry: BundledImage, *, reporter: Reporter | None = None
) -> str:
    """Load the registry image from the bundle (unless Docker has it), create or start the container;
    returns its loopback address ``127.0.0.1:<port>``."""
    rep = reporter or reporting.NullReporter()
    with tempfile.TemporaryDirectory(prefix="platformctl-registry-image-") as tmp:
        archive = Path(tmp) / "registry.tar"
        image_id = docker_archive(directory, entry, archive)
        if not docker.image_present(image_id):
            reporting.log(rep, "bundle registry", f"loading {REGISTRY_IMAGE.split('@')[0]} from the bundle")
            docker.load_image(archive)
    found = {
        str(name).lstrip("/"): c for c in docker.containers_labelled(LABEL) for name in c.get("Names") or []
    }.get(NAME)
    if found is None:
        docker.create_volume(VOLUME, {LABEL: "true"})
        docker.create_container(NAME, container_config(image_id))
    if found is None or found.get("State") != "running":
        docker.start_container(NAME)
    port = docker.published_port(NAME, CONTAINER_PORT)
    if port is None:
        raise ClusterError(f"bundle registry {NAME}: Docker publishes no port for {CONTAINER_PORT}")
    return f"127.0.0.1:{port}"


def configure_nodes(docker: Engine, nodes: Sequence[str], upstreams: Sequence[str]) -> None:
    """Join the kind network and write each upstream's hosts.toml into every node."""
    docker.connect_network(NETWORK, NAME)
    for node in nodes:
        for upstream in sorted(set(upstreams)):
            write_hosts_toml(docker, node, upstream, hosts_toml(upstream), what="bundle registry")
