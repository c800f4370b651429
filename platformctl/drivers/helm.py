"""Render Helm charts to plain objects with pyhelm3 and the real helm binary (``helm template``).

Charts are rendered, never installed: the engine applies the objects with server-side apply like any
other manifest (the Istio and Dapr charts have no hooks and no `lookup`: rendering is faithful).
pyhelm3 is asyncio; this module is the one place that bridges it, with
``asyncio.run`` per render (components run in worker threads, each with its own event loop).

Chart source: every command passes ``chart_path``, an archive drivers/charts.py ``ChartResolver`` has
sha256-verified (from ``--charts-dir``, a bundle's ``charts/``, the cache or a verified download).
``chart_dir`` (``<chart_dir>/<chart>`` unpacked or ``<chart_dir>/<chart>-<version>.tgz``, version equal
to the pin) is the unverified lookup driver tests use.

Render cache: ``helm template`` costs 0.15-0.3 s per chart, most of a no-op ``up``. Rendered objects of a
local chart are kept in ``<cache>/helm/<digest>.json`` (same base dir as drivers/sources.py), keyed by a
digest of everything that affects the output (``_cache_key``): the chart's bytes (every file's relative
path and content for a directory, since charts are edited in place and their version would not change;
the archive's sha256 for a .tgz), canonical JSON values, release, namespace, the helm version, the render
flags and ``CACHE_FORMAT``. PLATFORMCTL_NO_CACHE=1 disables the cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from platformctl.errors import SourceError, UsageError
from platformctl.kubeobjects import KubeObject

# Bump when the entry layout or anything the key omits changes: old entries are then never read.
CACHE_FORMAT = 1
# Flags passed to ``template_resources``; part of the cache key, so changing them invalidates entries.
# include_crds: charts' crds/ dirs are part of what we apply (components dedupe pinned CRDs).
RENDER_FLAGS: dict[str, bool] = {"include_crds": True, "is_upgrade": False, "no_hooks": False}


def find_helm(helm_binary: Path | None = None) -> Path:
    """The helm executable: the explicit path, else $PLATFORMCTL_HELM, else ``helm`` on PATH."""
    candidates: list[str] = []
    if helm_binary is not None:
        candidates.append(str(helm_binary))
    env = os.environ.get("PLATFORMCTL_HELM")
    if env:
        candidates.append(env)
    candidates.append("helm")
    for cand in candidates:
        p = Path(cand)
        if p.is_file() and os.access(p, os.X_OK):
            return p
        found = shutil.which(cand)
        if found:
            return Path(found)
    from platformctl.drivers.tools import cached_tool  # the pinned helm from `platformctl tools install`

    cached = cached_tool("helm")
    if cached is not None:
        return cached
    raise SourceError(
        f"helm executable not found (looked for {', '.join(candidates)}): install helm "
        "(`platformctl tools install`) or set PLATFORMCTL_HELM to its path"
    )


def local_chart(chart_dir: Path, chart: str, version: str) -> Path:
    """The chart inside ``chart_dir`` for ``chart``: an unpacked directory or a packaged .tgz."""
    unpacked = chart_dir / chart
    packed = chart_dir / f"{chart}-{version}.tgz"
    if packed.is_file():  # the archive named for the pinned version wins over another version unpacked
        return packed
    if (unpacked / "Chart.yaml").is_file():
        with (unpacked / "Chart.yaml").open(encoding="utf-8") as fh:
            meta = yaml.safe_load(fh) or {}
        found = str(meta.get("version", ""))
        if found.lstrip("v") != version.lstrip("v"):
            raise SourceError(
                f"--charts-dir: {unpacked / 'Chart.yaml'} has version {found!r} but the lock pins "
                f"{chart} {version}: replace it with `helm pull {chart} --version {version} --untar`"
            )
        return unpacked
    raise SourceError(
        f"--charts-dir: chart {chart!r} not found in {chart_dir} (expected {unpacked}/Chart.yaml or "
        f"{packed.name}): `helm pull <repo>/{chart} --version {version}` into that directory"
    )


def _objects(docs: Iterable[Any]) -> list[KubeObject]:
    out: list[KubeObject] = []
    for doc in docs:
        # helm emits empty documents for templates that render nothing.
        if isinstance(doc, dict) and doc.get("kind") and doc.get("apiVersion"):
            out.append(doc)
    return out


async def _render(
    executable: Path,
    chart_ref: Path | str,
    repo: str | None,
    version: str | None,
    release: str,
    namespace: str,
    values: dict[str, Any],
) -> list[KubeObject]:
    import pyhelm3

    client = pyhelm3.Client(executable=str(executable))
    chart_obj = await client.get_chart(chart_ref, repo=repo, version=version)
    docs = await client.template_resources(chart_obj, release, values, namespace=namespace, **RENDER_FLAGS)
    return _objects(docs)


def cache_enabled(env: Mapping[str, str] | None = None) -> bool:
    """False when PLATFORMCTL_NO_CACHE is set to 1/true/yes."""
    e = os.environ if env is None else env
    return e.get("PLATFORMCTL_NO_CACHE", "").strip().lower() not in ("1", "true", "yes")


def chart_digest(chart_path: Path) -> str:
    """sha256 over a chart: a .tgz's bytes, or every file's relative path and bytes under a directory."""
    h = hashlib.sha256()
    if chart_path.is_file():
        h.update(b"tgz\0")
        with chart_path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    h.update(b"dir\0")
    files: list[tuple[str, Path]] = []
    # followlinks: helm reads through symlinks, so their targets' bytes are what matters.
    for root, dirs, names in os.walk(chart_path, followlinks=True):
        dirs.sort()
        for name in names:
            full = Path(root) / name
            files.append((full.relative_to(chart_path).as_posix(), full))
    for rel, full in sorted(files):
        data = full.read_bytes()
        # Length-prefixed, so no two different trees hash the same byte stream.
        rel_b = rel.encode("utf-8", "surrogateescape")
        h.update(len(rel_b).to_bytes(8, "big") + rel_b + len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


_VERSION_LOCK = threading.Lock()
_VERSIONS: dict[tuple[str, int, int, int, int], str] = {}


def helm_version(executable: Path, cache_dir: Path | None) -> str:
    """``helm version`` of ``executable``, remembered (in memory and on disk) per binary identity.

    Identity is the resolved path plus device, inode, size and mtime: replacing or upgrading the binary
    changes it, so a cached version never outlives the binary it came from, and a cache hit runs no helm.
    """
    real = executable.resolve()
    st = real.stat()
    ident = (str(real), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _VERSION_LOCK:
        if ident in _VERSIONS:
            return _VERSIONS[ident]
    memo = None
    if cache_dir is not None:
        memo = cache_dir / "helm" / "versions" / (hashlib.sha256(repr(ident).encode()).hexdigest() + ".txt")
        try:
            text = memo.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            text = ""
        if text.startswith("v") and "\n" not in text:
            with _VERSION_LOCK:
                _VERSIONS[ident] = text
            return text
    try:
        proc = subprocess.run(
            [str(executable), "version", "--template", "{{ .Version }}"],
            capture_output=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SourceError(
            f"{executable}: `helm version` failed: check the helm binary (or PLATFORMCTL_HELM)",
            details=[str(exc)],
        ) from None
    text = proc.stdout.decode("utf-8", "replace").strip()
    with _VERSION_LOCK:
        _VERSIONS[ident] = text
    if memo is not None and text.startswith("v"):
        _write_atomic(memo, text.encode("utf-8"))
    return text


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same dir + rename: readers see the old entry or the whole new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:  # a read-only or full cache only costs speed
        pass


def _cache_key(
    *,
    chart: str,
    version: str,
    chart_sha256: str,
    release: str,
    namespace: str,
    values: dict[str, Any],
    helm: str,
) -> str | None:
    """Digest of everything that affects ``helm template``'s output; None when values are not JSON."""
    try:
        material = json.dumps(
            {
                "format": CACHE_FORMAT,
                "chart": chart,
                "version": version,
                "chart_sha256": chart_sha256,
                "release": release,
                "namespace": namespace,
                "values": values,
                "helm": helm,
                "flags": RENDER_FLAGS,
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _cache_entry(cache_dir: Path, key: str) -> Path:
    return cache_dir / "helm" / f"{key}.json"


def _cache_read(path: Path, key: str) -> list[KubeObject] | None:
    """The cached objects, or None when absent, unreadable, half-written or not for ``key``."""
    try:
        entry = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not (
        isinstance(entry, dict)
        and entry.get("format") == CACHE_FORMAT
        and entry.get("key") == key
        and isinstance(entry.get("objects"), list)
        and all(isinstance(o, dict) for o in entry["objects"])
    ):
        return None
    objects: list[KubeObject] = entry["objects"]
    return objects


def _cache_write(path: Path, key: str, objects: list[KubeObject]) -> None:
    try:
        text = json.dumps({"format": CACHE_FORMAT, "key": key, "objects": objects}, allow_nan=False)
    except (TypeError, ValueError):
        return
    # Only cache what JSON reproduces exactly (e.g. YAML timestamps or int keys would not round-trip).
    if json.loads(text)["objects"] != objects:
        return
    _write_atomic(path, text.encode("utf-8"))


def render_chart(
    *,
    chart: str,
    repo: str | None,
    version: str,
    release: str,
    namespace: str,
    values: dict[str, Any],
    chart_dir: Path | None = None,
    helm_binary: Path | None = None,
    cache_dir: Path | None = None,
    chart_path: Path | None = None,
) -> list[KubeObject]:
    """Render ``chart`` to objects, in helm's order.

    ``chart_path``: an archive (or directory) already verified by drivers/charts.py ``ChartResolver``,
    which is how every command gets its charts. ``chart_dir``: a directory to look the chart up in,
    unverified (driver tests). Without either, helm fetches ``repo``/``version`` itself (unverified:
    no command uses that path). Local charts are served from the render cache when nothing that
    affects the output changed (module docstring); ``cache_dir`` defaults to the sources cache dir.
    """
    executable = find_helm(helm_binary)
    chart_ref: Path | str
    if chart_path is not None:
        chart_ref, use_repo, use_version = chart_path, None, None
        where = str(chart_path)
    elif chart_dir is not None:
        chart_ref, use_repo, use_version = local_chart(chart_dir, chart, version), None, None
        where = str(chart_ref)
    else:
        if not repo:
            raise UsageError(f"chart {chart!r}: no repository pinned and no --charts-dir given")
        chart_ref, use_repo, use_version = chart, repo, version
        where = f"{repo} ({chart} {version})"

    entry: Path | None = None
    key: str | None = None
    if isinstance(chart_ref, Path) and cache_enabled():
        from platformctl.drivers.sources import default_cache_dir

        base = cache_dir if cache_dir is not None else default_cache_dir()
        try:
            digest: str | None = chart_digest(chart_ref)
        except OSError:  # an unreadable chart file: let helm report it, uncached
            digest = None
        if digest is not None:
            key = _cache_key(
                chart=chart,
                version=version,
                chart_sha256=digest,
                release=release,
                namespace=namespace,
                values=values,
                helm=helm_version(executable, base),
            )
        if key is not None:
            entry = _cache_entry(base, key)
            hit = _cache_read(entry, key)
            if hit is not None:
                return hit
    objects = _render_with_errors(
        executable, chart_ref, use_repo, use_version, release, namespace, values, chart, version, where
    )
    if entry is not None and key is not None:
        _cache_write(entry, key, objects)
    return objects


def _render_with_errors(
    executable: Path,
    chart_ref: Path | str,
    use_repo: str | None,
    use_version: str | None,
    release: str,
    namespace: str,
    values: dict[str, Any],
    chart: str,
    version: str,
    where: str,
) -> list[KubeObject]:
    import pyhelm3.errors as helm_errors

    try:
        return asyncio.run(_render(executable, chart_ref, use_repo, use_version, release, namespace, values))
    except helm_errors.FailedToRenderChartError as exc:
        raise UsageError(
            f"helm could not render chart {chart!r} from {where} with the values platformctl built",
            details=_stderr_lines(exc),
        ) from None
    except helm_errors.ChartNotFoundError as exc:
        raise SourceError(
            f"chart {chart!r} version {version} not found at {where}: check the lock or use --charts-dir",
            details=_stderr_lines(exc),
        ) from None
    except helm_errors.Error as exc:
        lines = _stderr_lines(exc)
        if any("values don't meet the specifications" in line for line in lines):
            # The chart's values.schema.json rejected a value platformctl built (or the user overrode).
            raise UsageError(
                f"chart {chart!r} from {where} rejected the values platformctl built (values.schema.json)",
                details=lines,
            ) from None
        raise SourceError(
            f"helm failed to fetch or render chart {chart!r} from {where} (offline? use --charts-dir)",
            details=_stderr_lines(exc),
        ) from None


def _stderr_lines(exc: Any) -> list[str]:
    raw = getattr(exc, "stderr", b"")
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return [line for line in text.splitlines() if line.strip()][:40]
