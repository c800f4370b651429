"""`platformctl predict NAME`: send an inference, metadata or readiness request to a deployed model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx

if TYPE_CHECKING:
    from platformctl.usecases.predict import PredictResult


def _read(source: str) -> str:
    """--data FILE, or ``-`` for stdin."""
    if source == "-":
        return sys.stdin.read()
    return Path(source).read_text(encoding="utf-8")


def _status_line(result: PredictResult) -> str:
    code = f"HTTP {result.status}" if result.status is not None else "no response"
    line = f"{result.method} {result.url} -> {code} in {result.latency:.3f}s"
    if result.cold_start:
        line += "\ncold start: the model was scaled to zero; this request included its start-up"
    return line


def _pretty(result: PredictResult) -> str:
    import json

    parsed = result.json_body()
    return json.dumps(parsed, indent=2) if parsed is not None else result.body


def predict(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="InferenceService name.")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: workloads.model_namespace).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", metavar="FILE|-", help="The JSON request body, sent as is (- = stdin)."),
    ] = None,
    instances: Annotated[
        str | None,
        typer.Option("--instances", metavar="JSON", help='v1 body {"instances": JSON} built for you.'),
    ] = None,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            metavar="NAME:SHAPE:DATATYPE=JSON",
            help="One v2 input tensor (repeatable), e.g. input-0:1,4:FP32=[[6.8,2.8,4.8,1.4]].",
        ),
    ] = None,
    protocol: Annotated[
        str | None, typer.Option("--protocol", help="v1 or v2 (default: the InferenceService's).")
    ] = None,
    metadata: Annotated[bool, typer.Option("--metadata", help="GET the model's metadata instead.")] = False,
    ready: Annotated[bool, typer.Option("--ready", help="GET the model's readiness instead.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the answer.")] = 120,
    ingress: Annotated[
        str | None,
        typer.Option("--ingress", metavar="HOST:PORT", help="Connect here instead of the URL's IP."),
    ] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Do not verify TLS certificates.")] = False,
    cacert: Annotated[
        Path | None,
        typer.Option("--cacert", help="CA bundle to verify an https model URL (e.g. a self-signed CA)."),
    ] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """Send an inference request to a model through the ingress; print the answer, status and latency."""
    from platformctl.cli.context import command_context
    from platformctl.cli.models_cmd import connect_engine
    from platformctl.errors import CheckFailed, UsageError
    from platformctl.usecases.predict import PredictRequest
    from platformctl.usecases.predict import predict as run

    if metadata and ready:
        raise UsageError("--ready: cannot be combined with --metadata; ask one question at a time")
    spec = load_spec_from_ctx(ctx, sets=set_)
    req = PredictRequest(
        name=name,
        namespace=namespace or spec.workloads.model_namespace,
        data=data,
        instances=instances,
        inputs=inputs or [],
        protocol=protocol,
        mode="metadata" if metadata else ("ready" if ready else "infer"),
        timeout=timeout,
    )
    endpoint = command_context(ctx, spec).ingress(ingress)  # --ingress, else the provider's
    result = run(
        req,
        engine_factory=lambda: connect_engine(ctx, spec),
        read=_read,
        ingress=endpoint,
        verify=not insecure,
        ca_file=str(cacert) if cacert else None,
    )
    output.info(_status_line(result))
    if result.status is None:
        raise CheckFailed(
            f"no response from {result.url}: {result.error}",
            hint="is the ingress reachable? --ingress HOST:PORT connects elsewhere",
        )
    if output_format is OutputFormat.json:
        sys.stdout.write(result.body + ("" if result.body.endswith("\n") else "\n"))
    elif output_format is OutputFormat.yaml:
        output.emit_data(result.to_dict(), output_format)
    elif req.mode == "ready":
        typer.echo("ready" if result.ok else f"not ready: {_pretty(result)}")
    else:
        typer.echo(_pretty(result))
    if not result.ok:
        raise CheckFailed(f"HTTP {result.status} from {result.method} {result.url} (the response is above)")


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)
