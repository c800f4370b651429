"""Health rules read once from object status (no waiting): readiness, endpoints, running version."""

from __future__ import annotations

from typing import Any

from platformctl.components import common


class StubEngine:
    """Only what health reads: get() and list() over a dict of objects."""

    def __init__(
        self, objects: dict[tuple[str, str, str], dict[str, Any]], slices: list[dict[str, Any]]
    ) -> None:
        self.objects = objects
        self.slices = slices

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace or "", name))

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        svc = (label_selector or "").partition("=")[2]
        return [s for s in self.slices if s["metadata"]["labels"]["kubernetes.io/service-name"] == svc]


def deployment(image: str, available: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"generation": 2, "labels": labels or {}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"image": image}]}}},
        "status": {"observedGeneration": 2, "availableReplicas": available, "updatedReplicas": available},
    }


def endpoint_slice(service: str, ready: bool | None) -> dict[str, Any]:
    conditions = {} if ready is None else {"ready": ready}
    return {
        "metadata": {"labels": {"kubernetes.io/service-name": service}},
        "endpoints": [{"addresses": ["10.0.0.1"], "conditions": conditions}],
    }


WL = ("Deployment", "kserve", "kserve-controller-manager")


def test_healthy_reports_running_version() -> None:
    eng = StubEngine({("Deployment", "kserve", WL[2]): deployment("kserve/kserve-controller:v0.16.0", 1)}, [])
    eng.slices.append(endpoint_slice("kserve-webhook-server-service", None))  # nil ready means ready
    h = common.health(eng, "v0.16.0", [WL], [("kserve", "kserve-webhook-server-service")], version_of=WL)  # type: ignore[arg-type]
    assert h.healthy and h.version == "v0.16.0" and h.reason == ""


def test_unready_workload_and_endpoints_named_in_reason() -> None:
    eng = StubEngine(
        {("Deployment", "kserve", WL[2]): deployment("kserve/kserve-controller:v0.16.0", 0)},
        [endpoint_slice("kserve-webhook-server-service", False)],
    )
    h = common.health(eng, "v0.16.0", [WL], [("kserve", "kserve-webhook-server-service")])  # type: ignore[arg-type]
    assert not h.healthy
    assert "kserve/kserve-controller-manager: 0/1 ready" in h.reason
    assert "kserve-webhook-server-service has no ready endpoints" in h.reason


def test_missing_and_version_drift() -> None:
    eng = StubEngine({("Deployment", "kserve", WL[2]): deployment("kserve/kserve-controller:v0.15.0", 1)}, [])
    h = common.health(eng, "v0.16.0", [WL], version_of=WL)  # type: ignore[arg-type]
    assert not h.healthy and h.version == "v0.15.0" and "lock pins v0.16.0" in h.reason
    h2 = common.health(StubEngine({}, []), "v0.16.0", [WL], version_of=WL)  # type: ignore[arg-type]
    assert not h2.healthy and "not found" in h2.reason and h2.version == "v0.16.0"


def test_deployed_version_sources() -> None:
    objs = {
        ("Deployment", "ns", "label"): deployment(
            "x@sha256:" + "a" * 64, 1, {"app.kubernetes.io/version": "1.15.2"}
        ),
        ("Deployment", "ns", "tag"): deployment("registry:5000/dapr/dapr:1.15.14@sha256:" + "b" * 64, 1),
        ("Deployment", "ns", "digest-only"): deployment(
            "registry:5000/knative/controller@sha256:" + "c" * 64, 1
        ),
    }
    eng = StubEngine(objs, [])
    assert common.deployed_version(eng, "Deployment", "ns", "label") == "1.15.2"  # type: ignore[arg-type]
    assert common.deployed_version(eng, "Deployment", "ns", "tag") == "1.15.14"  # type: ignore[arg-type]
    assert common.deployed_version(eng, "Deployment", "ns", "digest-only") is None  # type: ignore[arg-type]


def test_running_image_tag_wins_over_chart_label() -> None:
    # A chart packaged from Istio's source labels its objects 1.27.1 while its default image is
    # gcr.io/istio-testing/pilot:latest: status must report what runs, and flag the drift.
    istiod = ("Deployment", "istio-system", "istiod")
    label = {"app.kubernetes.io/version": "1.27.1"}
    objs = {istiod: deployment("gcr.io/istio-testing/pilot:latest", 1, label)}
    eng = StubEngine(objs, [])
    assert common.deployed_version(eng, *istiod) == "latest"  # type: ignore[arg-type]
    h = common.health(eng, "1.27.1", [istiod], version_of=istiod)  # type: ignore[arg-type]
    assert not h.healthy and h.version == "latest" and "lock pins 1.27.1" in h.reason


def test_image_tag_parsing() -> None:
    assert common.image_tag("docker.io/istio/pilot:1.27.1") == "1.27.1"
    assert common.image_tag("localhost:5000/pilot") is None  # a registry port is not a tag
    assert common.image_tag("ghcr.io/dapr/operator:1.15.14@sha256:" + "d" * 64) == "1.15.14"
    assert common.image_tag("auto") is None
