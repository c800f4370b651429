"""The platform spec: one typed model of what ``platformctl up`` builds.

Loaded by plan/loader.py as defaults < platform.yaml (or -f) < PLATFORMCTL_* env < flags. Validation
errors are turned into one line naming the field, the bad value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from platformctl.plan.names import COMPONENTS as COMPONENTS  # re-exported: the names the spec accepts

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def dns_label(value: str) -> str:
    if not DNS1123_LABEL.fullmatch(value):
        raise ValueError(
            "must be a DNS-1123 label: lowercase letters, digits and '-', start and end alphanumeric, "
            "at most 63 characters"
        )
    return value


def dns_subdomain(value: str) -> str:
    if len(value) > 253 or not DNS1123_SUBDOMAIN.fullmatch(value):
        raise ValueError("must be a DNS-1123 subdomain such as 'example.com' (lowercase, dots, '-')")
    return value


def ip_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("must be an IP address such as 127.0.0.1") from None
    return value


DnsLabel = Annotated[str, AfterValidator(dns_label)]
Domain = Annotated[str, AfterValidator(dns_subdomain)]
IPAddress = Annotated[str, AfterValidator(ip_address)]
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0, le=86400)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ClusterSpec(_Model):
    # One module per provider in platformctl/providers/ (a test keeps this list and the registry equal).
    provider: Literal["kind", "existing", "minikube"] = "kind"
    name: DnsLabel = "platform"
    # None: the node image the selected version set pins by digest in manifests/lock.yaml.
    node_image: str | None = None
    listen_address: IPAddress = "127.0.0.1"
    http_port: Port = 80
    https_port: Port = 443
    # For provider=existing (and to override where the kind context is written).
    kubeconfig: str | None = None
    context: str | None = None
    # provider=minikube: `minikube start --cpus/--memory`; None: minikube's own defaults.
    cpus: Annotated[int, Field(ge=1, le=512)] | None = None
    memory_mb: Annotated[int, Field(ge=1024, le=4194304)] | None = None
    # Pull-through registry caches that survive `down` (kind only); None: on for kind (docs/images.md).
    registry_cache: bool | None = None

    @model_validator(mode="after")
    def _ports_differ(self) -> ClusterSpec:
        if self.http_port == self.https_port:
            # "<field>: ..." lets the loader name the field (cluster.https_port) in its one-line error.
            raise ValueError(f"https_port: must differ from http_port ({self.http_port})")
        return self


class ComponentSpec(_Model):
    enabled: bool = True
    # None: the version the selected set (``versions:``) names. Must be a version the lock pins.
    version: str | None = None


def _default_components() -> dict[str, ComponentSpec]:
    return {name: ComponentSpec() for name in COMPONENTS}


class TimeoutsSpec(_Model):
    """Deadlines in seconds."""

    cluster: Seconds = 300  # kind create / cluster reachable
    component: Seconds = 600  # one component applied and ready
    model: Seconds = 600  # an InferenceService Ready
    request: Seconds = 30  # one HTTP request (downloads, smoke checks)


class WorkloadsSpec(_Model):
    namespace: DnsLabel = "default"  # conference app + infra
    model_namespace: DnsLabel = "default"  # iris InferenceService
    persistence: bool = False  # PVCs for Redis/PostgreSQL/Kafka


class PlatformSpec(_Model):
    cluster: ClusterSpec = ClusterSpec()
    domain: Domain = "127.0.0.1.sslip.io"
    components: dict[str, ComponentSpec] = Field(default_factory=_default_components)
    timeouts: TimeoutsSpec = TimeoutsSpec()
    workloads: WorkloadsSpec = WorkloadsSpec()
    # A version set of the lock (manifests/lock.yaml ``sets``); None: the lock's default set.
    versions: str | None = None

    @model_validator(mode="after")
    def _check(self) -> PlatformSpec:
        unknown = sorted(set(self.components) - set(COMPONENTS))
        if unknown:
            raise ValueError(
                f"components: unknown component {unknown[0]!r}; allowed: {', '.join(COMPONENTS)}"
            )
        for name in COMPONENTS:
            self.components.setdefault(name, ComponentSpec())
        if self.cluster.provider == "existing" and "domain" not in self.model_fields_set:
            raise ValueError(
                "domain: required when cluster.provider is 'existing' (sslip.io only reaches a local "
                "kind cluster); set domain: to a DNS name whose wildcard points at your gateway"
            )
        return self

    def enabled(self) -> list[str]:
        return [n for n in COMPONENTS if self.components[n].enabled]
