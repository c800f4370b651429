"""Container images in an offline bundle: ``bundle DIR --images`` and ``up --manifests-dir DIR``.

The images are copied registry to bundle with their manifests' exact bytes (drivers/registry.py), so
every digest a Kubernetes manifest pins (``image@sha256:…``) is still the digest of what the bundle
serves. Layout inside the bundle directory, an OCI image layout (opencontainers/image-spec
image-layout.md: ``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``):

    images/oci-layout            {"imageLayoutVersion": "1.0.0"}
    images/index.json            one descriptor per image, its reference in the
                                 org.opencontainers.image.ref.name annotation
    images/blobs/sha256/<hex>    every index, manifest, config and layer, shared between images
    images/manifest.json         {"schema": 2, "images": [{"image", "digest", "media_type", "size",
                                 "blobs": [{"digest", "size"}, …]}, …]}

A multi-platform index is kept whole (its bytes, so its digest) with the manifests and layers of the
platforms asked for (default: this machine's, linux/<arch>); the registry ``up`` pushes into accepts
such an index because it is told not to require the other platforms (registry ``validation.
manifests.indexes.platforms: none``, see usecases/bundle_registry.py).

Every blob file is named by its sha256, each is a line of the bundle's SHA256SUMS (``sha256sum -c``
works), and ``bundle --verify`` checks them. An image's entry is written only after all its blobs are
complete and verified. ``up --manifests-dir DIR`` checks every image the render needs against the
manifest before anything is created (missing → SourceError, wrong bytes → IntegrityError: exit 3),
then serves the images from a local registry the nodes pull through (usecases/bundle_registry.py).
"""

from __future__ import annotations

import json
import os
import platform as host_platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from platformctl import reporting
from platformctl.drivers.registry import INDEX_TYPES, Manifest, Reference, parse_reference
from platformctl.drivers.sources import sha256_file
from platformctl.errors import IntegrityError, PlatformError, SourceError

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.bundle import BundleFile
    from platformctl.usecases.render import SourceOptions

IMAGES_DIR = "images"
MANIFEST = f"{IMAGES_DIR}/manifest.json"
BLOBS = f"{IMAGES_DIR}/blobs/sha256"
SCHEMA = 2
REF_ANNOTATION = "org.opencontainers.image.ref.name"  # image-spec annotations.md
# Go's GOARCH names, as image indexes' platform.architecture uses them (image-spec image-index.md).
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_platforms() -> list[tuple[str, str]]:
    machine = host_platform.machine().lower()
    return [("linux", _ARCH.get(machine, machine))]


class Puller(Protocol):
    """What saving needs from a registry (drivers/registry.py RegistryClient)."""

    def manifest(self, ref: Reference, reference: str | None = None) -> Manifest: ...

    def fetch_blob(self, ref: Reference, digest: str, dest: Path, size: int | None = None) -> int: ...


@dataclass(frozen=True)
class BlobRef:
    digest: str
    size: int


@dataclass(frozen=True)
class BundledImage:
    image: str
    digest: str  # of the top manifest or index: what the registry serves for this reference
    media_type: str
    size: int
    blobs: tuple[BlobRef, ...] = field(default=())  # everything the image needs, the top one included

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "digest": self.digest,
            "media_type": self.media_type,
            "size": self.size,
            "blobs": [{"digest": b.digest, "size": b.size} for b in self.blobs],
        }


def blob_path(digest: str) -> str:
    """The bundle-relative path of a blob (``images/blobs/sha256/<hex>``)."""
    return f"{BLOBS}/{digest.removeprefix('sha256:')}"


def read_manifest(directory: Path) -> dict[str, BundledImage] | None:
    """image → entry, or None when the bundle carries no images. Corrupt or an older format →
    IntegrityError (exit 3)."""
    path = directory / MANIFEST
    if not path.is_file():
        return None
    hint = f"re-create it with `platformctl bundle {directory} --images`"
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        schema = raw.get("schema") if isinstance(raw, dict) else None
    except (OSError, ValueError) as exc:
        raise IntegrityError(f"{path}: not a platformctl image manifest ({exc})", hint=hint) from None
    if schema != SCHEMA:
        raise IntegrityError(
            f"{path}: image manifest schema {schema!r}, this platformctl reads schema {SCHEMA} "
            "(schema 1 held `docker save` archives, which lose the digests)",
            hint=f"remove {directory / IMAGES_DIR} and run `platformctl bundle {directory} --images`",
        )
    try:
        entries = [
            BundledImage(
                image=str(e["image"]),
                digest=str(e["digest"]),
                media_type=str(e["media_type"]),
                size=int(e["size"]),
                blobs=tuple(BlobRef(str(b["digest"]), int(b["size"])) for b in e["blobs"]),
            )
            for e in raw["images"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"{path}: not a platformctl image manifest ({exc})", hint=hint) from None
    return {e.image: e for e in entries}


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_manifest(directory: Path, entries: Sequence[BundledImage]) -> None:
    """images/manifest.json, plus the OCI layout's ``oci-layout`` and ``index.json``."""
    ordered = sorted(entries, key=lambda e: e.image)
    data = {"schema": SCHEMA, "images": [e.to_dict() for e in ordered]}
    _write_atomic(directory / MANIFEST, (json.dumps(data, indent=2) + "\n").encode())
    layout = {"imageLayoutVersion": "1.0.0"}
    _write_atomic(directory / IMAGES_DIR / "oci-layout", (json.dumps(layout) + "\n").encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": e.media_type,
                "digest": e.digest,
                "size": e.size,
                "annotations": {REF_ANNOTATION: e.image},
            }
            for e in ordered
        ],
    }
    _write_atomic(directory / IMAGES_DIR / "index.json", (json.dumps(index, indent=2) + "\n").encode())


