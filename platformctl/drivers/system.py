"""Host facts for `doctor`: listening ports, name resolution, sysctls, OS and CPU architecture.

Each function takes what it inspects as parameters (address/port, resolver, /proc/sys root) so tests
can use high ports, a fake resolver and a temp directory instead of the real host.
"""

from __future__ import annotations

import errno
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Resolver = Callable[[str], list[str]]


@dataclass(frozen=True)
class PortStatus:
    free: bool
    detail: str


def port_status(address: str, port: int, *, timeout: float = 0.5) -> PortStatus:
    """Whether ``address:port`` can be published: nothing accepts connections and a bind would succeed."""
    probe = "127.0.0.1" if address in ("0.0.0.0", "") else ("::1" if address == "::" else address)
    family = socket.AF_INET6 if ":" in probe else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        if s.connect_ex((probe, port)) == 0:
            return PortStatus(False, f"something is listening on {address}:{port}")
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR: a port in TIME_WAIT is still bindable by Docker, so do not report it as taken.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return PortStatus(False, f"{address}:{port} is already bound by another process")
            if exc.errno == errno.EACCES:
                # Privileged port and we are not root: Docker binds it, not us. Nobody listens: free.
                return PortStatus(True, f"{address}:{port} is free (privileged port; Docker binds it)")
            if exc.errno == errno.EADDRNOTAVAIL:
                return PortStatus(False, f"{address} is not an address of this host")
            return PortStatus(False, f"cannot bind {address}:{port}: {exc.strerror or exc}")
    return PortStatus(True, f"{address}:{port} is free")


def system_resolver(host: str) -> list[str]:
    """Addresses ``host`` resolves to through the system resolver (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in out:
            out.append(addr)
    return out


def read_sysctl(name: str, root: Path = Path("/proc/sys")) -> int | None:
    """An integer sysctl such as ``fs.inotify.max_user_watches``; None when absent (not Linux)."""
    try:
        return int((root / name.replace(".", "/")).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def host_system() -> str:
    return platform.system()


def host_machine() -> str:
    return platform.machine()


def port_owner(port: int, proc_root: Path = Path("/proc")) -> str | None:
    """``pid N (command)`` of the process listening on TCP ``port``, where the OS lets us see it.

    Linux only: the listening socket's inode from ``/proc/net/tcp`` and ``tcp6`` (state 0A is LISTEN;
    columns per proc(5) "/proc/net/tcp"), then the process holding ``socket:[inode]`` among
    ``/proc/<pid>/fd``. Another user's processes (root's, Docker's proxy) are not readable without
    privileges: then None, and the caller says only that the port is taken.
    """
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc_root / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10 or cols[3] != "0A":
                continue
            local_port = cols[1].rsplit(":", 1)[-1]
            try:
                if int(local_port, 16) == port:
                    inodes.add(cols[9])
            except ValueError:
                continue
    inodes.discard("0")
    if not inodes:
        return None
    wanted = {f"socket:[{i}]" for i in inodes}
    try:
        pids = [p for p in proc_root.iterdir() if p.name.isdigit()]
    except OSError:
        return None
    for pid_dir in pids:
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = str(fd.readlink())
            except OSError:
                continue
            if target in wanted:
                try:
                    comm = (pid_dir / "comm").read_text().strip()
                except OSError:
                    comm = "?"
                return f"pid {pid_dir.name} ({comm})"
    return None


def port_taken(address: str, port: int, who: str | None = None) -> str:
    """The one line for a host port that is in use, from preflight or from kind's own error."""
    return f"port {port} on {address} is already in use{' by ' + who if who else ''}"


def port_fix(port: int, label: str | None = None) -> str:
    key = f"cluster.{label}_port" if label else "cluster.http_port / cluster.https_port"
    return f"stop what uses port {port}, or pick another: --set {key}=<free port>"
