"""Every upstream manifest goes through the fake with server-side apply, twice, in a few seconds.

Plain http.client with pre-serialised bodies: this measures the fake, not the kubernetes client's
(de)serialisation of 3.5 MB of YAML (the engine's own tests cover that path).
"""

from __future__ import annotations

import http.client
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakeapi import FakeApiServer
from tests.support.upstream_sets import set_files, set_names

_ROOT = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
# One version set at a time (LOCK.yaml `sets:`): the corpus holds several releases side by side.
SETS = set_names(Path(_ROOT)) if _ROOT and (Path(_ROOT) / "LOCK.yaml").is_file() else ["unset"]


def _documents(root: Path, version_set: str) -> list[dict[str, Any]]:
    docs = []
    for f in set_files(root, version_set):
        for doc in yaml.safe_load_all((root / f.path).read_text()):
            if isinstance(doc, dict) and doc.get("kind") and (doc.get("metadata") or {}).get("name"):
                docs.append(doc)
    return docs


def _path(fake: FakeApiServer, doc: dict[str, Any]) -> str:
    rt = fake.registry.by_api_version_kind(doc["apiVersion"], doc["kind"])
    assert rt is not None, f"{doc['apiVersion']} {doc['kind']} is not served"
    base = f"/apis/{doc['apiVersion']}" if rt.group else f"/api/{doc['apiVersion']}"
    if rt.namespaced:
        base += f"/namespaces/{doc['metadata'].get('namespace') or 'default'}"
    return f"{base}/{rt.plural}/{doc['metadata']['name']}"


@pytest.mark.parametrize("version_set", SETS)
def test_all_upstream_manifests_apply_and_reapply_without_writes(
    fake_api: FakeApiServer, upstream_dir: Path, version_set: str
) -> None:
    docs = _documents(upstream_dir, version_set)
    assert len(docs) > 200
    conn = http.client.HTTPConnection("127.0.0.1", fake_api.port, timeout=30)
    headers = {"Content-Type": "application/apply-patch+yaml", "Authorization": f"Bearer {fake_api.token}"}
    declared = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
    namespaces = sorted(
        {d["metadata"]["namespace"] for d in docs if d["metadata"].get("namespace")} - declared
    )
    crds = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
    ordered: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces
    ]
    ordered += [d for d in docs if d["kind"] == "Namespace"]
    ordered += crds + [d for d in rest if d["kind"] != "Namespace"]

    bodies = [json.dumps(d) for d in ordered]

    def apply_all() -> None:
        for doc, body in zip(ordered, bodies, strict=True):
            # resolved per request: custom kinds are served only once their CRD was applied
            conn.request(
                "PATCH", _path(fake_api, doc) + "?fieldManager=platformctl&force=true", body, headers
            )
            resp = conn.getresponse()
            answer = resp.read()
            assert resp.status in (200, 201), (doc["kind"], doc["metadata"]["name"], answer[:500])

    start = time.monotonic()
    apply_all()
    first = time.monotonic() - start
    assert fake_api.wait_idle(10)
    rv = fake_api.resource_version
    apply_all()
    assert fake_api.resource_version == rv, "re-applying identical manifests must not write"
    assert first < 30  # measured ≈ 2-4 s; generous for loaded CI machines

    established = [
        c
        for c in fake_api.objects("CustomResourceDefinition")
        if any(x["type"] == "Established" and x["status"] == "True" for x in c["status"]["conditions"])
    ]
    assert len(established) == len({c["metadata"]["name"] for c in crds})
    served = {(rt.group, rt.kind) for rt in fake_api.registry.all()}
    assert ("serving.kserve.io", "InferenceService") in served
    assert ("serving.knative.dev", "Service") in served
    deployments = fake_api.objects("Deployment")
    assert deployments and all(
        d["status"].get("readyReplicas") == d["spec"].get("replicas", 1) for d in deployments
    )
