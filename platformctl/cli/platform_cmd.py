"""``platformctl up | down | status | render``: the platform lifecycle commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from platformctl.cli import output
from platformctl.cli.common import (
    OutputFormat,
    OutputOption,
    SetOption,
    complete_components,
    confirm,
    finite_seconds,
    load_spec_from_ctx,
    split_names,
)
from platformctl.cli.state import global_options

if TYPE_CHECKING:
    from rich.console import RenderableType

    from platformctl.usecases.render import SourceOptions, ValidationReport
    from platformctl.usecases.status import StatusResult

OnlyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        metavar="COMPONENT",
        help="Run only this component (repeatable or comma-separated).",
        autocompletion=complete_components,
    ),
]
SkipOption = Annotated[
    list[str] | None,
    typer.Option(
        "--skip",
        metavar="COMPONENT",
        help="Leave this component out (repeatable or comma-separated).",
        autocompletion=complete_components,
    ),
]
ManifestsDirOption = Annotated[
    Path | None,
    typer.Option(
        "--manifests-dir",
        envvar="PLATFORMCTL_MANIFESTS_DIR",
        help="Offline bundle of pinned manifests (<component>/<version>/<file>, from `platformctl bundle`).",
    ),
]
ChartsDirOption = Annotated[
    Path | None,
    typer.Option(
        "--charts-dir",
        help="Local Helm chart archives (<chart>-<version>.tgz), sha256-verified against the lock.",
    ),
]
AllowUnpinnedOption = Annotated[
    bool,
    typer.Option(
        "--allow-unpinned-charts",
        help="Use chart archives or unpacked charts that match no pinned digest (experts only).",
    ),
]
NoDownloadOption = Annotated[
    bool, typer.Option("--no-download", help="Never download: use only the bundle and the cache.")
]


def _sources(
    manifests_dir: Path | None, charts_dir: Path | None, no_download: bool, allow_unpinned: bool = False
) -> SourceOptions:
    from platformctl.errors import UsageError
    from platformctl.usecases.render import SourceOptions

    if charts_dir is not None and not charts_dir.is_dir():
        raise UsageError(
            f"--charts-dir {charts_dir}: not a directory; pass a directory of charts "
            "(<chart>/ or <chart>-<version>.tgz) or leave the flag out to use the pinned repos"
        )
    return SourceOptions(
        manifests_dir=manifests_dir,
        charts_dir=charts_dir,
        allow_download=not no_download,
        allow_unpinned_charts=allow_unpinned,
    )


def up(
    ctx: typer.Context,
    only: OnlyOption = None,
    skip: SkipOption = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=1,
            callback=finite_seconds,
            help="Deadline per component in seconds, 1 to 86400 (default timeouts.component).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Change nothing: server-side dry-run if the cluster exists, else render only."
        ),
    ] = False,
    manifests_dir: ManifestsDirOption = None,
    charts_dir: ChartsDirOption = None,
    allow_unpinned_charts: AllowUnpinnedOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a same-named cluster platformctl did not create.")
    ] = False,
    force_conflicts: Annotated[
        bool, typer.Option("--force-conflicts", help="Take over fields owned by other field managers.")
    ] = False,
    no_download: NoDownloadOption = False,
    skip_preflight: Annotated[
        bool,
        typer.Option(
            "--skip-preflight",
            help="Do not check sources, Docker/ports or the cluster before starting (experts only).",
        ),
    ] = False,
    sets: SetOption = None,
    prepull: Annotated[
        bool | None,
        typer.Option(
            "--prepull/--no-prepull",
            help="Pull every image into the kind node(s) in the background while installing "
            "(default: on for kind). See docs/images.md.",
        ),
    ] = None,
    fmt: Annotated[
        OutputFormat,
        typer.Option(
            "-o",
            "--output",
            case_sensitive=False,
            help="table (default: progress and summary on stderr), or json/yaml: also the result on stdout "
            "(per component status, object actions and timings).",
        ),
    ] = OutputFormat.table,
) -> None:
    """Create (or reuse) the cluster and install every enabled component; safe to re-run (resumes)."""
    from platformctl.cli.context import command_context
    from platformctl.cli.progress import ProgressView, print_failures, steps_table, summary_table
    from platformctl.usecases.runner import RunInterrupted
    from platformctl.usecases.up import UpOptions, up_command

    output.reset_consoles()  # Typer's test runner swaps sys.stdout/sys.stderr per invocation
    spec = load_spec_from_ctx(ctx, sets=sets)
    sources = _sources(manifests_dir, charts_dir, no_download, allow_unpinned_charts)
    opts = UpOptions(
        only=split_names(only),
        skip=split_names(skip),
        timeout=timeout,
        dry_run=dry_run,
        force_conflicts=force_conflicts,
        skip_preflight=skip_preflight,
        prepull=prepull,
    )
    console = output.err
    try:
        # The use-case announces its plan (``pending`` events): every component's line from the start.
        with ProgressView(console) as view:
            cctx = command_context(ctx, spec, reporter=view, force=force, sources=sources)
            result = up_command(cctx, opts)
    except RunInterrupted as exc:
        console.print(summary_table(exc.result, title="Interrupted", console_width=console.width))
        raise
    if not output.is_table(fmt):
        output.emit_data(result.as_dict(), fmt)
    if result.run is None:
        output.info(
            f"dry run, render only ({result.render_reason}): rendered {result.rendered_objects} "
            f"objects for {', '.join(result.plan.order)}; nothing was changed"
        )
        return
    console.print(summary_table(result.run, console_width=console.width))
    if result.prepull is not None:
        output.info(f"images: {result.prepull.summary()}")
    if global_options(ctx).verbose:
        console.print(steps_table(result.run, console_width=console.width))
    if not result.run.ok:
        print_failures(console, result.run)
        result.run.raise_for_failure(rerun="platformctl up")
    if result.mode == "server-dry-run":
        pruned = f" ({result.pruned} pruned: no longer rendered)" if result.pruned else ""
        output.info(
            f"server dry-run on {result.context}: {result.changed} objects would change{pruned}; "
            "nothing was changed"
        )
    elif result.changed == 0:
        output.info(f"platform up to date on {result.context} in {result.run.wall:.1f}s (nothing changed)")
    else:
        output.info(
            f"platform ready on {result.context} in {result.run.wall:.1f}s "
            f"({result.changed} objects changed); see URLs with `platformctl status`"
        )


def down(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Delete a kind/minikube cluster platformctl did not create.")
    ] = False,
    sets: SetOption = None,
) -> None:
    """Remove the platform: delete the kind/minikube cluster, or prune every component from an existing
    cluster."""
    from platformctl.cli.context import command_context
    from platformctl.cli.progress import ProgressView
    from platformctl.usecases.down import down_command

    output.reset_consoles()  # Typer's test runner swaps sys.stdout/sys.stderr per invocation
    spec = load_spec_from_ctx(ctx, sets=sets)
    from platformctl.providers import manages_cluster

    # Deleting a cluster platformctl created needs no prompt; pruning a shared cluster does.
    confirmed = yes or manages_cluster(spec.cluster.provider)
    cctx = command_context(ctx, spec, force=force)
    asked = not confirmed
    if asked:
        # Connect first so that the question names the cluster that would be pruned. Declined → exit 1;
        # no terminal to ask (CI) → exit 5 naming --yes; Ctrl-C → 130.
        engine = cctx.engine
        confirm(
            f"Remove every platformctl-managed component from context {engine.context_name} "
            f"({engine.server})?",
            refusal=f"down would delete every platformctl-managed object on context {engine.context_name} "
            f"({engine.server}); confirm interactively or pass --yes",
        )
        confirmed = True
    with ProgressView(output.err) as view:
        result = down_command(cctx, confirmed=confirmed, reporter=view)
    if manages_cluster(result.provider):
        output.info(
            f"deleted {result.provider} cluster {result.target}"
            if result.cluster_deleted
            else f"no {result.provider} cluster named {result.target}; nothing to do"
        )
    else:
        total = sum(result.pruned.values())
        output.info(f"removed {total} objects from {result.target}")


def _status_tables(res: StatusResult, wide: bool = False) -> Any:
    from rich.console import Group

    C = output.Col
    comps = output.simple_table(
        f"Platform on {res.context} ({res.server})",
        [C("component"), C("version", kind="text"), C("health"), C("reason", kind="text", below=True)],
        [(c.name, c.version, "healthy" if c.healthy else "NOT healthy", c.reason) for c in res.components],
        markup=False,
        wide=wide,
    )
    if not res.endpoints:
        return comps
    # URLs are what users copy: never split them (the kind column goes first, long reasons go below).
    urls = output.simple_table(
        "URLs",
        [C("kind", drop=1), C("namespace/name"), C("url"), C("ready", kind="text", below=True)],
        [
            (e.kind, f"{e.namespace}/{e.name}", e.url, "yes" if e.ready else f"no: {e.reason}")
            for e in res.endpoints
        ],
        markup=False,
        wide=wide,
    )
    return Group(comps, urls)


def status(
    ctx: typer.Context,
    fmt: OutputOption = OutputFormat.table,
    sets: SetOption = None,
) -> None:
    """Each component's version and health (with the reason), and the URLs of Knative Services and
    InferenceServices in all namespaces."""
    from platformctl.cli.context import command_context
    from platformctl.usecases.status import status as status_usecase

    output.reset_consoles()  # Typer's test runner swaps sys.stdout/sys.stderr per invocation
    spec = load_spec_from_ctx(ctx, sets=sets)
    cctx = command_context(ctx, spec)
    engine = cctx.engine  # first: a cluster that does not exist is reported as such
    res = status_usecase(cctx.cluster_spec, engine, cctx.render_context)
    if output.is_table(fmt):
        output.out.print(_status_tables(res, fmt is OutputFormat.wide))
    else:
        output.emit_data(res.as_dict(), fmt)
    unhealthy = [c.name for c in res.components if c.enabled and not c.healthy]
    if unhealthy:
        from platformctl.errors import CheckFailed

        # exit 1, like doctor and smoke-test: scripts can wait for `platformctl status` to succeed
        raise CheckFailed(
            f"{len(unhealthy)} component(s) not healthy on {res.context}: {', '.join(unhealthy)}",
            hint="the reasons are above; `platformctl up` installs or repairs them",
        )


def _validation_table(report: ValidationReport) -> RenderableType:
    from rich.console import Group
    from rich.text import Text

    rows = [
        (c.name, c.objects, c.valid, c.invalid, len(c.no_schema), len(c.free_form)) for c in report.components
    ]
    table = output.simple_table(
        f"render --validate (strict, Kubernetes {report.kubernetes_version})",
        [
            output.Col("component"),
            *(output.Col(h, justify="right") for h in ("objects", "valid", "invalid", "no schema")),
            output.Col("free-form kinds", justify="right"),
        ],
        rows,
        width=output.err.width,  # the summary goes to stderr
    )
    notes: list[Text] = []
    for c in report.components:
        notes += [Text(f"{c.name}: no schema, not checked: {label}") for label in c.no_schema]
    free = sorted({k: len(v) for c in report.components for k, v in c.free_form.items()}.items())
    if free:
        notes.append(
            Text(
                "accepted unchecked (x-kubernetes-preserve-unknown-fields in the CRD; -o json lists paths): "
                + ", ".join(f"{k} ({n} paths)" for k, n in free)
            )
        )
    notes.append(Text(f"validated in {report.seconds:.1f}s"))
    return Group(table, *notes)


def render(
    ctx: typer.Context,
    out_arg: Annotated[
        str | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Write NN-<component>.yaml files into this directory (default: stdout).",
        ),
    ] = None,
    only: OnlyOption = None,
    skip: SkipOption = None,
    manifests_dir: ManifestsDirOption = None,
    charts_dir: ChartsDirOption = None,
    allow_unpinned_charts: AllowUnpinnedOption = False,
    no_download: NoDownloadOption = False,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate",
            help="Also validate every object offline, strictly (unknown fields are errors): core kinds "
            "against the pinned Kubernetes minor, custom resources against their CRDs (from this render "
            "or the pinned upstream files). Summary on stderr (-o json/yaml: stdout, needs --out); "
            "exit 1 listing each error.",
        ),
    ] = False,
    fmt: OutputOption = OutputFormat.table,
    sets: SetOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files in --out that platformctl render did not write.")
    ] = False,
) -> None:
    """Print every object `up` would apply (chart renders included), one file per component; deterministic.

    With --validate, check them offline in strict mode (no cluster needed): kinds with no schema and
    CRD fields that accept anything are reported, never silently passed.
    """
    from platformctl.cli.context import command_context
    from platformctl.errors import CheckFailed, UsageError
    from platformctl.usecases.render import render_command

    output.reset_consoles()  # Typer's test runner swaps sys.stdout/sys.stderr per invocation

    if out_arg is not None and not out_arg.strip():
        # Path("") is ".": an empty --out (an unset shell variable) would write into the current directory
        raise UsageError(
            "--out: empty path; give a directory (created if missing), or leave --out out for stdout"
        )
    out = Path(out_arg).expanduser() if out_arg is not None else None
    if fmt is not OutputFormat.table and not (validate and out is not None):
        raise UsageError(
            f"-o {fmt.value}: only for the --validate summary, and stdout carries the YAML without --out",
            hint="use `platformctl render --validate --out DIR -o json`",
        )
    spec = load_spec_from_ctx(ctx, sets=sets)
    sources = _sources(manifests_dir, charts_dir, no_download, allow_unpinned_charts)
    result = render_command(
        command_context(ctx, spec, sources=sources),
        only=split_names(only),
        skip=split_names(skip),
        out_dir=out,
        validate=validate,
        force=force,
    )
    if out is None:
        sys.stdout.write(result.text())
        sys.stdout.flush()
    else:
        for c, path in zip(result.components, result.written, strict=True):
            output.info(f"wrote {path} ({len(c.objects)} objects, {c.name} {c.version})")
        for path in result.removed:
            output.info(f"removed {path} (no longer rendered)")
    report = result.validation
    if report is None:
        return
    if fmt is OutputFormat.table:
        output.err.print(_validation_table(report), soft_wrap=False)
    else:
        output.emit_data(report.as_dict(), fmt)
    if not report.ok:
        failed = [c for c in report.components if c.errors]
        raise CheckFailed(
            f"render --validate: {sum(c.invalid for c in failed)} invalid object(s) in "
            f"{', '.join(c.name for c in failed)}",
            details=report.errors,
            hint="fix the values/templates named above; `platformctl render --out DIR` shows the objects",
        )


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
    app.command("render")(render)
