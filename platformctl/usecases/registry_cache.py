"""The pull-through registry cache: one registry container per upstream registry, surviving ``down``.

For every registry the platform's images come from (``platformctl images``: docker.io, ghcr.io,
gcr.io, quay.io, …) platformctl runs a ``registry`` container in pull-through (proxy) mode
(distribution/distribution docs/content/recipes/mirror.md: ``proxy.remoteurl``; configured through
``REGISTRY_*`` environment variables, the registry's documented override of its config file), with a
named volume for its data, on the ``kind`` Docker network so the nodes reach it by name. The kind
config turns on containerd's registry host directory (``config_path``, as kind's own
site/static/examples/kind-with-registry.sh does), and each node gets one ``hosts.toml`` per registry
(containerd docs/hosts.md) naming the cache first and the upstream as ``server``: if a cache is down,
containerd falls back to the upstream. ``down`` deletes the cluster, not the caches, so the next
``up`` pulls unchanged images from them. ``platformctl cache status|prune|rm`` manage them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from platformctl import reporting
from platformctl.errors import ClusterError, PlatformError

if TYPE_CHECKING:
    from platformctl.reporting import Reporter

# registry:3.1.1, pinned by its multi-platform index digest: docker-library/repo-info
# @38feaf4cf9478541ad98f122effdab781aedfaa3 repos/registry/tag-details.md (`registry:3.1.1`).
REGISTRY_IMAGE = "registry:3.1.1@sha256:849b7d29920d060df8091770ede2279c07924ecd29e2a4c029ee0b5ea2ea542b"
LABEL = "platformctl.io/registry-cache"
PREFIX = "platformctl-cache-"
NETWORK = "kind"  # the Docker network kind puts its nodes on
PORT = 5000  # the registry image's listen address (:5000)
DEBUG_ADDR = "127.0.0.1:5001"  # expvar /debug/vars (registry.proxy hits/misses), inside the container
HOSTS_DIR = "/etc/containerd/certs.d"  # containerd config_path (kind-with-registry.sh)
# Docker Hub's registry API host (distribution docs/content/recipes/mirror.md); others serve it at
# their own name.
REMOTE_URLS: dict[str, str] = {"docker.io": "https://registry-1.docker.io"}
KIND_CONTAINERD_PATCH = (
    '[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "/etc/containerd/certs.d"'
)


def slug(registry: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", registry.lower()).strip("-")


@dataclass(frozen=True)
class CacheRegistry:
    upstream: str  # registry host as images name it: docker.io, ghcr.io, 127.0.0.1:5000 …

    @property
    def name(self) -> str:
        return PREFIX + slug(self.upstream)

    @property
    def volume(self) -> str:
        return self.name

    @property
    def remote_url(self) -> str:
        host = self.upstream.rsplit(":", 1)[0]
        if host == "localhost" or host.startswith("127."):
            # Loopback registries speak plain HTTP (Docker treats 127.0.0.0/8 as insecure too).
            return f"http://{self.upstream}"
        return REMOTE_URLS.get(self.upstream, f"https://{self.upstream}")

    @property
    def mirror_url(self) -> str:
        return f"http://{self.name}:{PORT}"

    def env(self) -> dict[str, str]:
        return {
            "REGISTRY_PROXY_REMOTEURL": self.remote_url,
            "REGISTRY_HTTP_DEBUG_ADDR": DEBUG_ADDR,
            "REGISTRY_STORAGE_DELETE_ENABLED": "true",
        }

    def container_config(self) -> dict[str, Any]:
        """The Docker Engine API body of POST /containers/create for this cache."""
        return {
            "Image": REGISTRY_IMAGE,
            "Env": [f"{k}={v}" for k, v in sorted(self.env().items())],
            "Labels": {LABEL: "true", f"{LABEL}.upstream": self.upstream},
            "HostConfig": {
                "Binds": [f"{self.volume}:/var/lib/registry"],
                "RestartPolicy": {"Name": "unless-stopped"},
                "NetworkMode": NETWORK,
            },
        }

    def hosts_toml(self) -> str:
        """containerd hosts.toml for this upstream: the cache first, the upstream as fallback."""
        return (
            f'server = "{self.remote_url}"\n\n'
            f'[host."{self.mirror_url}"]\n'
            '  capabilities = ["pull", "resolve"]\n'
        )


def caches_for(registries: Iterable[str]) -> list[CacheRegistry]:
    return [CacheRegistry(r) for r in sorted(set(registries))]


class NodeExec(Protocol):
    """Running a command in a kind node (drivers/docker.py EngineClient.exec)."""

    def exec(self, container: str, cmd: list[str]) -> tuple[int, str]: ...


class Engine(Protocol):
    """What the cache needs from Docker (drivers/docker.py EngineClient)."""

    def containers_labelled(self, label: str) -> list[dict[str, Any]]: ...
    def image_present(self, image: str) -> bool: ...
    def pull(self, image: str) -> None: ...
    def create_volume(self, name: str, labels: dict[str, str]) -> None: ...
    def remove_volume(self, name: str) -> bool: ...
    def create_container(self, name: str, config: dict[str, Any]) -> str: ...
    def start_container(self, name: str) -> None: ...
    def remove_container(self, name: str) -> bool: ...
    def connect_network(self, network: str, container: str) -> None: ...
    def volume_sizes(self) -> dict[str, int]: ...
    def exec(self, container: str, cmd: list[str]) -> tuple[int, str]: ...


@dataclass
class CacheEntry:
    upstream: str
    container: str
    state: str  # running / exited / missing …
    volume: str
    bytes: int | None = None
    hits: int | None = None  # proxy hits (blobs + manifests) since the container started
    misses: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CacheReport:
    entries: list[CacheEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"caches": [e.to_dict() for e in self.entries], "errors": self.errors}


def ensure_caches(
    docker: Engine, caches: Sequence[CacheRegistry], *, reporter: Reporter | None = None
) -> list[str]:
    """Create/start every cache (existing ones are reused) and attach it to the kind network.
    Returns the problems (never raises for one cache: the nodes then pull from the upstream)."""
    rep = reporter or reporting.NullReporter()
    step = "registry cache"
    problems: list[str] = []
    if not caches:
        return problems
    reporting.start(rep, step, f"{len(caches)} pull-through caches ({', '.join(c.upstream for c in caches)})")
    existing = {
        str(name).lstrip("/"): c for c in docker.containers_labelled(LABEL) for name in c.get("Names") or []
    }
    try:
        if not docker.image_present(REGISTRY_IMAGE):
            docker.pull(REGISTRY_IMAGE)
    except PlatformError as exc:
        problem = f"cannot get {REGISTRY_IMAGE}: {exc.message}"
        reporting.fail(rep, step, f"{problem}; images are pulled from their registries")
        return [problem]
    for cache in caches:
        try:
            found = existing.get(cache.name)
            if found is None:
                docker.create_volume(cache.volume, {LABEL: "true"})
                docker.create_container(cache.name, cache.container_config())
            if found is None or found.get("State") != "running":
                docker.start_container(cache.name)
            docker.connect_network(NETWORK, cache.name)
        except PlatformError as exc:
            problems.append(f"{cache.upstream}: {exc.message}")
    if problems:
        reporting.fail(rep, step, "; ".join(problems))
    else:
        reporting.finish(rep, step, f"{len(caches)} caches running")
    return problems


def write_hosts_toml(docker: NodeExec, node: str, upstream: str, text: str, *, what: str) -> None:
    """``<HOSTS_DIR>/<upstream>/hosts.toml`` in kind node ``node`` (containerd reads the directory on
    each pull). ``what`` names the mirror in errors ("registry cache", "bundle registry")."""
    directory = f"{HOSTS_DIR}/{upstream}"
    if "'" in text or "'" in directory:  # cannot happen with validated names; never build a broken shell line
        raise ClusterError(f"{what} {upstream}: unexpected quote in hosts.toml")
    code, out = docker.exec(
        node, ["sh", "-c", f"mkdir -p '{directory}' && printf '%s' '{text}' > '{directory}/hosts.toml'"]
    )
    if code != 0:
        raise ClusterError(f"could not point node {node} at the {what} for {upstream}: {out.strip()}")


def configure_nodes(docker: Engine, nodes: Sequence[str], caches: Sequence[CacheRegistry]) -> None:
    """Write each cache's hosts.toml into every node."""
    for node in nodes:
        for cache in caches:
            write_hosts_toml(docker, node, cache.upstream, cache.hosts_toml(), what="registry cache")


