"""``platformctl versions``: the version sets side by side, then the selected platform (kind, node image,
Kubernetes, tools, components, files)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from platformctl.cli import output
from platformctl.cli.common import OutputFormat, OutputOption, SetOption, load_spec_from_ctx

if TYPE_CHECKING:
    from platformctl.usecases.versions import VersionsReport


def versions(
    ctx: typer.Context,
    fmt: OutputOption = OutputFormat.table,
    all_versions: Annotated[
        bool, typer.Option("--all", help="List every version the lock pins, not only the selected ones.")
    ] = False,
    sets: SetOption = None,
) -> None:
    """Show the version sets side by side, then the selected set's pins and every file (URL, sha256).

    -o json/yaml also lists every file of every set (pinned_files)."""
    from platformctl.usecases.versions import versions_report

    report = versions_report(load_spec_from_ctx(ctx, sets=sets), all_versions=all_versions)

    if not output.is_table(fmt):
        output.emit_data(report.to_dict(), fmt)
        return
    wide = fmt is OutputFormat.wide
    C = output.Col
    side = output.simple_table(
        "Version sets (pick one with `versions:` in platform.yaml)",
        [
            "",
            *(
                s.name + (" (default)" if s.default else "") + (" *" if s.selected else "")
                for s in report.sets
            ),
        ],
        [
            *((c, *(s.components.get(c, "") for s in report.sets)) for c in _set_components(report)),
            ("kind", *(s.kind for s in report.sets)),
            ("kubernetes", *(s.kubernetes for s in report.sets)),
            ("supported", *(s.kubernetes_range for s in report.sets)),
            # the digest makes two images too wide for 80 columns: -o wide (or -o json) has it
            ("node image", *(s.node_image if wide else s.node_image.split("@", 1)[0] for s in report.sets)),
        ],
        markup=False,
        wide=wide,
    )
    platform = output.simple_table(
        f"Platform (set {report.version_set})",
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
        "Pinned files, every set" + ("" if wide else " (sha256: first 12 hex digits; -o wide for all 64)"),
        [
            C("component"),
            C("version", drop=1),
            C("file", drop=3),
            C("sets", drop=2),
            C("sha256", abbrev=12),
            C("url"),
        ],
        [(f.component, f.version, f.path, ", ".join(f.sets), f.sha256, f.url) for f in report.pinned_files],
        markup=False,
        wide=wide,
    )
    for table in (side, platform, comps, files):
        output.out.print(table)
    output.out.print("* = selected", markup=False, highlight=False)


def _set_components(report: VersionsReport) -> list[str]:
    seen: list[str] = []
    for s in report.sets:
        seen.extend(c for c in s.components if c not in seen)
    return seen


def register(app: typer.Typer) -> None:
    app.command("versions")(versions)
