"""Everything the CLI prints goes through here: data to stdout (table/json/yaml), messages to stderr."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


def _no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


# The consoles ``out`` (stdout) and ``err`` (stderr) are created on first use: importing rich costs
# ~30-90 ms that `platformctl --help` does not need (benchmarks/cli_startup.py).
_consoles: dict[str, Console] = {}


def _console(name: str) -> Console:
    console = _consoles.get(name)
    if console is None:
        from rich.console import Console

        # file=None: rich writes to whatever sys.stdout/sys.stderr is at print time (test runners swap
        # them). Rich also reads NO_COLOR itself; passing it explicitly keeps behaviour obvious in tests.
        # emoji=False: user values such as a key ":v:" must print verbatim, not as "✌".
        console = Console(stderr=name == "err", no_color=_no_color(), soft_wrap=True, emoji=False)
        _consoles[name] = console
    return console


def __getattr__(name: str) -> Console:
    """``output.out`` / ``output.err``: the shared stdout/stderr consoles (created lazily)."""
    if name in ("out", "err"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def reset_consoles() -> None:
    """Forget the consoles so the next use re-reads NO_COLOR and the current sys.stdout/sys.stderr."""
    _consoles.clear()


def emit_data(data: Any, fmt: OutputFormat, table: Callable[[], Table] | None = None) -> None:
    """Print ``data`` as JSON/YAML to stdout, or the rich ``table`` when fmt is table."""
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    elif fmt is OutputFormat.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    elif table is not None:
        _console("out").print(table())
    else:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def simple_table(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, markup: bool = True
) -> Table:
    """A table of ``rows``. ``markup=False`` prints cells verbatim (user values such as "[/]")."""
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, header_style="bold", show_lines=False)
    for c in columns:
        # fold, never truncate: digests, URLs and sha256s must stay complete (and copyable).
        t.add_column(c, overflow="fold")
    for r in rows:
        cells = ("" if v is None else str(v) for v in r)
        t.add_row(*(cells if markup else (Text(c) for c in cells)))
    return t


def error(message: str, *, hint: str | None = None, details: Sequence[str] = ()) -> None:
    from rich.text import Text

    err = _console("err")
    # Text, not markup: user values ("[/]", "\\[", ":v:") must print verbatim.
    err.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False)
    for d in details:
        err.print(Text(f"  {d}"), highlight=False)
    if hint:
        err.print(Text.assemble(("hint:", "yellow"), " ", hint), highlight=False)


def info(message: str) -> None:
    _console("err").print(message, highlight=False, markup=False)
