"""Every image the platform would run is a pinned, released reference, whatever packaged the charts.

The Istio archives in <upstream>/charts were packaged from the 1.27.1 source tag, so their istiod values
default to ``hub: gcr.io/istio-testing``, ``tag: latest`` (the release pipeline rewrites those only when
it publishes). platformctl sets ``global.hub``/``global.tag`` from the lock; this renders the whole
platform from those archives and checks every container image.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from platformctl.components import istio, registry
from platformctl.components.base import Apply, KubeObject
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import COMPONENTS
from tests.components.conftest import MakeCtx

POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "Pod": ("spec",),
}


def pod_images(obj: KubeObject) -> Iterator[str]:
    path = POD_SPEC_PATHS.get(str(obj.get("kind")))
    if path is None:
        return
    spec: Any = obj
    for key in path:
        spec = (spec or {}).get(key)
    for field in ("initContainers", "containers"):
        for c in (spec or {}).get(field) or []:
            yield str(c.get("image", ""))


def released(image: str) -> str | None:
    """None when ``image`` is a released reference, else why not."""
    if "istio-testing" in image:
        return "a development registry (gcr.io/istio-testing)"
    name, _, digest = image.partition("@")
    if digest:
        return None if digest.startswith("sha256:") and len(digest) == 71 else "a malformed digest"
    repo, sep, tag = name.rpartition(":")
    if not sep or not repo or "/" in tag or not tag:
        return "no tag and no digest"
    if tag == "latest":
        return "the floating tag latest"
    return None


def test_released_helper_rejects_unreleased_references() -> None:
    assert released("docker.io/istio/pilot:1.27.1") is None
    assert released("gcr.io/knative-releases/x@sha256:" + "a" * 64) is None
    assert released("gcr.io/istio-testing/pilot:1.27.1")
    assert released("docker.io/istio/pilot:latest")
    assert released("docker.io/istio/pilot")
    assert released("docker.io/istio/pilot:")


def test_every_rendered_image_is_a_pinned_released_reference(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    hub, tag = istio.image_pin(ctx)
    lock = load_lock()
    assert (hub, tag) == ("docker.io/istio", lock.components["istio"].default)
    bad: list[str] = []
    injected: list[str] = []
    seen = 0
    objects: list[KubeObject] = []
    for name in COMPONENTS:
        comp = registry.get(name)
        for step in comp.steps(ctx):
            if isinstance(step, Apply):
                objects += step.render(ctx)
    for obj in objects:
        for image in pod_images(obj):
            seen += 1
            md = obj["metadata"]
            where = (
                f"{obj['kind']} {md.get('namespace')}/{md.get('name') or md.get('generateName')}: {image!r}"
            )
            if image == "auto" and obj["metadata"].get("name") == istio.GATEWAY_RELEASE:
                injected.append(where)  # filled in by istiod's injector: checked below
            elif why := released(image):
                bad.append(f"{where} is {why}")
    assert seen > 20
    assert not bad, "\n".join(bad)
    # The gateway's `image: auto` comes from the injector's values: the lock's hub and tag.
    assert len(injected) == 1
    injector = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "istio-sidecar-injector"
    )
    values = json.loads(injector["data"]["values"])
    assert (values["global"]["hub"], values["global"]["tag"]) == (hub, tag)
    pilot = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "istiod")
    assert next(pod_images(pilot)) == f"{hub}/pilot:{tag}"


def test_source_packaged_istiod_defaults_are_unreleased(make_ctx: MakeCtx) -> None:
    """Proof the test above can fail: without our hub/tag the source-packaged chart runs istio-testing."""
    from platformctl.components import common

    ctx = make_ctx()
    objs = common.render_helm(
        ctx, "istio", "istiod", "istiod", istio.NAMESPACE, {"global": {"proxy": {"autoInject": "disabled"}}}
    )
    pilot = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "istiod")
    assert released(next(pod_images(pilot)))
