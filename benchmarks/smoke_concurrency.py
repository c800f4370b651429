"""Smoke-test concurrency: the whole smoke test vs its slowest single check (target ratio ≤ 1.2).

Starts the local stand-ins the tests use — the real KServe model server (sklearn iris), the conference
double (c4p scales from zero with ``--cold-start`` seconds, the slowest check on purpose) and Debian's
nginx routing sslip.io hosts — then runs ``run_smoke_test`` ``--runs`` times and prints, per run, the
total wall time, the slowest check's time and their ratio. Exit 1 when the median ratio exceeds
``--max-ratio``.

    python benchmarks/smoke_concurrency.py [--runs 5] [--cold-start 1.0] [--max-ratio 1.2]

Needs kserve + scikit-learn (the 'model' extra, or $PLATFORMCTL_MODEL_PYTHON) and /usr/sbin/nginx.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `platformctl` and `tests` importable
    sys.path.insert(0, str(REPO))

from platformctl.drivers.http import parse_ingress  # noqa: E402
from platformctl.plan.spec import PlatformSpec  # noqa: E402
from platformctl.usecases.smoke_test import build_checks, run_smoke_test, targets_from_spec  # noqa: E402
from tests.support.conference_double import conference_double  # noqa: E402
from tests.support.modelserver import model_server  # noqa: E402
from tests.support.nginx import nginx_ingress  # noqa: E402

SERVICES = ("frontend", "agenda-service", "c4p-service", "notifications-service")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-start", type=float, default=1.0, help="c4p scale-from-zero delay (s)")
    parser.add_argument("--max-ratio", type=float, default=1.2)
    args = parser.parse_args()

    spec = PlatformSpec()
    targets = targets_from_spec(spec)
    checks = build_checks(targets)
    with tempfile.TemporaryDirectory() as tmp, model_server(Path(tmp)) as server:
        print(f"model server ready in {server.startup_seconds:.2f}s (kserve ModelServer, sklearn iris)")
        ratios: list[float] = []
        for run in range(1, args.runs + 1):
            # A fresh double per run: c4p starts "at zero pods" every time.
            with conference_double(cold_start=args.cold_start) as double:
                routes = {f"{s}.default.{spec.domain}": double.port for s in SERVICES}
                routes[f"sklearn-iris.default.{spec.domain}"] = server.port
                with nginx_ingress(Path(tmp) / f"run{run}", routes) as ingress:
                    report = run_smoke_test(checks, ingress=parse_ingress(ingress.address), timeout=30)
            slowest = max(report.results, key=lambda r: r.elapsed)
            ratio = report.total_seconds / slowest.elapsed
            ratios.append(ratio)
            status = "all pass" if report.ok else f"{len(report.failed())} FAILED"
            print(
                f"run {run}: {len(report.results)} checks ({status}) total {report.total_seconds:.3f}s, "
                f"slowest {slowest.id} {slowest.elapsed:.3f}s, ratio {ratio:.3f}"
            )
            if not report.ok:
                return 1
    median = statistics.median(ratios)
    print(f"median ratio total/slowest = {median:.3f} (target ≤ {args.max_ratio})")
    return 0 if median <= args.max_ratio else 1


if __name__ == "__main__":
    raise SystemExit(main())
