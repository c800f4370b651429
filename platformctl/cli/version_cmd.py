"""``platformctl version``: the client version and, when the cluster answers, its server version and
what platformctl installed there (like ``kubectl version``)."""

from __future__ import annotations

from typing import Any

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx
from platformctl.cli.state import global_options


def version(ctx: typer.Context, fmt: OutputOption = OutputFormat.table, sets: SetOption = None) -> None:
    """Client version; with a reachable cluster also its server version and installed components."""
    from platformctl import __version__
    from platformctl.errors import PlatformError

    output.reset_consoles()
    data: dict[str, Any] = {"client": {"version": __version__}, "server": None}
    try:
        data["server"] = _server(ctx, load_spec_from_ctx(ctx, sets=sets))
    except PlatformError as exc:
        data["server_error"] = exc.message  # the client version still answers (kubectl version does)
    if not output.is_table(fmt):
        output.emit_data(data, fmt)
        return
    out = output.out
    out.print(f"platformctl {__version__}", highlight=False, markup=False)
    server = data["server"]
    if server is None:
        output.info(f"server: {data.get('server_error') or 'no cluster'}")
        return
    out.print(
        f"server: Kubernetes {server['version']} on context {server['context']} ({server['server']})",
        highlight=False,
        markup=False,
    )
    installed = server["components"]
    if installed:
        rows = [(c["name"], c["version"], "healthy" if c["healthy"] else "NOT healthy") for c in installed]
        out.print(
            output.simple_table(
                "installed",
                [output.Col("component"), output.Col("version", kind="text"), output.Col("health")],
                rows,
            )
        )


def _server(ctx: typer.Context, spec: Any) -> dict[str, Any] | None:
    from platformctl.errors import ClusterError
    from platformctl.reporting import NullReporter
    from platformctl.usecases import cluster as cluster_mod
    from platformctl.usecases.render import SourceOptions, make_render_context
    from platformctl.usecases.status import status as status_usecase
    from platformctl.usecases.up import default_connect

    g = global_options(ctx)
    target = cluster_mod.reachable_target(spec, g.kubeconfig, g.context, explicit_context_wins=True)
    if target is None:
        raise ClusterError(f"no kind cluster named {spec.cluster.name!r} (run `platformctl up`)")
    engine = default_connect(target[0], target[1], NullReporter())
    res = status_usecase(
        spec, engine, make_render_context(spec, SourceOptions(allow_download=False), NullReporter())
    )
    return {
        "version": str(engine.server_version.get("gitVersion", "?")),
        "context": engine.context_name,
        "server": engine.server,
        # what platformctl installed: components whose objects are there (healthy or not)
        "components": [
            {"name": c.name, "version": c.version, "healthy": c.healthy}
            for c in res.components
            if c.enabled and (c.healthy or "not found" not in c.reason)
        ],
    }


def register(app: typer.Typer) -> None:
    app.command("version")(version)
