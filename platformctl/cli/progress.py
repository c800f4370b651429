"""Progress for long commands: a rich live view on a terminal, plain timestamped lines otherwise.

The view is a Reporter (thread-safe: components report from worker threads). One line per step
(the cluster, then each component): its state, what it is doing or waiting on, and for how long.
At the end :func:`summary_table` shows each component's duration and a bar timeline of what ran in
parallel; :func:`print_failures` renders the engine's diagnostics of every failed component.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from platformctl.errors import PlatformError
from platformctl.reporting import Event

if TYPE_CHECKING:
    from platformctl.usecases.runner import ComponentRun, RunResult

ICONS = {
    "pending": ("·", "dim"),
    "running": ("…", "cyan"),
    "succeeded": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "skipped": ("−", "yellow"),
    "cancelled": ("■", "yellow"),
}


@dataclass
class _Line:
    name: str
    state: str = "pending"
    message: str = ""
    started: float | None = None
    finished: float | None = None
    since: float = field(default_factory=time.monotonic)  # when ``message`` last changed


def _rank(name: str) -> tuple[int, int]:
    """Cluster first, then components in their display order, then anything else (stable)."""
    from platformctl.plan.spec import COMPONENTS

    if name == "cluster":
        return (0, 0)
    if name in COMPONENTS:
        return (1, COMPONENTS.index(name))
    return (2, 0)


def _fmt_secs(seconds: float) -> str:
    seconds = max(seconds, 0.0)  # an event stamped just after the frame's clock read
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class ProgressView:
    """Reporter that draws the live view (TTY) or prints plain lines (pipes, CI, tests)."""

    def __init__(self, console: Console, order: Sequence[str] = (), *, live: bool | None = None) -> None:
        self.console = console
        self._lines: dict[str, _Line] = {n: _Line(n) for n in order}
        self._lock = threading.Lock()
        self._live_enabled = console.is_terminal if live is None else live
        self._live: Live | None = None
        self._t0 = time.monotonic()

    # -- Reporter ---------------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        with self._lock:
            line = self._lines.get(event.step)
            if event.kind == "pending":
                # The plan, announced before anything runs: every component's line from the start.
                if line is None:
                    self._lines[event.step] = _Line(event.step)
                return
            if line is None:
                if event.kind in ("log", "progress") and not self._live_enabled:
                    self._plain(event.step, event.message)
                    return
                line = self._lines[event.step] = _Line(event.step)
            plain: str | None = None
            if event.kind == "start":
                line.state, line.started, line.since = "running", event.at, event.at
                line.message = event.message or "starting"
                plain = line.message
            elif event.kind == "update":
                if event.message and event.message != line.message:
                    line.message, line.since = event.message, event.at
                    plain = event.message
            elif event.kind == "progress":
                # Live view only: a line per percent would drown plain output (CI logs).
                if event.total:
                    line.message = f"{event.message or 'working'} {event.done * 100 // event.total}%"
            elif event.kind == "finish":
                line.state, line.finished, line.message = "succeeded", event.at, event.message or "done"
                plain = f"done in {_fmt_secs(event.at - (line.started or event.at))}" + (
                    f" ({event.message})" if event.message else ""
                )
            elif event.kind == "fail":
                line.state, line.finished, line.message = "failed", event.at, event.message
                plain = f"FAILED: {event.message}"
            elif event.kind == "log":
                if event.message.startswith("skipped:"):
                    line.state, line.message = "skipped", event.message
                plain = event.message
            if plain is not None and not self._live_enabled:
                self._plain(event.step, plain)

    def _plain(self, step: str, message: str) -> None:
        stamp = _fmt_secs(time.monotonic() - self._t0)
        self.console.print(f"[{stamp:>6}] {step}: {message}", highlight=False, markup=False, soft_wrap=True)

    # -- live rendering ---------------------------------------------------------------------------
    def renderable(self) -> RenderableType:
        now = time.monotonic()
        with self._lock:
            lines = sorted(self._lines.values(), key=lambda ln: _rank(ln.name))
        rows: list[tuple[RenderableType, str, Text, str]] = []
        for line in lines:
            icon: RenderableType
            if line.state == "running":
                icon = Spinner("dots", style="cyan")
                when = f"for {_fmt_secs(now - line.since)} · {_fmt_secs(now - (line.started or now))}"
            else:
                glyph, style = ICONS.get(line.state, ("?", ""))
                icon = Text(glyph, style=style)
                end = line.finished or now
                when = _fmt_secs(end - line.started) if line.started is not None else ""
            rows.append((icon, line.name, Text(line.message), when))
        # The icon, name and duration keep their width; only a long message is cut (with "…").
        name_w = max((len(r[1]) for r in rows), default=0)
        when_w = max((len(r[3]) for r in rows), default=0)
        message_w = max(self.console.width - (2 + name_w + when_w + 3), 1)  # 3: the padding between
        table = Table.grid(padding=(0, 1))
        table.add_column(width=2, no_wrap=True)
        table.add_column(style="bold", no_wrap=True, width=name_w)
        table.add_column(width=message_w, overflow="ellipsis", no_wrap=True)
        table.add_column(justify="right", style="dim", no_wrap=True, width=when_w)
        for row in rows:
            table.add_row(*row)
        return table

    def __enter__(self) -> ProgressView:
        self._t0 = time.monotonic()
        if self._live_enabled:
            self._live = Live(
                get_renderable=self.renderable,
                console=self.console,
                refresh_per_second=4,
                transient=False,
            )
            self._live.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None


def timeline_bar(run: ComponentRun, t0: float, wall: float, width: int) -> Text:
    """``width`` cells spanning the whole run; the component's interval drawn as a bar."""
    if run.started is None or wall <= 0:
        return Text("·" * width, style="dim")
    start = int((run.started - t0) / wall * width)
    end = int(((run.finished or run.started) - t0) / wall * width + 0.5)
    start = min(max(start, 0), width - 1)
    end = min(max(end, start + 1), width)
    style = {"succeeded": "green", "failed": "red"}.get(run.status, "yellow")
    bar = Text("·" * start, style="dim")
    bar.append("█" * (end - start), style=style)
    bar.append("·" * (width - end), style="dim")
    return bar


