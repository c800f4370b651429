"""`platformctl --help` must stay fast: no heavy library may be imported (guards every command module)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("kubernetes", "pyhelm3", "httpx", "jinja2")

_PROBE = """
import json, sys
sys.argv = ["platformctl", *json.loads(sys.argv[1])]
from platformctl.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
sys.__stderr__.write("\\nPROBE " + json.dumps({{"code": code, "heavy": heavy}}) + "\\n")
"""


def probe(args: list[str]) -> dict[str, object]:
    code = _PROBE.format(heavy=set(HEAVY))
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, env=env, timeout=60
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("PROBE "))
    result: dict[str, object] = json.loads(line[len("PROBE ") :])
    result["stdout"] = proc.stdout
    return result


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["config", "--help"],
        ["versions", "--help"],
        ["config", "show", "--help"],
        ["models", "list", "--help"],
        ["tools", "install", "--help"],
    ],
)
def test_help_imports_no_heavy_library(args: list[str]) -> None:
    result = probe(args)
    assert result["code"] in (0, None), result
    assert "Usage" in str(result["stdout"])
    assert result["heavy"] == [], f"`platformctl {' '.join(args)}` imported {result['heavy']}"


def test_help_does_not_import_rich() -> None:
    """Help is plain click text and the rich consoles are created on first use (start-up time:
    benchmarks/cli_startup.py); a command module importing rich at its top undoes that."""
    code = _PROBE.replace("{heavy!r}", "{{'rich', 'markdown_it', 'pygments'}}").format()
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(["--help"])], capture_output=True, text=True, timeout=60
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("PROBE "))
    assert json.loads(line[len("PROBE ") :])["heavy"] == []


def test_every_registered_command_is_in_the_help() -> None:
    from platformctl.cli.app import COMMAND_MODULES

    out = str(probe(["--help"])["stdout"])
    assert "config" in out and "versions" in out
    assert len(COMMAND_MODULES) >= 2


def test_python_m_platformctl_help_subprocess() -> None:
    """The real console path: `python -X importtime -m platformctl --help` (stderr lists every import)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "platformctl", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, COLUMNS="120"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage" in proc.stdout
    imported = {
        ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines() if ln.startswith("import time:")
    }
    assert "platformctl.cli.app" in imported  # importtime really reported our modules
    offenders = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert offenders == [], f"--help imported {offenders}"


_ALL_PROBE = """
import json, sys
import typer.main
from platformctl.cli.app import app, main
group = typer.main.get_command(app)
report = {{}}
for name in sorted(getattr(group, "commands", {{}})):
    try:
        main([name, "--help"])
    except SystemExit:
        pass
    report[name] = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
sys.__stderr__.write("\\nPROBE " + json.dumps(report) + "\\n")
"""


def test_no_subcommand_help_imports_a_heavy_library() -> None:
    """Every registered command's --help, run one after another in one process: the first command
    whose help pulls in a heavy library is named."""
    proc = subprocess.run(
        [sys.executable, "-c", _ALL_PROBE.format(heavy=set(HEAVY))],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, COLUMNS="120"),
    )
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("PROBE ")), None)
    assert line is not None, proc.stderr[-3000:]
    report: dict[str, list[str]] = json.loads(line[len("PROBE ") :])
    assert {"config", "versions"} <= set(report)
    for name, heavy in report.items():
        assert heavy == [], f"`platformctl {name} --help` imported {heavy}"


def test_startup_benchmark_runs() -> None:
    """benchmarks/cli_startup.py works (numbers are reported by hand; CI load makes them no gate)."""
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "cli_startup.py"), "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr
    assert "platformctl --help" in proc.stdout and "python -c pass" in proc.stdout
    assert re.search(r"platformctl / python -c pass = [0-9.]+x", proc.stdout)
