"""Toy components and an in-memory engine for orchestration tests that need no API server."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from platformctl.components.base import Apply, Health, RenderContext, Step, Wait
from platformctl.errors import NotReadyError


class ToyEngine:
    context_name = "toy"
    server = "http://toy.invalid"

    def __init__(self) -> None:
        self.server_version = {"gitVersion": "v1.34.0"}  # inside every shipped set's Kubernetes range
        self.store: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.owner: dict[tuple[str, str, str], str] = {}
        self.applies: list[tuple[str, bool]] = []
        self.never_ready: set[str] = set()
        self.lock = threading.Lock()

    def apply(
        self,
        objects: list[dict[str, Any]],
        *,
        component: str,
        force_conflicts: bool = False,
        dry_run: bool = False,
        timeout: float = 300,
    ) -> Any:
        results = []
        with self.lock:
            self.applies.append((component, dry_run))
            for obj in objects:
                k = (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
                old = self.store.get(k)
                action = "created" if old is None else ("unchanged" if old == obj else "configured")
                if not dry_run:
                    self.store[k] = obj
                    self.owner[k] = component
                results.append(SimpleNamespace(kind=k[0], namespace=k[1], name=k[2], action=action))
        return SimpleNamespace(results=results)

    def prune(self, *, component: str | None = None, timeout: float = 300) -> Any:
        with self.lock:
            gone = [k for k, c in self.owner.items() if component is None or c == component]
            for k in gone:
                del self.store[k], self.owner[k]
        return SimpleNamespace(deleted=gone)

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return [o for k, o in self.store.items() if k[0] == kind]


@dataclass
class ToyComponent:
    name: str
    depends_on: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    delay: float = 0.05
    calls: list[str] = field(default_factory=list)

    def version(self, ctx: RenderContext) -> str:
        return "1.0"

    def _objects(self, ctx: RenderContext) -> list[dict[str, Any]]:
        return [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": self.name, "namespace": "toy"},
                "data": {"k": "v"},
            }
        ]

    def _ready(self, engine: Any, timeout: float) -> None:
        self.calls.append("wait")
        time.sleep(self.delay)
        if self.name in engine.never_ready:
            raise NotReadyError(
                f"deployment {self.name} not ready", details=[f"pod {self.name}-0: ImagePullBackOff"]
            )

    def steps(self, ctx: RenderContext) -> list[Step]:
        return [Apply("objects", self._objects), Wait("ready", self._ready), Apply("post", lambda ctx: [])]

    def health(self, engine: Any, ctx: RenderContext) -> Health:
        ok = ("ConfigMap", "toy", self.name) in engine.store
        return Health(healthy=ok, version="1.0", reason="" if ok else "not installed")


def toy_registry(deps: dict[str, tuple[str, ...]], delay: float = 0.05) -> dict[str, ToyComponent]:
    from platformctl.plan.spec import COMPONENTS

    return {n: ToyComponent(n, deps.get(n, ()), delay=delay) for n in COMPONENTS}


REAL_DEPS: dict[str, tuple[str, ...]] = {
    "knative-serving": ("istio",),
    "kserve": ("cert-manager", "knative-serving"),
    "conference": ("knative-serving", "dapr", "infra"),
    "iris": ("kserve", "knative-serving"),
}


def stub_preflight(monkeypatch: Any) -> list[tuple[str, ...]]:
    """Replace `up`'s preflight with a recorder: toy components have no pinned sources and the ToyEngine
    answers no API calls. The preflight itself runs in tests/orchestration/test_preflight.py and with
    the real components in test_up_fake.py. Returns the plans it was called with (it must be called)."""
    from platformctl.usecases import preflight

    calls: list[tuple[str, ...]] = []

    def record(spec: Any, plan: Any, *args: Any, **kwargs: Any) -> preflight.PreflightReport:
        calls.append(tuple(plan.order))
        return preflight.PreflightReport()

    monkeypatch.setattr(preflight, "run_for_up", record)
    return calls
