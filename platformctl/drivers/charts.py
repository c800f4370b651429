"""Verified Helm chart archives: every chart helm renders is a file whose sha256 was checked first.

Resolution order for chart ``<name>`` of a ``ChartPin`` (manifests/lock.yaml), first hit wins:
  1. ``--charts-dir DIR``: ``DIR/<name>-<version>.tgz`` (or an unpacked ``DIR/<name>/``, never verifiable)
  2. offline bundle ``--manifests-dir DIR``: ``DIR/charts/<name>-<version>.tgz`` (``platformctl bundle``)
  3. cache: ``<cache>/charts/<sha256>/<name>-<version>.tgz``
  4. download: ``<repo>/<name>-<version>.tgz`` when the lock pins the published digest, else the URL and
     digest the repository's ``index.yaml`` lists for that version (the digest is then recorded in
     ``<cache>/charts/index/<repo-hash>/<name>-<version>.sha256``, so later runs verify against it).
     With a mirror (``--mirror``/``PLATFORMCTL_MIRROR``), ``<mirror>/charts/<name>-<version>.tgz`` (the
     bundle layout), verified against the pinned digest, else the mirror's ``charts/index.yaml``.

A bundle made by ``platformctl bundle`` holds ``charts/<name>-<version>.tgz``; for an archive verified
against the repository's index.yaml (no digest in the lock) it also holds ``<archive>.sha256`` with that
digest, which ``up``/``bundle --verify`` check the archive against: that detects corruption, not a
deliberate swap of both files (the pinned digests do; see manifests/lock.yaml).

Accepted digests: the published archive's pin (``digests``), a known source packaging
(``packaged_digests``), or a digest recorded from the repository's index.yaml at download time. A
chart with a published pin whose bytes differ is refused (IntegrityError, exit 3, naming the file,
expected and actual digest). An archive matching nothing known for a chart without a published pin,
and an unpacked chart directory, are refused unless ``allow_unpinned`` (``--allow-unpinned-charts``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from platformctl import reporting
from platformctl.errors import IntegrityError, SourceError
from platformctl.plan.lock import ChartPin
from platformctl.reporting import NullReporter, Reporter

ALLOW_FLAG = "--allow-unpinned-charts"
# Istio's index.yaml lists every chart version ever published: several MB.
INDEX_MAX_BYTES = 64 * 1024 * 1024


def archive_name(name: str, version: str) -> str:
    return f"{name}-{version}.tgz"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_record(path: Path) -> str | None:
    """A recorded sha256 (one hex line), or None when absent or malformed."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None


def index_digest(index_text: str, name: str, version: str, repo: str) -> tuple[str, str]:
    """(archive URL, sha256) of ``name`` ``version`` in a Helm repository's index.yaml.

    Helm's index format (helm/helm pkg/repo/index.go ChartVersion): ``entries.<name>[]`` with ``version``,
    ``digest`` (sha256 of the archive) and ``urls`` (absolute, or relative to the repository URL).
    """
    import yaml

    try:
        index = yaml.safe_load(index_text)
    except yaml.YAMLError as exc:
        raise SourceError(f"{repo}/index.yaml: not valid YAML: {exc}") from None
    entries = (index or {}).get("entries") if isinstance(index, dict) else None
    versions = entries.get(name) if isinstance(entries, dict) else None
    for entry in versions or []:
        if isinstance(entry, dict) and str(entry.get("version", "")).lstrip("v") == version.lstrip("v"):
            digest = str(entry.get("digest") or "").lower()
            urls = entry.get("urls") or []
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not urls:
                raise SourceError(f"{repo}/index.yaml: chart {name} {version} lists no sha256 digest or URL")
            return urljoin(repo.rstrip("/") + "/", str(urls[0])), digest
    raise SourceError(f"{repo}/index.yaml: no chart {name} version {version}")


