"""KServe (v0.16.0 or v0.20.0, per the selected version set) in Knative mode, from the pinned
kserve.yaml and kserve-cluster-resources.yaml.

kserve.yaml holds the CRDs (the engine applies them first, server-side: inferenceservices is ~360 KB in
v0.16.0, kserve#3487, and three CRDs of v0.20.0 are 640-740 KB, far over the client-side
last-applied-configuration limit), cert-manager Issuer/Certificates, the controllers and webhooks.
Release differences handled here (each read from the files, not assumed):

* v0.16.0 kserve.yaml creates Namespace ``kserve``; v0.20.0's has no Namespace object, so we add it when
  the release does not ship it.
* v0.20.0 moved ClusterStorageContainer ``default`` into kserve.yaml and gives it a
  ``metadata.namespace`` although the kind is cluster-scoped: namespaces of cluster-scoped objects are
  dropped (the apiserver ignores them, but the object key must match what the server returns).
* v0.20.0 serves LLMInferenceService/-Config at v1alpha1 and v1alpha2 through a conversion webhook on
  ``llmisvc-webhook-server-service`` (CA injected by cert-manager's cainjector from the
  ``cert-manager.io/inject-ca-from`` annotation), and the localmodel validator has its own Service
  ``localmodel-webhook-server-service`` and Certificate. We create no LocalModelCache, so we do not
  wait for the localmodel controller.
* LLMInferenceServiceConfig objects (8 in v0.16.0 kserve.yaml; 10 at v1alpha2 in v0.20.0's
  kserve-cluster-resources.yaml) and ClusterServingRuntimes (11; 14) are admitted by KServe webhooks
  that validate create/update/delete. They are held back until both controllers and both webhook
  Services have ready endpoints (kserve#4182, #5037), then applied together (deduped).

inferenceservice-config (ConfigMap in kserve.yaml): its ``deploy`` key is JSON with
``defaultDeploymentMode`` and its ``ingress`` key is JSON with ``ingressDomain``, ``domainTemplate``,
``urlScheme`` (among others). The deployment mode is the release's documented name, from the lock's
``settings.defaultDeploymentMode`` (v0.16.0: ``Serverless``, what its quick_install.sh sets; v0.20.0:
``Knative``, the name its ConfigMap documents; ``Serverless`` is a deprecated alias there).
ingressDomain = the spec's domain (the one Knative's config-domain gets) and domainTemplate
``{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}`` — the same shape as Knative's default
domain-template, so the top-level InferenceService host is ``sklearn-iris.default.<domain>``
Other keys keep upstream's values.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from platformctl.components import common
from platformctl.components.base import Apply, Health, RenderContext, Step
from platformctl.errors import SourceError
from platformctl.kubeobjects import KubeObject, dedupe
from platformctl.plan import names

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

NAME = names.KSERVE
NAMESPACE = "kserve"
CONFIGMAP = "inferenceservice-config"
MODE_SETTING = "defaultDeploymentMode"  # manifests/lock.yaml components.kserve.versions.<v>.settings
DOMAIN_TEMPLATE = "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}"
# (Deployment, webhook Service) pairs in kserve.yaml v0.16.0 and v0.20.0.
CONTROLLERS = (
    ("kserve-controller-manager", "kserve-webhook-server-service"),
    ("llmisvc-controller-manager", "llmisvc-webhook-server-service"),
)
# Custom resources in kserve.yaml admitted by a KServe webhook: applied once that webhook serves.
LATE_KINDS = ("LLMInferenceServiceConfig",)


def deployment_mode(ctx: RenderContext) -> str:
    version, release = ctx.lock.selected(ctx.spec, NAME)
    mode = release.settings.get(MODE_SETTING)
    if not mode:
        raise SourceError(
            f"manifests/lock.yaml: kserve {version} has no settings.{MODE_SETTING}; the lock entry is "
            "incomplete (the release's inferenceservice-config documents the accepted names)"
        )
    return mode


def configure(objs: list[KubeObject], domain: str, mode: str) -> None:
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
    deploy["defaultDeploymentMode"] = mode
    ingress["ingressDomain"] = domain
    ingress["domainTemplate"] = DOMAIN_TEMPLATE
    data["deploy"] = json.dumps(deploy, indent=2)
    data["ingress"] = json.dumps(ingress, indent=2)


def render_main(ctx: RenderContext) -> list[KubeObject]:
    objs = common.pinned_documents(ctx, NAME, "kserve.yaml")
    configure(objs, ctx.spec.domain, deployment_mode(ctx))
    if not any(o.get("kind") == "Namespace" and o["metadata"].get("name") == NAMESPACE for o in objs):
        objs.insert(0, common.namespace(NAMESPACE))  # v0.20.0 ships none
    common.drop_cluster_scoped_namespace(objs)
    return [o for o in objs if o.get("kind") not in LATE_KINDS]


def render_cluster_resources(ctx: RenderContext) -> list[KubeObject]:
    late = [o for o in common.pinned_documents(ctx, NAME, "kserve.yaml") if o.get("kind") in LATE_KINDS]
    objs = dedupe([*late, *common.pinned_documents(ctx, NAME, "kserve-cluster-resources.yaml")])
    common.drop_cluster_scoped_namespace(objs)
    return objs


class KServe:
    name = NAME
    depends_on: tuple[str, ...] = (names.CERT_MANAGER, names.KNATIVE_SERVING)
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
