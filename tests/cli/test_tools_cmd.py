"""`platformctl tools`: lists each tool's path, version, source and pin match; --install downloads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from platformctl.plan.lock import load_lock
from tests.support.cli_main import Ran, run_main

LOCK = load_lock()


def run(args: list[str], env: dict[str, str]) -> Ran:
    return run_main(args, env)


def fake(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / name
    p.write_text(f"#!/bin/sh\necho '{text}'\n")
    p.chmod(0o755)
    return p


def test_tools_json_reports_path_version_source_and_match(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake(bin_dir, "kind", f"kind {LOCK.tools['kind'].version} go1.24.6 linux/amd64")
    fake(bin_dir, "helm", "v3.1.0+gabc")
    env = {"PATH": str(bin_dir), "PLATFORMCTL_CACHE_DIR": str(tmp_path / "cache")}
    res = run(["tools", "-o", "json"], env)
    assert res.exit_code == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["kind"]["source"] == "PATH" and rows["kind"]["matches_pin"] is True
    assert rows["kind"]["path"] == str(bin_dir / "kind")
    assert rows["helm"]["version"] == "v3.1.0" and rows["helm"]["matches_pin"] is False
    assert rows["kubectl"]["source"] == "missing" and rows["kubectl"]["path"] is None


def test_tools_env_override_and_table(tmp_path: Path) -> None:
    k = fake(tmp_path / "x", "my-kubectl", "Client Version: v1.30.1")
    env = {"PATH": str(tmp_path / "none"), "PLATFORMCTL_KUBECTL": str(k), "COLUMNS": "200"}
    res = run(["tools"], env)
    assert res.exit_code == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if "kubectl" in ln and "v1.30.1" in ln)
    assert "env" in line


def test_tools_install_no_download_fails_with_fix(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "none"), "PLATFORMCTL_CACHE_DIR": str(tmp_path / "c")}
    res = run(["tools", "install", "--no-download", "-o", "json"], env)
    assert res.exit_code == 3
    assert "downloads are disabled" in res.stderr
    assert "PLATFORMCTL_KIND" in res.stderr


def test_tools_lists_cached_binary(tmp_path: Path) -> None:
    # A binary placed in the cache layout with its digest file counts as "cache".
    v = LOCK.tools["kind"].version
    from platformctl.drivers.tools import platform_key

    d = tmp_path / "c" / "tools" / "kind" / v / platform_key()
    b = fake(d, "kind", f"kind {v} go linux/amd64")
    (d / "kind.sha256").write_text(hashlib.sha256(b.read_bytes()).hexdigest() + "\n")
    res = run(
        ["tools", "-o", "json"],
        {"PATH": str(tmp_path / "none"), "PLATFORMCTL_CACHE_DIR": str(tmp_path / "c")},
    )
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["kind"]["source"] == "cache" and rows["kind"]["matches_pin"] is True


MINIKUBE_V = LOCK.tools["minikube"].version


def fake_minikube(tmp_path: Path) -> Path:
    return fake(tmp_path / "x", "minikube", f"minikube version: {MINIKUBE_V}")


def test_tools_lists_minikube_only_for_the_minikube_provider(tmp_path: Path) -> None:
    env = {
        "PATH": str(tmp_path / "none"),
        "PLATFORMCTL_CACHE_DIR": str(tmp_path / "c"),
        "PLATFORMCTL_MINIKUBE": str(fake_minikube(tmp_path)),
    }
    res = run(["tools", "-o", "json"], env)
    assert res.exit_code == 0, res.stderr
    assert [r["name"] for r in json.loads(res.stdout)] == ["kind", "helm", "kubectl"]
    res = run(["tools", "-o", "json", "--set", "cluster.provider=minikube"], env)
    assert res.exit_code == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert list(rows) == ["kind", "helm", "kubectl", "minikube"]
    assert (rows["minikube"]["source"], rows["minikube"]["version"]) == ("env", MINIKUBE_V)
    # The spec's provider from the environment counts the same as --set.
    res = run(["tools", "-o", "json"], {**env, "PLATFORMCTL_CLUSTER__PROVIDER": "minikube"})
    assert [r["name"] for r in json.loads(res.stdout)][-1] == "minikube"


def test_tools_install_fetches_minikube_for_its_provider(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "none"), "PLATFORMCTL_CACHE_DIR": str(tmp_path / "c")}
    res = run(["tools", "install", "--no-download", "--set", "cluster.provider=minikube", "-o", "json"], env)
    assert res.exit_code == 3
    assert "4 tool(s) could not be provided" in res.stderr
    assert f"minikube {MINIKUBE_V} is needed" in res.stderr
    assert [r["name"] for r in json.loads(res.stdout)] == ["kind", "helm", "kubectl", "minikube"]
    # kind (the default provider): minikube is not asked for.
    res = run(["tools", "install", "--no-download", "-o", "json"], env)
    assert res.exit_code == 3 and "3 tool(s) could not be provided" in res.stderr
    assert "minikube" not in res.output


def test_tools_install_named_tools_only(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "none"), "PLATFORMCTL_CACHE_DIR": str(tmp_path / "c")}
    res = run(["tools", "install", "minikube", "--no-download", "-o", "json"], env)
    assert res.exit_code == 3
    assert "1 tool(s) could not be provided" in res.stderr
    assert [r["name"] for r in json.loads(res.stdout)] == ["minikube"]
    env["PLATFORMCTL_MINIKUBE"] = str(fake_minikube(tmp_path))
    ok = run(["tools", "install", "minikube", "-o", "json"], env)
    assert ok.exit_code == 0, ok.stderr
    assert [(r["name"], r["source"]) for r in json.loads(ok.stdout)] == [("minikube", "env")]


def test_tools_install_unknown_tool_is_a_usage_error(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "none"), "PLATFORMCTL_CACHE_DIR": str(tmp_path / "c")}
    res = run(["tools", "install", "kubeadm"], env)
    assert res.exit_code == 2
    assert "TOOL: unknown tool 'kubeadm'; known: kind, helm, kubectl, minikube" in res.stderr
    assert not (tmp_path / "c").exists()  # nothing fetched
