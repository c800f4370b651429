"""The existing provider: install onto a cluster someone else runs, reached through a kubeconfig context.

platformctl never creates or deletes this cluster (``down`` prunes only the objects it labelled). The
gateway is a LoadBalancer Service and ``domain`` must name a wildcard DNS entry pointing at it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from platformctl.providers.base import GatewayServiceType, Ingress, ProviderOptions, Target

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec


class ExistingProvider:
    name: ClassVar[str] = "existing"
    gateway_service_type: ClassVar[GatewayServiceType] = "LoadBalancer"
    manages_cluster: ClassVar[bool] = False
    publishes_host_ports: ClassVar[bool] = False
    tools: ClassVar[tuple[str, ...]] = ()
    docker_nodes: ClassVar[bool] = False

    def __init__(self, options: ProviderOptions | None = None) -> None:
        self.options = options or ProviderOptions()

    def context_name(self, spec: PlatformSpec) -> str | None:
        return self.options.context or spec.cluster.context

    def target(self, spec: PlatformSpec) -> Target:
        """--kubeconfig/--context, else ``cluster.kubeconfig``/``cluster.context``, else the kubeconfig's
        current context."""
        return Target(
            self.name,
            kubeconfig=self.options.kubeconfig or spec.cluster.kubeconfig,
            context=self.context_name(spec),
        )

    def exists(self, spec: PlatformSpec) -> bool:
        return True  # whether it answers is the engine's to find out (connect probes /version)

    def ensure(self, spec: PlatformSpec) -> Target:
        return self.target(spec)

    def dry_run(self, spec: PlatformSpec) -> tuple[Target | None, str]:
        return self.target(spec), ""  # always there: the dry run connects (and fails) as `up` would

    def remove(self, spec: PlatformSpec) -> bool:
        return False  # not ours to delete: `down` prunes what platformctl installed instead

    def ingress(self, spec: PlatformSpec) -> Ingress | None:
        return None  # DNS for spec.domain points at the LoadBalancer

    def default_domain(self, spec: PlatformSpec) -> str | None:
        return None  # spec validation requires an explicit domain for this provider