def summary_table(
    result: RunResult, *, width: int = 24, title: str = "Summary", console_width: int | None = None
) -> RenderableType:
    """Each component's result, duration and timeline bar (only on terminals 100+ columns wide);
    long reasons go below the table."""
    from platformctl.cli.output import Col, simple_table

    rows = []
    for name in result.order:
        run = result.runs[name]
        glyph, style = ICONS.get(run.status, ("?", ""))
        detail = {"succeeded": run.summary, "failed": "see below"}.get(run.status, run.reason)
        rows.append(
            (
                name,
                Text(f"{glyph} {run.status}", style=style),
                _fmt_secs(run.duration) if run.started is not None else "-",
                timeline_bar(run, result.started, result.wall, width),
                Text(detail or ""),
            )
        )
    return simple_table(
        title,
        [
            Col("component"),
            Col("result"),
            Col("duration", justify="right"),
            Col(f"timeline (0 → {_fmt_secs(result.wall)})", needs_width=100, drop=1),
            Col("detail", kind="text", below=True),
        ],
        rows,
        width=console_width,
    )


def steps_table(result: RunResult, *, console_width: int | None = None) -> RenderableType:
    """Per-step timings (``-v``): where each component spent its time."""
    from platformctl.cli.output import Col, simple_table

    rows = [
        (
            name,
            Text(s.name),
            s.kind,
            _fmt_secs(s.started - result.started),
            _fmt_secs(s.duration),
            Text(s.detail),
        )
        for name in result.order
        for s in result.runs[name].steps
    ]
    return simple_table(
        "Steps",
        [
            Col("component"),
            Col("step", kind="text"),
            Col("kind", drop=1),
            Col("started", justify="right", drop=2),
            Col("duration", justify="right"),
            Col("result", kind="text", below=True),
        ],
        rows,
        width=console_width,
    )


def print_failures(console: Console, result: RunResult) -> None:
    """One panel per failed component: the error, the engine's diagnostics and the hint."""
    for name in result.with_status("failed"):
        run = result.runs[name]
        err = run.error
        body = Text()
        if isinstance(err, PlatformError):
            body.append(err.message + "\n", style="bold")
            for d in err.details:
                body.append(f"  {d}\n")
            if err.hint:
                body.append(f"hint: {err.hint}\n", style="yellow")
        else:
            body.append(f"{type(err).__name__}: {err}\n")
        steps = [s for s in run.steps if s.finished is not None]
        if steps:
            last = run.steps[-1]
            body.append(
                f"failed during {last.kind} step {last.name!r} after {_fmt_secs(last.duration)}\n",
                style="dim",
            )
        console.print(
            Panel(body, title=f"[bold red]{name} failed", title_align="left", border_style="red"),
            soft_wrap=False,  # the CLI consoles soft-wrap; diagnostics must wrap inside the panel
        )
