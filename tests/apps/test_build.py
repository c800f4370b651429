"""deploy-app --build: a real `docker build` (FROM scratch + a static busybox, nothing pulled) through the
Docker driver, a fake `kind` that records `load docker-image`, and the fake API server."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from platformctl.drivers.image_build import context_digest
from tests.apps.conftest import AppCluster
from tests.conftest import requires_fake
from tests.support.cli_main import Ran, run_main
from tests.support.docker_env import probe_daemon, static_busybox

FAKE_KIND = Path(__file__).resolve().parent.parent / "fakebin" / "kind"
DOCKERFILE = """FROM scratch
COPY busybox /bin/busybox
COPY www /www
EXPOSE 8080
ENTRYPOINT ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]
"""


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    d = tmp_path / "hello"
    (d / "www").mkdir(parents=True)
    (d / "Dockerfile").write_text(DOCKERFILE)
    (d / "www" / "index.html").write_text("hello v1\n")
    return d


@pytest.fixture
def kind_state(tmp_path: Path) -> Path:
    """The fake kind's state with a cluster "platform" (the spec's default cluster.name)."""
    state = tmp_path / "kind-state"
    state.mkdir()
    (state / "platform.json").write_text(json.dumps({"name": "platform"}))
    return state


@pytest.fixture
def docker_ready(app_dir: Path) -> Iterator[list[str]]:
    """A usable daemon and a static busybox in the build context; the images built are removed after."""
    daemon = probe_daemon()
    if isinstance(daemon, str):
        pytest.skip(daemon)
    busybox = static_busybox()
    if isinstance(busybox, str):
        pytest.skip(busybox)
    shutil.copy2(busybox, app_dir / "busybox")
    built: list[str] = []
    yield built
    for ref in built:
        subprocess.run([daemon.cli, "rmi", "-f", ref], capture_output=True, check=False)


def deploy(cluster: AppCluster, kind_state: Path, *args: str) -> Ran:
    env = {"PLATFORMCTL_KIND": str(FAKE_KIND), "FAKE_KIND_STATE": str(kind_state), "COLUMNS": "200"}
    return run_main([*cluster.args, "deploy-app", *args], env=env)


def kind_loads(kind_state: Path) -> list[list[str]]:
    calls = kind_state / "calls.jsonl"
    if not calls.exists():
        return []
    argvs = [json.loads(line)["argv"] for line in calls.read_text().splitlines()]
    return [a for a in argvs if a[:2] == ["load", "docker-image"]]


def test_build_load_deploy_and_a_change_makes_a_new_revision(
    app_cluster: AppCluster, app_dir: Path, kind_state: Path, docker_ready: list[str]
) -> None:
    requires_fake(app_cluster.target)
    tag1 = context_digest(app_dir)[:16]
    ref1 = f"kind.local/hello:{tag1}"
    docker_ready.append(ref1)
    ran = deploy(app_cluster, kind_state, "hello", "--build", str(app_dir), "--no-dapr", "-o", "json")
    assert ran.exit_code == 0, ran.output
    assert "COPY www /www" in ran.stderr  # build output shown as it comes
    assert kind_loads(kind_state) == [["load", "docker-image", ref1, "--name", "platform"]]
    ksvc = app_cluster.ksvc("hello")
    assert ksvc is not None
    assert ksvc["spec"]["template"]["spec"]["containers"][0]["image"] == ref1
    inspect = subprocess.run(
        ["docker", "image", "inspect", ref1], capture_output=True, text=True, check=False
    )
    assert inspect.returncode == 0, inspect.stderr  # the image really exists in the daemon
    rev1 = json.loads(ran.stdout)["latestRevision"]

    (app_dir / "www" / "index.html").write_text("hello v2\n")
    tag2 = context_digest(app_dir)[:16]
    assert tag2 != tag1
    ref2 = f"kind.local/hello:{tag2}"
    docker_ready.append(ref2)
    ran = deploy(
        app_cluster,
        kind_state,
        "hello",
        "--build",
        str(app_dir),
        "--no-dapr",
        "--traffic-percent",
        "10",
        "-o",
        "json",
    )
    assert ran.exit_code == 0, ran.output
    data = json.loads(ran.stdout)
    assert data["latestRevision"] != rev1
    assert {t["revisionName"]: t["percent"] for t in data["traffic"]} == {
        data["latestRevision"]: 10,
        rev1: 90,
    }
    assert kind_loads(kind_state)[-1] == ["load", "docker-image", ref2, "--name", "platform"]


def test_failed_build_exits_1_with_the_log_tail_and_applies_nothing(
    app_cluster: AppCluster, app_dir: Path, kind_state: Path, docker_ready: list[str]
) -> None:
    fake = requires_fake(app_cluster.target)
    (app_dir / "Dockerfile").write_text(DOCKERFILE.replace("COPY www /www", "COPY missing.txt /missing.txt"))
    docker_ready.append(f"kind.local/hello:{context_digest(app_dir)[:16]}")
    ran = deploy(app_cluster, kind_state, "hello", "--build", str(app_dir), "--no-dapr")
    assert ran.exit_code == 1, ran.output
    assert "docker build of" in ran.stderr and "failed" in ran.stderr
    assert "missing.txt" in ran.stderr  # the daemon's own words, from the last lines of the log
    assert "Traceback" not in ran.output
    assert kind_loads(kind_state) == []
    assert app_cluster.writes() == []
    assert not any(s["apiVersion"] == "serving.knative.dev/v1" for s in fake.objects(kind="Service"))


def test_dry_run_names_the_content_tag_without_building(
    app_cluster: AppCluster, app_dir: Path, kind_state: Path
) -> None:
    ran = deploy(app_cluster, kind_state, "hello", "--build", str(app_dir), "--no-dapr", "--dry-run")
    assert ran.exit_code == 0, ran.output
    assert f"image: kind.local/hello:{context_digest(app_dir)[:16]}" in ran.stdout
    assert kind_loads(kind_state) == []


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--build", "{missing}"], "--build"),
        (["--build", "{nodockerfile}"], "--build"),
        (["--build", "{dir}", "--image", "x/y:1"], "--image"),
        (["--push", "registry.example.com"], "--push"),
        (["--build", "{dir}", "--push", "Not A Registry"], "--push"),
        (
            ["--build", "{dir}", "--set", "cluster.provider=existing", "--set", "domain=apps.example.com"],
            "--push",
        ),
        (["--build", "{dir}", "--port", "0"], "--port"),
    ],
)
def test_bad_build_input_exits_2_and_does_nothing(
    untouched_cluster: AppCluster,
    tmp_path: Path,
    app_dir: Path,
    kind_state: Path,
    extra: list[str],
    flag: str,
) -> None:
    requires_fake(untouched_cluster.target)
    (tmp_path / "empty").mkdir()
    subst = {
        "{missing}": str(tmp_path / "nope"),
        "{nodockerfile}": str(tmp_path / "empty"),
        "{dir}": str(app_dir),
    }
    args = [subst.get(a, a) for a in extra]
    ran = deploy(untouched_cluster, kind_state, "hello", "--no-dapr", *args)
    assert ran.exit_code == 2, ran.output
    assert ran.stderr.startswith(f"error: {flag}"), ran.stderr
    assert untouched_cluster.writes() == [] and kind_loads(kind_state) == []


def test_content_digest_follows_content_not_time(tmp_path: Path, app_dir: Path) -> None:
    first = context_digest(app_dir)
    (app_dir / "www" / "index.html").touch()
    assert context_digest(app_dir) == first
    (app_dir / "www" / "new.txt").write_text("x")
    second = context_digest(app_dir)
    assert second != first
    (app_dir / "www" / "new.txt").chmod(0o755)
    assert context_digest(app_dir) != second


def test_push_deploys_by_the_digest_the_registry_answered(
    app_cluster: AppCluster, app_dir: Path, kind_state: Path, docker_ready: list[str]
) -> None:
    """An existing cluster: --build needs --push; the image goes to a registry (a loopback stand-in
    speaking the distribution API) and the Service runs it by digest."""
    from tests.support.registry import LocalRegistry

    requires_fake(app_cluster.target)
    with LocalRegistry() as registry:
        ref = f"{registry.address}/hello:{context_digest(app_dir)[:16]}"
        docker_ready.append(ref)
        existing = ["--set", "cluster.provider=existing", "--set", "domain=apps.example.com"]
        ran = deploy(
            app_cluster,
            kind_state,
            "hello",
            "--build",
            str(app_dir),
            "--push",
            registry.address,
            "--no-dapr",
            "--no-wait",
            *existing,
        )
        assert ran.exit_code == 0, ran.output
        tag = context_digest(app_dir)[:16]
        assert ("hello", tag) in registry.manifests, registry.requests
        body, _ = registry.manifests[("hello", tag)]
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        ksvc = app_cluster.ksvc("hello")
        assert ksvc is not None
        assert (
            ksvc["spec"]["template"]["spec"]["containers"][0]["image"] == f"{registry.address}/hello@{digest}"
        )
        assert kind_loads(kind_state) == []  # nothing loaded into kind
