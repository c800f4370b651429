"""``up --manifests-dir DIR`` with images (``bundle --images``): fake kind, fake API server, and a real
registry on loopback (Debian's ``docker-registry``) standing in for the bundle registry container.

The bundle carries the infra component's images (what ``platformctl images`` derives for a spec with
only infra enabled) as an OCI layout written here, and the registry image. The pinned registry image
(registry_cache.REGISTRY_IMAGE) cannot be fetched offline, so the test names its own: only the
reference differs. Docker is a recording double of drivers/docker.py EngineClient (``up_images._engine``)
whose published port is the loopback registry: ``up`` loads the registry image, creates and starts the
container, pushes every image into it for real (the registry must then serve the bundled digests),
and writes a hosts.toml into the kind node — all checked here, with the order against kind's calls.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platformctl.drivers.registry import OCI_MANIFEST, RegistryClient, parse_reference
from platformctl.errors import IntegrityError, SourceError
from platformctl.plan.spec import COMPONENTS, PlatformSpec
from platformctl.reporting import RecordingReporter
from platformctl.usecases import registry_cache, up_images
from platformctl.usecases.bundle_images import (
    BlobRef,
    BundledImage,
    blob_path,
    host_platforms,
    write_manifest,
)
from platformctl.usecases.render import SourceOptions
from platformctl.usecases.up import UpOptions, up
from tests.fakeapi import FakeApiServer
from tests.support.cli_main import run_main
from tests.support.docker_registry import docker_registry, layer
from tests.support.fake_kind import FAKE_KIND, use_fake_kind

INFRA_IMAGES = ("redis:7.2.5", "postgres:16.0", "apache/kafka:3.8.0")  # workloads.py INFRA_IMAGES
TEST_REGISTRY_IMAGE = "registry:bundle-test"
SPEC = PlatformSpec.model_validate({"components": {n: {"enabled": n == "infra"} for n in COMPONENTS}})


@pytest.fixture
def kind_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_api: FakeApiServer) -> Iterator[Path]:
    state = use_fake_kind(tmp_path, monkeypatch, fake_api)
    monkeypatch.setattr(registry_cache, "REGISTRY_IMAGE", TEST_REGISTRY_IMAGE)
    yield state


def calls(state: Path) -> list[list[str]]:
    path = state / "calls.jsonl"
    return [json.loads(line)["argv"] for line in path.read_text().splitlines()] if path.exists() else []


def _blob(bundle: Path, data: bytes) -> BlobRef:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = bundle / blob_path(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return BlobRef(digest, len(data))


def make_bundle(
    directory: Path, images: tuple[str, ...] = (*INFRA_IMAGES, TEST_REGISTRY_IMAGE)
) -> dict[str, str]:
    """An OCI layout with one single-platform image per reference; image → manifest digest."""
    os_, arch = host_platforms()[0]
    entries, out = [], {}
    for image in images:
        tar_gz = layer(f"content of {image}".encode())
        diff = "sha256:" + hashlib.sha256(gzip.decompress(tar_gz)).hexdigest()
        config = _blob(
            directory,
            json.dumps(
                {"architecture": arch, "os": os_, "rootfs": {"type": "layers", "diff_ids": [diff]}}
            ).encode(),
        )
        lay = _blob(directory, tar_gz)
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config.digest,
                    "size": config.size,
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": lay.digest,
                        "size": lay.size,
                    }
                ],
            }
        ).encode()
        top = _blob(directory, body)
        entries.append(BundledImage(image, top.digest, OCI_MANIFEST, top.size, (top, config, lay)))
        out[image] = top.digest
    write_manifest(directory, entries)
    return out


class RecordingEngine:
    """drivers/docker.py EngineClient's calls the bundle registry makes, recorded; port → a real registry."""

    def __init__(self, port: int, kind_state: Path) -> None:
        self.port = port
        self.kind_state = kind_state
        self.calls: list[tuple[Any, ...]] = []
        self.loaded: list[dict[str, Any]] = []
        self.cluster_existed_at_start: bool | None = None

    def containers_labelled(self, label: str) -> list[dict[str, Any]]:
        return []

    def image_present(self, image: str) -> bool:
        self.calls.append(("image_present", image))
        return False

    def pull(self, image: str) -> None:
        self.calls.append(("pull", image))

    def load_image(self, archive: Path) -> None:
        with tarfile.open(archive) as tar:
            member = tar.extractfile("manifest.json")
            assert member is not None
            self.loaded = json.load(io.TextIOWrapper(member))
            names = set(tar.getnames())
        for entry in self.loaded:
            assert entry["Config"] in names and all(layer in names for layer in entry["Layers"])
        self.calls.append(("load_image",))

    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        self.calls.append(("create_volume", name))

    def create_container(self, name: str, config: dict[str, Any]) -> str:
        self.calls.append(("create_container", name, config))
        return name

    def start_container(self, name: str) -> None:
        self.cluster_existed_at_start = any(a[:2] == ["create", "cluster"] for a in calls(self.kind_state))
        self.calls.append(("start_container", name))

    def published_port(self, name: str, port: str) -> int | None:
        return self.port

    def connect_network(self, network: str, container: str) -> None:
        self.calls.append(("connect_network", network, container))

    def exec(self, container: str, cmd: list[str]) -> tuple[int, str]:
        self.calls.append(("exec", container, cmd))
        return 0, ""


