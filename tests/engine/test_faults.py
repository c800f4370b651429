"""Transient API errors are retried inside the deadline; permanent ones fail at once (fault injection)."""

from __future__ import annotations

import time

import pytest

from platformctl.drivers.kube.engine import Engine
from platformctl.errors import ClusterError, NotReadyError
from tests.conftest import KubeTarget, requires_fake
from tests.engine.helpers import configmap, connect, crd, deployment, namespace
from tests.fakeapi import FakeApiServer, Fault

CM_PATH = r"/namespaces/faults/configmaps/cm$"


@pytest.fixture
def fake_engine(kube_target: KubeTarget) -> tuple[FakeApiServer, Engine]:
    fake = requires_fake(kube_target)
    eng = connect(kube_target)
    eng.apply([namespace("faults")], component="t")
    return fake, eng


def _patches(fake: FakeApiServer, suffix: str) -> int:
    return sum(1 for m, p in fake.requests if m == "PATCH" and p.endswith(suffix))


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_then_success(fake_engine: tuple[FakeApiServer, Engine], status: int) -> None:
    fake, eng = fake_engine
    fault = fake.inject(Fault(kind="5xx", method="PATCH", path_regex=CM_PATH, count=3, status=status))
    report = eng.apply([configmap("cm", "faults")], component="t")
    assert report.results[0].action == "created"
    assert fault.hits == 3 and _patches(fake, "/configmaps/cm") == 4


def test_429_honours_retry_after(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    fault = fake.inject(Fault(kind="429", method="PATCH", path_regex=CM_PATH, count=1, retry_after=1))
    started = time.monotonic()
    eng.apply([configmap("cm", "faults")], component="t")
    assert fault.hits == 1
    assert time.monotonic() - started >= 1.0  # backoff alone would be ~10 ms


def test_connection_reset_then_success(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    fault = fake.inject(Fault(kind="reset", method="PATCH", path_regex=CM_PATH, count=2))
    assert eng.apply([configmap("cm", "faults")], component="t").results[0].action == "created"
    assert fault.hits == 2


def test_webhook_refused_then_success(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    fault = fake.inject(Fault(kind="webhook", method="PATCH", path_regex=CM_PATH, count=4))
    assert eng.apply([configmap("cm", "faults")], component="t").results[0].action == "created"
    assert fault.hits == 4


def test_webhook_never_serving_fails_at_deadline_in_plain_words(
    fake_engine: tuple[FakeApiServer, Engine],
) -> None:
    fake, eng = fake_engine
    fake.inject(Fault(kind="webhook", method="PATCH", path_regex=CM_PATH, count=10_000))
    started = time.monotonic()
    with pytest.raises(NotReadyError) as info:
        eng.apply([configmap("cm", "faults")], component="t", timeout=1)
    assert time.monotonic() - started < 3
    assert 'webhook "webhook.serving.knative.dev" is not serving yet' in info.value.message
    assert "ConfigMap faults/cm" in info.value.message


def test_persistent_5xx_fails_at_deadline(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    fake.inject(Fault(kind="5xx", method="PATCH", path_regex=CM_PATH, count=10_000))
    with pytest.raises(ClusterError, match=r"gave up after .* server error 500"):
        eng.apply([configmap("cm", "faults")], component="t", timeout=0.5)


def test_permanent_422_fails_at_once(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    bad = crd("example.com", "Thing", "things")
    bad["metadata"]["name"] = "wrong-name"  # must be <plural>.<group>: the apiserver answers 422
    with pytest.raises(ClusterError) as info:
        eng.apply([bad], component="t", timeout=30)
    assert "422" in info.value.message and "wrong-name" in info.value.message
    assert _patches(fake, "/customresourcedefinitions/wrong-name") == 1  # not retried


def test_transient_errors_during_a_wait_are_retried(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    eng.apply([deployment("web", "faults")], component="t")
    fault = fake.inject(
        Fault(kind="5xx", method="GET", path_regex=r"/namespaces/faults/deployments$", count=2)
    )
    eng.wait_rollout("Deployment", "faults", "web", timeout=10)
    assert fault.hits == 2


def test_transient_errors_during_discovery_are_retried(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    fault = fake.inject(Fault(kind="5xx", method="GET", path_regex=r"^/apis$", count=2))
    eng.prune(component="nothing-here", timeout=10)
    assert fault.hits == 2


def test_prune_survives_an_unavailable_aggregated_api(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    eng.apply([configmap("cm", "faults")], component="agg")
    # what metrics.k8s.io answers when metrics-server is down: discovery of that group fails
    fake.inject(Fault(kind="5xx", status=503, method="GET", path_regex=r"^/apis/apps/v1$", count=10_000))
    report = eng.prune(component="agg", timeout=2)
    assert [(r.kind, r.name) for r in report.deleted] == [("ConfigMap", "cm")]
    assert any(u.startswith("apps/v1: 503") for u in report.unavailable)


def test_fresh_crd_discovery_lag_is_waited_out(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    group = "lag.platformctl.example.com"
    # a real apiserver may 404 a CRD's group version (and its endpoint) for a moment after Established
    discovery = fake.inject(
        Fault(kind="5xx", status=404, method="GET", path_regex=f"^/apis/{group}/v1$", count=2)
    )
    endpoint = fake.inject(Fault(kind="5xx", status=404, method="PATCH", path_regex=r"/widgets/w$", count=2))
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "faults"}}
    report = eng.apply([crd(group, "Widget", "widgets"), widget], component="t", timeout=10)
    assert [r.action for r in report.results] == ["created", "created"]
    assert discovery.hits == 2 and endpoint.hits == 2
    # a kind nobody installs still fails with the clear error, once the deadline says so
    ghost = {"apiVersion": f"{group}/v1", "kind": "Ghost", "metadata": {"name": "g", "namespace": "faults"}}
    with pytest.raises(ClusterError, match="is not served"):
        eng.apply([crd(group, "Widget", "widgets"), ghost], component="t", timeout=0.5)


def test_generate_name_create_retried_once_created_once(fake_engine: tuple[FakeApiServer, Engine]) -> None:
    fake, eng = fake_engine
    fault = fake.inject(
        Fault(kind="reset", method="POST", path_regex=r"/namespaces/faults/configmaps$", count=2)
    )
    gen = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"generateName": "job-", "namespace": "faults"},
    }
    result = eng.apply([gen], component="gen").results[0]
    assert result.action == "created" and fault.hits == 2
    made = [c for c in eng.list("v1", "ConfigMap", "faults") if c["metadata"].get("generateName") == "job-"]
    assert [c["metadata"]["name"] for c in made] == [result.name]
