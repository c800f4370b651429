"""`platformctl bundle`: create from a mirror/bundle, verify the real upstream dir, fail on tampering."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from platformctl.plan.lock import load_lock
from tests.support.cli_main import Ran, run_main
from tests.support.httpserver import LocalHTTPServer


def run(args: list[str]) -> Ran:
    """The console entry point (main: error → exit-code mapping) with captured streams."""
    return run_main(args)


@pytest.fixture
def upstream_dir() -> Path:
    d = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not d:
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    return Path(d)


def test_verify_real_upstream_passes(upstream_dir: Path) -> None:
    res = run(["bundle", str(upstream_dir), "--verify", "-o", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["ok"] is True
    lock = load_lock()
    assert len(data["files"]) == len(lock.all_files()) + len(lock.all_charts())
    assert {f["status"] for f in data["files"]} == {"ok"}
    charts = {f["path"] for f in data["files"] if f["path"].startswith("charts/")}
    assert charts == {f"charts/{n}-{p.version}.tgz" for _, n, p in lock.all_charts()}


def test_verify_tampered_copy_fails_naming_the_file(upstream_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "bundle"
    shutil.copytree(upstream_dir, copy)
    target = copy / "knative/1.15.2/serving-hpa.yaml"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit, same size
    target.write_bytes(bytes(data))
    (copy / "dapr/v1.15.14/crds/resiliency.yaml").unlink()
    chart = copy / "charts/dapr-1.15.14.tgz"
    chart.chmod(0o644)
    chart.write_bytes(chart.read_bytes() + b"\0")
    (copy / "charts/gateway-1.27.1.tgz").unlink()
    res = run(["bundle", str(copy), "--verify", "-o", "json"])
    assert res.exit_code == 3
    report = json.loads(res.stdout)
    bad = {f["path"]: f["status"] for f in report["files"] if f["status"] != "ok"}
    assert bad == {
        "knative/1.15.2/serving-hpa.yaml": "sha256-mismatch",
        "dapr/v1.15.14/crds/resiliency.yaml": "missing",
        "charts/dapr-1.15.14.tgz": "sha256-mismatch",
        "charts/gateway-1.27.1.tgz": "missing",
    }
    assert "4 of" in res.stderr and "serving-hpa.yaml" in res.stderr and "dapr-1.15.14.tgz" in res.stderr


def test_verify_missing_dir_is_usage_error(tmp_path: Path) -> None:
    res = run(["bundle", str(tmp_path / "nope"), "--verify"])
    assert res.exit_code == 2


def test_create_from_mirror_then_verify(upstream_dir: Path, tmp_path: Path) -> None:
    lock = load_lock()
    with LocalHTTPServer() as srv:
        for _, f in lock.all_files():
            srv.add("/m/" + f.path, (upstream_dir / f.path).read_bytes())
        for _, name, pin in lock.all_charts():  # the mirror has the bundle layout: charts/<archive>
            rel = f"charts/{name}-{pin.version}.tgz"
            srv.add("/m/" + rel, (upstream_dir / rel).read_bytes())
        out = tmp_path / "b"
        res = run(
            [
                "bundle",
                str(out),
                "--mirror",
                srv.url("/m"),
                "--cache-dir",
                str(tmp_path / "cache"),
                "-o",
                "json",
            ],
        )
        assert res.exit_code == 0, res.output
        assert {f["status"] for f in json.loads(res.stdout)["files"]} == {"added"}
        first = len(srv.requests)
        # One request per distinct file: sets share some byte-identical files (Dapr CRDs), which the
        # sha256-keyed cache serves after the first download; plus one per pinned chart archive.
        assert first == len({f.sha256 for _, f in lock.all_files()}) + len(lock.all_charts())
        # Second run: everything already present and verified, no request.
        res2 = run(["bundle", str(out), "--mirror", srv.url("/m"), "-o", "json"])
        assert res2.exit_code == 0
        assert {f["status"] for f in json.loads(res2.stdout)["files"]} == {"ok"}
        assert len(srv.requests) == first
    assert run(["bundle", str(out), "--verify"]).exit_code == 0
    sums = (out / "SHA256SUMS").read_text()
    assert f"{lock.all_files()[0][1].sha256}  ./{lock.all_files()[0][1].path}" in sums


def test_create_reports_tampered_mirror_file(upstream_dir: Path, tmp_path: Path) -> None:
    lock = load_lock()
    files = [f for rel in lock.components["dapr"].versions.values() for f in rel.files]  # every set's
    with LocalHTTPServer() as srv:
        for f in files:
            srv.add(
                "/m/" + f.path, (upstream_dir / f.path).read_bytes(), tamper=f.filename == "components.yaml"
            )
        chart = "charts/dapr-1.15.14.tgz"
        srv.add("/m/" + chart, (upstream_dir / chart).read_bytes(), tamper=True)
        res = run(
            [
                "bundle",
                str(tmp_path / "b"),
                "-c",
                "dapr",
                "--mirror",
                srv.url("/m"),
                "--cache-dir",
                str(tmp_path / "c"),
            ],
        )
    assert res.exit_code == 3
    assert "sha256 mismatch" in res.stderr and "components.yaml" in res.stderr
    for f in files:
        assert (tmp_path / "b" / f.path).is_file() == (f.filename != "components.yaml"), f.path
    assert not (tmp_path / "b/charts/dapr-1.15.14.tgz").exists()  # a tampered chart is never bundled


def test_create_offline_from_source_bundle(upstream_dir: Path, tmp_path: Path) -> None:
    res = run(
        [
            "bundle",
            str(tmp_path / "b"),
            "-c",
            "istio",
            "--manifests-dir",
            str(upstream_dir),
            "--no-download",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "b/istio/1.27.1/crd-all.gen.yaml").read_bytes() == (
        upstream_dir / "istio/1.27.1/crd-all.gen.yaml"
    ).read_bytes()
    for chart in ("base", "istiod", "gateway"):
        rel = f"charts/{chart}-1.27.1.tgz"
        assert (tmp_path / "b" / rel).read_bytes() == (upstream_dir / rel).read_bytes()
    assert run(["bundle", str(tmp_path / "b"), "-c", "istio", "--verify"]).exit_code == 0


def test_mirror_chart_with_other_bytes_is_not_bundled(upstream_dir: Path, tmp_path: Path) -> None:
    """A mirror's Istio archive must match the digest the lock knows for it, or it is not bundled."""
    _, rel = load_lock().release("istio")
    with LocalHTTPServer() as srv:
        for f in rel.files:
            srv.add("/m/" + f.path, (upstream_dir / f.path).read_bytes())
        for name in ("base", "istiod", "gateway"):
            data = (upstream_dir / f"charts/{name}-1.27.1.tgz").read_bytes()
            srv.add(f"/m/charts/{name}-1.27.1.tgz", data, tamper=name == "istiod")
        out = tmp_path / "b"
        res = run(
            ["bundle", str(out), "-c", "istio", "--mirror", srv.url("/m"), "--cache-dir", str(tmp_path)]
        )
    assert res.exit_code == 3
    assert "sha256 mismatch" in res.stderr and "istiod-1.27.1.tgz" in res.stderr
    assert not (out / "charts/istiod-1.27.1.tgz").exists()
    assert (out / "charts/base-1.27.1.tgz").is_file()


