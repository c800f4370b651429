"""usecases/context.py: one context per command; which cluster it talks to is the provider's decision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platformctl.errors import ClusterError, UsageError
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases.context import CommandContext

FAKEBIN = Path(__file__).resolve().parents[1] / "fakebin"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str | None]] = []

    def __call__(self, kubeconfig: str | None, context: str | None, reporter: Any) -> Any:
        self.calls.append((kubeconfig, context))
        return object()


@pytest.fixture
def fake_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLATFORMCTL_KIND", str(FAKEBIN / "kind"))
    monkeypatch.setenv("FAKE_KIND_STATE", str(tmp_path / "kind"))
    return tmp_path / "kind"


def test_kind_without_a_cluster_is_reported_not_the_current_context(fake_kind: Path, tmp_path: Path) -> None:
    # Regression (issue 13): `models` connected to the kubeconfig's current context when the kind
    # cluster did not exist, ignoring the kind-<name> rule.
    connect = Recorder()
    cctx = CommandContext(PlatformSpec(), kubeconfig=str(tmp_path / "kc"), connect=connect)
    with pytest.raises(ClusterError, match=r"no kind cluster named 'platform': run `platformctl up` first"):
        _ = cctx.engine
    assert connect.calls == []


def test_kind_cluster_is_reached_through_its_context(fake_kind: Path, tmp_path: Path) -> None:
    fake_kind.mkdir()
    (fake_kind / "platform.json").write_text('{"name": "platform"}')
    connect = Recorder()
    cctx = CommandContext(PlatformSpec(), kubeconfig=str(tmp_path / "kc"), connect=connect)
    assert connect.calls == []  # nothing connects until a command asks for the engine
    assert cctx.engine is cctx.engine  # connected once
    assert connect.calls == [(str(tmp_path / "kc"), "kind-platform")]


def test_explicit_context_wins_for_commands_that_look(fake_kind: Path) -> None:
    connect = Recorder()
    _ = CommandContext(PlatformSpec(), kubeconfig="/k", context="prod", connect=connect).engine
    assert connect.calls == [("/k", "prod")]
    # A managed provider's own context name goes through the provider (existence checked).
    with pytest.raises(ClusterError, match="no kind cluster named"):
        _ = CommandContext(PlatformSpec(), context="kind-platform", connect=connect).engine


def test_existing_uses_the_spec_context() -> None:
    connect = Recorder()
    spec = PlatformSpec.model_validate(
        {
            "cluster": {"provider": "existing", "context": "shared", "kubeconfig": "/s"},
            "domain": "a.example.com",
        }
    )
    cctx = CommandContext(spec, connect=connect)
    _ = cctx.engine
    assert connect.calls == [("/s", "shared")]
    assert cctx.cluster_spec is spec and cctx.ingress() is None


def test_minikube_context_domain_and_ingress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORMCTL_MINIKUBE", str(FAKEBIN / "minikube"))
    monkeypatch.setenv("FAKE_MINIKUBE_STATE", str(tmp_path / "mk"))
    monkeypatch.setenv("FAKE_MINIKUBE_IP", "127.0.0.4")
    (tmp_path / "mk").mkdir()
    (tmp_path / "mk" / "dev.json").write_text('{"name": "dev"}')
    connect = Recorder()
    spec = PlatformSpec.model_validate({"cluster": {"provider": "minikube", "name": "dev"}})
    cctx = CommandContext(spec, kubeconfig=str(tmp_path / "kc"), connect=connect)
    _ = cctx.engine
    assert connect.calls == [(str(tmp_path / "kc"), "dev")]
    assert cctx.cluster_spec.domain == "127.0.0.4.sslip.io"
    endpoint = cctx.ingress()
    assert endpoint is not None and endpoint.authority() == "127.0.0.4:31080"
    assert cctx.ingress("127.0.0.1:8080") is not None
    with pytest.raises(UsageError, match="--ingress"):
        cctx.ingress("nope")
