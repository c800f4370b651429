"""kind, helm and kubectl: found (env override, PATH, cache) or downloaded at the pinned version, verified.

Resolution for each tool (pins in manifests/lock.yaml ``tools``):
  1. ``PLATFORMCTL_KIND`` / ``PLATFORMCTL_HELM`` / ``PLATFORMCTL_KUBECTL``: an explicit binary, used as is
  2. the tool on PATH when ``<tool> version`` reports the pinned version
  3. the cache: ``<cache>/tools/<tool>/<version>/<os>-<arch>/<tool>``
  4. download from the official release location, sha256-verified: against ``lock.tools[x].sha256``
     for the platform when pinned, else against the checksum file the release publishes beside the asset.

Release locations and checksum files (upstream's own install instructions):
  kind    https://kind.sigs.k8s.io/dl/<v>/kind-<os>-<arch>  + ``.sha256sum``  ("<hex>  kind-<os>-<arch>")
          (kind quick start; e.g. ``curl -LO https://kind.sigs.k8s.io/dl/${VERSION}/kind-linux-amd64.sha256sum``)
  helm    https://get.helm.sh/helm-<v>-<os>-<arch>.tar.gz   + ``.sha256sum``; binary at ``<os>-<arch>/helm``
          (helm.sh "From the Binary Releases"; argo-cd hack/installers/add-helm-checksums.sh fetches
          ``https://get.helm.sh/helm-v$1-linux-$arch.tar.gz.sha256sum``)
  kubectl https://dl.k8s.io/release/<v>/bin/<os>/<arch>/kubectl + ``.sha256`` (bare hex)
          (kubernetes.io "Install and Set Up kubectl on Linux": ``curl -LO .../kubectl.sha256``)
  minikube https://storage.googleapis.com/minikube/releases/<v>/minikube-<os>-<arch> + ``.sha256`` (bare
          hex) (kubernetes/minikube release notes, "Distribution": "The direct GCS links are ...
          storage.googleapis.com/minikube/releases/<v>/minikube-linux-amd64"; "Checksums": the release
          publishes ``out/minikube-linux-amd64.sha256`` beside each binary). Only fetched for
          ``cluster.provider: minikube`` (OPTIONAL_TOOLS: ``up``, and `tools install` for that provider
          or as ``tools install minikube``).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from platformctl.drivers.sources import Downloader, default_cache_dir, parse_checksum_file, sha256_file
from platformctl.errors import IntegrityError, SourceError, UsageError
from platformctl.plan.lock import VersionLock
from platformctl.reporting import NullReporter, Reporter

TOOLS: tuple[str, ...] = ("kind", "helm", "kubectl")
# Tools only one provider needs: resolvable by name, but not part of the default `tools` set.
OPTIONAL_TOOLS: tuple[str, ...] = ("minikube",)
ToolSource = Literal["env", "PATH", "cache", "download", "missing"]

DEFAULT_BASES: dict[str, str] = {
    "kind": "https://kind.sigs.k8s.io/dl",
    "helm": "https://get.helm.sh",
    "kubectl": "https://dl.k8s.io/release",
    "minikube": "https://storage.googleapis.com/minikube/releases",
}
# How to ask each tool its own version without a cluster.
VERSION_ARGS: dict[str, tuple[str, ...]] = {
    "kind": ("version",),  # "kind v0.30.0 go1.24.6 linux/amd64"
    "helm": ("version", "--short"),  # "v3.19.0+g3d8990f"
    "kubectl": ("version", "--client", "-o", "json"),  # {"clientVersion": {"gitVersion": "v1.34.5", ...}}
    "minikube": ("version",),  # "minikube version: v1.38.1\ncommit: ..."
}
_SEMVER = re.compile(r"\bv(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)")
_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def env_var(tool: str) -> str:
    return f"PLATFORMCTL_{tool.upper()}"


def platform_key(system: str | None = None, machine: str | None = None) -> str:
    """``<os>-<arch>`` in Go's naming, as release assets use it (linux-amd64, darwin-arm64)."""
    os_name = (system or platform.system()).lower()
    raw = (machine or platform.machine()).lower()
    arch = _GO_ARCH.get(raw)
    if arch is None or os_name not in ("linux", "darwin"):
        raise SourceError(
            f"no pinned tool downloads for {os_name}/{raw}: kind, helm and kubectl are fetched for "
            "linux and darwin on amd64/arm64",
            hint="install them yourself and point PLATFORMCTL_KIND/HELM/KUBECTL at them",
        )
    return f"{os_name}-{arch}"


def parse_version(output: str) -> str | None:
    """The first ``vX.Y.Z`` in a tool's version output, build metadata (``+g3d8990f``) dropped."""
    m = _SEMVER.search(output)
    return f"v{m.group(1)}" if m else None


