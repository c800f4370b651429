"""`platformctl smoke-test`: real requests through the ingress to every app and model (exit 0: all pass)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx

if TYPE_CHECKING:
    from rich.table import Table

    from platformctl.usecases.smoke_test import SmokeReport


def _table(report: SmokeReport) -> Table:
    rows = [
        (
            r.id,
            r.url,
            "[green]pass[/]" if r.ok else "[red]FAIL[/]",
            f"{r.latency * 1000:.0f} ms" + (f" ({r.attempts} tries)" if r.attempts > 1 else ""),
            r.detail,
        )
        for r in report.results
    ]
    title = f"smoke-test ({report.discovered_from}" + (
        f", ingress {report.ingress})" if report.ingress else ")"
    )
    table = output.simple_table(title, ["CHECK", "URL", "RESULT", "LATENCY", "DETAIL"], rows)
    table.columns[1].overflow = "fold"
    table.caption = (
        f"{len(report.results) - len(report.failed())}/{len(report.results)} passed in "
        f"{report.total_seconds:.2f}s (slowest check {report.slowest:.2f}s)"
    )
    return table


def smoke_test(
    ctx: typer.Context,
    ingress: Annotated[
        str | None,
        typer.Option(
            "--ingress",
            metavar="HOST:PORT",
            help="Connect here instead of the IP a sslip.io/nip.io name embeds (port-forward, LB IP).",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Only these checks or groups (repeatable or comma-separated)."),
    ] = None,
    url: Annotated[
        list[str] | None,
        typer.Option("--url", metavar="NAME=URL", help="Knative Service URL override/addition (repeatable)."),
    ] = None,
    model_url: Annotated[
        list[str] | None,
        typer.Option("--model-url", metavar="NAME=URL", help="InferenceService URL override (repeatable)."),
    ] = None,
    path: Annotated[
        list[str] | None,
        typer.Option("--path", metavar="NAME=/PATH", help="What to request of a deploy-app app (default /)."),
    ] = None,
    no_cluster: Annotated[
        bool,
        typer.Option(
            "--no-cluster", help="Do not ask the cluster: targets from the spec's domain and --url."
        ),
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds per check incl. retries (default: timeouts.request)."),
    ] = None,
    retries: Annotated[int, typer.Option("--retries", help="Retries per check (backoff doubles).")] = 4,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not verify TLS certificates.")] = False,
    cacert: Annotated[
        Path | None,
        typer.Option("--cacert", help="CA bundle to verify https targets (e.g. a self-signed CA)."),
    ] = None,
    junit_xml: Annotated[Path | None, typer.Option("--junit-xml", help="Also write JUnit XML here.")] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """Check the ingress, every Knative Service and app, the conference app's routes and the iris model."""
    from platformctl.drivers.http import parse_ingress
    from platformctl.errors import CheckFailed, UsageError
    from platformctl.usecases import smoke_test as st

    spec = load_spec_from_ctx(ctx, sets=set_)
    endpoint = parse_ingress(ingress) if ingress else st.default_ingress(spec)
    services = st.parse_url_overrides(url or [], "--url")
    models = st.parse_url_overrides(model_url or [], "--model-url")
    app_paths = st.parse_app_paths(path or [])
    if retries < 0:
        raise UsageError(f"--retries: {retries} must be 0 or more")
    if timeout is not None and not timeout > 0:
        raise UsageError(f"--timeout: {timeout} must be more than 0 seconds")
    # checked before the run: a bad path must not cost a whole smoke test
    if junit_xml is not None and junit_xml.is_dir():
        raise UsageError(f"--junit-xml {junit_xml}: is a directory; give a file path")
    if junit_xml is not None and not junit_xml.parent.is_dir():
        raise UsageError(f"--junit-xml {junit_xml}: directory {junit_xml.parent} does not exist")
    if no_cluster:
        targets = (
            st.Targets(domain=spec.domain, source="--url")
            if services or models
            else st.targets_from_spec(spec)
        )
    else:
        from platformctl.cli.models_cmd import connect_engine

        targets = st.discover(connect_engine(ctx, spec), spec)
    targets = st.merge_targets(targets, services, models)
    unknown = sorted(set(app_paths) - set(targets.apps))
    if unknown:
        known = ", ".join(sorted(targets.apps)) or "none"
        raise UsageError(f"--path: no app named {unknown[0]!r}; apps: {known}")
    targets.app_paths.update(app_paths)
    checks = st.select(st.build_checks(targets), only or [])
    report = st.run_smoke_test(
        checks,
        ingress=endpoint,
        timeout=timeout if timeout is not None else spec.timeouts.request,
        retries=retries,
        verify=not insecure,
        ca_file=str(cacert) if cacert else None,
        discovered_from=targets.source,
    )
    if junit_xml is not None:
        try:
            junit_xml.write_text(st.to_junit_xml(report), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--junit-xml {junit_xml}: cannot write it ({exc.strerror or exc})") from exc
    output.emit_data(report.to_dict(), output_format, lambda: _table(report))
    if not report.ok:
        failed = report.failed()
        raise CheckFailed(
            f"smoke-test: {len(failed)} of {len(report.results)} checks failed: "
            + ", ".join(r.id for r in failed),
            details=[f"{r.id}: {r.url}: {r.detail}" for r in failed],
        )


def register(app: typer.Typer) -> None:
    app.command("smoke-test")(smoke_test)
