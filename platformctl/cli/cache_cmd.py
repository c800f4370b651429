"""``platformctl cache status|prune|rm``: the pull-through registry caches (they survive ``down``)."""

from __future__ import annotations

from typing import Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx
from platformctl.cli.platform_cmd import ChartsDirOption, ManifestsDirOption, NoDownloadOption, _sources

cache_app = typer.Typer(
    help="The pull-through registry caches kind clusters pull through: size, hits; prune or remove them.",
    no_args_is_help=True,
)


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


@cache_app.command("status")
def status(fmt: OutputOption = OutputFormat.table) -> None:
    """Each cache: upstream registry, container state, size on disk, hits and misses."""
    from platformctl.usecases.caches import cache_status

    output.reset_consoles()
    report = cache_status()
    rows = [
        (
            e.upstream,
            e.state,
            _mb(e.bytes),
            "?" if e.hits is None else e.hits,
            "?" if e.misses is None else e.misses,
        )
        for e in report.entries
    ]
    output.emit_data(
        report.to_dict(),
        fmt,
        lambda: output.simple_table(
            None, ["registry", "state", "size", "hits", "misses"], rows, markup=False
        ),
    )
    if not report.entries:
        output.info("no registry caches (kind clusters start them; see docs/images.md)")


@cache_app.command("prune")
def prune(
    ctx: typer.Context,
    manifests_dir: ManifestsDirOption = None,
    charts_dir: ChartsDirOption = None,
    no_download: NoDownloadOption = False,
    sets: SetOption = None,
) -> None:
    """Remove the caches of registries the enabled platform no longer pulls from."""
    from platformctl.usecases.caches import cache_prune

    output.reset_consoles()
    spec = load_spec_from_ctx(ctx, sets=sets)
    removed = cache_prune(spec, _sources(manifests_dir, charts_dir, no_download))
    output.info(f"removed {', '.join(removed)}" if removed else "nothing to prune: every cache is in use")


@cache_app.command("rm")
def rm(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove every registry cache (containers and their volumes): the next `up` pulls from the internet."""
    from platformctl.usecases.caches import cache_remove

    output.reset_consoles()
    if not yes and not typer.confirm(
        "Remove every platformctl registry cache and its data?", default=False, err=True
    ):
        output.info("nothing was changed")
        raise typer.Exit(1)
    removed = cache_remove()
    output.info(f"removed {', '.join(removed)}" if removed else "no registry caches to remove")


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
