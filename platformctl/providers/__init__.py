"""Cluster providers: where the cluster comes from (kind, an existing context, minikube).

``providers.create(spec, options)`` is the one registry lookup; everything else asks the provider object
(see base.py for the ``Provider`` protocol and ownership.py for the reuse-or-refuse policy they share).
Adding a provider means a module here, an entry in ``REGISTRY``, its name in ``cluster.provider``'s
allowed values (plan/spec.py), docs and tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platformctl.errors import ConfigError
from platformctl.providers.base import GatewayServiceType, Ingress, Provider, ProviderOptions, Target
from platformctl.providers.existing import ExistingProvider
from platformctl.providers.kind import KindProvider
from platformctl.providers.minikube import MinikubeProvider

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec

__all__ = [
    "REGISTRY",
    "Ingress",
    "Provider",
    "ProviderOptions",
    "Target",
    "create",
    "docker_nodes",
    "gateway_service_type",
    "manages_cluster",
    "publishes_host_ports",
    "resolve_domain",
    "tools",
]

REGISTRY: dict[str, type[KindProvider] | type[ExistingProvider] | type[MinikubeProvider]] = {
    KindProvider.name: KindProvider,
    ExistingProvider.name: ExistingProvider,
    MinikubeProvider.name: MinikubeProvider,
}


def _cls(name: str) -> type[KindProvider] | type[ExistingProvider] | type[MinikubeProvider]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"cluster.provider: {name!r} is not a provider; allowed: {', '.join(REGISTRY)}"
        ) from None


def create(spec: PlatformSpec, options: ProviderOptions | None = None) -> Provider:
    """The provider ``spec.cluster.provider`` names, configured with this command's options."""
    return _cls(spec.cluster.provider)(options)


def docker_nodes(provider: str) -> bool:
    """Whether ``provider``'s nodes are containers of this machine's Docker daemon (base.py)."""
    return _cls(provider).docker_nodes


def gateway_service_type(provider: str) -> GatewayServiceType:
    return _cls(provider).gateway_service_type


def manages_cluster(provider: str) -> bool:
    """True when platformctl creates and deletes this provider's clusters (kind, minikube)."""
    return _cls(provider).manages_cluster


def publishes_host_ports(provider: str) -> bool:
    """True when the ingress is published on host ports that must be free (kind)."""
    return _cls(provider).publishes_host_ports


def tools(provider: str) -> tuple[str, ...]:
    """The binaries this provider drives (kind, minikube), resolved like every pinned tool."""
    return _cls(provider).tools


def resolve_domain(spec: PlatformSpec, provider: Provider) -> PlatformSpec:
    """The spec with the provider's default domain when the user set none (minikube: ``<ip>.sslip.io``)."""
    if "domain" in spec.model_fields_set:
        return spec
    domain = provider.default_domain(spec)
    if domain is None or domain == spec.domain:
        return spec
    return spec.model_copy(update={"domain": domain})
