"""Contract: the real upstream manifests through the engine, on the fake or on a real cluster.

Runs against a real cluster, unchanged, when PLATFORMCTL_TEST_KUBECONFIG (and optionally
PLATFORMCTL_TEST_CONTEXT) is set; otherwise against a fresh FakeApiServer. One installation is shared
by the module per version set (applying the 240 upstream objects costs seconds); the prune test is
last on purpose. Every set in the corpus's LOCK.yaml runs, one after the other.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from platformctl.drivers.kube.apply import is_crd
from platformctl.drivers.kube.engine import ApplyReport, Engine
from platformctl.drivers.kube.labels import COMPONENT_KEY, MANAGED_BY, MANAGED_BY_KEY
from tests.conftest import KubeTarget
from tests.engine.upstream import PLAN, Step, all_documents, apply_plan, version_sets
from tests.fakeapi import FakeApiServer


def _upstream() -> Path | None:
    value = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    return Path(value) if value and Path(value).is_dir() else None


_ROOT = _upstream()
SETS = version_sets(_ROOT) if _ROOT is not None and (_ROOT / "LOCK.yaml").is_file() else ["unset"]

# The inferenceservices CRD is ~360 KB as JSON: over the 262,144-byte annotation limit that breaks
# client-side apply (kserve#3487).
ANNOTATION_LIMIT = 262_144


@dataclass
class Installed:
    target: KubeTarget
    engine: Engine
    upstream: Path
    version_set: str
    reports: list[tuple[Step, ApplyReport]]
    timeout: float


@pytest.fixture(scope="module", params=SETS)
def installed(request: pytest.FixtureRequest) -> Iterator[Installed]:
    upstream = _upstream()
    if upstream is None:
        pytest.skip(
            "PLATFORMCTL_UPSTREAM_DIR unset (point it at the upstream manifests, e.g. ../shared/upstream)"
        )
    version_set: str = request.param
    real = os.environ.get("PLATFORMCTL_TEST_KUBECONFIG")
    if real:
        # A real cluster holds one set at a time: each set is installed, checked and pruned in turn.
        target = KubeTarget(real, os.environ.get("PLATFORMCTL_TEST_CONTEXT") or None, None)
        engine = Engine.connect(target.kubeconfig, target.context)
        reports = apply_plan(engine, upstream, version_set, timeout=900)
        yield Installed(target, engine, upstream, version_set, reports, 900)
        return
    with FakeApiServer() as fake:
        target = KubeTarget(str(fake.kubeconfig_path), fake.context, fake)
        engine = Engine.connect(target.kubeconfig, target.context)
        reports = apply_plan(engine, upstream, version_set, timeout=60)
        yield Installed(target, engine, upstream, version_set, reports, 60)


def _crd_names(inst: Installed) -> list[str]:
    return [
        d["metadata"]["name"]
        for _, docs in all_documents(inst.upstream, inst.version_set)
        for d in docs
        if is_crd(d)
    ]


def _identity(obj: dict[str, Any]) -> tuple[str, str, str | None, str]:
    md = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], md.get("namespace"), md["name"])


def _live_versions(inst: Installed) -> dict[tuple[str, str, str | None, str], str]:
    out = {}
    for _, report in inst.reports:
        for r in report.results:
            live = inst.engine.get(r.api_version, r.kind, r.name, r.namespace)
            assert live is not None, f"{r} missing"
            out[(r.api_version, r.kind, r.namespace, r.name)] = live["metadata"]["resourceVersion"]
    return out


def test_first_apply_creates_and_labels_everything(installed: Installed) -> None:
    results = [r for _, rep in installed.reports for r in rep.results]
    assert len(results) > 200
    assert any(r.action == "created" for r in results)
    for step, report in installed.reports:
        for r in report.results:
            live = installed.engine.get(r.api_version, r.kind, r.name, r.namespace)
            assert live is not None, r
            labels = live["metadata"].get("labels") or {}
            assert labels.get(MANAGED_BY_KEY) == MANAGED_BY, r
            assert labels.get(COMPONENT_KEY) == step.component, r


def test_every_crd_is_established(installed: Installed) -> None:
    names = _crd_names(installed)
    assert len(names) > 40
    installed.engine.wait_established(names, 30)  # returns at once when all are Established
    for name in names:
        crd = installed.engine.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
        assert crd is not None
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conds.get("Established") == "True", name


def test_kserve_large_crds_apply(installed: Installed) -> None:
    import json

    crd = installed.engine.get(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", "inferenceservices.serving.kserve.io"
    )
    assert crd is not None
    assert len(json.dumps(crd["spec"])) > ANNOTATION_LIMIT  # the object client-side apply cannot store
    # and its kind is usable right after, in the same apply call that created the CRD
    assert installed.engine.list("serving.kserve.io/v1beta1", "InferenceService", "default") == []


def test_reapply_changes_nothing(installed: Installed) -> None:
    before = _live_versions(installed)
    fake = installed.target.fake
    start = fake.request_count if fake else 0
    again = apply_plan(installed.engine, installed.upstream, installed.version_set, timeout=installed.timeout)
    for step, report in again:
        changed = [str(r) for r in report.results if r.action != "unchanged"]
        assert changed == [], f"{step.component}: {changed}"
    if fake is not None:
        objects = sum(len(rep.results) for _, rep in again)
        per_object = (fake.request_count - start) / objects
        # GET + apply PATCH per object, plus discovery and the webhook-endpoint waits
        assert per_object <= 2.5, f"{per_object:.2f} API requests per object on an idempotent re-apply"
    assert _live_versions(installed) == before


def test_dry_run_reports_changes_without_making_them(installed: Installed) -> None:
    engine = installed.engine
    step, docs = next(
        (s, d)
        for s, d in all_documents(installed.upstream, installed.version_set)
        if s.component == "knative"
    )
    edited = copy.deepcopy(docs)
    target = next(d for d in edited if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "config-logging")
    target.setdefault("data", {})["platformctl-dry-run-probe"] = "1"
    new_cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "platformctl-dry-run-new", "namespace": "knative-serving"},
        "data": {"a": "b"},
    }
    before = engine.get("v1", "ConfigMap", "config-logging", "knative-serving")
    assert before is not None
    report = engine.apply(
        [*edited, new_cm], component=step.component, dry_run=True, timeout=installed.timeout
    )
    actions = {(r.kind, r.name): r.action for r in report.results}
    assert actions[("ConfigMap", "config-logging")] == "configured"
    assert actions[("ConfigMap", "platformctl-dry-run-new")] == "created"
    assert sum(1 for r in report.results if r.action == "unchanged") == len(report.results) - 2
    after = engine.get("v1", "ConfigMap", "config-logging", "knative-serving")
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert "platformctl-dry-run-probe" not in (after.get("data") or {})
    assert engine.get("v1", "ConfigMap", "platformctl-dry-run-new", "knative-serving") is None


def test_prune_removes_everything_crds_last(installed: Installed) -> None:
    engine = installed.engine
    created = {
        (r.api_version, r.kind, r.namespace, r.name) for _, rep in installed.reports for r in rep.results
    }
    report = engine.prune(timeout=installed.timeout)
    deleted = [(r.api_version, r.kind, r.namespace, r.name) for r in report.deleted]

    def group(key: tuple[str, str, str | None, str]) -> tuple[str, str, str | None, str]:
        # an object is deleted once, under the first served version listed for its kind: compare by group
        return (key[0].rsplit("/", 1)[0] if "/" in key[0] else "", *key[1:])

    missing = {group(k) for k in created} - {group(k) for k in deleted}
    assert not missing, sorted(missing)[:5]
    kinds = [k for _, k, _, _ in deleted]
    first_crd = kinds.index("CustomResourceDefinition")
    custom = [
        i
        for i, (av, k, _, _) in enumerate(deleted)
        if av.split("/")[0].endswith(("knative.dev", "kserve.io", "cert-manager.io", "istio.io", "dapr.io"))
    ]
    assert custom and max(custom) < first_crd  # custom resources before any CRD
    assert all(k in ("CustomResourceDefinition", "Namespace") for k in kinds[first_crd:])
    assert kinds[-1] == "Namespace" and kinds.index("Namespace") > max(
        i for i, k in enumerate(kinds) if k == "CustomResourceDefinition"
    )
    for av, kind, ns, name in created:
        if kind == "CustomResourceDefinition" or kind == "Namespace":
            assert engine.get(av, kind, name, ns) is None, (kind, name)
    assert engine.list("v1", "ConfigMap", None, f"{MANAGED_BY_KEY}={MANAGED_BY}") == []
    assert PLAN  # plan is what was installed
