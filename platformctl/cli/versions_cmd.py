"""``platformctl versions``: the pinned platform (kind, node image, Kubernetes, tools, components, files)."""

from __future__ import annotations

from typing import Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx


def versions(
    ctx: typer.Context,
    fmt: OutputOption = OutputFormat.table,
    all_versions: Annotated[
        bool, typer.Option("--all", help="List every version the lock pins, not only the selected ones.")
    ] = False,
    sets: SetOption = None,
) -> None:
    """Show pinned versions: kind, node image, Kubernetes, tools, charts, every pinned file (URL, sha256)."""
    from platformctl.usecases.versions import versions_report

    report = versions_report(load_spec_from_ctx(ctx, sets=sets), all_versions=all_versions)

    if not output.is_table(fmt):
        output.emit_data(report.to_dict(), fmt)
        return
    wide = fmt is OutputFormat.wide
    C = output.Col
    platform = output.simple_table(
        "Platform",
        ["item", "version"],
        [
            ("kubernetes", report.kubernetes),
            ("kind", report.kind),
            ("node image", report.node_image),
            *((f"tool {name}", ver) for name, ver in report.tools.items()),
        ],
        markup=False,  # node_image may come from platform.yaml
        wide=wide,
    )
    comps = output.simple_table(
        "Components",
        [
            C("component"),
            C("version"),
            C("enabled"),
            C("chart version", drop=1),
            C("charts", kind="text", drop=2),
            C("chart repo", drop=3),
        ],
        [
            (
                c.name,
                c.version + (" (default)" if c.default else ""),
                "yes" if c.enabled else "no",
                c.chart.version if c.chart else "",
                ", ".join(c.chart.names) if c.chart else "",
                c.chart.repo if c.chart else "",
            )
            for c in report.components
        ],
        markup=False,
        wide=wide,
    )
    # sha256 as its first 12 hex digits (-o wide or -o json: all 64); the URL last, so that a line
    # longer than the terminal runs past the edge whole instead of being split.
    files = output.simple_table(
        "Pinned files" + ("" if wide else " (sha256: first 12 hex digits; -o wide for all 64)"),
        [C("component"), C("version", drop=1), C("file", drop=2), C("sha256", abbrev=12), C("url")],
        [(name, f.version, f.path, f.sha256, f.url) for name, f in report.files()],
        markup=False,
        wide=wide,
    )
    for table in (platform, comps, files):
        output.out.print(table)


def register(app: typer.Typer) -> None:
    app.command("versions")(versions)
