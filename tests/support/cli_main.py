"""Run the real console entry point (``platformctl.cli.app.main``: error → exit-code mapping) in-process
with Typer's CliRunner isolation, capturing stdout/stderr and controlling the environment."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from typer.testing import CliRunner

from platformctl.cli.app import main

# Variables that would leak the developer's setup into a test (spec env vars, kubeconfig, colour).
_AMBIENT = ("KUBECONFIG", "NO_COLOR", "FORCE_COLOR", "PLATFORMCTL_CONFIG")
_SPEC_PREFIXES = (
    "PLATFORMCTL_CLUSTER",
    "PLATFORMCTL_DOMAIN",
    "PLATFORMCTL_COMPONENTS",
    "PLATFORMCTL_TIMEOUTS",
    "PLATFORMCTL_WORKLOADS",
    "PLATFORMCTL_VERSIONS",
)


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """An env overlay that removes ambient spec/kube variables and sets ``extra``."""
    env: dict[str, str | None] = {
        k: None for k in os.environ if k in _AMBIENT or k.upper().startswith(_SPEC_PREFIXES)
    }
    env.update(extra or {})
    return env


def run_main(args: Sequence[str], env: Mapping[str, str] | None = None) -> Ran:
    with CliRunner().isolation(env=clean_env(env)) as (out, err, _):
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        return Ran(code, out.getvalue().decode(), err.getvalue().decode())
