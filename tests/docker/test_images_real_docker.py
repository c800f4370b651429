"""Images with the real Docker daemon (no internet: every image is built here FROM scratch).

* ``bundle DIR --images``: the source is a local registry — Debian's ``docker-registry`` (the same
  registry program as the registry image) run as a process on 127.0.0.1 — into which test images are
  pushed by the real Docker; the bundle copies them through the registry API keeping the digests
  ``docker push`` reported, records every blob's sha256, and ``--verify`` catches tampering. A
  bundled image loads into Docker (how ``up`` starts the bundle registry offline) under its ID.
* pre-pull during ``up`` on kind: the fake ``kind`` names a node container that really runs (busybox
  FROM scratch with a fake ``crictl`` that logs each pull's start and end); pulls go through the
  Docker Engine API's exec, as with a real kind node.

Every missing prerequisite (daemon, docker CLI, docker-registry, static busybox) skips with the reason.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platformctl.plan.lock import load_lock
from platformctl.plan.spec import COMPONENTS, PlatformSpec
from platformctl.reporting import RecordingReporter
from platformctl.usecases import render as render_mod
from platformctl.usecases.render import SourceOptions
from platformctl.usecases.up import UpOptions, up
from tests.fakeapi import FakeApiServer
from tests.support.cli_main import run_main
from tests.support.docker_env import DockerDaemon, static_busybox
from tests.support.docker_registry import docker_registry

FAKE_KIND = Path(__file__).resolve().parents[1] / "fakebin" / "kind"
REGISTRY = "/usr/bin/docker-registry"
INFRA_IMAGES = ("redis:7.2.5", "postgres:16.0", "apache/kafka:3.8.0")  # components/workloads.py


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _docker(daemon: DockerDaemon, *args: str, check: bool = True, timeout: float = 120) -> str:
    proc = subprocess.run([daemon.cli, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def _busybox_context(tmp: Path, dockerfile: str, extra: dict[str, str] | None = None) -> Path:
    busybox = static_busybox()
    if isinstance(busybox, str):
        pytest.skip(busybox)
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(busybox, tmp / "busybox")
    (tmp / "Dockerfile").write_text(dockerfile)
    for name, text in (extra or {}).items():
        (tmp / name).write_text(text)
        (tmp / name).chmod(0o755)
    return tmp


@pytest.fixture
def local_registry(tmp_path: Path) -> Iterator[str]:
    """``docker-registry serve`` on 127.0.0.1:<free port> with storage in tmp_path; yields host:port."""
    with docker_registry(tmp_path / "registry-data") as address:
        yield address


def test_bundle_images_from_a_local_registry_then_verify_and_tamper(
    docker_daemon: DockerDaemon, local_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = Path(__import__("os").environ.get("PLATFORMCTL_UPSTREAM_DIR", ""))
    if not (upstream / "LOCK.yaml").is_file():
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    # Three images in the local registry standing in for infra's (no upstream registry is reachable),
    # pushed by the real Docker: the bundle must keep the digests `docker push` reported.
    ctx = _busybox_context(
        tmp_path / "ctx", "FROM scratch\nCOPY busybox /bin/busybox\nARG WHICH\nLABEL which=$WHICH\n"
    )
    local = {
        img: f"{local_registry}/pctl-test/{img.split(':')[0].split('/')[-1]}:{img.split(':')[1]}"
        for img in INFRA_IMAGES
    }
    pushed: dict[str, str] = {}
    for src, ref in local.items():
        _docker(docker_daemon, "build", "-q", "--build-arg", f"WHICH={src}", "-t", ref, str(ctx))
        _docker(docker_daemon, "push", ref)
        pushed[ref] = _docker(docker_daemon, "inspect", "--format", "{{index .RepoDigests 0}}", ref).strip()
        _docker(docker_daemon, "rmi", ref)
    real = render_mod.render_objects

    def to_local_registry(name: str, rctx: Any, plan: Any) -> tuple[str, list[dict[str, Any]]]:
        version, objects = real(name, rctx, plan)
        text = json.dumps(objects)
        for src, ref in local.items():
            text = text.replace(f'"image": "{src}"', f'"image": "{ref}"')
        return version, json.loads(text)

    monkeypatch.setattr(render_mod, "render_objects", to_local_registry)
    cfg = tmp_path / "platform.yaml"
    # provider existing: kind would add the registry and node images, which only Docker Hub serves
    cfg.write_text(
        json.dumps(
            {
                "cluster": {"provider": "existing"},
                "domain": "apps.example.test",
                "components": {n: {"enabled": n == "infra"} for n in COMPONENTS},
            }
        )
    )
    bundle = tmp_path / "bundle"
    argv = ["-f", str(cfg), "bundle", str(bundle), "--images", "--manifests-dir", str(upstream)]
    ran = run_main([*argv, "--no-download", "-o", "json"])
    assert ran.exit_code == 0, ran.output
    manifest = json.loads((bundle / "images" / "manifest.json").read_text())
    assert manifest["schema"] == 2
    assert sorted(e["image"] for e in manifest["images"]) == sorted(local.values())
    for e in manifest["images"]:
        assert f"{e['image'].rsplit(':', 1)[0]}@{e['digest']}" == pushed[e["image"]]  # same digest
    sums = (bundle / "SHA256SUMS").read_text()
    blobs = {b["digest"] for e in manifest["images"] for b in e["blobs"]}
    for digest in blobs:
        hexd = digest.removeprefix("sha256:")
        assert f"{hexd}  ./images/blobs/sha256/{hexd}\n" in sums
    # sha256sum -c works without platformctl (manifests and blobs alike)
    check = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=bundle, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr

    verified = run_main(["bundle", str(bundle), "--verify", "-o", "json"])
    assert verified.exit_code == 0, verified.output
    assert {f["path"] for f in json.loads(verified.stdout)["files"] if f["component"] == "images"} == {
        f"images/blobs/sha256/{d.removeprefix('sha256:')}" for d in blobs
    }
    layer = manifest["images"][0]["blobs"][-1]["digest"].removeprefix("sha256:")
    victim = bundle / "images" / "blobs" / "sha256" / layer
    victim.write_bytes(victim.read_bytes()[:-1] + b"!")
    bad = run_main(["bundle", str(bundle), "--verify"])
    assert bad.exit_code == 3, bad.output
    assert f"images/blobs/sha256/{layer}: sha256-mismatch" in bad.stderr
    # A second `bundle --images` fetches the bad blob again and keeps the good ones.
    again = run_main([*argv, "--no-download", "-o", "json"])
    assert again.exit_code == 0, again.output
    assert hashlib.sha256(victim.read_bytes()).hexdigest() == layer
    statuses = {
        f["path"]: f["status"] for f in json.loads(again.stdout)["files"] if f["component"] == "images"
    }
    assert statuses.pop(f"images/blobs/sha256/{layer}") == "added"
    assert set(statuses.values()) == {"ok"}


def test_a_bundled_image_loads_into_docker_under_its_config_digest(
    docker_daemon: DockerDaemon, local_registry: str, tmp_path: Path
) -> None:
    """How ``up`` gets the registry image into Docker offline: a ``docker save``-format archive built
    from the bundle's blobs, loaded through the Engine API; the image ID is the config digest."""
    from platformctl.drivers.docker import EngineClient
    from platformctl.drivers.registry import RegistryClient
    from platformctl.usecases.bundle_images import read_manifest, save_images
    from platformctl.usecases.bundle_registry import LOCAL_TAG, docker_archive

    run = uuid.uuid4().hex[:8]  # a label of its own: an image ID no other image has
    ctx = _busybox_context(tmp_path / "ctx", f"FROM scratch\nCOPY busybox /bin/busybox\nLABEL run={run}\n")
    ref = f"{local_registry}/pctl-test/load:{run}"
    _docker(docker_daemon, "build", "-q", "-t", ref, str(ctx))
    _docker(docker_daemon, "push", ref)
    built_id = _docker(docker_daemon, "inspect", "--format", "{{.Id}}", ref).strip()
    _docker(docker_daemon, "rmi", ref)
    bundle = tmp_path / "bundle"
    with RegistryClient() as client:
        assert all(r.good for r in save_images(bundle, [ref], client))
    entry = (read_manifest(bundle) or {})[ref]
    archive = tmp_path / "registry.tar"
    image_id = docker_archive(bundle, entry, archive)
    assert image_id == built_id
    engine = EngineClient()
    try:
        assert not engine.image_present(image_id)
        engine.load_image(archive)
        assert engine.image_present(image_id)
        out = _docker(docker_daemon, "run", "--rm", image_id, "/bin/busybox", "echo", "loaded")
        assert out.strip() == "loaded"
    finally:
        _docker(docker_daemon, "rmi", "-f", LOCAL_TAG, check=False)
        _docker(docker_daemon, "rmi", "-f", image_id, check=False)


