"""``platformctl images``: every container image the enabled platform runs, derived from the render.

Nothing here is a hand-kept list: the images come from the objects ``render`` produces (the pinned
upstream manifests, the chart renders, platformctl's templates), read in three ways:

1. **Pod templates** of Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Pods and
   Knative Services (containers and init containers).
2. **InferenceService runtimes**: for each InferenceService in the render, the ClusterServingRuntime
   KServe would select for its model format and protocol (same rule as ``deploy-model``, from the
   ClusterServingRuntimes in the render), and that runtime's container images. Runtimes no
   InferenceService uses are not pulled and not listed.
3. **Images controllers inject at run time**, read where the pinned files name them:

   - Knative queue-proxy: ConfigMap ``knative-serving/config-deployment`` key ``queue-sidecar-image``
     (knative/serving@knative-v1.15.2 config/core/configmaps/deployment.yaml);
   - KServe storage-initializer and agent: ConfigMap ``kserve/inferenceservice-config`` keys
     ``storageInitializer`` and ``agent`` (JSON with ``image``; kserve/kserve@v0.16.0
     config/configmap/inferenceservice.yaml);
   - Dapr daprd: env ``SIDECAR_IMAGE`` of the ``dapr-sidecar-injector`` Deployment (dapr/dapr@v1.15.14
     charts/dapr/charts/dapr_sidecar_injector/templates/dapr_sidecar_injector_deployment.yaml);
   - Istio proxyv2: ConfigMap ``istio-system/istio-sidecar-injector`` key ``values`` (JSON
     ``global.hub``, ``global.tag``, ``global.proxy.image``, ``global.variant``), composed as istiod
     does (istio/istio@1.27.1 pkg/kube/inject/inject.go ProxyImage: ``<hub>/<image>:<tag>[-<variant>]``
     unless the image already contains a ``/``). It replaces ``image: auto`` in the gateway chart.

Each image is reported with the components that need it, where it is named, and how it is pinned:
``digest`` (``@sha256:``), ``tag`` (an exact tag) or ``unpinned`` (``:latest`` or no tag at all).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl import reporting
from platformctl.drivers.registry import Pinning, Reference, parse_reference

if TYPE_CHECKING:
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import Reporter
    from platformctl.usecases.render import RenderedComponent, SourceOptions


# The kinds whose pod template lives at spec.template.spec (apps/v1, batch/v1, serving.knative.dev/v1).
_TEMPLATED = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"})
ISTIO_AUTO_IMAGE = "auto"  # istio/istio gateway chart: the injector replaces it with the proxy image


# One parser of the docker reference grammar for the whole package: drivers/registry.py's.
ImageRef = Reference


def parse_image(image: str) -> ImageRef:
    """``[registry/]repo[:tag][@sha256:…]`` (drivers/registry.py ``parse_reference``)."""
    return parse_reference(image)


def canonical(image: str) -> str:
    """The fully qualified name containerd stores (``redis:7`` → ``docker.io/library/redis:7``)."""
    return str(parse_image(image))


@dataclass(frozen=True)
class ImageEntry:
    image: str
    components: tuple[str, ...]
    sources: tuple[str, ...]  # "<Kind> <ns>/<name> <where>" for each place that names it
    pinning: Pinning
    registry: str
    injected: bool  # named in a ConfigMap/env for a controller to inject at run time
    # Components whose pods run it (for an injected image: the pods it is injected into; empty when
    # nothing in this render triggers the injection, e.g. KServe's agent without a logger/batcher).
    needed_by: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "components": list(self.components),
            "pinned": self.pinning,
            "registry": self.registry,
            "injected": self.injected,
            "needed_by": list(self.needed_by),
            "sources": list(self.sources),
        }


@dataclass
class ImagesReport:
    images: list[ImageEntry] = field(default_factory=list)
    components: list[str] = field(default_factory=list)

    @property
    def unpinned(self) -> list[ImageEntry]:
        return [e for e in self.images if e.pinning == "unpinned"]

    def names(self) -> list[str]:
        return [e.image for e in self.images]

    def registries(self) -> list[str]:
        return sorted({e.registry for e in self.images})

    def to_dict(self) -> dict[str, Any]:
        return {
            "components": self.components,
            "count": len(self.images),
            "unpinned": [e.image for e in self.unpinned],
            "images": [e.to_dict() for e in self.images],
        }


class _Collector:
    def __init__(self) -> None:
        # image → (naming components, sources, injected flags, components whose own pods run it)
        self.found: dict[str, tuple[list[str], list[str], list[bool], list[str]]] = {}

    def add(self, image: str, component: str, source: str, *, injected: bool = False) -> None:
        image = image.strip()
        if not image:
            return
        comps, sources, inj, direct = self.found.setdefault(image, ([], [], [], []))
        if component not in comps:
            comps.append(component)
        if source not in sources:
            sources.append(source)
        inj.append(injected)
        if not injected:
            direct.append(component)

    def entries(self, order: Sequence[str], injected_into: Mapping[str, list[str]]) -> list[ImageEntry]:
        rank = {name: i for i, name in enumerate(order)}

        def ranked(names: Iterable[str]) -> tuple[str, ...]:
            return tuple(sorted(set(names), key=lambda c: (rank.get(c, len(rank)), c)))

        out: list[ImageEntry] = []
        for image, (comps, sources, inj, direct) in self.found.items():
            ordered = ranked(comps)
            # Pods that run it: the components' own pods, plus the pods it is injected into.
            users = ranked([*direct, *injected_into.get(image, [])])
            out.append(
                ImageEntry(
                    image=image,
                    components=ordered,
                    sources=tuple(sources),
                    pinning=parse_image(image).pinning,
                    registry=parse_image(image).registry,
                    injected=any(inj),
                    needed_by=users,
                )
            )
        return sorted(out, key=lambda e: (rank.get(e.components[0], len(rank)), e.image))


def _label(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name") or meta.get("generateName") or "?"
    return f"{obj.get('kind')} {ns}/{name}" if ns else f"{obj.get('kind')} {name}"


def pod_spec(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a workload object (None for objects that run no pods)."""
    kind = obj.get("kind")
    api = str(obj.get("apiVersion", ""))
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec if isinstance(spec, Mapping) else None
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        return ((spec.get("template") or {}).get("spec")) or None
    if kind in _TEMPLATED or (kind == "Service" and api.startswith("serving.knative.dev/")):
        return ((spec.get("template") or {}).get("spec")) or None
    return None


