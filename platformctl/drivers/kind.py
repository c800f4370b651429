"""The kind provider: render the cluster config, drive the ``kind`` binary, remember what we created.

Ownership: kind's node-container labels are only visible through Docker, so platformctl keeps its own
record: ``$XDG_STATE_HOME/platformctl/kind/<name>.json`` (default ``~/.local/state``) holding the sha256
of the config it created the cluster with. Whether a cluster may be reused or deleted is decided by the
one policy every provider shares (providers/ownership.py; providers/kind.py applies it to kind).

Commands used (kind v0.30.0 CLI): ``kind get clusters``, ``kind create cluster --name --config
--kubeconfig --wait``, ``kind delete cluster --name --kubeconfig``, ``kind get kubeconfig --name``,
``kind get nodes --name``, ``kind load docker-image <image> --name``.
kind is always pointed at a private kubeconfig file; the user's kubeconfig is changed only through
drivers/kubeconfig.py (one context, mode 0600, other contexts untouched).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformctl.drivers import process
from platformctl.errors import ClusterError, ConfigError, SourceError

# NodePorts of the istio-ingressgateway Service that the host ports map to (templates/kind-config.yaml.j2).
HTTP_NODE_PORT = 31080
HTTPS_NODE_PORT = 31443

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,48}[a-z0-9])?$")
# <registry/repo>[:tag][@sha256:<64 hex>]; no spaces/quotes so the value cannot break the YAML.
# An optional registry host with port first (distribution/reference grammar: domain[:port]/path), e.g.
# the bundle registry's 127.0.0.1:<port>/docker.io/kindest/node@sha256:… (usecases/up_images.py).
_IMAGE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$"
)

LineCallback = Callable[[str], None]


# Docker's errors when a published host port is taken, as kind relays them from `docker run`:
# "Bind for 127.0.0.1:80 failed: port is already allocated" (moby libnetwork portallocator) and
# "listen tcp4 0.0.0.0:80: bind: address already in use" (the Go net error from docker-proxy).
_PORT_IN_USE = (
    re.compile(r"Bind for (\[?[0-9A-Fa-f.:]*\]?):(\d+) failed: port is already allocated"),
    re.compile(r"listen tcp[46]? (\[?[0-9A-Fa-f.:]*\]?):(\d+): bind: address already in use"),
)


def port_in_use(lines: list[str]) -> tuple[str, int] | None:
    """(address, port) from kind's output when a host port was already in use, else None."""
    for line in lines:
        for pattern in _PORT_IN_USE:
            m = pattern.search(line)
            if m:
                return m.group(1).strip("[]") or "0.0.0.0", int(m.group(2))
    return None


