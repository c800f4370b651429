"""Apply the whole upstream manifest set to the fake API server; print throughput and requests/object.

    python -m benchmarks.apply_upstream [--upstream DIR]      (from the repo root)
    python benchmarks/apply_upstream.py [--upstream DIR]

DIR defaults to $PLATFORMCTL_UPSTREAM_DIR, else ../shared/upstream. The fake runs in-process, so the
numbers include its own (Python) server time: compare runs with each other, not with a real cluster.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: make `platformctl` and `tests` importable
    sys.path.insert(0, str(REPO))

from platformctl.drivers.kube.engine import Engine  # noqa: E402
from tests.engine.upstream import all_documents, version_sets  # noqa: E402
from tests.fakeapi import FakeApiServer  # noqa: E402
from tests.support.upstream_sets import set_files  # noqa: E402


def _round(
    engine: Engine,
    fake: FakeApiServer,
    batches: list[tuple[str, list[dict[str, object]]]],
    label: str,
    *,
    dry_run: bool = False,
) -> dict[str, float]:
    start_requests = fake.request_count
    started = time.perf_counter()
    objects = 0
    actions: dict[str, int] = {}
    for component, docs in batches:
        report = engine.apply(docs, component=component, dry_run=dry_run, timeout=300)
        objects += len(report.results)
        for r in report.results:
            actions[r.action] = actions.get(r.action, 0) + 1
    seconds = time.perf_counter() - started
    requests = fake.request_count - start_requests
    summary = ", ".join(f"{n} {a}" for a, n in sorted(actions.items()))
    print(
        f"{label:<18} {objects:4d} objects in {seconds:6.2f}s  {objects / seconds:7.1f} objects/s  "
        f"{requests:5d} requests  {requests / objects:5.2f} requests/object  ({summary})"
    )
    return {"objects": objects, "seconds": seconds, "requests": requests}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    default = os.environ.get("PLATFORMCTL_UPSTREAM_DIR") or str(REPO.parent / "shared" / "upstream")
    parser.add_argument(
        "--upstream", default=default, help="upstream manifests dir (<component>/<version>/<file>)"
    )
    parser.add_argument(
        "--set",
        dest="version_set",
        default=None,
        help="version set of the dir's LOCK.yaml (default: the last)",
    )
    args = parser.parse_args(argv)
    upstream = Path(args.upstream)
    if not upstream.is_dir():
        print(
            f"upstream dir {upstream} not found: pass --upstream or set PLATFORMCTL_UPSTREAM_DIR",
            file=sys.stderr,
        )
        return 2
    version_set = args.version_set or version_sets(upstream)[-1]
    t0 = time.perf_counter()
    batches = [(step.component, docs) for step, docs in all_documents(upstream, version_set)]
    total_bytes = sum((upstream / f.path).stat().st_size for f in set_files(upstream, version_set))
    print(f"version set {version_set}")
    print(
        f"parsed {sum(len(d) for _, d in batches)} documents ({total_bytes / 1e6:.1f} MB YAML) "
        f"in {time.perf_counter() - t0:.2f}s"
    )
    with FakeApiServer() as fake:
        engine = Engine.connect(str(fake.kubeconfig_path), fake.context)
        _round(engine, fake, batches, "dry-run (empty)", dry_run=True)
        _round(engine, fake, batches, "apply (fresh)")
        _round(engine, fake, batches, "re-apply (no-op)")
        _round(engine, fake, batches, "dry-run (no-op)", dry_run=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
