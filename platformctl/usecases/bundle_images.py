"""Container images in an offline bundle: ``bundle DIR --images`` and ``up --manifests-dir DIR``.

Layout inside the bundle directory:

    images/<name>.tar       one ``docker save`` archive per image
    images/manifest.json    {"schema": 1, "images": [{"image", "archive", "sha256", "size"}, …]}

and each archive's sha256 is also a line of the bundle's SHA256SUMS (``sha256sum -c`` works). The
manifest is written only after an archive is complete and hashed, so a half-written archive is never
listed. ``up --manifests-dir DIR`` with a bundle that has ``images/`` checks every image the render
needs against the manifest (missing → SourceError, wrong bytes → IntegrityError: exit 3, before the
cluster is touched), then loads the archives into the kind node(s) with ``kind load image-archive``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from platformctl import reporting
from platformctl.drivers.sources import sha256_file
from platformctl.errors import ClusterError, IntegrityError, PlatformError, SourceError

if TYPE_CHECKING:
    from platformctl.reporting import Reporter
    from platformctl.usecases.bundle import BundleFile

IMAGES_DIR = "images"
MANIFEST = f"{IMAGES_DIR}/manifest.json"
SCHEMA = 1


class ImageStore(Protocol):
    """What saving needs from Docker (drivers/docker.py ImageClient)."""

    def pull(self, image: str) -> None: ...

    def save(self, image: str, dest: Path) -> None: ...


@dataclass(frozen=True)
class BundledImage:
    image: str
    archive: str  # path relative to the bundle directory
    sha256: str
    size: int


def archive_name(image: str) -> str:
    """A file name per image: readable, filesystem-safe, unique (a short hash of the full reference)."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", image.split("@", 1)[0])[:120]
    return f"{IMAGES_DIR}/{readable}-{hashlib.sha256(image.encode()).hexdigest()[:12]}.tar"