def test_no_download_without_source_fails_with_hint(tmp_path: Path) -> None:
    res = run(
        ["bundle", str(tmp_path / "b"), "-c", "istio", "--no-download", "--cache-dir", str(tmp_path / "c")]
    )
    assert res.exit_code == 3
    assert "downloads are disabled" in res.stderr


def test_unknown_component_is_usage_error(tmp_path: Path) -> None:
    res = run(["bundle", str(tmp_path), "--verify", "-c", "nope"])
    assert res.exit_code == 2


def test_create_into_a_file_or_unwritable_place_is_one_line_usage_error(tmp_path: Path) -> None:
    # Regression: these were "internal error: NotADirectoryError/FileNotFoundError" (exit 70).
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    res = run(["bundle", str(afile), "-c", "istio", "--no-download", "--cache-dir", str(tmp_path / "c")])
    assert res.exit_code == 2 and f"bundle {afile}: is a file" in res.stderr
    assert afile.read_text() == "mine\n"
    res = run(
        ["bundle", str(afile / "b"), "-c", "istio", "--no-download", "--cache-dir", str(tmp_path / "c")]
    )
    assert res.exit_code == 2 and "cannot write there" in res.stderr and "internal error" not in res.stderr


MINIKUBE_V = load_lock().tools["minikube"].version


def _cached_minikube(cache: Path) -> Path:
    """A minikube in the tool cache's layout, with the digest file `tools install` writes beside it."""
    from platformctl.drivers.sources import sha256_file
    from platformctl.drivers.tools import platform_key

    d = cache / "tools" / "minikube" / MINIKUBE_V / platform_key()
    d.mkdir(parents=True)
    b = d / "minikube"
    b.write_text(f"#!/bin/sh\necho 'minikube version: {MINIKUBE_V}'\n", encoding="utf-8")
    b.chmod(0o755)
    (d / "minikube.sha256").write_text(sha256_file(b) + "\n", encoding="utf-8")
    return b


def _bundle(upstream_dir: Path, tmp_path: Path, *extra: str) -> Ran:
    args = ["bundle", str(tmp_path / "b"), "--manifests-dir", str(upstream_dir), "--no-download"]
    return run([*args, "--cache-dir", str(tmp_path / "c"), "-o", "json", *extra])


