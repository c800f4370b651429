"""Root Typer app: global options, command registration, and the one place errors become exit codes.

Only typer and rich are imported at module top (``platformctl --help`` stays fast); command modules
import kubernetes/pyhelm3/httpx/jinja2 inside the functions that need them.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer

from platformctl import __version__
from platformctl.cli import output
from platformctl.cli.state import GlobalOptions
from platformctl.errors import EXIT_CODES, Interrupted, PlatformError

app = typer.Typer(
    name="platformctl",
    help="A laptop with Docker → Istio, Knative, cert-manager, KServe and Dapr on kind, in one command.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain (click) help: rich help panels import rich + markdown-it and doubled `--help` time
    # (≈300 ms vs ≈150 ms; benchmarks/cli_startup.py). Command output still uses rich (cli/output.py).
    rich_markup_mode=None,
    epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()),
)

# Command modules, each exposing ``register(app)``. A command is listed only when it really works.
COMMAND_MODULES: tuple[str, ...] = (
    "bundle_cmd",
    "config_cmd",
    "versions_cmd",
    "platform_cmd",
    "tools_cmd",
    "doctor_cmd",
    "models_cmd",
    "smoke_cmd",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"platformctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", envvar="KUBECONFIG", help="Path to the kubeconfig file.")
    ] = None,
    context: Annotated[str | None, typer.Option("--context", help="Kubeconfig context to use.")] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "-f",
            "--config",
            envvar="PLATFORMCTL_CONFIG",
            help="Platform spec file (default: ./platform.yaml if present).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Show tracebacks and debug detail.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    ctx.obj = GlobalOptions(kubeconfig=kubeconfig, context=context, config_file=config, verbose=verbose)


def _register() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"platformctl.cli.{name}").register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map exceptions to documented exit codes."""
    verbose = any(a in ("-v", "--verbose") for a in (argv if argv is not None else sys.argv[1:]))
    # Re-bind the consoles to this process's streams and NO_COLOR (the test runner swaps both).
    output.reset_consoles()
    try:
        rc = app(args=argv, standalone_mode=False)
    except PlatformError as exc:
        if verbose:
            traceback.print_exc()
        output.error(exc.message, hint=exc.hint, details=exc.details)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        exc2 = Interrupted("interrupted; nothing was left half-applied that a re-run will not finish")
        output.error(exc2.message)
        sys.exit(exc2.exit_code)
    except SystemExit:
        raise
    except typer.Abort:
        output.error("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors from option parsing (typer vendors click)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            output.error(exc.format_message())
        sys.exit(exc.exit_code)
    except Exception as exc:  # our bugs: one line, traceback only with --verbose
        if verbose:
            traceback.print_exc()
        output.error(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="re-run with --verbose for the traceback and report it",
        )
        sys.exit(70)
    sys.exit(rc if isinstance(rc, int) else 0)