def options(bundle: Path) -> UpOptions:
    return UpOptions(sources=SourceOptions(manifests_dir=bundle, allow_download=False), timeout=60)


def test_up_serves_the_bundle_from_a_local_registry_before_the_cluster_exists(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle"
    digests = make_bundle(bundle)
    with docker_registry(tmp_path / "bundle-registry") as address:
        engine = RecordingEngine(int(address.rsplit(":", 1)[1]), kind_env)
        monkeypatch.setattr(up_images, "_engine", lambda: engine)
        rec = RecordingReporter()
        res = up(SPEC, options(bundle), reporter=rec)
        assert res.run is not None
        assert res.run.ok, {n: r.reason for n, r in res.run.runs.items()}
        # The registry served every image under its upstream's prefix, with the bundled digest.
        with RegistryClient() as client:
            for image in INFRA_IMAGES:
                ref = parse_reference(image)
                served = client.manifest(
                    parse_reference(f"{address}/{ref.registry}/{ref.repository}:{ref.tag}")
                )
                assert served.digest == digests[image], image
    # Registry image loaded from the bundle and run before kind created anything.
    kinds = [c[0] for c in engine.calls]
    assert kinds[:4] == ["image_present", "load_image", "create_volume", "create_container"]
    assert engine.cluster_existed_at_start is False
    config = engine.loaded[0]["Config"]
    created = next(c for c in engine.calls if c[0] == "create_container")
    assert created[1] == "platformctl-bundle-registry"
    assert created[2]["Image"] == "sha256:" + config.rsplit("/", 1)[1]  # by ID: the loaded config digest
    assert "REGISTRY_VALIDATION_MANIFESTS_INDEXES_PLATFORMS=none" in created[2]["Env"]
    binding = created[2]["HostConfig"]["PortBindings"]["5000/tcp"]
    assert binding == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    # Then, once the node exists: kind network, and hosts.toml for docker.io in the node.
    assert ("connect_network", "kind", "platformctl-bundle-registry") in engine.calls
    execs = [c for c in engine.calls if c[0] == "exec"]
    assert [c[1] for c in execs] == ["platform-control-plane"]
    script = execs[0][2][2]
    assert "/etc/containerd/certs.d/docker.io" in script
    assert '[host."http://platformctl-bundle-registry:5000/v2/docker.io"]' in script
    assert "override_path = true" in script
    create = next(
        json.loads(line) for line in (kind_env / "calls.jsonl").read_text().splitlines() if "create" in line
    )
    assert "config_path" in (create.get("config") or "")  # containerd reads the hosts.toml directory
    events = [(e.kind, e.step) for e in rec.events]
    assert events.index(("finish", "bundle registry")) < events.index(("start", "infra"))
    assert res.prepull is None
    assert not any(a[:2] == ["load", "image-archive"] for a in calls(kind_env))
    # The node image is not in this bundle and (recording Docker) not in Docker: said before kind runs.
    warning = next(e.message for e in rec.events if "kind node image" in e.message)
    assert "Docker lacks the kind node image kindest/node:" in warning and "does not carry it" in warning


def test_a_bundled_node_image_is_pulled_from_the_bundle_registry_and_kind_creates_the_node_from_it(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platformctl.drivers.kind import default_state_dir
    from platformctl.providers.ownership import RecordStore

    node = "kindest/node:v1.0.0-test"
    spec = PlatformSpec.model_validate(
        {"cluster": {"node_image": node}, "components": {n: {"enabled": n == "infra"} for n in COMPONENTS}}
    )
    bundle = tmp_path / "bundle"
    digests = make_bundle(bundle, images=(*INFRA_IMAGES, TEST_REGISTRY_IMAGE, node))
    with docker_registry(tmp_path / "bundle-registry") as address:
        engine = RecordingEngine(int(address.rsplit(":", 1)[1]), kind_env)
        monkeypatch.setattr(up_images, "_engine", lambda: engine)
        rec = RecordingReporter()
        res = up(spec, options(bundle), reporter=rec)
        assert res.run is not None and res.run.ok
        served_as = f"{address}/docker.io/kindest/node:v1.0.0-test"
        with RegistryClient() as client:
            got = client.manifest(parse_reference(served_as))
        assert got.digest == digests[node]  # the bundle registry serves the pinned bytes
    # Docker pulled it from there before kind ran, and kind created the node from that name ...
    assert ("pull", served_as) in engine.calls
    create = next(
        json.loads(line) for line in (kind_env / "calls.jsonl").read_text().splitlines() if "create" in line
    )
    assert f"image: {served_as}" in (create.get("config") or "")
    finished = next(e.message for e in rec.events if e.step == "node image" and e.kind == "finish")
    assert served_as in finished
    # ... while the recorded config keeps the pinned reference: a later online `up` reuses the cluster.
    record = RecordStore(default_state_dir()).get("platform")
    assert record is not None and record.settings["node_image"] == node


def _cli_up(tmp_path: Path, bundle: Path) -> Any:
    cfg = tmp_path / "platform.yaml"
    cfg.write_text(json.dumps({"components": {n: {"enabled": n == "infra"} for n in COMPONENTS}}))
    return run_main(["-f", str(cfg), "up", "--manifests-dir", str(bundle), "--no-download"])


class RefusingEngine(RecordingEngine):
    def __init__(self) -> None:
        super().__init__(0, Path("/nonexistent"))

    def image_present(self, image: str) -> bool:
        raise AssertionError("Docker must not be touched when the bundle is refused")


def test_missing_image_is_refused_with_its_name_before_anything_is_created(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(up_images, "_engine", RefusingEngine)
    bundle = tmp_path / "bundle"
    make_bundle(bundle, images=(*INFRA_IMAGES[:2], TEST_REGISTRY_IMAGE))  # no kafka
    with pytest.raises(SourceError) as info:
        up(SPEC, options(bundle))
    assert info.value.exit_code == 3
    assert "the bundle lacks image apache/kafka:3.8.0" in info.value.message
    # nothing was created, nor asked about: only preflight's `kind version` (which binary is in use) ran
    assert [a for a in calls(kind_env) if a != ["version"]] == []
    ran = _cli_up(tmp_path, bundle)
    assert ran.exit_code == 3, ran.output
    assert "the bundle lacks image apache/kafka:3.8.0" in ran.stderr and "Traceback" not in ran.output


def test_a_bundle_without_the_registry_image_is_refused(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(up_images, "_engine", RefusingEngine)
    bundle = tmp_path / "bundle"
    make_bundle(bundle, images=INFRA_IMAGES)
    with pytest.raises(SourceError, match=f"the bundle lacks image {TEST_REGISTRY_IMAGE}"):
        up(SPEC, options(bundle))
    assert [a for a in calls(kind_env) if a != ["version"]] == []


def test_tampered_blob_is_refused(kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up_images, "_engine", RefusingEngine)
    bundle = tmp_path / "bundle"
    digests = make_bundle(bundle)
    path = bundle / blob_path(digests["postgres:16.0"])
    path.write_bytes(path.read_bytes().replace(b"layers", b"LAYERS"))
    with pytest.raises(IntegrityError) as info:
        up(SPEC, options(bundle))
    assert info.value.exit_code == 3
    assert blob_path(digests["postgres:16.0"]) in info.value.message and "postgres:16.0" in info.value.message
    assert not any(a[:2] == ["create", "cluster"] for a in calls(kind_env))
    ran = _cli_up(tmp_path, bundle)
    assert ran.exit_code == 3, ran.output


def test_render_failure_only_skips_prepull_unless_the_bundle_carries_images(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platformctl.usecases import render as render_mod

    def broken(name: str, ctx: Any, plan: Any) -> tuple[str, list[dict[str, Any]]]:
        raise SourceError("redis chart: not reachable")

    monkeypatch.setattr(render_mod, "render_objects", broken)
    monkeypatch.setattr(up_images, "_engine", RefusingEngine)
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    with pytest.raises(SourceError, match="not reachable"):
        up(SPEC, options(bundle))  # the install depends on the bundle's images: stop before the cluster
    assert [a for a in calls(kind_env) if a != ["version"]] == []  # preflight's `kind version` only
    rec = RecordingReporter()
    res = up(
        SPEC,
        UpOptions(sources=SourceOptions(allow_download=False), timeout=30),
        reporter=rec,
    )
    assert any(e.step == "images" and e.message.startswith("pre-pull skipped: ") for e in rec.events)
    # up went on without the pre-pull (here the components' own render works: only the listing broke)
    assert res.run is not None and res.run.ok and res.prepull is None


def _bundle_tool(bundle: Path, tool: str, source: Path) -> Path:
    """``bundle --tools``'s layout: tools/<tool>/<pinned>/<os>-<arch>/<tool> and its digest beside it."""
    from platformctl.drivers.sources import sha256_file
    from platformctl.drivers.tools import platform_key
    from platformctl.plan.lock import load_lock

    d = bundle / "tools" / tool / load_lock().tools[tool].version / platform_key()
    d.mkdir(parents=True)
    (d / tool).write_bytes(source.read_bytes())
    (d / tool).chmod(0o755)
    (d / f"{tool}.sha256").write_text(sha256_file(d / tool) + "\n", encoding="utf-8")
    return d / tool


def test_up_uses_the_kind_binary_the_bundle_carries(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platformctl.drivers.tools import ToolResolver
    from platformctl.plan.lock import load_lock

    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    bundled = _bundle_tool(bundle, "kind", FAKE_KIND)
    # No kind anywhere but in the bundle: not $PLATFORMCTL_KIND, not on PATH, not in the cache.
    monkeypatch.delenv("PLATFORMCTL_KIND")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    cache = tmp_path / "cache"
    monkeypatch.setenv("PLATFORMCTL_CACHE_DIR", str(cache))
    with docker_registry(tmp_path / "bundle-registry") as address:
        engine = RecordingEngine(int(address.rsplit(":", 1)[1]), kind_env)
        monkeypatch.setattr(up_images, "_engine", lambda: engine)
        rec = RecordingReporter()
        res = up(SPEC, options(bundle), reporter=rec)
        assert res.run is not None and res.run.ok
    assert any(a[:2] == ["create", "cluster"] for a in calls(kind_env))  # the bundled kind ran
    resolver = ToolResolver(load_lock(), cache_dir=cache, env={"PATH": "/usr/bin:/bin"})
    assert resolver.cache_binary("kind").read_bytes() == bundled.read_bytes()
    assert resolver.detect("kind").source == "cache"
    assert any("kind v0.30.0 from the bundle" in e.message for e in rec.events)


def test_a_tampered_bundled_tool_is_refused_before_anything_runs(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(up_images, "_engine", RefusingEngine)
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    bundled = _bundle_tool(bundle, "kind", FAKE_KIND)
    bundled.write_bytes(bundled.read_bytes() + b"\n# changed\n")
    monkeypatch.setenv("PLATFORMCTL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(IntegrityError) as info:
        up(SPEC, options(bundle))
    assert info.value.exit_code == 3
    assert "tools/kind/" in info.value.message and "sha256" in info.value.message
    assert calls(kind_env) == []  # not even `kind version`
    assert not (tmp_path / "cache" / "tools").exists()


def test_up_and_its_dry_run_give_kind_the_same_registry_host_directory(tmp_path: Path) -> None:
    """``config_path`` is part of kind's config (its drift check): a bundle with images turns it on even
    with the caches off, for ``up`` and ``up --dry-run`` alike (both ask hosts_dir_enabled)."""
    no_cache = SPEC.model_copy(update={"cluster": SPEC.cluster.model_copy(update={"registry_cache": False})})
    bundle = tmp_path / "bundle"
    plain = SourceOptions(manifests_dir=bundle, allow_download=False)
    assert not up_images.hosts_dir_enabled(no_cache, plain)  # no images in the bundle
    make_bundle(bundle)
    assert up_images.hosts_dir_enabled(no_cache, plain)
    existing = PlatformSpec.model_validate({"cluster": {"provider": "existing"}, "domain": "example.com"})
    assert not up_images.hosts_dir_enabled(existing, plain)  # no nodes of ours to configure


def test_the_dry_run_finds_the_bundled_kind_as_up_does(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``up --dry-run --manifests-dir`` seeds the tool cache too, so it answers as ``up`` would on a
    machine whose only kind is the bundle's (and never starts the bundle registry)."""
    from platformctl.drivers.tools import ToolResolver
    from platformctl.plan.lock import load_lock

    monkeypatch.setattr(up_images, "_engine", RefusingEngine)
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    _bundle_tool(bundle, "kind", FAKE_KIND)
    monkeypatch.delenv("PLATFORMCTL_KIND")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    cache = tmp_path / "cache"
    monkeypatch.setenv("PLATFORMCTL_CACHE_DIR", str(cache))
    opts = UpOptions(sources=SourceOptions(manifests_dir=bundle, allow_download=False), dry_run=True)
    res = up(SPEC, opts)
    assert res.mode == "render-only" and "does not exist yet" in res.render_reason
    resolver = ToolResolver(load_lock(), cache_dir=cache, env={"PATH": "/usr/bin:/bin"})
    assert resolver.detect("kind").source == "cache"
    assert not any(a[:2] == ["create", "cluster"] for a in calls(kind_env))
