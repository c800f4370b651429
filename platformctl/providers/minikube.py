"""The minikube provider: a minikube profile (docker driver) platformctl creates, reuses and deletes.

``cluster.provider: minikube`` starts profile ``cluster.name`` with ``minikube start -p <name>
--driver=docker``, CPUs and memory from ``cluster.cpus``/``cluster.memory_mb`` (minikube's defaults when
null) and the Kubernetes version of the lock (``kubernetes.version``). The profile is recorded as created by
platformctl (providers/ownership.py decides reuse/refuse/delete, as for kind). The context is named after
the profile, as minikube names it. The gateway is a NodePort Service (31080/31443) reached at the node IP
(``minikube ip``), so the default domain is ``<ip>.sslip.io``.

The kubeconfig minikube writes at creation is kept beside the record (``<name>.kubeconfig``, mode 0600);
on reuse a private copy is refreshed with ``minikube update-context`` (the docker driver publishes the API
server on a new host port after a restart) before its context is merged into the user's kubeconfig.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from platformctl import reporting
from platformctl.drivers.kind import HTTP_NODE_PORT, HTTPS_NODE_PORT  # the gateway NodePorts, defined once
from platformctl.errors import SafetyError, SourceError
from platformctl.providers import ownership
from platformctl.providers.base import GatewayServiceType, Ingress, ProviderOptions, Target
from platformctl.providers.kind import check_context, kubeconfig_path, make_current

if TYPE_CHECKING:
    from platformctl.drivers.minikube import Minikube
    from platformctl.plan.spec import PlatformSpec


class MinikubeProvider:
    name: ClassVar[str] = "minikube"
    gateway_service_type: ClassVar[GatewayServiceType] = "NodePort"
    manages_cluster: ClassVar[bool] = True
    publishes_host_ports: ClassVar[bool] = False
    tools: ClassVar[tuple[str, ...]] = ("minikube",)
    docker_nodes: ClassVar[bool] = False

    def __init__(self, options: ProviderOptions | None = None) -> None:
        self.options = options or ProviderOptions()
        self.state_dir = self.options.state_dir or ownership.state_dir(self.name)
        self._ip: str | None = None

    def minikube(self) -> Minikube:
        from platformctl.drivers.minikube import Minikube
        from platformctl.drivers.tools import require_tool

        binary = self.options.binary or require_tool(
            "minikube", allow_download=self.options.allow_download, reporter=self.options.reporter
        )
        return Minikube(binary)

    def context_name(self, spec: PlatformSpec) -> str:
        return spec.cluster.name

    def target(self, spec: PlatformSpec) -> Target:
        ctx = check_context(self.name, spec, self.options.context, self.context_name(spec))
        path = kubeconfig_path(spec, self.options.kubeconfig, ctx)
        return Target(self.name, str(path), ctx, name=spec.cluster.name)

    def exists(self, spec: PlatformSpec) -> bool:
        try:
            return self.minikube().exists(spec.cluster.name)
        except SourceError:
            return False  # no minikube binary: there cannot be a profile to talk to

    def desired(self, spec: PlatformSpec) -> ownership.Desired:
        from platformctl.plan.lock import load_lock

        c = spec.cluster
        settings = {
            "driver": "docker",
            "kubernetes_version": load_lock().selected_set(spec)[1].kubernetes.version,
            "cpus": "minikube default" if c.cpus is None else str(c.cpus),
            "memory_mb": "minikube default" if c.memory_mb is None else str(c.memory_mb),
        }
        return ownership.Desired(self.name, c.name, ownership.settings_hash(settings), settings)

    def _foreign_hint(self, ctx: str) -> str:
        return (
            "use another cluster.name, or install onto it with cluster.provider: existing "
            f"and --context {ctx}"
        )

    def dry_run(self, spec: PlatformSpec) -> tuple[Target | None, str]:
        """Every check ``ensure`` makes before it changes anything, raising what it would raise; never
        downloads, starts or deletes. Returns (the cluster to dry-run against, "") or (None, why not)."""
        from platformctl.drivers.minikube import Minikube
        from platformctl.drivers.tools import require_tool

        target = self.target(spec)
        name, ctx, force = spec.cluster.name, self.context_name(spec), self.options.force
        try:
            mk = Minikube(self.options.binary or require_tool("minikube", allow_download=False))
        except SourceError:
            if not self.options.allow_download:
                raise
            return None, "minikube is not installed yet (`up` would download it) and starts the profile"
        action = ownership.decide(
            self.desired(spec),
            exists=mk.exists(name),
            record=ownership.RecordStore(self.state_dir).get(name),
            force=force,
            foreign_hint=self._foreign_hint(ctx),
        )
        path = Path(target.kubeconfig or "")
        ownership.check_kubeconfig_free(path, ctx, force=force, reusing=action == "reuse")
        if action == "create":
            return None, f"minikube profile {name!r} does not exist yet: `up` would start it"
        if action == "recreate":
            return None, f"--force: `up` would delete minikube profile {name!r} and start it again"
        return target, ""

    def _saved_kubeconfig(self, name: str) -> Path:
        return self.state_dir / f"{name}.kubeconfig"

    def _save_kubeconfig(self, name: str, text: str) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        dest = self._saved_kubeconfig(name)
        tmp = dest.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, dest)

    def _current_kubeconfig(self, mk: Minikube, name: str) -> str:
        with tempfile.TemporaryDirectory(prefix="platformctl-minikube-") as tmp:
            private = Path(tmp) / "kubeconfig"
            saved = self._saved_kubeconfig(name)
            if saved.is_file():
                shutil.copyfile(saved, private)
            mk.update_context(name, private)
            text = private.read_text(encoding="utf-8")
        self._save_kubeconfig(name, text)
        return text

    def ensure(self, spec: PlatformSpec) -> Target:
        from platformctl.drivers import kubeconfig as kcfg

        target = self.target(spec)
        path = Path(target.kubeconfig or "")
        name, ctx, force = spec.cluster.name, self.context_name(spec), self.options.force
        desired = self.desired(spec)
        store = ownership.RecordStore(self.state_dir)
        rep = self.options.reporter or reporting.NullReporter()
        step = "cluster"
        reporting.start(rep, step, f"minikube profile {name}")
        try:
            mk = self.minikube()
            action = ownership.decide(
                desired,
                exists=mk.exists(name),
                record=store.get(name),
                force=force,
                foreign_hint=self._foreign_hint(ctx),
            )
            if action == "reuse":
                text = self._current_kubeconfig(mk, name)
            else:
                if action == "recreate":
                    reporting.update(rep, step, f"deleting profile {name} (--force)")
                    mk.delete(name, timeout=spec.timeouts.cluster)
                store.forget(name)  # recreate, or a record whose profile was deleted behind our back
                ownership.check_kubeconfig_free(path, ctx, force=force)
                with tempfile.TemporaryDirectory(prefix="platformctl-minikube-") as tmp:
                    private = Path(tmp) / "kubeconfig"
                    mk.start(
                        name,
                        kubernetes_version=desired.settings["kubernetes_version"],
                        kubeconfig=private,
                        cpus=spec.cluster.cpus,
                        memory_mb=spec.cluster.memory_mb,
                        on_line=lambda line: reporting.update(rep, step, line.strip()),
                        timeout=spec.timeouts.cluster,
                    )
                    text = private.read_text(encoding="utf-8") if private.is_file() else ""
                store.save(desired)
                self._save_kubeconfig(name, text)
            kcfg.merge_context(path, text, context=ctx, owner=name, force=force)
            make_current(spec, self.options.kubeconfig, ctx, path)
        except BaseException as exc:
            reporting.fail(rep, step, str(exc) or type(exc).__name__)
            raise
        created = action != "reuse"
        reporting.finish(rep, step, "created" if created else "reused (created earlier by platformctl)")
        return Target(self.name, target.kubeconfig, ctx, name=name, created=created)

    def remove(self, spec: PlatformSpec) -> bool:
        from platformctl.drivers import kubeconfig as kcfg

        name, force = spec.cluster.name, self.options.force
        ctx = self.context_name(spec)
        path = kubeconfig_path(spec, self.options.kubeconfig, ctx)
        store = ownership.RecordStore(self.state_dir)
        mk = self.minikube()
        owned = store.get(name) is not None
        if not ownership.check_removal(self.name, name, exists=mk.exists(name), owned=owned, force=force):
            store.forget(name)
            self._saved_kubeconfig(name).unlink(missing_ok=True)
            _remove_owned(path, ctx)
            return False
        mk.delete(name, timeout=spec.timeouts.cluster)
        store.forget(name)
        self._saved_kubeconfig(name).unlink(missing_ok=True)
        if force:
            kcfg.remove_context(path, ctx, force=True)
        else:
            _remove_owned(path, ctx)
        return True

    def ingress(self, spec: PlatformSpec) -> Ingress:
        if self._ip is None:
            self._ip = self.minikube().ip(spec.cluster.name)
        return Ingress(self._ip, HTTP_NODE_PORT, HTTPS_NODE_PORT)

    def default_domain(self, spec: PlatformSpec) -> str | None:
        return self.ingress(spec).default_domain


def _remove_owned(path: Path, ctx: str) -> None:
    import contextlib

    from platformctl.drivers import kubeconfig as kcfg

    with contextlib.suppress(SafetyError):
        kcfg.remove_context(path, ctx)