def _all_blobs(entries: Iterable[BundledImage]) -> dict[str, tuple[BlobRef, str]]:
    """digest → (blob, the first image that needs it), over all entries."""
    out: dict[str, tuple[BlobRef, str]] = {}
    for e in sorted(entries, key=lambda e: e.image):
        for b in e.blobs:
            out.setdefault(b.digest, (b, e.image))
    return out


def sums_lines(directory: Path) -> list[str]:
    """SHA256SUMS lines for the bundled blobs (bundle.py appends them to the manifests' lines)."""
    blobs = _all_blobs((read_manifest(directory) or {}).values())
    return [f"{d.removeprefix('sha256:')}  ./{blob_path(d)}\n" for d in sorted(blobs)]


def check_blob(directory: Path, blob: BlobRef, image: str) -> BundleFile:
    """One blob against its name and recorded size (the same statuses as the manifests' files)."""
    from platformctl.usecases.bundle import BundleFile

    rel = blob_path(blob.digest)
    hexdigest = blob.digest.removeprefix("sha256:")
    base: dict[str, Any] = {
        "component": "images",
        "path": rel,
        "expected_size": blob.size,
        "expected_sha256": hexdigest,
    }
    path = directory / rel
    if not path.is_file():
        return BundleFile(status="missing", message=f"{image}: {path} does not exist", **base)
    size = path.stat().st_size
    if size != blob.size:
        return BundleFile(
            status="size-mismatch",
            actual_size=size,
            message=f"{image}: {size} bytes, manifest says {blob.size}",
            **base,
        )
    digest = sha256_file(path)
    if digest != hexdigest:
        return BundleFile(
            status="sha256-mismatch",
            actual_size=size,
            actual_sha256=digest,
            message=f"{image}: sha256 {digest}, its name says {hexdigest}",
            **base,
        )
    return BundleFile(status="ok", actual_size=size, actual_sha256=digest, **base)


def verify_images(directory: Path) -> list[BundleFile]:
    """Every blob the manifest lists (empty when the bundle has no images)."""
    blobs = _all_blobs((read_manifest(directory) or {}).values())
    return [check_blob(directory, b, image) for _, (b, image) in sorted(blobs.items())]