FAKE_CRICTL = """#!/bin/busybox sh
# Fake crictl: `pull` logs start/end (seconds since boot, /proc/uptime) and takes 0.4 s;
# images whose name contains "cainjector" fail like an unknown manifest; `inspecti` reports a size.
case "$1" in
pull)
  read up rest < /proc/uptime; echo "start $2 $up" >> /pulls.log
  /bin/busybox sleep 0.4
  read up rest < /proc/uptime; echo "end $2 $up" >> /pulls.log
  case "$2" in *cainjector*)
    echo "E1206 pulling image: rpc error: code = NotFound desc = $2: not found" >&2; exit 1;;
  esac
  echo "Image is up to date for sha256:0000"
  ;;
inspecti) echo '{"status": {"size": "1000000"}}' ;;
*) exit 2 ;;
esac
"""


@pytest.fixture
def fake_node(docker_daemon: DockerDaemon, tmp_path: Path) -> Iterator[str]:
    """A running container posing as kind's node: busybox + the fake crictl, FROM scratch."""
    ctx = _busybox_context(
        tmp_path / "node",
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY crictl /usr/local/bin/crictl\n"
        'ENTRYPOINT ["/bin/busybox", "sleep", "600"]\n',
        {"crictl": FAKE_CRICTL},
    )
    tag = f"platformctl-test-node:{uuid.uuid4().hex[:8]}"
    name = f"pctl-test-{uuid.uuid4().hex[:8]}-control-plane"
    _docker(docker_daemon, "build", "-q", "-t", tag, str(ctx))
    try:
        _docker(docker_daemon, "run", "-d", "--name", name, tag)
        yield name
    finally:
        _docker(docker_daemon, "rm", "-f", name, check=False)
        _docker(docker_daemon, "rmi", tag, check=False)


