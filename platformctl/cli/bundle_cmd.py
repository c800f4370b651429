"""`platformctl bundle DIR [--verify]`: create or check an offline bundle of every pinned manifest and
Helm chart archive."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import SetOption

if TYPE_CHECKING:
    from rich.console import RenderableType

    from platformctl.reporting import Event
    from platformctl.usecases.bundle import BundleFile, BundleReport


class StderrReporter:
    """Plain progress lines on stderr (downloads, retries, failures); data stays on stdout."""

    def __init__(self, *, quiet_finish: bool = False, quiet_fail: bool = False) -> None:
        self._lock = threading.Lock()
        self._last_pct: dict[str, int] = {}
        self.quiet_finish = quiet_finish
        self.quiet_fail = quiet_fail

    def emit(self, event: Event) -> None:
        with self._lock:
            if event.kind == "start":
                output.info(f"→ {event.step}: {event.message}")
            elif event.kind == "finish" and not self.quiet_finish:
                output.info(f"✓ {event.step}: {event.message}")
            elif event.kind == "fail" and not self.quiet_fail:
                output.info(f"✗ {event.step}: {event.message}")
            elif event.kind == "log":
                output.info(f"  {event.step}: {event.message}")
            elif event.kind == "progress" and event.total:
                pct = event.done * 100 // event.total
                # One line per 25% keeps logs readable without a live bar.
                if pct // 25 > self._last_pct.get(event.step, -1) // 25 or pct == 100:
                    self._last_pct[event.step] = pct
                    output.info(f"  {event.step}: {pct}% of {event.total} bytes")


def _short(f: BundleFile) -> str:
    """Table detail: digests cut to 12 hex digits (the full ones are in -o json and the error details)."""
    if f.status == "sha256-mismatch" and f.actual_sha256:
        return f"sha256 {f.actual_sha256[:12]}…, pinned {f.expected_sha256[:12]}…"
    if f.status == "missing":
        return "not in the bundle"
    return f.message


def _table(report: BundleReport, wide: bool = False) -> RenderableType:
    rows = [
        (f.path, f.status, "" if f.actual_size is None else f.actual_size, _short(f)) for f in report.files
    ]
    C = output.Col
    return output.simple_table(
        f"bundle {report.directory}",
        [C("file"), C("status"), C("bytes", drop=1, justify="right"), C("detail", kind="text", below=True)],
        rows,
        wide=wide,
    )


def bundle(
    ctx: typer.Context,
    directory: Annotated[
        Path,
        typer.Argument(
            help="Bundle directory (layout <component>/<version>/<file>, charts/<chart>-<v>.tgz)."
        ),
    ],
    verify: Annotated[
        bool, typer.Option("--verify", help="Check an existing bundle instead of creating one.")
    ] = False,
    component: Annotated[
        list[str] | None, typer.Option("--component", "-c", help="Only this component (repeatable).")
    ] = None,
    manifests_dir: Annotated[
        Path | None,
        typer.Option("--manifests-dir", help="Copy from this (verified) bundle instead of downloading."),
    ] = None,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            envvar="PLATFORMCTL_MIRROR",
            help="Download from <URL>/<component>/<version>/<file> (charts: <URL>/charts/<archive>) "
            "instead of the upstream URLs.",
        ),
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", envvar="PLATFORMCTL_CACHE_DIR", help="Download cache.")
    ] = None,
    no_download: Annotated[
        bool, typer.Option("--no-download", help="Use only --manifests-dir and the cache.")
    ] = False,
    fmt: Annotated[
        output.OutputFormat,
        typer.Option("-o", "--output", case_sensitive=False, help="table, wide, json or yaml"),
    ] = (output.OutputFormat.table),
    images: Annotated[
        bool,
        typer.Option(
            "--images",
            help="Also copy every image of the enabled platform (`platformctl images`), the "
            "registry that serves them and (kind) the node image from their registries into "
            "DIR/images, an OCI image layout with the manifests' exact bytes (digests kept); each "
            "blob's sha256 in SHA256SUMS.",
        ),
    ] = False,
    tools: Annotated[
        bool,
        typer.Option(
            "--tools",
            help="Also carry the pinned kind, helm and kubectl binaries for this OS/arch "
            "(DIR/tools/<tool>/<version>/<os>-<arch>/); `up --manifests-dir DIR` puts them in the "
            "tool cache.",
        ),
    ] = False,
    charts_dir: Annotated[
        Path | None,
        typer.Option("--charts-dir", help="With --images: local Helm charts to render instead of repos."),
    ] = None,
    sets: SetOption = None,
) -> None:
    """Download every pinned manifest into DIR (verified), or check DIR with --verify.

    The bundle also holds every pinned Helm chart archive (charts/<chart>-<version>.tgz) and, for
    cluster.provider minikube, the pinned minikube binary (tools/minikube/<version>/<os>-<arch>/);
    --tools adds kind, helm and kubectl, --images the platform's images.
    """
    from platformctl.errors import IntegrityError
    from platformctl.usecases.bundle import create_bundle, verify_bundle

    output.reset_consoles()
    if tools and (component or verify):
        from platformctl.errors import UsageError

        flag = "--component" if component else "--verify"
        raise UsageError(
            f"--tools: not with {flag} (a bundle carries its tools as a whole; --verify checks any it has)"
        )
    # Per-file failures are in the table and the error details: do not print them twice.
    reporter = StderrReporter(quiet_finish=True, quiet_fail=True)
    if verify:
        report = verify_bundle(directory, components=component or None, reporter=reporter)
    else:
        from platformctl.cli.common import load_spec_from_ctx
        from platformctl.usecases.tools import bundle_tools

        report = create_bundle(
            directory,
            components=component or None,
            source_dir=manifests_dir,
            cache_dir=cache_dir,
            mirror=mirror,
            allow_download=not no_download,
            reporter=reporter,
            # The provider's binaries (minikube for cluster.provider minikube), with the whole bundle.
            tools=() if component else bundle_tools(load_spec_from_ctx(ctx, sets=sets), all_tools=tools),
        )
    if images and not verify and report.ok:
        _save_images(ctx, directory, report, charts_dir, not no_download, sets, reporter)
    output.emit_data(report.to_dict(), fmt, lambda wide: _table(report, wide))
    if not report.ok:
        bad = report.bad
        raise IntegrityError(
            f"{len(bad)} of {len(report.files)} bundle files are bad in {directory}",
            details=[f"{f.path}: {f.status}: {f.message}" for f in bad],
            hint=(
                f"re-create it with `platformctl bundle {directory}` on a connected machine"
                if verify
                else "fix the network or --mirror (or pass --manifests-dir) and run the same command "
                "again; good files are kept"
            ),
        )
    what = "verified" if verify else "ready"
    output.info(f"bundle {directory}: {len(report.files)} files {what}")


def _save_images(
    ctx: typer.Context,
    directory: Path,
    report: BundleReport,
    charts_dir: Path | None,
    allow_download: bool,
    sets: list[str] | None,
    reporter: StderrReporter,
) -> None:
    """bundle --images: the image list from a render over the bundle just made, then copy them."""
    from platformctl.cli.common import load_spec_from_ctx
    from platformctl.usecases.bundle import write_sums
    from platformctl.usecases.bundle_images import bundle_image_list, copy_images
    from platformctl.usecases.render import SourceOptions

    spec = load_spec_from_ctx(ctx, sets=sets)
    sources = SourceOptions(manifests_dir=directory, charts_dir=charts_dir, allow_download=allow_download)
    names = bundle_image_list(spec, sources)
    output.info(f"copying {len(names)} images into {directory / 'images'}")
    report.files.extend(copy_images(directory, names, reporter=reporter))
    write_sums(directory, report)


def register(app: typer.Typer) -> None:
    app.command("bundle")(bundle)
