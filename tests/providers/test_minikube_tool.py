"""The pinned minikube binary: release naming, download verified by the release's .sha256 file, refusal."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from platformctl.drivers.sources import Downloader
from platformctl.drivers.tools import OPTIONAL_TOOLS, TOOLS, ToolResolver, release_asset
from platformctl.errors import IntegrityError, SourceError
from platformctl.plan.lock import load_lock
from tests.support.httpserver import LocalHTTPServer

PLAT = "linux-amd64"
MINIKUBE_V = load_lock().tools["minikube"].version


def resolver(tmp_path: Path, base: str, **kw: object) -> ToolResolver:
    return ToolResolver(
        load_lock(),
        cache_dir=tmp_path / "cache",
        search_path=str(tmp_path / "empty"),
        env={},
        plat=PLAT,
        bases={"minikube": base},
        downloader=Downloader(backoff=0.0, retries=1),
        **kw,  # type: ignore[arg-type]
    )


def test_pin_and_release_naming() -> None:
    # kserve/kserve@v0.20.0 .github/actions/minikube-setup/action.yml: minikube-version 1.38.1
    assert MINIKUBE_V == "v1.38.1"
    a = release_asset("minikube", MINIKUBE_V, PLAT)
    assert a.url == "https://storage.googleapis.com/minikube/releases/v1.38.1/minikube-linux-amd64"
    assert a.checksum_url == a.url + ".sha256" and a.archive_member is None
    # Not part of the default tool set: `tools install` adds it only for cluster.provider minikube.
    assert "minikube" in OPTIONAL_TOOLS and "minikube" not in TOOLS


def _minikube_bytes() -> bytes:
    return f"#!/bin/sh\necho 'minikube version: {MINIKUBE_V}'\necho 'commit: abc'\n".encode()


def test_download_verified_by_published_checksum_file(tmp_path: Path) -> None:
    data = _minikube_bytes()
    with LocalHTTPServer() as srv:
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}", data)
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}.sha256", (hashlib.sha256(data).hexdigest() + "\n").encode())
        info = resolver(tmp_path, srv.base_url).ensure("minikube")
    assert (info.source, info.version, info.matches) == ("download", MINIKUBE_V, True)
    assert info.path == tmp_path / "cache/tools/minikube" / MINIKUBE_V / PLAT / "minikube"
    assert info.path is not None and os.access(info.path, os.X_OK)


def test_checksum_mismatch_refuses_and_caches_nothing(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}", b"#!/bin/sh\necho evil\n")
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}.sha256", ("0" * 64 + "\n").encode())
        with pytest.raises(IntegrityError, match="sha256 mismatch"):
            resolver(tmp_path, srv.base_url).ensure("minikube")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_without_downloads_a_missing_minikube_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"minikube v1\.38\.1 is needed: not found, and downloads are"):
        resolver(tmp_path, "http://127.0.0.1:9", allow_download=False).ensure("minikube")


def test_tools_install_for_the_minikube_provider_downloads_it_verified(tmp_path: Path) -> None:
    from platformctl.plan.spec import PlatformSpec
    from platformctl.usecases.tools import list_tools, select_tools, spec_tools

    minikube = PlatformSpec.model_validate({"cluster": {"provider": "minikube"}})
    assert spec_tools(minikube) == (*TOOLS, "minikube")
    assert spec_tools(PlatformSpec()) == TOOLS
    assert (
        spec_tools(PlatformSpec.model_validate({"cluster": {"provider": "existing"}, "domain": "a.b"}))
        == TOOLS
    )
    data = _minikube_bytes()
    with LocalHTTPServer() as srv:
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}", data)
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}.sha256", (hashlib.sha256(data).hexdigest() + "\n").encode())
        rows, errors = list_tools(
            resolver(tmp_path, srv.url("")), install=True, names=select_tools(["minikube"], minikube)
        )
    assert errors == []
    assert [(r.name, r.source, r.version, r.matches) for r in rows] == [
        ("minikube", "download", MINIKUBE_V, True)
    ]
    assert rows[0].path == str(tmp_path / "cache/tools/minikube" / MINIKUBE_V / PLAT / "minikube")


def test_bundle_tools_download_the_pinned_minikube_verified(tmp_path: Path) -> None:
    from platformctl.usecases.bundle_tools import add_tools, verify_tools

    data = _minikube_bytes()
    rel = f"tools/minikube/{MINIKUBE_V}/{PLAT}/minikube"
    bundle = tmp_path / "b"
    bundle.mkdir()
    with LocalHTTPServer() as srv:
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}", data)
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}.sha256", ("0" * 64 + "\n").encode())
        (bad,) = add_tools(bundle, ["minikube"], resolver(tmp_path, srv.url("")))
        assert bad.status == "error" and "sha256" in bad.message
        assert not (bundle / rel).exists()  # unverified bytes never reach the bundle
        srv.add(f"/{MINIKUBE_V}/minikube-{PLAT}.sha256", (hashlib.sha256(data).hexdigest() + "\n").encode())
        (row,) = add_tools(bundle, ["minikube"], resolver(tmp_path, srv.url("")))
    assert (row.path, row.status, row.actual_sha256) == (rel, "added", hashlib.sha256(data).hexdigest())
    assert (bundle / rel).read_bytes() == data
    assert [(f.path, f.status) for f in verify_tools(bundle)] == [(rel, "ok")]
    (bundle / (rel + ".sha256")).unlink()
    assert [(f.path, f.status) for f in verify_tools(bundle)] == [(rel, "missing")]
