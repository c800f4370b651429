"""Install each platform component through the engine onto the fake API server (simulated controllers)."""

from __future__ import annotations

from typing import Any

import pytest

from platformctl.components import cert_manager, dapr, istio, knative, kserve
from platformctl.components.base import Apply, RenderContext, Wait
from platformctl.drivers.kube.engine import Engine
from platformctl.errors import NotReadyError
from tests.components.conftest import MakeCtx
from tests.fakeapi import FakeApiServer

ORDER = (istio.COMPONENT, cert_manager.COMPONENT, knative.COMPONENT, kserve.COMPONENT, dapr.COMPONENT)


def install(engine: Engine, component: Any, ctx: RenderContext, timeout: float = 60) -> list[str]:
    """Run the steps in order (what usecases/up.py does); returns the applied actions."""
    actions: list[str] = []
    for step in component.steps(ctx):
        if isinstance(step, Apply):
            report = engine.apply(step.render(ctx), component=component.name, timeout=timeout)
            actions += [r.action for r in report.results]
        else:
            assert isinstance(step, Wait)
            step.check(engine, timeout)
    return actions


def test_full_platform_on_fake(make_ctx: MakeCtx, fake_api: FakeApiServer) -> None:
    ctx = make_ctx()
    engine = Engine.connect(str(fake_api.kubeconfig_path), fake_api.context)
    for comp in ORDER:
        assert not comp.health(engine, ctx).healthy, comp.name  # nothing there yet
        install(engine, comp, ctx)
        h = comp.health(engine, ctx)
        assert h.healthy, (comp.name, h.reason)
        assert h.version == comp.version(ctx)

    svc = fake_api.get("Service", "istio-ingressgateway", "istio-system")
    assert svc is not None and svc["spec"]["type"] == "NodePort"
    assert {p.get("nodePort") for p in svc["spec"]["ports"]} >= {31080, 31443}
    cm = fake_api.get("ConfigMap", "config-domain", "knative-serving")
    assert cm is not None and "127.0.0.1.sslip.io" in cm["data"] and "_example" in cm["data"]
    labels = fake_api.get("Deployment", "dapr-operator", "dapr-system")["metadata"]["labels"]  # type: ignore[index]
    assert labels["platformctl.io/component"] == "dapr"
    assert fake_api.get("Configuration", "daprsystem", "dapr-system") is not None
    assert len(fake_api.objects(kind="LLMInferenceServiceConfig", namespace="kserve")) == 10  # v0.20.0

    # A second install changes nothing.
    for comp in ORDER:
        actions = [a for a in install(engine, comp, ctx) if a != "unchanged"]
        # generateName objects are never re-created; everything else is unchanged.
        assert actions == [], (comp.name, actions)


def test_component_that_never_becomes_ready(make_ctx: MakeCtx, fake_api: FakeApiServer) -> None:
    ctx = make_ctx()
    engine = Engine.connect(str(fake_api.kubeconfig_path), fake_api.context)
    fake_api.never_ready(
        kind="Deployment",
        namespace="dapr-system",
        name="dapr-sentry",
        reason="ImagePullBackOff",
        message='Back-off pulling image "ghcr.io/dapr/sentry:1.15.14"',
    )
    with pytest.raises(NotReadyError) as err:
        install(engine, dapr.COMPONENT, ctx, timeout=2)
    assert "dapr-sentry" in str(err.value)
    assert any("ImagePullBackOff" in d for d in err.value.details)
    h = dapr.COMPONENT.health(engine, ctx)
    assert not h.healthy and "dapr-sentry" in h.reason
