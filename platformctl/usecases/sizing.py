"""What the rendered platform asks the scheduler for: CPU and memory requests, from the objects themselves.

Counted: every container of Deployments, StatefulSets and ReplicaSets times their replicas (no
``replicas``, e.g. Istio's HPA-managed Deployments: the HPA's ``minReplicas``, else 1), DaemonSets once
per node, Knative Services times their ``autoscaling.knative.dev/min-scale`` (default 0: nothing runs
until a request), Jobs once. Not counted, because the render does not contain them: sidecars injected
at admission (Dapr's daprd, Istio's proxy in the gateway), Knative's queue-proxy, and pods controllers
create from custom resources (the iris InferenceService's predictor gets KServe's resource defaults
from its ``inferenceservice-config``). Init containers
run before the others, so a pod's request is the larger of its containers' sum and its largest init
container (the Kubernetes rule for effective requests).

Sizing against capacity is a warning, never a refusal: requests are what the scheduler reserves,
and a platform that does not fit leaves pods Pending with "Insufficient cpu/memory".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from platformctl.kubeobjects import KubeObject

# Kubernetes resource.Quantity suffixes (k8s.io/apimachinery pkg/api/resource/suffix.go).
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity(value: Any) -> float:
    """A Kubernetes quantity ("250m", "1.5", "128Mi", "1G", 2) as a number of base units."""
    if isinstance(value, int | float):
        return float(value)
    m = _QUANTITY.match(str(value).strip())
    if m is None:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = float(m.group(1)), m.group(2)
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * _DECIMAL[suffix]
    raise ValueError(f"not a Kubernetes quantity: {value!r}")


@dataclass
class Requests:
    cpu: float = 0.0  # cores
    memory: float = 0.0  # bytes

    def add(self, other: Requests, times: float = 1.0) -> None:
        self.cpu += other.cpu * times
        self.memory += other.memory * times


@dataclass
class Sizing:
    total: Requests = field(default_factory=Requests)
    by_component: dict[str, Requests] = field(default_factory=dict)

    def summary(self) -> str:
        return f"{self.total.cpu:.2f} CPU, {gib(self.total.memory)} memory requested"


def gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _container_requests(c: Mapping[str, Any]) -> Requests:
    req = ((c.get("resources") or {}).get("requests")) or {}
    out = Requests()
    try:
        if "cpu" in req:
            out.cpu = quantity(req["cpu"])
        if "memory" in req:
            out.memory = quantity(req["memory"])
    except ValueError:
        pass  # a templated or malformed value: the apiserver will say so; sizing just skips it
    return out


def pod_requests(pod_spec: Mapping[str, Any]) -> Requests:
    """Effective requests of a pod: max(sum of containers, largest init container), per resource."""
    total = Requests()
    for c in pod_spec.get("containers") or []:
        total.add(_container_requests(c))
    for c in pod_spec.get("initContainers") or []:
        init = _container_requests(c)
        total.cpu = max(total.cpu, init.cpu)
        total.memory = max(total.memory, init.memory)
    return total


def _hpa_min(objects: Iterable[KubeObject]) -> dict[tuple[str, str, str], int]:
    out: dict[tuple[str, str, str], int] = {}
    for o in objects:
        if o.get("kind") == "HorizontalPodAutoscaler":
            spec = o.get("spec") or {}
            ref = spec.get("scaleTargetRef") or {}
            ns = str((o.get("metadata") or {}).get("namespace") or "")
            out[(str(ref.get("kind")), ns, str(ref.get("name")))] = int(spec.get("minReplicas") or 1)
    return out


def _replicas(obj: KubeObject, hpa: Mapping[tuple[str, str, str], int], nodes: int) -> float:
    kind = obj.get("kind")
    md = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    if kind == "DaemonSet":
        return float(nodes)
    if kind == "Job":
        return 1.0
    if kind == "Service":  # Knative Service: min-scale pods are kept running
        ann = ((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}
        return float(ann.get("autoscaling.knative.dev/min-scale", 0))
    if "replicas" in spec and spec["replicas"] is not None:
        return float(spec["replicas"])
    return float(hpa.get((str(kind), str(md.get("namespace") or ""), str(md.get("name"))), 1))


def _pod_spec(obj: KubeObject) -> Mapping[str, Any] | None:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return (spec.get("template") or {}).get("spec") or {}
    if kind == "Service" and str(obj.get("apiVersion", "")).startswith("serving.knative.dev/"):
        return (spec.get("template") or {}).get("spec") or {}
    return None


def size(objects_by_component: Mapping[str, list[KubeObject]], *, nodes: int = 1) -> Sizing:
    """Total and per-component requests of everything rendered (module docstring)."""
    out = Sizing()
    for component, objects in objects_by_component.items():
        hpa = _hpa_min(objects)
        mine = Requests()
        for obj in objects:
            pod = _pod_spec(obj)
            if pod is not None:
                mine.add(pod_requests(pod), _replicas(obj, hpa, nodes))
        out.by_component[component] = mine
        out.total.add(mine)
    return out


@dataclass(frozen=True)
class Fit:
    fits: bool
    detail: str


def fit(sizing: Sizing, *, cpu: float | None, memory: float | None, where: str) -> Fit:
    """Whether the requests fit ``cpu`` cores and ``memory`` bytes (None: unknown, not judged)."""
    have = (
        f"{where} offers {f'{cpu:g}' if cpu is not None else '?'} CPU, {gib(memory) if memory else '? GiB'}"
    )
    short: list[str] = []
    if cpu is not None and sizing.total.cpu > cpu:
        short.append(f"CPU {sizing.total.cpu:.2f} > {cpu:g}")
    if memory is not None and sizing.total.memory > memory:
        short.append(f"memory {gib(sizing.total.memory)} > {gib(memory)}")
    detail = f"{sizing.summary()}; {have}"
    if short:
        return Fit(False, f"{detail}: does not fit ({'; '.join(short)}), pods would stay Pending")
    return Fit(True, detail)
