"""Small objects and engine factories shared by the engine behaviour tests."""

from __future__ import annotations

import uuid
from typing import Any

from platformctl.drivers.kube.engine import Engine
from platformctl.drivers.kube.retry import RetryPolicy
from tests.conftest import KubeTarget

# Tiny backoff so retry paths take milliseconds, not seconds.
FAST = RetryPolicy(base=0.01, cap=0.05)


def connect(target: KubeTarget, policy: RetryPolicy = FAST) -> Engine:
    return Engine.connect(target.kubeconfig, target.context, policy=policy)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def configmap(name: str, ns: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, **meta},
        "data": data or {"k": "v"},
    }


def deployment(name: str, ns: str, image: str = "registry.k8s.io/pause:3.10") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


def service(name: str, ns: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": app}, "ports": [{"name": "https", "port": 443, "targetPort": 8443}]},
    }


def crd(
    group: str, kind: str, plural: str, scope: str = "Namespaced", versions: tuple[str, ...] = ("v1",)
) -> dict[str, Any]:
    """A schemaless CRD serving ``versions`` (the first is the storage version)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": i == 0,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                    },
                }
                for i, v in enumerate(versions)
            ],
        },
    }
