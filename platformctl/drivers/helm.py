"""Render Helm charts to plain objects with pyhelm3 and the real helm binary (``helm template``).

Charts are rendered, never installed: the engine applies the objects with server-side apply like any
other manifest (design.md §3). pyhelm3 is asyncio; this module is the one place that bridges it, with
``asyncio.run`` per render (components run in worker threads, each with its own event loop).

Chart source: the pinned repo at the pinned version, or a local chart directory (``--charts-dir``):
``<chart_dir>/<chart>`` (an unpacked chart) or ``<chart_dir>/<chart>-<version>.tgz`` (``helm pull``
output) is used instead of the repo, for air-gapped machines and tests. A local chart's version must
equal the pinned version, so a stale directory cannot silently replace the pinned chart.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from platformctl.errors import SourceError, UsageError

KubeObject = dict[str, Any]


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
    if packed.is_file():
        return packed
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
    # include_crds: charts' crds/ dirs are part of what we apply (components dedupe pinned CRDs).
    docs = await client.template_resources(chart_obj, release, values, include_crds=True, namespace=namespace)
    return _objects(docs)


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
) -> list[KubeObject]:
    """Render ``chart`` (pinned ``repo``/``version``, or from ``chart_dir``) to objects, in helm's order."""
    import pyhelm3.errors as helm_errors

    executable = find_helm(helm_binary)
    chart_ref: Path | str
    if chart_dir is not None:
        chart_ref, use_repo, use_version = local_chart(chart_dir, chart, version), None, None
        where = str(chart_ref)
    else:
        if not repo:
            raise UsageError(f"chart {chart!r}: no repository pinned and no --charts-dir given")
        chart_ref, use_repo, use_version = chart, repo, version
        where = f"{repo} ({chart} {version})"
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
