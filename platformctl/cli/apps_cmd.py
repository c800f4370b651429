"""`platformctl deploy-app NAME` and `platformctl apps list|describe|promote|delete|logs`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx
from platformctl.cli.models_cmd import connect_engine  # one way to reach the cluster, as smoke-test does
from platformctl.plan.names import DAPR

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Event
    from platformctl.usecases.deploy_app import DeployAppResult


class _Progress:
    """Progress lines on stderr; stdout stays clean for YAML/JSON."""

    def emit(self, event: Event) -> None:
        if event.kind in ("start", "update", "fail") and event.message:
            output.info(f"→ {event.step}: {event.message}")


def _print_result(result: DeployAppResult, fmt: OutputFormat) -> None:
    import yaml

    if fmt in (OutputFormat.json, OutputFormat.yaml):
        output.emit_data(result.to_dict(), fmt)
        return
    if not result.applied:
        # --dry-run: the objects exactly as they would be applied, nothing else on stdout.
        typer.echo(yaml.safe_dump_all(result.objects, sort_keys=False), nl=False)
        output.info("dry run: nothing applied")
        return
    state = "Ready" if result.ready else f"{result.action} (not waited for)"
    typer.echo(f"app {result.namespace}/{result.name}: {state}")
    if result.revision:
        typer.echo(f"revision: {result.revision}")
    if result.traffic:
        from platformctl.usecases.apps import traffic_split

        typer.echo(f"traffic: {traffic_split(result.traffic)}")
        for t in result.traffic:
            if t.get("tag") and t.get("url"):
                typer.echo(f"tag {t['tag']}: {t['url']}")
    if result.bindings:
        typer.echo("dapr: " + ", ".join(f"{n} ({t})" for n, t in result.bindings.items()))
    if result.url:
        typer.echo(f"URL: {result.url}")
        typer.echo(f"\n# with curl (no DNS needed):\n{result.requests['curl']}")
        typer.echo(
            f"\n# when magic DNS is blocked, the Host header form:\n{result.requests['curl-host-header']}"
        )
        typer.echo(f"\n# the same with httpie:\n{result.requests['httpie']}")


def deploy_app(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="App name (DNS-1123 label): the Knative Service and Dapr app id.")
    ],
    image: Annotated[str | None, typer.Option("--image", help="Container image to run.")] = None,
    build: Annotated[
        Path | None,
        typer.Option(
            "--build", metavar="DIR", help="Build the image from DIR/Dockerfile with Docker (tag = content)."
        ),
    ] = None,
    push: Annotated[
        str | None,
        typer.Option(
            "--push",
            metavar="REGISTRY",
            help="With --build: push there and deploy by digest (required unless the cluster is kind).",
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Container port the app listens on.")] = 8080,
    env: Annotated[list[str] | None, typer.Option("--env", metavar="KEY=VALUE", help="Repeatable.")] = None,
    env_from_secret: Annotated[
        list[str] | None,
        typer.Option(
            "--env-from-secret", metavar="SECRET", help="Every key of a Secret as env (repeatable)."
        ),
    ] = None,
    min_scale: Annotated[int, typer.Option("--min-scale", help="0 = scale to zero when idle.")] = 0,
    max_scale: Annotated[int | None, typer.Option("--max-scale", help="Upper bound on pods.")] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", help="Requests one pod serves at once (0 = no limit).")
    ] = None,
    cpu: Annotated[str | None, typer.Option("--cpu", help="CPU request and limit, e.g. 500m.")] = None,
    memory: Annotated[
        str | None, typer.Option("--memory", help="Memory request and limit, e.g. 256Mi.")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace (default: workloads.namespace).")
    ] = None,
    dapr: Annotated[
        bool | None,
        typer.Option("--dapr/--no-dapr", help="Dapr sidecar (default: on when the platform runs Dapr)."),
    ] = None,
    statestore: Annotated[
        str | None, typer.Option("--statestore", help="Bind a Dapr state store, e.g. statestore.")
    ] = None,
    pubsub: Annotated[str | None, typer.Option("--pubsub", help="Bind a Dapr pub/sub, e.g. pubsub.")] = None,
    component: Annotated[
        list[str] | None,
        typer.Option(
            "--component",
            metavar="TYPE:NAME",
            help="Create (if missing) and bind a Dapr component: state.redis or pubsub.kafka (repeatable).",
        ),
    ] = None,
    subscribe: Annotated[
        list[str] | None,
        typer.Option(
            "--subscribe", metavar="TOPIC=ROUTE", help="Dapr Subscription to TOPIC, delivered to ROUTE."
        ),
    ] = None,
    traffic_percent: Annotated[
        int | None,
        typer.Option(
            "--traffic-percent",
            help="Canary of an EXISTING app: this % to the new revision, the rest stays on the current one.",
        ),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option("--tag", help="Give the new revision its own URL: TAG-NAME.NAMESPACE.DOMAIN."),
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for Ready.")] = True,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait (default: timeouts.component).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the YAML; apply nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Take over a Knative Service platformctl did not create.")
    ] = False,
    ingress: Annotated[
        str | None, typer.Option("--ingress", metavar="HOST:PORT", help="Where the printed requests connect.")
    ] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """Run a container on Knative (+ Dapr): render, apply, wait for Ready, print the URL and requests."""
    from platformctl.cli.context import command_context
    from platformctl.usecases.deploy_app import DeployAppRequest
    from platformctl.usecases.deploy_app import deploy_app as run

    spec = load_spec_from_ctx(ctx, sets=set_)
    endpoint = command_context(ctx, spec).ingress(ingress)  # --ingress, else the provider's
    prepare: Callable[[], str] | None = None
    if build is not None or push is not None:
        image, prepare = _build_hook(name, image, build, push, spec)
    req = DeployAppRequest(
        name=name,
        image=image,
        namespace=namespace or spec.workloads.namespace,
        port=port,
        env=env or [],
        env_from_secret=env_from_secret or [],
        min_scale=min_scale,
        max_scale=max_scale,
        concurrency=concurrency,
        cpu=cpu,
        memory=memory,
        dapr=dapr,
        statestore=statestore,
        pubsub=pubsub,
        components=component or [],
        subscribe=subscribe or [],
        traffic_percent=traffic_percent,
        tag=tag,
        wait=wait,
        timeout=timeout if timeout is not None else spec.timeouts.component,
        dry_run=dry_run,
        force=force,
    )
    result = run(
        req,
        engine_factory=lambda: connect_engine(ctx, spec),
        dapr_default=spec.components[DAPR].enabled,
        workloads_namespace=spec.workloads.namespace,
        ingress=endpoint,
        reporter=_Progress(),
        prepare_image=prepare,
    )
    _print_result(result, output_format)
    if subscribe and min_scale == 0:
        # Dapr's subscriber is the app's sidecar: while the app is scaled to zero nobody consumes.
        output.info("note: --subscribe with --min-scale 0: nothing receives events while no pod runs")


def _build_hook(
    name: str, image: str | None, build: Path | None, push: str | None, spec: PlatformSpec
) -> tuple[str, Callable[[], str]]:
    """(the image name the content gives, the build+publish step deploy-app runs after its checks)."""
    from platformctl.errors import UsageError
    from platformctl.usecases.build_app import build_and_publish, plan_build
    from platformctl.usecases.deploy_model import validate_name

    if build is None:
        raise UsageError("--push: only with --build DIR (an --image is pulled by the cluster as it is)")
    if image is not None:
        raise UsageError("--image: give either --image or --build DIR, not both")
    validate_name(name, "NAME")
    plan = plan_build(build, name, provider=spec.cluster.provider, cluster_name=spec.cluster.name, push=push)

    def prepare() -> str:
        return build_and_publish(plan, reporter=_BuildProgress()).image

    return plan.reference, prepare


class _BuildProgress:
    """Build output on stderr as it comes (one line per build log line)."""

    def emit(self, event: Event) -> None:
        if not event.message:
            return
        if event.kind == "update":
            output.info(f"  | {event.message}")
        elif event.kind in ("start", "fail"):
            output.info(f"→ {event.step}: {event.message}")


apps_app = typer.Typer(
    help="Apps deployed with deploy-app: list, describe, promote, delete, logs.", no_args_is_help=True
)

NamespaceOption = Annotated[
    str | None, typer.Option("--namespace", "-n", help="Namespace (default: workloads.namespace).")
]


@apps_app.command("list")
def list_cmd(
    ctx: typer.Context,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Only this namespace (default: all).")
    ] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """Name, URL, readiness, latest revision, traffic split and scale of every app."""
    from platformctl.usecases.apps import list_apps, traffic_split

    spec = load_spec_from_ctx(ctx, sets=set_)
    rows = list_apps(connect_engine(ctx, spec), namespace)
    table_rows = [
        (
            r.namespace,
            r.name,
            r.url,
            "True" if r.ready else f"False ({r.reason})",
            r.latest_revision,
            traffic_split(r.traffic),
            r.scale(),
        )
        for r in rows
    ]
    output.emit_data(
        [r.to_dict() for r in rows],
        output_format,
        lambda: output.simple_table(
            None,
            ["NAMESPACE", "NAME", "URL", "READY", "LATEST", "TRAFFIC", "PODS (MIN-MAX)"],
            table_rows,
            markup=False,
        ),
    )


@apps_app.command("describe")
def describe_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="App name.")],
    namespace: NamespaceOption = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """An app's URL, image, revisions (traffic, tags, readiness), conditions and Dapr bindings."""
    from platformctl.usecases.apps import describe_app

    spec = load_spec_from_ctx(ctx, sets=set_)
    d = describe_app(connect_engine(ctx, spec), name, namespace or spec.workloads.namespace)

    if output_format is not OutputFormat.table:
        output.emit_data(d.to_dict(), output_format)
        return
    r = d.row
    typer.echo(f"app {r.namespace}/{r.name}")
    typer.echo(f"  URL:      {r.url or '-'}")
    typer.echo(f"  image:    {d.image or '-'}")
    typer.echo(f"  ready:    {'True' if r.ready else f'False ({r.reason})'}")
    typer.echo(f"  scale:    {r.scale()} pods")
    typer.echo(f"  dapr:     {', '.join(d.bindings) if d.bindings else '-'}")
    for s in d.subscriptions:
        typer.echo(f"  subscription {s['name']}: {s['topic']} -> {s['route']} (via {s['pubsub']})")
    output.out.print(
        output.simple_table(
            "revisions",
            ["REVISION", "TRAFFIC", "TAGS", "READY", "IMAGE"],
            [
                (
                    rev.name,
                    f"{rev.percent}%",
                    ",".join(rev.tags),
                    "True" if rev.ready else f"False ({rev.reason})",
                    rev.image,
                )
                for rev in d.revisions
            ],
            markup=False,
        )
    )
    output.out.print(
        output.simple_table(
            "conditions",
            ["TYPE", "STATUS", "REASON", "MESSAGE"],
            [(c.get("type"), c.get("status"), c.get("reason"), c.get("message")) for c in d.conditions],
            markup=False,
        )
    )


