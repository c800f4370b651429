"""health() and the shared deadline, against a stub engine (no cluster)."""

from __future__ import annotations

from typing import Any

from platformctl.components import conference, infra, iris
from platformctl.components.workloads import Deadline
from platformctl.plan.lock import load_lock
from tests.workloads.conftest import MakeCtx


class StubEngine:
    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        self.objects = objects

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace or "", name))


def _ksvc(name: str, ready: str, reason: str = "") -> dict[str, Any]:
    return {
        "status": {
            "url": f"http://{name}.default.127.0.0.1.sslip.io",
            "conditions": [{"type": "Ready", "status": ready, "reason": reason}],
        }
    }


def test_health_reports_missing_and_not_ready(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    empty: Any = StubEngine({})
    h = infra.COMPONENT.health(empty, ctx)
    assert not h.healthy and h.reason == "StatefulSet default/redis not found"
    h = conference.COMPONENT.health(empty, ctx)
    assert not h.healthy and h.reason == "Service default/frontend not found" and not h.urls

    objs = {("Service", "default", n): _ksvc(n, "True") for n in conference.SERVICES}
    objs[("Service", "default", "c4p-service")] = _ksvc("c4p-service", "False", "RevisionFailed")
    h = conference.COMPONENT.health(StubEngine(objs), ctx)  # type: ignore[arg-type]
    assert not h.healthy and "c4p-service" in h.reason and "RevisionFailed" in h.reason
    assert len(h.urls) == 4 and h.version == "v2.0.0"

    isvc = {("InferenceService", "default", "sklearn-iris"): _ksvc("sklearn-iris", "True")}
    h = iris.COMPONENT.health(StubEngine(isvc), ctx)  # type: ignore[arg-type]
    assert h.healthy and h.urls == (("sklearn-iris", "http://sklearn-iris.default.127.0.0.1.sslip.io"),)
    assert h.version == f"sklearn-iris (kserve {load_lock().release('kserve')[0]})"

    sts = {
        ("StatefulSet", "default", n): {
            "spec": {"replicas": 1},
            "status": {"readyReplicas": 1 if n != "kafka" else 0},
        }
        for n in ("redis", "postgresql", "kafka")
    }
    h = infra.COMPONENT.health(StubEngine(sts), ctx)  # type: ignore[arg-type]
    assert not h.healthy and h.reason == "StatefulSet default/kafka: 0/1 replicas ready"


def test_deadline_is_shared_and_never_below_one_second() -> None:
    now = [100.0]
    d = Deadline(10, clock=lambda: now[0])
    assert d.remaining() == 10
    now[0] = 106.5
    assert d.remaining() == 3.5
    now[0] = 200
    assert d.remaining() == 1.0