@dataclass(frozen=True)
class Asset:
    url: str
    checksum_url: str
    archive_member: str | None  # path of the binary inside a .tar.gz, None for a bare binary


def release_asset(tool: str, version: str, plat: str, base: str | None = None) -> Asset:
    b = (base or DEFAULT_BASES[tool]).rstrip("/")
    os_name, arch = plat.split("-", 1)
    if tool == "kind":
        url = f"{b}/{version}/kind-{os_name}-{arch}"
        return Asset(url, url + ".sha256sum", None)
    if tool == "helm":
        url = f"{b}/helm-{version}-{os_name}-{arch}.tar.gz"
        return Asset(url, url + ".sha256sum", f"{os_name}-{arch}/helm")
    if tool == "kubectl":
        url = f"{b}/{version}/bin/{os_name}/{arch}/kubectl"
        return Asset(url, url + ".sha256", None)
    if tool == "minikube":
        url = f"{b}/{version}/minikube-{os_name}-{arch}"
        return Asset(url, url + ".sha256", None)
    raise UsageError(f"unknown tool {tool!r}; known: {', '.join(TOOLS + OPTIONAL_TOOLS)}")


@dataclass(frozen=True)
class ToolInfo:
    name: str
    pinned: str
    path: Path | None
    version: str | None
    source: ToolSource
    note: str = ""

    @property
    def matches(self) -> bool:
        return self.version == self.pinned

    @property
    def usable(self) -> bool:
        return self.path is not None


Runner = Callable[[list[str], float], str]


