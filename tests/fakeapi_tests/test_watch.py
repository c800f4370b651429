"""Watch streams through kubernetes.watch.Watch: initial ADDED, later events, resourceVersion, timeout."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.fakeapi import FakeApiServer
from tests.fakeapi_tests.kube import core, dynamic, watcher


def _later(delay: float, fn: Any) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        fn()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_watch_sees_existing_then_changes(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespaced_config_map("default", {"metadata": {"name": "old"}})

    def changes() -> None:
        v1.create_namespaced_config_map("default", {"metadata": {"name": "new"}})
        v1.patch_namespaced_config_map("new", "default", {"data": {"k": "v"}})
        v1.delete_namespaced_config_map("new", "default")

    _later(0.2, changes)
    seen: list[tuple[str, str]] = []
    w = watcher()
    for event in w.stream(v1.list_namespaced_config_map, "default", timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            w.stop()
    assert seen == [("ADDED", "old"), ("ADDED", "new"), ("MODIFIED", "new"), ("DELETED", "new")]


def test_watch_from_resource_version_replays_only_later_events(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespaced_config_map("default", {"metadata": {"name": "before"}})
    rv = v1.list_namespaced_config_map("default").metadata.resource_version
    v1.create_namespaced_config_map("default", {"metadata": {"name": "after"}})
    events = list(
        watcher().stream(v1.list_namespaced_config_map, "default", resource_version=rv, timeout_seconds=1)
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "after")]


def test_watch_honours_timeout_seconds(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    start = time.monotonic()
    events = list(watcher().stream(v1.list_namespaced_config_map, "default", timeout_seconds=1))
    elapsed = time.monotonic() - start
    assert events == []
    assert 0.9 <= elapsed < 3.0


def test_watch_filters_by_label_and_namespace(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespace({"metadata": {"name": "other"}})

    def changes() -> None:
        v1.create_namespaced_config_map("other", {"metadata": {"name": "elsewhere", "labels": {"a": "1"}}})
        v1.create_namespaced_config_map("default", {"metadata": {"name": "unlabelled"}})
        v1.create_namespaced_config_map("default", {"metadata": {"name": "match", "labels": {"a": "1"}}})

    _later(0.1, changes)
    w = watcher()
    names = []
    for event in w.stream(v1.list_namespaced_config_map, "default", label_selector="a=1", timeout_seconds=5):
        names.append(event["object"].metadata.name)
        w.stop()
    assert names == ["match"]


def test_dynamic_client_watch_of_custom_resource_status(fake_api: FakeApiServer) -> None:
    dyn = dynamic(fake_api)
    deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "w"}},
            "template": {"metadata": {"labels": {"app": "w"}}, "spec": {"containers": []}},
        },
    }
    deployments.create(body=body, namespace="default")
    ready = None
    for event in deployments.watch(namespace="default", name="web", timeout=5):
        if (event["object"].status or {}).get("readyReplicas") == 1:
            ready = event["type"]
            break
    assert ready in ("ADDED", "MODIFIED")


def test_close_ends_open_watches() -> None:
    fake = FakeApiServer()
    v1 = core(fake)
    _later(0.3, fake.close)
    start = time.monotonic()
    list(watcher().stream(v1.list_namespaced_config_map, "default", timeout_seconds=30))
    assert time.monotonic() - start < 5


def test_too_old_resource_version_is_gone(fake_api: FakeApiServer) -> None:
    from collections import deque

    from kubernetes.client.exceptions import ApiException

    fake_api.store.events = deque(fake_api.store.events, maxlen=5)  # a short event log
    v1 = core(fake_api)
    old_rv = v1.list_namespaced_config_map("default").metadata.resource_version
    for i in range(8):
        v1.create_namespaced_config_map("default", {"metadata": {"name": f"c{i}"}})
    with pytest.raises(ApiException) as info:
        list(
            watcher().stream(
                v1.list_namespaced_config_map, "default", resource_version=old_rv, timeout_seconds=2
            )
        )
    assert info.value.status == 410
    assert "too old resource version" in str(info.value.reason)


def test_bookmark_before_timeout_when_allowed(fake_api: FakeApiServer) -> None:
    v1 = core(fake_api)
    v1.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
    rv = fake_api.resource_version
    w = watcher()
    events = list(
        w.stream(
            v1.list_namespaced_config_map,
            "default",
            resource_version=str(rv),
            allow_watch_bookmarks=True,
            timeout_seconds=1,
        )
    )
    assert [e["type"] for e in events] == ["BOOKMARK"]
    assert events[0]["raw_object"]["metadata"]["resourceVersion"] == str(rv)
    assert w.resource_version == str(rv)
