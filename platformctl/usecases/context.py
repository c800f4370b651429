"""One context per command: built once from the global options, handed to the use-cases.

The idea of Helm's ``action.Configuration`` (helm/helm pkg/action/action.go: the kube client, the
release storage and the logger a command's actions share): here the spec and the version lock, the
provider and the cluster target, an engine that connects on first use, the render context and the
reporter. CLI commands build it (platformctl/cli/context.py) instead of wiring drivers themselves, so
"which cluster does this command talk to" is decided in one place: the provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from platformctl import providers
from platformctl.errors import ClusterError
from platformctl.reporting import NullReporter
from platformctl.usecases.render import SourceOptions

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from platformctl.components.base import RenderContext
    from platformctl.drivers.http import Endpoint
    from platformctl.drivers.kube.engine import Engine as Engine  # the type of ``engine``, for commands
    from platformctl.drivers.tools import ToolResolver
    from platformctl.plan.lock import VersionLock
    from platformctl.plan.spec import PlatformSpec
    from platformctl.providers import Provider, Target
    from platformctl.reporting import Reporter

    Connect = Callable[[str | None, str | None, Reporter], Engine]


def _read_only_sources() -> SourceOptions:
    return SourceOptions(allow_download=False)


@dataclass
class CommandContext:
    spec: PlatformSpec
    kubeconfig: str | None = None  # global --kubeconfig
    context: str | None = None  # global --context
    force: bool = False
    reporter: Reporter = field(default_factory=NullReporter)
    sources: SourceOptions = field(default_factory=_read_only_sources)
    connect: Connect | None = None  # None: usecases.up.default_connect (Engine.connect)

    @cached_property
    def lock(self) -> VersionLock:
        from platformctl.plan.lock import load_lock

        return load_lock()

    @cached_property
    def provider(self) -> Provider:
        opts = providers.ProviderOptions(
            kubeconfig=self.kubeconfig,
            context=self.context,
            force=self.force,
            allow_download=self.sources.allow_download,
            reporter=self.reporter,
        )
        return providers.create(self.spec, opts)

    @cached_property
    def target(self) -> Target:
        """Where a command that looks at the cluster connects.

        An explicit ``--context`` naming another cluster wins, as with kubectl. Otherwise the provider's
        target; a cluster platformctl would create that does not exist yet is a ClusterError (exit 4).
        """
        spec, provider = self.spec, self.provider
        if self.context and self.context != provider.context_name(spec):
            return providers.Target("context", self.kubeconfig or spec.cluster.kubeconfig, self.context)
        target = provider.target(spec)
        if provider.manages_cluster and not provider.exists(spec):
            raise ClusterError(
                f"no {provider.name} cluster named {spec.cluster.name!r}: run `platformctl up` first",
                hint="or select an existing cluster with cluster.provider: existing and --context",
            )
        return target

    @cached_property
    def engine(self) -> Engine:
        """Connected on first use (commands that fail on bad input never touch the cluster)."""
        target = self.target
        connect = self.connect
        if connect is None:
            # Looked up at call time: usecases.up.default_connect is the one connection seam tests replace.
            from platformctl.usecases import up as up_mod

            connect = up_mod.default_connect
        return connect(target.kubeconfig, target.context, self.reporter)

    @cached_property
    def cluster_spec(self) -> PlatformSpec:
        """The spec with the provider's default domain applied (minikube: ``<node ip>.sslip.io``)."""
        return providers.resolve_domain(self.spec, self.provider)

    @cached_property
    def render_context(self) -> RenderContext:
        from platformctl.usecases.render import make_render_context

        return make_render_context(self.cluster_spec, self.sources, self.reporter, self.lock)

    def tool_resolver(self, *, cache_dir: Path | None = None) -> ToolResolver:
        from platformctl.drivers.tools import ToolResolver

        return ToolResolver(self.lock, cache_dir=cache_dir, allow_download=self.sources.allow_download)

    def ingress(self, override: str | None = None, *, flag: str = "--ingress") -> Endpoint | None:
        """Where HTTP checks open connections: ``override`` (HOST:PORT) or the provider's ingress."""
        from platformctl.drivers.http import parse_ingress
        from platformctl.usecases.smoke_test import default_ingress

        if override:
            return parse_ingress(override, flag=flag)
        return default_ingress(self.spec, self.provider)
