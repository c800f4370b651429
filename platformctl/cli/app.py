"""Root Typer app: global options, command registration, and the one place errors become exit codes.

Only typer is imported at module top and command modules load lazily (``platformctl --help`` stays
fast): the root group lists commands from a static table and imports a command's module only when
that command is resolved. Command modules import kubernetes/pyhelm3/httpx/jinja2 inside functions.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer
from typer import _click as click  # typer 0.29 vendors click; there is no separate click package
from typer._click.utils import make_default_short_help

from platformctl import __version__
from platformctl.cli import output
from platformctl.cli.common import complete_contexts
from platformctl.cli.state import GlobalOptions
from platformctl.errors import EXIT_CODES, Interrupted, PlatformError

# Command modules, each exposing ``register(app)``. A command is listed only when it really works.
# A new module also needs its commands in LAZY_COMMANDS below (the table test says what to add).
COMMAND_MODULES: tuple[str, ...] = (
    "bundle_cmd",
    "config_cmd",
    "versions_cmd",
    "platform_cmd",
    "tools_cmd",
    "doctor_cmd",
    "models_cmd",
    "predict_cmd",
    "smoke_cmd",
    "apps_cmd",
    "images_cmd",
    "cache_cmd",
    "version_cmd",
)


INTERRUPTED_MESSAGE = "interrupted; nothing was left half-applied that a re-run will not finish"


class LazyCommand(NamedTuple):
    module: str  # in COMMAND_MODULES
    help: str  # the command's short help, untruncated: get_short_help_str(limit=10_000)


# Every top-level command, in help order (typer lists plain commands before groups). Listing these
# without importing their modules is what keeps `platformctl --help` fast. Adding a command module
# means adding its commands here; tests/cli/test_lazy_commands.py fails until the table matches.
LAZY_COMMANDS: dict[str, LazyCommand] = {
    "bundle": LazyCommand(
        "bundle_cmd", "Download every pinned manifest into DIR (verified), or check DIR with --verify."
    ),
    "versions": LazyCommand(
        "versions_cmd",
        "Show the version sets side by side, then the selected set's pins and every file (URL, sha256).",
    ),
    "up": LazyCommand(
        "platform_cmd",
        "Create (or reuse) the cluster and install every enabled component; safe to re-run (resumes).",
    ),
    "down": LazyCommand(
        "platform_cmd",
        "Remove the platform: delete the kind/minikube cluster, or prune every component from an existing "
        "cluster.",
    ),
    "status": LazyCommand(
        "platform_cmd",
        "Each component's version and health (with the reason), and the URLs of Knative Services and "
        "InferenceServices in all namespaces.",
    ),
    "render": LazyCommand(
        "platform_cmd",
        "Print every object `up` would apply (chart renders included), one file per component; "
        "deterministic.",
    ),
    "doctor": LazyCommand(
        "doctor_cmd",
        "Check this machine for the platform: one verdict and one fix per check; exit 1 if any fails.",
    ),
    "deploy-model": LazyCommand(
        "models_cmd",
        "Serve a model with KServe: render, apply, wait for Ready, print the URL and a request to paste.",
    ),
    "predict": LazyCommand(
        "predict_cmd",
        "Send an inference request to a model through the ingress; print the answer, status and latency.",
    ),
    "smoke-test": LazyCommand(
        "smoke_cmd",
        "Check the ingress, every Knative Service and app, the conference app's routes and the iris model.",
    ),
    "deploy-app": LazyCommand(
        "apps_cmd",
        "Run a container on Knative (+ Dapr): render, apply, wait for Ready, print the URL and requests.",
    ),
    "images": LazyCommand(
        "images_cmd",
        "List every image the enabled platform runs, the component needing it and how it is pinned.",
    ),
    "version": LazyCommand(
        "version_cmd",
        "Client version; with a reachable cluster also its server version and installed components.",
    ),
    "config": LazyCommand(
        "config_cmd", "Show the effective platform spec, write a commented platform.yaml, or validate one."
    ),
    "tools": LazyCommand(
        "tools_cmd",
        "kind, helm and kubectl: which binaries platformctl uses (`tools`), or fetch the pinned ones "
        "(`tools install`).",
    ),
    "models": LazyCommand("models_cmd", "InferenceServices on the cluster."),
    "apps": LazyCommand("apps_cmd", "Apps deployed with deploy-app: list, describe, promote, delete, logs."),
    "cache": LazyCommand(
        "cache_cmd",
        "The pull-through registry caches kind clusters pull through: size, hits; prune or remove them.",
    ),
}

# Typer settings the root passes down to every command it builds; a module's commands are built
# with the same ones so lazy and eager registration produce identical commands.
_TYPER_SETTINGS: dict[str, Any] = {
    "pretty_exceptions_enable": False,
    # Plain (click) help: rich help panels import rich + markdown-it and doubled `--help` time
    # (≈300 ms vs ≈150 ms; benchmarks/cli_startup.py). Command output still uses rich (cli/output.py).
    "rich_markup_mode": None,
}


def module_commands(module: str) -> dict[str, click.Command]:
    """Import one command module and build its top-level commands exactly as the root app would."""
    scratch = typer.Typer(**_TYPER_SETTINGS)
    importlib.import_module(f"platformctl.cli.{module}").register(scratch)
    # get_group, not get_command: a module registering a single command must not become the root.
    return dict(typer.main.get_group(scratch).commands)


class _LazyCommands(MutableMapping[str, click.Command]):
    """``TyperGroup.commands`` whose keys come from LAZY_COMMANDS and whose values are built on first
    lookup, one module at a time. Inherited group code (resolution, "did you mean", completion) keeps
    working unchanged; only looking a command up imports its module."""

    def __init__(self, eager: Mapping[str, click.Command]) -> None:
        self._loaded: dict[str, click.Command] = dict(eager)
        self._removed: set[str] = set()

    def is_loaded(self, name: str) -> bool:
        return name in self._loaded

    def __getitem__(self, name: str) -> click.Command:
        if name in self._removed:
            raise KeyError(name)
        if name not in self._loaded and name in LAZY_COMMANDS:
            module = LAZY_COMMANDS[name].module
            built = module_commands(module)
            if name not in built:  # the table drifted from the module (the table test catches this)
                raise RuntimeError(f"platformctl.cli.{module} does not define command {name!r}")
            for key, command in built.items():
                self._loaded.setdefault(key, command)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._removed.discard(name)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._loaded.pop(name, None)
        self._removed.add(name)

    def __contains__(self, name: object) -> bool:  # without importing anything
        return (name in LAZY_COMMANDS or name in self._loaded) and name not in self._removed

    def __iter__(self) -> Iterator[str]:
        names = dict.fromkeys([*LAZY_COMMANDS, *self._loaded])
        return (name for name in names if name not in self._removed)

    def __len__(self) -> int:
        return sum(1 for _ in self)


# Root options that take a value, and root flags. kubectl and helm accept their global options after
# the subcommand too (`platformctl status --context x`, `platformctl up -v`): LazyGroup.parse_args
# moves them in front of the subcommand unless that command has an option of the same name.
GLOBAL_VALUE_OPTIONS = ("--kubeconfig", "--context", "-f", "--config")
GLOBAL_FLAGS = ("-v", "--verbose")
HELP_OPTIONS = ["-h", "--help"]


def _option_names(command: click.Command, *, values_only: bool = False) -> set[str]:
    """The option names of ``command``; with ``values_only``, only those that take a value."""
    names: set[str] = set()
    for param in command.params:
        if values_only and (
            param.param_type_name != "option"
            or getattr(param, "is_flag", False)
            or getattr(param, "count", False)
            or param.nargs == 0
        ):
            continue
        names.update(getattr(param, "opts", ()))
        if not values_only:
            names.update(getattr(param, "secondary_opts", ()))
    return names


def hoist_global_options(
    args: list[str],
    command_options: Callable[[str], set[str]],
    value_options: Callable[[str], set[str]] | None = None,
) -> list[str]:
    """``args`` with the global options that follow the subcommand moved in front of it.

    ``command_options(name)``: the option names the subcommand (and its subcommands) define; those
    stay where they are, and so does the value after one that takes a value (``value_options``):
    ``deploy-model m --args -v`` passes ``-v`` to ``--args``. Nothing after ``--`` moves."""
    i = 0
    while i < len(args):  # the root's own options, up to the subcommand
        arg = args[i]
        if arg == "--" or not arg.startswith("-"):
            break
        i += 2 if arg in GLOBAL_VALUE_OPTIONS else 1
    if i >= len(args) or args[i] == "--":
        return args
    own = command_options(args[i])
    takes_value = value_options(args[i]) if value_options else set()
    head, tail, moved = args[: i + 1], args[i + 1 :], []
    kept: list[str] = []
    j = 0
    while j < len(tail):
        arg = tail[j]
        if arg == "--":
            kept += tail[j:]
            break
        name = arg.split("=", 1)[0] if arg.startswith("--") else arg
        if name in own:
            kept.append(arg)
            if name in takes_value and "=" not in arg and j + 1 < len(tail):
                kept.append(tail[j + 1])
                j += 2
                continue
        elif name in GLOBAL_VALUE_OPTIONS and "=" not in arg and j + 1 < len(tail):
            moved += tail[j : j + 2]
            j += 2
            continue
        elif name in GLOBAL_VALUE_OPTIONS or name in GLOBAL_FLAGS:
            moved.append(arg)
        else:
            kept.append(arg)
        j += 1
    return [*head[:-1], *moved, head[-1], *kept]


class LazyGroup(typer.core.TyperGroup):
    """Root group that imports a command module only when one of its commands is looked up."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        def command_options(name: str) -> set[str]:
            command = self.commands.get(name) if name in self.commands else None
            if command is None:
                return set()
            names = _option_names(command)
            for sub in getattr(command, "commands", {}).values():  # models list, config show, ...
                names |= _option_names(sub)
            return names

        def value_options(name: str) -> set[str]:
            command = self.commands.get(name) if name in self.commands else None
            if command is None:
                return set()
            names = _option_names(command, values_only=True)
            for sub in getattr(command, "commands", {}).values():
                names |= _option_names(sub, values_only=True)
            return names

        return super().parse_args(ctx, hoist_global_options(list(args), command_options, value_options))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # keys only: TyperGroup's version reads every value

    def invoke(self, ctx: click.Context) -> Any:
        # Typer turns a KeyboardInterrupt raised inside a command into a silent Exit(130); re-raise it
        # as Interrupted so main() prints the documented one-line message (exit code 130 either way).
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise Interrupted(INTERRUPTED_MESSAGE) from exc

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """TyperGroup.format_commands with the short help of not-yet-loaded commands from the table."""
        commands = self.commands
        rows: list[tuple[str, str | None]] = []  # (name, table help) or (name, None): ask the command
        for name in self.list_commands(ctx):
            if isinstance(commands, _LazyCommands) and name in LAZY_COMMANDS and not commands.is_loaded(name):
                rows.append((name, LAZY_COMMANDS[name].help))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, None))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)  # as click/typer compute it
        lines = []
        for name, table_help in rows:
            if table_help is not None:
                lines.append((name, make_default_short_help(table_help, limit)))
            else:
                cmd = self.get_command(ctx, name)
                assert cmd is not None
                lines.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(lines)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"platformctl {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            "--kubeconfig",
            help="One kubeconfig file, never split (default: the files $KUBECONFIG lists, merged as "
            "kubectl merges them, else ~/.kube/config).",
        ),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option("--context", help="Kubeconfig context to use.", autocompletion=complete_contexts),
    ] = None,
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
    _PARSED["verbose"] = verbose
    # Here, not in main: `--help` and usage errors never get this far, and run no library code to quiet
    # (importing logging costs ≈7 ms of every start-up: benchmarks/cli_startup.py).
    quiet_libraries(verbose)


