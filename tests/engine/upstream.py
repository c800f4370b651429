"""The real upstream manifests in install order, loaded straight from PLATFORMCTL_UPSTREAM_DIR.

Layout ``<component>/<version>/<file>`` (design.md §4); the version directory is found, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from platformctl.drivers.kube.engine import ApplyReport, Engine
from platformctl.drivers.kube.yamlio import load_file


def find(upstream: Path, component: str, filename: str) -> Path:
    matches = sorted(upstream.glob(f"{component}/*/{filename}"))
    assert matches, f"{component}/*/{filename} missing under {upstream}"
    return matches[-1]


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@dataclass
class Step:
    component: str
    files: list[str]
    extra: list[dict[str, Any]] = field(default_factory=list)
    # webhook Services (namespace, service) that must serve before the next step
    webhooks: list[tuple[str, str]] = field(default_factory=list)

    def documents(self, upstream: Path) -> list[dict[str, Any]]:
        docs = list(self.extra)
        for f in self.files:
            docs += _load(find(upstream, self.component, f))
        return docs


@cache
def _load(path: Path) -> list[dict[str, Any]]:
    # parsed once per session (kserve.yaml is 3.5 MB); the engine never mutates its input
    return load_file(path)


# Dependency order of design.md §3 (Istio's namespace first: net-istio writes into istio-system).
PLAN = [
    Step("istio", ["crd-all.gen.yaml"], extra=[namespace("istio-system")]),
    Step("cert-manager", ["cert-manager.yaml"], webhooks=[("cert-manager", "cert-manager-webhook")]),
    Step("knative", ["serving-crds.yaml", "serving-core.yaml"], webhooks=[("knative-serving", "webhook")]),
    Step("knative", ["serving-hpa.yaml", "net-istio.yaml", "serving-post-install-jobs.yaml"]),
    Step("kserve", ["kserve.yaml"], webhooks=[("kserve", "kserve-webhook-server-service")]),
    Step("kserve", ["kserve-cluster-resources.yaml"]),
    Step(
        "dapr",
        [
            f"crds/{n}"
            for n in (
                "components.yaml",
                "configuration.yaml",
                "httpendpoints.yaml",
                "resiliency.yaml",
                "subscription.yaml",
            )
        ],
    ),
]


def all_documents(upstream: Path) -> list[tuple[Step, list[dict[str, Any]]]]:
    return [(step, step.documents(upstream)) for step in PLAN]


def apply_plan(
    engine: Engine, upstream: Path, *, timeout: float, dry_run: bool = False
) -> list[tuple[Step, ApplyReport]]:
    out = []
    for step, docs in all_documents(upstream):
        report = engine.apply(docs, component=step.component, dry_run=dry_run, timeout=timeout)
        out.append((step, report))
        if not dry_run:
            for ns, svc in step.webhooks:
                engine.wait_endpoints(ns, svc, timeout)
    return out