@apps_app.command("promote")
def promote_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="App name.")],
    namespace: NamespaceOption = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for Ready.")] = True,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds to wait (default: timeouts.component).")
    ] = None,
    output_format: OutputOption = OutputFormat.table,
    set_: SetOption = None,
) -> None:
    """Move all traffic to the latest revision (ends a --traffic-percent canary)."""
    from platformctl.usecases.apps import promote_app, traffic_split

    spec = load_spec_from_ctx(ctx, sets=set_)
    if timeout is not None and timeout <= 0:
        from platformctl.errors import UsageError

        raise UsageError(f"--timeout: {timeout:g} must be positive seconds")
    result = promote_app(
        connect_engine(ctx, spec),
        name,
        namespace or spec.workloads.namespace,
        wait=wait,
        timeout=timeout if timeout is not None else spec.timeouts.component,
    )
    if output_format is not OutputFormat.table:
        output.emit_data(result.to_dict(), output_format)
        return
    typer.echo(
        f"app {result.namespace}/{result.name}: "
        + ("promoted" if result.changed else "already all on the latest revision")
        + (f"; traffic: {traffic_split(result.traffic)}" if result.traffic else "")
    )


@apps_app.command("delete")
def delete_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="App name.")],
    namespace: NamespaceOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Delete a Knative Service platformctl did not create.")
    ] = False,
    set_: SetOption = None,
) -> None:
    """Delete an app and its Subscriptions (asks first unless --yes)."""
    from platformctl.usecases.apps import check_deletable, delete_app
    from platformctl.usecases.deploy_model import validate_name

    spec = load_spec_from_ctx(ctx, sets=set_)
    ns = namespace or spec.workloads.namespace
    validate_name(name, "NAME")
    engine = connect_engine(ctx, spec)
    check_deletable(engine, name, ns, force=force)
    # Declining is the same outcome as for `down`: nothing changed, exit 1 (Ctrl-C or no answer: 130).
    if not yes and not typer.confirm(
        f"Delete app {ns}/{name} on {engine.context_name}?", default=False, err=True
    ):
        output.info("nothing was changed (pass --yes to skip the question)")
        raise typer.Exit(1)
    result = delete_app(engine, name, ns, force=force)
    for line in result.deleted:
        output.info(f"deleted {line}")


