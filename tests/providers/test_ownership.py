"""providers/ownership.py: the one reuse-or-refuse rule, and the registry every command goes through."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from platformctl import providers
from platformctl.errors import ConfigError, SafetyError
from platformctl.plan.spec import ClusterSpec, PlatformSpec
from platformctl.providers import ownership
from platformctl.providers.ownership import Desired, RecordStore, decide

WANT = Desired("kind", "platform", "b" * 64, {"node_image": "img:2", "http_port": "80"})


def test_decide_create_reuse_refuse_recreate(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    assert decide(WANT, exists=False, record=store.get("platform"), force=False) == "create"
    with pytest.raises(SafetyError, match="exists but was not created by platformctl; use another") as e:
        decide(WANT, exists=True, record=None, force=False)
    assert e.value.exit_code == 5
    assert decide(WANT, exists=True, record=None, force=True) == "recreate"
    store.save(WANT)
    assert decide(WANT, exists=True, record=store.get("platform"), force=False) == "reuse"
    old = Desired("kind", "platform", "a" * 64, {"node_image": "img:1", "http_port": "80"})
    store.save(old)
    with pytest.raises(SafetyError, match=r"different config \(node_image changed\)") as e:
        decide(WANT, exists=True, record=store.get("platform"), force=False)
    assert e.value.details[0] == "node_image: created with img:1, wanted img:2"
    assert "http_port" not in " ".join(e.value.details)  # only what differs is listed
    assert decide(WANT, exists=True, record=store.get("platform"), force=True) == "recreate"


def test_records_without_settings_still_compare_by_digest(tmp_path: Path) -> None:
    # A kind record written before providers/ existed: name, config_sha256, created_at, node_image.
    (tmp_path / "platform.json").write_text(
        '{"name": "platform", "config_sha256": "' + "a" * 64 + '", "created_at": 1, "node_image": "x"}'
    )
    rec = RecordStore(tmp_path).get("platform")
    assert rec is not None and rec.settings == {}
    with pytest.raises(SafetyError, match=r"different config \(settings changed\)") as e:
        decide(WANT, exists=True, record=rec, force=False)
    assert "recorded config sha256 " + "a" * 64 in e.value.details


def test_corrupt_record_proves_nothing(tmp_path: Path) -> None:
    (tmp_path / "platform.json").write_text("{not json")
    assert RecordStore(tmp_path).get("platform") is None


def test_record_file_is_private(tmp_path: Path) -> None:
    RecordStore(tmp_path / "d").save(WANT)
    assert oct((tmp_path / "d" / "platform.json").stat().st_mode & 0o777) == "0o600"


def test_check_removal() -> None:
    assert ownership.check_removal("minikube", "p", exists=False, owned=False, force=False) is False
    assert ownership.check_removal("minikube", "p", exists=True, owned=True, force=False) is True
    with pytest.raises(SafetyError, match="minikube cluster 'p' was not created by platformctl"):
        ownership.check_removal("minikube", "p", exists=True, owned=False, force=False)
    assert ownership.check_removal("minikube", "p", exists=True, owned=False, force=True) is True


def test_registry_matches_the_spec_and_answers_per_provider() -> None:
    allowed = typing.get_args(ClusterSpec.model_fields["provider"].annotation)
    assert tuple(providers.REGISTRY) == allowed
    assert {n: providers.gateway_service_type(n) for n in allowed} == {
        "kind": "NodePort",
        "existing": "LoadBalancer",
        "minikube": "NodePort",
    }
    assert {n: providers.manages_cluster(n) for n in allowed} == {
        "kind": True,
        "existing": False,
        "minikube": True,
    }
    with pytest.raises(ConfigError, match=r"cluster\.provider: 'k3d' is not a provider"):
        providers.gateway_service_type("k3d")


def test_kind_and_existing_targets() -> None:
    opts = providers.ProviderOptions(kubeconfig="/tmp/kc", context="ctx")
    existing = PlatformSpec.model_validate({"cluster": {"provider": "existing"}, "domain": "example.com"})
    t = providers.create(existing, opts).target(existing)
    assert (t.provider, t.kubeconfig, t.context) == ("existing", "/tmp/kc", "ctx")
    assert providers.create(existing, opts).ingress(existing) is None
    kind = PlatformSpec()
    t = providers.create(kind, providers.ProviderOptions(kubeconfig="/tmp/kc")).target(kind)
    assert (t.provider, t.kubeconfig, t.context) == ("kind", "/tmp/kc", "kind-platform")
    ing = providers.create(kind).ingress(kind)
    assert ing is not None and (ing.address, ing.http_port) == ("127.0.0.1", 80)
    assert providers.resolve_domain(kind, providers.create(kind)) is kind  # kind keeps the spec's domain
