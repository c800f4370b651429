"""``platformctl config show|init|validate``: inspect, create and check platform.yaml."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, loaded_spec_from_ctx

if TYPE_CHECKING:
    from rich.console import RenderableType

config_app = typer.Typer(
    name="config",
    help="Show the effective platform spec, write a commented platform.yaml, or validate one.",
    no_args_is_help=True,
)


@config_app.command("show")
def show(
    ctx: typer.Context,
    fmt: OutputOption = OutputFormat.yaml,
    sets: SetOption = None,
) -> None:
    """Print the effective spec (defaults < platform.yaml < PLATFORMCTL_* env < flags).

    -o table lists every field with the layer that set it."""
    from platformctl.usecases.config import view

    v = view(loaded_spec_from_ctx(ctx, sets=sets))

    def table(wide: bool) -> RenderableType:
        return output.simple_table(
            f"Effective spec ({v.config_file or 'no platform.yaml'})",
            ["field", "value", "source"],
            [
                (r.field, r.value if isinstance(r.value, str) else json.dumps(r.value), r.source)
                for r in v.rows
            ],
            markup=False,  # values and sources are user input
            wide=wide,
        )

    output.emit_data(v.spec, fmt, table)


@config_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of platform.yaml (for editor completion and validation)."""
    from platformctl.usecases.config import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
    sys.stdout.flush()


@config_app.command("init")
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the file ('-' prints it to stdout).")] = Path(
        "platform.yaml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a platform.yaml with every field at its default and a comment on each; never overwrites
    an existing file without --force."""
    from platformctl.usecases.config import init_config, render_init

    if str(path) == "-":
        sys.stdout.write(render_init())
        sys.stdout.flush()
        return
    result = init_config(path, force=force)
    output.info(
        f"{'replaced' if result.overwritten else 'wrote'} {result.path}; "
        "check it with 'platformctl config validate'"
    )


@config_app.command("validate")
def validate(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Argument(help="Spec file to check (default: -f/--config, else ./platform.yaml).")
    ] = None,
    sets: SetOption = None,
) -> None:
    """Check a platform.yaml (with PLATFORMCTL_* env and flags applied): exit 0 when valid, 2 otherwise."""
    from platformctl.cli.state import global_options
    from platformctl.usecases.config import overridden, view

    if file is not None:
        global_options(ctx).config_file = file
    v = view(loaded_spec_from_ctx(ctx, sets=sets))
    rows = overridden(v)
    where = v.config_file or "defaults (no platform.yaml)"
    output.info(f"valid: {where}; {len(rows)} field(s) set by file, environment or flags")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
