"""`platformctl tools [install [TOOL]...]`: kind, helm, kubectl (+ minikube for its provider) — path,
version, source, match with the pin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import SetOption, load_spec_from_ctx

if TYPE_CHECKING:
    from rich.console import RenderableType

    from platformctl.usecases.tools import ToolRow

tools_app = typer.Typer(
    help="kind, helm and kubectl: which binaries platformctl uses (`tools`), or fetch the pinned ones "
    "(`tools install`).",
    no_args_is_help=False,
)

CacheDirOption = Annotated[
    Path | None, typer.Option("--cache-dir", envvar="PLATFORMCTL_CACHE_DIR", help="Download cache.")
]
FormatOption = Annotated[
    output.OutputFormat,
    typer.Option("-o", "--output", case_sensitive=False, help="table, wide, json or yaml"),
]


def _table(rows: list[ToolRow], wide: bool = False) -> RenderableType:
    C = output.Col
    return output.simple_table(
        "tools",
        [
            C("tool"),
            C("version"),
            C("pinned", drop=1),
            C("match"),
            C("source", drop=2),
            C("path"),  # paths are copied by users: never split
            C("note", kind="text", below=True),
        ],
        [
            (
                r.name,
                r.version or "-",
                r.pinned,
                "yes" if r.matches else "no",
                r.source,
                r.path or "-",
                r.note,
            )
            for r in rows
        ],
        wide=wide,
    )


def _show(
    ctx: typer.Context,
    install: bool,
    no_download: bool,
    cache_dir: Path | None,
    fmt: output.OutputFormat,
    sets: list[str] | None,
    requested: list[str] | None = None,
) -> None:
    from platformctl.cli.bundle_cmd import StderrReporter
    from platformctl.errors import SourceError
    from platformctl.usecases.tools import list_tools, make_resolver, select_tools

    output.reset_consoles()
    names = select_tools(requested or [], load_spec_from_ctx(ctx, sets=sets))
    resolver = make_resolver(cache_dir=cache_dir, allow_download=not no_download, reporter=StderrReporter())
    rows, errors = list_tools(resolver, install=install, names=names)
    output.emit_data([r.to_dict() for r in rows], fmt, lambda wide: _table(rows, wide))
    if errors:
        raise SourceError(
            f"{len(errors)} tool(s) could not be provided",
            details=[e.message for e in errors],
            hint=errors[0].hint,
        )


@tools_app.callback(invoke_without_command=True)
def tools(
    ctx: typer.Context,
    cache_dir: CacheDirOption = None,
    fmt: FormatOption = output.OutputFormat.table,
    sets: SetOption = None,
) -> None:
    """List the binaries platformctl uses (kind, helm, kubectl; minikube for cluster.provider minikube):
    env override, PATH, cache or missing."""
    if ctx.invoked_subcommand is None:
        _show(ctx, False, False, cache_dir, fmt, sets)


@tools_app.command("install")
def install(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TOOL]...",
            help="Only these tools (kind, helm, kubectl, minikube); default: kind, helm and kubectl, "
            "plus minikube when cluster.provider is minikube.",
            show_default=False,
        ),
    ] = None,
    no_download: Annotated[
        bool, typer.Option("--no-download", help="Refuse to download: fail if a pinned tool is missing.")
    ] = False,
    cache_dir: CacheDirOption = None,
    fmt: FormatOption = output.OutputFormat.table,
    sets: SetOption = None,
) -> None:
    """Fetch missing or off-version tools at the pinned version into the cache (sha256-verified)."""
    _show(ctx, True, no_download, cache_dir, fmt, sets, names)


def register(app: typer.Typer) -> None:
    app.add_typer(tools_app, name="tools")
