"""Verified sources: every pinned file comes from a bundle dir, the cache or its pinned URL, sha256-checked.

Resolution order for one ``PinnedFile``:
  1. offline bundle dir (``--manifests-dir DIR``), layout ``<component>/<version>/<file>`` (= ``file.path``)
  2. local cache, keyed by sha256: ``<cache>/files/<sha256>/<filename>``
  3. download from the pinned URL (or ``<mirror>/<file.path>`` when a mirror base URL is given)

Bytes are verified against the pinned sha256 before anything returns them. Downloads go to a temp file
in the cache dir, are verified, then atomically renamed: nothing unverified is ever cached or returned.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from platformctl import reporting
from platformctl.errors import ConfigError, IntegrityError, SourceError, UsageError
from platformctl.plan.lock import PinnedFile, VersionLock
from platformctl.reporting import NullReporter, Reporter

if TYPE_CHECKING:
    import httpx

CHUNK = 256 * 1024
# Files above this size get byte-level progress events (the CLI shows a bar).
PROGRESS_THRESHOLD = 1024 * 1024
# Statuses worth retrying: the server may answer next time (rate limit, overload, gateway hiccup).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# getaddrinfo's EAI_NONAME text on Linux (glibc) and macOS, and glibc's EAI_AGAIN ("Temporary failure
# in name resolution"): on an offline machine no DNS server answers, so EAI_AGAIN is what every name
# gets, and retrying with backoff only costs 7-21 s per file before the same answer.
_UNKNOWN_HOST = (
    "Name or service not known",
    "nodename nor servname provided",
    "Temporary failure in name resolution",
)
BUNDLE_HINT = (
    "create an offline bundle on a connected machine with `platformctl bundle DIR` and pass "
    "--manifests-dir DIR (or allow downloads)"
)


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """$PLATFORMCTL_CACHE_DIR, else $XDG_CACHE_HOME/platformctl, else ~/.cache/platformctl."""
    e = os.environ if env is None else env
    if e.get("PLATFORMCTL_CACHE_DIR"):
        return Path(e["PLATFORMCTL_CACHE_DIR"])
    base = e.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "platformctl"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_checksum_file(text: str, filename: str | None = None) -> str:
    """The sha256 from a ``sha256sum``-style file: ``<hex>`` alone or ``<hex>  <name>`` lines."""
    candidates: list[str] = []
    for line in text.splitlines():
        parts = line.strip().split()
        if not parts:
            continue
        digest = parts[0].lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            continue
        name = parts[1].lstrip("*") if len(parts) > 1 else None
        if filename is None or name is None or name.rsplit("/", 1)[-1] == filename:
            candidates.append(digest)
    if not candidates:
        raise SourceError(
            f"no sha256 digest{' for ' + filename if filename else ''} in the checksum file",
            details=[text[:200]],
        )
    return candidates[0]


class Downloader:
    """Streaming HTTP GET with timeouts and retries, writing verified bytes to a destination atomically."""

    def __init__(
        self,
        *,
        reporter: Reporter | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.reporter = reporter or NullReporter()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep

    def _client(self) -> httpx.Client:
        import httpx

        return httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            follow_redirects=True,
            headers={"User-Agent": "platformctl"},
        )

    def _retrying(self, url: str, what: str, attempt_fn: Callable[[httpx.Client], Any]) -> Any:
        import httpx

        last = ""
        with self._client() as client:
            for attempt in range(self.retries + 1):
                if attempt:
                    delay = self.backoff * (2 ** (attempt - 1))
                    reporting.log(
                        self.reporter, what, f"retry {attempt}/{self.retries} in {delay:.1f}s: {last}"
                    )
                    self.sleep(delay)
                try:
                    return attempt_fn(client)
                except _Retryable as exc:
                    last = str(exc)
                except httpx.RemoteProtocolError as exc:
                    # The server closed the connection before Content-Length bytes arrived.
                    last = f"truncated download (short read): {exc}"
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc or 'connection failed'}"
                    if any(m in str(exc) for m in _UNKNOWN_HOST):
                        break  # the name does not exist (offline/air-gapped): retrying cannot help
        raise SourceError(
            f"could not download {what} from {url} after {attempt + 1} attempt(s): {last}",
            hint="check the network or proxy, use --mirror URL for an internal mirror, or " + BUNDLE_HINT,
        )

    def fetch_text(self, url: str, *, what: str, max_bytes: int = 64 * 1024) -> str:
        """A small text file (checksum files). Not verified: callers use it as the digest to check against."""

        def attempt(client: httpx.Client) -> str:
            resp = client.get(url)
            _raise_for_status(resp, url, what)
            return resp.content[:max_bytes].decode("utf-8", errors="replace")

        result: str = self._retrying(url, what, attempt)
        return result

    def download(
        self,
        url: str,
        dest: Path,
        *,
        sha256: str,
        size: int | None = None,
        what: str,
        source_name: str | None = None,
    ) -> Path:
        """GET ``url`` into ``dest``: temp file beside it, check size and sha256, then atomic rename."""
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            probe_fd, probe = tempfile.mkstemp(prefix=".probe-", dir=dest.parent)
            os.close(probe_fd)
            os.unlink(probe)
        except OSError as exc:
            raise UsageError(
                f"cache directory {dest.parent}: cannot write there ({exc.strerror or exc}); "
                "set PLATFORMCTL_CACHE_DIR (or --cache-dir) to a writable directory"
            ) from exc
        step = f"download {what}"
        reporting.start(self.reporter, step, url)

        def attempt(client: httpx.Client) -> tuple[Path, str, int]:
            fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
            tmp = Path(tmp_name)
            try:
                h = hashlib.sha256()
                got = 0
                with os.fdopen(fd, "wb") as out, client.stream("GET", url) as resp:
                    _raise_for_status(resp, url, what)
                    total = int(resp.headers.get("content-length") or size or 0)
                    show = max(total, size or 0) >= PROGRESS_THRESHOLD
                    last_emit = 0
                    for chunk in resp.iter_bytes(CHUNK):
                        out.write(chunk)
                        h.update(chunk)
                        got += len(chunk)
                        if show and (got - last_emit >= CHUNK * 4 or got == total):
                            reporting.progress(self.reporter, step, got, total)
                            last_emit = got
                return tmp, h.hexdigest(), got
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

        tmp, actual, got = self._retrying(url, what, attempt)
        try:
            if size is not None and got != size:
                if got < size:
                    raise SourceError(
                        f"truncated download of {what} from {url}: got {got} of {size} bytes",
                        hint="retry; if it persists the server or a proxy is cutting the transfer",
                    )
                raise IntegrityError(
                    f"{what} from {url}: size {got} bytes, pinned {size} bytes "
                    f"(expected sha256 {sha256}, actual {actual})",
                    hint="the upstream file changed or a proxy rewrote it; nothing was cached",
                )
            if actual != sha256:
                raise IntegrityError(
                    f"sha256 mismatch for {what} from {url}: expected {sha256}, actual {actual}",
                    hint="the upstream file changed or was tampered with; nothing was cached",
                )
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        reporting.finish(self.reporter, step, f"{got} bytes, sha256 verified")
        return dest


class _Retryable(Exception):
    pass


def _raise_for_status(resp: httpx.Response, url: str, what: str) -> None:
    if resp.status_code in RETRY_STATUSES:
        raise _Retryable(f"HTTP {resp.status_code} from {url}")
    if resp.status_code >= 400:
        raise SourceError(
            f"could not download {what}: HTTP {resp.status_code} from {url}",
            hint="the URL is pinned in manifests/lock.yaml; check a --mirror's layout or " + BUNDLE_HINT,
        )


class SourceResolver:
    """Verified pinned files: bundle dir → cache (by sha256) → pinned URL (or mirror)."""

    def __init__(
        self,
        lock: VersionLock,
        *,
        manifests_dir: Path | None = None,
        cache_dir: Path | None = None,
        allow_download: bool = True,
        reporter: Reporter | None = None,
        base_url_override: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.lock = lock
        if manifests_dir is not None and not manifests_dir.is_dir():
            # Silently ignoring it would fall back to downloads (or "missing") far from the cause.
            raise UsageError(
                f"--manifests-dir {manifests_dir}: not a directory; "
                "give a bundle made by `platformctl bundle DIR`"
            )
        self.manifests_dir = manifests_dir
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir()
        self.allow_download = allow_download
        self.reporter = reporter or NullReporter()
        # $PLATFORMCTL_MIRROR reaches every command that resolves sources (up, render, bundle...).
        mirror = base_url_override if base_url_override is not None else os.environ.get("PLATFORMCTL_MIRROR")
        if mirror:
            from urllib.parse import urlsplit

            parts = urlsplit(mirror)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                # checked here: httpx would fail every file only after all its retries
                raise UsageError(
                    f"--mirror/PLATFORMCTL_MIRROR {mirror!r}: expected an http(s)://HOST[/PATH] URL"
                )
        self.base_url_override = mirror.rstrip("/") if mirror else None
        self.downloader = Downloader(
            reporter=self.reporter, timeout=timeout, retries=retries, backoff=backoff, sleep=sleep
        )
        # Paths already verified in this process: (path, size, mtime_ns) → skip re-hashing.
        self._verified: set[tuple[str, int, int]] = set()
        self._docs: dict[str, str | list[dict[str, Any]]] = {}  # JSON text when it round-trips
        self._mutex = threading.Lock()
        self._file_locks: dict[str, threading.Lock] = {}

    # -- locations ---------------------------------------------------------------------------------
    def url_for(self, file: PinnedFile) -> str:
        """The pinned URL, or ``<mirror>/<component>/<version>/<file>`` when a mirror is configured."""
        if self.base_url_override:
            return f"{self.base_url_override}/{file.path}"
        return file.url

    def cache_path(self, file: PinnedFile) -> Path:
        return self.cache_dir / "files" / file.sha256 / file.filename

    def bundle_path(self, file: PinnedFile) -> Path | None:
        return self.manifests_dir / file.path if self.manifests_dir is not None else None

    # -- verification ------------------------------------------------------------------------------
    def _is_verified(self, path: Path, sha256: str) -> bool:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        if key in self._verified:
            return True
        if sha256_file(path) == sha256:
            self._verified.add(key)
            return True
        return False

    def verify_local(self, file: PinnedFile, path: Path, *, origin: str) -> Path:
        """Check a local copy; IntegrityError naming the file, its path and both digests."""
        if self._is_verified(path, file.sha256):
            return path
        actual = sha256_file(path)
        raise IntegrityError(
            f"sha256 mismatch for {file.path} in {origin} {path}: expected {file.sha256}, actual {actual}",
            details=[f"size on disk {path.stat().st_size} bytes, pinned {file.size} bytes"],
            hint=f"the {origin} copy was modified or corrupted; re-create it with `platformctl bundle DIR`",
        )

    # -- resolution --------------------------------------------------------------------------------
    def _lock_for(self, key: str) -> threading.Lock:
        with self._mutex:
            return self._file_locks.setdefault(key, threading.Lock())

    def fetch(self, file: PinnedFile) -> Path:
        """Path to verified bytes of ``file``: bundle dir → cache → download (then cached)."""
        bundled = self.bundle_path(file)
        if bundled is not None and bundled.is_file():
            return self.verify_local(file, bundled, origin="bundle")
        with self._lock_for(file.sha256):
            cached = self.cache_path(file)
            if cached.is_file():
                if self._is_verified(cached, file.sha256):
                    reporting.log(self.reporter, f"source {file.path}", f"from cache {cached}")
                    return cached
                # A corrupted cache entry is never used: drop it and fetch again.
                reporting.log(self.reporter, f"source {file.path}", f"cache entry {cached} is corrupt")
                cached.unlink()
            if not self.allow_download:
                where = [
                    f"bundle dir: {bundled}" if bundled else "no --manifests-dir given",
                    f"cache: {cached}",
                ]
                raise SourceError(
                    f"{file.path} is missing and downloads are disabled",
                    details=[*where, f"pinned URL: {file.url}", f"sha256: {file.sha256}"],
                    hint=BUNDLE_HINT,
                )
            return self.downloader.download(
                self.url_for(file), cached, sha256=file.sha256, size=file.size, what=file.path
            )

    def documents(self, file: PinnedFile) -> list[dict[str, Any]]:
        """The parsed, non-empty YAML documents of the verified file.

        Parsed once per sha256: memoised in-process, and on disk as JSON under
        ``<cache>/parsed/<sha256>.json`` for later runs (kserve.yaml is 3.5 MB of YAML, ~1 s to parse).
        That JSON is only ever written from bytes that just passed the sha256 check, and the file is
        still verified (``fetch``) on every run before its cached parse is used.
        """
        with self._mutex:
            hit = self._docs.get(file.sha256)
        if hit is not None:
            return _copied(hit)
        path = self.fetch(file)
        memo: str | list[dict[str, Any]] | None = self._read_parsed(file)
        if memo is None:
            docs = self._parse(file, path)
            memo = _as_json(docs)
            if isinstance(memo, str):
                self._write_parsed(file, memo)
            else:
                memo = docs
        with self._mutex:
            self._docs[file.sha256] = memo
        # Callers may mutate what they get (render patches); the memo must stay pristine.
        return _copied(memo)

    def _parse(self, file: PinnedFile, path: Path) -> list[dict[str, Any]]:
        import yaml

        loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with path.open("rb") as fh:
            try:
                raw = list(yaml.load_all(fh, Loader=loader))
            except yaml.YAMLError as exc:
                raise SourceError(f"{file.path}: not valid YAML: {exc}") from None
        docs: list[dict[str, Any]] = []
        for i, doc in enumerate(raw):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise SourceError(f"{file.path}: document {i} is a {type(doc).__name__}, not a mapping")
            if doc:
                docs.append(doc)
        return docs

    def parsed_path(self, file: PinnedFile) -> Path:
        return self.cache_dir / "parsed" / f"{file.sha256}.json"

    def _read_parsed(self, file: PinnedFile) -> str | None:
        """The cached parse as JSON text, or None (absent, unreadable or not for this sha256)."""
        try:
            text = self.parsed_path(file).read_text(encoding="utf-8")
            head, _, body = text.partition("\n")
            # header: source sha256 and the body's own sha256 (a torn or edited file is not used)
            src, _, own = head.partition(" ")
            if src != file.sha256 or own != hashlib.sha256(body.encode()).hexdigest():
                return None
            return body
        except (OSError, UnicodeDecodeError):
            return None

    def _write_parsed(self, file: PinnedFile, body: str) -> None:
        target = self.parsed_path(file)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".parsed-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"{file.sha256} {hashlib.sha256(body.encode()).hexdigest()}\n{body}")
            os.replace(tmp, target)
        except OSError as exc:  # a read-only cache only costs speed
            reporting.log(self.reporter, f"source {file.path}", f"parsed cache not written: {exc}")

    def release_documents(
        self, component: str, filename: str, version: str | None = None
    ) -> list[dict[str, Any]]:
        ver, release = self.lock.release(component, version)
        try:
            pinned = release.file(filename)
        except KeyError:
            names = ", ".join(f.filename for f in release.files) or "none"
            raise ConfigError(f"{component} {ver} pins no file {filename!r}; pinned files: {names}") from None
        return self.documents(pinned)


def _as_json(docs: list[dict[str, Any]]) -> str | None:
    """JSON text of ``docs`` when it round-trips exactly (YAML dates or int keys do not)."""
    try:
        text = json.dumps(docs, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == docs else None


def _copied(memo: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A private copy (json.loads is ~5x faster than deepcopy on large CRDs)."""
    if isinstance(memo, str):
        docs: list[dict[str, Any]] = json.loads(memo)
        return docs
    return copy.deepcopy(memo)
