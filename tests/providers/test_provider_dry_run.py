"""Provider.dry_run (issue 9's honest `up --dry-run` on issue 13's provider seam) and the $KUBECONFIG
chain rules the providers write by: the dry run refuses exactly what ``ensure`` would refuse, says why
there is nothing to check when the cluster does not exist yet, and never starts, deletes or writes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.drivers.minikube import Minikube
from platformctl.errors import SafetyError, SourceError, UsageError
from platformctl.plan.spec import PlatformSpec
from platformctl.providers import ProviderOptions
from platformctl.providers.kind import KindProvider
from platformctl.providers.minikube import MinikubeProvider

FAKEBIN = Path(__file__).resolve().parents[1] / "fakebin"


@pytest.fixture
def mk_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    st = tmp_path / "minikube-state"
    monkeypatch.setenv("FAKE_MINIKUBE_STATE", str(st))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "ambient-kubeconfig"))
    return st


def _verbs(state: Path) -> list[str]:
    path = state / "calls.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line)["argv"][0] for line in lines]


def _minikube(tmp_path: Path, **kw: Any) -> MinikubeProvider:
    opts = ProviderOptions(
        kubeconfig=str(tmp_path / "kube" / "config"),
        binary=FAKEBIN / "minikube",
        state_dir=tmp_path / "records",
        **kw,
    )
    return MinikubeProvider(opts)


def _spec(provider: str, **cluster: Any) -> PlatformSpec:
    return PlatformSpec.model_validate({"cluster": {"provider": provider, **cluster}})


def test_minikube_dry_run_renders_only_when_the_profile_does_not_exist(
    mk_state: Path, tmp_path: Path
) -> None:
    target, why = _minikube(tmp_path).dry_run(_spec("minikube"))
    assert target is None and why == "minikube profile 'platform' does not exist yet: `up` would start it"
    assert "start" not in _verbs(mk_state) and not (tmp_path / "kube" / "config").exists()


def test_minikube_dry_run_reuses_refuses_drift_and_foreign_like_ensure(
    mk_state: Path, tmp_path: Path
) -> None:
    _minikube(tmp_path).ensure(_spec("minikube", cpus=4))
    target, why = _minikube(tmp_path).dry_run(_spec("minikube", cpus=4))
    assert target is not None and target.context == "platform" and why == ""
    with pytest.raises(SafetyError, match=r"different config \(cpus changed\)"):
        _minikube(tmp_path).dry_run(_spec("minikube", cpus=6))
    target, why = _minikube(tmp_path, force=True).dry_run(_spec("minikube", cpus=6))
    assert target is None and "would delete minikube profile 'platform'" in why
    assert _verbs(mk_state).count("start") == 1 and "delete" not in _verbs(mk_state)
    # a profile platformctl did not create
    Minikube(FAKEBIN / "minikube").start("other", kubernetes_version="v1.30.0", kubeconfig=tmp_path / "t")
    with pytest.raises(SafetyError, match="exists but was not created by platformctl"):
        _minikube(tmp_path).dry_run(_spec("minikube", name="other"))


def test_minikube_dry_run_without_binary_follows_no_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # no minikube anywhere: not in $PLATFORMCTL_MINIKUBE, on PATH or in the download cache
    monkeypatch.delenv("PLATFORMCTL_MINIKUBE", raising=False)
    monkeypatch.delenv("PLATFORMCTL_CACHE_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    missing = ProviderOptions(allow_download=False, state_dir=tmp_path / "r")
    with pytest.raises(SourceError):
        MinikubeProvider(missing).dry_run(_spec("minikube"))  # `up --no-download` would refuse too
    allowed = ProviderOptions(allow_download=True, state_dir=tmp_path / "r")
    target, why = MinikubeProvider(allowed).dry_run(_spec("minikube"))  # nothing is downloaded
    assert target is None and "minikube is not installed yet" in why
    assert not (tmp_path / "cache").exists()


def test_kind_dry_run_keeps_the_context_rule(tmp_path: Path) -> None:
    opts = ProviderOptions(context="other", binary=FAKEBIN / "kind", state_dir=tmp_path / "records")
    with pytest.raises(UsageError, match=r"--context other: cluster\.provider is 'kind'"):
        KindProvider(opts).dry_run(_spec("kind"))


def test_kind_context_goes_where_kubectl_writes_it_in_the_kubeconfig_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # KUBECONFIG=a:b where only b exists and a sets no current-context: kubectl writes new entries to
    # the first file that exists (b), and makes the context current in the first file that sets one.
    a, b = tmp_path / "a", tmp_path / "b"
    b.write_text(
        yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "contexts": [], "current-context": "x"})
    )
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(b)]))
    provider = KindProvider(ProviderOptions(binary=FAKEBIN / "kind"))
    assert provider.target(_spec("kind")).kubeconfig == str(b)
    # --kubeconfig is one file, never split on the path separator
    one = KindProvider(ProviderOptions(kubeconfig=f"{a}{os.pathsep}{b}", binary=FAKEBIN / "kind"))
    assert one.target(_spec("kind")).kubeconfig == f"{a}{os.pathsep}{b}"