def read_manifest(directory: Path) -> dict[str, BundledImage] | None:
    """image → entry, or None when the bundle carries no images. Corrupt → IntegrityError (exit 3)."""
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        entries = [
            BundledImage(**{k: e[k] for k in ("image", "archive", "sha256", "size")}) for e in raw["images"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(
            f"{path}: not a platformctl image manifest ({exc})",
            hint=f"re-create it with `platformctl bundle {directory} --images`",
        ) from None
    return {e.image: e for e in entries}


def write_manifest(directory: Path, entries: Sequence[BundledImage]) -> None:
    path = directory / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"schema": SCHEMA, "images": [asdict(e) for e in sorted(entries, key=lambda e: e.image)]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def sums_lines(directory: Path) -> list[str]:
    """SHA256SUMS lines for the bundled archives (bundle.py appends them to the manifests' lines)."""
    entries = read_manifest(directory) or {}
    return [f"{e.sha256}  ./{e.archive}\n" for e in sorted(entries.values(), key=lambda e: e.archive)]


def check_archive(directory: Path, entry: BundledImage) -> BundleFile:
    """One archive against its manifest entry (the same statuses as the bundle's manifest files)."""
    from platformctl.usecases.bundle import BundleFile

    base: dict[str, Any] = {
        "component": "images",
        "path": entry.archive,
        "expected_size": entry.size,
        "expected_sha256": entry.sha256,
    }
    path = directory / entry.archive
    if not path.is_file():
        return BundleFile(status="missing", message=f"{entry.image}: {path} does not exist", **base)
    size, digest = path.stat().st_size, sha256_file(path)
    if size != entry.size:
        return BundleFile(
            status="size-mismatch",
            actual_size=size,
            actual_sha256=digest,
            message=f"{entry.image}: {size} bytes, manifest says {entry.size}",
            **base,
        )
    if digest != entry.sha256:
        return BundleFile(
            status="sha256-mismatch",
            actual_size=size,
            actual_sha256=digest,
            message=f"{entry.image}: sha256 {digest}, manifest says {entry.sha256}",
            **base,
        )
    return BundleFile(status="ok", actual_size=size, actual_sha256=digest, **base)


def verify_images(directory: Path) -> list[BundleFile]:
    """Every archive the manifest lists (empty when the bundle has no images)."""
    entries = read_manifest(directory) or {}
    return [check_archive(directory, e) for e in sorted(entries.values(), key=lambda e: e.archive)]


def save_images(
    directory: Path,
    images: Sequence[str],
    store: ImageStore,
    *,
    reporter: Reporter | None = None,
) -> list[BundleFile]:
    """Pull and save every image into ``directory``/images (archives already there and intact are
    kept); the manifest keeps the entries of images saved earlier. Failures are reported per image
    (status ``error``) and the rest are still saved, so one run shows everything that is wrong."""
    from platformctl.usecases.bundle import BundleFile

    rep = reporter or reporting.NullReporter()
    entries = dict(read_manifest(directory) or {})
    results: list[BundleFile] = []
    (directory / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    for n, image in enumerate(dict.fromkeys(images), start=1):
        step = f"image {image}"
        known = entries.get(image)
        if known is not None:
            existing = check_archive(directory, known)
            if existing.good:
                results.append(existing)
                continue
        reporting.start(rep, step, f"docker pull + save ({n}/{len(images)})")
        archive = archive_name(image)
        dest = directory / archive
        fd, tmp_name = tempfile.mkstemp(prefix=".part-", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            store.pull(image)
            store.save(image, tmp)
            os.replace(tmp, dest)
        except (ClusterError, OSError) as exc:
            message = exc.message if isinstance(exc, PlatformError) else str(exc)
            results.append(
                BundleFile(
                    component="images",
                    path=archive,
                    status="error",
                    expected_size=0,
                    expected_sha256="",
                    message=f"{image}: {message}",
                )
            )
            reporting.fail(rep, step, message)
            continue
        finally:
            tmp.unlink(missing_ok=True)
        entry = BundledImage(image, archive, sha256_file(dest), dest.stat().st_size)
        entries[image] = entry
        write_manifest(directory, list(entries.values()))
        final = check_archive(directory, entry)
        results.append(BundleFile(**{**asdict(final), "status": "added"}) if final.good else final)
        reporting.finish(rep, step, f"{entry.size / 1e6:.1f} MB")
        if digest_only(image):
            reporting.log(rep, step, f"warning: {DIGEST_ONLY_NOTE}")
    return results


def archives_for(directory: Path, images: Sequence[str]) -> list[tuple[str, Path]]:
    """(image, archive path) for ``images``, verified, for ``up --manifests-dir`` before it changes
    anything. Missing image → SourceError; bad archive → IntegrityError (both exit 3)."""
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
    out: list[tuple[str, Path]] = []
    for image in images:
        checked = check_archive(directory, entries[image])
        if not checked.good:
            raise IntegrityError(
                f"--manifests-dir {directory}: image archive {checked.path} is {checked.status}: "
                f"{checked.message}",
                hint=f"re-create it with `platformctl bundle {directory} --images` and copy it again",
            )
        out.append((image, directory / entries[image].archive))
    return out


LoadFn = Callable[[Path], None]
DIGEST_ONLY_NOTE = (
    "referenced by digest only: `docker save` stores no name for it (RepoTags null), so the node may "
    "not find it by that digest and the kubelet may try to pull it; serve such images from a registry "
    "(docs/airgapped.md)"
)


def digest_only(image: str) -> bool:
    """``repo@sha256:…`` without a tag (Knative's images): see DIGEST_ONLY_NOTE."""
    name, at, _ = image.partition("@")
    return bool(at) and name.rfind(":") <= name.rfind("/")


def load_archives(archives: Sequence[tuple[str, Path]], load: LoadFn, *, reporter: Reporter) -> None:
    """Load every archive into the cluster (``kind load image-archive``), with progress."""
    if not archives:
        return
    step = "images"
    reporting.start(reporter, step, f"loading {len(archives)} bundled images")
    for n, (image, path) in enumerate(archives, start=1):
        try:
            load(path)
        except PlatformError as exc:
            reporting.fail(reporter, step, f"loading {image} failed: {exc.message}")
            raise
        reporting.progress(reporter, step, n, len(archives), f"{n}/{len(archives)} images loaded")
    reporting.finish(reporter, step, f"{len(archives)} bundled images loaded")
    by_digest = [image for image, _ in archives if digest_only(image)]
    if by_digest:
        reporting.log(reporter, step, f"warning: {len(by_digest)} of them {DIGEST_ONLY_NOTE}")
