"""`platformctl doctor`: host checks before `up` (Docker, resources, tools, ports, DNS, inotify, arch);
with ``--context X`` also the existing-cluster checks `up` runs as preflight (usecases/preflight.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputOption, SetOption, load_spec_from_ctx

if TYPE_CHECKING:
    from rich.console import RenderableType

    from platformctl.usecases.doctor import CheckResult

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _table(results: list[CheckResult], wide: bool = False) -> RenderableType:
    from rich.text import Text

    C = output.Col
    return output.simple_table(
        "platformctl doctor",
        [C("check"), C("verdict"), C("detail", kind="text", below=True), C("fix", kind="text", note=True)],
        [(r.name, Text(r.verdict, style=_STYLE[r.verdict]), Text(r.detail), Text(r.fix)) for r in results],
        wide=wide,
    )


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
    context: Annotated[
        str | None,
        typer.Option(
            "--context",
            help="Also check this kubeconfig context as an existing cluster: API, version range, default "
            "StorageClass, permissions, LoadBalancer.",
        ),
    ] = None,
) -> None:
    """Check this machine for the platform: one verdict and one fix per check; exit 1 if any fails."""
    from platformctl.cli.context import command_context
    from platformctl.cli.state import global_options
    from platformctl.errors import CheckFailed
    from platformctl.usecases.doctor import DoctorProbes, exit_verdict, run_doctor
    from platformctl.usecases.preflight import cluster_doctor

    output.reset_consoles()
    spec = load_spec_from_ctx(ctx, sets=set_)
    the_context = context or global_options(ctx).context
    if the_context is not None:
        # An existing cluster: Docker and host ports are kind's needs, not this cluster's.
        spec = spec.model_copy(update={"cluster": spec.cluster.model_copy(update={"provider": "existing"})})
    cctx = command_context(ctx, spec, allow_download=not no_download)
    probes = DoctorProbes(tools=cctx.tool_resolver(cache_dir=cache_dir))
    results = run_doctor(spec, lock=cctx.lock, probes=probes)
    if the_context is not None:
        results += cluster_doctor(spec, cctx.kubeconfig, the_context, cctx.lock)
    output.emit_data(
        {"verdict": exit_verdict(results), "checks": [r.to_dict() for r in results]},
        fmt,
        lambda wide: _table(results, wide),
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
