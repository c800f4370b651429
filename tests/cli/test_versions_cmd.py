"""`platformctl versions`: every pinned file of the upstream LOCK.yaml with its sha256, in every format."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.plan.lock import load_lock
from tests.support.cli_main import run_main
from tests.support.upstream_sets import set_files, set_names, set_versions


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def upstream_lock() -> dict[str, Any]:
    up = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not up:
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset: the upstream LOCK.yaml is needed to cross-check pins")
    with (Path(up) / "LOCK.yaml").open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def files_of(data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {f["path"]: (f["url"], f["sha256"]) for c in data["components"] for f in c["files"]}


def _default_set(lock: dict[str, Any]) -> str:
    """The upstream set whose KServe version is platformctl's default (the sets are KServe's own)."""
    kserve = load_lock().components["kserve"].default
    for name in set_names(Path(os.environ["PLATFORMCTL_UPSTREAM_DIR"])):
        if set_versions(Path(os.environ["PLATFORMCTL_UPSTREAM_DIR"]), name).get("kserve") == kserve:
            return name
    raise AssertionError(f"no upstream set has kserve {kserve}: {list(lock['sets'])}")


def test_json_lists_every_file_of_the_default_set_with_its_sha256() -> None:
    lock = upstream_lock()
    root = Path(os.environ["PLATFORMCTL_UPSTREAM_DIR"])
    r = run_main(["versions", "-o", "json"])
    assert r.exit_code == 0, r.output
    listed = files_of(json.loads(r.stdout))
    files = set_files(root, _default_set(lock))
    assert files, "upstream LOCK.yaml lists no files for the default set"
    for f in files:
        assert f.path in listed, f"{f.path} missing from `platformctl versions`"
        assert listed[f.path] == (f.url, f.sha256), f.path


def test_every_pinned_file_matches_the_upstream_lock() -> None:
    # every file platformctl pins, in any set or version, is one the upstream lock lists, byte for byte
    upstream = {f["file"]: (f["upstream_url"], f["sha256"]) for f in upstream_lock()["files"]}
    everything = files_of(json.loads(run_main(["versions", "-o", "json", "--all"]).stdout))
    assert everything
    for path, pin in everything.items():
        assert path in upstream, f"{path} is pinned but not in the upstream LOCK.yaml"
        assert pin == upstream[path], path


def test_json_platform_fields_and_charts() -> None:
    lock = load_lock()
    data = json.loads(run_main(["versions", "-o", "json"]).stdout)
    assert data["kind"] == lock.kind.version
    assert data["node_image"] == lock.kind.node_image and "@sha256:" in data["node_image"]
    assert data["kubernetes"] == lock.kubernetes.version
    assert data["tools"] == {
        "kind": lock.tools["kind"].version,
        "helm": lock.tools["helm"].version,
        "kubectl": lock.tools["kubectl"].version,
    }
    comps = {c["name"]: c for c in data["components"]}
    assert set(comps) == set(lock.components)
    for name, comp in comps.items():
        _, rel = lock.release(name)
        assert comp["version"] == lock.components[name].default and comp["default"] and comp["selected"]
        if rel.charts:
            assert comp["chart"] == {
                "repo": rel.charts.repo,
                "version": rel.charts.version,
                "names": rel.charts.names,
            }
        else:
            assert comp["chart"] is None


def test_yaml_and_all_match_json() -> None:
    as_json = json.loads(run_main(["versions", "-o", "json"]).stdout)
    as_yaml = yaml.safe_load(run_main(["versions", "-o", "yaml"]).stdout)
    assert as_json == as_yaml
    everything = json.loads(run_main(["versions", "-o", "json", "--all"]).stdout)
    assert {(f["path"], f["sha256"]) for c in everything["components"] for f in c["files"]} == {
        (f.path, f.sha256) for _, f in load_lock().all_files()
    }


def test_table_shows_urls_and_digests() -> None:
    r = run_main(["versions"], env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    lock = load_lock()
    assert lock.kind.node_image in r.stdout
    for _, f in lock.all_files():
        assert f.sha256 in r.stdout and f.url in r.stdout
    assert "https://istio-release.storage.googleapis.com/charts" in r.stdout


def test_spec_disables_and_selects(tmp_path: Path) -> None:
    (tmp_path / "platform.yaml").write_text("components:\n  dapr:\n    enabled: false\n")
    comps = {c["name"]: c for c in json.loads(run_main(["versions", "-o", "json"]).stdout)["components"]}
    assert comps["dapr"]["enabled"] is False and comps["istio"]["enabled"] is True


def test_invalid_spec_or_format_exit_2(tmp_path: Path) -> None:
    r = run_main(["versions", "--set", "components.istio.version=0.0.0"])
    assert r.exit_code == 2 and "components.istio.version" in r.stderr and "Traceback" not in r.output
    r = run_main(["versions", "-o", "csv"])
    assert r.exit_code == 2
