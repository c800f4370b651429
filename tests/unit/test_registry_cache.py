"""The registry cache's pure parts: the kind config it renders (checked against kind's v1alpha4 config
schema), the registry containers' Docker config, the nodes' hosts.toml, and create/status/prune/remove
against an in-memory Docker double."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from platformctl.drivers.kind import KindConfig, render_config
from platformctl.errors import ClusterError
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases.images import parse_image
from platformctl.usecases.registry_cache import (
    LABEL,
    REGISTRY_IMAGE,
    CacheRegistry,
    caches_for,
    configure_nodes,
    ensure_caches,
    prune,
    remove,
    status,
)
from platformctl.usecases.up_images import cache_enabled

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "support" / "kind_v1alpha4.schema.json").read_text()
)
NODE = "kindest/node:v1.32.8@sha256:abd489f042d2b644e2d033f5c2d900bc707798d075e8186cb65e3f1367a9d5a1"


@pytest.mark.parametrize("cache", [True, False])
def test_kind_config_validates_against_kind_v1alpha4_schema(cache: bool) -> None:
    cfg = yaml.safe_load(render_config(KindConfig("platform", NODE, registry_cache=cache)))
    jsonschema.validate(cfg, SCHEMA)
    patches = cfg.get("containerdConfigPatches")
    if not cache:
        assert patches is None
        return
    assert len(patches) == 1
    toml = tomllib.loads(patches[0])
    assert (
        toml["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["config_path"] == "/etc/containerd/certs.d"
    )


def test_schema_rejects_what_kind_would() -> None:
    cfg = yaml.safe_load(render_config(KindConfig("platform", NODE, registry_cache=True)))
    cfg["containerdConfigPatch"] = cfg.pop("containerdConfigPatches")  # a typo kind refuses
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(cfg, SCHEMA)


def test_cache_is_on_by_default_for_kind_only() -> None:
    assert cache_enabled(PlatformSpec())
    assert not cache_enabled(PlatformSpec.model_validate({"cluster": {"registry_cache": False}}))
    existing = PlatformSpec.model_validate({"cluster": {"provider": "existing"}, "domain": "example.com"})
    assert not cache_enabled(existing)


def test_registry_container_config() -> None:
    hub = CacheRegistry("docker.io")
    cfg = hub.container_config()
    assert cfg["Image"] == REGISTRY_IMAGE and parse_image(REGISTRY_IMAGE).pinning == "digest"
    env = dict(e.split("=", 1) for e in cfg["Env"])
    assert env["REGISTRY_PROXY_REMOTEURL"] == "https://registry-1.docker.io"
    assert cfg["HostConfig"]["Binds"] == ["platformctl-cache-docker-io:/var/lib/registry"]
    assert cfg["HostConfig"]["NetworkMode"] == "kind"
    assert cfg["HostConfig"]["RestartPolicy"] == {"Name": "unless-stopped"}  # survives Docker restarts
    assert cfg["Labels"] == {LABEL: "true", f"{LABEL}.upstream": "docker.io"}
    assert CacheRegistry("ghcr.io").remote_url == "https://ghcr.io"
    assert CacheRegistry("127.0.0.1:5000").remote_url == "http://127.0.0.1:5000"
    assert [c.name for c in caches_for(["quay.io", "docker.io", "quay.io"])] == [
        "platformctl-cache-docker-io",
        "platformctl-cache-quay-io",
    ]


def test_hosts_toml_puts_the_cache_first_and_the_upstream_as_fallback() -> None:
    hosts = tomllib.loads(CacheRegistry("gcr.io").hosts_toml())
    assert hosts == {
        "server": "https://gcr.io",
        "host": {"http://platformctl-cache-gcr-io:5000": {"capabilities": ["pull", "resolve"]}},
    }


class FakeDocker:
    """In-memory Docker Engine double with the calls ensure/status/prune/remove make."""

    def __init__(self, *, image: bool = True, pull_error: str | None = None) -> None:
        self.containers: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, int] = {}
        self.networks: dict[str, set[str]] = {"kind": set()}
        self.image = image
        self.pull_error = pull_error
        self.execs: list[tuple[str, list[str]]] = []
        self.debug_vars = json.dumps(
            {
                "registry": {
                    "proxy": {"blobs": {"Hits": 7, "Misses": 2}, "manifests": {"Hits": 1, "Misses": 3}}
                }
            }
        )

    def containers_labelled(self, label: str) -> list[dict[str, Any]]:
        return [
            {"Names": [f"/{n}"], "State": c["state"], "Labels": c["config"]["Labels"]}
            for n, c in self.containers.items()
            if label in c["config"]["Labels"]
        ]

    def image_present(self, image: str) -> bool:
        return self.image

    def pull(self, image: str) -> None:
        if self.pull_error:
            raise ClusterError(self.pull_error)
        self.image = True

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        self.volumes.setdefault(name, 0)

    def remove_volume(self, name: str) -> bool:
        return self.volumes.pop(name, None) is not None

    def create_container(self, name: str, config: dict[str, Any]) -> str:
        assert name not in self.containers
        self.containers[name] = {"config": config, "state": "created"}
        return name

    def start_container(self, name: str) -> None:
        self.containers[name]["state"] = "running"

    def remove_container(self, name: str) -> bool:
        return self.containers.pop(name, None) is not None

    def connect_network(self, network: str, container: str) -> None:
        self.networks[network].add(container)

    def volume_sizes(self) -> dict[str, int]:
        return dict(self.volumes)

    def exec(self, container: str, cmd: list[str]) -> tuple[int, str]:
        self.execs.append((container, cmd))
        if cmd[0] == "wget":
            return 0, self.debug_vars
        return 0, ""


def test_ensure_creates_once_status_prune_and_remove() -> None:
    docker = FakeDocker()
    caches = caches_for(["docker.io", "ghcr.io", "quay.io"])
    assert ensure_caches(docker, caches) == []
    assert sorted(docker.containers) == [c.name for c in caches]
    assert all(c["state"] == "running" for c in docker.containers.values())
    assert docker.networks["kind"] == {c.name for c in caches}
    assert ensure_caches(docker, caches) == []  # a second up reuses them (create would assert)
    docker.volumes["platformctl-cache-docker-io"] = 123_000_000
    report = status(docker)
    hub = next(e for e in report.entries if e.upstream == "docker.io")
    assert (hub.state, hub.bytes, hub.hits, hub.misses) == ("running", 123_000_000, 8, 5)
    assert prune(docker, ["docker.io", "ghcr.io"]) == ["platformctl-cache-quay-io"]
    assert sorted(docker.containers) == ["platformctl-cache-docker-io", "platformctl-cache-ghcr-io"]
    assert remove(docker) == ["platformctl-cache-docker-io", "platformctl-cache-ghcr-io"]
    assert docker.containers == {} and docker.volumes == {}


def test_unavailable_registry_image_is_reported_not_fatal() -> None:
    docker = FakeDocker(image=False, pull_error="dial tcp: lookup registry-1.docker.io: no such host")
    problems = ensure_caches(docker, caches_for(["docker.io"]))
    assert problems == [f"cannot get {REGISTRY_IMAGE}: dial tcp: lookup registry-1.docker.io: no such host"]
    assert docker.containers == {}


def test_nodes_get_one_hosts_toml_per_registry() -> None:
    docker = FakeDocker()
    configure_nodes(docker, ["platform-control-plane"], caches_for(["docker.io", "ghcr.io"]))
    assert [c for c, _ in docker.execs] == ["platform-control-plane"] * 2
    script = docker.execs[0][1][2]
    assert "mkdir -p '/etc/containerd/certs.d/docker.io'" in script
    assert "> '/etc/containerd/certs.d/docker.io/hosts.toml'" in script
    assert 'server = "https://registry-1.docker.io"' in script


def test_the_node_script_writes_a_valid_hosts_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the exact shell line the node gets (with the directory moved under tmp_path)."""
    import subprocess

    from platformctl.usecases import registry_cache

    monkeypatch.setattr(registry_cache, "HOSTS_DIR", str(tmp_path / "certs.d"))

    class ShellDocker(FakeDocker):
        def exec(self, container: str, cmd: list[str]) -> tuple[int, str]:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            return proc.returncode, proc.stdout + proc.stderr

    caches = caches_for(["docker.io", "127.0.0.1:5000"])
    configure_nodes(ShellDocker(), ["node"], caches)
    for cache in caches:
        written = (tmp_path / "certs.d" / cache.upstream / "hosts.toml").read_text()
        assert written == cache.hosts_toml()
        assert tomllib.loads(written)["server"] == cache.remote_url
