"""Waits, diagnostics and prune edge cases; they need the fake's simulated controllers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from platformctl.drivers.kube import wait as wait_mod
from platformctl.drivers.kube.engine import Engine
from platformctl.errors import NotReadyError
from tests.conftest import KubeTarget, requires_fake
from tests.engine.helpers import configmap, connect, crd, deployment, namespace, service, unique
from tests.fakeapi import FakeApiServer


@pytest.fixture
def fake_engine(kube_target: KubeTarget) -> tuple[FakeApiServer, Engine]:
    return requires_fake(kube_target), connect(kube_target)


@pytest.fixture
def slow_fake() -> Iterator[FakeApiServer]:
    with FakeApiServer(latency={"Deployment": 1.2}) as fake:
        yield fake


def _engine(fake: FakeApiServer) -> Engine:
    return connect(KubeTarget(str(fake.kubeconfig_path), fake.context, fake))


def _gets(fake: FakeApiServer, fragment: str) -> int:
    return sum(1 for m, p in fake.requests if m == "GET" and fragment in p)


def test_rollout_wait_watches_instead_of_polling(slow_fake: FakeApiServer) -> None:
    eng = _engine(slow_fake)
    eng.apply([namespace("w1"), deployment("web", "w1")], component="t")
    slow_fake.reset_request_log()
    started = time.monotonic()
    eng.wait_rollout("Deployment", "w1", "web", timeout=10)
    assert time.monotonic() - started >= 0.8  # it really waited for the controller
    assert _gets(slow_fake, "/deployments") <= 3  # one list, one watch (polling would be ~10+)


def test_wait_relists_and_rewatches_when_a_watch_expires(
    slow_fake: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wait_mod, "MAX_WATCH_SECONDS", 1)
    slow_fake.controllers.latency["Deployment"] = 2.3
    eng = _engine(slow_fake)
    eng.apply([namespace("w2"), deployment("web", "w2")], component="t")
    slow_fake.reset_request_log()
    eng.wait_rollout("Deployment", "w2", "web", timeout=10)
    assert _gets(slow_fake, "/deployments") >= 4  # list+watch, expired, list+watch again


def test_rollout_timeout_carries_pod_diagnostics(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    ns = unique("diag")
    fake.never_ready("Deployment", ns, "kserve-controller-manager", reason="ImagePullBackOff")
    eng.apply([namespace(ns), deployment("kserve-controller-manager", ns, "kserve/nope:v0")], component="t")
    with pytest.raises(NotReadyError) as info:
        eng.wait_rollout("Deployment", ns, "kserve-controller-manager", timeout=1)
    err = info.value
    assert err.message.startswith(
        f"Deployment {ns}/kserve-controller-manager not ready after 1s: 0/1 replicas"
    )
    text = "\n".join(err.details)
    assert "ImagePullBackOff" in text
    # the Deployment's own Events (top level) and its pod's (indented); the kubelet's names the image
    assert any(d.startswith("event Warning") for d in err.details)
    assert any(d.startswith("  event Warning") and "kserve/nope:v0" in d for d in err.details)
    assert f"pod {ns}/kserve-controller-manager-" in text


def test_crashloop_diagnostics_include_last_log_lines(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    ns = unique("crash")
    logs = "\n".join(f"log line {i}" for i in range(1, 31))
    fake.never_ready("Deployment", ns, "webhook", reason="CrashLoopBackOff", logs=logs)
    eng.apply([namespace(ns), deployment("webhook", ns)], component="t")
    with pytest.raises(NotReadyError) as info:
        eng.wait_rollout("Deployment", ns, "webhook", timeout=1)
    details = info.value.details
    assert any("CrashLoopBackOff" in d for d in details)
    log_lines = [d for d in details if d.strip().startswith("| log line")]
    assert log_lines and log_lines[-1].endswith("log line 30")
    assert len(log_lines) <= 20 and not any(d.endswith("log line 10") for d in log_lines)


def test_unschedulable_diagnostics_include_scheduler_message(
    fake_engine: tuple[FakeApiServer, Engine],
) -> None:
    fake, eng = fake_engine
    ns = unique("sched")
    fake.never_ready("StatefulSet", ns, "db", reason="Unschedulable")
    sts = deployment("db", ns)
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "db"
    eng.apply([namespace(ns), sts], component="t")
    with pytest.raises(NotReadyError) as info:
        eng.wait_rollout("StatefulSet", ns, "db", timeout=1)
    text = "\n".join(info.value.details)
    assert "Unschedulable" in text and "Insufficient memory" in text


def test_job_complete_and_failed_job_fails_at_once(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    ns = unique("jobs")
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "ok", "namespace": ns},
        "spec": {
            "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "x"}]}}
        },
    }
    eng.apply([namespace(ns), job], component="t")
    eng.wait_job(ns, "ok", timeout=10)
    # the fake's job controller fails it like a real one: a failed pod, status.failed, Failed condition
    fake.never_ready("Job", ns, "bad", reason="Error")
    eng.apply([{**job, "metadata": {"name": "bad", "namespace": ns}}], component="t")
    started = time.monotonic()
    with pytest.raises(NotReadyError, match=f"Job {ns}/bad failed: .*BackoffLimitExceeded"):
        eng.wait_job(ns, "bad", timeout=30)
    assert time.monotonic() - started < 5  # failure is final: no waiting for the deadline
    bad = fake.get("Job", "bad", ns)
    assert bad is not None and bad["status"]["failed"] == 7  # default backoffLimit 6, plus one


def test_wait_ready_returns_status_url(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    ns = unique("ksvc")
    ksvc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": ns},
        "spec": {"template": {"spec": {"containers": [{"image": "x"}]}}},
    }
    eng.apply([namespace(ns), crd("serving.knative.dev", "Service", "services"), ksvc], component="t")
    obj = eng.wait_ready("serving.knative.dev/v1", "Service", "hello", ns, timeout=10)
    assert obj["status"]["url"].startswith(f"http://hello.{ns}.")
    fake.never_ready("Service", ns, "stuck")
    eng.apply([{**ksvc, "metadata": {"name": "stuck", "namespace": ns}}], component="t")
    with pytest.raises(NotReadyError, match=f"Service {ns}/stuck not ready after 1s") as info:
        eng.wait_ready("serving.knative.dev/v1", "Service", "stuck", ns, timeout=1)
    assert any(d.startswith("condition Ready=False") for d in info.value.details)


def test_webhook_endpoints_wait(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    ns = unique("hooks")
    eng.apply([namespace(ns), deployment("webhook", ns), service("webhook", ns, "webhook")], component="t")
    eng.wait_endpoints(ns, "webhook", timeout=10)
    fake.never_ready("Deployment", ns, "broken", reason="ImagePullBackOff")
    eng.apply([deployment("broken", ns), service("broken", ns, "broken")], component="t")
    with pytest.raises(NotReadyError, match=f"Service {ns}/broken has no ready endpoints after 1s") as info:
        eng.wait_endpoints(ns, "broken", timeout=1)
    assert "ImagePullBackOff" in "\n".join(info.value.details)


def test_crds_are_waited_for_before_their_resources(kube_target: KubeTarget) -> None:
    requires_fake(kube_target)
    # the fake serves a CRD's resources only once its controller set Established (here after 0.6 s)
    with FakeApiServer(latency={"CustomResourceDefinition": 0.6}) as fake:
        eng = _engine(fake)
        group = "late.platformctl.example.com"
        widget = {
            "apiVersion": f"{group}/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "default"},
        }
        report = eng.apply([crd(group, "Widget", "widgets"), widget], component="t", timeout=10)
        assert [r.action for r in report.results] == ["created", "created"]
        log = fake.records
        # the engine read the CRD's Established condition (a watch or a GET of it) ...
        crd_reads = [
            i
            for i, r in enumerate(log)
            if r.method == "GET" and "/customresourcedefinitions" in r.path and r.status == 200
        ]
        group_requests = [i for i, r in enumerate(log) if r.path.startswith(f"/apis/{group}/")]
        assert crd_reads and group_requests and max(crd_reads) < min(group_requests), log
        # ... and only then touched the Widget's API: never a 404 from a group not served yet
        assert [log[i] for i in group_requests if log[i].status == 404] == []
        crd_obj = eng.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", f"widgets.{group}")
        assert crd_obj is not None
        assert any(
            c["type"] == "Established" and c["status"] == "True" for c in crd_obj["status"]["conditions"]
        )


def test_prune_reports_namespace_stuck_on_finalizer(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    _fake, eng = fake_engine
    ns = unique("stuck")
    held = configmap("held", ns, finalizers=["example.com/hold"])
    eng.apply([namespace(ns), held], component="stuck-test")
    started = time.monotonic()
    with pytest.raises(NotReadyError) as info:
        eng.prune(component="stuck-test", timeout=1.5)
    assert time.monotonic() - started < 5  # reported, not hung
    text = "\n".join(info.value.details)
    assert f"Namespace {ns}" in text
    assert f"ConfigMap {ns}/held (finalizers: example.com/hold)" in text


def test_diagnostics_survive_failing_lookups(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    from tests.fakeapi import Fault

    fake, eng = fake_engine
    ns = unique("diagfail")
    fake.never_ready("Deployment", ns, "web", reason="ImagePullBackOff")
    eng.apply([namespace(ns), deployment("web", ns)], component="t")
    assert fake.wait_idle()  # the failing pod exists (the controller runs asynchronously)
    fake.inject(Fault(kind="5xx", method="GET", path_regex=r"/events$", count=10_000))
    lines = eng.diagnose("apps/v1", "Deployment", "web", ns)
    assert any(line.startswith("(could not read events of Deployment") for line in lines)
    assert any("ImagePullBackOff" in line for line in lines)  # the pod part still came through
    assert eng.diagnose("apps/v1", "Deployment", "nope", ns)[0] == f"Deployment {ns}/nope does not exist"
