"""The ``minikube`` binary: start, list, delete profiles and read a profile's node IP.

Commands used (minikube v1.38.1 CLI; flags as ctlptl drives them, tilt-dev/ctlptl
pkg/cluster/admin_minikube.go, and as minikube defines them, kubernetes/minikube
cmd/minikube/cmd/start_flags.go):
``minikube start -p <name> --driver=docker [--cpus=N] [--memory=<n>m] --kubernetes-version=<v>``,
``minikube profile list -o json -l`` (``{"valid": [{"Name": ...}], "invalid": [...]}``: kubernetes/minikube
cmd/minikube/cmd/config/profile_list.go), ``minikube ip -p <name>``, ``minikube update-context -p <name>``,
``minikube delete -p <name>``.

minikube writes its context into the file named by ``$KUBECONFIG``; every call here points that at a private
file, so the user's kubeconfig is only changed through drivers/kubeconfig.py (one context, mode 0600).
Ownership (which profiles platformctl created) is not this module's business: see providers/ownership.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from platformctl.drivers import process
from platformctl.errors import ClusterError, SourceError

LineCallback = Callable[[str], None]


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-40:]


class Minikube:
    """Thin, typed wrapper over the minikube CLI."""

    def __init__(self, binary: Path, *, env: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self._env = dict(os.environ if env is None else env)

    def _environ(self, kubeconfig: Path | None) -> dict[str, str]:
        env = dict(self._env)
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        return env

    def _run(
        self, args: Sequence[str], *, kubeconfig: Path | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                [str(self.binary), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self._environ(kubeconfig),
                check=False,
            )
        except FileNotFoundError:
            raise SourceError(
                f"minikube executable not found at {self.binary}",
                hint="install minikube, or set PLATFORMCTL_MINIKUBE=/path/to/minikube",
            ) from None
        except subprocess.TimeoutExpired:
            raise ClusterError(f"`minikube {' '.join(args)}` did not finish within {timeout:.0f}s") from None

    def profiles(self) -> list[str]:
        """Names of the valid and invalid profiles (``-l``: without probing each cluster's status)."""
        res = self._run(["profile", "list", "-o", "json", "-l"])
        try:
            data = json.loads(res.stdout or "{}")
        except ValueError:
            data = None
        if not isinstance(data, dict) or (res.returncode != 0 and "error" in data):
            raise ClusterError(
                "`minikube profile list` failed (is Docker running?)",
                details=_lines(res.stderr or res.stdout),
            )
        names: list[str] = []
        for key in ("valid", "invalid"):
            for entry in data.get(key) or []:
                if isinstance(entry, dict) and entry.get("Name"):
                    names.append(str(entry["Name"]))
        return names

    def exists(self, name: str) -> bool:
        return name in self.profiles()

    def start(
        self,
        name: str,
        *,
        kubernetes_version: str,
        kubeconfig: Path,
        cpus: int | None = None,
        memory_mb: int | None = None,
        on_line: LineCallback | None = None,
        timeout: float = 600,
    ) -> None:
        """``minikube start`` with the docker driver; its progress lines go to ``on_line``."""
        args = ["start", "-p", name, "--driver=docker", f"--kubernetes-version={kubernetes_version}"]
        if cpus is not None:
            args.append(f"--cpus={cpus}")
        if memory_mb is not None:
            args.append(f"--memory={memory_mb}m")
        rc, tail = self._stream(args, kubeconfig, on_line, timeout)
        if rc != 0:
            raise ClusterError(
                f"minikube could not start profile {name!r} (exit {rc})",
                details=tail,
                hint="check `docker info`, free memory and CPUs, and `minikube logs -p " + name + "`",
            )

    def _stream(
        self, args: list[str], kubeconfig: Path, on_line: LineCallback | None, timeout: float
    ) -> tuple[int, list[str]]:
        try:
            proc = subprocess.Popen(
                [str(self.binary), *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                env=self._environ(kubeconfig),
            )
        except FileNotFoundError:
            raise SourceError(
                f"minikube executable not found at {self.binary}",
                hint="install minikube, or set PLATFORMCTL_MINIKUBE=/path/to/minikube",
            ) from None
        rc, tail, timed_out = process.follow(proc, timeout, on_line)
        if timed_out:
            raise ClusterError(
                f"`minikube {' '.join(args[:3])}` did not finish within {timeout:.0f}s", details=tail
            )
        return rc, tail

    def ip(self, name: str) -> str:
        """The node IP of the profile (``minikube ip``), validated as an IP address."""
        res = self._run(["ip", "-p", name])
        value = res.stdout.strip().splitlines()[-1].strip() if res.stdout.strip() else ""
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ClusterError(
                f"`minikube ip -p {name}` gave no IP address (is the profile running?)",
                details=_lines(res.stderr or res.stdout),
                hint=f"start it with `platformctl up`, or check `minikube status -p {name}`",
            ) from None
        return value

    def update_context(self, name: str, kubeconfig: Path) -> None:
        """``minikube update-context``: refresh the profile's server address in ``kubeconfig`` (a private
        file); the docker driver publishes the API server on a new host port after a restart."""
        res = self._run(["update-context", "-p", name], kubeconfig=kubeconfig)
        if res.returncode != 0:
            raise ClusterError(
                f"minikube could not write a kubeconfig for profile {name!r}",
                details=_lines(res.stderr or res.stdout),
            )

    def delete(self, name: str, *, timeout: float = 300) -> None:
        # A private kubeconfig: minikube would otherwise remove the context from the user's file itself.
        with tempfile.TemporaryDirectory(prefix="platformctl-minikube-") as tmp:
            res = self._run(["delete", "-p", name], kubeconfig=Path(tmp) / "kubeconfig", timeout=timeout)
        if res.returncode != 0:
            raise ClusterError(f"minikube could not delete profile {name!r}", details=_lines(res.stderr))
