"""Helpers shared by the platform components: pinned sources, Helm renders, object edits, waits, health."""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from platformctl.components.base import Apply, Health, RenderContext, Wait
from platformctl.errors import SourceError, UsageError
from platformctl.kubeobjects import KubeObject

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

# Helm renders per renderer (one per run: make_render_context builds a new one) keyed by the
# chart, version, release, namespace and values: an identical render is never run twice.
_HELM_MEMO: weakref.WeakKeyDictionary[Callable[..., Any], dict[str, str]] = weakref.WeakKeyDictionary()
_HELM_LOCK = threading.Lock()


def pinned_version(ctx: RenderContext, component: str) -> str:
    version, _ = ctx.lock.selected(ctx.spec, component)
    return version


def pinned_documents(ctx: RenderContext, component: str, filename: str) -> list[KubeObject]:
    """The parsed documents of one pinned (sha256-verified) file of ``component``'s release."""
    _, release = ctx.lock.selected(ctx.spec, component)
    try:
        pinned = release.file(filename)
    except KeyError:
        raise SourceError(
            f"manifests/lock.yaml: {component} has no pinned file {filename!r}; the lock entry is incomplete"
        ) from None
    # SourceResolver.documents returns a fresh copy per call: safe to edit.
    return [d for d in ctx.sources.documents(pinned) if isinstance(d, dict) and d.get("kind")]


def pinned_role_documents(ctx: RenderContext, component: str, role: str) -> list[KubeObject]:
    """Documents of every pinned file of ``component`` with the given ``role`` (lock order)."""
    _, release = ctx.lock.selected(ctx.spec, component)
    out: list[KubeObject] = []
    for pinned in release.files:
        if pinned.role == role:
            out.extend(d for d in ctx.sources.documents(pinned) if isinstance(d, dict))
    return out


def render_helm(
    ctx: RenderContext, component: str, chart: str, release: str, namespace: str, values: dict[str, Any]
) -> list[KubeObject]:
    """Render ``chart`` at the repo/version the lock pins for ``component``."""
    _, rel = ctx.lock.selected(ctx.spec, component)
    if rel.charts is None or chart not in rel.charts.names:
        raise SourceError(f"manifests/lock.yaml: {component} pins no Helm chart named {chart!r}")
    if ctx.helm_render is None:
        raise UsageError(f"{component}: rendering chart {chart!r} needs helm, but no Helm renderer is set up")
    renderer = ctx.helm_render
    try:
        key = json.dumps(
            [chart, rel.charts.repo, rel.charts.version, release, namespace, values], sort_keys=True
        )
    except (TypeError, ValueError):  # values that are not plain JSON: no memo
        return renderer(chart, rel.charts.repo, rel.charts.version, release, namespace, values)
    with _HELM_LOCK:
        hit = _HELM_MEMO.setdefault(renderer, {}).get(key)
    if hit is None:
        rendered = renderer(chart, rel.charts.repo, rel.charts.version, release, namespace, values)
        try:
            hit = json.dumps(rendered)
        except (TypeError, ValueError):
            return rendered
        if json.loads(hit) != rendered:  # e.g. int keys would come back as strings
            return rendered
        with _HELM_LOCK:
            _HELM_MEMO.setdefault(renderer, {})[key] = hit
    objects: list[KubeObject] = json.loads(hit)  # a private copy per caller
    return objects


def namespace(name: str) -> KubeObject:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def in_namespace(objects: Iterable[KubeObject], ns: str, cluster_scoped: Sequence[str]) -> list[KubeObject]:
    """Give namespaced objects without a namespace ``ns`` (helm template leaves some unset)."""
    out = []
    for obj in objects:
        md = obj.setdefault("metadata", {})
        if obj.get("kind") not in cluster_scoped and not md.get("namespace"):
            md["namespace"] = ns
        out.append(obj)
    return out


# Kinds that are cluster-scoped in the objects our charts render.
CLUSTER_SCOPED = (
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "PriorityClass",
    "StorageClass",
    "ClusterServingRuntime",
    "ClusterStorageContainer",
)


def drop_cluster_scoped_namespace(objects: Iterable[KubeObject]) -> None:
    """Remove ``metadata.namespace`` from objects of cluster-scoped kinds (CLUSTER_SCOPED).

    Upstream manifests sometimes carry one (KServe v0.20.0's ClusterStorageContainer ``default``); the
    apiserver ignores it, but an object key with a namespace would never match what the server returns."""
    for obj in objects:
        md = obj.get("metadata")
        if obj.get("kind") in CLUSTER_SCOPED and isinstance(md, dict):
            md.pop("namespace", None)


def drop_webhook_fields(objects: Iterable[KubeObject], kind: str, name: str, fields: Sequence[str]) -> None:
    """Leave fields a controller rewrites after install to that controller.

    Server-side apply would otherwise claim them again on every ``up``: a conflict with the controller's
    field manager (or, forced, a fight over the value). Only the named webhook configuration is touched.
    """
    for obj in objects:
        if obj.get("kind") == kind and (obj.get("metadata") or {}).get("name") == name:
            for hook in obj.get("webhooks") or []:
                for f in fields:
                    hook.pop(f, None)


