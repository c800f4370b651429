"""`platformctl tools`: kind, helm, kubectl — path, version, source, and whether each matches the pin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output

if TYPE_CHECKING:
    from rich.table import Table


def tools(
    install: Annotated[
        bool,
        typer.Option("--install", help="Download missing or off-version tools (pinned, sha256-verified)."),
    ] = False,
    no_download: Annotated[
        bool, typer.Option("--no-download", help="With --install: refuse to download; fail instead.")
    ] = False,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", envvar="PLATFORMCTL_CACHE_DIR", help="Download cache.")
    ] = None,
    fmt: Annotated[output.OutputFormat, typer.Option("-o", "--output", help="table|json|yaml")] = (
        output.OutputFormat.table
    ),
) -> None:
    """List the kind/helm/kubectl binaries platformctl uses (env override, PATH, cache or download)."""
    from platformctl.cli.bundle_cmd import StderrReporter
    from platformctl.errors import SourceError
    from platformctl.usecases.tools import list_tools, make_resolver

    output.reset_consoles()
    resolver = make_resolver(cache_dir=cache_dir, allow_download=not no_download, reporter=StderrReporter())
    rows, errors = list_tools(resolver, install=install)
    data = [r.to_dict() for r in rows]

    def table() -> Table:
        t = output.simple_table(
            "tools",
            ["tool", "version", "pinned", "match", "source", "path", "note"],
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
        )
        t.columns[5].overflow = "fold"  # paths are copied by users: never elide them
        return t

    output.emit_data(data, fmt, table)
    if errors:
        raise SourceError(
            f"{len(errors)} tool(s) could not be provided",
            details=[e.message for e in errors],
            hint=errors[0].hint,
        )
    if install and not all(r.matches or r.source == "env" for r in rows):
        raise SourceError(
            "some tools are not at the pinned version", hint="run `platformctl tools --install`"
        )


def register(app: typer.Typer) -> None:
    app.command("tools")(tools)
