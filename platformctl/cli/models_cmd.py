"""`platformctl deploy-model NAME`, `platformctl models list`, `platformctl models delete NAME`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx
from platformctl.cli.state import global_options

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine
    from platformctl.kserve_runtimes import RuntimeTable
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Event
    from platformctl.usecases.deploy_model import DeployModelResult


class _Progress:
    """Progress lines on stderr; stdout stays clean for YAML/JSON."""

    def emit(self, event: Event) -> None:
        if event.kind in ("start", "update", "fail") and event.message:
            output.info(f"→ {event.step}: {event.message}")


def connect_engine(ctx: typer.Context, spec: PlatformSpec) -> Engine:
    from platformctl.drivers.kube.engine import Engine

    opts = global_options(ctx)
    return Engine.connect(
        opts.kubeconfig or spec.cluster.kubeconfig,
        opts.context or spec.cluster.context,
        reporter=_Progress(),
    )


def runtime_table(spec: PlatformSpec, manifests_dir: Path | None, engine: Engine | None) -> RuntimeTable:
    """The live cluster's ClusterServingRuntimes when it has any, else the pinned kserve release's."""
    from platformctl.drivers.sources import SourceResolver
    from platformctl.kserve_runtimes import cluster_table, pinned_table
    from platformctl.plan.lock import load_lock

    if engine is not None:
        live = cluster_table(engine)
        if live.entries:
            return live
    cache = os.environ.get("PLATFORMCTL_CACHE_DIR")
    resolver = SourceResolver(
        load_lock(), manifests_dir=manifests_dir, cache_dir=Path(cache) if cache else None
    )
    return pinned_table(resolver, resolver.lock.selected(spec, "kserve")[0])


def _print_result(result: DeployModelResult, fmt: OutputFormat) -> None:
    import yaml

    if fmt is OutputFormat.json:
        output.emit_data(result.to_dict(), fmt)
        return
    if fmt is OutputFormat.yaml:
        output.emit_data(result.to_dict(), fmt)
        return
    if not result.applied:
        # --dry-run: the InferenceService exactly as it would be applied, nothing else on stdout.
        typer.echo(yaml.safe_dump(result.manifest, sort_keys=False), nl=False)
        output.info("dry run: nothing applied; runtimes that can serve it: " + ", ".join(result.runtimes))
        return
    state = "Ready" if result.ready else f"{result.action} (not waited for)"
    typer.echo(f"inferenceservice {result.namespace}/{result.name}: {state}")
    if result.canary_traffic_percent is not None:
        typer.echo(
            f"canary: {result.canary_traffic_percent}% to the new revision, the rest to the previous one"
        )
    if result.traffic:
        split = ", ".join(f"{t.get('revisionName')}={t.get('percent')}%" for t in result.traffic)
        typer.echo(f"traffic: {split}")
    if result.url:
        typer.echo(f"URL: {result.url}")
        typer.echo(f"\n# {result.protocol} request with curl (no DNS needed):\n{result.requests['curl']}")
        typer.echo(f"\n# the same with httpie:\n{result.requests['httpie']}")


def deploy_model(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="InferenceService name (DNS-1123 label).")],
    model_format: Annotated[
        str | None,
        typer.Option(
            "--format", help="Model format (sklearn, xgboost, ...: what the serving runtimes declare)."
        ),
    ] = None,
    storage_uri: Annotated[
        str | None,
        typer.Option(
            "--storage-uri",
            help="gs://BUCKET/PATH, s3://BUCKET/PATH, https://HOST/PATH, pvc://CLAIM/PATH or hf://REPO/MODEL.",
        ),
    ] = None,
    protocol: Annotated[str | None, typer.Option("--protocol", help="Inference protocol: v1 or v2.")] = None,
    runtime: Annotated[
        str | None, typer.Option("--runtime", help="Serving runtime (default: KServe picks).")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: workloads.model_namespace).")
    ] = None,
    min_replicas: Annotated[int, typer.Option("--min-replicas", help="0 = scale to zero.")] = 1,
    max_replicas: Annotated[int | None, typer.Option("--max-replicas")] = None,
    cpu: Annotated[str | None, typer.Option("--cpu", help="CPU request and limit, e.g. 500m.")] = None,
    memory: Annotated[
        str | None, typer.Option("--memory", help="Memory request and limit, e.g. 512Mi.")
    ] = None,
    gpu: Annotated[int | None, typer.Option("--gpu", help="nvidia.com/gpu limit.")] = None,
    canary_traffic_percent: Annotated[
        int | None,
        typer.Option(
            "--canary-traffic-percent",
            help="Canary rollout of an EXISTING model: this % to the new revision, the rest to the previous.",
        ),
    ] = None,
    env: Annotated[list[str] | None, typer.Option("--env", metavar="KEY=VALUE", help="Repeatable.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for Ready.")] = True,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait (default: timeouts.model).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the InferenceService YAML; apply nothing.")
    ] = False,
    ingress: Annotated[
        str | None, typer.Option("--ingress", metavar="HOST:PORT", help="Where the printed requests connect.")
    ] = None,
    manifests_dir: Annotated[
        Path | None,
        typer.Option("--manifests-dir", envvar="PLATFORMCTL_MANIFESTS_DIR", help="Offline bundle directory."),
    ] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """Serve a model with KServe: render, apply, wait for Ready, print the URL and a request to paste."""
    from platformctl.drivers.http import parse_ingress
    from platformctl.usecases.deploy_model import DeployModelRequest
    from platformctl.usecases.deploy_model import deploy_model as run
    from platformctl.usecases.smoke_test import default_ingress

    spec = load_spec_from_ctx(ctx, sets=set_)
    endpoint = parse_ingress(ingress) if ingress else default_ingress(spec)
    req = DeployModelRequest(
        name=name,
        namespace=namespace or spec.workloads.model_namespace,
        format=model_format,
        storage_uri=storage_uri,
        protocol=protocol,
        runtime=runtime,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu=cpu,
        memory=memory,
        gpu=gpu,
        canary_traffic_percent=canary_traffic_percent,
        env=env or [],
        wait=wait,
        timeout=timeout if timeout is not None else spec.timeouts.model,
        dry_run=dry_run,
    )
    result = run(
        req,
        table=lambda engine: runtime_table(spec, manifests_dir, engine),
        engine_factory=lambda: connect_engine(ctx, spec),
        ingress=endpoint,
        reporter=_Progress(),
    )
    _print_result(result, output_format)


models_app = typer.Typer(help="InferenceServices on the cluster.", no_args_is_help=True)


@models_app.command("list")
def list_cmd(
    ctx: typer.Context,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Only this namespace (default: all).")
    ] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """Name, format, URL, readiness and traffic split of every InferenceService."""
    from platformctl.usecases.models import list_models

    spec = load_spec_from_ctx(ctx, sets=set_)
    rows = list_models(connect_engine(ctx, spec), namespace)
    table_rows = [
        (
            r.namespace,
            r.name,
            r.format,
            r.url,
            "True" if r.ready else f"False ({r.reason})",
            r.traffic_split(),
        )
        for r in rows
    ]
    output.emit_data(
        [r.to_dict() for r in rows],
        output_format,
        lambda: output.simple_table(
            None, ["NAMESPACE", "NAME", "FORMAT", "URL", "READY", "TRAFFIC"], table_rows
        ),
    )


@models_app.command("delete")
def delete_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="InferenceService name.")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: workloads.model_namespace).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    set_: SetOption = None,
) -> None:
    """Delete an InferenceService (asks first unless --yes)."""
    from platformctl.usecases.deploy_model import validate_name
    from platformctl.usecases.models import delete_model

    spec = load_spec_from_ctx(ctx, sets=set_)
    ns = namespace or spec.workloads.model_namespace
    validate_name(name, "NAME")
    engine = connect_engine(ctx, spec)
    # Declining is the same outcome as for `down`: nothing changed, exit 1 (Ctrl-C or no answer: 130).
    if not yes and not typer.confirm(
        f"Delete InferenceService {ns}/{name} on {engine.context_name}?", default=False, err=True
    ):
        output.info("nothing was changed (pass --yes to skip the question)")
        raise typer.Exit(1)
    delete_model(engine, name, ns)
    output.info(f"deleted inferenceservice {ns}/{name}")


def register(app: typer.Typer) -> None:
    app.command("deploy-model")(deploy_model)
    app.add_typer(models_app, name="models")