@dataclass(frozen=True)
class KindConfig:
    name: str
    node_image: str
    listen_address: str = "127.0.0.1"
    http_port: int = 80
    https_port: int = 443
    registry_cache: bool = False  # containerd config_path for the registry cache's hosts.toml files

    def validate(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ConfigError(
                f"cluster.name: {self.name!r}: must be lowercase letters, digits and '-' (at most 50), "
                "start and end alphanumeric"
            )
        if not _IMAGE.fullmatch(self.node_image):
            raise ConfigError(
                f"cluster.node_image: {self.node_image!r}: must be an image reference such as "
                "kindest/node:v1.32.8@sha256:<digest>"
            )
        try:
            ipaddress.ip_address(self.listen_address)
        except ValueError:
            raise ConfigError(
                f"cluster.listen_address: {self.listen_address!r}: must be an IP address such as 127.0.0.1"
            ) from None
        for field, port in (("http_port", self.http_port), ("https_port", self.https_port)):
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise ConfigError(f"cluster.{field}: {port!r}: must be a port number 1-65535")
        if self.http_port == self.https_port:
            raise ConfigError("cluster.https_port: must differ from cluster.http_port")


def render_config(cfg: KindConfig) -> str:
    """templates/kind-config.yaml.j2 rendered with StrictUndefined (values validated first)."""
    import jinja2

    from platformctl.resources import data_dir

    cfg.validate()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("kind-config.yaml.j2").render(
        name=cfg.name,
        node_image=cfg.node_image,
        listen_address=cfg.listen_address,
        http_port=cfg.http_port,
        https_port=cfg.https_port,
        http_node_port=HTTP_NODE_PORT,
        https_node_port=HTTPS_NODE_PORT,
        registry_cache=cfg.registry_cache,
    )


def config_hash(config_yaml: str) -> str:
    return hashlib.sha256(config_yaml.encode("utf-8")).hexdigest()


def default_state_dir(env: dict[str, str] | None = None) -> Path:
    environ = os.environ if env is None else env
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "platformctl" / "kind"


@dataclass(frozen=True)
class ClusterRecord:
    name: str
    config_sha256: str
    created_at: float
    node_image: str


class KindCluster:
    """Thin, typed wrapper over the kind CLI plus platformctl's ownership records."""

    def __init__(
        self,
        binary: Path,
        *,
        state_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.state_dir = state_dir or default_state_dir()
        self._env = env

    # -- kind CLI -------------------------------------------------------------------------------

    def _run(self, args: Sequence[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [str(self.binary), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self._env,
                check=False,
            )
        except FileNotFoundError:
            chosen = self._from_env()
            raise SourceError(
                f"kind executable not found at {self.binary}"
                + (
                    f" (PLATFORMCTL_KIND={chosen}): fix or unset PLATFORMCTL_KIND"
                    if chosen
                    else ": run `platformctl tools install`"
                )
            ) from None
        except subprocess.TimeoutExpired:
            raise ClusterError(f"`kind {' '.join(args)}` did not finish within {timeout:.0f}s") from None

    def _from_env(self) -> str | None:
        """$PLATFORMCTL_KIND when it chose this binary: a failure must name the variable."""
        value = os.environ.get("PLATFORMCTL_KIND")
        return value if value and Path(value).expanduser() == Path(self.binary) else None

    def clusters(self) -> list[str]:
        res = self._run(["get", "clusters"])
        if res.returncode != 0:
            chosen = self._from_env()
            if chosen is not None:
                raise ClusterError(
                    f"`kind get clusters` failed (exit {res.returncode}) with kind from "
                    f"PLATFORMCTL_KIND={chosen}",
                    details=_lines(res.stderr),
                    hint="point PLATFORMCTL_KIND at a working kind binary, or unset it to use the pinned one",
                )
            raise ClusterError(
                f"`{self.binary} get clusters` failed (exit {res.returncode}); is Docker running?",
                details=_lines(res.stderr),
            )
        # "No kind clusters found." goes to stderr; stdout holds one name per line.
        return [line.strip() for line in res.stdout.splitlines() if line.strip()]

    def exists(self, name: str) -> bool:
        return name in self.clusters()

    def create(
        self,
        name: str,
        config_yaml: str,
        kubeconfig: Path,
        on_line: LineCallback | None = None,
        *,
        wait: float = 120,
        timeout: float = 600,
    ) -> None:
        """``kind create cluster``; kind's progress lines go to ``on_line`` as they appear."""
        with tempfile.TemporaryDirectory(prefix="platformctl-kind-") as tmp:
            cfg_path = Path(tmp) / "kind-config.yaml"
            cfg_path.write_text(config_yaml, encoding="utf-8")
            cfg_path.chmod(0o600)
            args = [
                "create",
                "cluster",
                "--name",
                name,
                "--config",
                str(cfg_path),
                "--kubeconfig",
                str(kubeconfig),
                "--wait",
                f"{int(wait)}s",
            ]
            rc, tail = self._stream(args, on_line, timeout)
        if rc != 0:
            taken = port_in_use(tail)
            if taken is not None:
                from platformctl.drivers import system

                address, port = taken
                # The same one line as the preflight's port check (usecases/doctor.py check_ports).
                raise ClusterError(
                    f"kind could not create cluster {name!r}: {system.port_taken(address, port)}",
                    details=tail,
                    hint=system.port_fix(port),
                )
            raise ClusterError(
                f"kind could not create cluster {name!r} (exit {rc})",
                details=tail,
                hint="check `docker info`, free memory, and that the host ports are free",
            )

    def _stream(self, args: list[str], on_line: LineCallback | None, timeout: float) -> tuple[int, list[str]]:
        try:
            proc = subprocess.Popen(
                [str(self.binary), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=self._env,
            )
        except FileNotFoundError:
            chosen = self._from_env()
            raise SourceError(
                f"kind executable not found at {self.binary}"
                + (
                    f" (PLATFORMCTL_KIND={chosen}): fix or unset PLATFORMCTL_KIND"
                    if chosen
                    else ": run `platformctl tools install`"
                )
            ) from None
        rc, tail, timed_out = process.follow(proc, timeout, on_line)
        if timed_out:
            raise ClusterError(
                f"`kind {' '.join(args[:2])}` did not finish within {timeout:.0f}s", details=tail
            )
        return rc, tail

    def delete(self, name: str, kubeconfig: Path | None = None, *, timeout: float = 300) -> None:
        with tempfile.TemporaryDirectory(prefix="platformctl-kind-") as tmp:
            # A private kubeconfig: kind would otherwise edit the user's file itself.
            kc = kubeconfig or Path(tmp) / "kubeconfig"
            res = self._run(["delete", "cluster", "--name", name, "--kubeconfig", str(kc)], timeout=timeout)
        if res.returncode != 0:
            raise ClusterError(f"kind could not delete cluster {name!r}", details=_lines(res.stderr))

    def nodes(self, name: str) -> list[str]:
        """Node container names of cluster ``name`` (``kind get nodes --name``)."""
        res = self._run(["get", "nodes", "--name", name])
        if res.returncode != 0:
            raise ClusterError(
                f"kind could not list the nodes of cluster {name!r}", details=_lines(res.stderr)
            )
        return [line.strip() for line in res.stdout.splitlines() if line.strip()]

    def load_docker_image(self, name: str, image: str, *, timeout: float = 600) -> None:
        """``kind load docker-image IMAGE --name NAME``: copy a local image onto the cluster's nodes, so
        pods can run it without a registry (kind v0.30.0 CLI)."""
        res = self._run(["load", "docker-image", image, "--name", name], timeout=timeout)
        if res.returncode != 0:
            raise ClusterError(
                f"kind could not load image {image} into cluster {name!r} (exit {res.returncode})",
                details=_lines(res.stderr),
                hint=f"check `kind get clusters` lists {name} and `docker image inspect {image}` works",
            )

    def kubeconfig(self, name: str) -> str:
        res = self._run(["get", "kubeconfig", "--name", name])
        if res.returncode != 0:
            raise ClusterError(f"kind has no kubeconfig for cluster {name!r}", details=_lines(res.stderr))
        return res.stdout

    # -- ownership records ------------------------------------------------------------------------

    def _record_path(self, name: str) -> Path:
        return self.state_dir / f"{name}.json"

    def record(self, name: str) -> ClusterRecord | None:
        path = self._record_path(name)
        try:
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return ClusterRecord(
                name=str(raw["name"]),
                config_sha256=str(raw["config_sha256"]),
                created_at=float(raw["created_at"]),
                node_image=str(raw.get("node_image", "")),
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            # A corrupt record proves nothing about ownership: treat it as absent.
            return None

    def save_record(self, rec: ClusterRecord) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self._record_path(rec.name)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec.__dict__, indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o600)
        os.replace(tmp, path)

    def forget(self, name: str) -> None:
        self._record_path(name).unlink(missing_ok=True)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-40:]


def context_name(cluster: str) -> str:
    return f"kind-{cluster}"


def pull_into_node(client: Any, node: str, image: str) -> int | None:
    """Pull ``image`` into a kind node's containerd with the node's own ``crictl`` (kind node images
    ship crictl; the node's containerd mirror config applies). Returns the image size crictl reports
    (``crictl inspecti -o json``: status.size), or None. ``client``: drivers.docker.ImageClient."""
    code, out = client.exec(node, ["crictl", "pull", image])
    if code != 0:
        last = [line for line in out.splitlines() if line.strip()][-1:] or [f"exit {code}"]
        raise ClusterError(f"crictl pull {image} in node {node}: {last[0]}")
    code, out = client.exec(node, ["crictl", "inspecti", "-o", "json", image])
    if code != 0:
        return None
    try:
        size = json.loads(out)["status"]["size"]
    except (ValueError, KeyError, TypeError):
        return None
    return int(size) if str(size).isdigit() else None
