"""``platformctl images``: the list derived from the render of the default platform.

Golden lists live in tests/golden/images/<key>.txt, one per version set (key: the KServe version the
spec selects, so moving the default to another set is a data change: add that set's golden file).
Regenerate after a deliberate change with PLATFORMCTL_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from platformctl.plan.lock import load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.usecases.images import (
    ImagesReport,
    canonical,
    images_from_render,
    istio_proxy_image,
    parse_image,
)
from platformctl.usecases.render import RenderedComponent

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "images"


def golden_path(spec: PlatformSpec) -> Path:
    # the KServe version the spec installs: its override, else the selected version set's
    return GOLDEN / f"kserve-{load_lock().selected(spec, 'kserve')[0]}.txt"


def golden_lines(report: ImagesReport) -> list[str]:
    return [f"{e.image}\t{e.pinning}\t{','.join(e.components)}" for e in report.images]


def read_golden(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_default_platform_images_equal_golden_list(
    default_spec: PlatformSpec, default_render: list[RenderedComponent]
) -> None:
    report = images_from_render(default_render)
    path = golden_path(default_spec)
    lines = golden_lines(report)
    if os.environ.get("PLATFORMCTL_UPDATE_GOLDEN"):
        header = "# image<TAB>pinned<TAB>components; see tests/images/test_images.py\n"
        path.write_text(header + "\n".join(lines) + "\n")
    assert path.is_file(), f"no golden list {path.name}: run once with PLATFORMCTL_UPDATE_GOLDEN=1 and review"
    assert lines == read_golden(path)
    # Every component of the platform needs at least one image, and the list names no duplicates.
    assert {c for e in report.images for c in e.components} == {c.name for c in default_render}
    assert len(set(report.names())) == len(report.names())


def test_no_new_unpinned_image(default_spec: PlatformSpec, default_render: list[RenderedComponent]) -> None:
    """A new image with :latest or no tag fails here even when the golden list is regenerated carelessly:
    the unpinned ones are the golden file's, and no image may lose its pin."""
    report = images_from_render(default_render)
    golden = {line.split("\t")[0]: line.split("\t")[1] for line in read_golden(golden_path(default_spec))}
    new_unpinned = [e.image for e in report.unpinned if golden.get(e.image) != "unpinned"]
    assert new_unpinned == [], f"unpinned images not in {golden_path(default_spec).name}: {new_unpinned}"


def _object(components: list[RenderedComponent], source: str) -> dict[str, Any]:
    """The rendered object a source names: '<Kind> <ns>/<name> <where>' or '<Kind> <name> <where>'."""
    kind, ident = source.split(" ")[:2]
    ns, _, name = ident.rpartition("/")
    for comp in components:
        for obj in comp.objects:
            meta = obj.get("metadata") or {}
            if (
                obj.get("kind") == kind
                and (meta.get("name") or meta.get("generateName")) == name
                and (meta.get("namespace") or "") == ns
            ):
                return obj
    raise AssertionError(f"{source}: no such object in the render")


def test_every_image_is_named_by_the_render_or_a_pinned_configmap(
    default_render: list[RenderedComponent],
) -> None:
    report = images_from_render(default_render)
    injected = {e.image for e in report.images if e.injected}
    assert len(report.images) > 20
    for entry in report.images:
        for source in entry.sources:
            obj = _object(default_render, source)
            text = json.dumps(obj)
            if entry.image in text:
                continue
            # Istio: the injector composes hub/image:tag from its values (and `image: auto` users).
            injector = obj if obj["kind"] == "ConfigMap" else None
            if injector is None:
                assert "(image: auto)" in source, (entry.image, source)
                injector = _object(default_render, "ConfigMap istio-system/istio-sidecar-injector x")
            values = json.loads(injector["data"]["values"])["global"]
            ref = parse_image(entry.image)
            assert entry.image.startswith(values["hub"] + "/"), entry.image
            assert ref.repository.endswith("/" + values["proxy"]["image"]) and ref.tag == values["tag"]
    # The images controllers inject at run time, each read from where the pinned files name it.
    names = {parse_image(i).repository.rsplit("/", 1)[-1] for i in injected}
    assert {"queue", "storage-initializer", "agent", "daprd", "proxyv2"} <= names, names
    # ...and needed by the components whose pods get them injected.
    needed = {parse_image(e.image).repository.rsplit("/", 1)[-1]: e.needed_by for e in report.images}
    assert needed["queue"] == ("conference", "iris")  # Knative Services and the InferenceService
    assert needed["daprd"] == ("conference",)  # dapr.io/enabled pods
    assert needed["storage-initializer"] == ("iris",)  # storageUri
    assert needed["agent"] == ()  # no logger/batcher in this render: nothing runs it
    assert needed["proxyv2"] == ("istio",)  # the gateway's `image: auto`