def pod_images(spec: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(container path, image) for every init container and container."""
    out: list[tuple[str, str]] = []
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            if isinstance(c, Mapping) and c.get("image"):
                out.append((f"{key}[{c.get('name', '?')}]", str(c["image"])))
    return out


def _json_value(raw: Any) -> Any:
    try:
        return json.loads(str(raw))
    except ValueError:
        return None


def istio_proxy_image(values: Mapping[str, Any]) -> str | None:
    """istiod's ProxyImage rule over the injector's ``values`` (see the module docstring)."""
    glob = values.get("global") or {}
    image = str((glob.get("proxy") or {}).get("image") or "")
    if not image:
        return None
    if "/" in image:
        return image
    hub, tag = glob.get("hub"), glob.get("tag")
    if not hub or tag in (None, ""):
        return None
    variant = glob.get("variant")
    return f"{hub}/{image}:{tag}" + (f"-{variant}" if variant else "")


# Roles of injected images: which objects make a controller inject them (who needs them at run time).
QUEUE_PROXY, STORAGE_INITIALIZER, AGENT, DAPRD, ISTIO_PROXY = (
    "queue-proxy",
    "storage-initializer",
    "agent",
    "daprd",
    "istio-proxy",
)


def _injected(obj: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(role, where, image) named for run-time injection by this object (see the module docstring)."""
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    data = obj.get("data") or {}
    out: list[tuple[str, str, str]] = []
    if kind == "ConfigMap" and name == "config-deployment" and data.get("queue-sidecar-image"):
        out.append((QUEUE_PROXY, "data.queue-sidecar-image", str(data["queue-sidecar-image"])))
    elif kind == "ConfigMap" and name == "inferenceservice-config":
        for role, key in ((STORAGE_INITIALIZER, "storageInitializer"), (AGENT, "agent")):
            value = _json_value(data.get(key))
            if isinstance(value, Mapping) and value.get("image"):
                out.append((role, f"data.{key}.image", str(value["image"])))
    elif kind == "ConfigMap" and name == "istio-sidecar-injector":
        values = _json_value(data.get("values"))
        proxy = istio_proxy_image(values) if isinstance(values, Mapping) else None
        if proxy:
            out.append((ISTIO_PROXY, "data.values global.hub/proxy.image/tag", proxy))
    elif kind == "Deployment" and name == "dapr-sidecar-injector":
        spec = pod_spec(obj) or {}
        for c in spec.get("containers") or []:
            for env in c.get("env") or []:
                if isinstance(env, Mapping) and env.get("name") == "SIDECAR_IMAGE" and env.get("value"):
                    out.append((DAPRD, f"containers[{c.get('name')}] env SIDECAR_IMAGE", str(env["value"])))
    return out


def _injection_roles(obj: Mapping[str, Any]) -> set[str]:
    """Which injected images the pods of ``obj`` will get (Knative queue-proxy for every revision,
    KServe's storage-initializer for a storageUri and agent for logger/batcher, daprd for
    ``dapr.io/enabled: "true"`` pods, the Istio proxy for ``image: auto``)."""
    roles: set[str] = set()
    kind = obj.get("kind")
    api = str(obj.get("apiVersion", ""))
    if kind == "Service" and api.startswith("serving.knative.dev/"):
        roles.add(QUEUE_PROXY)
    if kind == "InferenceService":
        roles.add(QUEUE_PROXY)  # Serverless mode: every predictor is a Knative revision
        predictor = (obj.get("spec") or {}).get("predictor") or {}
        model = predictor.get("model") or {}
        if isinstance(model, Mapping) and model.get("storageUri"):
            roles.add(STORAGE_INITIALIZER)
        if predictor.get("logger") or predictor.get("batcher"):
            roles.add(AGENT)
    template_meta = ((obj.get("spec") or {}).get("template") or {}).get("metadata") or {}
    if str((template_meta.get("annotations") or {}).get("dapr.io/enabled", "")).lower() == "true":
        roles.add(DAPRD)
    spec = pod_spec(obj)
    if spec is not None and any(image == ISTIO_AUTO_IMAGE for _, image in pod_images(spec)):
        roles.add(ISTIO_PROXY)
    return roles


def _runtime_images(
    components: Sequence[RenderedComponent],
) -> tuple[Any, dict[str, list[tuple[str, str]]]]:
    """The runtime selection table over the rendered ClusterServingRuntimes, and runtime → images."""
    from platformctl.components.kserve_runtimes import table_from_objects

    runtimes = [
        o
        for c in components
        for o in c.objects
        if o.get("kind") in ("ClusterServingRuntime", "ServingRuntime")
    ]
    images: dict[str, list[tuple[str, str]]] = {}
    for rt in runtimes:
        spec = rt.get("spec") or {}
        images[str((rt.get("metadata") or {}).get("name"))] = [
            (f"{_label(rt)} {where}", image) for where, image in pod_images(spec)
        ]
    return table_from_objects(runtimes, source="render"), images


def _isvc_images(
    isvc: Mapping[str, Any], table: Any, runtimes: Mapping[str, list[tuple[str, str]]]
) -> list[tuple[str, str]]:
    from platformctl.errors import UsageError

    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    out = [(f"{_label(isvc)} predictor {w}", i) for w, i in pod_images(predictor)]
    model = predictor.get("model")
    if not isinstance(model, Mapping):
        return out
    if model.get("image"):  # a model spec may name its own image (overrides the runtime's)
        out.append((f"{_label(isvc)} predictor.model.image", str(model["image"])))
        return out
    fmt = str((model.get("modelFormat") or {}).get("name") or "")
    protocol = model.get("protocolVersion")
    runtime = model.get("runtime")
    try:
        chosen = table.select(fmt, protocol, runtime).runtime
    except UsageError:
        return out  # no runtime in this render serves it: nothing can be pulled for it
    out.extend(runtimes.get(chosen, []))
    return out


def images_from_render(components: Sequence[RenderedComponent]) -> ImagesReport:
    """Derive the image list from rendered components (pure: no cluster, no network)."""
    collector = _Collector()
    roles: dict[str, list[str]] = {}  # role → images named for it
    consumers: dict[str, list[str]] = {}  # role → components whose pods get it injected
    auto_users: list[tuple[str, str]] = []
    table, runtimes = _runtime_images(components)
    for comp in components:
        for obj in comp.objects:
            spec = pod_spec(obj)
            if spec is not None:
                for where, image in pod_images(spec):
                    if image == ISTIO_AUTO_IMAGE:
                        auto_users.append((comp.name, f"{_label(obj)} {where} (image: auto)"))
                    else:
                        collector.add(image, comp.name, f"{_label(obj)} {where}")
            if obj.get("kind") == "InferenceService":
                for where, image in _isvc_images(obj, table, runtimes):
                    collector.add(image, comp.name, where)
            for role, where, image in _injected(obj):
                collector.add(image, comp.name, f"{_label(obj)} {where}", injected=True)
                roles.setdefault(role, []).append(image)
            for role in _injection_roles(obj):
                users = consumers.setdefault(role, [])
                if comp.name not in users:
                    users.append(comp.name)
    # `image: auto` is the injector's proxy image (istio gateway chart); same image, its user listed.
    for comp_name, where in auto_users:
        for image in roles.get(ISTIO_PROXY, []):
            collector.add(image, comp_name, where)
    needed: dict[str, list[str]] = {}
    for role, images in roles.items():
        for image in images:
            needed.setdefault(image, []).extend(consumers.get(role, []))
    order = [c.name for c in components]
    return ImagesReport(images=collector.entries(order, needed), components=order)


def list_images(
    spec: PlatformSpec,
    *,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    sources: SourceOptions | None = None,
    reporter: Reporter | None = None,
) -> ImagesReport:
    """Render the plan (like ``platformctl render``) and derive its images."""
    from platformctl.usecases.render import SourceOptions, render

    rep = reporter or reporting.NullReporter()
    result = render(spec, only=only, skip=skip, sources=sources or SourceOptions(), reporter=rep)
    return images_from_render(result.components)


def registries(images: Iterable[str]) -> list[str]:
    return sorted({parse_image(i).registry for i in images})
