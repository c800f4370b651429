"""Images during ``up``: serve a bundle's images, or pre-pull while the DAG installs.

Three moments, so that a refusal changes nothing:

1. ``plan_images`` (before the cluster is created or touched): derive the image list from the render,
   in pull order; when ``--manifests-dir`` holds images (``bundle --images``), check that the bundle
   has every image (and the pinned registry image to serve them) and every blob's sha256 (exit 3
   naming the missing image otherwise).
2. ``serve_bundle`` (still before the cluster is created, kind only): start the bundle registry from
   the bundle and push the images into it, digests intact (usecases/bundle_registry.py).
3. ``start_images`` (as soon as the cluster exists): with a bundle, point every node's containerd at
   the bundle registry before anything is installed; kind otherwise → a background ``Prepull`` into
   every node (``crictl pull`` through ``docker exec``), a few at a time, while the DAG runs.
   Pre-pull failures are reported, never fatal: the kubelet pulls those images itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from platformctl import reporting
from platformctl.providers import docker_nodes
from platformctl.usecases.prepull import DEFAULT_CONCURRENCY, Prepull, pull_order

if TYPE_CHECKING:
    from collections.abc import Sequence

    from platformctl.components.dag import Plan
    from platformctl.drivers.docker import EngineClient
    from platformctl.drivers.kube.engine import Engine
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.bundle_images import BundledImage
    from platformctl.usecases.bundle_registry import Engine as BundleEngine
    from platformctl.usecases.cluster import ClusterInfo
    from platformctl.usecases.prepull_existing import ExistingPrepull
    from platformctl.usecases.render import SourceOptions


@dataclass
class UpImages:
    images: list[str]  # every image of the plan, in pull order
    bundle: Path | None = None  # --manifests-dir holding images (bundle --images)
    bundled: list[BundledImage] = field(default_factory=list)  # verified entries to serve, registry too
    bundle_registry: str | None = None  # loopback address of the running bundle registry
    node_image: str | None = None  # kind's node image (served from the bundle when it has it)
    # The node image pulled into Docker from the bundle registry (same digest): kind creates the node
    # from this reference; the cluster's recorded config keeps the pinned one (providers/kind.py).
    node_image_source: str | None = None
    prepull: bool = False
    registry_cache: bool = False  # kind: start the pull-through caches and point the nodes at them


def cache_enabled(spec: PlatformSpec) -> bool:
    """``cluster.registry_cache``; null means on for kind (it only exists for kind clusters)."""
    if not docker_nodes(spec.cluster.provider):
        return False
    return True if spec.cluster.registry_cache is None else spec.cluster.registry_cache


def hosts_dir_enabled(spec: PlatformSpec, sources: SourceOptions) -> bool:
    """Whether kind's nodes get containerd's registry host directory (``config_path``, part of the kind
    config and so of its drift check): for the registry caches, or for the bundle registry when
    ``--manifests-dir`` holds images. ``up`` and ``up --dry-run`` ask this one question."""
    from platformctl.usecases.bundle_images import MANIFEST

    bundle = sources.manifests_dir
    serves_bundle = (
        bundle is not None and docker_nodes(spec.cluster.provider) and (bundle / MANIFEST).is_file()
    )
    return cache_enabled(spec) or serves_bundle


def wants_prepull(spec: PlatformSpec, prepull: bool | None) -> bool:
    """``--prepull/--no-prepull``; by default on for kind (platformctl owns the node), off otherwise."""
    return docker_nodes(spec.cluster.provider) if prepull is None else prepull


def plan_images(
    spec: PlatformSpec,
    plan: Plan,
    sources: SourceOptions,
    *,
    prepull: bool | None,
    reporter: Reporter | None = None,
) -> UpImages | None:
    """The image list for ``up``. With a bundle holding images every failure is raised (the install
    depends on them); otherwise the list only feeds the optional pre-pull and cache, so a render
    failure is logged and ``up`` goes on (the component that fails to render reports it properly)."""
    from platformctl.errors import PlatformError
    from platformctl.usecases.bundle_images import MANIFEST, bundled_for, node_image, read_manifest
    from platformctl.usecases.images import images_from_render
    from platformctl.usecases.registry_cache import REGISTRY_IMAGE
    from platformctl.usecases.render import render

    bundle = sources.manifests_dir
    bundled = bundle is not None and (bundle / MANIFEST).is_file()
    want = wants_prepull(spec, prepull)
    cache = cache_enabled(spec)
    if not bundled and not want and not cache:
        return None
    try:
        report = images_from_render(render(spec, plan=plan, sources=sources).components)
    except PlatformError as exc:
        if bundled:
            raise
        reporting.log(reporter or reporting.NullReporter(), "images", f"pre-pull skipped: {exc.message}")
        return None
    ordered = [e.image for e in pull_order(report, plan.order)]
    if bundle is None or not bundled:
        return UpImages(ordered, prepull=want, registry_cache=cache)
    # The registry that serves the bundle runs from the bundle too (kind: nodes on this Docker).
    serve = docker_nodes(spec.cluster.provider)
    entries = bundled_for(bundle, [*ordered, REGISTRY_IMAGE] if serve else ordered)
    node = node_image(spec) if serve else None
    if node is not None and node in (read_manifest(bundle) or {}):
        entries += bundled_for(bundle, [node])  # served too: see serve_bundle
    return UpImages(ordered, bundle=bundle, bundled=entries, node_image=node)


def _engine() -> BundleEngine:
    from platformctl.drivers.docker import EngineClient

    return EngineClient()


def serve_bundle(images: UpImages, *, reporter: Reporter, docker: BundleEngine | None = None) -> None:
    """Start the bundle registry and push the bundle's images into it (before the cluster exists).
    Failures raise: an air-gapped cluster has nowhere else to pull from."""
    from platformctl.drivers.registry import RegistryClient, parse_reference
    from platformctl.errors import PlatformError
    from platformctl.usecases.bundle_registry import push_bundle, start_registry, target_repository
    from platformctl.usecases.registry_cache import REGISTRY_IMAGE

    if images.bundle is None or not images.bundled:
        return
    engine = docker or _engine()
    step = "bundle registry"
    registry_entry = next(e for e in images.bundled if e.image == REGISTRY_IMAGE)
    served = [e for e in images.bundled if e.image != REGISTRY_IMAGE]
    reporting.start(reporter, step, f"serving {len(served)} bundled images from a local registry")
    try:
        address = start_registry(engine, images.bundle, registry_entry, reporter=reporter)
        with RegistryClient() as client:
            client.wait_ready(address)
            uploaded = push_bundle(images.bundle, served, client, address, reporter=reporter)
    except (PlatformError, OSError) as exc:
        reporting.fail(reporter, step, exc.message if isinstance(exc, PlatformError) else str(exc))
        raise
    images.bundle_registry = address
    reporting.finish(reporter, step, f"{len(served)} images at {address} ({uploaded} blobs uploaded)")
    node = images.node_image
    if node is None or engine.image_present(node):
        return
    # kind runs `docker inspect --type=image <node image>` and pulls when that fails
    # (kubernetes-sigs/kind pkg/cluster/internal/providers/docker/images.go pullIfNotPresent);
    # Docker resolves `name:tag@sha256:…` only for images pulled under that name (moby
    # reference/store.go Get looks a tag+digest reference up by name@digest), which cannot happen
    # offline. So Docker pulls the same digest from the loopback bundle registry (Docker treats
    # 127.0.0.0/8 registries as insecure, i.e. plain HTTP) and kind creates the node from that name.
    if not any(e.image == node for e in images.bundled):
        reporting.log(
            reporter,
            step,
            f"warning: Docker lacks the kind node image {node} and the bundle does not carry it; "
            "kind will try to pull it",
        )
        return
    ref = parse_reference(node)
    pin = f"@{ref.digest}" if ref.digest else f":{ref.tag or 'latest'}"
    served_as = f"{address}/{target_repository(node)}{pin}"
    reporting.start(reporter, "node image", f"pulling {node} into Docker from the bundle registry")
    try:
        engine.pull(served_as)
    except PlatformError as exc:
        reporting.fail(reporter, "node image", exc.message)
        raise
    images.node_image_source = served_as
    reporting.finish(reporter, "node image", f"kind creates the node from {served_as}")


def start_images(
    info: ClusterInfo,
    images: UpImages,
    *,
    reporter: Reporter,
    engine: Engine | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = 900,
) -> Prepull | ExistingPrepull | None:
    """Point the nodes at the bundle registry (blocking) or start the background pre-pull; None when
    nothing runs in the background."""
    from platformctl.usecases.cluster import kind_cluster

    if not docker_nodes(info.provider):
        if images.bundled:
            reporting.log(
                reporter,
                "images",
                f"bundled images are served to kind clusters only: push {images.bundle}/images (an OCI "
                "image layout) to the registry this cluster pulls from",
            )
        if images.prepull and engine is not None and images.images:
            from platformctl.usecases.prepull_existing import ExistingPrepull

            existing = ExistingPrepull(engine, images.images, timeout=timeout, reporter=reporter)
            existing.start()
            return existing
        return None
    kind = kind_cluster()
    if images.bundled:
        point_nodes_at_bundle(kind.nodes(info.name), images, reporter=reporter)
        return None
    if not (images.prepull or images.registry_cache) or not images.images:
        return None
    from platformctl.drivers.docker import EngineClient
    from platformctl.drivers.kind import pull_into_node
    from platformctl.errors import PlatformError

    try:
        nodes = kind.nodes(info.name)
    except PlatformError as exc:
        reporting.log(reporter, "images", f"pre-pull skipped: {exc.message}")
        return None
    client = EngineClient()
    if images.registry_cache:
        start_cache(client, nodes, images.images, reporter=reporter)
    if not images.prepull:
        return None

    def pull(image: str) -> int | None:
        sizes = [pull_into_node(client, node, image) for node in nodes]
        return sizes[0] if sizes else None

    job = Prepull(images.images, pull, concurrency=concurrency, reporter=reporter)
    job.start()
    return job


def point_nodes_at_bundle(
    nodes: Sequence[str], images: UpImages, *, reporter: Reporter, docker: BundleEngine | None = None
) -> None:
    """Every node's containerd pulls the bundle's registries from the bundle registry."""
    from platformctl.drivers.registry import parse_reference
    from platformctl.usecases.bundle_registry import configure_nodes

    if images.bundle_registry is None:
        return
    upstreams = sorted({parse_reference(e.image).registry for e in images.bundled})
    step = "bundle registry"
    configure_nodes(docker or _engine(), nodes, upstreams)
    reporting.log(reporter, step, f"{len(nodes)} nodes pull {', '.join(upstreams)} from the bundle")


def start_cache(
    client: EngineClient, nodes: Sequence[str], images: Sequence[str], *, reporter: Reporter
) -> None:
    """The registry caches for the registries of ``images``, and the nodes' hosts.toml pointing at
    them. Never fatal: without a cache the nodes pull from the registries themselves."""
    from platformctl.errors import PlatformError
    from platformctl.usecases.images import registries
    from platformctl.usecases.registry_cache import NETWORK, caches_for, configure_nodes, ensure_caches

    step = "registry cache"
    try:
        # Only next to real kind nodes: they and kind's network exist as Docker objects.
        if not client.network_exists(NETWORK) or not all(client.container_exists(n) for n in nodes):
            reporting.log(
                reporter, step, f"skipped: no Docker network {NETWORK!r} with the nodes {', '.join(nodes)}"
            )
            return
        caches = caches_for(registries(images))
        if ensure_caches(client, caches, reporter=reporter):
            return
        configure_nodes(client, nodes, caches)
    except PlatformError as exc:
        reporting.log(reporter, step, f"not used: {exc.message}; images are pulled from their registries")
