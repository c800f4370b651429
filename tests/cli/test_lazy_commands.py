"""Lazy command loading (platformctl/cli/app.py): the static LAZY_COMMANDS table must match the real
commands, and the lazy root must behave exactly like registering every module up front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import typer
import typer.main
from typer import _click as click
from typer.testing import CliRunner

from platformctl.cli.app import COMMAND_MODULES, LAZY_COMMANDS, build_app, module_commands

UNLIMITED = 10_000  # get_short_help_str limit that never truncates


def eager_group() -> typer.core.TyperGroup:
    return typer.main.get_group(build_app(lazy=False))


def test_table_matches_every_command_module() -> None:
    """Drift guard: adding, renaming or re-describing a command without updating LAZY_COMMANDS fails."""
    real: dict[str, tuple[str, str]] = {}
    for module in COMMAND_MODULES:
        for name, command in module_commands(module).items():
            assert name not in real, f"{name!r} registered by {real[name][0]} and {module}"
            assert not command.hidden, f"{name!r} is hidden: LazyGroup's help table assumes visible commands"
            real[name] = (module, command.get_short_help_str(UNLIMITED))
    table = {name: (entry.module, entry.help) for name, entry in LAZY_COMMANDS.items()}
    assert table == real
    # The same order as eager registration lists them (help and completion order).
    assert list(LAZY_COMMANDS) == list(eager_group().commands)
    assert {entry.module for entry in LAZY_COMMANDS.values()} == set(COMMAND_MODULES)


@pytest.mark.parametrize("width", [50, 80, 120])
def test_root_help_is_identical_to_eager_registration(width: int) -> None:
    """Help truncates each short help to the terminal width; the table must truncate the same way."""

    def root_help(group: click.Command) -> str:
        ctx = click.Context(group, info_name="platformctl", terminal_width=width, max_content_width=width)
        return group.get_help(ctx)

    lazy = typer.main.get_group(build_app())
    text = root_help(lazy)
    assert text == root_help(eager_group())
    for name in LAZY_COMMANDS:
        assert f"  {name} " in text
    assert not lazy.commands.is_loaded("config")  # type: ignore[attr-defined]  # help imported nothing


def command_paths(group: click.Command, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, sub in getattr(group, "commands", {}).items():
        yield (*prefix, name)
        yield from command_paths(sub, (*prefix, name))


ALL_PATHS = sorted(command_paths(eager_group()))


def test_nested_commands_are_covered() -> None:
    assert {("config", "show"), ("models", "list"), ("tools", "install"), ("up",)} <= set(ALL_PATHS)


@pytest.mark.parametrize("path", ALL_PATHS, ids=" ".join)
def test_command_help_is_identical_to_eager_registration(path: tuple[str, ...]) -> None:
    runner = CliRunner()
    env = {"COLUMNS": "100", "NO_COLOR": "1"}
    lazy = runner.invoke(build_app(), [*path, "--help"], prog_name="platformctl", env=env)
    eager = runner.invoke(build_app(lazy=False), [*path, "--help"], prog_name="platformctl", env=env)
    assert lazy.exit_code == eager.exit_code == 0, lazy.output
    assert lazy.output == eager.output
    assert f"Usage: platformctl {' '.join(path)}" in lazy.output


@pytest.mark.parametrize(
    "args",
    [
        ["conifg"],  # "did you mean" suggestions come from the lazy table
        ["config", "shw"],
        ["up", "--no-such-flag"],
        ["config", "show", "-o", "xml"],
        ["models"],  # no_args_is_help on a lazily built group
    ],
)
def test_errors_are_identical_to_eager_registration(args: list[str]) -> None:
    runner = CliRunner()
    lazy = runner.invoke(build_app(), args, prog_name="platformctl", env={"COLUMNS": "100"})
    eager = runner.invoke(build_app(lazy=False), args, prog_name="platformctl", env={"COLUMNS": "100"})
    assert lazy.exit_code == eager.exit_code != 0
    assert lazy.output == eager.output
    if args == ["conifg"]:
        assert "Did you mean 'config'?" in lazy.output


@pytest.mark.parametrize(
    "line", ["platformctl ", "platformctl con", "platformctl config ", "platformctl models l"]
)
def test_shell_completion_is_identical_to_eager_registration(
    line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_PLATFORMCTL_COMPLETE", "complete_zsh")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", line)
    outputs = []
    for app in (build_app(), build_app(lazy=False)):
        with pytest.raises(SystemExit):
            app(args=[], prog_name="platformctl")
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    expected = {"platformctl ": "deploy-model", "platformctl con": "config", "platformctl config ": "show"}
    assert expected.get(line, "list") in outputs[0]


_PROBE = """
import json, sys
sys.argv = ["platformctl", *json.loads(sys.argv[1])]
from platformctl.cli.app import main
try:
    main()
except SystemExit:
    pass
mods = sorted(
    m.rsplit(".", 1)[-1] for m in sys.modules
    if m.startswith("platformctl.cli.") and m.endswith("_cmd")
)
sys.__stderr__.write("\\nPROBE " + json.dumps(mods) + "\\n")
"""


def imported_command_modules(args: list[str]) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, COLUMNS="100"),
    )
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("PROBE ")), None)
    assert line is not None, proc.stderr[-3000:]
    mods: list[str] = json.loads(line[len("PROBE ") :])
    return mods


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], []),
        (["--version"], []),
        (["config", "show", "--help"], ["config_cmd"]),
        (["models", "list", "--help"], ["models_cmd"]),
        (["status", "--help"], ["platform_cmd"]),
        (["versions", "--help"], ["versions_cmd"]),
    ],
)
def test_only_the_invoked_command_module_is_imported(args: list[str], expected: list[str]) -> None:
    assert imported_command_modules(args) == expected
