"""`platformctl doctor`: can this machine run the platform? A verdict (ok/warn/fail) and a fix per check.

Every probe is injectable (Docker client, resolver, /proc/sys root, tool resolver, OS/arch) so each
check is tested under controlled conditions. Nothing here prints; the CLI renders the results.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from platformctl.drivers import system as host
from platformctl.drivers.docker import DockerClient, publisher_of
from platformctl.drivers.tools import TOOLS, ToolResolver, env_var, platform_key
from platformctl.errors import PlatformError
from platformctl.plan.lock import VersionLock, load_lock
from platformctl.plan.spec import PlatformSpec

Verdict = Literal["ok", "warn", "fail"]

MIN_MEMORY = 8 * 1024**3  # bytes available to Docker before we warn
MIN_CPUS = 4
# kind known issue "Pod errors due to too many open files":
# https://kind.sigs.k8s.io/docs/user/known-issues/#pod-errors-due-to-too-many-open-files
INOTIFY_MIN: dict[str, int] = {
    "fs.inotify.max_user_watches": 524288,
    "fs.inotify.max_user_instances": 512,
}
KIND_INOTIFY_DOC = "https://kind.sigs.k8s.io/docs/user/known-issues/#pod-errors-due-to-too-many-open-files"


@dataclass(frozen=True)
class CheckResult:
    name: str
    verdict: Verdict
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DoctorProbes:
    """What doctor looks at. Defaults are the real host; tests replace any of them."""

    docker: DockerClient | None = None
    resolver: host.Resolver | None = None  # None: the system resolver
    sysctl_root: Path = Path("/proc/sys")
    tools: ToolResolver | None = None
    system: str = field(default_factory=host.host_system)
    machine: str = field(default_factory=host.host_machine)
    port_check: Callable[[str, int], host.PortStatus] = host.port_status
    port_owner: Callable[[int], str | None] = host.port_owner
    dns_label: Callable[[], str] = lambda: f"doctor-check-{secrets.token_hex(3)}"


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB"


def check_docker(
    probes: DoctorProbes,
) -> tuple[list[CheckResult], dict[str, Any] | None, DockerClient | None]:
    try:
        client = probes.docker or DockerClient()
        version = client.version()
        info = client.info()
    except PlatformError as exc:
        return (
            [CheckResult("docker", "fail", exc.message, exc.hint or "start Docker")],
            None,
            None,
        )
    ver = version.get("Version", "?")
    api = version.get("ApiVersion", "?")
    ostype = info.get("OSType") or version.get("Os") or "?"
    results = [
        CheckResult("docker", "ok", f"Docker {ver} (API {api}, {ostype}) at {client.endpoint.host}"),
    ]
    if ostype not in ("linux", "?"):
        results[0] = CheckResult(
            "docker",
            "fail",
            f"Docker {ver} runs {ostype} containers; kind needs Linux containers",
            "switch Docker to Linux containers",
        )
    mem = info.get("MemTotal")
    cpus = info.get("NCPU")
    problems: list[str] = []
    if isinstance(mem, int) and mem < MIN_MEMORY:
        problems.append(f"memory {_gib(mem)} < 8 GiB")
    if isinstance(cpus, int) and cpus < MIN_CPUS:
        problems.append(f"CPUs {cpus} < {MIN_CPUS}")
    have = f"{_gib(mem) if isinstance(mem, int) else '? GiB'}, {cpus if isinstance(cpus, int) else '?'} CPUs"
    if problems:
        results.append(
            CheckResult(
                "docker-resources",
                "warn",
                f"Docker has {have}: " + "; ".join(problems) + " (the full platform may not schedule)",
                "give Docker ≥ 8 GiB and ≥ 4 CPUs (Docker Desktop: Settings → Resources), or disable "
                "components: --set components.kserve.enabled=false",
            )
        )
    else:
        results.append(CheckResult("docker-resources", "ok", f"Docker has {have}"))
    return results, info, client


def check_tools(probes: DoctorProbes, lock: VersionLock, names: tuple[str, ...] = TOOLS) -> list[CheckResult]:
    resolver = probes.tools or ToolResolver(lock)
    out: list[CheckResult] = []
    for name in names:
        try:
            info = resolver.detect(name)
        except PlatformError as exc:
            out.append(CheckResult(f"tool:{name}", "fail", exc.message, exc.hint or ""))
            continue
        if info.usable and info.matches:
            out.append(
                CheckResult(f"tool:{name}", "ok", f"{name} {info.version} ({info.source}: {info.path})")
            )
            continue
        if info.source == "env":
            out.append(
                CheckResult(
                    f"tool:{name}",
                    "warn",
                    f"{env_var(name)}={info.path} is {info.version or 'of unknown version'}, "
                    f"pinned {info.pinned}",
                    f"unset {env_var(name)} to use the pinned {name}",
                )
            )
            continue
        have = f"{info.path} is {info.version or 'of unknown version'}" if info.path else "not found"
        if not resolver.allow_download:
            out.append(
                CheckResult(
                    f"tool:{name}",
                    "fail",
                    f"{name} {info.pinned} needed: {have}, downloads disabled",
                    f"install {name} {info.pinned} on PATH or set {env_var(name)}",
                )
            )
            continue
        try:
            plat = resolver.plat
        except PlatformError as exc:
            out.append(CheckResult(f"tool:{name}", "fail", f"{have}; {exc.message}", exc.hint or ""))
            continue
        out.append(
            CheckResult(
                f"tool:{name}",
                "warn",
                f"{have}; `platformctl tools install` fetches {name} {info.pinned} ({plat}), sha256-verified",
                f"run `platformctl tools install` while online, or put {name} {info.pinned} on PATH",
            )
        )
    return out


def check_ports(
    spec: PlatformSpec, probes: DoctorProbes, containers: list[dict[str, Any]] | None
) -> list[CheckResult]:
    from platformctl.providers import publishes_host_ports

    c = spec.cluster
    if not publishes_host_ports(c.provider):
        return [CheckResult("ports", "ok", f"not needed: cluster.provider is {c.provider!r}")]
    out: list[CheckResult] = []
    for label, port in (("http", c.http_port), ("https", c.https_port)):
        st = probes.port_check(c.listen_address, port)
        name = f"port:{port}"
        if st.free:
            out.append(CheckResult(name, "ok", f"{label}: {st.detail}"))
            continue
        owner = publisher_of(containers or [], port)
        if owner == f"{c.name}-control-plane":
            out.append(CheckResult(name, "ok", f"{label}: published by this platform's kind node {owner}"))
            continue
        who = f"container {owner}" if owner else probes.port_owner(port)
        out.append(
            CheckResult(
                name,
                "fail",
                f"{label}: {host.port_taken(c.listen_address, port, who)} ({st.detail})",
                host.port_fix(port, label),
            )
        )
    return out


def check_minikube_resources(spec: PlatformSpec, docker_info: dict[str, Any] | None) -> CheckResult | None:
    """minikube's docker driver cannot give a profile more CPUs or memory than Docker has."""
    c = spec.cluster
    if c.provider != "minikube" or docker_info is None:
        return None
    have_cpus, have_mem = docker_info.get("NCPU"), docker_info.get("MemTotal")
    problems: list[str] = []
    if c.cpus is not None and isinstance(have_cpus, int) and c.cpus > have_cpus:
        problems.append(f"cluster.cpus {c.cpus} > Docker's {have_cpus} CPUs")
    if c.memory_mb is not None and isinstance(have_mem, int) and c.memory_mb * 1024**2 > have_mem:
        problems.append(f"cluster.memory_mb {c.memory_mb} > Docker's {have_mem // 1024**2} MiB")
    if problems:
        return CheckResult(
            "minikube-resources",
            "fail",
            "; ".join(problems) + ": `minikube start` would refuse",
            "lower cluster.cpus/memory_mb, or give Docker more (Docker Desktop: Settings → Resources)",
        )
    asked = f"{c.cpus or 'default'} CPUs, {c.memory_mb or 'default'} MiB"
    return CheckResult("minikube-resources", "ok", f"profile asks {asked}; Docker can give it")


