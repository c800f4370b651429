"""`platformctl doctor`: host checks before `up` (Docker, resources, tools, ports, DNS, inotify, arch)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputOption, SetOption, load_spec_from_ctx

if TYPE_CHECKING:
    from rich.table import Table

    from platformctl.usecases.doctor import CheckResult

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _table(results: list[CheckResult]) -> Table:
    from rich.table import Table

    t = Table(title="platformctl doctor", header_style="bold", show_lines=False)
    t.add_column("check", no_wrap=True)
    t.add_column("verdict", no_wrap=True)
    t.add_column("detail", overflow="fold")
    t.add_column("fix", overflow="fold")
    for r in results:
        t.add_row(r.name, f"[{_STYLE[r.verdict]}]{r.verdict}[/]", r.detail, r.fix)
    return t


def doctor(
    ctx: typer.Context,
    fmt: OutputOption = output.OutputFormat.table,
    set_: SetOption = None,
    no_download: Annotated[
        bool, typer.Option("--no-download", help="Treat missing/off-version tools as failures.")
    ] = False,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", envvar="PLATFORMCTL_CACHE_DIR", help="Download cache.")
    ] = None,
) -> None:
    """Check this machine for the platform: one verdict and one fix per check; exit 1 if any fails."""
    from platformctl.cli.context import command_context
    from platformctl.errors import CheckFailed
    from platformctl.usecases.doctor import DoctorProbes, exit_verdict, run_doctor

    output.reset_consoles()
    spec = load_spec_from_ctx(ctx, sets=set_)
    cctx = command_context(ctx, spec, allow_download=not no_download)
    probes = DoctorProbes(tools=cctx.tool_resolver(cache_dir=cache_dir))
    results = run_doctor(spec, lock=cctx.lock, probes=probes)
    output.emit_data(
        {"verdict": exit_verdict(results), "checks": [r.to_dict() for r in results]},
        fmt,
        lambda: _table(results),
    )
    failed = [r for r in results if r.verdict == "fail"]
    if failed:
        raise CheckFailed(
            f"doctor: {len(failed)} check(s) failed: {', '.join(r.name for r in failed)}",
            details=[f"{r.name}: {r.fix}" for r in failed if r.fix],
        )
    warned = sum(1 for r in results if r.verdict == "warn")
    output.info(f"doctor: {len(results)} checks, {warned} warning(s), no failures")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
