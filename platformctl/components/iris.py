"""iris: the KServe sklearn iris InferenceService (Open Inference protocol v2).

Waits for Ready with a URL under ``timeouts.model`` (a model download can outlast a component
deadline); a not-ready report names the predictor revision and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platformctl.components.base import Apply, Health, RenderContext, Step, Wait
from platformctl.components.workloads import (
    ISVC_API,
    describe_condition,
    model_namespace,
    namespace_object,
    ready_urls,
    revision_details,
    workloads_namespace,
)
from platformctl.drivers.templates import render_template
from platformctl.errors import NotReadyError
from platformctl.kubeobjects import PROTECTED_NAMESPACES, KubeObject, condition, conditions
from platformctl.plan import names
from platformctl.reporting import log

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

NAME = "sklearn-iris"
# salaboy/kubecon-china-2023 resources/inference.yaml.
STORAGE_URI = "gs://kfserving-examples/models/sklearn/1.0/model"


class IrisComponent:
    name = names.IRIS
    depends_on: tuple[str, ...] = (names.KSERVE, names.KNATIVE_SERVING)
    namespaces: tuple[str, ...] = ()

    def version(self, ctx: RenderContext) -> str:
        version, _ = ctx.lock.selected(ctx.spec, names.KSERVE)
        return f"{NAME} (kserve {version})"

    def render(self, ctx: RenderContext) -> list[KubeObject]:
        ns = model_namespace(ctx)
        objects: list[KubeObject] = []
        # Create the model namespace unless it is a system one or infra already owns it.
        shared = ns == workloads_namespace(ctx) and ctx.spec.components[names.INFRA].enabled
        if ns not in PROTECTED_NAMESPACES and not shared:
            objects.append(namespace_object(ns))
        objects += render_template(
            "iris/inferenceservice.yaml.j2", {"name": NAME, "namespace": ns, "storage_uri": STORAGE_URI}
        )
        return objects

    def steps(self, ctx: RenderContext) -> list[Step]:
        ns = model_namespace(ctx)
        deadline = float(ctx.spec.timeouts.model)

        def ready(engine: Engine, timeout: float) -> None:
            # timeouts.model, not the component default: pulling the model server image is slow.
            url = wait_inference_service(engine, ns, NAME, deadline)
            log(ctx.reporter, self.name, f"{NAME} ready at {url}")

        return [Apply("inferenceservice", self.render), Wait("inferenceservice ready", ready)]

    def health(self, engine: Engine, ctx: RenderContext) -> Health:
        ok, reason, urls = ready_urls(engine, ISVC_API, "InferenceService", model_namespace(ctx), (NAME,))
        return Health(healthy=ok, version=self.version(ctx), reason=reason, urls=tuple(urls))


def wait_inference_service(engine: Engine, namespace: str, name: str, timeout: float) -> str:
    """Wait until the InferenceService is Ready; its URL. Raises NotReadyError naming the revision."""
    try:
        obj = engine.wait_ready(ISVC_API, "InferenceService", name, namespace, timeout)
    except NotReadyError as exc:
        live = engine.get(ISVC_API, "InferenceService", name, namespace)
        status = (live or {}).get("status") or {}
        predictor = (status.get("components") or {}).get("predictor") or {}
        revision = predictor.get("latestCreatedRevision")
        why, lines = revision_details(engine, namespace, revision)
        failing = [
            f"inferenceservice {namespace}/{name}: {describe_condition(c)}"
            for c in conditions(live).values()
            if c.get("status") != "True"
        ]
        raise NotReadyError(
            f"InferenceService {namespace}/{name} is not Ready after {timeout:.0f}s: "
            f"{describe_condition(condition(live)) if live else 'not found'}; predictor {why}",
            details=[*failing, *lines, *exc.details],
            hint=f"kubectl -n {namespace} describe inferenceservice {name}",
        ) from exc
    return str((obj.get("status") or {}).get("url") or "")


COMPONENT = IrisComponent()
