"""conference: the KubeCon China 2023 conference app (salaboy/kubecon-china-2023) on Knative Serving + Dapr.

Steps: Dapr Components/Subscription (the demo's, and the platform's shared ``statestore``/``pubsub``
building blocks for app teams) and flagd → wait for infra, flagd and the Dapr sidecar injector
(a pod that asks for a sidecar before the injector serves starts without one: dapr#4270) → the four
Knative Services → wait until each is Ready with a URL. A not-ready report names the revision and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platformctl.components.base import Apply, Health, RenderContext, Step, Wait
from platformctl.components.infra import wait_infra
from platformctl.components.workloads import (
    APP_IMAGES,
    APP_VERSION,
    FLAGD_IMAGE,
    KSVC_API,
    PLATFORM_BLOCKS,
    PUBSUB_NAME,
    STATESTORE_NAME,
    TOPIC,
    Deadline,
    building_block,
    ready_urls,
    wait_ksvcs,
    workloads_namespace,
)
from platformctl.drivers.templates import render_template
from platformctl.kubeobjects import KubeObject
from platformctl.plan import names
from platformctl.reporting import log

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

DAPR_NAMESPACE = "dapr-system"
# Deployment and Service of the Dapr Helm chart's sidecar injector (same name for both): dapr/dapr
# charts/dapr/charts/dapr_sidecar_injector/templates/dapr_sidecar_injector_service.yaml.
DAPR_INJECTOR = "dapr-sidecar-injector"
SERVICES: tuple[str, ...] = ("frontend", "agenda-service", "c4p-service", "notifications-service")


def service_values(namespace: str) -> list[dict[str, Any]]:
    """Per-service template values: env names and values of the conference services
    (salaboy/kubecon-china-2023 conference-app).

    ``FLAGD_HOST`` goes to all four services: agenda-service, c4p-service and notifications-service read
    it too, with a default of ``flagd.default.svc.cluster.local`` (salaboy/platforms-on-k8s@v2.0.0
    conference-application/<service>/*.go: ``getEnv("FLAGD_HOST", "flagd.default.svc.cluster.local")``),
    so outside ``default`` their flag evaluation would fail and they would publish no events.
    """

    def url(svc: str) -> str:
        return f"http://{svc}.{namespace}.svc.cluster.local"

    # The OpenFeature flagd provider's host variable (the port defaults to 8013).
    flagd = {"name": "FLAGD_HOST", "value": f"flagd.{namespace}.svc.cluster.local"}

    return [
        {
            "name": "frontend",
            "image": APP_IMAGES["frontend"],
            "min_scale": "1",
            "env": [
                {"name": "AGENDA_SERVICE_URL", "value": url("agenda-service")},
                {"name": "C4P_SERVICE_URL", "value": url("c4p-service")},
                {"name": "NOTIFICATIONS_SERVICE_URL", "value": url("notifications-service")},
                {"name": "PUBSUB_NAME", "value": PUBSUB_NAME},
                flagd,
            ],
            "secret_env": [],
        },
        {
            "name": "agenda-service",
            "image": APP_IMAGES["agenda-service"],
            "min_scale": "1",
            "env": [
                {"name": "STATESTORE_NAME", "value": STATESTORE_NAME},
                {"name": "PUBSUB_NAME", "value": PUBSUB_NAME},
                flagd,
            ],
            "secret_env": [],
        },
        {
            "name": "c4p-service",
            "image": APP_IMAGES["c4p-service"],
            # The one service that scales to zero (salaboy/kubecon-china-2023 conference-app values).
            "min_scale": "0",
            "env": [
                {"name": "POSTGRES_HOST", "value": f"postgresql.{namespace}.svc.cluster.local"},
                {"name": "AGENDA_SERVICE_URL", "value": url("agenda-service")},
                {"name": "NOTIFICATIONS_SERVICE_URL", "value": url("notifications-service")},
                {"name": "PUBSUB_NAME", "value": PUBSUB_NAME},
                flagd,
            ],
            "secret_env": [{"name": "POSTGRES_PASSWORD", "secret": "postgresql", "key": "postgres-password"}],
        },
        {
            "name": "notifications-service",
            "image": APP_IMAGES["notifications-service"],
            "min_scale": "1",
            "env": [{"name": "PUBSUB_NAME", "value": PUBSUB_NAME}, flagd],
            "secret_env": [],
        },
    ]


class ConferenceComponent:
    name = names.CONFERENCE
    depends_on: tuple[str, ...] = (names.KNATIVE_SERVING, names.DAPR, names.INFRA)
    namespaces: tuple[str, ...] = ()

    def version(self, ctx: RenderContext) -> str:
        return APP_VERSION

    def render_support(self, ctx: RenderContext) -> list[KubeObject]:
        values = {
            "namespace": workloads_namespace(ctx),
            "pubsub_name": PUBSUB_NAME,
            "statestore_name": STATESTORE_NAME,
            "topic": TOPIC,
            "images": {"flagd": FLAGD_IMAGE},
        }
        ns = workloads_namespace(ctx)
        shared = [building_block(name, ctype, ns) for name, ctype in PLATFORM_BLOCKS.items()]
        return (
            render_template("conference/dapr.yaml.j2", values)
            + shared
            + render_template("conference/flagd.yaml.j2", values)
        )

    def render_services(self, ctx: RenderContext) -> list[KubeObject]:
        ns = workloads_namespace(ctx)
        return render_template(
            "conference/services.yaml.j2", {"namespace": ns, "services": service_values(ns)}
        )

    def steps(self, ctx: RenderContext) -> list[Step]:
        ns = workloads_namespace(ctx)
        infra_enabled = ctx.spec.components[names.INFRA].enabled

        def backing_services(engine: Engine, timeout: float) -> None:
            deadline = Deadline(timeout)
            if infra_enabled:
                wait_infra(engine, ns, deadline)
            engine.wait_rollout("Deployment", ns, "flagd", deadline.remaining())

        def injector(engine: Engine, timeout: float) -> None:
            deadline = Deadline(timeout)
            engine.wait_rollout("Deployment", DAPR_NAMESPACE, DAPR_INJECTOR, deadline.remaining())
            engine.wait_endpoints(DAPR_NAMESPACE, DAPR_INJECTOR, deadline.remaining())

        def services_ready(engine: Engine, timeout: float) -> None:
            urls = wait_ksvcs(engine, ns, SERVICES, Deadline(timeout))
            for name, url in urls.items():
                log(ctx.reporter, self.name, f"{name} ready at {url}")

        return [
            Apply("dapr components, subscription, flagd", self.render_support),
            Wait("redis, postgresql, kafka, flagd ready", backing_services),
            Wait("dapr sidecar injector ready", injector),
            Apply("knative services", self.render_services),
            Wait("knative services ready", services_ready),
        ]

    def health(self, engine: Engine, ctx: RenderContext) -> Health:
        ok, reason, urls = ready_urls(engine, KSVC_API, "Service", workloads_namespace(ctx), SERVICES)
        return Health(healthy=ok, version=self.version(ctx), reason=reason, urls=tuple(urls))


COMPONENT = ConferenceComponent()
