"""Option types and spec loading shared by CLI commands.

Reuse these so every command spells options the same way:

    from platformctl.cli.common import OutputOption, SetOption, load_spec_from_ctx

    def status(ctx: typer.Context, output: OutputOption = OutputFormat.table, set_: SetOption = None):
        spec = load_spec_from_ctx(ctx, sets=set_)

Only typer/rich and our light modules are imported here at module top: the loader (pydantic, yaml)
is imported when a command runs, so ``platformctl --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from platformctl.cli.output import OutputFormat
from platformctl.cli.state import global_options

if TYPE_CHECKING:
    from platformctl.plan.loader import LoadedSpec
    from platformctl.plan.spec import PlatformSpec

__all__ = ["OutputFormat", "OutputOption", "SetOption", "load_spec_from_ctx", "loaded_spec_from_ctx"]

# -o/--output for data commands; give the command's default in its signature (= OutputFormat.table).
OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "-o",
        "--output",
        case_sensitive=False,
        help="Output format: table, wide (every column, full digests), json or yaml.",
    ),
]

# --set KEY=VALUE (repeatable): one spec field for this run, above platform.yaml and PLATFORMCTL_*.
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override one spec field for this run, e.g. --set cluster.name=dev "
        "--set components.dapr.enabled=false (repeatable; highest precedence).",
    ),
]


def _global_overrides(ctx: typer.Context) -> tuple[dict[str, Any], dict[str, str]]:
    """--context/--kubeconfig select the cluster: they set cluster.context/cluster.kubeconfig."""
    opts = global_options(ctx)
    values: dict[str, Any] = {}
    labels: dict[str, str] = {}
    if opts.context is not None:
        values["cluster.context"], labels["cluster.context"] = opts.context, "--context"
    # Only the flag: $KUBECONFIG may list several files ("a:b") that drivers/kubeconfig.py merges,
    # and a null cluster.kubeconfig already means "$KUBECONFIG, else ~/.kube/config".
    if opts.kubeconfig is not None:
        values["cluster.kubeconfig"], labels["cluster.kubeconfig"] = opts.kubeconfig, "--kubeconfig"
    return values, labels


def loaded_spec_from_ctx(
    ctx: typer.Context,
    overrides: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    sets: Sequence[str] | None = None,
) -> LoadedSpec:
    """Load the spec for a command: -f/--config (or ./platform.yaml) < PLATFORMCTL_* < global flags
    < --set < ``overrides`` (a command's own flags, keyed by dotted field path, named by ``labels``)."""
    from platformctl.plan.loader import load_spec_with_sources, parse_set_options

    merged, merged_labels = _global_overrides(ctx)
    for key, value in parse_set_options(sets or []).items():
        merged[key], merged_labels[key] = value, f"--set {key}"
    for key, value in (overrides or {}).items():
        merged[key] = value
        merged_labels[key] = (labels or {}).get(key, f"--set {key}")
    return load_spec_with_sources(
        global_options(ctx).config_file, overrides=merged, override_labels=merged_labels
    )


def load_spec_from_ctx(
    ctx: typer.Context,
    overrides: Mapping[str, Any] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    sets: Sequence[str] | None = None,
) -> PlatformSpec:
    """The effective PlatformSpec for a command (see loaded_spec_from_ctx); ConfigError → exit 2."""
    return loaded_spec_from_ctx(ctx, overrides, labels=labels, sets=sets).spec