def _platform_children(index: dict[str, Any], platforms: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """The index entries for ``platforms`` (os, architecture); attestations (unknown/unknown) skipped."""
    out = []
    for d in index.get("manifests") or []:
        p = d.get("platform") or {}
        if (p.get("os"), p.get("architecture")) in platforms:
            out.append(d)
    return out


def _save_one(
    directory: Path, image: str, client: Puller, platforms: Sequence[tuple[str, str]]
) -> tuple[BundledImage, int, set[str]]:
    """Copy one image into the bundle; (its entry, bytes downloaded, digests written now)."""
    ref = parse_reference(image)
    top = client.manifest(ref)
    manifests: list[Manifest] = [top]
    if top.media_type in INDEX_TYPES:
        children = _platform_children(top.json(), platforms)
        if not children:
            wanted = ", ".join(f"{o}/{a}" for o, a in platforms)
            raise SourceError(f"image {image}: its index has no manifest for {wanted}")
        manifests += [client.manifest(ref, str(d["digest"])) for d in children]
    blobs: dict[str, BlobRef] = {}
    written: set[str] = set()
    for m in manifests:
        blobs[m.digest] = BlobRef(m.digest, len(m.data))
        dest = directory / blob_path(m.digest)
        if not (dest.is_file() and "sha256:" + sha256_file(dest) == m.digest):
            _write_atomic(dest, m.data)
            written.add(m.digest)
    fetched = 0
    for m in manifests[1:] if top.media_type in INDEX_TYPES else manifests:
        body = m.json()
        for d in [body.get("config") or {}, *(body.get("layers") or [])]:
            digest, size = str(d.get("digest", "")), int(d.get("size", -1))
            if digest in blobs:
                continue
            blob = BlobRef(digest, size)
            blobs[digest] = blob
            if check_blob(directory, blob, image).good:
                continue  # already in the bundle (another image shares it, or an earlier run)
            fetched += client.fetch_blob(ref, digest, directory / blob_path(digest), size)
            written.add(digest)
    entry = BundledImage(image, top.digest, top.media_type, len(top.data), tuple(blobs.values()))
    return entry, fetched, written


def save_images(
    directory: Path,
    images: Sequence[str],
    client: Puller,
    *,
    platforms: Sequence[tuple[str, str]] | None = None,
    reporter: Reporter | None = None,
) -> list[BundleFile]:
    """Copy every image into ``directory``/images (blobs already there and intact are kept); the
    manifest keeps the entries of images saved earlier. Failures are reported per image (status
    ``error``) and the rest are still saved, so one run shows everything that is wrong."""
    from platformctl.usecases.bundle import BundleFile

    rep = reporter or reporting.NullReporter()
    plats = list(platforms or host_platforms())
    existing = read_manifest(directory) or {}
    entries = dict(existing)
    results: list[BundleFile] = []
    unique = list(dict.fromkeys(images))
    reported: set[str] = set()  # a blob shared by several images is one row of the report

    def report(checks: list[BundleFile]) -> None:
        for c in checks:
            if c.path not in reported or not c.good:
                reported.add(c.path)
                results.append(c)

    for n, image in enumerate(unique, start=1):
        step = f"image {image}"
        known = entries.get(image)
        if known is not None:
            checks = [check_blob(directory, b, image) for b in known.blobs]
            if all(c.good for c in checks):
                report(checks)
                continue
        reporting.start(rep, step, f"copying from its registry ({n}/{len(unique)})")
        try:
            entry, fetched, written = _save_one(directory, image, client, plats)
        except (PlatformError, OSError) as exc:
            message = exc.message if isinstance(exc, PlatformError) else str(exc)
            results.append(
                BundleFile(
                    component="images",
                    path=f"{IMAGES_DIR}/{image}",
                    status="error",
                    expected_size=0,
                    expected_sha256="",
                    message=f"{image}: {message}",
                )
            )
            reporting.fail(rep, step, message)
            continue
        entries[image] = entry
        checks = [
            replace(c, status="added") if c.good and b.digest in written else c
            for b, c in ((b, check_blob(directory, b, image)) for b in entry.blobs)
        ]
        if all(c.good for c in checks):
            write_manifest(directory, list(entries.values()))
        report(checks)
        total = sum(b.size for b in entry.blobs)
        reporting.finish(rep, step, f"{total / 1e6:.1f} MB, {fetched / 1e6:.1f} MB downloaded")
    return results


def bundle_image_list(spec: PlatformSpec, sources: SourceOptions) -> list[str]:
    """What ``bundle --images`` copies: every image of the render (``platformctl images``), the
    pinned registry image that serves them during ``up``, and on kind the pinned node image."""
    from platformctl.providers import docker_nodes
    from platformctl.usecases.images import list_images
    from platformctl.usecases.registry_cache import REGISTRY_IMAGE

    names = list_images(spec, sources=sources).names()
    if docker_nodes(spec.cluster.provider):
        names.append(REGISTRY_IMAGE)
        names.append(node_image(spec))
    return list(dict.fromkeys(names))


def node_image(spec: PlatformSpec) -> str:
    """kind's node image as the cluster would use it (providers/kind.py)."""
    from platformctl.plan.lock import load_lock

    return spec.cluster.node_image or load_lock().selected_set(spec)[1].kind.node_image


def copy_images(
    directory: Path, images: Sequence[str], *, reporter: Reporter | None = None
) -> list[BundleFile]:
    """``save_images`` from the images' own registries (drivers/registry.py)."""
    from platformctl.drivers.registry import RegistryClient

    with RegistryClient() as client:
        return save_images(directory, images, client, reporter=reporter)


def bundled_for(directory: Path, images: Sequence[str]) -> list[BundledImage]:
    """The entries of ``images``, every blob verified, for ``up --manifests-dir`` before it changes
    anything. Missing image → SourceError; a missing or altered blob → IntegrityError (exit 3)."""
    entries = read_manifest(directory)
    if entries is None:
        return []
    missing = [i for i in images if i not in entries]
    if missing:
        raise SourceError(
            f"--manifests-dir {directory}: the bundle lacks image {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            details=[f"missing: {i}" for i in missing],
            hint=f"on a connected machine run `platformctl bundle {directory} --images` again",
        )
    out: list[BundledImage] = []
    checked: set[str] = set()
    for image in images:
        entry = entries[image]
        pinned = image.partition("@")[2]
        if pinned and entry.digest != pinned:
            raise IntegrityError(
                f"--manifests-dir {directory}: image {image} is recorded with digest {entry.digest}",
                hint=f"re-create it with `platformctl bundle {directory} --images`",
            )
        for blob in entry.blobs:
            if blob.digest in checked:
                continue
            result = check_blob(directory, blob, image)
            if not result.good:
                raise IntegrityError(
                    f"--manifests-dir {directory}: {result.path} is {result.status}: {result.message}",
                    hint=f"re-create it with `platformctl bundle {directory} --images` and copy it again",
                )
            checked.add(blob.digest)
        out.append(entry)
    return out
