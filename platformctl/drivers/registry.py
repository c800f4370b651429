"""A client of the OCI distribution (Docker registry v2) HTTP API: copy images byte for byte.

Pull: ``GET /v2/<name>/manifests/<reference>`` with an ``Accept`` of the index and manifest media
types, ``GET /v2/<name>/blobs/<digest>`` (opencontainers/distribution-spec spec.md "Pulling
manifests", "Pulling blobs"). Push: ``HEAD /v2/<name>/blobs/<digest>`` (skip what is there),
``POST /v2/<name>/blobs/uploads/`` then ``PUT <Location>?digest=<digest>`` with the whole blob
(spec.md "Pushing a blob monolithically", POST then PUT), ``PUT /v2/<name>/manifests/<reference>``
with the exact manifest bytes and their ``Content-Type`` (spec.md "Pushing Manifests").

Every manifest and blob is checked against its sha256 digest before it is used or kept, so a copy
keeps the digests the Kubernetes manifests ask for (``image@sha256:…``).

Auth: anonymous bearer tokens. A ``401`` with ``WWW-Authenticate: Bearer realm=…,service=…`` is
answered by ``GET <realm>?service=<service>&scope=repository:<name>:<actions>`` and the request is
retried with ``Authorization: Bearer <token>`` (the response carries ``token`` or ``access_token``:
distribution/distribution docs/spec/auth/token.md). Docker Hub's API is at registry-1.docker.io
(distribution docs/content/recipes/mirror.md). Plain HTTP only for loopback registries.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from platformctl.errors import IntegrityError, SourceError

if TYPE_CHECKING:
    import httpx

# opencontainers/image-spec media-types.md and the Docker image manifest v2 schema 2 /
# manifest list media types (distribution docs/content/spec/manifest-v2-2.md).
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
DOCKER_HUB = "docker.io"
# Docker Hub's registry API host (distribution docs/content/recipes/mirror.md: proxy.remoteurl).
API_HOSTS: dict[str, str] = {DOCKER_HUB: "registry-1.docker.io"}
Pinning = Literal["digest", "tag", "unpinned"]
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Reference:
    """An image reference normalised the way Docker does (docker.io/library/<name> for short names)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def pinning(self) -> Pinning:
        """How firmly the reference names one image: a digest, a tag other than ``latest``, or not."""
        if self.digest:
            return "digest"
        if self.tag and self.tag != "latest":
            return "tag"
        return "unpinned"

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(image: str) -> Reference:
    """``[registry/]repository[:tag][@sha256:…]``. The first path component is a registry when it
    has a ``.`` or ``:`` or is ``localhost`` (distribution/reference normalize.go splitDockerDomain)."""
    name, at, digest = image.partition("@")
    if at and not DIGEST_RE.match(digest):
        raise SourceError(f"image {image}: digest must be sha256:<64 hex>")
    tag: str | None = None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if not repository or repository != repository.lower():
        raise SourceError(f"image {image}: not a valid repository name")
    return Reference(registry, repository, tag, digest or None)


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry.split("]")[0] + "]"
    return host in ("localhost", "[::1]") or host.startswith("127.")


def base_url(registry: str) -> str:
    """The API root of ``registry``: https, except plain HTTP for loopback registries."""
    if is_loopback(registry):
        return f"http://{registry}"
    return f"https://{API_HOSTS.get(registry, registry)}"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    media_type: str
    data: bytes  # the exact bytes the registry served: their sha256 is the digest
    digest: str

    def json(self) -> dict[str, Any]:
        import json

        value = json.loads(self.data)
        if not isinstance(value, dict):
            raise IntegrityError(f"manifest {self.digest}: not a JSON object")
        return value


