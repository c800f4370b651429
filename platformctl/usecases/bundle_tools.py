"""Tool binaries in an offline bundle: ``tools/<tool>/<version>/<os>-<arch>/<tool>`` plus ``<tool>.sha256``.

The layout is the tool cache's (drivers/tools.py ``ToolResolver.cache_binary``). ``up --manifests-dir
DIR`` seeds the cache from the bundle (``seed_cache``: each pinned binary for this OS/arch, checked
against its recorded digest, copied where the cache lacks an intact one), so the offline machine uses
it; the resolver re-checks the digest on every use. Which tools a bundle carries:
``usecases.tools.bundle_tools`` (minikube for ``cluster.provider: minikube``; kind, helm and kubectl
with ``bundle --tools``).

A binary gets into the bundle only through the resolver's verified path: the cache when its entry is
intact, else the pinned release downloaded and checked against the lock's sha256 or the release's own
checksum file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from platformctl import reporting
from platformctl.drivers.sources import sha256_file
from platformctl.drivers.tools import ToolResolver
from platformctl.errors import IntegrityError, SourceError, UsageError
from platformctl.reporting import NullReporter, Reporter
from platformctl.usecases.bundle import BundleFile, FileStatus

TOOLS_DIR = "tools"
COMPONENT = "tools"


def tool_path(resolver: ToolResolver, tool: str) -> str:
    """``tools/<tool>/<version>/<os>-<arch>/<tool>``: the binary's path inside a bundle."""
    return resolver.cache_binary(tool).relative_to(resolver.cache_dir).as_posix()


def _verified_cache_binary(resolver: ToolResolver, tool: str) -> Path:
    binary = resolver.cache_binary(tool)
    if resolver.cache_ok(binary):
        return binary
    if not resolver.allow_download:
        raise SourceError(
            f"{tool} {resolver.pinned(tool)} is not in the cache ({binary}), and downloads are disabled "
            "(--no-download)",
            hint=f"run `platformctl tools install {tool}` while online, or allow downloads",
        )
    return resolver.download(tool)


def _copy_binary(src: Path, dest: Path, sha256: str) -> None:
    """``src`` to ``dest`` (mode 0755) through a temp file beside it, with ``sha256`` in
    ``<dest>.sha256``: the digest first, then the binary, so a crash in between leaves no entry that
    passes the digest check. IntegrityError when the copied bytes are not ``sha256``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp_name)
        os.chmod(tmp_name, 0o755)
        if sha256_file(Path(tmp_name)) != sha256:
            raise IntegrityError(f"{src} changed while it was copied to {dest}")
        dest.with_name(dest.name + ".sha256").write_text(sha256 + "\n", encoding="utf-8")
        os.replace(tmp_name, dest)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def check_tool(directory: Path, path: str) -> BundleFile:
    """One bundled binary against the digest recorded beside it (``<tool>.sha256``)."""
    binary = directory / path
    sums = binary.with_name(binary.name + ".sha256")
    if not binary.is_file() or not sums.is_file():
        missing = binary if not binary.is_file() else sums
        return BundleFile(COMPONENT, path, "missing", None, "", message=f"{missing.name} is missing")
    expected = sums.read_text(encoding="utf-8").strip()
    actual = sha256_file(binary)
    status: FileStatus = "ok" if actual == expected else "sha256-mismatch"
    return BundleFile(
        COMPONENT,
        path,
        status,
        None,
        expected,
        actual_size=binary.stat().st_size,
        actual_sha256=actual,
        message="" if status == "ok" else f"sha256 {actual} is not {expected} ({sums.name})",
    )


def add_tools(
    directory: Path, tools: Sequence[str], resolver: ToolResolver, reporter: Reporter | None = None
) -> list[BundleFile]:
    """Copy each tool's verified pinned binary into the bundle; a tool that cannot be had is an error row."""
    rep = reporter or NullReporter()
    out: list[BundleFile] = []
    for tool in tools:
        path = tool_path(resolver, tool)
        existing = check_tool(directory, path)
        if existing.good:
            out.append(existing)
            continue
        try:
            src = _verified_cache_binary(resolver, tool)
            _copy_binary(src, directory / path, sha256_file(src))
            final = check_tool(directory, path)
            out.append(replace(final, status="added") if final.good else final)
            reporting.finish(rep, f"bundle {path}", "added")
        except (IntegrityError, SourceError, UsageError) as exc:
            out.append(BundleFile(COMPONENT, path, "error", None, "", message=exc.message))
            reporting.fail(rep, f"bundle {path}", exc.message)
    return out


def verify_tools(directory: Path) -> list[BundleFile]:
    """Every binary under the bundle's ``tools/`` (none when the bundle carries no tools)."""
    root = directory / TOOLS_DIR
    if not root.is_dir():
        return []
    found = sorted(
        p.relative_to(directory).as_posix()
        for p in root.glob("*/*/*/*")
        if p.is_file() and not p.name.endswith(".sha256") and not p.name.startswith(".")
    )
    return [check_tool(directory, path) for path in found]


def seed_cache(directory: Path, resolver: ToolResolver, reporter: Reporter | None = None) -> list[str]:
    """Copy the bundle's pinned binaries for this OS/arch into the tool cache where it lacks an intact
    one; the tools copied. A bundled binary that does not match its recorded digest is refused
    (IntegrityError, exit 3) before anything uses it. Binaries of other versions or platforms are
    left alone (the resolver would not use them)."""
    rep = reporter or NullReporter()
    seeded: list[str] = []
    if not (directory / TOOLS_DIR).is_dir():
        return seeded
    for tool in sorted(resolver.lock.tools):
        path = tool_path(resolver, tool)
        if not (directory / path).is_file():
            continue
        checked = check_tool(directory, path)
        if not checked.good:
            raise IntegrityError(
                f"bundle {directory}: {path}: {checked.message}",
                hint=f"re-create the bundle with `platformctl bundle {directory} --tools` on a connected "
                "machine, or check it with `platformctl bundle --verify`",
            )
        target = resolver.cache_binary(tool)
        if resolver.cache_ok(target):
            continue
        try:
            _copy_binary(directory / path, target, checked.expected_sha256)
        except OSError as exc:
            raise UsageError(
                f"tool cache {target.parent}: cannot write there ({exc.strerror or exc}); "
                "set PLATFORMCTL_CACHE_DIR to a writable directory"
            ) from exc
        seeded.append(tool)
        reporting.log(rep, "tools", f"{tool} {resolver.pinned(tool)} from the bundle into {target.parent}")
    return seeded
