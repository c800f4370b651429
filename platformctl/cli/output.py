"""Everything the CLI prints goes through here: data to stdout (table/json/yaml), messages to stderr."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text


class OutputFormat(StrEnum):
    table = "table"
    wide = "wide"  # the table with every column and full digests
    json = "json"
    yaml = "yaml"


def is_table(fmt: OutputFormat) -> bool:
    return fmt in (OutputFormat.table, OutputFormat.wide)


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


def emit_data(
    data: Any,
    fmt: OutputFormat,
    table: Callable[[], RenderableType] | Callable[[bool], RenderableType] | None = None,
) -> None:
    """Print ``data`` as JSON/YAML to stdout, or the ``table`` when fmt is table or wide. A ``table``
    taking one argument is told whether -o wide was asked for."""
    if fmt is OutputFormat.json:
        import json  # here, not at the top: `--help` never prints JSON (benchmarks/cli_startup.py)

        sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    elif fmt is OutputFormat.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))
    elif table is not None:
        import inspect

        wide = fmt is OutputFormat.wide
        renderable = table(wide) if inspect.signature(table).parameters else table()  # type: ignore[call-arg]
        _console("out").print(renderable)
    else:
        import json

        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def simple_table(
    title: str | None,
    columns: Sequence[str | Col],
    rows: Sequence[Sequence[Any]],
    *,
    markup: bool = True,
    wide: bool = False,
    width: int | None = None,
) -> RenderableType:
    """A table of ``rows`` that fits the terminal (see :func:`fit_table`); a plain column name is a
    ``token`` column (never split). ``markup=False`` prints cells verbatim (user values such as "[/]")."""
    cols = [c if isinstance(c, Col) else Col(c) for c in columns]
    return fit_table(title, cols, rows, markup=markup, wide=wide, width=width)


# ----------------------------------------------------------------------------- tables that fit
#
# Rules (issue 9): a value meant to be copied (URL, digest, path, command, key=value) is never split
# across lines; prose wraps only between words; when the table is wider than the terminal the
# low-value columns go first, then long prose moves below the table, and if the copyable values alone
# are wider than the terminal the rows print as plain aligned columns (like kubectl get) whose lines
# may run past the edge but are never broken. Non-terminal output (CI logs) is 80 columns wide.


@dataclass(frozen=True)
class Col:
    """One column of :func:`fit_table`.

    kind: ``token`` never split (URL, digest, path, name, command); ``text`` prose that wraps between
    words. drop: 0 always shown; otherwise dropped when the table does not fit, highest first.
    needs_width: shown only on a terminal at least this wide (or -o wide), e.g. a timeline bar.
    wide: shown only with -o wide.
    below: a long cell of this text column moves below the table ("see below").
    note: when the table does not fit, the whole column is listed below it (e.g. fix commands).
    abbrev: the cell is cut to this many characters unless -o wide (digests).
    key: names the row in the lines below the table (default: the first shown column)."""

    header: str
    kind: Literal["token", "text"] = "token"
    drop: int = 0
    needs_width: int = 0
    wide: bool = False
    below: bool = False
    note: bool = False
    key: bool = False
    abbrev: int = 0
    justify: Literal["left", "right"] = "left"


def _cell_text(value: Any, markup: bool) -> Text:
    from rich.text import Text

    if isinstance(value, Text):
        return value
    text = "" if value is None else str(value)
    return Text.from_markup(text) if markup else Text(text)


SHORT_CELL = 12  # a text cell this short is never moved below the table


def _table_width(widths: Sequence[int]) -> int:
    return sum(widths) + 3 * len(widths) + 1  # "│ cell " per column, and the closing "│"


def fit_table(
    title: str | None,
    columns: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    *,
    markup: bool = True,
    wide: bool = False,
    width: int | None = None,
) -> RenderableType:
    """Rows as a table that fits ``width`` (default: the stdout console's) without splitting tokens."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    width = width or _console("out").width
    cells = [[_cell_text(v, markup) for v in row] for row in rows]
    cols = list(range(len(columns)))
    for i, col in enumerate(columns):
        if col.abbrev and not wide:
            for row in cells:
                if len(row[i].plain) > col.abbrev:
                    row[i] = Text(row[i].plain[: col.abbrev])
    keep = [i for i in cols if wide or not columns[i].wide]
    keep = [i for i in keep if wide or not (columns[i].needs_width and width < columns[i].needs_width)]

    def natural(i: int) -> int:
        return max([len(columns[i].header), *(c[i].cell_len for c in cells)])

    def least(i: int) -> int:
        if columns[i].kind == "token":
            return natural(i)
        words = [len(w) for c in cells for w in c[i].plain.split()]
        return max([len(columns[i].header), min(natural(i), 16), *words])

    def fits(measure: Callable[[int], int]) -> bool:
        return _table_width([measure(i) for i in keep]) <= width

    below_notes: list[tuple[int, int, Text]] = []  # (row, column, text moved below the table)
    if not wide and not fits(natural):
        # A note column leaves the table whole first; its cells are listed below it.
        for i in [i for i in keep if columns[i].note]:
            keep.remove(i)
            below_notes += [(r, i, row[i]) for r, row in enumerate(cells) if row[i].plain.strip()]
    while not wide and not fits(least):  # -o wide: every column, as plain columns if need be
        droppable = [i for i in keep if columns[i].drop]
        if not droppable:
            break
        keep.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    if not fits(natural):
        # Long prose goes below the table rather than into a narrow cell: a cell that would take
        # more than two lines of its share of the width, or any line of a share under 20 columns.
        prose = [i for i in keep if columns[i].kind == "text"]
        fixed = sum(natural(i) for i in keep if i not in prose)
        room = width - (3 * len(keep) + 1) - fixed
        total = sum(natural(i) for i in prose) or 1
        for i in prose:
            share = max(room * natural(i) // total, 0)
            if not columns[i].below:
                continue
            for r, row in enumerate(cells):
                size = row[i].cell_len
                if size <= SHORT_CELL:
                    continue  # "yes", "no: x" stay in their cell however narrow the table
                if size > 2 * share or (share < 20 and size > share):
                    below_notes.append((r, i, row[i]))
                    row[i] = Text("see below", style="dim")
        below_notes.sort(key=lambda n: (n[0], n[1]))
    parts: list[RenderableType] = []
    if title:
        parts.append(Text(title, style="bold"))
    if fits(least):
        t = Table(header_style="bold", show_lines=False)
        for i in keep:
            col = columns[i]
            if col.kind == "token":
                t.add_column(col.header, no_wrap=True, min_width=natural(i), justify=col.justify)
            else:
                t.add_column(col.header, overflow="fold", min_width=least(i), justify=col.justify)
        for row in cells:
            t.add_row(*(row[i] for i in keep))
        parts.append(t)
    else:
        parts.extend(_plain_columns(columns, keep, cells, natural))
    label = next((i for i, c in enumerate(columns) if c.key), keep[0] if keep else None)
    for r, i, note in below_notes:
        line = Text(f"  {cells[r][label].plain}: " if label is not None else "  ")
        if columns[i].header:
            line.append(f"{columns[i].header.lower()}: ", style="dim")
        line.append_text(note)
        parts.append(line)
    return Group(*parts)


def _plain_columns(
    columns: Sequence[Col],
    keep: Sequence[int],
    cells: Sequence[Sequence[Text]],
    natural: Callable[[int], int],
) -> list[RenderableType]:
    """kubectl-style rows: no borders, columns padded with two spaces, nothing wrapped or cut."""
    from rich.text import Text

    widths = {i: natural(i) for i in keep}
    lines: list[RenderableType] = []
    header = Text("  ".join(columns[i].header.upper().ljust(widths[i]) for i in keep).rstrip(), style="bold")
    lines.append(header)
    for row in cells:
        line = Text()
        for n, i in enumerate(keep):
            cell = row[i].copy()
            if n < len(keep) - 1:
                cell.pad_right(widths[i] - cell.cell_len + 2)
            line.append_text(cell)
        line.rstrip()
        lines.append(line)
    return lines


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
