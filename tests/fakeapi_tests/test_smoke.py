"""The fake answers the real kubernetes client: typed CRUD, SSA through the DynamicClient, controllers."""

from __future__ import annotations

from typing import Any

from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from tests.fakeapi import FakeApiServer


def _api(fake: FakeApiServer) -> Any:
    return config.new_client_from_config(str(fake.kubeconfig_path), context=fake.context)


def test_typed_client_lists_bootstrap_namespaces(fake_api: FakeApiServer) -> None:
    names = [n.metadata.name for n in client.CoreV1Api(_api(fake_api)).list_namespace().items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_deployment_applied_with_ssa_rolls_out(fake_api: FakeApiServer) -> None:
    dyn = DynamicClient(_api(fake_api))
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }
    deployments.server_side_apply(body=body, field_manager="test", namespace="default")
    assert fake_api.wait_idle()
    status = deployments.get(name="web", namespace="default").status
    assert status.readyReplicas == 2
    assert status.observedGeneration == 1
    pods = fake_api.objects("Pod", "default")
    assert len(pods) == 1 and pods[0]["metadata"]["labels"]["app"] == "web"
