"""The per-command context (usecases/context.py) built from the global options (--kubeconfig/--context)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from platformctl.cli.state import global_options

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.context import CommandContext
    from platformctl.usecases.render import SourceOptions


def command_context(
    ctx: typer.Context,
    spec: PlatformSpec,
    *,
    reporter: Reporter | None = None,
    force: bool = False,
    sources: SourceOptions | None = None,
    allow_download: bool = False,
) -> CommandContext:
    from platformctl.reporting import NullReporter
    from platformctl.usecases.context import CommandContext
    from platformctl.usecases.render import SourceOptions

    g = global_options(ctx)
    return CommandContext(
        spec,
        kubeconfig=g.kubeconfig,
        context=g.context,
        force=force,
        reporter=reporter or NullReporter(),
        sources=sources or SourceOptions(allow_download=allow_download),
    )
