"""``up --manifests-dir DIR`` with image archives (``bundle --images``): fake kind, fake API server.

The bundle here carries the archives of the infra component's images (what ``platformctl images``
derives for a spec with only infra enabled); their bytes are placeholders because the fake ``kind``
only records ``kind load image-archive`` (tests/docker/test_bundle_images.py saves real archives).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platformctl.errors import IntegrityError, SourceError
from platformctl.plan.spec import COMPONENTS, PlatformSpec
from platformctl.reporting import RecordingReporter
from platformctl.usecases.bundle_images import BundledImage, archive_name, write_manifest
from platformctl.usecases.render import SourceOptions
from platformctl.usecases.up import UpOptions, up
from tests.fakeapi import FakeApiServer
from tests.support.cli_main import run_main

FAKE_KIND = Path(__file__).resolve().parents[1] / "fakebin" / "kind"
INFRA_IMAGES = ("redis:7.2.5", "postgres:16.0", "apache/kafka:3.8.0")  # workloads.py INFRA_IMAGES
SPEC = PlatformSpec.model_validate({"components": {n: {"enabled": n == "infra"} for n in COMPONENTS}})


@pytest.fixture
def kind_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_api: FakeApiServer) -> Iterator[Path]:
    kc = tmp_path / "fake-kind-kubeconfig"
    kc.write_text(fake_api.kubeconfig_text(context="kind-platform"))
    state = tmp_path / "kind"
    monkeypatch.setenv("PLATFORMCTL_KIND", str(FAKE_KIND))
    monkeypatch.setenv("FAKE_KIND_STATE", str(state))
    monkeypatch.setenv("FAKE_KIND_KUBECONFIG", str(kc))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kube" / "config"))
    yield state


def make_bundle(directory: Path, images: tuple[str, ...] = INFRA_IMAGES) -> list[BundledImage]:
    import hashlib

    entries = []
    for image in images:
        archive = archive_name(image)
        path = directory / archive
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f"docker save archive of {image}\n".encode()
        path.write_bytes(data)
        entries.append(BundledImage(image, archive, hashlib.sha256(data).hexdigest(), len(data)))
    write_manifest(directory, entries)
    return entries


def calls(state: Path) -> list[list[str]]:
    path = state / "calls.jsonl"
    return [json.loads(line)["argv"] for line in path.read_text().splitlines()] if path.exists() else []


def options(bundle: Path) -> UpOptions:
    return UpOptions(sources=SourceOptions(manifests_dir=bundle, allow_download=False), timeout=60)


def test_up_loads_every_archive_after_the_cluster_exists_and_before_installing(
    kind_env: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    entries = make_bundle(bundle)
    rec = RecordingReporter()
    res = up(SPEC, options(bundle), reporter=rec)
    assert res.run is not None
    assert res.run.ok, {n: r.reason for n, r in res.run.runs.items()}
    argv = calls(kind_env)
    loads = [a for a in argv if a[:2] == ["load", "image-archive"]]
    assert sorted(a[2] for a in loads) == sorted(str(bundle / e.archive) for e in entries)
    assert all(a[3:] == ["--name", "platform"] for a in loads)
    first_load = argv.index(loads[0])
    assert argv.index(next(a for a in argv if a[:2] == ["create", "cluster"])) < first_load
    # Loaded before any component started; no pre-pull when the bundle carries the images.
    kinds = [(e.kind, e.step) for e in rec.events]
    assert kinds.index(("finish", "images")) < kinds.index(("start", "infra"))
    assert res.prepull is None
    progress = [e for e in rec.events if e.kind == "progress" and e.step == "images"]
    assert [(e.done, e.total) for e in progress] == [(1, 3), (2, 3), (3, 3)]


def _cli_up(tmp_path: Path, bundle: Path) -> Any:
    cfg = tmp_path / "platform.yaml"
    cfg.write_text(json.dumps({"components": {n: {"enabled": n == "infra"} for n in COMPONENTS}}))
    return run_main(["-f", str(cfg), "up", "--manifests-dir", str(bundle), "--no-download"])


def test_missing_image_is_refused_with_its_name_before_the_cluster_is_created(
    kind_env: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    make_bundle(bundle, images=INFRA_IMAGES[:2])  # no kafka
    with pytest.raises(SourceError) as info:
        up(SPEC, options(bundle))
    assert info.value.exit_code == 3
    assert "the bundle lacks image apache/kafka:3.8.0" in info.value.message
    assert calls(kind_env) == []  # nothing was created (not even asked)
    ran = _cli_up(tmp_path, bundle)
    assert ran.exit_code == 3, ran.output
    assert "the bundle lacks image apache/kafka:3.8.0" in ran.stderr and "Traceback" not in ran.output


def test_tampered_archive_is_refused(kind_env: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    entries = make_bundle(bundle)
    (bundle / entries[1].archive).write_bytes(b"tampered bytes of the same length.........")
    with pytest.raises(IntegrityError) as info:
        up(SPEC, options(bundle))
    assert info.value.exit_code == 3
    assert entries[1].archive in info.value.message and "postgres:16.0" in info.value.message
    assert not any(a[:2] == ["create", "cluster"] for a in calls(kind_env))
    ran = _cli_up(tmp_path, bundle)
    assert ran.exit_code == 3, ran.output


def test_failed_load_is_a_cluster_error(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    monkeypatch.setenv("FAKE_KIND_FAIL", "load")
    from platformctl.errors import ClusterError

    with pytest.raises(ClusterError, match=r"kind could not load .* into cluster 'platform'") as info:
        up(SPEC, options(bundle))
    assert any("image might be filtered out" in d for d in info.value.details)


def test_render_failure_only_skips_prepull_unless_the_bundle_carries_images(
    kind_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from platformctl.usecases import render as render_mod

    def broken(name: str, ctx: Any, plan: Any) -> tuple[str, list[dict[str, Any]]]:
        raise SourceError("redis chart: not reachable")

    monkeypatch.setattr(render_mod, "render_objects", broken)
    bundle = tmp_path / "bundle"
    make_bundle(bundle)
    with pytest.raises(SourceError, match="not reachable"):
        up(SPEC, options(bundle))  # the install depends on the bundle's images: stop before the cluster
    assert calls(kind_env) == []
    rec = RecordingReporter()
    res = up(
        SPEC,
        UpOptions(sources=SourceOptions(allow_download=False), timeout=30),
        reporter=rec,
    )
    assert any(e.step == "images" and e.message.startswith("pre-pull skipped: ") for e in rec.events)
    # up went on without the pre-pull (here the components' own render works: only the listing broke)
    assert res.run is not None and res.run.ok and res.prepull is None


def test_digest_only_images_are_loaded_with_a_warning(kind_env: Path, tmp_path: Path) -> None:
    from platformctl.usecases.bundle_images import digest_only, load_archives

    assert digest_only("gcr.io/k/controller@sha256:" + "0" * 64)
    assert not digest_only("kindest/node:v1.32.8@sha256:" + "0" * 64) and not digest_only("redis:7.2.5")
    rec = RecordingReporter()
    loaded: list[Path] = []
    archives = [
        ("gcr.io/k/controller@sha256:" + "0" * 64, tmp_path / "a.tar"),
        ("redis:7.2.5", tmp_path / "b.tar"),
    ]
    load_archives(archives, loaded.append, reporter=rec)
    assert loaded == [tmp_path / "a.tar", tmp_path / "b.tar"]
    warnings = [e.message for e in rec.events if e.kind == "log"]
    assert len(warnings) == 1 and warnings[0].startswith("warning: 1 of them referenced by digest only")
