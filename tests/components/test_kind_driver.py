"""drivers/kind.py and drivers/kubeconfig.py against the fake kind executable (tests/fakebin/kind)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.drivers import kind as kd
from platformctl.drivers import kubeconfig as kc
from platformctl.errors import ClusterError, ConfigError, SafetyError
from platformctl.plan.lock import load_lock
from platformctl.providers import kind as kp
from tests.components.conftest import FAKE_KIND

NODE_IMAGE = load_lock().kind.node_image


@pytest.fixture
def fake_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FAKE_KIND_STATE": str(tmp_path / "kind-state")}


@pytest.fixture
def kind(fake_env: dict[str, str], tmp_path: Path) -> kd.KindCluster:
    return kd.KindCluster(FAKE_KIND, state_dir=tmp_path / "state", env=fake_env)


def calls(env: dict[str, str]) -> list[dict[str, Any]]:
    path = Path(env["FAKE_KIND_STATE"]) / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


OTHER = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example.com"}}],
    "users": [{"name": "prod-admin", "user": {"token": "secret-token"}}],
    "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}}],
    "current-context": "prod",
}


def test_render_config() -> None:
    cfg = kd.KindConfig("platform", NODE_IMAGE, "127.0.0.1", 8080, 8443)
    data = yaml.safe_load(kd.render_config(cfg))
    assert data["apiVersion"] == "kind.x-k8s.io/v1alpha4" and data["kind"] == "Cluster"
    assert data["name"] == "platform"
    node = data["nodes"][0]
    assert node["role"] == "control-plane" and node["image"] == NODE_IMAGE and "@sha256:" in NODE_IMAGE
    assert node["extraPortMappings"] == [
        {"containerPort": 31080, "hostPort": 8080, "listenAddress": "127.0.0.1", "protocol": "TCP"},
        {"containerPort": 31443, "hostPort": 8443, "listenAddress": "127.0.0.1", "protocol": "TCP"},
    ]


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("name", "Bad_Name", "cluster.name"),
        ("node_image", "kindest/node:v1\nfoo: bar", "cluster.node_image"),
        ("listen_address", "localhost", "cluster.listen_address"),
        ("http_port", 0, "cluster.http_port"),
        ("https_port", 80, "cluster.https_port"),
    ],
)
def test_render_config_validates(field: str, value: object, match: str) -> None:
    args: dict[str, Any] = {"name": "platform", "node_image": NODE_IMAGE}
    args[field] = value
    with pytest.raises(ConfigError, match=match):
        kd.render_config(kd.KindConfig(**args))


def test_create_then_reuse(kind: kd.KindCluster, fake_env: dict[str, str], tmp_path: Path) -> None:
    kubeconfig = tmp_path / "home" / ".kube" / "config"
    kubeconfig.parent.mkdir(parents=True)
    kubeconfig.write_text(yaml.safe_dump(OTHER))
    kubeconfig.chmod(0o644)
    lines: list[str] = []
    cfg = kd.KindConfig("platform", NODE_IMAGE)
    res = kp.ensure_cluster(kind, cfg, kubeconfig, on_line=lines.append)
    assert res.created and res.context == "kind-platform"
    assert any("Starting control-plane" in line for line in lines)  # streamed progress

    create = next(c for c in calls(fake_env) if c["argv"][:2] == ["create", "cluster"])
    argv = create["argv"]
    assert argv[argv.index("--name") + 1] == "platform"
    assert argv[argv.index("--wait") + 1].endswith("s")
    # kind writes into a private kubeconfig, never the user's file.
    assert argv[argv.index("--kubeconfig") + 1] != str(kubeconfig)
    assert create["config"] == kd.render_config(cfg)

    data = yaml.safe_load(kubeconfig.read_text())
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    assert {c["name"] for c in data["contexts"]} == {"prod", "kind-platform"}
    prod = next(c for c in data["contexts"] if c["name"] == "prod")
    assert prod == OTHER["contexts"][0]  # other contexts untouched
    assert next(u for u in data["users"] if u["name"] == "prod-admin") == OTHER["users"][0]
    assert data["current-context"] == "kind-platform"
    assert kc.owned_context(kubeconfig, "kind-platform")

    # Second run: same config → reused, no second create.
    res2 = kp.ensure_cluster(kind, cfg, kubeconfig)
    assert not res2.created
    assert sum(c["argv"][:2] == ["create", "cluster"] for c in calls(fake_env)) == 1


def test_refuses_cluster_not_created_by_platformctl(
    kind: kd.KindCluster, fake_env: dict[str, str], tmp_path: Path
) -> None:
    # Someone created "platform" with kind directly: no platformctl record.
    other = kd.KindCluster(FAKE_KIND, state_dir=tmp_path / "someone-else", env=fake_env)
    other.create("platform", "kind: Cluster\n", tmp_path / "their-kubeconfig")
    kubeconfig = tmp_path / "config"
    with pytest.raises(SafetyError, match="not created by platformctl"):
        kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE), kubeconfig)
    with pytest.raises(SafetyError, match="not created by platformctl"):
        kp.remove_cluster(kind, "platform", kubeconfig)
    assert kind.exists("platform")  # nothing was deleted
    # --force: delete and recreate.
    res = kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE), kubeconfig, force=True)
    assert res.created
    assert any(c["argv"][:2] == ["delete", "cluster"] for c in calls(fake_env))


def test_refuses_changed_config(kind: kd.KindCluster, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE), kubeconfig)
    with pytest.raises(SafetyError, match="different config") as err:
        kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE, http_port=8080), kubeconfig)
    assert any("sha256" in d for d in err.value.details)


def test_refuses_foreign_kubeconfig_context(
    kind: kd.KindCluster, fake_env: dict[str, str], tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "config"
    foreign = dict(OTHER)
    foreign["contexts"] = [{"name": "kind-platform", "context": {"cluster": "prod", "user": "prod-admin"}}]
    kubeconfig.write_text(yaml.safe_dump(foreign))
    with pytest.raises(SafetyError, match="not written by platformctl"):
        kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE), kubeconfig)
    # Refused before creating anything.
    assert not any(c["argv"][:2] == ["create", "cluster"] for c in calls(fake_env))
    assert yaml.safe_load(kubeconfig.read_text()) == foreign


def test_refuses_foreign_cluster_entry_named_like_kind_before_creating(
    kind: kd.KindCluster, fake_env: dict[str, str], tmp_path: Path
) -> None:
    # Regression: only contexts were checked, so a user's cluster entry "kind-platform" was replaced.
    kubeconfig = tmp_path / "config"
    foreign = {
        **OTHER,
        "clusters": [*OTHER["clusters"], {"name": "kind-platform", "cluster": {"server": "x"}}],
    }
    kubeconfig.write_text(yaml.safe_dump(foreign))
    with pytest.raises(
        SafetyError, match="cluster 'kind-platform' exists and was not written by platformctl"
    ):
        kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE), kubeconfig)
    assert not any(c["argv"][:2] == ["create", "cluster"] for c in calls(fake_env))
    assert yaml.safe_load(kubeconfig.read_text()) == foreign
    assert kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE), kubeconfig, force=True).created


def test_create_failure_reports_kind_output(tmp_path: Path, fake_env: dict[str, str]) -> None:
    env = {**fake_env, "FAKE_KIND_FAIL": "create"}
    kind = kd.KindCluster(FAKE_KIND, state_dir=tmp_path / "state", env=env)
    kubeconfig = tmp_path / "config"
    with pytest.raises(ClusterError, match="could not create cluster") as err:
        kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE), kubeconfig)
    assert any("kubeadm" in d for d in err.value.details)
    assert kind.record("platform") is None  # not recorded as ours
    assert not kubeconfig.exists()


def test_create_timeout(tmp_path: Path, fake_env: dict[str, str]) -> None:
    env = {**fake_env, "FAKE_KIND_LINE_DELAY": "1"}
    kind = kd.KindCluster(FAKE_KIND, state_dir=tmp_path / "state", env=env)
    with pytest.raises(ClusterError, match="did not finish within"):
        kind.create("platform", "kind: Cluster\n", tmp_path / "kc", timeout=0.5)


def test_docker_down_is_cluster_error(tmp_path: Path, fake_env: dict[str, str]) -> None:
    kind = kd.KindCluster(FAKE_KIND, env={**fake_env, "FAKE_KIND_FAIL": "get-clusters"})
    with pytest.raises(ClusterError, match="is Docker running") as err:
        kind.clusters()
    assert any("Docker daemon" in d for d in err.value.details)


def test_remove_cluster(kind: kd.KindCluster, fake_env: dict[str, str], tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump(OTHER))
    kp.ensure_cluster(kind, kd.KindConfig("platform", NODE_IMAGE), kubeconfig)
    assert kp.remove_cluster(kind, "platform", kubeconfig) is True
    assert not kind.exists("platform")
    assert kind.record("platform") is None
    data = yaml.safe_load(kubeconfig.read_text())
    assert [c["name"] for c in data["contexts"]] == ["prod"]
    assert [c["name"] for c in data["clusters"]] == ["prod"]
    assert [u["name"] for u in data["users"]] == ["prod-admin"]
    assert data["current-context"] == ""
    # Gone already: a no-op that says so.
    assert kp.remove_cluster(kind, "platform", kubeconfig) is False


def test_kubeconfig_merge_keeps_foreign_context_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "config"
    foreign = {
        **OTHER,
        "contexts": [{"name": "kind-x", "context": {"cluster": "prod", "user": "prod-admin"}}],
    }
    path.write_text(yaml.safe_dump(foreign))
    src = yaml.safe_dump(
        {
            "clusters": [{"name": "kind-x", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "kind-x", "user": {"token": "t"}}],
            "contexts": [{"name": "kind-x", "context": {"cluster": "kind-x", "user": "kind-x"}}],
        }
    )
    with pytest.raises(SafetyError):
        kc.merge_context(path, src, context="kind-x", owner="x")
    with pytest.raises(SafetyError):
        kc.remove_context(path, "kind-x")
    kc.merge_context(path, src, context="kind-x", owner="x", force=True)
    assert kc.owned_context(path, "kind-x")
    assert kc.remove_context(path, "kind-x") is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_kubeconfig_merge_keeps_foreign_cluster_or_user_entry_unless_forced(tmp_path: Path) -> None:
    # Regression: a cluster/user named like kind's (no context of that name) was silently replaced.
    path = tmp_path / "config"
    src = {
        "clusters": [{"name": "kind-x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "kind-x", "user": {"token": "t"}}],
        "contexts": [{"name": "kind-x", "context": {"cluster": "kind-x", "user": "kind-x"}}],
    }
    for key, theirs in (("clusters", {"server": "https://10.0.0.1"}), ("users", {"token": "mine"})):
        inner = "cluster" if key == "clusters" else "user"
        path.write_text(yaml.safe_dump({**OTHER, key: [*OTHER[key], {"name": "kind-x", inner: theirs}]}))
        before = path.read_text()
        with pytest.raises(SafetyError, match=f"{inner} 'kind-x' exists"):
            kc.merge_context(path, yaml.safe_dump(src), context="kind-x", owner="x")
        assert path.read_text() == before
        kc.merge_context(path, yaml.safe_dump(src), context="kind-x", owner="x", force=True)
        assert kc.owned_context(path, "kind-x")
    # Our own context's entries are replaced freely on the next run (kind rotates the port/certs).
    src["clusters"][0]["cluster"] = {"server": "https://127.0.0.1:2"}
    kc.merge_context(path, yaml.safe_dump(src), context="kind-x", owner="x")


def test_invalid_yaml_kubeconfig_is_a_one_line_config_error(tmp_path: Path) -> None:
    # Regression: the message embedded PyYAML's multi-line text (with a caret line).
    path = tmp_path / "config"
    path.write_text("clusters: [\n")
    with pytest.raises(ConfigError) as info:
        kc.load(path)
    assert (
        info.value.message
        == f"kubeconfig {path}: not valid YAML at line 2, column 1; fix or move the kubeconfig file"
    )


def test_unreadable_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError, match="cannot read the kubeconfig"):
        kc.load(path)


def test_default_kubeconfig_path(tmp_path: Path) -> None:
    # kubectl: new entries go to the first file that exists, else the last file of the list
    env = {"KUBECONFIG": os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")])}
    assert kc.default_kubeconfig_path(env) == tmp_path / "b"
    (tmp_path / "a").write_text("apiVersion: v1\nkind: Config\n")
    assert kc.default_kubeconfig_path(env) == tmp_path / "a"
    assert kc.default_kubeconfig_path({}).name == "config"


def test_stale_record_and_forced_removal(
    kind: kd.KindCluster, fake_env: dict[str, str], tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "config"
    cfg = kd.KindConfig("platform", NODE_IMAGE)
    kp.ensure_cluster(kind, cfg, kubeconfig)
    # The cluster vanished behind our back (`kind delete cluster` by hand): the record is stale.
    kd.KindCluster(FAKE_KIND, state_dir=tmp_path / "other", env=fake_env).delete("platform")
    assert kind.record("platform") is not None
    assert kp.ensure_cluster(kind, cfg, kubeconfig).created
    # A foreign cluster goes only with force, and its context (not ours) only with force too.
    kd.KindCluster(FAKE_KIND, state_dir=tmp_path / "other", env=fake_env).create(
        "theirs", "kind: Cluster\n", tmp_path / "kc"
    )
    assert kp.remove_cluster(kind, "theirs", kubeconfig, force=True) is True
    assert not kind.exists("theirs")
