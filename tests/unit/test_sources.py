"""SourceResolver: sha256 verification against a loopback HTTP server, cache, bundle dir, retries."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest

from platformctl.drivers.sources import SourceResolver, default_cache_dir, parse_checksum_file
from platformctl.errors import ConfigError, IntegrityError, SourceError, UsageError
from platformctl.plan.lock import PinnedFile, VersionLock, load_lock
from platformctl.reporting import RecordingReporter
from tests.support.httpserver import LocalHTTPServer

BODY = (
    b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n---\n"
    b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n"
)


@pytest.fixture
def upstream_dir() -> Path:
    # Same contract as the shared conftest fixture; local so this module runs on its own.
    d = os.environ.get("PLATFORMCTL_UPSTREAM_DIR")
    if not d:
        pytest.skip("PLATFORMCTL_UPSTREAM_DIR unset")
    return Path(d)


def _pinned(url: str, body: bytes = BODY, path: str = "demo/v1/demo.yaml") -> PinnedFile:
    return PinnedFile(
        role="demo",
        version="v1",
        path=path,
        url=url,
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
    )


def _resolver(tmp_path: Path, **kw: object) -> SourceResolver:
    kw.setdefault("cache_dir", tmp_path / "cache")
    return SourceResolver(load_lock(), backoff=0.0, **kw)  # type: ignore[arg-type]


def test_good_download_is_verified_cached_and_reused(tmp_path: Path) -> None:
    rec = RecordingReporter()
    with LocalHTTPServer() as srv:
        srv.add("/demo.yaml", BODY)
        f = _pinned(srv.url("/demo.yaml"))
        r = _resolver(tmp_path, reporter=rec)
        path = r.fetch(f)
        assert path.read_bytes() == BODY
        assert path == tmp_path / "cache" / "files" / f.sha256 / "demo.yaml"
        assert srv.count("/demo.yaml") == 1
        # Resume from cache: a fresh resolver (new process) makes no request.
        again = _resolver(tmp_path).fetch(f)
        assert again == path
        assert srv.count("/demo.yaml") == 1
    assert "download demo/v1/demo.yaml" in rec.steps("finish")


def test_tampered_download_raises_integrity_error_and_caches_nothing(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        srv.add("/demo.yaml", BODY, tamper=True)
        f = _pinned(srv.url("/demo.yaml"))
        with pytest.raises(IntegrityError) as ei:
            _resolver(tmp_path).fetch(f)
    msg = ei.value.message
    assert f.path in msg and f.url in msg and f.sha256 in msg
    tampered = bytes([BODY[0] ^ 1]) + BODY[1:]
    assert hashlib.sha256(tampered).hexdigest() in msg
    cache = tmp_path / "cache"
    assert not any(p.is_file() for p in cache.rglob("*")), "unverified bytes were left in the cache"


def test_truncated_download_is_a_source_error(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        srv.add("/demo.yaml", BODY, truncate=10)
        f = _pinned(srv.url("/demo.yaml"))
        with pytest.raises(SourceError) as ei:
            _resolver(tmp_path, retries=1).fetch(f)
        assert srv.count("/demo.yaml") == 2  # retried once
    assert not isinstance(ei.value, IntegrityError)
    assert "truncated" in ei.value.message and f.url in ei.value.message
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))


def test_short_body_with_matching_length_header_is_truncation(tmp_path: Path) -> None:
    # The server sends a complete response that is shorter than the pin: a short read, not tampering.
    with LocalHTTPServer() as srv:
        srv.add("/demo.yaml", BODY[:20])
        f = _pinned(srv.url("/demo.yaml"))
        with pytest.raises(SourceError, match=r"truncated download .* got 20 of"):
            _resolver(tmp_path).fetch(f)


def test_server_error_then_success_is_retried(tmp_path: Path) -> None:
    rec = RecordingReporter()
    with LocalHTTPServer() as srv:
        srv.add("/demo.yaml", BODY, fail_first=2)
        f = _pinned(srv.url("/demo.yaml"))
        path = _resolver(tmp_path, reporter=rec, retries=3).fetch(f)
        assert path.read_bytes() == BODY
        assert srv.count("/demo.yaml") == 3
    retries = [e.message for e in rec.events if e.kind == "log" and "retry" in e.message]
    assert len(retries) == 2 and "HTTP 500" in retries[0]


def test_persistent_server_error_gives_up(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        srv.add("/demo.yaml", BODY, fail_first=99)
        f = _pinned(srv.url("/demo.yaml"))
        with pytest.raises(SourceError, match=r"after 3 attempt\(s\): HTTP 500"):
            _resolver(tmp_path, retries=2).fetch(f)
        assert srv.count("/demo.yaml") == 3


def test_404_is_not_retried(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        f = _pinned(srv.url("/missing.yaml"))
        with pytest.raises(SourceError, match="HTTP 404"):
            _resolver(tmp_path, retries=3).fetch(f)
        assert srv.count("/missing.yaml") == 1


def test_connection_refused_is_a_source_error(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        url = srv.url("/demo.yaml")
    # The server is gone now: nothing listens on that port.
    with pytest.raises(SourceError, match="could not download"):
        _resolver(tmp_path, retries=1).fetch(_pinned(url))


def test_mirror_base_url_replaces_the_pinned_host(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        srv.add("/mirror/demo/v1/demo.yaml", BODY)
        f = _pinned("https://example.invalid/never-used/demo.yaml")
        r = _resolver(tmp_path, base_url_override=srv.url("/mirror/"))
        assert r.fetch(f).read_bytes() == BODY
        assert srv.requests == [("GET", "/mirror/demo/v1/demo.yaml")]


def test_corrupt_cache_entry_is_replaced(tmp_path: Path) -> None:
    with LocalHTTPServer() as srv:
        srv.add("/demo.yaml", BODY)
        f = _pinned(srv.url("/demo.yaml"))
        r = _resolver(tmp_path)
        path = r.fetch(f)
        path.write_bytes(b"garbage")
        assert _resolver(tmp_path).fetch(f).read_bytes() == BODY
        assert srv.count("/demo.yaml") == 2


def test_no_download_names_the_missing_file_and_the_fix(tmp_path: Path) -> None:
    f = _pinned("https://example.invalid/demo.yaml")
    with pytest.raises(SourceError) as ei:
        _resolver(tmp_path, allow_download=False).fetch(f)
    assert "demo/v1/demo.yaml" in ei.value.message
    assert ei.value.hint is not None and "platformctl bundle" in ei.value.hint


def test_offline_bundle_dir_is_used_and_verified(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "demo/v1").mkdir(parents=True)
    (bundle / "demo/v1/demo.yaml").write_bytes(BODY)
    f = _pinned("https://example.invalid/demo.yaml")
    r = _resolver(tmp_path, manifests_dir=bundle, allow_download=False)
    assert r.fetch(f) == bundle / "demo/v1/demo.yaml"
    (bundle / "demo/v1/demo.yaml").write_bytes(BODY.replace(b"name: a", b"name: x"))
    with pytest.raises(IntegrityError) as ei:
        _resolver(tmp_path, manifests_dir=bundle, allow_download=False).fetch(f)
    assert "bundle" in ei.value.message and f.sha256 in ei.value.message


def test_documents_drop_empty_docs(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "demo/v1").mkdir(parents=True)
    (bundle / "demo/v1/demo.yaml").write_bytes(BODY)
    r = _resolver(tmp_path, manifests_dir=bundle, allow_download=False)
    docs = r.documents(_pinned("https://example.invalid/x"))
    assert [d["metadata"]["name"] for d in docs] == ["a", "b"]
    docs[0]["metadata"]["name"] = "mutated"
    assert r.documents(_pinned("https://example.invalid/x"))[0]["metadata"]["name"] == "a"


def test_real_upstream_release_documents(upstream_dir: Path, tmp_path: Path) -> None:
    lock: VersionLock = load_lock()
    r = SourceResolver(lock, manifests_dir=upstream_dir, cache_dir=tmp_path, allow_download=False)
    docs = r.release_documents("cert-manager", "cert-manager.yaml")
    kinds = {d["kind"] for d in docs}
    assert "CustomResourceDefinition" in kinds and "Deployment" in kinds
    with pytest.raises(ConfigError, match="pins no file"):
        r.release_documents("cert-manager", "nope.yaml")


def test_every_lock_file_is_in_the_upstream_dir(upstream_dir: Path, tmp_path: Path) -> None:
    r = SourceResolver(load_lock(), manifests_dir=upstream_dir, cache_dir=tmp_path, allow_download=False)
    for _, f in load_lock().all_files():
        assert r.fetch(f) == upstream_dir / f.path


def test_tampered_upstream_copy_fails(upstream_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "up"
    shutil.copytree(upstream_dir, copy)
    _, rel = load_lock().release("kserve")
    target = copy / rel.file("kserve-cluster-resources.yaml").path
    data = bytearray(target.read_bytes())
    data[100] ^= 0x20
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"kserve-cluster-resources\.yaml"):
        SourceResolver(load_lock(), manifests_dir=copy, cache_dir=tmp_path / "c", allow_download=False).fetch(
            rel.file("kserve-cluster-resources.yaml")
        )


def test_default_cache_dir_honours_xdg() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/platformctl")
    assert default_cache_dir({"PLATFORMCTL_CACHE_DIR": "/y", "XDG_CACHE_HOME": "/x"}) == Path("/y")
    assert default_cache_dir({}) == Path(os.path.expanduser("~/.cache/platformctl"))


def test_parse_checksum_file_forms() -> None:
    d = "a" * 64
    assert parse_checksum_file(d + "\n") == d
    assert parse_checksum_file(f"{d}  kind-linux-amd64\n", "kind-linux-amd64") == d
    assert parse_checksum_file(f"{'b' * 64}  other\n{d} *helm.tar.gz\n", "helm.tar.gz") == d
    with pytest.raises(SourceError):
        parse_checksum_file("<html>not found</html>")


@pytest.mark.parametrize(
    "dns_error",
    ["[Errno -2] Name or service not known", "[Errno -3] Temporary failure in name resolution"],
)
def test_unknown_host_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dns_error: str) -> None:
    """EAI_NONAME and (offline: no DNS server answers) EAI_AGAIN are final: no backoff retries."""
    import httpx

    from platformctl.drivers.sources import Downloader

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        raise httpx.ConnectError(dns_error, request=request)

    monkeypatch.setattr(
        Downloader, "_client", lambda self: httpx.Client(transport=httpx.MockTransport(handler))
    )
    with pytest.raises(SourceError, match=r"after 1 attempt\(s\).*" + re.escape(dns_error.split("] ")[1])):
        _resolver(tmp_path, retries=3).fetch(_pinned("http://mirror.test/demo.yaml"))
    assert len(calls) == 1


def test_mirror_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalHTTPServer() as srv:
        srv.add("/m/demo/v1/demo.yaml", BODY)
        monkeypatch.setenv("PLATFORMCTL_MIRROR", srv.url("/m"))
        f = _pinned("https://example.invalid/demo.yaml")
        assert _resolver(tmp_path).fetch(f).read_bytes() == BODY
        # An explicit empty override means "no mirror" even when the variable is set.
        assert _resolver(tmp_path, base_url_override="").url_for(f) == f.url


def test_bad_manifests_dir_or_mirror_is_a_usage_error_up_front(tmp_path: Path) -> None:
    # Regression: a missing --manifests-dir was silently ignored (fallback to downloads), and
    # --mirror ftp://x retried every file three times before failing.
    lock = load_lock()
    afile = tmp_path / "afile"
    afile.write_text("x")
    for bad in (tmp_path / "missing", afile):
        with pytest.raises(UsageError, match=r"^--manifests-dir .*: not a directory"):
            SourceResolver(lock, manifests_dir=bad, cache_dir=tmp_path / "c")
    for mirror in ("ftp://mirror.invalid/x", "mirror.invalid/x", "http://"):
        with pytest.raises(UsageError, match=r"^--mirror/PLATFORMCTL_MIRROR .*http\(s\)://"):
            SourceResolver(lock, cache_dir=tmp_path / "c", base_url_override=mirror)


def test_unwritable_cache_dir_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    # Regression: "internal error: NotADirectoryError" when the cache dir could not be created.
    afile = tmp_path / "afile"
    afile.write_text("x")
    f = load_lock().release("istio")[1].files[0]
    with pytest.raises(UsageError, match=r"^cache directory .*afile.*: cannot write there") as info:
        SourceResolver(load_lock(), cache_dir=afile / "c", base_url_override="http://127.0.0.1:1").fetch(f)
    assert "PLATFORMCTL_CACHE_DIR" in info.value.message
