"""The kind provider: a local kind cluster platformctl creates, reuses and deletes.

The kind binary is driven by drivers/kind.py; what may be reused or deleted is decided by
providers/ownership.py. The context is always ``kind-<cluster.name>`` (kind's naming); the gateway is a
NodePort Service whose ports kind maps to ``cluster.listen_address:http_port/https_port``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from platformctl import reporting
from platformctl.errors import SafetyError, SourceError, UsageError
from platformctl.providers import ownership
from platformctl.providers.base import GatewayServiceType, Ingress, ProviderOptions, Target

if TYPE_CHECKING:
    from platformctl.drivers.kind import KindCluster, KindConfig, LineCallback
    from platformctl.plan.spec import PlatformSpec


@dataclass(frozen=True)
class EnsureResult:
    name: str
    context: str
    created: bool


def _desired(cfg: KindConfig, config_yaml: str) -> ownership.Desired:
    from platformctl.drivers.kind import config_hash

    settings = {
        "node_image": cfg.node_image,
        "listen_address": cfg.listen_address,
        "http_port": str(cfg.http_port),
        "https_port": str(cfg.https_port),
        "registry_cache": str(cfg.registry_cache).lower(),
    }
    return ownership.Desired("kind", cfg.name, config_hash(config_yaml), settings)


def preflight(
    kind: KindCluster, cfg: KindConfig, kubeconfig_path: Path, *, force: bool = False
) -> ownership.Action:
    """What :func:`ensure_cluster` would do, raising the SafetyError it would raise; changes nothing.

    ``up --dry-run`` calls this so that a dry run refuses exactly what ``up`` would refuse."""
    from platformctl.drivers import kind as kind_driver

    desired = _desired(cfg, kind_driver.render_config(cfg))
    ctx = kind_driver.context_name(cfg.name)
    action = ownership.decide(
        desired,
        exists=kind.exists(cfg.name),
        record=ownership.RecordStore(kind.state_dir).get(cfg.name),
        force=force,
        # there is no --provider flag: the spec field is how another provider is chosen
        foreign_hint=f"use another cluster.name, install onto it with --set cluster.provider=existing "
        f"--context {ctx}",
    )
    # Refuse before creating anything if the kubeconfig entries belong to someone else.
    ownership.check_kubeconfig_free(kubeconfig_path, ctx, force=force, reusing=action == "reuse")
    return action


def ensure_cluster(
    kind: KindCluster,
    cfg: KindConfig,
    kubeconfig_path: Path,
    *,
    force: bool = False,
    on_line: LineCallback | None = None,
    wait: float = 120,
    timeout: float = 600,
    node_image_source: str | None = None,
) -> EnsureResult:
    """Create the cluster, or reuse it when platformctl created it with the same config.

    The decision (create / reuse / recreate / refuse) is providers/ownership.py's, checked by
    :func:`preflight` before anything changes. Writes context ``kind-<name>`` into ``kubeconfig_path``
    (other contexts untouched). ``node_image_source``: create the node from this reference to the same
    image (the bundle registry's copy); the recorded config, and so reuse, keeps ``cfg.node_image``.
    """
    from platformctl.drivers import kind as kind_driver
    from platformctl.drivers import kubeconfig as kcfg

    config_yaml = kind_driver.render_config(cfg)
    desired = _desired(cfg, config_yaml)
    ctx = kind_driver.context_name(cfg.name)
    store = ownership.RecordStore(kind.state_dir)
    action = preflight(kind, cfg, kubeconfig_path, force=force)
    if action == "reuse":
        kcfg.merge_context(
            kubeconfig_path, kind.kubeconfig(cfg.name), context=ctx, owner=cfg.name, force=force
        )
        return EnsureResult(cfg.name, ctx, created=False)
    if action == "recreate":
        kind.delete(cfg.name, timeout=timeout)
    store.forget(cfg.name)  # recreate, or a record without a cluster (deleted behind our back)
    with tempfile.TemporaryDirectory(prefix="platformctl-kind-") as tmp:
        private = Path(tmp) / "kubeconfig"
        create_yaml = config_yaml
        if node_image_source is not None:
            create_yaml = kind_driver.render_config(dataclasses.replace(cfg, node_image=node_image_source))
        kind.create(cfg.name, create_yaml, private, on_line, wait=wait, timeout=timeout)
    store.save(desired)
    kcfg.merge_context(kubeconfig_path, kind.kubeconfig(cfg.name), context=ctx, owner=cfg.name, force=force)
    return EnsureResult(cfg.name, ctx, created=True)


def remove_cluster(kind: KindCluster, name: str, kubeconfig_path: Path, *, force: bool = False) -> bool:
    """Delete a cluster platformctl created (any cluster with ``force``). False when it does not exist."""
    from platformctl.drivers.kind import context_name

    ctx = context_name(name)
    store = ownership.RecordStore(kind.state_dir)
    exists = kind.exists(name)
    if not ownership.check_removal(
        "kind", name, exists=exists, owned=store.get(name) is not None, force=force
    ):
        store.forget(name)
        _remove_owned(kubeconfig_path, ctx)
        return False
    kind.delete(name)
    store.forget(name)
    if force:
        from platformctl.drivers import kubeconfig as kcfg

        kcfg.remove_context(kubeconfig_path, ctx, force=True)
    else:
        _remove_owned(kubeconfig_path, ctx)
    return True


def _remove_owned(path: Path, ctx: str) -> None:
    from platformctl.drivers import kubeconfig as kcfg

    # Leave a context someone else wrote in place: it is theirs even if it now points nowhere.
    with contextlib.suppress(SafetyError):
        kcfg.remove_context(path, ctx)


def kubeconfig_path(spec: PlatformSpec, kubeconfig: str | None, context: str | None = None) -> Path:
    """The file the provider's context goes to: --kubeconfig/``cluster.kubeconfig`` (one file, never
    split), else where kubectl would write ``context`` in the $KUBECONFIG chain (the file that defines
    it, else the first that exists), else ~/.kube/config."""
    from platformctl.drivers.kubeconfig import default_kubeconfig_path, kubeconfig_chain, write_destination

    raw = kubeconfig or spec.cluster.kubeconfig
    if raw:
        return Path(raw).expanduser()
    if context is None:
        return default_kubeconfig_path()
    return write_destination(kubeconfig_chain(), "contexts", context)


def make_current(spec: PlatformSpec, kubeconfig: str | None, context: str, path: Path) -> None:
    """After ``ensure``: with several $KUBECONFIG files the current-context lives in the first file that
    sets one (kubectl's rule), which need not be the file the context was written to."""
    if kubeconfig or spec.cluster.kubeconfig:
        return  # one explicit file: merge_context already made the context current there
    from platformctl.drivers.kubeconfig import kubeconfig_chain, set_current_context

    set_current_context(kubeconfig_chain(), context, fallback=path)


def check_context(provider: str, spec: PlatformSpec, context: str | None, want: str) -> str:
    """A managed cluster's context is fixed by its name: another --context is a usage error."""
    if context and context != want:
        raise UsageError(
            f"--context {context}: cluster.provider is {provider!r}, whose context is {want!r}; "
            "set cluster.provider: existing to install onto another context"
        )
    return want


class KindProvider:
    name: ClassVar[str] = "kind"
    gateway_service_type: ClassVar[GatewayServiceType] = "NodePort"
    manages_cluster: ClassVar[bool] = True
    publishes_host_ports: ClassVar[bool] = True
    tools: ClassVar[tuple[str, ...]] = ("kind",)
    docker_nodes: ClassVar[bool] = True

    def __init__(self, options: ProviderOptions | None = None) -> None:
        self.options = options or ProviderOptions()

    def cluster(self) -> KindCluster:
        from platformctl.drivers.kind import KindCluster
        from platformctl.drivers.tools import require_tool

        binary = self.options.binary or require_tool(
            "kind", allow_download=self.options.allow_download, reporter=self.options.reporter
        )
        return KindCluster(binary, state_dir=self.options.state_dir)

    def context_name(self, spec: PlatformSpec) -> str:
        return f"kind-{spec.cluster.name}"

    def target(self, spec: PlatformSpec) -> Target:
        ctx = check_context(self.name, spec, self.options.context, self.context_name(spec))
        path = kubeconfig_path(spec, self.options.kubeconfig, ctx)
        return Target(self.name, str(path), ctx, name=spec.cluster.name)

    def exists(self, spec: PlatformSpec) -> bool:
        try:
            return self.cluster().exists(spec.cluster.name)
        except SourceError:
            return False  # no kind binary: there cannot be a kind cluster to talk to

    def config(self, spec: PlatformSpec) -> KindConfig:
        from platformctl.drivers.kind import KindConfig
        from platformctl.plan.lock import load_lock

        return KindConfig(
            name=spec.cluster.name,
            node_image=spec.cluster.node_image or load_lock().selected_set(spec)[1].kind.node_image,
            listen_address=spec.cluster.listen_address,
            http_port=spec.cluster.http_port,
            https_port=spec.cluster.https_port,
            registry_cache=self.options.registry_cache,
        )

    def dry_run(self, spec: PlatformSpec) -> tuple[Target | None, str]:
        """Every check ``ensure`` makes before it changes anything, raising what it would raise (a
        context mismatch, a cluster or kubeconfig entry platformctl did not create, a changed config,
        no kind binary without downloads); never downloads nor creates.

        Returns (the cluster to dry-run against, "") or (None, why there is none yet)."""
        from platformctl.drivers.kind import KindCluster
        from platformctl.drivers.tools import require_tool

        target = self.target(spec)
        try:
            binary = self.options.binary or require_tool("kind", allow_download=False)
        except SourceError:
            if not self.options.allow_download:
                raise
            return None, "kind is not installed yet (`up` would download it) and creates the cluster"
        kind = KindCluster(binary, state_dir=self.options.state_dir)
        action = preflight(kind, self.config(spec), Path(target.kubeconfig or ""), force=self.options.force)
        name = spec.cluster.name
        if action == "create":
            return None, f"kind cluster {name!r} does not exist yet: `up` would create it"
        if action == "recreate":
            return None, f"--force: `up` would delete kind cluster {name!r} and create it again"
        return target, ""

    def ensure(self, spec: PlatformSpec) -> Target:
        target = self.target(spec)
        cfg = self.config(spec)
        rep = self.options.reporter or reporting.NullReporter()
        step = "cluster"
        reporting.start(rep, step, f"kind cluster {spec.cluster.name}")
        try:
            res = ensure_cluster(
                self.cluster(),
                cfg,
                Path(target.kubeconfig or ""),
                force=self.options.force,
                on_line=lambda line: reporting.update(rep, step, line.strip()),
                timeout=spec.timeouts.cluster,
                node_image_source=self.options.node_image_source,
            )
        except BaseException as exc:
            reporting.fail(rep, step, str(exc) or type(exc).__name__)
            raise
        make_current(spec, self.options.kubeconfig, res.context, Path(target.kubeconfig or ""))
        reporting.finish(rep, step, "created" if res.created else "reused (created earlier by platformctl)")
        return Target(
            self.name, target.kubeconfig, target.context, name=spec.cluster.name, created=res.created
        )

    def remove(self, spec: PlatformSpec) -> bool:
        path = kubeconfig_path(spec, self.options.kubeconfig, self.context_name(spec))
        return remove_cluster(self.cluster(), spec.cluster.name, path, force=self.options.force)

    def ingress(self, spec: PlatformSpec) -> Ingress:
        c = spec.cluster
        return Ingress(c.listen_address, c.http_port, c.https_port)

    def default_domain(self, spec: PlatformSpec) -> str | None:
        return None  # the spec's default (127.0.0.1.sslip.io) already names kind's ingress
