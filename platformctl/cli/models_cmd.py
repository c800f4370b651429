"""`platformctl deploy-model NAME` and `platformctl models list|describe|promote|delete`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import (
    OutputFormat,
    OutputOption,
    SetOption,
    complete_models,
    confirm,
    load_spec_from_ctx,
)

if TYPE_CHECKING:
    from platformctl.components.kserve_runtimes import RuntimeTable
    from platformctl.drivers.kube.engine import Engine
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Event
    from platformctl.usecases.deploy_model import DeployModelResult


class _Progress:
    """Progress lines on stderr; stdout stays clean for YAML/JSON."""

    def emit(self, event: Event) -> None:
        if event.kind in ("start", "update", "fail") and event.message:
            output.info(f"→ {event.step}: {event.message}")


def connect_engine(ctx: typer.Context, spec: PlatformSpec) -> Engine:
    """The engine of the cluster the provider names (usecases/context.py: --context wins, as kubectl)."""
    from platformctl.cli.context import command_context

    return command_context(ctx, spec, reporter=_Progress()).engine


def runtime_table(spec: PlatformSpec, manifests_dir: Path | None, engine: Engine | None) -> RuntimeTable:
    """The live cluster's ClusterServingRuntimes when it has any, else the pinned kserve release's."""
    from platformctl.components.kserve_runtimes import cluster_table, pinned_table
    from platformctl.drivers.sources import SourceResolver
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


def _print_changes(result: DeployModelResult) -> None:
    """The field-level diff against the live object, on stderr (stdout stays the manifest/result)."""
    where = f"{result.namespace}/{result.name}"
    if not result.existed:
        output.info(f"new InferenceService {where}")
        return
    if not result.changes:
        output.info(f"InferenceService {where}: no changes")
        return
    output.info(f"InferenceService {where}: {len(result.changes)} field(s) change (live -> new)")
    for change in result.changes:
        output.info("  " + change.line())


def _print_result(result: DeployModelResult, fmt: OutputFormat) -> None:
    import yaml

    if fmt in (OutputFormat.json, OutputFormat.yaml):
        output.emit_data(result.to_dict(), fmt)
        return
    _print_changes(result)
    if not result.applied:
        # --dry-run: the objects exactly as they would be applied (Secrets redacted), nothing else on stdout.
        typer.echo(yaml.safe_dump_all(result.objects, sort_keys=False), nl=False)
        served = (
            "a custom predictor (--image)"
            if result.custom
            else "runtimes that can serve it: " + ", ".join(result.runtimes)
        )
        checked = f"the API server accepted it ({result.action}); " if result.action else ""
        output.info(f"dry run: {checked}nothing was applied")
        output.info(served[0].upper() + served[1:])
        return
    state = "Ready" if result.ready else f"{result.action} (not waited for)"
    typer.echo(f"inferenceservice {result.namespace}/{result.name}: {state}")
    if result.canary_traffic_percent is not None:
        typer.echo(
            f"canary: {result.canary_traffic_percent}% to the new revision, the rest to the previous one"
        )
    deps = [o for o in result.objects if o.get("kind") in ("Secret", "ServiceAccount")]
    if deps:
        names = " via ".join(f"{o['kind'].lower()}/{o['metadata']['name']}" for o in deps)
        typer.echo(f"credentials: {names}")
    if result.traffic:
        split = ", ".join(f"{t.get('revisionName')}={t.get('percent')}%" for t in result.traffic)
        typer.echo(f"traffic: {split}")
    if result.url:
        typer.echo(f"URL: {result.url}")
        if result.requests:
            typer.echo(f"\n# {result.protocol} request with curl (no DNS needed):\n{result.requests['curl']}")
            typer.echo(f"\n# the same with httpie:\n{result.requests['httpie']}")
            typer.echo(f"\n# or: platformctl predict {result.name} -n {result.namespace}")


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
    image: Annotated[
        str | None,
        typer.Option("--image", help="Custom predictor: your model server image (instead of --format)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Custom predictor: the port it listens on (default 8080).")
    ] = None,
    args: Annotated[
        list[str] | None,
        typer.Option("--args", metavar="ARG", help="Custom predictor: one container argument (repeatable)."),
    ] = None,
    transformer_image: Annotated[
        str | None,
        typer.Option("--transformer-image", help="Add a transformer (pre/post-processing) in front."),
    ] = None,
    transformer_env: Annotated[
        list[str] | None,
        typer.Option("--transformer-env", metavar="KEY=VALUE", help="Transformer environment (repeatable)."),
    ] = None,
    transformer_port: Annotated[
        int | None, typer.Option("--transformer-port", help="The port the transformer listens on.")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: workloads.model_namespace).")
    ] = None,
    min_replicas: Annotated[
        int | None, typer.Option("--min-replicas", help="0 = scale to zero (new model default: 1).")
    ] = None,
    max_replicas: Annotated[int | None, typer.Option("--max-replicas")] = None,
    cpu: Annotated[str | None, typer.Option("--cpu", help="CPU request and limit, e.g. 500m.")] = None,
    memory: Annotated[
        str | None, typer.Option("--memory", help="Memory request and limit, e.g. 512Mi.")
    ] = None,
    gpu: Annotated[int | None, typer.Option("--gpu", help="nvidia.com/gpu limit.")] = None,
    node_selector: Annotated[
        list[str] | None,
        typer.Option("--node-selector", metavar="KEY=VALUE", help="Predictor node label (repeatable)."),
    ] = None,
    toleration: Annotated[
        list[str] | None,
        typer.Option(
            "--toleration", metavar="KEY[=VALUE][:EFFECT]", help="Tolerate a node taint (repeatable)."
        ),
    ] = None,
    scale_metric: Annotated[
        str | None, typer.Option("--scale-metric", help="Autoscaling metric: concurrency or rps.")
    ] = None,
    scale_target: Annotated[
        int | None, typer.Option("--scale-target", help="Autoscaling target per replica.")
    ] = None,
    canary_traffic_percent: Annotated[
        int | None,
        typer.Option(
            "--canary-traffic-percent",
            help="Canary rollout of an EXISTING model: this % to the new revision, the rest to the previous.",
        ),
    ] = None,
    env: Annotated[list[str] | None, typer.Option("--env", metavar="KEY=VALUE", help="Repeatable.")] = None,
    storage_secret: Annotated[
        str | None,
        typer.Option("--storage-secret", help="An existing Secret with storage credentials."),
    ] = None,
    s3_endpoint: Annotated[
        str | None, typer.Option("--s3-endpoint", help="S3-compatible endpoint, HOST[:PORT] or URL.")
    ] = None,
    s3_region: Annotated[str | None, typer.Option("--s3-region", help="S3 region.")] = None,
    s3_access_key_id_env: Annotated[
        str | None,
        typer.Option("--s3-access-key-id-env", metavar="VAR", help="Env variable holding the access key id."),
    ] = None,
    s3_secret_access_key_env: Annotated[
        str | None,
        typer.Option(
            "--s3-secret-access-key-env", metavar="VAR", help="Env variable holding the secret access key."
        ),
    ] = None,
    s3_use_https: Annotated[
        bool | None, typer.Option("--s3-use-https/--s3-no-https", help="Talk https to the endpoint.")
    ] = None,
    s3_verify_ssl: Annotated[
        bool | None,
        typer.Option("--s3-verify-ssl/--s3-no-verify-ssl", help="Verify the endpoint's certificate."),
    ] = None,
    gcs_credentials_file: Annotated[
        Path | None,
        typer.Option("--gcs-credentials-file", help="A GCP service account key (JSON) for gs:// models."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Take over a Secret/ServiceAccount platformctl did not create."),
    ] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for Ready.")] = True,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait (default: timeouts.model).")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the objects and what changes against the live model; apply nothing."
        ),
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
    from platformctl.cli.context import command_context
    from platformctl.usecases.deploy_model import DeployModelRequest
    from platformctl.usecases.deploy_model import deploy_model as run
    from platformctl.usecases.model_storage import StorageRequest

    spec = load_spec_from_ctx(ctx, sets=set_)
    endpoint = command_context(ctx, spec).ingress(ingress)  # --ingress, else the provider's
    req = DeployModelRequest(
        name=name,
        namespace=namespace or spec.workloads.model_namespace,
        format=model_format,
        storage_uri=storage_uri,
        protocol=protocol,
        runtime=runtime,
        image=image,
        port=port,
        args=args or [],
        transformer_image=transformer_image,
        transformer_env=transformer_env or [],
        transformer_port=transformer_port,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        cpu=cpu,
        memory=memory,
        gpu=gpu,
        node_selector=node_selector or [],
        tolerations=toleration or [],
        scale_metric=scale_metric,
        scale_target=scale_target,
        canary_traffic_percent=canary_traffic_percent,
        env=env or [],
        storage=StorageRequest(
            secret=storage_secret,
            s3_endpoint=s3_endpoint,
            s3_region=s3_region,
            s3_access_key_id_env=s3_access_key_id_env,
            s3_secret_access_key_env=s3_secret_access_key_env,
            s3_use_https=s3_use_https,
            s3_verify_ssl=s3_verify_ssl,
            gcs_credentials_file=gcs_credentials_file,
        ),
        environ=dict(os.environ),
        force=force,
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
    from platformctl.usecases.deploy_model import validate_name
    from platformctl.usecases.models import list_models

    spec = load_spec_from_ctx(ctx, sets=set_)
    if namespace is not None:
        validate_name(namespace, "--namespace")
    rows = list_models(connect_engine(ctx, spec), namespace)
    if not rows and output.is_table(output_format):
        where = f"namespace {namespace}" if namespace else "any namespace"
        output.info(f"No InferenceServices found in {where}.")
        return
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
    C = output.Col
    columns = [
        C("NAMESPACE", drop=2),
        C("NAME", key=True),
        C("FORMAT", drop=1),
        C("URL"),
        C("READY", kind="text", below=True),
        C("TRAFFIC", kind="text", note=True),  # the canary split: below the table, never dropped
    ]
    output.emit_data(
        [r.to_dict() for r in rows],
        output_format,
        lambda wide: output.simple_table(None, columns, table_rows, markup=False, wide=wide),
    )


@models_app.command("delete")
def delete_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="InferenceService name.", autocompletion=complete_models)],
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
    # The same answers as `down`: declined → nothing changed, exit 1; no terminal to ask → exit 5
    # naming --yes; Ctrl-C → 130.
    if not yes:
        confirm(
            f"Delete InferenceService {ns}/{name} on context {engine.context_name} ({engine.server})?",
            refusal=f"models delete would delete InferenceService {ns}/{name} on context "
            f"{engine.context_name}; confirm interactively or pass --yes",
        )
    delete_model(engine, name, ns)
    output.info(f"deleted inferenceservice {ns}/{name}")


@models_app.command("describe")
def describe_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="InferenceService name.")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: workloads.model_namespace).")
    ] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """One model: its tiers (transformer, predictor) with URLs and readiness, traffic and settings."""
    from platformctl.usecases.models import describe_model

    spec = load_spec_from_ctx(ctx, sets=set_)
    ns = namespace or spec.workloads.model_namespace
    desc = describe_model(connect_engine(ctx, spec), name, ns)
    if output_format is not OutputFormat.table:
        output.emit_data(desc.to_dict(), output_format)
        return
    row, s = desc.row, desc.settings
    lines = [
        f"Name:       {row.namespace}/{row.name}",
        f"URL:        {row.url or '-'}",
        f"Ready:      {'True' if row.ready else f'False ({row.reason})'}",
        f"Protocol:   {desc.protocol}",
        f"Replicas:   min {1 if s.min_replicas is None else s.min_replicas}, max {s.max_replicas or '-'}",
    ]
    if s.storage_uri:
        lines.append(f"Storage:    {s.storage_uri}")
    if s.service_account:
        lines.append(f"Account:    {s.service_account}")
    if s.canary_traffic_percent is not None:
        lines.append(f"Canary:     {s.canary_traffic_percent}% to the latest revision")
    if row.traffic:
        lines.append(f"Traffic:    {row.traffic_split()}")
    for line in lines:
        typer.echo(line)
    # One block per tier, requests flow top to bottom: a URL never shares a line with other cells.
    for comp in desc.components:
        state = "-" if comp.ready is None else ("True" if comp.ready else f"False ({comp.reason})")
        typer.echo(f"\n{comp.component.capitalize()}:")
        typer.echo(f"  serves:   {comp.serves}")
        typer.echo(f"  URL:      {comp.url or '-'}")
        typer.echo(f"  ready:    {state}")
        if comp.revision:
            typer.echo(f"  revision: {comp.revision}")


@models_app.command("promote")
def promote_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="InferenceService name.")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: workloads.model_namespace).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for Ready.")] = True,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait (default: timeouts.model).")
    ] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """Promote a canary: the latest revision takes 100% of traffic; nothing else changes."""
    from platformctl.usecases.deploy_model import promote_model

    spec = load_spec_from_ctx(ctx, sets=set_)
    ns = namespace or spec.workloads.model_namespace
    result = promote_model(
        connect_engine(ctx, spec),
        name,
        ns,
        wait=wait,
        timeout=timeout if timeout is not None else spec.timeouts.model,
        reporter=_Progress(),
    )
    _print_result(result, output_format)


def register(app: typer.Typer) -> None:
    app.command("deploy-model")(deploy_model)
    app.add_typer(models_app, name="models")