def _embedded_ip(domain: str) -> str | None:
    # drivers/http.py owns the sslip.io/nip.io parsing (dotted, dashed and IPv6 forms).
    from platformctl.drivers.http import resolve_magic_dns

    return resolve_magic_dns(domain)


def check_dns(spec: PlatformSpec, probes: DoctorProbes) -> CheckResult:
    fqdn = f"{probes.dns_label()}.{spec.domain}"
    expected = _embedded_ip(fqdn)
    addrs = (probes.resolver or host.system_resolver)(fqdn)
    if expected is not None:
        if expected in addrs:
            return CheckResult("dns", "ok", f"{fqdn} resolves to {expected}")
        got = ", ".join(addrs) if addrs else "nothing"
        return CheckResult(
            "dns",
            "warn",
            f"{fqdn} resolves to {got}, expected {expected}: magic DNS is blocked here "
            "(router DNS-rebinding protection, VPN or corporate resolver)",
            "browsers/curl need another resolver (e.g. 1.1.1.1) or an /etc/hosts entry; platformctl's own "
            "smoke tests still work (they resolve sslip.io names locally)",
        )
    if addrs:
        return CheckResult(
            "dns", "ok", f"{fqdn} resolves to {', '.join(addrs)} (wildcard DNS for {spec.domain})"
        )
    return CheckResult(
        "dns",
        "warn",
        f"{fqdn} does not resolve: no wildcard DNS record for *.{spec.domain}",
        f"create a wildcard record *.{spec.domain} pointing at your gateway's address",
    )


