"""``platformctl cache status|prune|rm``: the pull-through registry caches (usecases/registry_cache.py)
on this machine's Docker daemon (DOCKER_HOST, the docker context or the default socket)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platformctl.drivers.docker import EngineClient
    from platformctl.plan.spec import PlatformSpec
    from platformctl.usecases.registry_cache import CacheReport
    from platformctl.usecases.render import SourceOptions


def _docker(timeout: float) -> EngineClient:
    from platformctl.drivers.docker import EngineClient

    return EngineClient(timeout=timeout)


def cache_status() -> CacheReport:
    """Each cache: upstream registry, container state, size on disk, hits and misses."""
    from platformctl.usecases.registry_cache import status

    return status(_docker(30))


def cache_prune(spec: PlatformSpec, sources: SourceOptions) -> list[str]:
    """Remove the caches of registries the enabled platform (rendered from ``sources``) no longer pulls
    from; the names removed."""
    from platformctl.usecases.images import list_images
    from platformctl.usecases.registry_cache import prune

    needed = list_images(spec, sources=sources).registries()
    return prune(_docker(60), needed)


def cache_remove() -> list[str]:
    """Remove every registry cache (containers and their volumes); the names removed."""
    from platformctl.usecases.registry_cache import remove

    return remove(_docker(60))