def run_version(argv: list[str], timeout: float) -> str:
    """stdout+stderr of a version command; empty on failure (reported as 'version unknown')."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (proc.stdout or "") + (proc.stderr or "")


class ToolResolver:
    def __init__(
        self,
        lock: VersionLock,
        *,
        cache_dir: Path | None = None,
        allow_download: bool = True,
        reporter: Reporter | None = None,
        env: Mapping[str, str] | None = None,
        search_path: str | None = None,
        bases: Mapping[str, str] | None = None,
        plat: str | None = None,
        runner: Runner = run_version,
        downloader: Downloader | None = None,
        version_timeout: float = 15.0,
    ) -> None:
        self.lock = lock
        self.env = dict(os.environ if env is None else env)
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir(self.env)
        self.allow_download = allow_download
        self.reporter = reporter or NullReporter()
        self.search_path = search_path if search_path is not None else self.env.get("PATH", os.defpath)
        self.bases = dict(bases or {})
        self._plat = plat
        self.runner = runner
        self.downloader = downloader or Downloader(reporter=self.reporter)
        self.version_timeout = version_timeout

    @property
    def plat(self) -> str:
        if self._plat is None:
            self._plat = platform_key()
        return self._plat

    def pinned(self, tool: str) -> str:
        if tool not in self.lock.tools:
            raise UsageError(f"unknown tool {tool!r}; the lock pins {', '.join(sorted(self.lock.tools))}")
        return self.lock.tools[tool].version

    def version_of(self, tool: str, binary: Path) -> str | None:
        return parse_version(self.runner([str(binary), *VERSION_ARGS[tool]], self.version_timeout))

    def cache_binary(self, tool: str) -> Path:
        return self.cache_dir / "tools" / tool / self.pinned(tool) / self.plat / tool

    def detect(self, tool: str) -> ToolInfo:
        """What would be used right now, without downloading: env → PATH (pinned version) → cache."""
        pinned = self.pinned(tool)
        override = self.env.get(env_var(tool))
        if override:
            p = Path(override)
            if not (p.is_file() and os.access(p, os.X_OK)):
                raise UsageError(
                    f"{env_var(tool)}={override}: not an executable file",
                    hint=f"unset {env_var(tool)} or point it at a {tool} binary",
                )
            ver = self.version_of(tool, p)
            note = "" if ver == pinned else "explicit override, not the pin"
            return ToolInfo(tool, pinned, p, ver, "env", note)
        on_path = shutil.which(tool, path=self.search_path)
        path_info: ToolInfo | None = None
        if on_path:
            ver = self.version_of(tool, Path(on_path))
            path_info = ToolInfo(tool, pinned, Path(on_path), ver, "PATH")
            if ver == pinned:
                return path_info
        cached = self.cache_binary(tool)
        if self.cache_ok(cached):
            return ToolInfo(tool, pinned, cached, self.version_of(tool, cached), "cache")
        if path_info is not None:
            note = "off-pin: `tools install` fetches the pin" if path_info.version else "version unknown"
            return ToolInfo(tool, pinned, path_info.path, path_info.version, "PATH", note)
        return ToolInfo(tool, pinned, None, None, "missing", "not on PATH or in cache")

    def ensure(self, tool: str) -> ToolInfo:
        """A usable binary at the pinned version (downloads when allowed), or an explicit override."""
        info = self.detect(tool)
        if info.source == "env" or (info.usable and info.matches):
            return info
        if not self.allow_download:
            have = f"{info.path} is {info.version or 'of unknown version'}" if info.path else "not found"
            raise SourceError(
                f"{tool} {info.pinned} is needed: {have}, and downloads are disabled (--no-download)",
                hint=f"install {tool} {info.pinned} on PATH, set {env_var(tool)}=/path/to/{tool}, "
                "or allow downloads",
            )
        path = self.download(tool)
        return ToolInfo(tool, info.pinned, path, self.version_of(tool, path), "download")

    def expected_sha256(self, tool: str, asset: Asset) -> str:
        pin = self.lock.tools[tool].sha256.get(self.plat)
        if pin:
            return pin
        text = self.downloader.fetch_text(asset.checksum_url, what=f"{tool} checksum file")
        return parse_checksum_file(text, asset.url.rsplit("/", 1)[-1])

    def download(self, tool: str) -> Path:
        version = self.pinned(tool)
        asset = release_asset(tool, version, self.plat, self.bases.get(tool))
        try:
            digest = self.expected_sha256(tool, asset)
        except SourceError as exc:
            raise SourceError(
                f"cannot verify {tool} {version} (no checksum): {exc.message}",
                hint=f"refusing an unverified binary; install {tool} yourself or set {env_var(tool)}",
            ) from None
        target = self.cache_binary(tool)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cache directory {target.parent}: cannot write there ({exc.strerror or exc}); "
                "set PLATFORMCTL_CACHE_DIR to a writable directory"
            ) from exc
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".dl-") as tmp:
            fetched = self.downloader.download(
                asset.url,
                Path(tmp) / asset.url.rsplit("/", 1)[-1],
                sha256=digest,
                what=f"{tool} {version} ({self.plat})",
            )
            binary = _extract(fetched, asset, Path(tmp) / tool) if asset.archive_member else fetched
            binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            # Remember the binary's own digest so a later cache hit can be re-checked cheaply.
            Path(tmp, tool + ".sha256").write_text(sha256_file(binary) + "\n", encoding="utf-8")
            os.replace(Path(tmp, tool + ".sha256"), target.with_name(tool + ".sha256"))
            os.replace(binary, target)
        return target

    def cache_ok(self, binary: Path) -> bool:
        sums = binary.with_name(binary.name + ".sha256")
        if not (binary.is_file() and sums.is_file() and os.access(binary, os.X_OK)):
            return False
        return sums.read_text(encoding="utf-8").strip() == sha256_file(binary)


def _extract(archive: Path, asset: Asset, dest: Path) -> Path:
    member = asset.archive_member
    assert member is not None
    with tarfile.open(archive, "r:gz") as tf:
        try:
            info = tf.getmember(member)
        except KeyError:
            raise IntegrityError(
                f"{asset.url}: verified archive has no {member}",
                details=[f"members: {', '.join(tf.getnames()[:10])}"],
            ) from None
        src = tf.extractfile(info)
        if src is None or not info.isfile():
            raise IntegrityError(f"{asset.url}: {member} is not a regular file")
        with src, dest.open("wb") as out:
            shutil.copyfileobj(src, out)
    return dest


def cached_tool(tool: str, *, cache_dir: Path | None = None, lock: VersionLock | None = None) -> Path | None:
    """The pinned ``tool`` from the cache (put there by `platformctl tools install`), if present and intact.

    No PATH lookup, no subprocess, no network: for drivers that only need a fallback location.
    """
    from platformctl.plan.lock import load_lock

    try:
        resolver = ToolResolver(lock or load_lock(), cache_dir=cache_dir)
        binary = resolver.cache_binary(tool)
    except (SourceError, UsageError):
        return None
    return binary if resolver.cache_ok(binary) else None


def require_tool(
    name: str, *, allow_download: bool, reporter: Reporter | None = None, lock: VersionLock | None = None
) -> Path:
    """The pinned tool via the resolver: $PLATFORMCTL_<TOOL> → PATH at the pinned version → cache →
    sha256-verified download (when allowed). Without downloads an off-pin binary on PATH is still used
    (detect), so read-only commands work wherever the tool is installed."""
    from platformctl.plan.lock import load_lock

    resolver = ToolResolver(lock or load_lock(), allow_download=allow_download, reporter=reporter)
    info = resolver.ensure(name) if allow_download else resolver.detect(name)
    if info.path is None:
        raise SourceError(
            f"{name} {info.pinned} not found (not on PATH, not in the cache)",
            hint=f"run `platformctl tools install`, or set PLATFORMCTL_{name.upper()}=/path/to/{name}",
        )
    return info.path
