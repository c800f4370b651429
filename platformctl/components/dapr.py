"""Dapr (1.15.14 or 1.18.3, per the version set): pinned CRD files + the dapr chart
(https://dapr.github.io/helm-charts/) in dapr-system.

CRDs come from the sha256-pinned files of charts/dapr/crds (manifests/lock.yaml: 5 in 1.15.14, 7 in
1.18.3 which adds mcpservers and workflowaccesspolicies); the chart's own crds/ copies are deduped away.

One chart value is set: ``dapr_scheduler.cluster.storageSize: 1Gi``. dapr/dapr@v1.18.3
charts/dapr/charts/dapr_scheduler/values.yaml raised the default from 1Gi (1.15.14) to 16Gi and its
``dapr_scheduler.storageSize`` helper keeps an existing StatefulSet's size through ``lookup`` — which
returns nothing under ``helm template``, so the render would ask for 16Gi and the apply would change
``volumeClaimTemplates``, an immutable StatefulSet field, on a cluster upgraded from 1.15. 1Gi (the 1.15
default) keeps upgrades possible and suits a laptop. Sidecar injection: the injector values add
``nativeSidecar: false`` (default unchanged) and slower liveness probes (initialDelaySeconds 180); the
injection contract (annotations, webhook Service dapr-sidecar-injector) is unchanged, so apps keep
waiting for the injector's endpoints.

Workload names from dapr/dapr charts/dapr/charts/*: Deployments dapr-operator, dapr-sentry,
dapr-sidecar-injector; StatefulSets dapr-placement-server (dapr_placement_statefulset.yaml) and, when the
chart renders it, dapr-scheduler-server; the injector's webhook Service is dapr-sidecar-injector
(dapr_sidecar_injector_service.yaml). Apps must not request sidecars before the injector serves
(dapr#4270): readiness includes the injector Service's endpoints.

The pinned subscription.yaml CRD names its conversion webhook Service namespace ``replaceme`` ("Patched by
post-install webhook"; the chart's patch sets it to the release namespace). We set it to dapr-system
ourselves: the later patch then writes the value we already own, so re-applying never conflicts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platformctl.components import common
from platformctl.components.base import Apply, Health, RenderContext, Step, Wait
from platformctl.kubeobjects import KubeObject, dedupe
from platformctl.plan import names

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

NAME = names.DAPR
NAMESPACE = "dapr-system"
RELEASE = "dapr"
INJECTOR_SERVICE = "dapr-sidecar-injector"
WORKLOADS: tuple[tuple[str, str], ...] = (
    ("Deployment", "dapr-operator"),
    ("Deployment", "dapr-sentry"),
    ("StatefulSet", "dapr-placement-server"),
    ("Deployment", "dapr-sidecar-injector"),
)
SCHEDULER = ("StatefulSet", "dapr-scheduler-server")


# dapr/dapr charts/dapr/charts/dapr_scheduler/values.yaml ``cluster.storageSize`` (1.15.14: 1Gi).
SCHEDULER_STORAGE = "1Gi"


def chart_values() -> dict[str, Any]:
    return {"dapr_scheduler": {"cluster": {"storageSize": SCHEDULER_STORAGE}}}


def _conversion_namespace(crds: list[KubeObject]) -> list[KubeObject]:
    for crd in crds:
        conv = (crd.get("spec") or {}).get("conversion") or {}
        service = ((conv.get("webhook") or {}).get("clientConfig") or {}).get("service")
        if isinstance(service, dict) and service.get("namespace") == "replaceme":
            service["namespace"] = NAMESPACE
    return crds


def render(ctx: RenderContext) -> list[KubeObject]:
    objs = [common.namespace(NAMESPACE)]
    objs += _conversion_namespace(common.pinned_role_documents(ctx, NAME, "dapr-crds"))
    objs += common.render_helm(ctx, NAME, "dapr", RELEASE, NAMESPACE, chart_values())
    return common.in_namespace(dedupe(objs), NAMESPACE, common.CLUSTER_SCOPED)


def _scheduler_wait() -> Wait:
    kind, name = SCHEDULER

    def check(engine: Engine, timeout: float) -> None:
        # Rendered only when the chart enables the scheduler; wait for it when it is there.
        if engine.get("apps/v1", kind, name, NAMESPACE) is not None:
            engine.wait_rollout(kind, NAMESPACE, name, timeout)

    return Wait(f"{kind.lower()} {NAMESPACE}/{name} rolled out (if present)", check)


class Dapr:
    name = NAME
    depends_on: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = (NAMESPACE,)

    def version(self, ctx: RenderContext) -> str:
        return common.pinned_version(ctx, NAME)

    def steps(self, ctx: RenderContext) -> list[Step]:
        steps: list[Step] = [Apply("dapr (CRDs, control plane)", render)]
        steps += [common.rollout(kind, NAMESPACE, name) for kind, name in WORKLOADS]
        steps.append(_scheduler_wait())
        steps.append(common.endpoints(NAMESPACE, INJECTOR_SERVICE))
        return steps

    def health(self, engine: Engine, ctx: RenderContext) -> Health:
        workloads = [(kind, NAMESPACE, name) for kind, name in WORKLOADS]
        if engine.get("apps/v1", SCHEDULER[0], SCHEDULER[1], NAMESPACE) is not None:
            workloads.append((SCHEDULER[0], NAMESPACE, SCHEDULER[1]))
        return common.health(
            engine,
            self.version(ctx),
            workloads,
            [(NAMESPACE, INJECTOR_SERVICE)],
            version_of=("Deployment", NAMESPACE, "dapr-operator"),
        )


COMPONENT = Dapr()