def _uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


def test_prepull_starts_at_once_bounded_and_survives_a_failed_pull(
    docker_daemon: DockerDaemon, fake_node: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream = Path(__import__("os").environ.get("PLATFORMCTL_UPSTREAM_DIR", ""))
    if not (upstream / "LOCK.yaml").is_file():
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    spec = PlatformSpec.model_validate(
        {"components": {n: {"enabled": n in ("cert-manager", "infra")} for n in COMPONENTS}}
    )
    # Workloads take a while to become ready, as on a cold node.
    with FakeApiServer(latency={"Deployment": 3.0, "StatefulSet": 3.0, "Job": 3.0}) as fake:
        kc = tmp_path / "fake-kind-kubeconfig"
        kc.write_text(fake.kubeconfig_text(context="kind-platform"))
        monkeypatch.setenv("PLATFORMCTL_KIND", str(FAKE_KIND))
        monkeypatch.setenv("FAKE_KIND_STATE", str(tmp_path / "kind"))
        monkeypatch.setenv("FAKE_KIND_KUBECONFIG", str(kc))
        monkeypatch.setenv("FAKE_KIND_NODE", fake_node)
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
        monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kube" / "config"))
        offset = _uptime() - time.monotonic()
        rec = RecordingReporter()
        sources = SourceOptions(manifests_dir=upstream, allow_download=False)
        res = up(spec, UpOptions(sources=sources, timeout=120, prepull_concurrency=2), reporter=rec)
    assert res.run is not None and res.run.ok
    report = res.prepull
    assert report is not None and report.total == 6  # cert-manager's 3 and infra's 3 images
    log = _docker(docker_daemon, "exec", fake_node, "/bin/busybox", "cat", "/pulls.log").split("\n")
    spans: dict[str, list[float]] = {}
    for line in filter(None, log):
        _, image, at = line.split()
        spans.setdefault(image, []).append(float(at))
    # Every pull attempted is in the node's log; pulls not started when the DAG finished are left to
    # the kubelet (cancelled) and counted as such in the summary.
    assert set(spans) == {r.image for r in report.results}
    if report.done < report.total:
        assert f"{report.total - report.done} not attempted" in report.summary()
    # Pulls started before the first component finished...
    first_finish = min(r.finished or 0 for r in res.run.runs.values()) + offset
    assert min(s[0] for s in spans.values()) < first_finish
    # ...and never more than 2 at a time (interval overlap over the node's own clock).
    events = sorted([(s[0], 1) for s in spans.values()] + [(s[1], -1) for s in spans.values()])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert 1 <= peak <= 2 and report.max_concurrent <= 2
    # The failed pull is reported with the image and crictl's error; up went on.
    failed = {r.image: r.error for r in report.failed}
    cm_version = load_lock().release("cert-manager")[0]  # the default version set's cert-manager
    assert list(failed) == [f"quay.io/jetstack/cert-manager-cainjector:{cm_version}"]
    assert "not found" in next(iter(failed.values()))
    assert report.bytes == (report.done - 1) * 1_000_000
    logs = [e.message for e in rec.events if e.kind == "log" and e.step == "images"]
    assert any("cert-manager-cainjector" in m and "failed" in m for m in logs)


def _serve(cfg: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import os

    proc = subprocess.Popen(
        [REGISTRY, "serve", str(cfg)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                return proc
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.terminate()
            pytest.fail(f"docker-registry did not answer on 127.0.0.1:{port}")
        time.sleep(0.2)


def test_cache_registry_config_serves_an_upstream_image_through_the_mirror(
    docker_daemon: DockerDaemon, local_registry: str, tmp_path: Path
) -> None:
    """The cache's own configuration (CacheRegistry.env(), the same REGISTRY_* variables the container
    gets) run by the same registry program as a process, in front of a local upstream registry into
    which an image was pushed; the pull is resolved as containerd would with the hosts.toml we write."""
    import tomllib

    from platformctl.usecases.registry_cache import CacheRegistry, _expvar_hits

    ctx = _busybox_context(tmp_path / "ctx", "FROM scratch\nCOPY busybox /bin/busybox\n")
    ref = f"{local_registry}/pctl-test/mirrored:1"
    _docker(docker_daemon, "build", "-q", "-t", ref, str(ctx))
    try:
        _docker(docker_daemon, "push", ref)
    finally:
        _docker(docker_daemon, "rmi", ref, check=False)
    cache = CacheRegistry(local_registry)
    port, debug = _free_port(), _free_port()
    base = tmp_path / "cache.yml"
    base.write_text(
        "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: :5000\n"
    )
    env = {
        **cache.env(),  # exactly what the cache container gets
        # where the process listens and stores, instead of the container's :5000 and /var/lib/registry
        "REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}",
        "REGISTRY_HTTP_DEBUG_ADDR": f"127.0.0.1:{debug}",
        "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp_path / "cache-data"),
    }
    proc = _serve(base, env, port)
    try:
        hosts = tomllib.loads(cache.hosts_toml())
        assert hosts["server"] == f"http://{local_registry}"
        [mirror] = list(hosts["host"])
        assert "resolve" in hosts["host"][mirror]["capabilities"]
        # On the kind network the mirror's name resolves to the container; here it is this process.
        endpoint = mirror.replace(f"{cache.name}:5000", f"127.0.0.1:{port}")
        accept = (
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
        )
        req = urllib.request.Request(
            f"{endpoint}/v2/pctl-test/mirrored/manifests/1", headers={"Accept": accept}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            manifest = json.loads(resp.read())
            mirrored_digest = resp.headers["Docker-Content-Digest"]
        up_req = urllib.request.Request(
            f"http://{local_registry}/v2/pctl-test/mirrored/manifests/1", headers={"Accept": accept}
        )
        with urllib.request.urlopen(up_req, timeout=10) as resp:
            assert resp.headers["Docker-Content-Digest"] == mirrored_digest  # the same image
        layer = manifest["layers"][0]["digest"]
        for _ in range(2):  # first a miss (fetched from upstream), then a hit (served from the cache)
            with urllib.request.urlopen(
                f"{endpoint}/v2/pctl-test/mirrored/blobs/{layer}", timeout=10
            ) as resp:
                assert hashlib.sha256(resp.read()).hexdigest() == layer.split(":", 1)[1]

        class ProcessAsContainer:
            def exec(self, container: str, cmd: list[str]) -> tuple[int, str]:
                with urllib.request.urlopen(f"http://127.0.0.1:{debug}/debug/vars", timeout=5) as r:
                    return 0, r.read().decode()

        hits, misses = _expvar_hits(ProcessAsContainer(), cache.name)  # type: ignore[arg-type]
        assert hits is not None and misses is not None and hits >= 1 and misses >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cache_status_reads_docker_and_rm_asks_first(docker_daemon: DockerDaemon) -> None:
    """Read-only against the real daemon (this test never removes anything)."""
    ran = run_main(["cache", "status", "-o", "json"])
    assert ran.exit_code == 0, ran.output
    data = json.loads(ran.stdout)
    assert set(data) == {"caches", "errors"}
    assert all(c["container"].startswith("platformctl-cache-") for c in data["caches"])
    unanswered = run_main(["cache", "rm"])  # the question gets no answer: aborted, nothing removed
    assert unanswered.exit_code == 130 and "aborted: nothing was changed" in unanswered.stderr


def test_bundle_registry_container_starts_from_the_bundle_on_a_loopback_port(
    docker_daemon: DockerDaemon, local_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``up``'s Docker side of the bundle registry with the real daemon: the registry image comes from
    the bundle (a stand-in built here: busybox httpd answering ``GET /v2/`` on :5000, since the pinned
    registry image cannot be fetched offline), the container is created with the loopback-only port,
    answers there, is reused by a second start, and ``cache rm`` removes it with its volume."""
    from platformctl.drivers.docker import EngineClient
    from platformctl.drivers.registry import RegistryClient
    from platformctl.usecases import bundle_registry as br
    from platformctl.usecases import registry_cache
    from platformctl.usecases.bundle_images import read_manifest, save_images

    run = uuid.uuid4().hex[:8]
    ctx = _busybox_context(
        tmp_path / "ctx",
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY v2 /www/v2/index.html\n"
        f"LABEL run={run}\n"
        'ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "5000", "-h", "/www"]\n',
        {"v2": "{}\n"},
    )
    ref = f"{local_registry}/pctl-test/registry:{run}"
    _docker(docker_daemon, "build", "-q", "-t", ref, str(ctx))
    _docker(docker_daemon, "push", ref)
    _docker(docker_daemon, "rmi", ref)
    bundle = tmp_path / "bundle"
    with RegistryClient() as client:
        assert all(r.good for r in save_images(bundle, [ref], client))
    entry = (read_manifest(bundle) or {})[ref]
    name = f"pctl-test-bundle-{run}"
    monkeypatch.setattr(br, "NAME", name)
    monkeypatch.setattr(br, "VOLUME", name)
    engine = EngineClient()
    image_id = ""
    try:
        address = br.start_registry(engine, bundle, entry)
        image_id = br.docker_archive(bundle, entry, tmp_path / "again.tar")
        assert address.startswith("127.0.0.1:")
        with RegistryClient() as client:
            client.wait_ready(address, timeout=30)
        inspect = json.loads(_docker(docker_daemon, "inspect", name))[0]
        assert inspect["Image"] == image_id
        assert inspect["HostConfig"]["PortBindings"]["5000/tcp"][0]["HostIp"] == "127.0.0.1"
        assert br.start_registry(engine, bundle, entry) == address  # running: reused, same port
        assert name in registry_cache.remove(engine, ["bundle"])  # only the bundle registry
        assert not engine.container_exists(name)
    finally:
        _docker(docker_daemon, "rm", "-f", name, check=False)
        _docker(docker_daemon, "volume", "rm", "-f", name, check=False)
        _docker(docker_daemon, "rmi", "-f", br.LOCAL_TAG, check=False)
        if image_id:
            _docker(docker_daemon, "rmi", "-f", image_id, check=False)


def _registry_program_context(tmp: Path, run: str) -> Path:
    """A registry image built FROM scratch around Debian's docker-registry (distribution 2.8, the same
    program the pinned registry image runs) and the C library it links, laid out as the registry image
    is (distribution/distribution-library-image Dockerfile.noarch: /bin/registry, the config at
    /etc/docker/registry/config.yml, storage in /var/lib/registry, port 5000; `registry serve`)."""
    libs = [Path("/lib/x86_64-linux-gnu/libc.so.6"), Path("/lib64/ld-linux-x86-64.so.2")]
    if not Path(REGISTRY).is_file() or not all(p.exists() for p in libs):
        pytest.skip("needs Debian's docker-registry and an x86-64 glibc to build the registry image")
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(REGISTRY, tmp / "registry")
    shutil.copy(libs[0].resolve(), tmp / "libc.so.6")
    shutil.copy(libs[1].resolve(), tmp / "ld-linux-x86-64.so.2")
    (tmp / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n"
        "http:\n  addr: :5000\n"
    )
    (tmp / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY registry /bin/registry\n"
        "COPY libc.so.6 /lib/x86_64-linux-gnu/libc.so.6\n"
        "COPY ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2\n"
        "COPY config.yml /etc/docker/registry/config.yml\n"
        f"LABEL run={run}\n"
        'ENTRYPOINT ["/bin/registry"]\n'
        'CMD ["serve", "/etc/docker/registry/config.yml"]\n'
    )
    return tmp


def test_the_bundle_registry_container_serves_the_pushed_bundle_by_digest(
    docker_daemon: DockerDaemon, local_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole Docker side of an air-gapped ``up`` with a real registry program in the container:
    the registry image and an application image come from the bundle; the container runs with
    platformctl's configuration (its environment, volume and loopback port), ``push_bundle`` pushes the
    application image into it, and it serves the bundled manifest bytes under the upstream's prefix
    (the digest the Kubernetes manifests pin)."""
    from platformctl.drivers.docker import EngineClient
    from platformctl.drivers.registry import RegistryClient, parse_reference
    from platformctl.usecases import bundle_registry as br
    from platformctl.usecases.bundle_images import read_manifest, save_images

    run = uuid.uuid4().hex[:8]
    registry_ref = f"{local_registry}/pctl-test/registry:{run}"
    _docker(
        docker_daemon, "build", "-q", "-t", registry_ref, str(_registry_program_context(tmp_path / "r", run))
    )
    app = _busybox_context(tmp_path / "app", f"FROM scratch\nCOPY busybox /bin/busybox\nLABEL run={run}\n")
    app_ref = f"{local_registry}/pctl-test/app:{run}"
    _docker(docker_daemon, "build", "-q", "-t", app_ref, str(app))
    for ref in (registry_ref, app_ref):
        _docker(docker_daemon, "push", ref)
        _docker(docker_daemon, "rmi", ref)
    bundle = tmp_path / "bundle"
    with RegistryClient() as client:
        assert all(r.good for r in save_images(bundle, [registry_ref, app_ref], client))
    entries = read_manifest(bundle) or {}
    name = f"pctl-test-bundle-{run}"
    monkeypatch.setattr(br, "NAME", name)
    monkeypatch.setattr(br, "VOLUME", name)
    engine = EngineClient()
    image_id = ""
    try:
        address = br.start_registry(engine, bundle, entries[registry_ref])
        image_id = br.docker_archive(bundle, entries[registry_ref], tmp_path / "again.tar")
        with RegistryClient() as client:
            client.wait_ready(address, timeout=30)
            uploaded = br.push_bundle(bundle, [entries[app_ref]], client, address)
            assert uploaded >= 2  # the config and the layer
            served = client.manifest(parse_reference(f"{address}/{br.target_repository(app_ref)}:{run}"))
            assert served.digest == entries[app_ref].digest
            # A second push finds every blob there already.
            assert br.push_bundle(bundle, [entries[app_ref]], client, address) == 0
    finally:
        _docker(docker_daemon, "rm", "-f", name, check=False)
        _docker(docker_daemon, "volume", "rm", "-f", name, check=False)
        _docker(docker_daemon, "rmi", "-f", br.LOCAL_TAG, check=False)
        if image_id:
            _docker(docker_daemon, "rmi", "-f", image_id, check=False)
