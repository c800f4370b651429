"""Offline bundles: every pinned file of manifests/lock.yaml in ``<component>/<version>/<file>`` layout,
and every pinned Helm chart archive in ``charts/<chart>-<version>.tgz``; for the minikube provider also
its binary under ``tools/`` (usecases/bundle_tools.py).

``create_bundle`` fills a directory (from a source bundle, the cache or the pinned URLs, all verified);
``verify_bundle`` checks one: each file present, size and sha256 equal to the pin; each chart archive's
sha256 one the lock accepts (drivers/charts.py; an archive verified against its repository's index.yaml
carries that digest in ``<archive>.sha256``). The layout is the one ``--manifests-dir`` reads, so a
verified bundle makes ``up`` work without network access and without ``--charts-dir``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from platformctl import reporting
from platformctl.drivers.sources import SourceResolver, sha256_file
from platformctl.errors import IntegrityError, SourceError, UsageError
from platformctl.plan.lock import ChartPin, PinnedFile, VersionLock, load_lock
from platformctl.reporting import NullReporter, Reporter

if TYPE_CHECKING:
    from collections.abc import Sequence

    from platformctl.drivers.tools import ToolResolver

FileStatus = Literal["ok", "added", "missing", "size-mismatch", "sha256-mismatch", "error"]
GOOD: frozenset[str] = frozenset({"ok", "added"})


@dataclass(frozen=True)
class BundleFile:
    component: str
    path: str
    status: FileStatus
    expected_size: int | None  # None for chart archives: the lock pins their digest, not their size
    expected_sha256: str
    actual_size: int | None = None
    actual_sha256: str | None = None
    message: str = ""

    @property
    def good(self) -> bool:
        return self.status in GOOD


@dataclass
class BundleReport:
    directory: Path
    files: list[BundleFile] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.good for f in self.files)

    @property
    def bad(self) -> list[BundleFile]:
        return [f for f in self.files if not f.good]

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "files": [asdict(f) for f in self.files],
        }


def check_file(directory: Path, component: str, pinned: PinnedFile) -> BundleFile:
    """One file of a bundle against its pin: present, size, sha256."""
    path = directory / pinned.path
    base = {
        "component": component,
        "path": pinned.path,
        "expected_size": pinned.size,
        "expected_sha256": pinned.sha256,
    }
    if not path.is_file():
        return BundleFile(status="missing", message=f"{path} does not exist", **base)  # type: ignore[arg-type]
    size = path.stat().st_size
    digest = sha256_file(path)
    if size != pinned.size:
        return BundleFile(
            status="size-mismatch",
            actual_size=size,
            actual_sha256=digest,
            message=f"{size} bytes, pinned {pinned.size}",
            **base,  # type: ignore[arg-type]
        )
    if digest != pinned.sha256:
        return BundleFile(
            status="sha256-mismatch",
            actual_size=size,
            actual_sha256=digest,
            message=f"sha256 {digest}, pinned {pinned.sha256}",
            **base,  # type: ignore[arg-type]
        )
    return BundleFile(status="ok", actual_size=size, actual_sha256=digest, **base)  # type: ignore[arg-type]


def _selected(lock: VersionLock, components: list[str] | None) -> list[tuple[str, PinnedFile]]:
    files = lock.all_files()
    if not components:
        return files
    unknown = sorted(set(components) - set(lock.components))
    if unknown:
        raise UsageError(
            f"--component {unknown[0]!r}: not in the version lock; "
            f"pinned: {', '.join(sorted(lock.components))}"
        )
    return [(c, f) for c, f in files if c in components]


def _selected_charts(lock: VersionLock, components: list[str] | None) -> list[tuple[str, str, ChartPin]]:
    return [(c, n, p) for c, n, p in lock.all_charts() if not components or c in components]


def chart_path(pin: ChartPin, name: str) -> str:
    from platformctl.drivers.charts import archive_name

    return f"charts/{archive_name(name, pin.version)}"


def check_chart(directory: Path, component: str, name: str, pin: ChartPin) -> BundleFile:
    """One chart archive of a bundle: present, and its sha256 one the lock (or its record) accepts."""
    from platformctl.drivers.charts import ChartResolver

    rel = chart_path(pin, name)
    path = directory / rel
    # The cache is not consulted: a bundle must verify on its own (cache_dir points inside it).
    resolver = ChartResolver(bundle_dir=directory, cache_dir=directory / ".no-cache", allow_download=False)
    accepted = resolver.accepted(pin, name, bundle=True)
    expected = ", ".join(accepted) or "(none pinned)"
    base: dict[str, Any] = {
        "component": component,
        "path": rel,
        "expected_size": None,
        "expected_sha256": expected,
    }
    if not path.is_file():
        return BundleFile(status="missing", message=f"{path} does not exist", **base)
    size = path.stat().st_size
    digest = sha256_file(path)
    if digest not in accepted:
        return BundleFile(
            status="sha256-mismatch",
            actual_size=size,
            actual_sha256=digest,
            message=f"sha256 {digest}, accepted {expected}",
            **base,
        )
    return BundleFile(status="ok", actual_size=size, actual_sha256=digest, **base)


def _add_chart(
    directory: Path, component: str, name: str, pin: ChartPin, resolver: Any, rep: Reporter
) -> BundleFile:
    """Copy the verified archive of ``name`` into the bundle (with its index digest when not pinned)."""
    existing = check_chart(directory, component, name, pin)
    if existing.good:
        return existing
    rel = chart_path(pin, name)
    try:
        src = resolver.resolve(pin, name)
        if src.is_dir():
            raise SourceError(f"{src}: a bundle holds chart archives; give the .tgz, not a directory")
        digest = sha256_file(src)
        dest = directory / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        record = dest.with_name(dest.name + ".sha256")
        if digest in pin.known_digests(name):
            record.unlink(missing_ok=True)
        else:  # verified against the repository's index.yaml at download: keep that digest with it
            _copy_atomic_bytes(record, (digest + "\n").encode("ascii"))
        _copy_atomic(src, dest)
        final = check_chart(directory, component, name, pin)
        return final if not final.good else _as_added(final)
    except (IntegrityError, SourceError) as exc:
        reporting.fail(rep, f"bundle {rel}", exc.message)
        return BundleFile(
            component=component,
            path=rel,
            status="error",
            expected_size=None,
            expected_sha256=", ".join(pin.known_digests(name)) or "(index.yaml digest)",
            message=exc.message,
        )


def _copy_atomic(src: Path, dest: Path) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_atomic_bytes(dest: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp_name, dest)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def verify_bundle(
    directory: Path,
    *,
    lock: VersionLock | None = None,
    components: list[str] | None = None,
    reporter: Reporter | None = None,
) -> BundleReport:
    """Check every pinned file in ``directory``. Never raises for bad files: see ``report.bad``."""
    if not directory.is_dir():
        raise UsageError(f"bundle directory {directory} does not exist or is not a directory")
    rep = reporter or NullReporter()
    report = BundleReport(directory=directory)
    lk = lock or load_lock()
    results = [check_file(directory, component, pinned) for component, pinned in _selected(lk, components)]
    results += [check_chart(directory, c, n, p) for c, n, p in _selected_charts(lk, components)]
    for result in results:
        report.files.append(result)
        if result.good:
            reporting.finish(rep, f"verify {result.path}", "ok")
        else:
            reporting.fail(rep, f"verify {result.path}", f"{result.status}: {result.message}")
    # issue 11: image archives (images/manifest.json), when the bundle carries them.
    if not components:
        from platformctl.usecases.bundle_images import verify_images
        from platformctl.usecases.bundle_tools import verify_tools

        report.files.extend(verify_images(directory))
        report.files.extend(verify_tools(directory))  # tools/: the provider's binaries (minikube)
    return report


def create_bundle(
    directory: Path,
    *,
    lock: VersionLock | None = None,
    components: list[str] | None = None,
    source_dir: Path | None = None,
    cache_dir: Path | None = None,
    mirror: str | None = None,
    allow_download: bool = True,
    reporter: Reporter | None = None,
    tools: Sequence[str] = (),
    tool_resolver: ToolResolver | None = None,
) -> BundleReport:
    """Fill ``directory`` with every pinned file, verified; files already there and correct are kept.
    ``tools``: pinned tool binaries to add under ``tools/`` (usecases/bundle_tools.py).

    A file that cannot be obtained or fails verification is reported (status ``error``) and the rest
    are still fetched, so one run shows everything that is wrong.
    """
    rep = reporter or NullReporter()
    lk = lock or load_lock()
    resolver = SourceResolver(
        lk,
        manifests_dir=source_dir,
        cache_dir=cache_dir,
        allow_download=allow_download,
        reporter=rep,
        base_url_override=mirror,
    )
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"bundle {directory}: is a file; give a directory (created if missing)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        # Probe writability up front: one clear line instead of a failure per file.
        probe_fd, probe = tempfile.mkstemp(prefix=".probe-", dir=directory)
        os.close(probe_fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(
            f"bundle {directory}: cannot write there ({exc.strerror or exc}); choose a writable DIR"
        ) from exc
    report = BundleReport(directory=directory)
    for component, pinned in _selected(lk, components):
        existing = check_file(directory, component, pinned)
        if existing.good:
            report.files.append(existing)
            continue
        try:
            src = resolver.fetch(pinned)
            dest = directory / pinned.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            _copy_atomic(src, dest)
            # Re-check the copy itself: the bundle must hold exactly the pinned bytes.
            final = check_file(directory, component, pinned)
            report.files.append(final if not final.good else _as_added(final))
        except (IntegrityError, SourceError) as exc:
            report.files.append(
                BundleFile(
                    component=component,
                    path=pinned.path,
                    status="error",
                    expected_size=pinned.size,
                    expected_sha256=pinned.sha256,
                    message=exc.message,
                )
            )
            reporting.fail(rep, f"bundle {pinned.path}", exc.message)
    from platformctl.drivers.charts import ChartResolver
    from platformctl.drivers.sources import default_cache_dir

    charts = ChartResolver(
        bundle_dir=source_dir,
        cache_dir=cache_dir if cache_dir is not None else default_cache_dir(),
        allow_download=allow_download,
        reporter=rep,
        mirror=resolver.base_url_override,
    )
    for component, name, pin in _selected_charts(lk, components):
        report.files.append(_add_chart(directory, component, name, pin, charts, rep))
    if tools:
        from platformctl.drivers.tools import ToolResolver
        from platformctl.usecases.bundle_tools import add_tools

        resolver_t = tool_resolver or ToolResolver(
            lk, cache_dir=cache_dir, allow_download=allow_download, reporter=rep
        )
        report.files.extend(add_tools(directory, tools, resolver_t, rep))
    _write_sums(directory, report)
    return report


def _as_added(f: BundleFile) -> BundleFile:
    return BundleFile(**{**asdict(f), "status": "added"})


def _write_sums(directory: Path, report: BundleReport) -> None:
    """SHA256SUMS beside the files, so `sha256sum -c SHA256SUMS` works without platformctl."""
    from platformctl.usecases.bundle_images import IMAGES_DIR, sums_lines

    lines = [
        f"{f.actual_sha256 or f.expected_sha256}  ./{f.path}\n"
        for f in sorted(report.files, key=lambda f: f.path)
        if f.good and not f.path.startswith(f"{IMAGES_DIR}/")
    ]
    lines += sums_lines(directory)  # issue 11: the image archives listed in images/manifest.json
    (directory / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")


def write_sums(directory: Path, report: BundleReport) -> None:
    """Rewrite SHA256SUMS after more files were added (``bundle --images``)."""
    _write_sums(directory, report)