def check_inotify(probes: DoctorProbes, docker_info: dict[str, Any] | None) -> CheckResult:
    if probes.system != "Linux":
        return CheckResult(
            "inotify",
            "ok",
            f"not checked on {probes.system}: the limits that matter are inside Docker's Linux VM",
        )
    low: list[str] = []
    seen: list[str] = []
    for key, minimum in INOTIFY_MIN.items():
        value = host.read_sysctl(key, probes.sysctl_root)
        if value is None:
            continue
        seen.append(f"{key}={value}")
        if value < minimum:
            low.append(f"{key}={value} < {minimum}")
    if not seen:
        return CheckResult("inotify", "warn", "could not read fs.inotify sysctls", f"see {KIND_INOTIFY_DOC}")
    if low:
        sets = " ".join(f"{k}={v}" for k, v in INOTIFY_MIN.items())
        return CheckResult(
            "inotify",
            "warn",
            "; ".join(low) + ": pods may fail with 'too many open files' (kind known issue)",
            f"sudo sysctl {sets} (persist in /etc/sysctl.d/); {KIND_INOTIFY_DOC}",
        )
    return CheckResult("inotify", "ok", ", ".join(seen))


def check_arch(probes: DoctorProbes, docker_info: dict[str, Any] | None) -> CheckResult:
    machine = str((docker_info or {}).get("Architecture") or probes.machine)
    try:
        plat = platform_key(probes.system, machine)
    except PlatformError:
        return CheckResult(
            "arch",
            "warn",
            f"{probes.system}/{machine}: not a platform platformctl is tested on (linux/darwin, amd64/arm64)",
            "use an amd64 or arm64 machine",
        )
    if plat.endswith("arm64"):
        return CheckResult(
            "arch",
            "ok",
            f"{plat}: images without an arm64 build fail with 'exec format error' (the conference app "
            "images are multi-arch)",
            "if a pod shows 'exec format error', that image has no arm64 build",
        )
    return CheckResult("arch", "ok", plat)


def run_doctor(
    spec: PlatformSpec | None = None,
    *,
    lock: VersionLock | None = None,
    probes: DoctorProbes | None = None,
) -> list[CheckResult]:
    """Every check, in a stable order. Never raises for a failing check: see the verdicts."""
    sp = spec or PlatformSpec()
    pr = probes or DoctorProbes()
    lk = lock or load_lock()
    from platformctl import providers

    results, info, client = check_docker(pr)
    if not providers.manages_cluster(sp.cluster.provider) and results[0].verdict == "fail":
        # Docker only hosts the clusters platformctl creates (kind, minikube's docker driver).
        results = [CheckResult("docker", "ok", f"not needed: cluster.provider is {sp.cluster.provider!r}")]
    containers: list[dict[str, Any]] | None = None
    if client is not None:
        try:
            containers = client.containers()
        except PlatformError:
            containers = None
    extra = tuple(t for t in providers.tools(sp.cluster.provider) if t not in TOOLS)
    results.extend(check_tools(pr, lk, TOOLS + extra))
    results.extend(check_ports(sp, pr, containers))
    minikube = check_minikube_resources(sp, info)
    if minikube is not None:
        results.append(minikube)
    results.append(check_dns(sp, pr))
    results.append(check_inotify(pr, info))
    results.append(check_arch(pr, info))
    return results


def exit_verdict(results: list[CheckResult]) -> Verdict:
    if any(r.verdict == "fail" for r in results):
        return "fail"
    if any(r.verdict == "warn" for r in results):
        return "warn"
    return "ok"