class ChartResolver:
    """Paths of verified chart archives (module docstring)."""

    def __init__(
        self,
        *,
        charts_dir: Path | None = None,
        bundle_dir: Path | None = None,
        cache_dir: Path,
        allow_download: bool = True,
        allow_unpinned: bool = False,
        reporter: Reporter | None = None,
        downloader: Any = None,
        mirror: str | None = None,
    ) -> None:
        self.charts_dir = charts_dir
        self.bundle_dir = bundle_dir
        self.cache_dir = cache_dir
        self.allow_download = allow_download
        self.allow_unpinned = allow_unpinned
        self.reporter = reporter or NullReporter()
        self._downloader = downloader
        self.mirror = mirror.rstrip("/") if mirror else None
        self._lock = threading.Lock()

    # -- locations ---------------------------------------------------------------------------------
    def bundle_path(self, pin: ChartPin, name: str) -> Path | None:
        if self.bundle_dir is None:
            return None
        return self.bundle_dir / "charts" / archive_name(name, pin.version)

    def cache_path(self, digest: str, name: str, version: str) -> Path:
        return self.cache_dir / "charts" / digest / archive_name(name, version)

    def _record_path(self, pin: ChartPin, name: str) -> Path:
        repo = hashlib.sha256(pin.repo.rstrip("/").encode("utf-8")).hexdigest()[:16]
        return self.cache_dir / "charts" / "index" / repo / f"{archive_name(name, pin.version)}.sha256"

    def recorded_digest(self, pin: ChartPin, name: str) -> str | None:
        """The digest the repository's index.yaml listed when this chart was last downloaded."""
        return read_record(self._record_path(pin, name))

    def bundle_record(self, pin: ChartPin, name: str) -> str | None:
        """The index.yaml digest a bundle recorded beside an archive the lock has no digest for."""
        bundled = self.bundle_path(pin, name)
        return read_record(bundled.with_name(bundled.name + ".sha256")) if bundled is not None else None

    def accepted(self, pin: ChartPin, name: str, *, bundle: bool = False) -> dict[str, str]:
        """digest -> what it is, for every archive of ``name`` we may use (``bundle``: a bundle copy)."""
        known = pin.known_digests(name)
        recorded = self.recorded_digest(pin, name)
        if recorded and recorded not in known:
            known[recorded] = "digest from the repository's index.yaml, recorded at download"
        in_bundle = self.bundle_record(pin, name) if bundle and name not in pin.digests else None
        if in_bundle and in_bundle not in known:
            known[in_bundle] = "index.yaml digest recorded in the bundle"
        return known

    # -- verification ------------------------------------------------------------------------------
    def verify(self, pin: ChartPin, name: str, path: Path, *, origin: str) -> Path:
        """Check an archive's sha256 against everything accepted for it (module docstring)."""
        if path.is_dir():
            if self.allow_unpinned:
                reporting.log(self.reporter, f"chart {name}", f"unverified directory {path} ({ALLOW_FLAG})")
                return path
            raise IntegrityError(
                f"{origin} {path}: an unpacked chart cannot be verified against a pinned sha256; "
                f"use the archive ({archive_name(name, pin.version)}) or pass {ALLOW_FLAG}"
            )
        actual = _sha256(path)
        known = self.accepted(pin, name, bundle=origin == "bundle")
        if actual in known:
            return path
        expected = ", ".join(f"{d} ({what})" for d, what in known.items()) or "none pinned"
        if name in pin.digests:
            raise IntegrityError(
                f"sha256 mismatch for chart {path}: expected {pin.digests[name]}, actual {actual}",
                details=[f"{origin}; accepted digests: {expected}"],
                hint="the archive was modified or is not the published one; fetch it again "
                f"(`helm pull {pin.repo} {name} --version {pin.version}`) or re-create the bundle",
            )
        if self.allow_unpinned:
            reporting.log(self.reporter, f"chart {name}", f"unpinned {path} sha256 {actual} ({ALLOW_FLAG})")
            return path
        raise IntegrityError(
            f"chart {path} is not pinned: sha256 {actual}, expected {expected}; "
            f"pass {ALLOW_FLAG} to use it anyway",
            details=[origin],
            hint="or let platformctl download it (verified against the repository's index.yaml)",
        )

    # -- resolution --------------------------------------------------------------------------------
    def locate(self, pin: ChartPin, name: str) -> tuple[str, Path] | None:
        """(origin, path) of a local copy of ``name`` (charts dir, bundle, cache), unverified; or None."""
        fname = archive_name(name, pin.version)
        if self.charts_dir is not None:
            if (self.charts_dir / fname).is_file():
                return "--charts-dir", self.charts_dir / fname
            if (self.charts_dir / name / "Chart.yaml").is_file():
                return "--charts-dir", self.charts_dir / name
        bundled = self.bundle_path(pin, name)
        if bundled is not None and bundled.is_file():
            return "bundle", bundled
        for digest in self.accepted(pin, name):
            cached = self.cache_path(digest, name, pin.version)
            if cached.is_file():
                return "cache", cached
        return None

    def missing(self, pin: ChartPin, name: str) -> str | None:
        """Why ``name`` cannot be had without a download (for preflight's one message), else None."""
        if self.locate(pin, name) is not None:
            return None
        return f"chart {archive_name(name, pin.version)} (from {pin.repo})"

    def resolve(self, pin: ChartPin, name: str) -> Path:
        """Path to the verified archive (or, with ``allow_unpinned``, chart directory) of ``name``."""
        with self._lock:
            found = self.locate(pin, name)
            if found is not None:
                origin, path = found
                if origin != "cache":
                    if path.is_dir():
                        self._check_version(path, name, pin.version)
                    return self.verify(pin, name, path, origin=origin)
                if _sha256(path) in self.accepted(pin, name):
                    reporting.log(self.reporter, f"chart {name}", f"from cache {path}")
                    return path
                reporting.log(self.reporter, f"chart {name}", f"cache entry {path} is corrupt")
                path.unlink()
                return self.resolve_download(pin, name)
            return self.resolve_download(pin, name)

    def _check_version(self, path: Path, name: str, version: str) -> None:
        """An unpacked chart's Chart.yaml must carry the pinned version: a stale copy is not used."""
        import yaml

        with (path / "Chart.yaml").open(encoding="utf-8") as fh:
            meta = yaml.safe_load(fh) or {}
        found = str(meta.get("version", "")) if isinstance(meta, dict) else ""
        if found.lstrip("v") != version.lstrip("v"):
            raise SourceError(
                f"--charts-dir: {path / 'Chart.yaml'} has version {found!r} but the lock pins "
                f"{name} {version}: replace it with the {archive_name(name, version)} archive"
            )

    def resolve_download(self, pin: ChartPin, name: str) -> Path:
        fname = archive_name(name, pin.version)
        if not self.allow_download:
            where = [
                f"--charts-dir: {self.charts_dir / fname}" if self.charts_dir else "no --charts-dir given",
                f"bundle: {self.bundle_path(pin, name)}" if self.bundle_dir else "no --manifests-dir given",
                f"cache: {self.cache_dir / 'charts'}",
            ]
            raise SourceError(
                f"chart {fname} is missing and downloads are disabled",
                details=[*where, f"repository: {pin.repo}"],
                hint="create an offline bundle with `platformctl bundle DIR` (it includes the charts) and "
                "pass --manifests-dir DIR, or --charts-dir with the archives",
            )
        downloader = self._get_downloader()
        base = f"{self.mirror}/charts" if self.mirror else pin.repo.rstrip("/")
        pinned = pin.digests.get(name) or (pin.packaged_digests.get(name) if self.mirror else None)
        if pinned:
            url, digest = f"{base}/{fname}", pinned
        else:
            index = downloader.fetch_text(
                f"{base}/index.yaml", what=f"{base} index.yaml", max_bytes=INDEX_MAX_BYTES
            )
            url, digest = index_digest(index, name, pin.version, base)
        dest = self.cache_path(digest, name, pin.version)
        downloader.download(url, dest, sha256=digest, what=f"chart {fname}")
        if name not in pin.digests and digest not in pin.known_digests(name):
            self._write_record(pin, name, digest)
        return dest

    def _write_record(self, pin: ChartPin, name: str, digest: str) -> None:
        record = self._record_path(pin, name)
        record.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=record.parent, prefix=".rec-")
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(digest + "\n")
        os.replace(tmp, record)

    def _get_downloader(self) -> Any:
        if self._downloader is None:
            from platformctl.drivers.sources import Downloader

            self._downloader = Downloader(reporter=self.reporter)
        return self._downloader
