"""Knative Serving with net-istio (1.15.2/1.15.1 or 1.21.1/1.21.1, per the version set), from the pinned
release files (manifests/lock.yaml). Both releases have the same Deployments, Services and ConfigMaps.

Order: serving-crds.yaml → serving-core.yaml (with our config keys) → core ready → net-istio.yaml (it
puts objects into istio-system, so it depends on istio) → net-istio ready → post-install jobs
(``generateName``: the engine creates them once).

serving-hpa.yaml is not applied: it only adds the HPA autoscaler class (``autoscaler-hpa``); Knative's
default KPA class is what the conference app and KServe Serverless use, and skipping it saves a
Deployment on a laptop. (Users wanting class hpa.autoscaling.knative.dev can apply it themselves.)

Config keys (all present in the ``_example`` of serving-core.yaml 1.15.2's and 1.21.1's ConfigMaps):
config-domain ``{<domain>: ""}``;
config-features ``kubernetes.podspec-fieldref: enabled`` and ``tag-header-based-routing: enabled``;
config-network ``ingress-class: istio.ingress.networking.knative.dev``. They are merged into the upstream
ConfigMaps (``_example`` kept) so one apply owns each ConfigMap. config-observability is left at its
defaults: 1.21 renamed its keys to OpenTelemetry-style ones (``metrics-protocol``, ``tracing-endpoint``,
... instead of ``metrics.backend-destination``), and we set none of either.

Knative 1.21's webhook refuses Kubernetes older than v1.33.0 (knative.dev/pkg version.go
``defaultMinimumVersion``); the version set's ``kubernetes.min`` carries that, and ``up`` checks an
existing cluster against it before applying anything.

Knative's webhook reconciles the ``rules`` of its defaulting and validation webhook configurations at
startup (knative.dev/pkg webhook/resourcesemantics/{defaulting,validation}: ``Rules = rules`` built from
the registered types), so we do not apply ``rules`` there: a re-apply would conflict with that manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platformctl.components import common
from platformctl.components.base import Apply, Health, RenderContext, Step
from platformctl.kubeobjects import KubeObject, dedupe
from platformctl.plan import names

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

NAME = names.KNATIVE_SERVING
NAMESPACE = "knative-serving"
# Deployments in serving-core.yaml / net-istio.yaml 1.15.x and 1.21.x.
CORE_DEPLOYMENTS = ("controller", "activator", "autoscaler", "webhook")
NET_ISTIO_DEPLOYMENTS = ("net-istio-controller", "net-istio-webhook")
INGRESS_CLASS = "istio.ingress.networking.knative.dev"
RECONCILED_WEBHOOKS = (
    ("MutatingWebhookConfiguration", "webhook.serving.knative.dev"),
    ("ValidatingWebhookConfiguration", "validation.webhook.serving.knative.dev"),
)


def config_data(domain: str) -> dict[str, dict[str, str]]:
    return {
        "config-domain": {domain: ""},
        "config-features": {"kubernetes.podspec-fieldref": "enabled", "tag-header-based-routing": "enabled"},
        "config-network": {"ingress-class": INGRESS_CLASS},
    }


def render_crds(ctx: RenderContext) -> list[KubeObject]:
    return common.pinned_documents(ctx, NAME, "serving-crds.yaml")


def render_core(ctx: RenderContext) -> list[KubeObject]:
    objs = common.pinned_documents(ctx, NAME, "serving-core.yaml")
    for cm, data in config_data(ctx.spec.domain).items():
        common.set_configmap_data(objs, NAMESPACE, cm, data)
    for kind, name in RECONCILED_WEBHOOKS:
        common.drop_webhook_fields(objs, kind, name, ("rules",))
    return dedupe(objs)


def render_net_istio(ctx: RenderContext) -> list[KubeObject]:
    return common.pinned_documents(ctx, NAME, "net-istio.yaml")


def render_jobs(ctx: RenderContext) -> list[KubeObject]:
    return common.pinned_documents(ctx, NAME, "serving-post-install-jobs.yaml")


class KnativeServing:
    name = NAME
    depends_on: tuple[str, ...] = (names.ISTIO,)
    namespaces: tuple[str, ...] = (NAMESPACE,)

    def version(self, ctx: RenderContext) -> str:
        return common.pinned_version(ctx, NAME)

    def steps(self, ctx: RenderContext) -> list[Step]:
        steps: list[Step] = [
            Apply("serving CRDs", render_crds),
            Apply("serving core + config", render_core),
        ]
        steps += [common.rollout("Deployment", NAMESPACE, d) for d in CORE_DEPLOYMENTS]
        steps.append(common.endpoints(NAMESPACE, "webhook"))
        steps.append(Apply("net-istio", render_net_istio))
        steps += [common.rollout("Deployment", NAMESPACE, d) for d in NET_ISTIO_DEPLOYMENTS]
        steps.append(common.endpoints(NAMESPACE, "net-istio-webhook"))
        steps.append(Apply("post-install jobs", render_jobs))
        return steps

    def health(self, engine: Engine, ctx: RenderContext) -> Health:
        workloads = [("Deployment", NAMESPACE, d) for d in (*CORE_DEPLOYMENTS, *NET_ISTIO_DEPLOYMENTS)]
        return common.health(
            engine,
            self.version(ctx),
            workloads,
            [(NAMESPACE, "webhook"), (NAMESPACE, "net-istio-webhook")],
            version_of=("Deployment", NAMESPACE, "controller"),
        )


COMPONENT = KnativeServing()
