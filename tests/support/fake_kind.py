"""The fake ``kind`` (tests/fakebin/kind) wired into a test's environment, against the fake API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakeapi import FakeApiServer

FAKE_KIND = Path(__file__).resolve().parents[1] / "fakebin" / "kind"


def use_fake_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_api: FakeApiServer) -> Path:
    """platformctl finds the fake kind ($PLATFORMCTL_KIND), whose clusters hand out a kubeconfig for
    ``fake_api`` (context ``kind-platform``); ownership records and the user's kubeconfig live under
    ``tmp_path``. Returns the fake's state directory (``calls.jsonl`` records every call)."""
    kc = tmp_path / "fake-kind-kubeconfig"
    kc.write_text(fake_api.kubeconfig_text(context="kind-platform"))
    state = tmp_path / "kind"
    monkeypatch.setenv("PLATFORMCTL_KIND", str(FAKE_KIND))
    monkeypatch.setenv("FAKE_KIND_STATE", str(state))
    monkeypatch.setenv("FAKE_KIND_KUBECONFIG", str(kc))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kube" / "config"))
    return state
