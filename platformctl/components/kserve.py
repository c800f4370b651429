"""KServe v0.16.0 in Serverless mode, from the pinned kserve.yaml and kserve-cluster-resources.yaml.

kserve.yaml holds 13 CRDs (the engine applies them first, server-side: inferenceservices is ~360 KB,
kserve#3487), cert-manager Issuer/Certificates, the controllers, webhooks, and 8
LLMInferenceServiceConfig objects admitted by the llmisvc webhook. Those 8 are held back until the
controllers and both webhook Services have ready endpoints (kserve#4182, #5037), then applied with
kserve-cluster-resources.yaml (which repeats the same 8; deduped).

inferenceservice-config (ConfigMap in kserve.yaml v0.16.0): its ``deploy`` key is JSON with
``defaultDeploymentMode`` and its ``ingress`` key is JSON with ``ingressDomain``, ``domainTemplate``,
``urlScheme`` (among others). We set Serverless, ingressDomain = the spec's domain (the one Knative's
config-domain gets) and domainTemplate ``{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}`` — the same
shape as Knative's default domain-template, so the top-level InferenceService host is
``sklearn-iris.default.<domain>`` (design.md §6). Other keys keep upstream's values.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from platformctl.components import common
from platformctl.components.base import Apply, Health, KubeObject, RenderContext, Step
from platformctl.errors import SourceError

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

NAME = "kserve"
NAMESPACE = "kserve"
CONFIGMAP = "inferenceservice-config"
DEPLOYMENT_MODE = "Serverless"
DOMAIN_TEMPLATE = "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}"
# (Deployment, webhook Service) pairs in kserve.yaml v0.16.0.
CONTROLLERS = (
    ("kserve-controller-manager", "kserve-webhook-server-service"),
    ("llmisvc-controller-manager", "llmisvc-webhook-server-service"),
)
# Custom resources in kserve.yaml admitted by a KServe webhook: applied once that webhook serves.
LATE_KINDS = ("LLMInferenceServiceConfig",)


def configure(objs: list[KubeObject], domain: str) -> None:
    cm = common.set_configmap_data(objs, NAMESPACE, CONFIGMAP, {})
    data = cm["data"]
    try:
        deploy = json.loads(data["deploy"])
        ingress = json.loads(data["ingress"])
    except (KeyError, ValueError) as exc:
        raise SourceError(
            f"kserve.yaml: {NAMESPACE}/{CONFIGMAP} deploy/ingress are not JSON ({exc})"
        ) from None
    for field, obj in (
        ("defaultDeploymentMode", deploy),
        ("ingressDomain", ingress),
        ("domainTemplate", ingress),
    ):
        if field not in obj:
            raise SourceError(
                f"kserve.yaml: {NAMESPACE}/{CONFIGMAP} has no {field!r}: the release changed shape"
            )
    deploy["defaultDeploymentMode"] = DEPLOYMENT_MODE
    ingress["ingressDomain"] = domain
    ingress["domainTemplate"] = DOMAIN_TEMPLATE
    data["deploy"] = json.dumps(deploy, indent=2)
    data["ingress"] = json.dumps(ingress, indent=2)


def render_main(ctx: RenderContext) -> list[KubeObject]:
    objs = common.pinned_documents(ctx, NAME, "kserve.yaml")
    configure(objs, ctx.spec.domain)
    return [o for o in objs if o.get("kind") not in LATE_KINDS]


def render_cluster_resources(ctx: RenderContext) -> list[KubeObject]:
    late = [o for o in common.pinned_documents(ctx, NAME, "kserve.yaml") if o.get("kind") in LATE_KINDS]
    return common.dedupe([*late, *common.pinned_documents(ctx, NAME, "kserve-cluster-resources.yaml")])


class KServe:
    name = NAME
    depends_on: tuple[str, ...] = ("cert-manager", "knative-serving")
    namespaces: tuple[str, ...] = (NAMESPACE,)

    def version(self, ctx: RenderContext) -> str:
        return common.pinned_version(ctx, NAME)

    def steps(self, ctx: RenderContext) -> list[Step]:
        steps: list[Step] = [Apply("kserve (CRDs, controllers, webhooks)", render_main)]
        for deployment, service in CONTROLLERS:
            steps.append(common.rollout("Deployment", NAMESPACE, deployment))
            steps.append(common.endpoints(NAMESPACE, service))
        steps.append(Apply("kserve cluster resources", render_cluster_resources))
        return steps

    def health(self, engine: Engine, ctx: RenderContext) -> Health:
        return common.health(
            engine,
            self.version(ctx),
            [("Deployment", NAMESPACE, d) for d, _ in CONTROLLERS],
            [(NAMESPACE, s) for _, s in CONTROLLERS],
            version_of=("Deployment", NAMESPACE, "kserve-controller-manager"),
        )


COMPONENT = KServe()