def _expvar_hits(docker: Engine, container: str) -> tuple[int | None, int | None]:
    """Proxy hits/misses from the registry's expvar endpoint (registry.proxy.blobs/manifests)."""
    try:
        code, out = docker.exec(container, ["wget", "-qO-", f"http://{DEBUG_ADDR}/debug/vars"])
        proxy = json.loads(out)["registry"]["proxy"] if code == 0 else None
    except (PlatformError, ValueError, KeyError, TypeError):
        return None, None
    if not isinstance(proxy, dict):
        return None, None
    hits = sum(int((proxy.get(k) or {}).get("Hits", 0)) for k in ("blobs", "manifests"))
    misses = sum(int((proxy.get(k) or {}).get("Misses", 0)) for k in ("blobs", "manifests"))
    return hits, misses


def status(docker: Engine) -> CacheReport:
    report = CacheReport()
    sizes = docker.volume_sizes()
    for c in sorted(docker.containers_labelled(LABEL), key=lambda c: str((c.get("Names") or ["?"])[0])):
        name = str((c.get("Names") or ["?"])[0]).lstrip("/")
        upstream = str((c.get("Labels") or {}).get(f"{LABEL}.upstream", "?"))
        state = str(c.get("State") or "unknown")
        entry = CacheEntry(upstream=upstream, container=name, state=state, volume=name)
        size = sizes.get(name)
        entry.bytes = size if size is not None and size >= 0 else None
        if state == "running":
            entry.hits, entry.misses = _expvar_hits(docker, name)
        report.entries.append(entry)
    return report


def remove(docker: Engine, upstreams: Iterable[str] | None = None) -> list[str]:
    """Remove the caches (containers and volumes) of ``upstreams`` (all when None); their names."""
    wanted = None if upstreams is None else set(upstreams)
    removed: list[str] = []
    for c in docker.containers_labelled(LABEL):
        name = str((c.get("Names") or ["?"])[0]).lstrip("/")
        upstream = str((c.get("Labels") or {}).get(f"{LABEL}.upstream", ""))
        if wanted is not None and upstream not in wanted:
            continue
        docker.remove_container(name)
        docker.remove_volume(name)
        removed.append(name)
    return sorted(removed)


def prune(docker: Engine, needed: Iterable[str]) -> list[str]:
    """Remove the caches of registries the current platform no longer pulls from."""
    keep = set(needed)
    stale = [
        str((c.get("Labels") or {}).get(f"{LABEL}.upstream", "")) for c in docker.containers_labelled(LABEL)
    ]
    return remove(docker, [u for u in stale if u not in keep])
