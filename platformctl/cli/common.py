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

__all__ = [
    "OutputFormat",
    "OutputOption",
    "SetOption",
    "confirm",
    "load_spec_from_ctx",
    "loaded_spec_from_ctx",
    "split_names",
]

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


# ----------------------------------------------------------------------------- shell completion
# (`platformctl --install-completion`): component names, kubeconfig contexts, model names. A failure
# while completing (no kubeconfig, cluster down) completes nothing rather than printing an error.


def complete_components(incomplete: str) -> list[str]:
    from platformctl.plan.spec import COMPONENTS

    done, _, last = incomplete.rpartition(",")  # --only istio,kn<TAB>
    prefix = f"{done}," if done else ""
    return [prefix + c for c in COMPONENTS if c.startswith(last)]


def complete_contexts(ctx: typer.Context, incomplete: str) -> list[str]:
    """Context names of the kubeconfig (--kubeconfig when already given, else the $KUBECONFIG files)."""
    from platformctl.usecases.cluster import kubeconfig_contexts

    try:
        names = kubeconfig_contexts(ctx.find_root().params.get("kubeconfig"))
    except Exception:  # completion must never fail loudly
        return []
    return [n for n in names if n.startswith(incomplete)]


def complete_models(ctx: typer.Context, incomplete: str) -> list[str]:
    """InferenceService names on the cluster (the current context, or --context)."""
    try:
        from platformctl.reporting import NullReporter
        from platformctl.usecases.models import list_models
        from platformctl.usecases.up import default_connect

        root = ctx.find_root().params
        namespace = ctx.params.get("namespace")
        engine = default_connect(root.get("kubeconfig"), root.get("context"), NullReporter())
        names = [r.name for r in list_models(engine, namespace)]
    except Exception:  # completion must never fail loudly
        return []
    return sorted({n for n in names if n.startswith(incomplete)})


def finite_seconds(value: float | None) -> float | None:
    """Callback for --timeout flags: a finite number of seconds, at most 86400 (a day, the spec's
    timeouts.* bound); the lower bound is each flag's own. click's FloatRange lets nan through
    (every comparison with nan is false), and inf would mean "never give up"."""
    import math

    if value is not None and not (math.isfinite(value) and value <= 86400):
        raise typer.BadParameter(f"{value}: must be a finite number of seconds, at most 86400")
    return value


def split_names(values: Sequence[str] | None) -> tuple[str, ...]:
    """Repeatable name flags also take comma-separated lists: ``--only istio,dapr`` = ``--only istio
    --only dapr`` (as smoke-test's --only). Blanks around names are dropped; repeats are kept once."""
    names: list[str] = []
    for value in values or ():
        for part in value.split(","):
            name = part.strip()
            if name and name not in names:
                names.append(name)
    return tuple(names)


def confirm(question: str, *, refusal: str) -> None:
    """Ask ``question`` on stderr; return when the answer is yes.

    Declined: "nothing was changed" and exit 1. No answer possible (stdin is not a terminal and has
    no answer, e.g. CI): SafetyError ``refusal`` (exit 5), which must name --yes. Ctrl-C at a
    terminal: interrupted (130)."""
    import sys

    from platformctl.cli import output
    from platformctl.errors import SafetyError

    try:
        answer = typer.confirm(question, default=False, err=True)
    except typer.Abort:
        if sys.stdin is not None and sys.stdin.isatty():
            raise
        raise SafetyError(refusal) from None
    if not answer:
        output.info("nothing was changed (pass --yes to skip the question)")
        raise typer.Exit(1)


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
