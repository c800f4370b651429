"""drivers/registry.py and the digest-preserving bundle (usecases/bundle_images.py, bundle_registry.py).

Round trips run between two real registries on loopback (Debian's ``docker-registry``, the program of
the ``registry`` image): images are written into the source through the API, copied into a bundle
directory, verified, then pushed into the second registry under the upstream's prefix, and the
second registry must serve the same manifest digests. The bearer-token flow and a registry serving
altered bytes are exercised with httpx.MockTransport (no socket).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from platformctl.drivers.registry import (
    OCI_MANIFEST,
    RegistryClient,
    base_url,
    parse_challenge,
    parse_reference,
    sha256_digest,
)
from platformctl.errors import IntegrityError, SourceError
from platformctl.usecases.bundle_images import (
    blob_path,
    bundled_for,
    read_manifest,
    save_images,
    sums_lines,
    verify_images,
)
from platformctl.usecases.bundle_registry import hosts_toml, mirror_prefix, push_bundle, target_repository
from tests.support.docker_registry import docker_registry, push_image, push_index


def test_parse_reference_normalises_like_docker() -> None:
    r = parse_reference("redis:7.2.5")
    assert (r.registry, r.repository, r.tag, r.digest) == ("docker.io", "library/redis", "7.2.5", None)
    d = "sha256:" + "a" * 64
    r = parse_reference(f"gcr.io/knative-releases/knative.dev/serving/cmd/queue@{d}")
    assert (r.registry, r.repository, r.tag, r.reference) == (
        "gcr.io",
        "knative-releases/knative.dev/serving/cmd/queue",
        None,
        d,
    )
    r = parse_reference(f"127.0.0.1:5000/team/app:1.0@{d}")
    assert (r.registry, r.repository, r.tag, r.digest) == ("127.0.0.1:5000", "team/app", "1.0", d)
    assert parse_reference("apache/kafka:3.8.0").repository == "apache/kafka"
    with pytest.raises(SourceError, match="digest must be"):
        parse_reference("redis@sha256:short")
    assert base_url("docker.io") == "https://registry-1.docker.io"
    assert base_url("127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert base_url("ghcr.io") == "https://ghcr.io"
    assert base_url("localhost:5000") == "http://localhost:5000"


def test_hosts_toml_uses_a_path_prefix_per_upstream_with_override_path() -> None:
    text = hosts_toml("gcr.io")
    assert text.startswith('server = "https://gcr.io"\n')
    assert '[host."http://platformctl-bundle-registry:5000/v2/gcr.io"]' in text
    assert "override_path = true" in text and 'capabilities = ["pull", "resolve"]' in text
    assert 'server = "https://registry-1.docker.io"' in hosts_toml("docker.io")
    assert mirror_prefix("127.0.0.1:5000") == "127.0.0.1-5000"
    assert target_repository("redis:7.2.5") == "docker.io/library/redis"


def _token_transport(seen: list[httpx.Request], body: bytes) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "auth.example.test":
            return httpx.Response(200, json={"token": "tok-123"})
        if request.headers.get("authorization") != "Bearer tok-123":
            return httpx.Response(
                401,
                headers={
                    "WWW-Authenticate": 'Bearer realm="https://auth.example.test/token",'
                    'service="registry.example.test",scope="repository:team/app:pull"'
                },
            )
        return httpx.Response(200, content=body, headers={"Content-Type": OCI_MANIFEST})

    return httpx.MockTransport(handler)


def test_anonymous_bearer_token_flow() -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()
    seen: list[httpx.Request] = []
    ref = parse_reference(f"registry.example.test/team/app@{sha256_digest(body)}")
    with RegistryClient(transport=_token_transport(seen, body)) as client:
        m = client.manifest(ref)
        assert m.digest == sha256_digest(body) and m.media_type == OCI_MANIFEST
        client.manifest(ref)  # the token is kept: no second challenge
    hosts = [r.url.host for r in seen]
    assert hosts == [
        "registry.example.test",
        "auth.example.test",
        "registry.example.test",
        "registry.example.test",
    ]
    token_req = seen[1]
    assert token_req.url.params["scope"] == "repository:team/app:pull"
    assert token_req.url.params["service"] == "registry.example.test"
    assert seen[0].url.scheme == "https" and "authorization" not in seen[0].headers
    assert parse_challenge('Basic realm="x"') is None


def test_altered_manifest_and_blob_are_refused(tmp_path: Path) -> None:
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode()
    wanted = sha256_digest(b"the real blob")

    def handler(request: httpx.Request) -> httpx.Response:
        if "/blobs/" in request.url.path:
            return httpx.Response(200, content=b"not the real blob")
        return httpx.Response(200, content=body + b" ", headers={"Content-Type": OCI_MANIFEST})

    ref = parse_reference(f"registry.example.test/team/app@{sha256_digest(body)}")
    with RegistryClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(IntegrityError, match="arrived with sha256"):
            client.manifest(ref)
        dest = tmp_path / "blob"
        with pytest.raises(IntegrityError, match=f"blob {wanted} arrived with sha256"):
            client.fetch_blob(ref, wanted, dest)
        assert not dest.exists() and list(tmp_path.iterdir()) == []  # nothing half-written is kept


def _served_digest(address: str, repository: str, reference: str) -> str:
    with RegistryClient() as client:
        return client.manifest(parse_reference(f"{address}/{repository}:x"), reference).digest


def test_bundle_round_trip_between_two_registries_keeps_digests(tmp_path: Path) -> None:
    with docker_registry(tmp_path / "src") as src, docker_registry(tmp_path / "dst") as dst:
        app = push_image(src, "pctl/app", "1.0", b"app layer")
        index = push_index(src, "pctl/multi", "2.0", b"multi layer", ("amd64", "arm64"))
        images = [app.tagged, app.pinned, f"{index.tagged}@{index.digest}"]
        bundle = tmp_path / "bundle"
        with RegistryClient() as client:
            results = save_images(bundle, images, client, platforms=[("linux", "amd64"), ("linux", "arm64")])
        assert results and all(r.status == "added" for r in results), [r.message for r in results]
        assert len({r.path for r in results}) == len(results)  # shared blobs are one row
        entries = read_manifest(bundle)
        assert entries is not None and set(entries) == set(images)
        assert entries[app.pinned].digest == app.digest == entries[app.tagged].digest
        assert entries[images[2]].digest == index.digest
        for digest in app.blobs + index.blobs:
            assert (bundle / blob_path(digest)).is_file()
        layout = json.loads((bundle / "images" / "index.json").read_text())
        assert {m["annotations"]["org.opencontainers.image.ref.name"] for m in layout["manifests"]} == set(
            images
        )
        assert all(r.good for r in verify_images(bundle))
        assert any(line.startswith(app.digest.removeprefix("sha256:")) for line in sums_lines(bundle))
        # A second run downloads nothing and keeps every entry.
        with RegistryClient() as client:
            again = save_images(bundle, images, client, platforms=[("linux", "amd64"), ("linux", "arm64")])
        assert all(r.status == "ok" for r in again)

        with RegistryClient() as client:
            uploaded = push_bundle(bundle, bundled_for(bundle, images), client, dst)
        assert uploaded == 2 + 4  # app config+layer; two children × (config+layer); shared ones once
        prefix = mirror_prefix(src)
        assert _served_digest(dst, f"{prefix}/pctl/app", "1.0") == app.digest
        assert _served_digest(dst, f"{prefix}/pctl/app", app.digest) == app.digest
        assert _served_digest(dst, f"{prefix}/pctl/multi", "2.0") == index.digest
        with RegistryClient() as client:
            again_uploaded = push_bundle(bundle, bundled_for(bundle, images), client, dst)
        assert again_uploaded == 0  # blobs the registry has are skipped (HEAD)


def test_only_the_wanted_platforms_of_an_index_are_bundled(tmp_path: Path) -> None:
    with docker_registry(tmp_path / "src") as src:
        index = push_index(src, "pctl/multi", "2.0", b"multi layer", ("amd64", "arm64"))
        bundle = tmp_path / "bundle"
        with RegistryClient() as client:
            save_images(bundle, [index.tagged], client, platforms=[("linux", "arm64")])
            missing = save_images(bundle, [f"{src}/pctl/multi:2.0"], client, platforms=[("linux", "s390x")])
        entry = (read_manifest(bundle) or {})[index.tagged]
        digests = {b.digest for b in entry.blobs}
        assert index.digest in digests and index.blobs[2] in digests  # the index, the arm64 manifest
        assert index.blobs[1] not in digests  # the amd64 manifest is not copied
        assert entry.digest == index.digest  # the index itself is kept whole: same digest
        assert missing and missing[0].status == "ok"  # already bundled: kept, not copied again


def test_missing_and_tampered_bundle_images_are_refused(tmp_path: Path) -> None:
    with docker_registry(tmp_path / "src") as src:
        app = push_image(src, "pctl/app", "1.0", b"app layer")
        bundle = tmp_path / "bundle"
        with RegistryClient() as client:
            save_images(bundle, [app.tagged], client)
    with pytest.raises(SourceError, match=f"the bundle lacks image {src}/pctl/other:1") as info:
        bundled_for(bundle, [app.tagged, f"{src}/pctl/other:1"])
    assert info.value.exit_code == 3
    layer_digest = app.blobs[2]
    path = bundle / blob_path(layer_digest)
    path.write_bytes(b"x" * path.stat().st_size)
    with pytest.raises(IntegrityError, match="is sha256-mismatch") as bad:
        bundled_for(bundle, [app.tagged])
    assert bad.value.exit_code == 3 and blob_path(layer_digest) in bad.value.message
    assert [r.status for r in verify_images(bundle) if not r.good] == ["sha256-mismatch"]
    # An entry whose recorded digest is not the pinned one is refused too.
    with pytest.raises(SourceError, match="lacks image"):
        bundled_for(bundle, [f"{src}/pctl/app@sha256:{'0' * 64}"])


def test_schema_1_bundles_are_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "manifest.json").write_text(json.dumps({"schema": 1, "images": []}))
    with pytest.raises(IntegrityError, match="schema 1 held `docker save` archives") as info:
        read_manifest(tmp_path)
    assert info.value.exit_code == 3 and "remove" in (info.value.hint or "")