def set_configmap_data(objects: list[KubeObject], ns: str, name: str, data: dict[str, str]) -> KubeObject:
    """Set ``data`` keys on the upstream ConfigMap ``ns/name`` (keeping its other keys, e.g. _example).

    The keys are merged into the one object we apply, so a single field manager owns the whole ConfigMap
    consistently (a second server-side apply by the same manager would drop the upstream keys).
    """
    for obj in objects:
        md = obj.get("metadata") or {}
        if obj.get("kind") == "ConfigMap" and md.get("namespace") == ns and md.get("name") == name:
            obj.setdefault("data", {})
            if obj["data"] is None:
                obj["data"] = {}
            obj["data"].update(data)
            return obj
    raise SourceError(f"upstream manifest has no ConfigMap {ns}/{name}: the pinned release changed shape")


def rollout(kind: str, ns: str, name: str) -> Wait:
    def check(engine: Engine, timeout: float) -> None:
        engine.wait_rollout(kind, ns, name, timeout)

    return Wait(f"{kind.lower()} {ns}/{name} rolled out", check)


def endpoints(ns: str, service: str) -> Wait:
    def check(engine: Engine, timeout: float) -> None:
        engine.wait_endpoints(ns, service, timeout)

    return Wait(f"service {ns}/{service} has ready endpoints", check)


def apply(name: str, render: Callable[[RenderContext], list[KubeObject]]) -> Apply:
    return Apply(name, render)


# -- health (no waiting: read status once) -------------------------------------------------------------

Workload = tuple[str, str, str]  # (kind, namespace, name)


def workload_problem(engine: Engine, kind: str, ns: str, name: str) -> str | None:
    """None when the workload is rolled out and available, else a short reason."""
    obj = engine.get("apps/v1", kind, name, ns)
    if obj is None:
        return f"{kind} {ns}/{name} not found"
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    gen = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    if gen is not None and observed is not None and observed < gen:
        return f"{kind} {ns}/{name} rollout not observed yet"
    if kind == "DaemonSet":
        want = int(status.get("desiredNumberScheduled", 0))
        ready = int(status.get("numberReady", 0))
    else:
        want = int(spec.get("replicas", 1))
        ready = int(status.get("availableReplicas" if kind == "Deployment" else "readyReplicas", 0) or 0)
        updated = int(status.get("updatedReplicas", ready) or 0)
        ready = min(ready, updated)
    if ready < want:
        return f"{kind} {ns}/{name}: {ready}/{want} ready"
    return None


def endpoints_problem(engine: Engine, ns: str, service: str) -> str | None:
    slices = engine.list(
        "discovery.k8s.io/v1", "EndpointSlice", ns, label_selector=f"kubernetes.io/service-name={service}"
    )
    for sl in slices:
        for ep in sl.get("endpoints") or []:
            # EndpointConditions.ready: nil means ready (discovery.k8s.io/v1 API reference).
            if (ep.get("conditions") or {}).get("ready", True) is not False:
                return None
    return f"service {ns}/{service} has no ready endpoints"


def image_tag(image: str) -> str | None:
    """The tag of an image reference (``repo[:port]/name:tag[@digest]``), or None when it has none."""
    ref = image.split("@", 1)[0]
    repo, sep, tag = ref.rpartition(":")
    return tag if sep and repo and "/" not in tag and tag else None


def deployed_version(engine: Engine, kind: str, ns: str, name: str) -> str | None:
    """The version a workload runs: its main container's image tag, else its app.kubernetes.io/version.

    The main container is the one named like the workload, else the first. The image tag is what
    actually runs; a chart's version label says only which chart rendered the object (a chart packaged
    from source labels 1.27.1 while its default images are ``latest``). Digest-only images (Knative's)
    have no tag, so the label is the fallback.
    """
    obj = engine.get("apps/v1", kind, name, ns)
    if obj is None:
        return None
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    main = next((c for c in containers if c.get("name") == name), containers[0] if containers else None)
    tag = image_tag(str(main.get("image", ""))) if isinstance(main, dict) else None
    if tag:
        return tag
    label = ((obj.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/version")
    return str(label) if label else None


def health(
    engine: Engine,
    version: str,
    workloads: Sequence[Workload],
    services: Sequence[tuple[str, str]] = (),
    *,
    version_of: Workload | None = None,
) -> Health:
    """Ready when every workload is available and every Service has a ready endpoint.

    ``version_of``: the workload whose running version is reported (and compared with the pinned one).
    """
    problems = [p for w in workloads if (p := workload_problem(engine, *w))]
    problems += [p for ns, svc in services if (p := endpoints_problem(engine, ns, svc))]
    running = deployed_version(engine, *version_of) if version_of else None
    shown = running or version
    if running and running.lstrip("v") != version.lstrip("v"):
        problems.append(f"running {running}, the lock pins {version} (`platformctl up` upgrades it)")
    if problems:
        return Health(False, shown, "; ".join(problems))
    return Health(True, shown)
