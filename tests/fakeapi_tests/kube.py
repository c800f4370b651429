"""Real kubernetes clients pointed at a fake (typed as Any: the tests read fields freely)."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from tests.fakeapi import FakeApiServer


def api_client(fake: FakeApiServer) -> Any:
    return config.new_client_from_config(str(fake.kubeconfig_path), context=fake.context)  # type: ignore[no-untyped-call]


def core(fake: FakeApiServer) -> Any:
    return client.CoreV1Api(api_client(fake))


def apps(fake: FakeApiServer) -> Any:
    return client.AppsV1Api(api_client(fake))


def batch(fake: FakeApiServer) -> Any:
    return client.BatchV1Api(api_client(fake))


def dynamic(fake: FakeApiServer) -> Any:
    # the default discovery cache is /tmp/osrcp-<md5(host)>.json: a later fake on a reused port
    # would read this one's kinds, so keep the cache next to this fake's kubeconfig
    cache = str(fake.kubeconfig_path.parent / "discovery.json")
    return DynamicClient(api_client(fake), cache_file=cache)  # type: ignore[no-untyped-call]


def status_of(exc: ApiException) -> dict[str, Any]:
    """The Status body the fake answered with."""
    body: dict[str, Any] = json.loads(exc.body or "{}")
    return body


def deployment(
    name: str, namespace: str = "default", image: str = "nginx", replicas: int = 1
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def crd(
    group: str = "example.com",
    kind: str = "Widget",
    plural: str = "widgets",
    scope: str = "Namespaced",
    versions: tuple[str, ...] = ("v1",),
    short_names: tuple[str, ...] = ("wd",),
    status: bool = True,
) -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "kind": kind,
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": list(short_names),
            },
            "versions": [
                {
                    "name": v,
                    "served": True,
                    "storage": i == 0,
                    "schema": schema,
                    **({"subresources": {"status": {}}} if status else {}),
                }
                for i, v in enumerate(versions)
            ],
        },
    }


def watcher() -> Any:
    """A kubernetes.watch.Watch (untyped upstream)."""
    from kubernetes import watch

    return watch.Watch()  # type: ignore[no-untyped-call]