def test_only_the_runtime_the_inferenceservice_uses_is_listed(
    default_render: list[RenderedComponent],
) -> None:
    report = images_from_render(default_render)
    iris = [e for e in report.images if "iris" in e.components]
    runtimes = [o for c in default_render for o in c.objects if o["kind"] == "ClusterServingRuntime"]
    assert len(runtimes) > 5
    assert len(iris) == 1 and "ClusterServingRuntime" in iris[0].sources[0]
    all_runtime_images = {c["image"] for r in runtimes for c in r["spec"]["containers"]}
    listed = set(report.names())
    assert len(all_runtime_images & listed) == 1  # the other runtimes are never pulled


# -- pure parts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "registry", "repository", "tag", "pinning"),
    [
        ("redis:7.2.5", "docker.io", "library/redis", "7.2.5", "tag"),
        ("busybox", "docker.io", "library/busybox", None, "unpinned"),
        ("kserve/agent:latest", "docker.io", "kserve/agent", "latest", "unpinned"),
        ("ghcr.io/dapr/daprd:1.15.14", "ghcr.io", "dapr/daprd", "1.15.14", "tag"),
        ("localhost:5000/x/y", "localhost:5000", "x/y", None, "unpinned"),
        ("gcr.io/a/b@sha256:" + "0" * 64, "gcr.io", "a/b", None, "digest"),
        ("kindest/node:v1.32.8@sha256:" + "a" * 64, "docker.io", "kindest/node", "v1.32.8", "digest"),
    ],
)
def test_parse_image(image: str, registry: str, repository: str, tag: str | None, pinning: str) -> None:
    ref = parse_image(image)
    assert (ref.registry, ref.repository, ref.tag, ref.pinning) == (registry, repository, tag, pinning)


def test_canonical_names() -> None:
    assert canonical("redis:7.2.5") == "docker.io/library/redis:7.2.5"
    assert canonical("salaboy/x:v2") == "docker.io/salaboy/x:v2"
    assert canonical("quay.io/a/b:c") == "quay.io/a/b:c"


def test_istio_proxy_image_rule() -> None:
    g = {"hub": "docker.io/istio", "tag": "1.27.1", "proxy": {"image": "proxyv2"}}
    assert istio_proxy_image({"global": g}) == "docker.io/istio/proxyv2:1.27.1"
    assert istio_proxy_image({"global": {**g, "variant": "distroless"}}) == (
        "docker.io/istio/proxyv2:1.27.1-distroless"
    )
    assert istio_proxy_image({"global": {**g, "proxy": {"image": "my.reg/p:1"}}}) == "my.reg/p:1"
    assert istio_proxy_image({"global": {"proxy": {"image": "proxyv2"}}}) is None


def test_a_new_unpinned_image_is_reported() -> None:
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x", "namespace": "ns"},
        "spec": {
            "template": {
                "spec": {
                    "initContainers": [{"name": "init", "image": "busybox"}],
                    "containers": [{"name": "c", "image": "example.org/app:latest"}],
                }
            }
        },
    }
    report = images_from_render([RenderedComponent("demo", "1", [dep], "01-demo.yaml")])
    assert [(e.image, e.pinning) for e in report.unpinned] == [
        ("busybox", "unpinned"),
        ("example.org/app:latest", "unpinned"),
    ]
    assert report.unpinned[0].sources == ("Deployment ns/x initContainers[init]",)
