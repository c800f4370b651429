"""The provider seam: where the cluster comes from and how its ingress is reached.

One ``Provider`` per ``cluster.provider`` value (registry in ``providers/__init__.py``). The shape follows
kind's internal provider interface (kubernetes-sigs/kind pkg/cluster/internal/providers/provider.go:
Provision, ListClusters, DeleteNodes, GetAPIServerEndpoint) and ctlptl's ``Admin`` (tilt-dev/ctlptl
pkg/cluster/admin.go: Create, Delete, LocalRegistryHosting): a provider creates, finds and deletes its
clusters and says how to reach them; what may be reused or deleted is decided once, for every provider,
in ``providers/ownership.py``.

A provider object is built per command with that command's options (``ProviderOptions``: the global
``--kubeconfig``/``--context``, ``--force``, whether downloads are allowed, the reporter).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter

GatewayServiceType = Literal["NodePort", "LoadBalancer"]


@dataclass(frozen=True)
class Target:
    """Where the engine connects: kubeconfig file and context (None: the kubeconfig's defaults)."""

    provider: str
    kubeconfig: str | None
    context: str | None
    name: str = ""
    created: bool = False  # this command created the cluster


@dataclass(frozen=True)
class Ingress:
    """The address and ports the gateway answers on, as smoke tests dial them and URLs print them."""

    address: str
    http_port: int
    https_port: int

    @property
    def default_domain(self) -> str:
        """``<address>.sslip.io``: every name under it resolves to the address (sslip.io)."""
        return f"{self.address}.sslip.io"


@dataclass(frozen=True)
class ProviderOptions:
    kubeconfig: str | None = None  # global --kubeconfig
    context: str | None = None  # global --context
    force: bool = False
    allow_download: bool = True
    reporter: Reporter | None = None
    binary: Path | None = None  # the provider's tool (kind/minikube); None: the tool resolver's pick
    state_dir: Path | None = None  # ownership records; None: $XDG_STATE_HOME/platformctl/<provider>
    registry_cache: bool = False  # kind: nodes use the pull-through registry caches (usecases/up_images.py)
    # kind: create the node from this reference (the pinned node image by the same digest, pulled from
    # the bundle registry: usecases/up_images.py); ownership keeps comparing the pinned reference.
    node_image_source: str | None = None


class Provider(Protocol):
    name: ClassVar[str]
    # How the istio ingress gateway Service is exposed on this provider's clusters.
    gateway_service_type: ClassVar[GatewayServiceType]
    # True: platformctl creates and deletes the cluster (down deletes it); False: it only installs onto it.
    manages_cluster: ClassVar[bool]
    # The ingress is published on host ports (cluster.listen_address:http_port/https_port) that must be free.
    publishes_host_ports: ClassVar[bool]
    # Binaries this provider drives (resolved and pinned like kind/helm/kubectl: drivers/tools.py).
    tools: ClassVar[tuple[str, ...]]
    # The nodes are containers of this machine's Docker daemon (kind): images can be loaded into them and
    # their containerd pointed at local registries (pre-pull, registry cache, bundle registry, --build).
    docker_nodes: ClassVar[bool]

    def context_name(self, spec: PlatformSpec) -> str | None:
        """The kubeconfig context this provider's cluster is reached through (None: the current one)."""
        ...

    def exists(self, spec: PlatformSpec) -> bool:
        """Whether the cluster is there (never creates anything)."""
        ...

    def target(self, spec: PlatformSpec) -> Target:
        """Where the cluster is (or would be): kubeconfig and context, nothing created."""
        ...

    def ensure(self, spec: PlatformSpec) -> Target:
        """Create the cluster, or reuse the one platformctl created with the same config."""
        ...

    def dry_run(self, spec: PlatformSpec) -> tuple[Target | None, str]:
        """Every check ``ensure`` makes before it changes anything, raising what it would raise, with
        nothing created or downloaded: (the target to dry-run against, "") or (None, why there is no
        cluster yet: ``ensure`` would create it, so ``up --dry-run`` can only render)."""
        ...

    def remove(self, spec: PlatformSpec) -> bool:
        """Delete the cluster platformctl created (any, with force). False when there was none."""
        ...

    def ingress(self, spec: PlatformSpec) -> Ingress | None:
        """The gateway's address and ports, or None when DNS for ``spec.domain`` decides (existing)."""
        ...

    def default_domain(self, spec: PlatformSpec) -> str | None:
        """The wildcard domain when the spec sets none, or None to keep ``spec.domain``."""
        ...
