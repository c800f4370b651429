"""The import contracts (.importlinter, run by `nox -s lint`) hold, and they catch an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "lint-imports"
    if not exe.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.fail("import-linter is not installed (it is in the 'test' extra)")
        exe = Path(found)
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(exe), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and the contracts, to break on purpose."""
    shutil.copytree(
        REPO / "platformctl", tmp_path / "platformctl", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    return tmp_path


def test_contracts_hold_on_the_package(tree: Path) -> None:
    res = lint_imports(tree)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in res.stdout


def test_an_upward_import_breaks_the_layers_contract(tree: Path) -> None:
    # A driver reaching up into a use-case: exactly what the layers forbid.
    (tree / "platformctl" / "drivers" / "upward.py").write_text(
        "from platformctl.usecases import up\n\nUP = up\n", encoding="utf-8"
    )
    res = lint_imports(tree)
    assert res.returncode == 1
    assert "platformctl.drivers.upward -> platformctl.usecases.up" in res.stdout
    assert "1 kept, 1 broken" in res.stdout


def test_a_cli_module_importing_a_driver_breaks_the_forbidden_contract(tree: Path) -> None:
    (tree / "platformctl" / "cli" / "wired.py").write_text(
        "from platformctl.drivers import kind\n\nKIND = kind\n", encoding="utf-8"
    )
    res = lint_imports(tree)
    assert res.returncode == 1
    assert "platformctl.cli.wired -> platformctl.drivers.kind" in res.stdout
