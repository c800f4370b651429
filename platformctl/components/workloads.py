"""Shared facts and readiness helpers of the workload components (infra, conference, iris).

Images are pinned by exact tag; each tag's source is cited next to it. No digest is pinned: none
could be cited from an upstream file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from platformctl.drivers.templates import dns_label_value
from platformctl.errors import NotReadyError
from platformctl.kubeobjects import KubeObject, condition, conditions, is_true

if TYPE_CHECKING:
    from platformctl.components.base import RenderContext
    from platformctl.drivers.kube.engine import Engine


# Official images (no Bitnami: those images are gone, salaboy/platforms-on-k8s#86).
INFRA_IMAGES: dict[str, str] = {
    # docker-library/redis versions.json (commit 17868f4f): "7.2" → version 7.2.5.
    "redis": "redis:7.2.5",
    # docker-library/postgres versions.json (commit 038c4c57): "16" → version 16.0.
    "postgres": "postgres:16.0",
    # apache/kafka docker/docker_official_images/3.8.0/jvm/Dockerfile: the official image of Kafka 3.8.0.
    "kafka": "apache/kafka:3.8.0",
}
# salaboy/kubecon-china-2023 conference-app/values.yaml (registry salaboy, tag v2.0.0).
APP_VERSION = "v2.0.0"
APP_IMAGES: dict[str, str] = {
    "frontend": "salaboy/frontend-go-1739aa83b5e69d4ccb8a5615830ae66c:v2.0.0",
    "agenda-service": "salaboy/agenda-service-0967b907d9920c99918e2b91b91937b3:v2.0.0",
    "c4p-service": "salaboy/c4p-service-a3dc0474cbfa348afcdf47a8eee70ba9:v2.0.0",
    "notifications-service": "salaboy/notifications-service-0e27884e01429ab7e350cb5dff61b525:v2.0.0",
}
# salaboy/kubecon-china-2023 conference-app/templates/openfeature.yaml.
FLAGD_IMAGE = "ghcr.io/open-feature/flagd:v0.5.3"

TOPIC = "events-topic"
PUBSUB_NAME = "conference-pubsub"
STATESTORE_NAME = "agenda-service-statestore"
# The platform's shared Dapr building blocks for app teams (`deploy-app --statestore statestore
# --pubsub pubsub`), beside the demo's own STATESTORE_NAME and PUBSUB_NAME, and the component types
# `deploy-app --component TYPE:NAME` may create: those whose backing service the platform runs
# (templates/infra/redis.yaml.j2, kafka.yaml.j2).
PLATFORM_BLOCKS: dict[str, str] = {"statestore": "state.redis", "pubsub": "pubsub.kafka"}
BUILDING_BLOCK_TYPES: dict[str, str] = {"state.redis": "Redis", "pubsub.kafka": "Kafka"}
BUILDING_BLOCK_TEMPLATE = "apps/dapr-component.yaml.j2"
# Infra workloads the app needs ready before its Knative Services are created.
INFRA_STATEFULSETS: tuple[str, ...] = ("redis", "postgresql", "kafka")
KAFKA_TOPIC_JOB = "kafka-create-topics"

KSVC_API = "serving.knative.dev/v1"
ISVC_API = "serving.kserve.io/v1beta1"


def building_block(name: str, ctype: str, namespace: str, created_by: str | None = None) -> KubeObject:
    """A Dapr Component of ``ctype`` on the platform's Redis/Kafka in ``namespace`` (no scopes: the
    apps that bind it set them)."""
    from platformctl.drivers.templates import render_template

    if ctype not in BUILDING_BLOCK_TYPES:
        raise ValueError(f"no backing service for Dapr component type {ctype!r}")
    (doc,) = render_template(
        BUILDING_BLOCK_TEMPLATE,
        {
            "name": name,
            "namespace": namespace,
            "type": ctype,
            "infra_namespace": namespace,
            "created_by": created_by,
        },
    )
    return doc


def workloads_namespace(ctx: RenderContext) -> str:
    return dns_label_value("workloads.namespace", ctx.spec.workloads.namespace)


def model_namespace(ctx: RenderContext) -> str:
    return dns_label_value("workloads.model_namespace", ctx.spec.workloads.model_namespace)


def namespace_object(name: str) -> KubeObject:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


class Deadline:
    """One deadline shared by the sub-waits of a step, so the step as a whole keeps its timeout."""

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.timeout = timeout
        self._end = clock() + timeout

    def remaining(self) -> float:
        # At least one second: a sub-wait must still look once (and produce its diagnostics).
        return max(1.0, self._end - self._clock())


def describe_condition(cond: dict[str, Any] | None) -> str:
    if cond is None:
        return "no Ready condition yet"
    parts = [f"{cond.get('type')}={cond.get('status')}"]
    if cond.get("reason"):
        parts.append(str(cond["reason"]))
    text = " ".join(parts)
    return f"{text}: {cond['message']}" if cond.get("message") else text


def _failing_conditions(obj: KubeObject | None) -> list[str]:
    return [describe_condition(c) for c in conditions(obj).values() if c.get("status") != "True"]


def revision_details(engine: Engine, namespace: str, revision: str | None) -> tuple[str, list[str]]:
    """(one-line why, detail lines) for a Knative Revision: its non-True conditions and diagnostics."""
    if not revision:
        return "no revision created yet", ["no revision created yet (check the Knative webhook/controller)"]
    rev = engine.get(KSVC_API, "Revision", revision, namespace)
    failing = _failing_conditions(rev)
    lines = [f"revision {namespace}/{revision}: {c}" for c in failing]
    try:
        lines.extend(engine.diagnose(KSVC_API, "Revision", revision, namespace))
    except Exception as exc:  # diagnostics must never hide the original failure
        lines.append(f"(could not collect diagnostics for revision {revision}: {exc})")
    why = failing[0] if failing else describe_condition(condition(rev))
    return f"revision {revision}: {why}", lines


def wait_ksvcs(engine: Engine, namespace: str, names: Sequence[str], deadline: Deadline) -> dict[str, str]:
    """Wait until each Knative Service is Ready; ``{name: url}``. On failure name the revision and why."""
    urls: dict[str, str] = {}
    for name in names:
        try:
            obj = engine.wait_ready(KSVC_API, "Service", name, namespace, deadline.remaining())
        except NotReadyError as exc:
            live = engine.get(KSVC_API, "Service", name, namespace)
            revision = ((live or {}).get("status") or {}).get("latestCreatedRevisionName")
            why, lines = revision_details(engine, namespace, revision)
            raise NotReadyError(
                f"Knative Service {namespace}/{name} is not Ready: {why}",
                details=[
                    f"service {namespace}/{name}: {describe_condition(condition(live))}",
                    *lines,
                    *exc.details,
                ],
                hint=f"kubectl -n {namespace} describe revision {revision or name}",
            ) from exc
        urls[name] = str((obj.get("status") or {}).get("url") or "")
    return urls


def ready_urls(
    engine: Engine, api_version: str, kind: str, namespace: str, names: Sequence[str]
) -> tuple[bool, str, list[tuple[str, str]]]:
    """(all Ready, first reason, [(name, url)]) from the live objects: for ``health()``."""
    urls: list[tuple[str, str]] = []
    reasons: list[str] = []
    for name in names:
        obj = engine.get(api_version, kind, name, namespace)
        if obj is None:
            reasons.append(f"{kind} {namespace}/{name} not found")
            continue
        url = str((obj.get("status") or {}).get("url") or "")
        if url:
            urls.append((name, url))
        if not is_true(obj):
            reasons.append(f"{kind} {namespace}/{name}: {describe_condition(condition(obj))}")
    return (not reasons, reasons[0] if reasons else "", urls)
