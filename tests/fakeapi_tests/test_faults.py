"""Fault injection, the request log and authentication."""

from __future__ import annotations

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from tests.fakeapi import FakeApiServer, Fault
from tests.fakeapi_tests.kube import core, status_of, watcher


def test_5xx_fault_fails_count_requests_then_clears(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    fault = fake_api.inject(Fault(kind="5xx", method="GET", path_regex=r"/configmaps$", count=2))
    for _ in range(2):
        with pytest.raises(ApiException) as info:
            v1.list_namespaced_config_map("default")
        assert (info.value.status, status_of(info.value)["reason"]) == (500, "InternalError")
    assert v1.list_namespaced_config_map("default").items == []
    assert fault.hits == 2 and fault.exhausted
    # other methods/paths were never affected
    v1.create_namespaced_config_map("default", {"metadata": {"name": "c"}})


def test_503_and_429(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    fake_api.inject(Fault(kind="5xx", status=503, method="GET", path_regex="/namespaces$"))
    with pytest.raises(ApiException) as info:
        v1.list_namespace()
    assert (info.value.status, status_of(info.value)["reason"]) == (503, "ServiceUnavailable")
    fake_api.inject(Fault(kind="429", retry_after=2, method="POST", path_regex="/configmaps$"))
    with pytest.raises(ApiException) as info:
        v1.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    assert info.value.status == 429
    assert info.value.headers is not None and info.value.headers["Retry-After"] == "2"
    assert status_of(info.value)["details"]["retryAfterSeconds"] == 2


def test_429_on_get_is_retried_by_urllib3(fake_api: FakeApiServer) -> None:
    """urllib3's default Retry honours Retry-After on 429/503 for idempotent methods: callers never see it."""
    fault = fake_api.inject(Fault(kind="429", retry_after=0, method="GET", path_regex="/namespaces$"))
    assert len(core(fake_api).list_namespace().items) == 4
    assert fault.hits == 1
    assert fake_api.requests.count(("GET", "/api/v1/namespaces")) == 2


def test_webhook_fault_message_shape(fake_api: FakeApiServer) -> None:
    fake_api.inject(
        Fault(
            kind="webhook",
            method="POST",
            path_regex="/configmaps",
            webhook="config.webhook.io",
            webhook_service="webhook",
            webhook_namespace="knative-serving",
        )
    )
    with pytest.raises(ApiException) as info:
        core(fake_api).create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    body = status_of(info.value)
    assert (info.value.status, body["reason"]) == (500, "InternalError")
    assert body["message"] == (
        'Internal error occurred: failed calling webhook "config.webhook.io": failed to call webhook: '
        'Post "https://webhook.knative-serving.svc:443/defaulting?timeout=10s": '
        "dial tcp 10.96.0.1:443: connect: connection refused"
    )
    assert fake_api.get("ConfigMap", "c", "default") is None


def test_reset_closes_connection(fake_api: FakeApiServer) -> None:
    fault = fake_api.inject(Fault(kind="reset", method="POST", path_regex="/configmaps", count=1))
    with pytest.raises(urllib3.exceptions.HTTPError):
        core(fake_api).create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    assert fault.hits == 1
    core(fake_api).create_namespaced_config_map("default", {"metadata": {"name": "c"}})


def test_request_log(fake_api: FakeApiServer) -> None:
    fake_api.reset_request_log()
    v1 = core(fake_api)
    v1.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    v1.read_namespaced_config_map("c", "default")
    assert fake_api.requests == [
        ("POST", "/api/v1/namespaces/default/configmaps"),
        ("GET", "/api/v1/namespaces/default/configmaps/c"),
    ]
    assert fake_api.request_count == 2
    assert [(r.method, r.path, r.status) for r in fake_api.records] == [
        ("POST", "/api/v1/namespaces/default/configmaps", 201),
        ("GET", "/api/v1/namespaces/default/configmaps/c", 200),
    ]
    fake_api.reset_request_log()
    assert fake_api.request_count == 0 and fake_api.records == []


def test_request_log_keeps_query_and_answer(fake_api: FakeApiServer) -> None:
    fake_api.reset_request_log()
    v1 = core(fake_api)
    v1.list_namespaced_config_map("default", label_selector="app=x")
    list(watcher().stream(v1.list_namespaced_config_map, "default", timeout_seconds=1))
    with pytest.raises(ApiException):
        v1.read_namespaced_config_map("missing", "default")
    listed, watched, missing = fake_api.records
    # a list and a watch share the path; the query tells them apart
    assert listed == watched == ("GET", "/api/v1/namespaces/default/configmaps")
    assert (listed.is_watch, watched.is_watch) == (False, True)
    assert listed.params == {"labelSelector": "app=x"} and watched.params["timeoutSeconds"] == "1"
    assert (listed.status, watched.status, missing.status) == (200, 200, 404)
    method, path = missing  # still unpacks as (method, path)
    assert (
        (method, path)
        == (missing.method, missing.path)
        == ("GET", "/api/v1/namespaces/default/configmaps/missing")
    )


def test_wrong_token_is_unauthorized(fake_api: FakeApiServer, tmp_path: object) -> None:
    from pathlib import Path

    from kubernetes import client, config

    cfg = Path(str(tmp_path)) / "kubeconfig"
    cfg.write_text(fake_api.kubeconfig_text(token="wrong"))
    api = config.new_client_from_config(str(cfg), context="fake")  # type: ignore[no-untyped-call]
    with pytest.raises(ApiException) as info:
        client.CoreV1Api(api).list_namespace()
    assert info.value.status == 401
