"""Pre-pull ordering and the background puller (usecases/prepull.py), and the benchmark's model."""

from __future__ import annotations

import threading
import time

from platformctl.errors import SourceError
from platformctl.reporting import RecordingReporter
from platformctl.usecases.images import ImageEntry, ImagesReport
from platformctl.usecases.prepull import Prepull, pull_order
from tests.support.pull_model import Model, simulate


def entry(image: str, *needed_by: str) -> ImageEntry:
    return ImageEntry(image, needed_by or ("x",), (), "tag", "docker.io", False, tuple(needed_by))


def test_pull_order_follows_the_dag_and_puts_unused_images_last() -> None:
    report = ImagesReport(
        images=[
            entry("agent:1"),  # needed by no pod in this render
            entry("model-server:1", "iris"),
            entry("queue:1", "conference", "iris"),
            entry("pilot:1", "istio"),
            entry("kserve:1", "kserve"),
        ]
    )
    order = ["istio", "knative-serving", "kserve", "conference", "iris"]
    assert [e.image for e in pull_order(report, order)] == [
        "pilot:1", "kserve:1", "queue:1", "model-server:1", "agent:1",
    ]  # fmt: skip


def test_prepull_bounds_concurrency_reports_progress_and_failures() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def pull(image: str) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        if image == "bad:1":
            raise SourceError("pull bad:1: manifest unknown")
        return 1_000_000

    rec = RecordingReporter()
    images = [f"img{i}:1" for i in range(9)] + ["bad:1"]
    job = Prepull(images, pull, concurrency=3, reporter=rec)
    job.start()
    report = job.wait(timeout=30)
    assert report.done == report.total == 10
    assert peak <= 3 and report.max_concurrent == peak
    assert [r.image for r in report.failed] == ["bad:1"]
    assert report.failed[0].error == "pull bad:1: manifest unknown"
    progress = [e for e in rec.events if e.kind == "progress"]
    assert [e.done for e in progress] == list(range(1, 11)) and {e.total for e in progress} == {10}
    assert progress[-1].message == "10/10 images, 9 MB, 1 failed"
    kinds = [(e.kind, e.message) for e in rec.events if e.kind in ("start", "fail", "log")]
    assert kinds[0] == ("start", "pre-pulling 10 images")
    assert ("fail", "9/10 images pre-pulled (9 MB), 1 failed (the kubelet pulls them when needed)") in kinds
    assert ("log", "pre-pull of bad:1 failed: pull bad:1: manifest unknown") in kinds


def _model() -> Model:
    # a -> b; b needs a big image. On demand it is requested only when b starts.
    return Model(
        order=["a", "b"],
        deps={"a": (), "b": ("a",)},
        cp={"a": 100.0, "b": 10.0},
        needs={"a": ["small"], "b": ["big"]},
        sizes={"small": 10.0, "big": 100.0},
        prepull_order=["small", "big"],
    )


def test_model_prepull_overlaps_downloads_with_the_control_plane() -> None:
    m = _model()
    warm = simulate(m, bandwidth=1.0, mode="warm")
    assert warm == 110.0  # the control-plane critical path
    on_demand = simulate(m, bandwidth=1.0, mode="on-demand")
    # small: 10 s, a ready at max(100, 10+5) = 100; big requested at 100, done at 200, b at 205.
    assert on_demand == 205.0
    pre = simulate(m, bandwidth=1.0, mode="prepull", concurrency=1)
    # small done at 10, big at 110; b starts at 100 and is ready at max(110, 110 + 5) = 115.
    assert pre == 115.0