# What the root callback parsed, for main's error handling: "-v" after `--args` is an argument's
# value, not --verbose, and only the parser knows (main's argv scan is the fallback before parsing).
_PARSED: dict[str, bool] = {}


def build_app(*, lazy: bool = True) -> typer.Typer:
    """The root app. ``lazy=False`` registers every command module up front, as platformctl did before
    lazy loading; tests compare the two."""
    new = typer.Typer(
        name="platformctl",
        help="A laptop with Docker → Istio, Knative, cert-manager, KServe and Dapr on kind, in one command.",
        no_args_is_help=True,
        context_settings={"help_option_names": HELP_OPTIONS},  # -h as --help, inherited by every command
        epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()),
        cls=LazyGroup if lazy else typer.core.TyperGroup,
        **_TYPER_SETTINGS,
    )
    new.callback()(root)
    if not lazy:
        for name in COMMAND_MODULES:
            importlib.import_module(f"platformctl.cli.{name}").register(new)
    return new


app = build_app()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and map exceptions to documented exit codes."""
    verbose = any(a in ("-v", "--verbose") for a in (argv if argv is not None else sys.argv[1:]))
    # Re-bind the consoles to this process's streams and NO_COLOR (the test runner swaps both).
    output.reset_consoles()
    _PARSED.clear()
    try:
        rc = app(args=argv, standalone_mode=False)
    except PlatformError as exc:
        verbose = _PARSED.get("verbose", verbose)
        if verbose:
            _print_traceback()
        output.error(exc.message, hint=exc.hint, details=exc.details)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        exc2 = Interrupted(INTERRUPTED_MESSAGE)
        output.error(exc2.message)
        sys.exit(exc2.exit_code)
    except SystemExit:
        raise
    except typer.Abort:  # a confirmation prompt declined, interrupted or left without an answer
        output.error("aborted: nothing was changed", hint="answer y, or pass --yes to skip the question")
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors from option parsing (typer vendors click)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            output.error(exc.format_message())
        sys.exit(exc.exit_code)
    except Exception as exc:  # our bugs: one line, traceback only with --verbose
        verbose = _PARSED.get("verbose", verbose)
        if verbose:
            _print_traceback()
        output.error(
            f"internal error: {type(exc).__name__}: {exc}",
            hint="re-run with --verbose for the traceback and report it",
        )
        sys.exit(70)  # EXIT_CODES[70]
    sys.exit(rc if isinstance(rc, int) else 0)


def quiet_libraries(verbose: bool) -> None:
    """Library warnings (urllib3's InsecureRequestWarning, the kube client's retry and root-logger
    lines) reach the terminal only with -v; every message platformctl means to print goes through
    cli/output.py. Records still reach handlers that code adds on purpose (drivers/kube/connect.py
    reads the kube client's exec-plugin error that way)."""
    import logging
    import warnings

    root = logging.getLogger()
    if verbose:
        warnings.simplefilter("default")
        if not any(isinstance(h, logging.StreamHandler) for h in root.handlers):
            logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return
    warnings.simplefilter("ignore")
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())  # no handler at all would print via logging.lastResort


def _print_traceback() -> None:
    import traceback  # only on errors with --verbose: importing it costs ≈4 ms of every start-up

    traceback.print_exc()
