"""The real upstream manifests in install order, loaded straight from PLATFORMCTL_UPSTREAM_DIR.

The corpus holds several version sets side by side (its LOCK.yaml ``sets:``): every function takes
the set's name and reads exactly that set's files (tests/support/upstream_sets.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from platformctl.drivers.kube.engine import ApplyReport, Engine
from platformctl.drivers.kube.yamlio import load_file
from tests.support.upstream_sets import find, set_names


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


@dataclass
class Step:
    component: str
    directory: str  # the corpus directory: <directory>/<version>/<file>
    files: list[str]  # fnmatch patterns below <directory>/<version>/, in apply order
    extra: list[dict[str, Any]] = field(default_factory=list)
    # webhook Services (namespace, service) that must serve before the next step, when the set has them
    webhooks: list[tuple[str, str]] = field(default_factory=list)

    def documents(self, upstream: Path, version_set: str) -> list[dict[str, Any]]:
        docs = list(self.extra)
        for pattern in self.files:
            for path in find(upstream, version_set, self.directory, pattern):
                docs += _load(path)
        return docs

    def served_webhooks(self, docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
        services = {
            (d["metadata"].get("namespace"), d["metadata"]["name"])
            for d in docs
            if d.get("kind") == "Service"
        }
        return [w for w in self.webhooks if w in services]


@cache
def _load(path: Path) -> list[dict[str, Any]]:
    # parsed once per session (kserve.yaml is 3.5 MB); the engine never mutates its input
    return load_file(path)


# The platform's dependency order (Istio's namespace first: net-istio writes into istio-system).
# kserve v0.20.0's kserve.yaml carries no Namespace object (v0.16.0's does): create it first.
# Its LLMInferenceServiceConfigs in kserve-cluster-resources.yaml are validated by the llmisvc
# webhook, so that Service must serve before the second kserve step.
PLAN = [
    Step("istio", "istio", ["crd-all.gen.yaml"], extra=[namespace("istio-system")]),
    Step(
        "cert-manager",
        "cert-manager",
        ["cert-manager.yaml"],
        webhooks=[("cert-manager", "cert-manager-webhook")],
    ),
    Step(
        "knative",
        "knative",
        ["serving-crds.yaml", "serving-core.yaml"],
        webhooks=[("knative-serving", "webhook")],
    ),
    Step("knative", "knative", ["serving-hpa.yaml", "net-istio.yaml", "serving-post-install-jobs.yaml"]),
    Step(
        "kserve",
        "kserve",
        ["kserve.yaml"],
        extra=[namespace("kserve")],
        webhooks=[
            ("kserve", "kserve-webhook-server-service"),
            ("kserve", "llmisvc-webhook-server-service"),
            ("kserve", "localmodel-webhook-server-service"),
        ],
    ),
    Step("kserve", "kserve", ["kserve-cluster-resources.yaml"]),
    Step("dapr", "dapr", ["crds/*.yaml"]),
]


def version_sets(upstream: Path) -> list[str]:
    return set_names(upstream)


def all_documents(upstream: Path, version_set: str) -> list[tuple[Step, list[dict[str, Any]]]]:
    return [(step, step.documents(upstream, version_set)) for step in PLAN]


def apply_plan(
    engine: Engine, upstream: Path, version_set: str, *, timeout: float, dry_run: bool = False
) -> list[tuple[Step, ApplyReport]]:
    out = []
    for step, docs in all_documents(upstream, version_set):
        report = engine.apply(docs, component=step.component, dry_run=dry_run, timeout=timeout)
        out.append((step, report))
        if not dry_run:
            for ns, svc in step.served_webhooks(docs):
                engine.wait_endpoints(ns, svc, timeout)
    return out
