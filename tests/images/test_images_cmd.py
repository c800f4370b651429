"""``platformctl images`` through the real CLI entry point (exit codes, -o json|yaml, --strict)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.usecases import render as render_mod
from tests.images.conftest import helm_or_skip, upstream_or_skip
from tests.support.cli_main import Ran, run_main


def _run(tmp_path: Path, *args: str) -> Ran:
    upstream = upstream_or_skip()
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("domain: 127.0.0.1.sslip.io\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PLATFORMCTL_HELM": str(helm_or_skip())}
    argv = ["-f", str(cfg), "images", "--no-download", "--manifests-dir", str(upstream),
            "--charts-dir", str(upstream / "charts"), *args]  # fmt: skip
    return run_main(argv, env=env)


def _add_unpinned(monkeypatch: pytest.MonkeyPatch, component: str, image: str) -> None:
    real = render_mod.render_objects

    def tampered(name: str, ctx: Any, plan: Any) -> tuple[str, list[dict[str, Any]]]:
        version, objects = real(name, ctx, plan)
        if name == component:
            for obj in objects:
                if obj["kind"] == "StatefulSet":
                    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
                    break
        return version, objects

    monkeypatch.setattr(render_mod, "render_objects", tampered)


def test_json_lists_images_with_component_and_pinning(tmp_path: Path) -> None:
    ran = _run(tmp_path, "--only", "infra", "--only", "conference", "-o", "json")
    assert ran.exit_code == 0, ran.output
    data = json.loads(ran.stdout)
    by_image = {e["image"]: e for e in data["images"]}
    assert by_image["redis:7.2.5"]["components"] == ["infra"]
    assert by_image["redis:7.2.5"]["pinned"] == "tag"
    assert by_image["ghcr.io/open-feature/flagd:v0.5.3"]["registry"] == "ghcr.io"
    assert data["unpinned"] == [] and data["count"] == len(data["images"]) == 8
    assert "8 images from 2 registries" in ran.stderr


def test_yaml_output(tmp_path: Path) -> None:
    ran = _run(tmp_path, "--only", "infra", "-o", "yaml")
    assert ran.exit_code == 0, ran.output
    data = yaml.safe_load(ran.stdout)
    assert sorted(e["image"] for e in data["images"]) == [
        "apache/kafka:3.8.0",
        "postgres:16.0",
        "redis:7.2.5",
    ]


def test_unpinned_image_warns_and_strict_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _add_unpinned(monkeypatch, "infra", "redis")
    ran = _run(tmp_path, "--only", "infra")
    assert ran.exit_code == 0, ran.output
    assert (
        "warning: 1 unpinned image(s)" in ran.stderr
        and "redis (infra)\n    named in StatefulSet" in ran.stderr
    )
    assert "redis" in ran.stdout  # the table still lists it
    strict = _run(tmp_path, "--only", "infra", "--strict")
    assert strict.exit_code == 1, strict.output
    assert "--strict: 1 unpinned image(s)" in strict.stderr
    assert "Traceback" not in strict.output


def test_strict_passes_when_everything_is_pinned(tmp_path: Path) -> None:
    ran = _run(tmp_path, "--only", "infra", "--only", "conference", "--strict")
    assert ran.exit_code == 0, ran.output
    assert "unpinned" in ran.stderr and "0 unpinned" in ran.stderr
