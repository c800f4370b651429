"""``platformctl images``: every container image the enabled platform runs (derived from the render)."""

from __future__ import annotations

from typing import Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx
from platformctl.cli.platform_cmd import (
    ChartsDirOption,
    ManifestsDirOption,
    NoDownloadOption,
    OnlyOption,
    SkipOption,
    _sources,
)


def images(
    ctx: typer.Context,
    only: OnlyOption = None,
    skip: SkipOption = None,
    manifests_dir: ManifestsDirOption = None,
    charts_dir: ChartsDirOption = None,
    no_download: NoDownloadOption = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit 1 when an image is unpinned (:latest or no tag)."),
    ] = False,
    fmt: OutputOption = OutputFormat.table,
    sets: SetOption = None,
) -> None:
    """List every image the enabled platform runs, the component needing it and how it is pinned."""
    from platformctl.errors import CheckFailed
    from platformctl.usecases.images import list_images

    output.reset_consoles()  # Typer's test runner swaps sys.stdout/sys.stderr per invocation
    spec = load_spec_from_ctx(ctx, sets=sets)
    report = list_images(
        spec,
        only=tuple(only or ()),
        skip=tuple(skip or ()),
        sources=_sources(manifests_dir, charts_dir, no_download),
    )

    def table() -> object:
        return output.simple_table(
            None,
            ["image", "component", "pinned"],
            [
                (e.image, ", ".join(e.components), e.pinning + (" (injected)" if e.injected else ""))
                for e in report.images
            ],
            markup=False,
        )

    output.emit_data(report.to_dict(), fmt, table)  # type: ignore[arg-type]
    by_pin = {p: sum(1 for e in report.images if e.pinning == p) for p in ("digest", "tag", "unpinned")}
    output.info(
        f"{len(report.images)} images from {len(report.registries())} registries: "
        f"{by_pin['digest']} by digest, {by_pin['tag']} by tag, {by_pin['unpinned']} unpinned"
    )
    unpinned = report.unpinned
    if not unpinned:
        return
    lines = [f"{e.image} ({', '.join(e.components)})\n    named in {e.sources[0]}" for e in unpinned]
    if strict:
        raise CheckFailed(
            f"--strict: {len(unpinned)} unpinned image(s) (:latest or no tag)",
            details=lines,
            hint="pin the chart values / manifests to a released tag or digest",
        )
    output.info(f"warning: {len(unpinned)} unpinned image(s) (:latest or no tag); --strict makes this exit 1")
    for line in lines:
        output.info(f"  {line}")


def register(app: typer.Typer) -> None:
    app.command("images")(images)
