"""Istio: charts base, istiod and gateway (pinned repo/version in manifests/lock.yaml), rendered by helm.

Values, each checked against the istio/istio charts (manifests/charts/...):
- base ``defaultRevision: default`` — kserve/kserve@v0.16.0 hack/quick_install.sh;
  base/templates/defaultrevision-validatingwebhookconfiguration.yaml renders ``istiod-default-validator``.
- istiod ``global.proxy.autoInject: disabled`` — istio-discovery/templates/istiod-injector-configmap.yaml
  renders ``policy: {{ .Values.global.proxy.autoInject }}``. (The quick install's ``--set
  proxy.autoInject=disabled`` is a top-level key no template reads; ``global.proxy`` is the real one.)
- istiod ``global.hub``/``global.tag`` from the lock (``image_hub``/``image_tag``):
  istio-discovery/templates/deployment.yaml builds the pilot image from ``.Values.hub | default
  .Values.global.hub`` and the tag likewise, and the injector ConfigMap carries the same global
  values, from which istiod fills in the gateway's ``image: auto`` (gateway/templates/deployment.yaml).
  Charts packaged from the source tag default to ``gcr.io/istio-testing``/``latest``; only the release
  pipeline rewrites them, so we always set them.
- gateway: release ``istio-ingressgateway`` → labels ``app: istio-ingressgateway``/``istio: ingressgateway``
  (gateway/templates/_helpers.tpl gateway.selectorLabels: istio = name minus "istio-"), which net-istio's
  Gateways select. ``service.type`` and ``service.ports`` (gateway/values.yaml; service.yaml renders the
  ports list verbatim, so nodePorts go on each entry and the whole list is restated).
CRDs: the pinned ``crd-all.gen.yaml`` (sha256-verified) is applied; copies in the base chart are deduped.

Validating webhooks rendered with ``failurePolicy: Ignore`` are flipped to ``Fail`` by istiod's webhook
controller once it serves (comment in base/templates/defaultrevision-validatingwebhookconfiguration.yaml:
"The webhook controller will update this to `Fail` and patch in the `caBundle`"). We leave that field to
istiod (a re-apply of Ignore would conflict with its field manager); no Istio custom resource is created
before istiod is ready, so the API default (Fail) at creation changes nothing we rely on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platformctl.components import common
from platformctl.components.base import Apply, Health, RenderContext, Step
from platformctl.errors import SourceError
from platformctl.kubeobjects import KubeObject, dedupe
from platformctl.plan import names

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

NAME = names.ISTIO
NAMESPACE = "istio-system"
GATEWAY_RELEASE = "istio-ingressgateway"
HTTP_NODE_PORT = 31080  # host 80 → node port 31080 (templates/kind-config.yaml.j2)
HTTPS_NODE_PORT = 31443


def base_values() -> dict[str, Any]:
    return {"defaultRevision": "default"}


def istiod_values(hub: str, tag: str) -> dict[str, Any]:
    return {"global": {"hub": hub, "tag": tag, "proxy": {"autoInject": "disabled"}}}


def image_pin(ctx: RenderContext) -> tuple[str, str]:
    """(hub, tag) of Istio's released images, from the lock's chart pin."""
    _, rel = ctx.lock.release(NAME, ctx.spec.components[NAME].version)
    charts = rel.charts
    if charts is None or not charts.image_hub or not charts.image_tag:
        raise SourceError(
            f"manifests/lock.yaml: components.{NAME}.versions.{common.pinned_version(ctx, NAME)}.charts "
            "needs image_hub and image_tag (the released images' registry and tag)"
        )
    return charts.image_hub, charts.image_tag


def gateway_values(provider: str) -> dict[str, Any]:
    """NodePort 31080/31443 on kind/minikube (providers/: host ports or the node IP); LoadBalancer on an
    existing cluster."""
    # Port names/numbers/targetPorts are the chart's defaults (gateway/values.yaml).
    ports: list[dict[str, Any]] = [
        {"name": "status-port", "port": 15021, "protocol": "TCP", "targetPort": 15021},
        {"name": "http2", "port": 80, "protocol": "TCP", "targetPort": 80},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443},
    ]
    from platformctl.providers import gateway_service_type

    if gateway_service_type(provider) == "NodePort":
        # status-port keeps a server-assigned nodePort (we do not own that field, so it stays stable).
        ports[1]["nodePort"] = HTTP_NODE_PORT
        ports[2]["nodePort"] = HTTPS_NODE_PORT
        return {"service": {"type": "NodePort", "ports": ports}}
    return {"service": {"type": "LoadBalancer", "ports": ports}}


def _finish(objects: list[KubeObject]) -> list[KubeObject]:
    for obj in objects:
        if obj.get("kind") == "ValidatingWebhookConfiguration":
            for hook in obj.get("webhooks") or []:
                if hook.get("failurePolicy") == "Ignore":
                    del hook["failurePolicy"]
    return common.in_namespace(objects, NAMESPACE, common.CLUSTER_SCOPED)


def render_base(ctx: RenderContext) -> list[KubeObject]:
    objs = [common.namespace(NAMESPACE)]
    objs += common.pinned_role_documents(ctx, NAME, "istio-crds")
    objs += common.render_helm(ctx, NAME, "base", "istio-base", NAMESPACE, base_values())
    return _finish(dedupe(objs))


def render_istiod(ctx: RenderContext) -> list[KubeObject]:
    objs = common.render_helm(ctx, NAME, "istiod", "istiod", NAMESPACE, istiod_values(*image_pin(ctx)))
    # Chart CRDs (if any) were applied with base from the pinned file.
    return _finish([o for o in objs if o.get("kind") != "CustomResourceDefinition"])


def render_gateway(ctx: RenderContext) -> list[KubeObject]:
    values = gateway_values(ctx.spec.cluster.provider)
    return _finish(common.render_helm(ctx, NAME, "gateway", GATEWAY_RELEASE, NAMESPACE, values))


class Istio:
    name = NAME
    depends_on: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = (NAMESPACE,)

    def version(self, ctx: RenderContext) -> str:
        return common.pinned_version(ctx, NAME)

    def steps(self, ctx: RenderContext) -> list[Step]:
        return [
            Apply("istio base (namespace, CRDs)", render_base),
            Apply("istiod", render_istiod),
            common.rollout("Deployment", NAMESPACE, "istiod"),
            # The gateway pod is injected by istiod's webhook: it must answer first.
            common.endpoints(NAMESPACE, "istiod"),
            Apply("istio-ingressgateway", render_gateway),
            common.rollout("Deployment", NAMESPACE, GATEWAY_RELEASE),
        ]

    def health(self, engine: Engine, ctx: RenderContext) -> Health:
        return common.health(
            engine,
            self.version(ctx),
            [("Deployment", NAMESPACE, "istiod"), ("Deployment", NAMESPACE, GATEWAY_RELEASE)],
            version_of=("Deployment", NAMESPACE, "istiod"),
        )


COMPONENT = Istio()
