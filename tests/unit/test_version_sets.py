"""Version sets as data (manifests/lock.yaml ``sets``/``default_set``): selection, validation, and proof
that a new set needs no code change (a test-only lock with a third, synthetic set)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from platformctl.errors import ConfigError
from platformctl.plan.loader import load_spec
from platformctl.plan.lock import KubernetesLock, VersionLock, default_lock_path, k8s_tuple, load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases.versions import versions_report
from tests.support.cli_main import run_main

SYNTHETIC = "synthetic-9.9"


def raw_lock() -> dict[str, Any]:
    with default_lock_path().open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def with_synthetic_set(data: dict[str, Any]) -> dict[str, Any]:
    """The shipped lock plus a third set mixing pinned versions of the two real ones (data only)."""
    out = copy.deepcopy(data)
    first, second = sorted(out["sets"])[:2]
    mixed = dict(out["sets"][first]["components"])
    mixed["knative-serving"] = out["sets"][second]["components"]["knative-serving"]
    out["sets"][SYNTHETIC] = {
        "source": "test-only set",
        "components": mixed,
        "kind": {"version": "v0.30.0", "node_image": "kindest/node:v1.33.4@sha256:" + "2" * 64},
        "kubernetes": {"version": "v1.33.4", "min": "v1.33.0", "max": "v1.33.0", "source": "test"},
    }
    return out


@pytest.fixture
def synthetic() -> VersionLock:
    return VersionLock.model_validate(with_synthetic_set(raw_lock()))


def test_shipped_lock_has_both_sets_and_every_set_pins_every_component() -> None:
    lock = load_lock()
    assert {"kserve-0.16", "kserve-0.20"} <= set(lock.sets)
    assert lock.default_set in lock.sets
    for vset in lock.sets.values():
        assert set(vset.components) == set(lock.components)
        assert "@sha256:" in vset.kind.node_image
        for comp, ver in vset.components.items():
            assert ver in lock.components[comp].versions
    # components.<name>.default is the default set's version (filled in, never a second source).
    for comp, clock in lock.components.items():
        assert clock.default == lock.sets[lock.default_set].components[comp]


def test_kserve_020_set_facts() -> None:
    vset = load_lock().sets["kserve-0.20"]
    assert vset.components["kserve"] == "v0.20.0"
    assert vset.components["knative-serving"] == "1.21.1"
    assert vset.kubernetes.min == "v1.33.0" and "KUBERNETES_MIN_VERSION" in vset.kubernetes.source
    assert vset.kind.node_image.startswith("kindest/node:v1.34.0@sha256:7416a61b")


def test_a_third_set_needs_no_code_change(synthetic: VersionLock, tmp_path: Path) -> None:
    cfg = tmp_path / "platform.yaml"
    cfg.write_text(f"versions: {SYNTHETIC}\n", encoding="utf-8")
    spec = load_spec(cfg, env={}, lock=synthetic)
    assert spec.versions == SYNTHETIC
    want = synthetic.sets[SYNTHETIC].components
    for comp in synthetic.components:
        assert synthetic.selected(spec, comp)[0] == want[comp]
    rep = versions_report(spec, lock=synthetic)
    assert rep.version_set == SYNTHETIC
    assert [s.name for s in rep.sets if s.selected] == [SYNTHETIC]
    assert rep.node_image == synthetic.sets[SYNTHETIC].kind.node_image
    assert rep.kubernetes == "v1.33.4"
    assert {c.name: c.version for c in rep.components} == want
    shown = next(s for s in rep.sets if s.name == SYNTHETIC)
    assert shown.kubernetes_range == ">= v1.33.0, <= v1.33.x"
    # Moving the default is one line of data.
    moved = with_synthetic_set(raw_lock())
    moved["default_set"] = SYNTHETIC
    lock2 = VersionLock.model_validate(moved)
    assert lock2.kind.node_image == synthetic.sets[SYNTHETIC].kind.node_image
    assert {c: lock2.release(c)[0] for c in lock2.components} == want


def test_component_override_beats_the_set(tmp_path: Path) -> None:
    lock = load_lock()
    other = next(n for n in lock.sets if n != lock.default_set)
    pinned = lock.sets[other].components["dapr"]
    spec = load_spec(None, env={}, cwd=tmp_path, overrides={"components.dapr.version": pinned})
    assert lock.selected(spec, "dapr")[0] == pinned
    assert lock.selected(spec, "kserve")[0] == lock.sets[lock.default_set].components["kserve"]


def test_unknown_set_is_one_line_naming_the_sets(tmp_path: Path) -> None:
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("versions: kserve-9.9\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_spec(cfg, env={})
    msg = info.value.message
    assert msg.startswith(f'{cfg}: versions: "kserve-9.9": not a version set of the lock; sets: ')
    assert "kserve-0.16" in msg and "kserve-0.20" in msg and "\n" not in msg
    assert info.value.exit_code == 2


def test_env_selects_a_set(tmp_path: Path) -> None:
    spec = load_spec(None, env={"PLATFORMCTL_VERSIONS": "kserve-0.16"}, cwd=tmp_path)
    assert load_lock().selected(spec, "kserve")[0] == "v0.16.0"


def test_cli_bad_set_and_bad_component_version_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = run_main(["versions", "--set", "versions=nope"])
    assert r.exit_code == 2
    assert 'versions: "nope": not a version set of the lock' in r.stderr
    assert "Traceback" not in r.stderr
    (tmp_path / "platform.yaml").write_text("components:\n  kserve:\n    version: v0.17.0\n")
    r2 = run_main(["config", "validate"])
    assert r2.exit_code == 2
    assert 'components.kserve.version: "v0.17.0": not in the version lock' in r2.stderr


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(default_set="nope"), "default_set: 'nope' is not under sets"),
        (lambda d: d["sets"]["kserve-0.20"]["components"].pop("dapr"), "no version for dapr"),
        (
            lambda d: d["sets"]["kserve-0.20"]["components"].update(kserve="v0.99.0"),
            "'v0.99.0' is not under components.kserve.versions",
        ),
        (
            lambda d: d["components"]["kserve"].update(
                default="v0.16.0" if d["default_set"] != "kserve-0.16" else "v0.20.0"
            ),
            "differs from the default set",
        ),
    ],
)
def test_inconsistent_lock_is_rejected(mutate: Any, message: str) -> None:
    data = raw_lock()
    mutate(data)
    with pytest.raises(ValidationError, match=message):
        VersionLock.model_validate(data)


def test_kubernetes_range() -> None:
    rng = KubernetesLock(version="v1.34.0", min="v1.33.0", source="x")
    assert rng.supports("v1.33.0") and rng.supports("v1.34.1+k3s1") and rng.supports("v1.40.0")
    assert not rng.supports("v1.32.8") and not rng.supports("v1.32.99-gke.1")
    capped = KubernetesLock(version="v1.34.0", min="v1.33.0", max="v1.34.0", source="x")
    assert capped.supports("v1.34.9") and not capped.supports("v1.35.0")
    assert capped.describe() == ">= v1.33.0, <= v1.34.x"
    assert KubernetesLock(version="v1.32.8", source="none known").describe() == "any"
    assert k8s_tuple("v1.30.2-gke.1") == (1, 30, 2)


def test_versions_json_lists_sets_and_every_pinned_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = run_main(["versions", "-o", "json"])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    lock = load_lock()
    assert data["default_set"] == lock.default_set == data["version_set"]
    assert [s["name"] for s in data["sets"]] == list(lock.sets)
    for s in data["sets"]:
        assert s["components"] == dict(lock.sets[s["name"]].components)
        assert s["node_image"] == lock.sets[s["name"]].kind.node_image
    listed = {(f["path"], f["sha256"], f["url"]) for f in data["pinned_files"]}
    assert listed == {(f.path, f.sha256, f.url) for _, f in lock.all_files()}
    for f in data["pinned_files"]:
        assert f["sets"], f"{f['path']} is pinned but no set uses it"
    # Selecting the other set switches the platform rows and the per-component files.
    other = next(n for n in lock.sets if n != lock.default_set)
    r2 = run_main(["versions", "-o", "json", "--set", f"versions={other}"])
    d2 = json.loads(r2.stdout)
    assert d2["version_set"] == other and d2["node_image"] == lock.sets[other].kind.node_image
    assert {(c["name"], c["version"]) for c in d2["components"]} == set(lock.sets[other].components.items())
    t = run_main(["versions"])
    assert t.exit_code == 0 and "Version sets" in t.stdout and other in t.stdout


def test_default_spec_selects_nothing() -> None:
    assert PlatformSpec().versions is None


def test_kubernetes_problem_names_the_range_and_its_source() -> None:
    from types import SimpleNamespace

    from platformctl.errors import UsageError
    from platformctl.usecases.compatibility import check_cluster_version, kubernetes_problem

    lock = load_lock()
    bounded = [n for n, s in lock.sets.items() if s.kubernetes.min]
    assert bounded, "no set with a Kubernetes minimum"
    name = bounded[0]
    rng = lock.sets[name].kubernetes
    assert rng.min is not None
    spec = PlatformSpec(versions=name)
    assert kubernetes_problem(spec, rng.min, lock) is None
    assert kubernetes_problem(spec, rng.version, lock) is None
    problem = kubernetes_problem(spec, "v1.20.0", lock)
    assert problem is not None
    assert f"version set {name} supports >= {rng.min}" in problem and rng.source in problem
    assert "v1.20.0" in problem
    with pytest.raises(UsageError) as info:
        check_cluster_version(SimpleNamespace(server_version={"gitVersion": "v1.20.0"}), spec, lock)  # type: ignore[arg-type]
    assert info.value.exit_code == 2 and "\n" not in info.value.message
    assert "platformctl versions" in (info.value.hint or "")
