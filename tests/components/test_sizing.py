"""usecases/sizing.py: quantities, and the real platform's requests computed from its render."""

from __future__ import annotations

import pytest

from platformctl.components import registry
from platformctl.components.base import Apply
from platformctl.plan.spec import COMPONENTS
from platformctl.usecases.sizing import Requests, Sizing, fit, pod_requests, quantity, size
from tests.components.conftest import MakeCtx

GiB = 2**30


def test_quantities() -> None:
    assert quantity("250m") == 0.25 and quantity("2") == 2.0 and quantity(1) == 1.0
    assert quantity("128Mi") == 128 * 2**20 and quantity("1Gi") == GiB and quantity("1G") == 1e9
    assert quantity("1.5") == 1.5 and quantity("1e3") == 1000.0
    with pytest.raises(ValueError):
        quantity("lots")


def test_effective_pod_requests_take_the_largest_init_container() -> None:
    pod = {
        "initContainers": [{"resources": {"requests": {"cpu": "2", "memory": "64Mi"}}}],
        "containers": [
            {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}},
            {"resources": {"requests": {"cpu": "200m"}}},
        ],
    }
    req = pod_requests(pod)
    assert req.cpu == 2.0 and req.memory == 128 * 2**20


def test_replicas_hpa_min_knative_min_scale() -> None:
    def dep(name: str, replicas: int | None) -> dict[str, object]:
        spec: dict[str, object] = {
            "template": {"spec": {"containers": [{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}}
        }
        if replicas is not None:
            spec["replicas"] = replicas
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "n"},
            "spec": spec,
        }

    hpa = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "b", "namespace": "n"},
        "spec": {"minReplicas": 2, "scaleTargetRef": {"kind": "Deployment", "name": "b"}},
    }
    ksvc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "k", "namespace": "n"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "0"}},
                "spec": {"containers": [{"resources": {"requests": {"cpu": "4"}}}]},
            }
        },
    }
    s = size({"x": [dep("a", 3), dep("b", None), hpa, ksvc]})
    assert s.total.cpu == 5.0 and s.total.memory == 5 * GiB  # 3 + HPA min 2; a min-scale 0 ksvc runs nothing


def test_fit_names_what_does_not_fit() -> None:
    s = Sizing(total=Requests(cpu=3.0, memory=10 * GiB))
    assert fit(s, cpu=4, memory=16 * GiB, where="Docker").fits
    no = fit(s, cpu=2, memory=8 * GiB, where="Docker")
    assert not no.fits and "CPU 3.00 > 2" in no.detail and "memory 10.0 GiB > 8.0 GiB" in no.detail


def test_the_real_platform(make_ctx: MakeCtx) -> None:
    """The default platform rendered from the pinned files and real charts, before sidecars/queue-proxies."""
    ctx = make_ctx()
    objects = {
        name: [o for st in registry.get(name).steps(ctx) if isinstance(st, Apply) for o in st.render(ctx)]
        for name in COMPONENTS
    }
    s = size(objects)
    # Measured on the kserve-0.16 set: 1.85 CPU, 3.6 GiB (istio 0.6/2.1 GiB, knative 0.85/0.6 GiB,
    # kserve 0.4/0.9 GiB; cert-manager, dapr and the workloads set no requests).
    assert 1.0 < s.total.cpu < 3.0 and 2 * GiB < s.total.memory < 6 * GiB
    # istiod: 500m / 2Gi (istio/istio@1.27.1 istio-discovery values.yaml pilot resources), 1 replica (HPA min)
    assert s.by_component["istio"].cpu >= 0.5 and s.by_component["istio"].memory >= 2 * GiB
