"""infra: Redis, PostgreSQL and Kafka (KRaft, one node) for the conference app, from official images.

Steps: namespace (if not a system one) → generated Secrets (once, kept on re-runs) → the three
StatefulSets with their Services and the topic Job → wait until all are ready and the topic exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platformctl.components.base import Apply, Health, RenderContext, Step, Wait
from platformctl.components.secrets import GeneratedSecret, ensure_secrets
from platformctl.components.workloads import (
    INFRA_IMAGES,
    INFRA_STATEFULSETS,
    KAFKA_TOPIC_JOB,
    TOPIC,
    Deadline,
    namespace_object,
    workloads_namespace,
)
from platformctl.drivers.templates import render_template
from platformctl.kubeobjects import PROTECTED_NAMESPACES, KubeObject
from platformctl.plan import names
from platformctl.reporting import log

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

# Secret names/keys as the app and Dapr components reference them (salaboy/platforms-on-k8s
# statestore.yaml: redis/redis-password; c4p-service config-knative: postgres-password).
SECRETS: tuple[GeneratedSecret, ...] = (
    GeneratedSecret("redis", ("redis-password",)),
    GeneratedSecret("postgresql", ("postgres-password",)),
)
TEMPLATES: tuple[str, ...] = ("infra/redis.yaml.j2", "infra/postgresql.yaml.j2", "infra/kafka.yaml.j2")


class InfraComponent:
    name = names.INFRA
    depends_on: tuple[str, ...] = ()
    # The workloads namespace may be shared with conference/iris or be "default": never pruned by us.
    namespaces: tuple[str, ...] = ()

    def version(self, ctx: RenderContext) -> str:
        return ", ".join(INFRA_IMAGES.values())

    def render_namespace(self, ctx: RenderContext) -> list[KubeObject]:
        ns = workloads_namespace(ctx)
        return [] if ns in PROTECTED_NAMESPACES else [namespace_object(ns)]

    def render(self, ctx: RenderContext) -> list[KubeObject]:
        values = {
            "namespace": workloads_namespace(ctx),
            "persistence": ctx.spec.workloads.persistence,
            "images": dict(INFRA_IMAGES),
            "topic": TOPIC,
        }
        objects: list[KubeObject] = []
        for template in TEMPLATES:
            objects.extend(render_template(template, values))
        return objects

    def steps(self, ctx: RenderContext) -> list[Step]:
        ns = workloads_namespace(ctx)

        def secrets(engine: Engine, timeout: float) -> None:
            created = ensure_secrets(engine, ns, SECRETS, component=self.name, timeout=timeout)
            if created:
                log(
                    ctx.reporter,
                    self.name,
                    f"generated Secrets {', '.join(created)} in {ns} (kept on re-runs)",
                )

        def ready(engine: Engine, timeout: float) -> None:
            wait_infra(engine, ns, Deadline(timeout))

        steps: list[Step] = []
        if ns not in PROTECTED_NAMESPACES:
            steps.append(Apply("namespace", self.render_namespace))
        steps += [
            Wait("generate passwords (once, kept on re-runs)", secrets),
            Apply("redis, postgresql, kafka", self.render),
            Wait("redis, postgresql, kafka ready", ready),
        ]
        return steps

    def health(self, engine: Engine, ctx: RenderContext) -> Health:
        ns = workloads_namespace(ctx)
        problems: list[str] = []
        for name in INFRA_STATEFULSETS:
            obj = engine.get("apps/v1", "StatefulSet", name, ns)
            if obj is None:
                problems.append(f"StatefulSet {ns}/{name} not found")
                continue
            want = (obj.get("spec") or {}).get("replicas", 1)
            have = (obj.get("status") or {}).get("readyReplicas", 0) or 0
            if have < want:
                problems.append(f"StatefulSet {ns}/{name}: {have}/{want} replicas ready")
        return Health(healthy=not problems, version=self.version(ctx), reason=problems[0] if problems else "")


def wait_infra(engine: Engine, namespace: str, deadline: Deadline) -> None:
    """StatefulSets rolled out, then the topic Job complete (it needs the broker up)."""
    for name in INFRA_STATEFULSETS:
        engine.wait_rollout("StatefulSet", namespace, name, deadline.remaining())
    engine.wait_job(namespace, KAFKA_TOPIC_JOB, deadline.remaining())


COMPONENT = InfraComponent()