def parse_challenge(header: str) -> dict[str, str] | None:
    """``Bearer realm="…",service="…",scope="…"`` → its parameters (None for other schemes)."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return {k.lower(): v for k, v in re.findall(r'(\w+)="([^"]*)"', params)}


class RegistryClient:
    """One client per operation; tokens are kept per (registry, repository, actions)."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None, timeout: float = 300.0) -> None:
        import httpx

        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=15.0),
            follow_redirects=True,  # blobs are often served from a CDN (Location); auth is not forwarded
            headers={"User-Agent": "platformctl"},
        )
        self._tokens: dict[tuple[str, str, str], str] = {}

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------------
    def _token(self, registry: str, repository: str, actions: str, challenge: dict[str, str]) -> str:
        import httpx

        realm = challenge.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise SourceError(f"registry {registry}: bad token realm {realm!r}")
        params = {"scope": f"repository:{repository}:{actions}"}
        if challenge.get("service"):
            params["service"] = challenge["service"]
        try:
            resp = self._http.get(realm, params=params)
            body = resp.json() if resp.status_code == 200 else {}
        except (httpx.HTTPError, ValueError) as exc:
            raise SourceError(f"registry {registry}: token request to {realm} failed: {exc}") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceError(
                f"registry {registry}: no anonymous {actions} token for {repository} "
                f"(token endpoint answered HTTP {resp.status_code})"
            )
        return token

    def _send(
        self,
        method: str,
        registry: str,
        repository: str,
        url: str,
        *,
        actions: str = "pull",
        headers: dict[str, str] | None = None,
        content: Any = None,
        stream: bool = False,
    ) -> httpx.Response:
        import httpx

        key = (registry, repository, actions)
        for attempt in (1, 2):
            hdrs = dict(headers or {})
            if key in self._tokens:
                hdrs["Authorization"] = f"Bearer {self._tokens[key]}"
            try:
                req = self._http.build_request(method, url, headers=hdrs, content=content)
                resp = self._http.send(req, stream=stream)
            except httpx.HTTPError as exc:
                raise SourceError(
                    f"registry {registry}: {method} {url}: {exc or type(exc).__name__}"
                ) from None
            if resp.status_code != 401 or attempt == 2:
                return resp
            challenge = parse_challenge(resp.headers.get("www-authenticate", ""))
            resp.close()
            if challenge is None:
                break
            self._tokens[key] = self._token(registry, repository, actions, challenge)
        raise SourceError(f"registry {registry}: {method} {url}: unauthorized (HTTP 401)")

    @staticmethod
    def _error(resp: httpx.Response, what: str) -> SourceError:
        import httpx

        try:
            text = resp.read().decode(errors="replace")[:200].strip()
        except (httpx.HTTPError, OSError):
            text = ""
        return SourceError(f"{what}: HTTP {resp.status_code}{': ' + text if text else ''}")

    def wait_ready(self, registry: str, *, timeout: float = 60.0) -> None:
        """Poll ``GET /v2/`` (the API version check: 200, or 401 when auth is needed) until it answers,
        within ``timeout`` seconds; SourceError naming the last problem otherwise."""
        import time

        import httpx

        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            try:
                resp = self._http.get(f"{base_url(registry)}/v2/", timeout=5.0)
                if resp.status_code in (200, 401):
                    return
                last = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                last = str(exc) or type(exc).__name__
            if time.monotonic() > deadline:
                raise SourceError(f"registry {registry} did not answer within {timeout:.0f}s: {last}")
            time.sleep(0.3)

    # -- pull -------------------------------------------------------------------------------------
    def manifest(self, ref: Reference, reference: str | None = None) -> Manifest:
        """The manifest or index at ``reference`` (default: the ref's digest or tag), verified against
        the digest when the reference is one; otherwise its digest is computed from the bytes."""
        want = reference or ref.reference
        url = f"{base_url(ref.registry)}/v2/{ref.repository}/manifests/{want}"
        resp = self._send("GET", ref.registry, ref.repository, url, headers={"Accept": ACCEPT})
        if resp.status_code != 200:
            raise self._error(resp, f"image {ref}: manifest {want}")
        data = resp.content
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        digest = sha256_digest(data)
        if DIGEST_RE.match(want) and digest != want:
            raise IntegrityError(f"image {ref}: manifest {want} arrived with sha256 {digest}")
        try:
            import json

            declared = json.loads(data).get("mediaType")
        except (ValueError, AttributeError):
            raise IntegrityError(f"image {ref}: manifest {want} is not JSON") from None
        if isinstance(declared, str) and declared:
            media_type = declared
        if media_type not in INDEX_TYPES | MANIFEST_TYPES:
            raise SourceError(f"image {ref}: manifest {want} has unsupported media type {media_type!r}")
        return Manifest(media_type, data, digest)

    def fetch_blob(self, ref: Reference, digest: str, dest: Path, size: int | None = None) -> int:
        """Stream blob ``digest`` of ``ref``'s repository into ``dest`` (atomically), verified; bytes."""
        if not DIGEST_RE.match(digest):
            raise IntegrityError(f"image {ref}: blob digest {digest!r} is not sha256:<64 hex>")
        url = f"{base_url(ref.registry)}/v2/{ref.repository}/blobs/{digest}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            h = hashlib.sha256()
            total = 0
            resp = self._send("GET", ref.registry, ref.repository, url, stream=True)
            try:
                if resp.status_code != 200:
                    raise self._error(resp, f"image {ref}: blob {digest}")
                with os.fdopen(fd, "wb") as fh:
                    fd = -1
                    for chunk in resp.iter_bytes(CHUNK):
                        h.update(chunk)
                        total += len(chunk)
                        fh.write(chunk)
            finally:
                resp.close()
            got = "sha256:" + h.hexdigest()
            if got != digest or (size is not None and total != size):
                raise IntegrityError(
                    f"image {ref}: blob {digest} arrived with sha256 {got} ({total} bytes"
                    + (f", expected {size})" if size is not None else ")")
                )
            os.replace(tmp, dest)
            return total
        except OSError as exc:
            raise SourceError(f"image {ref}: writing blob {digest} to {dest}: {exc}") from None
        finally:
            if fd >= 0:
                os.close(fd)
            tmp.unlink(missing_ok=True)

    # -- push -------------------------------------------------------------------------------------
    def blob_exists(self, registry: str, repository: str, digest: str) -> bool:
        url = f"{base_url(registry)}/v2/{repository}/blobs/{digest}"
        resp = self._send("HEAD", registry, repository, url, actions="pull,push")
        resp.close()
        return resp.status_code == 200

    def push_blob(self, registry: str, repository: str, digest: str, path: Path) -> bool:
        """Upload ``path`` as blob ``digest`` unless the registry has it; True when uploaded.
        The file is hashed first: a blob whose bytes do not match its name is never pushed."""
        from platformctl.drivers.sources import sha256_file

        if "sha256:" + sha256_file(path) != digest:
            raise IntegrityError(f"blob {path}: its sha256 is not {digest}")
        if self.blob_exists(registry, repository, digest):
            return False
        root = base_url(registry)
        start = self._send(
            "POST", registry, repository, f"{root}/v2/{repository}/blobs/uploads/", actions="pull,push"
        )
        if start.status_code != 202 or not start.headers.get("location"):
            raise self._error(start, f"push {registry}/{repository}: starting the upload of {digest}")
        location = start.headers["location"]
        if location.startswith("/"):
            location = root + location
        location += ("&" if "?" in location else "?") + f"digest={digest}"

        def body() -> Iterator[bytes]:
            with path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        size = path.stat().st_size
        done = self._send(
            "PUT",
            registry,
            repository,
            location,
            actions="pull,push",
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            content=body(),
        )
        if done.status_code != 201:
            raise self._error(done, f"push {registry}/{repository}: blob {digest}")
        return True

    def put_manifest(self, registry: str, repository: str, reference: str, manifest: Manifest) -> str:
        """PUT the exact manifest bytes; returns the digest the registry reports (checked)."""
        if sha256_digest(manifest.data) != manifest.digest:
            raise IntegrityError(f"manifest {manifest.digest}: its bytes have another sha256")
        url = f"{base_url(registry)}/v2/{repository}/manifests/{reference}"
        resp = self._send(
            "PUT",
            registry,
            repository,
            url,
            actions="pull,push",
            headers={"Content-Type": manifest.media_type},
            content=manifest.data,
        )
        if resp.status_code != 201:
            raise self._error(resp, f"push {registry}/{repository}: manifest {reference}")
        served = resp.headers.get("docker-content-digest", manifest.digest)
        if served != manifest.digest:
            raise IntegrityError(
                f"push {registry}/{repository}: registry stored manifest {reference} as {served}, "
                f"not {manifest.digest}"
            )
        return str(served)
