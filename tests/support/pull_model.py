"""The pull model of benchmarks/prepull.py (kept here so tests can check its arithmetic).

A discrete-event model of ``up`` with image pulls over a component DAG; see benchmarks/prepull.py for
the schedules and the profiles. Pulls share the link: k active pulls each get bandwidth/k.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

POD_START = 5.0  # container start to readiness once the image is present (assumed)


@dataclass
class Model:
    order: list[str]
    deps: Mapping[str, Sequence[str]]
    cp: Mapping[str, float]  # control-plane seconds per component
    needs: Mapping[str, list[str]]  # component → images its pods run
    sizes: Mapping[str, float]  # image → bytes
    prepull_order: list[str]  # every image, in pre-pull order


def simulate(m: Model, bandwidth: float, mode: str, concurrency: int = 3) -> float:
    """Wall time until every component is ready. mode: on-demand | prepull | warm."""
    t = 0.0
    remaining: dict[str, float] = {}  # active pulls → bytes left
    done_at: dict[str, float] = {}
    if mode == "warm":
        done_at = {i: 0.0 for i in m.sizes}
    kubelet_queue: list[str] = []  # serialized kubelet pulls (one at a time)
    kubelet_active: str | None = None
    pre_queue = list(m.prepull_order) if mode == "prepull" else []
    pre_active: set[str] = set()
    start: dict[str, float] = {}
    finish: dict[str, float] = {}

    def started(image: str) -> bool:
        return image in done_at or image in remaining

    while len(finish) < len(m.order):
        # Components whose dependencies are ready start now and ask the kubelet for their images.
        for c in m.order:
            if c not in start and all(d in finish for d in m.deps[c]):
                start[c] = t
                for image in m.needs[c]:
                    if not started(image) and image not in kubelet_queue:
                        kubelet_queue.append(image)
        # Fill the pullers.
        if kubelet_active is None or kubelet_active in done_at:
            kubelet_active = None
            while kubelet_queue:
                image = kubelet_queue.pop(0)
                if not started(image):
                    kubelet_active = image
                    remaining[image] = m.sizes[image]
                    break
        pre_active = {i for i in pre_active if i not in done_at}
        while pre_queue and len(pre_active) < concurrency:
            image = pre_queue.pop(0)
            if not started(image):
                pre_active.add(image)
                remaining[image] = m.sizes[image]
        # Components that can finish now.
        progressed = False
        for c in m.order:
            if c in start and c not in finish and all(i in done_at for i in m.needs[c]):
                ready = max([start[c] + m.cp[c], *(done_at[i] + POD_START for i in m.needs[c])])
                if ready <= t + 1e-9:
                    finish[c] = t
                    progressed = True
        if progressed:
            continue
        # Next event: a pull completes, or a component's control-plane time / pod start elapses.
        candidates: list[float] = []
        if remaining:
            rate = bandwidth / len(remaining)
            candidates.append(t + min(remaining.values()) / rate)
        for c in m.order:
            if c in start and c not in finish and all(i in done_at for i in m.needs[c]):
                candidates.append(max([start[c] + m.cp[c], *(done_at[i] + POD_START for i in m.needs[c])]))
        nxt = min(candidates)
        if remaining:
            rate = bandwidth / len(remaining)
            for image in list(remaining):
                remaining[image] -= rate * (nxt - t)
                if remaining[image] <= 1e-3:
                    del remaining[image]
                    done_at[image] = nxt
        t = nxt
    return max(finish.values())
