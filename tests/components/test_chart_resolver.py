"""Chart integrity (drivers/charts.py): every source verified, tampered and unpinned archives refused.

Archives are the real ones from <upstream>/charts; downloads come from a loopback HTTP server that
plays the chart repository (archive + index.yaml).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from platformctl.drivers.charts import ChartResolver, index_digest
from platformctl.drivers.sources import Downloader
from platformctl.errors import IntegrityError, SourceError
from platformctl.plan.lock import ChartPin, load_lock
from tests.support.charts import MINIMAL_CHARTS, real_charts_dir
from tests.support.httpserver import LocalHTTPServer


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The resolver's tests use one fixed pinned release per chart (Dapr 1.15.14: its archive is the one
# these tests copy and tamper with), whatever the default version set is.
PINNED = {"dapr": "1.15.14", "istio": "1.27.1"}


def pin_of(component: str) -> ChartPin:
    rel = load_lock().components[component].versions[PINNED[component]]
    assert rel.charts is not None
    return rel.charts


def tampered_copy(src: Path, dst_dir: Path) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    dst = dst_dir / src.name
    data = bytearray(src.read_bytes())
    data[-1] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def test_lock_pins_the_real_archives() -> None:
    charts = real_charts_dir()
    dapr = pin_of("dapr")
    assert dapr.digests["dapr"] == sha(charts / f"dapr-{dapr.version}.tgz")
    istio = pin_of("istio")
    assert not istio.digests  # the published Istio archives' digests are not known to the lock
    for name in istio.names:
        assert istio.packaged_digests[name] == sha(charts / f"{name}-{istio.version}.tgz")


def test_charts_dir_archives_verify(tmp_path: Path) -> None:
    charts = real_charts_dir()
    r = ChartResolver(charts_dir=charts, cache_dir=tmp_path, allow_download=False)
    assert r.resolve(pin_of("dapr"), "dapr") == charts / "dapr-1.15.14.tgz"
    assert r.resolve(pin_of("istio"), "istiod") == charts / "istiod-1.27.1.tgz"


@pytest.mark.parametrize(("component", "chart"), [("dapr", "dapr"), ("istio", "gateway")])
def test_tampered_archive_in_charts_dir_names_file_expected_actual(
    tmp_path: Path, component: str, chart: str
) -> None:
    pin = pin_of(component)
    bad = tampered_copy(real_charts_dir() / f"{chart}-{pin.version}.tgz", tmp_path / "charts")
    r = ChartResolver(charts_dir=bad.parent, cache_dir=tmp_path / "cache", allow_download=False)
    with pytest.raises(IntegrityError) as err:
        r.resolve(pin, chart)
    msg = err.value.message
    assert err.value.exit_code == 3
    assert str(bad) in msg and sha(bad) in msg
    expected = pin.digests.get(chart) or pin.packaged_digests[chart]
    assert expected in msg
    if component == "istio":  # no published pin: an unknown archive is "unpinned", the flag is named
        assert "--allow-unpinned-charts" in msg


def test_published_pin_mismatch_is_refused_even_with_allow_unpinned(tmp_path: Path) -> None:
    pin = pin_of("dapr")
    bad = tampered_copy(real_charts_dir() / "dapr-1.15.14.tgz", tmp_path / "charts")
    r = ChartResolver(charts_dir=bad.parent, cache_dir=tmp_path, allow_download=False, allow_unpinned=True)
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        r.resolve(pin, "dapr")


def test_unpinned_istio_archive_allowed_only_with_the_flag(tmp_path: Path) -> None:
    pin = pin_of("istio")
    other = tampered_copy(real_charts_dir() / "base-1.27.1.tgz", tmp_path / "charts")
    strict = ChartResolver(charts_dir=other.parent, cache_dir=tmp_path, allow_download=False)
    with pytest.raises(IntegrityError, match="not pinned"):
        strict.resolve(pin, "base")
    lax = ChartResolver(
        charts_dir=other.parent, cache_dir=tmp_path, allow_download=False, allow_unpinned=True
    )
    assert lax.resolve(pin, "base") == other


def test_unpacked_chart_dir_is_unverifiable(tmp_path: Path) -> None:
    # A chart directory (the minimal test chart): no digest can be pinned for it.
    shutil.copytree(MINIMAL_CHARTS / "gateway", tmp_path / "charts" / "gateway")
    pin = pin_of("istio")
    with pytest.raises(IntegrityError, match="--allow-unpinned-charts"):
        ChartResolver(charts_dir=tmp_path / "charts", cache_dir=tmp_path, allow_download=False).resolve(
            pin, "gateway"
        )
    lax = ChartResolver(
        charts_dir=tmp_path / "charts", cache_dir=tmp_path, allow_download=False, allow_unpinned=True
    )
    assert lax.resolve(pin, "gateway") == tmp_path / "charts" / "gateway"


def test_bundle_charts_dir_is_used_and_verified(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "charts").mkdir(parents=True)
    shutil.copy(real_charts_dir() / "dapr-1.15.14.tgz", bundle / "charts")
    r = ChartResolver(bundle_dir=bundle, cache_dir=tmp_path / "cache", allow_download=False)
    assert r.resolve(pin_of("dapr"), "dapr") == bundle / "charts" / "dapr-1.15.14.tgz"
    tampered_copy(real_charts_dir() / "dapr-1.15.14.tgz", bundle / "charts")
    with pytest.raises(IntegrityError, match="bundle"):
        r.resolve(pin_of("dapr"), "dapr")


def test_missing_without_download_lists_where_it_looked(tmp_path: Path) -> None:
    r = ChartResolver(cache_dir=tmp_path, allow_download=False)
    with pytest.raises(SourceError) as err:
        r.resolve(pin_of("dapr"), "dapr")
    assert "dapr-1.15.14.tgz" in err.value.message and "downloads are disabled" in err.value.message
    assert r.missing(pin_of("dapr"), "dapr") is not None


def fast_downloader() -> Downloader:
    return Downloader(retries=1, backoff=0.0, sleep=lambda _: None, timeout=5)


def test_pinned_download_is_verified_then_cached(tmp_path: Path) -> None:
    data = (real_charts_dir() / "dapr-1.15.14.tgz").read_bytes()
    with LocalHTTPServer() as srv:
        srv.add("/charts/dapr-1.15.14.tgz", data)
        pin = pin_of("dapr").model_copy(update={"repo": srv.url("/charts")})
        r = ChartResolver(cache_dir=tmp_path, downloader=fast_downloader())
        path = r.resolve(pin, "dapr")
        assert path.read_bytes() == data and path.is_relative_to(tmp_path)
        # Second resolve: from the cache, no request.
        before = len(srv.requests)
        assert r.resolve(pin, "dapr") == path
        assert len(srv.requests) == before
        # A corrupted cache entry is dropped and fetched again.
        path.write_bytes(b"garbage")
        assert r.resolve(pin, "dapr").read_bytes() == data


def test_pinned_download_tampered_is_refused(tmp_path: Path) -> None:
    data = (real_charts_dir() / "dapr-1.15.14.tgz").read_bytes()
    with LocalHTTPServer() as srv:
        srv.add("/charts/dapr-1.15.14.tgz", data, tamper=True)
        pin = pin_of("dapr").model_copy(update={"repo": srv.url("/charts")})
        with pytest.raises(IntegrityError, match="sha256 mismatch"):
            ChartResolver(cache_dir=tmp_path, downloader=fast_downloader()).resolve(pin, "dapr")
    assert not list((tmp_path / "charts").rglob("*.tgz"))  # nothing unverified was cached


def index_yaml(name: str, version: str, digest: str, url: str) -> bytes:
    entry = {"name": name, "version": version, "digest": digest, "urls": [url]}
    return yaml.safe_dump({"apiVersion": "v1", "entries": {name: [entry]}}).encode()


def test_unpinned_download_verified_against_index_and_recorded(tmp_path: Path) -> None:
    # Play the published Istio archive with other bytes than the lock knows (as the real one is).
    published = tampered_copy(real_charts_dir() / "gateway-1.27.1.tgz", tmp_path / "published")
    data = published.read_bytes()
    digest = sha(published)
    with LocalHTTPServer() as srv:
        srv.add("/charts/gateway-1.27.1.tgz", data)
        srv.add("/charts/index.yaml", index_yaml("gateway", "1.27.1", digest, "gateway-1.27.1.tgz"))
        pin = pin_of("istio").model_copy(update={"repo": srv.url("/charts")})
        r = ChartResolver(cache_dir=tmp_path / "cache", downloader=fast_downloader())
        path = r.resolve(pin, "gateway")
        assert sha(path) == digest and r.recorded_digest(pin, "gateway") == digest
        # The same archive in --charts-dir is now accepted: its digest is recorded from the index.
        offline = ChartResolver(
            charts_dir=published.parent, cache_dir=tmp_path / "cache", allow_download=False
        )
        assert offline.resolve(pin, "gateway") == published


def test_unpinned_download_not_matching_index_is_refused(tmp_path: Path) -> None:
    data = (real_charts_dir() / "gateway-1.27.1.tgz").read_bytes()
    with LocalHTTPServer() as srv:
        srv.add("/charts/gateway-1.27.1.tgz", data, tamper=True)
        srv.add("/charts/index.yaml", index_yaml("gateway", "1.27.1", hashlib.sha256(data).hexdigest(), "x"))
        srv.routes["/charts/x"] = srv.routes["/charts/gateway-1.27.1.tgz"]
        pin = pin_of("istio").model_copy(update={"repo": srv.url("/charts")})
        with pytest.raises(IntegrityError):
            ChartResolver(cache_dir=tmp_path, downloader=fast_downloader()).resolve(pin, "gateway")


def test_index_digest_parsing() -> None:
    text = index_yaml("base", "1.27.1", "a" * 64, "https://example.invalid/base-1.27.1.tgz").decode()
    absolute = ("https://example.invalid/base-1.27.1.tgz", "a" * 64)
    assert index_digest(text, "base", "1.27.1", "https://r") == absolute
    rel = index_yaml("base", "1.27.1", "b" * 64, "base-1.27.1.tgz").decode()
    relative = ("https://r/charts/base-1.27.1.tgz", "b" * 64)  # urls relative to the repository URL
    assert index_digest(rel, "base", "1.27.1", "https://r/charts") == relative
    with pytest.raises(SourceError, match=r"no chart base version 1\.26\.0"):
        index_digest(text, "base", "1.26.0", "https://r")
    with pytest.raises(SourceError, match="no sha256"):
        index_digest(index_yaml("base", "1.27.1", "nope", "u").decode(), "base", "1.27.1", "https://r")


def test_bundle_sidecar_digest_accepted_only_for_charts_without_a_published_pin(tmp_path: Path) -> None:
    """`platformctl bundle` keeps the index.yaml digest of an unpinned archive in <archive>.sha256."""
    bundle = tmp_path / "bundle" / "charts"
    other = tampered_copy(real_charts_dir() / "istiod-1.27.1.tgz", bundle)
    r = ChartResolver(bundle_dir=bundle.parent, cache_dir=tmp_path / "cache", allow_download=False)
    with pytest.raises(IntegrityError, match="not pinned"):
        r.resolve(pin_of("istio"), "istiod")
    (bundle / "istiod-1.27.1.tgz.sha256").write_text(sha(other) + "\n")
    assert r.resolve(pin_of("istio"), "istiod") == other
    # Dapr's published digest is pinned: a sidecar can never override it.
    dapr = tampered_copy(real_charts_dir() / "dapr-1.15.14.tgz", bundle)
    (bundle / "dapr-1.15.14.tgz.sha256").write_text(sha(dapr) + "\n")
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        r.resolve(pin_of("dapr"), "dapr")