def test_a_minikube_bundle_carries_the_verified_minikube_binary(upstream_dir: Path, tmp_path: Path) -> None:
    from platformctl.drivers.tools import platform_key

    cached = _cached_minikube(tmp_path / "c")
    rel = f"tools/minikube/{MINIKUBE_V}/{platform_key()}/minikube"
    res = _bundle(upstream_dir, tmp_path, "--set", "cluster.provider=minikube")
    assert res.exit_code == 0, res.output
    rows = {f["path"]: f for f in json.loads(res.stdout)["files"]}
    assert rows[rel]["status"] == "added" and rows[rel]["component"] == "tools"
    bundled = tmp_path / "b" / rel
    assert bundled.read_bytes() == cached.read_bytes() and os.access(bundled, os.X_OK)
    assert f"  ./{rel}\n" in (tmp_path / "b/SHA256SUMS").read_text(encoding="utf-8")
    # The same layout as the tool cache: a copy of tools/ is what `tools` finds offline.
    shutil.copytree(tmp_path / "b/tools", tmp_path / "offline-cache/tools")
    env = {"PATH": str(tmp_path / "none"), "PLATFORMCTL_CACHE_DIR": str(tmp_path / "offline-cache")}
    listed = run_main(["tools", "install", "minikube", "--no-download", "-o", "json"], env)
    assert listed.exit_code == 0, listed.output
    assert [(r["name"], r["source"]) for r in json.loads(listed.stdout)] == [("minikube", "cache")]
    # --verify checks it; a changed byte is named.
    ok = run(["bundle", str(tmp_path / "b"), "--verify", "-o", "json"])
    assert ok.exit_code == 0, ok.output
    assert {f["path"]: f["status"] for f in json.loads(ok.stdout)["files"]}[rel] == "ok"
    bundled.write_bytes(bundled.read_bytes() + b"#")
    bad = run(["bundle", str(tmp_path / "b"), "--verify", "-o", "json"])
    assert bad.exit_code == 3  # IntegrityError
    assert f"{rel}: sha256-mismatch" in bad.stderr


def test_a_kind_bundle_carries_no_tools(upstream_dir: Path, tmp_path: Path) -> None:
    _cached_minikube(tmp_path / "c")
    res = _bundle(upstream_dir, tmp_path)
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "b/tools").exists()
    assert not [f for f in json.loads(res.stdout)["files"] if f["component"] == "tools"]


def test_a_minikube_bundle_without_the_binary_says_how_to_get_it(upstream_dir: Path, tmp_path: Path) -> None:
    res = _bundle(upstream_dir, tmp_path, "--set", "cluster.provider=minikube")
    assert res.exit_code == 3  # IntegrityError: some files are bad
    assert "minikube v1.38.1 is not in the cache" in res.stderr
    assert "downloads are disabled (--no-download)" in res.stderr
    # Every other file was still bundled and verified.
    assert json.loads(res.stdout)["ok"] is False
    assert (tmp_path / "b/istio/1.27.1/crd-all.gen.yaml").is_file()


def _cached_tool(cache: Path, tool: str) -> Path:
    from platformctl.drivers.sources import sha256_file
    from platformctl.drivers.tools import platform_key

    d = cache / "tools" / tool / load_lock().tools[tool].version / platform_key()
    d.mkdir(parents=True)
    b = d / tool
    b.write_text(f"#!/bin/sh\necho '{tool} (a test double)'\n", encoding="utf-8")
    b.chmod(0o755)
    (d / f"{tool}.sha256").write_text(sha256_file(b) + "\n", encoding="utf-8")
    return b


def test_bundle_tools_carries_kind_helm_and_kubectl(upstream_dir: Path, tmp_path: Path) -> None:
    from platformctl.drivers.tools import platform_key

    cached = {t: _cached_tool(tmp_path / "c", t) for t in ("kind", "helm", "kubectl")}
    res = _bundle(upstream_dir, tmp_path, "--tools")
    assert res.exit_code == 0, res.output
    rows = {f["path"]: f["status"] for f in json.loads(res.stdout)["files"] if f["component"] == "tools"}
    want = {f"tools/{t}/{load_lock().tools[t].version}/{platform_key()}/{t}": t for t in cached}
    assert rows == dict.fromkeys(want, "added")
    for rel, tool in want.items():
        assert (tmp_path / "b" / rel).read_bytes() == cached[tool].read_bytes()
        assert f"  ./{rel}\n" in (tmp_path / "b/SHA256SUMS").read_text(encoding="utf-8")


def test_bundle_tools_without_a_cached_binary_names_it(upstream_dir: Path, tmp_path: Path) -> None:
    _cached_tool(tmp_path / "c", "kind")
    _cached_tool(tmp_path / "c", "kubectl")
    res = _bundle(upstream_dir, tmp_path, "--tools")
    assert res.exit_code == 3
    assert f"helm {load_lock().tools['helm'].version} is not in the cache" in res.stderr


def test_bundle_tools_is_refused_with_component_or_verify(tmp_path: Path) -> None:
    for extra in (["-c", "istio"], ["--verify"]):
        res = run(["bundle", str(tmp_path / "b"), "--tools", *extra])
        assert res.exit_code == 2 and "--tools: not with" in res.stderr
    assert not (tmp_path / "b").exists()
