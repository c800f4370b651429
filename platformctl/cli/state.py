"""Global options shared by every command (kubectl-style), carried on Typer's context object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer


@dataclass
class GlobalOptions:
    kubeconfig: str | None = None
    context: str | None = None
    config_file: Path | None = None
    verbose: bool = False


def global_options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    if isinstance(obj, GlobalOptions):
        return obj
    return GlobalOptions()