@apps_app.command("logs")
def logs_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="App name.")],
    namespace: NamespaceOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (newest pod).")
    ] = False,
    tail: Annotated[int | None, typer.Option("--tail", help="Only the last N lines of each pod.")] = None,
    set_: SetOption = None,
) -> None:
    """The app container's logs of the latest revision's pods."""
    from platformctl.usecases.apps import app_logs, app_pods, follow_app_logs

    spec = load_spec_from_ctx(ctx, sets=set_)
    if tail is not None and tail < 0:
        from platformctl.errors import UsageError

        raise UsageError(f"--tail: {tail} must be 0 or more lines")
    ns = namespace or spec.workloads.namespace
    engine = connect_engine(ctx, spec)
    if follow:
        revision, pods = app_pods(engine, name, ns)
        if not pods:
            output.info(f"revision {revision} has no pods (scaled to zero): a request to its URL starts one")
            return
        output.info(f"following pod {pods[0]} of revision {revision} (Ctrl-C to stop)")
        for line in follow_app_logs(engine, ns, pods[0], name, tail=tail):
            typer.echo(line)
        return
    revision, logs = app_logs(engine, name, ns, tail=tail)
    if not logs:
        output.info(f"revision {revision} has no pods (scaled to zero): a request to its URL starts one")
        return
    for item in logs:
        if len(logs) > 1:
            typer.echo(f"==> pod {item.pod} <==")
        typer.echo(item.text, nl=not item.text.endswith("\n") and bool(item.text))


def register(app: typer.Typer) -> None:
    app.command("deploy-app")(deploy_app)
    app.add_typer(apps_app, name="apps")
