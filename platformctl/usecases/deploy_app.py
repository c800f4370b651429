"""``platformctl deploy-app``: validate everything, render one Knative Service (plus its Dapr building
blocks), apply, wait, explain.

Validation happens before any cluster write: bad input (name, image, port, quantities, percentages,
unknown Dapr components, a canary of an app that does not exist) raises UsageError naming the flag and
applies nothing. Dapr scopes are written before the Knative Service, because a sidecar reads its
components once, when it starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl import reporting
from platformctl.components.workloads import BUILDING_BLOCK_TYPES as COMPONENT_TYPES
from platformctl.components.workloads import PLATFORM_BLOCKS, building_block
from platformctl.errors import NotReadyError, SafetyError, UsageError
from platformctl.plan.spec import DNS1123_SUBDOMAIN
from platformctl.reporting import NullReporter, Reporter
from platformctl.usecases.deploy_model import parse_env, quantity, validate_name

if TYPE_CHECKING:
    from platformctl.drivers.http import Endpoint
    from platformctl.drivers.kube.engine import Engine

KSVC_API = "serving.knative.dev/v1"
KSVC_KIND = "Service"
REVISION_KIND = "Revision"
DAPR_API = "dapr.io/v1alpha1"
SUBSCRIPTION_API = "dapr.io/v2alpha1"
COMPONENT = "apps"  # the engine's platformctl.io/component label of everything deploy-app applies
KIND_LABEL = "platformctl.io/kind"  # "app" on the Knative Service
APP_LABEL = "platformctl.io/app"  # on the revision template, Subscriptions and Components an app created
MANAGED_BY = "app.kubernetes.io/managed-by"
# The Dapr components an app is bound to (comma-separated names), on its Knative Service: the source
# of every component's scopes (deploy-app and apps delete recompute them from all apps' annotations).
BINDINGS_ANNOTATION = "platformctl.io/dapr-components"
# What deploy-app rendered the Service from (JSON): `apps promote` renders the same Service again with
# all traffic on the latest revision, so the one field manager keeps declaring the same fields.
REQUEST_ANNOTATION = "platformctl.io/app-request"
# Dapr's metrics port moves to 9092 as the platform does for the conference app: 9090 is Knative
# queue-proxy's (templates/conference/services.yaml.j2).
DAPR_METRICS_PORT = 9092
# Ports of the injected daprd container: dapr/dapr pkg/injector/sidecar/consts.go (SidecarHTTPPort,
# SidecarAPIGRPCPort, SidecarInternalGRPCPort, SidecarPublicPort); the app cannot listen on them.
DAPR_SIDECAR_PORTS = frozenset({3500, 3501, 50001, 50002, DAPR_METRICS_PORT})
DEFAULT_PORT = 8080  # Knative's default user port (the PORT variable it passes is 8080)
TEMPLATE = "apps/service.yaml.j2"
SUBSCRIPTION_TEMPLATE = "apps/subscription.yaml.j2"

# Image references after distribution/reference regexp.go: [domain[:port]/]path[:tag][@algo:hex].
_IMAGE = re.compile(
    r"^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[\w][\w.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")  # Kafka topic names: [a-zA-Z0-9._-], at most 249
_ROUTE = re.compile(r"^/[A-Za-z0-9._~/-]*$")


@dataclass
class DeployAppRequest:
    name: str
    image: str | None = None
    namespace: str = "default"
    port: int = DEFAULT_PORT
    env: Sequence[str] = ()
    env_from_secret: Sequence[str] = ()
    min_scale: int = 0
    max_scale: int | None = None
    concurrency: int | None = None
    cpu: str | None = None
    memory: str | None = None
    dapr: bool | None = None  # None: on when the platform runs Dapr
    statestore: str | None = None
    pubsub: str | None = None
    components: Sequence[str] = ()  # TYPE:NAME
    subscribe: Sequence[str] = ()  # TOPIC=ROUTE
    traffic_percent: int | None = None
    tag: str | None = None
    wait: bool = True
    timeout: float = 300
    dry_run: bool = False
    force: bool = False


@dataclass
class DeployAppResult:
    name: str
    namespace: str
    objects: list[dict[str, Any]]  # Knative Service first, then Dapr Components/Subscriptions it creates
    applied: bool
    action: str | None = None  # created / configured / unchanged (the Knative Service)
    ready: bool = False
    url: str | None = None
    revision: str | None = None
    traffic: list[dict[str, Any]] = field(default_factory=list)
    bindings: dict[str, str] = field(default_factory=dict)  # component name -> type
    requests: dict[str, str] = field(default_factory=dict)  # curl / curl-host-header / httpie

    @property
    def manifest(self) -> dict[str, Any]:
        return self.objects[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "applied": self.applied,
            "action": self.action,
            "ready": self.ready,
            "url": self.url,
            "latestRevision": self.revision,
            "traffic": self.traffic,
            "bindings": self.bindings,
            "requests": self.requests,
            "objects": self.objects,
        }


@dataclass(frozen=True)
class Binding:
    name: str
    type: str
    create: bool  # deploy-app creates it (--component) when it does not exist


# --- local validation -------------------------------------------------------------------------


def validate_image(image: str) -> str:
    if not _IMAGE.fullmatch(image) or len(image) > 512:
        raise UsageError(
            f"--image: {image!r} is not an image reference (e.g. ghcr.io/org/app:1.0, "
            "registry:5000/app@sha256:<digest>)"
        )
    return image


def parse_components(items: Sequence[str]) -> list[Binding]:
    out: list[Binding] = []
    for item in items:
        ctype, sep, name = item.partition(":")
        if not sep or not name:
            raise UsageError(f"--component: {item!r} is not TYPE:NAME (e.g. state.redis:cart)")
        if ctype not in COMPONENT_TYPES:
            offered = ", ".join(f"{t} ({svc})" for t, svc in COMPONENT_TYPES.items())
            raise UsageError(
                f"--component: type {ctype!r} has no backing service on the platform; "
                f"types offered: {offered}"
            )
        validate_name(name, "--component")
        out.append(Binding(name, ctype, create=True))
    return out


def parse_subscriptions(items: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in items:
        topic, sep, route = item.partition("=")
        if not sep or not _TOPIC.fullmatch(topic):
            raise UsageError(
                f"--subscribe: {item!r} is not TOPIC=ROUTE with TOPIC of letters, digits, '.', '_', '-'"
            )
        if not _ROUTE.fullmatch(route):
            raise UsageError(f"--subscribe: route {route!r} must be a path starting with '/' (e.g. /events)")
        out.append((topic, route))
    topics = [t for t, _ in out]
    if len(set(topics)) != len(topics):
        raise UsageError("--subscribe: each TOPIC may appear once")
    return out


def subscription_name(app: str, topic: str) -> str:
    return f"{app}-{re.sub(r'[^a-z0-9-]', '-', topic.lower())}".strip("-")[:253].rstrip("-")


def validate_local(req: DeployAppRequest, *, dapr_default: bool = True) -> None:
    """Every check that needs no cluster (runs before connecting)."""
    validate_name(req.name, "NAME")
    validate_name(req.namespace, "--namespace")
    if req.image is None:
        raise UsageError("--image is required (or --build DIR to build one from a Dockerfile)")
    validate_image(req.image)
    if not 1 <= req.port <= 65535:
        raise UsageError(f"--port: {req.port} must be a TCP port (1-65535)")
    dapr = dapr_default if req.dapr is None else req.dapr
    if dapr and req.port in DAPR_SIDECAR_PORTS:
        raise UsageError(
            f"--port: {req.port} is taken by the Dapr sidecar (ports "
            + ", ".join(str(p) for p in sorted(DAPR_SIDECAR_PORTS))
            + "); pick another, e.g. 8080"
        )
    if req.min_scale < 0:
        raise UsageError(f"--min-scale: {req.min_scale} must be 0 (scale to zero) or more")
    if req.max_scale is not None and (req.max_scale < 1 or req.max_scale < req.min_scale):
        raise UsageError(f"--max-scale: {req.max_scale} must be at least 1 and ≥ --min-scale")
    if req.concurrency is not None and req.concurrency < 0:
        raise UsageError(f"--concurrency: {req.concurrency} must be 0 (no limit) or more")
    if req.traffic_percent is not None and not 0 <= req.traffic_percent <= 100:
        raise UsageError(f"--traffic-percent: {req.traffic_percent} must be 0-100")
    if req.tag is not None:
        validate_name(req.tag, "--tag")
        # the tag's host label is "<tag>-<name>" (Knative's tag-template {{.Tag}}-{{.Name}})
        if len(req.tag) + 1 + len(req.name) > 63:
            raise UsageError(
                f"--tag: {req.tag}-{req.name} (the tagged host name) is longer than 63 characters"
            )
    if req.timeout <= 0:
        raise UsageError(f"--timeout: {req.timeout:g} must be positive seconds")
    quantity(req.cpu, "--cpu")
    quantity(req.memory, "--memory")
    parse_env(req.env)
    for secret in req.env_from_secret:
        if not DNS1123_SUBDOMAIN.fullmatch(secret) or len(secret) > 253:
            raise UsageError(f"--env-from-secret: {secret!r} is not a Secret name")
    for flag, value in (("--statestore", req.statestore), ("--pubsub", req.pubsub)):
        if value is not None:
            validate_name(value, flag)
    components = parse_components(req.components)
    subs = parse_subscriptions(req.subscribe)
    wants_dapr = req.statestore or req.pubsub or components or subs
    if wants_dapr and not dapr:
        flag = "--statestore" if req.statestore else "--pubsub" if req.pubsub else "--component"
        flag = "--subscribe" if subs and flag == "--component" and not components else flag
        raise UsageError(f"{flag}: Dapr building blocks need the Dapr sidecar; drop --no-dapr")
    if subs and not req.pubsub and not any(b.type.startswith("pubsub.") for b in components):
        raise UsageError(
            "--subscribe: needs --pubsub NAME (or --component pubsub.kafka:NAME) to subscribe through"
        )


# --- rendering --------------------------------------------------------------------------------


def _traffic(req: DeployAppRequest, stable: str | None) -> list[dict[str, Any]]:
    if req.traffic_percent is not None and stable is not None and req.traffic_percent < 100:
        out = [{"percent": req.traffic_percent, "revision_name": None, "tag": req.tag}]
        out.append({"percent": 100 - req.traffic_percent, "revision_name": stable, "tag": None})
        return out
    return [{"percent": 100, "revision_name": None, "tag": req.tag}]


def render_service(
    req: DeployAppRequest,
    *,
    dapr: bool,
    stable_revision: str | None = None,
    bindings: Sequence[Binding] = (),
) -> dict[str, Any]:
    """The Knative Service of ``req`` (validated), with traffic to ``stable_revision`` for a canary."""
    from platformctl.drivers.templates import render_template

    cpu, memory = quantity(req.cpu, "--cpu"), quantity(req.memory, "--memory")
    resources = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    values = {
        "name": req.name,
        "namespace": req.namespace,
        "image": req.image,
        "port": req.port,
        "min_scale": req.min_scale,
        "max_scale": req.max_scale,
        "concurrency": req.concurrency,
        "dapr": dapr,
        "dapr_metrics_port": DAPR_METRICS_PORT,
        "env_from_secrets": list(req.env_from_secret),
        "requests": resources,
        "limits": dict(resources),
        "traffic": _traffic(req, stable_revision),
    }
    docs = render_template(TEMPLATE, values)
    if len(docs) != 1 or docs[0].get("kind") != KSVC_KIND:
        raise RuntimeError(f"{TEMPLATE} must render exactly one Knative Service")
    ksvc = docs[0]
    container = ksvc["spec"]["template"]["spec"]["containers"][0]
    # Env values are free text: set on the parsed object, never through YAML text. The demo's
    # convention (agenda-service reads STATESTORE_NAME, every service PUBSUB_NAME) names the bindings.
    env = parse_env(req.env)
    names = {e["name"] for e in env}
    for b in bindings:
        key = "STATESTORE_NAME" if b.type.startswith("state.") else "PUBSUB_NAME"
        if key not in names:
            env.append({"name": key, "value": b.name})
            names.add(key)
    if env:
        container["env"] = env
    annotations = ksvc["metadata"].setdefault("annotations", {})
    if bindings:
        annotations[BINDINGS_ANNOTATION] = ",".join(b.name for b in bindings)
    annotations[REQUEST_ANNOTATION] = json.dumps(request_record(req, dapr, bindings), separators=(",", ":"))
    return ksvc


def request_record(req: DeployAppRequest, dapr: bool, bindings: Sequence[Binding]) -> dict[str, Any]:
    """The rendering inputs of a deploy, for the Service's REQUEST_ANNOTATION."""
    return {
        "image": req.image,
        "port": req.port,
        "env": list(req.env),
        "envFromSecret": list(req.env_from_secret),
        "minScale": req.min_scale,
        "maxScale": req.max_scale,
        "concurrency": req.concurrency,
        "cpu": req.cpu,
        "memory": req.memory,
        "dapr": dapr,
        "bindings": [[b.name, b.type] for b in bindings],
        "tag": req.tag,
    }


def request_from_record(
    name: str, namespace: str, record: dict[str, Any]
) -> tuple[DeployAppRequest, list[Binding]]:
    req = DeployAppRequest(
        name=name,
        namespace=namespace,
        image=record.get("image"),
        port=int(record.get("port") or DEFAULT_PORT),
        env=list(record.get("env") or []),
        env_from_secret=list(record.get("envFromSecret") or []),
        min_scale=int(record.get("minScale") or 0),
        max_scale=record.get("maxScale"),
        concurrency=record.get("concurrency"),
        cpu=record.get("cpu"),
        memory=record.get("memory"),
        dapr=bool(record.get("dapr")),
        tag=record.get("tag"),
    )
    bindings = [Binding(str(n), str(t), create=False) for n, t in record.get("bindings") or []]
    return req, bindings


def render_component(name: str, ctype: str, namespace: str, created_by: str | None) -> dict[str, Any]:
    return building_block(name, ctype, namespace, created_by)


def render_subscription(app: str, namespace: str, topic: str, route: str, pubsub: str) -> dict[str, Any]:
    from platformctl.drivers.templates import render_template

    (doc,) = render_template(
        SUBSCRIPTION_TEMPLATE,
        {
            "name": subscription_name(app, topic),
            "namespace": namespace,
            "app": app,
            "topic": topic,
            "route": route,
            "pubsub": pubsub,
        },
    )
    return doc


# --- cluster facts ----------------------------------------------------------------------------


def is_ours(obj: dict[str, Any] | None) -> bool:
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY) == "platformctl" and labels.get(KIND_LABEL) == "app"


def stable_revision(ksvc: dict[str, Any]) -> str | None:
    """The revision serving most traffic now (the base of a canary), else the latest ready one."""
    status = ksvc.get("status") or {}
    traffic = [t for t in status.get("traffic") or [] if isinstance(t, dict) and t.get("revisionName")]
    if traffic:
        return str(max(traffic, key=lambda t: int(t.get("percent") or 0))["revisionName"])
    ready = status.get("latestReadyRevisionName")
    return str(ready) if ready else None


def bound_components(ksvc: dict[str, Any]) -> list[str]:
    value = ((ksvc.get("metadata") or {}).get("annotations") or {}).get(BINDINGS_ANNOTATION) or ""
    return [n for n in str(value).split(",") if n]


_TYPE_OF_PREFIX = {"state.": "state.redis", "pubsub.": "pubsub.kafka"}


def _describe_components(comps: dict[str, str], prefix: str) -> str:
    names = sorted(n for n, t in comps.items() if t.startswith(prefix))
    return ", ".join(names) if names else "none"


def resolve_bindings(
    req: DeployAppRequest, live_components: dict[str, str] | None, workloads_namespace: str
) -> list[Binding]:
    """--statestore/--pubsub/--component as Bindings; UsageError naming what exists when unknown.

    ``live_components``: name -> type of the Dapr Components in the app's namespace (None: no cluster,
    a --dry-run without one: only the platform's shared names are known)."""
    created = parse_components(req.components)
    if created and req.namespace != workloads_namespace:
        raise UsageError(
            f"--component: building blocks live beside the platform's Redis and Kafka, in namespace "
            f"{workloads_namespace} (workloads.namespace); deploy the app there with --namespace "
            f"{workloads_namespace}"
        )
    known = dict(PLATFORM_BLOCKS) if live_components is None else dict(live_components)
    out: list[Binding] = []
    for b in created:
        if b.name in known and known[b.name] != b.type:
            raise UsageError(
                f"--component: {b.name!r} already exists in namespace {req.namespace} as a {known[b.name]} "
                "component; pick another name"
            )
        out.append(Binding(b.name, b.type, create=b.name not in known))
        known[b.name] = b.type
    for flag, value, prefix in (
        ("--statestore", req.statestore, "state."),
        ("--pubsub", req.pubsub, "pubsub."),
    ):
        if value is None:
            continue
        if value not in known or not known[value].startswith(prefix):
            raise UsageError(
                f"{flag}: no Dapr {prefix.rstrip('.')} component named {value!r} in namespace "
                f"{req.namespace}; there are: {_describe_components(known, prefix)} "
                f"(add one with --component {_TYPE_OF_PREFIX[prefix]}:{value})"
            )
        if all(b.name != value for b in out):
            out.append(Binding(value, known[value], create=False))
    return out


def live_components(engine: Engine, namespace: str) -> dict[str, str]:
    return {
        str(c["metadata"]["name"]): str((c.get("spec") or {}).get("type") or "")
        for c in engine.list(DAPR_API, "Component", namespace=namespace)
    }


def component_scopes(engine: Engine, namespace: str, overrides: dict[str, list[str]]) -> dict[str, list[str]]:
    """component name -> sorted app names bound to it, from every app's annotation in ``namespace``;
    ``overrides`` replaces the bindings of the apps it names (the app being deployed or deleted)."""
    bound: dict[str, list[str]] = {name: comps for name, comps in overrides.items()}
    for ksvc in engine.list(KSVC_API, KSVC_KIND, namespace=namespace, label_selector=f"{KIND_LABEL}=app"):
        name = str(ksvc["metadata"]["name"])
        if name not in bound:
            bound[name] = bound_components(ksvc)
    scopes: dict[str, list[str]] = {}
    for app, comps in bound.items():
        for comp in comps:
            scopes.setdefault(comp, []).append(app)
    return {comp: sorted(apps) for comp, apps in scopes.items()}


def release_components(
    engine: Engine, namespace: str, names: Sequence[str], scopes: dict[str, list[str]]
) -> list[str]:
    """Delete the components among ``names`` that deploy-app created (``--component``) and no app binds
    any more: without scopes Dapr would show them to every app. The deleted names."""
    deleted: list[str] = []
    for name in sorted(set(names)):
        if scopes.get(name):
            continue
        comp = engine.get(DAPR_API, "Component", name, namespace)
        labels = ((comp or {}).get("metadata") or {}).get("labels") or {}
        created = (
            labels.get(MANAGED_BY) == "platformctl" and labels.get("platformctl.io/component") == COMPONENT
        )
        if comp is not None and created:
            engine.delete(DAPR_API, "Component", name, namespace)
            deleted.append(name)
    return deleted


def set_scopes(engine: Engine, namespace: str, names: Sequence[str], scopes: dict[str, list[str]]) -> None:
    """Write each named Component's ``scopes``: the apps bound to it. A merge patch, not an apply, so
    that ``up`` (which declares the platform's components without scopes) never resets them."""
    from platformctl.drivers.kube.patch import merge_patch

    for name in sorted(set(names)):
        if engine.get(DAPR_API, "Component", name, namespace) is None:
            continue
        merge_patch(engine, DAPR_API, "Component", name, namespace, {"scopes": scopes.get(name) or None})


# --- the use-case -----------------------------------------------------------------------------


def example_requests(url: str, *, ingress: Endpoint | None = None) -> dict[str, str]:
    from platformctl.drivers.http import curl_command, curl_host_header_command, httpie_command

    return {
        "curl": curl_command("GET", url, ingress=ingress),
        "curl-host-header": curl_host_header_command(url, ingress=ingress),
        "httpie": httpie_command("GET", url, ingress=ingress),
    }


def status_traffic(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in (obj.get("status") or {}).get("traffic") or [] if isinstance(t, dict)]


def wait_app(engine: Engine, name: str, namespace: str, timeout: float) -> dict[str, Any]:
    """Wait for Ready; on failure the revision, its conditions and its pods' diagnostics, in plain words."""
    from platformctl.components.workloads import Deadline, wait_ksvcs

    try:
        wait_ksvcs(engine, namespace, [name], Deadline(timeout))
    except NotReadyError as exc:
        live = engine.get(KSVC_API, KSVC_KIND, name, namespace)
        revision = ((live or {}).get("status") or {}).get("latestCreatedRevisionName")
        details = list(exc.details)
        if revision:
            # Knative runs a revision as the Deployment "<revision>-deployment": its pods say why
            # (image pull errors, crash loops with the last log lines, unschedulable).
            try:
                details += engine.diagnose("apps/v1", "Deployment", f"{revision}-deployment", namespace)
            except Exception as diag_exc:  # diagnostics must never hide the original failure
                details.append(f"(could not collect pod diagnostics: {diag_exc})")
        raise NotReadyError(exc.message, details=details, hint=exc.hint) from exc
    obj = engine.get(KSVC_API, KSVC_KIND, name, namespace)
    return obj or {}


def deploy_app(
    req: DeployAppRequest,
    *,
    engine_factory: Callable[[], Engine] | None = None,
    dapr_default: bool = True,
    workloads_namespace: str = "default",
    ingress: Endpoint | None = None,
    reporter: Reporter | None = None,
    prepare_image: Callable[[], str] | None = None,
) -> DeployAppResult:
    """Validate, render, (unless dry-run) apply Dapr scopes/components/subscriptions and the Knative
    Service, and wait. ``dapr_default``: whether the platform runs Dapr (``--dapr`` unset).
    ``prepare_image`` (--build) runs after every check passed and before anything is applied; the
    image it returns replaces ``req.image``."""
    rep = reporter or NullReporter()
    step = f"app/{req.namespace}/{req.name}"
    validate_local(req, dapr_default=dapr_default)
    dapr = dapr_default if req.dapr is None else req.dapr
    needs_cluster = (
        req.traffic_percent is not None
        or req.statestore is not None
        or req.pubsub is not None
        or bool(req.components)
    )
    engine = engine_factory() if engine_factory and (not req.dry_run or needs_cluster) else None
    existing: dict[str, Any] | None = None
    comps: dict[str, str] | None = None
    if engine is not None:
        existing = engine.get(KSVC_API, KSVC_KIND, req.name, req.namespace)
        if dapr and (req.statestore or req.pubsub or req.components):
            comps = live_components(engine, req.namespace)
    if existing is not None and not is_ours(existing) and not req.force:
        raise SafetyError(
            f"NAME: Knative Service {req.namespace}/{req.name} exists and was not deployed by platformctl; "
            "nothing was changed",
            hint="pick another name, or pass --force to take it over",
        )
    stable: str | None = None
    if req.traffic_percent is not None:
        stable = stable_revision(existing) if existing is not None else None
        if existing is None or stable is None:
            where = f"namespace {req.namespace}" + (f" of {engine.context_name}" if engine else "")
            what = "does not exist" if existing is None else "has no ready revision yet"
            raise UsageError(
                f"--traffic-percent: app {req.name!r} {what} in {where}; "
                "deploy it first without --traffic-percent"
            )
    bindings = resolve_bindings(req, comps, workloads_namespace) if dapr else []
    ksvc = render_service(req, dapr=dapr, stable_revision=stable, bindings=bindings)
    created = [render_component(b.name, b.type, req.namespace, req.name) for b in bindings if b.create]
    pubsub = req.pubsub or next((b.name for b in bindings if b.type.startswith("pubsub.")), None)
    subs = [
        render_subscription(req.name, req.namespace, topic, route, pubsub or "")
        for topic, route in parse_subscriptions(req.subscribe)
    ]
    result = DeployAppResult(
        req.name,
        req.namespace,
        [ksvc, *created, *subs],
        applied=False,
        bindings={b.name: b.type for b in bindings},
    )
    if req.dry_run or engine is None:
        # What the cluster will hold: the created components with the scopes deploy-app writes.
        for comp in created:
            comp["scopes"] = [req.name]
        return result
    if prepare_image is not None:
        req.image = validate_image(prepare_image())
        ksvc = render_service(req, dapr=dapr, stable_revision=stable, bindings=bindings)
        result.objects[0] = ksvc
    timeout = min(req.timeout, 300)
    if created or subs or bindings or (existing is not None and bound_components(existing)):
        reporting.start(rep, step, "applying Dapr building blocks")
        if created:
            engine.apply(created, component=COMPONENT, timeout=timeout)
        # scopes first: a sidecar reads its components once, when it starts
        names = [b.name for b in bindings] + (bound_components(existing) if existing else [])
        scopes = component_scopes(engine, req.namespace, {req.name: [b.name for b in bindings]})
        released = release_components(engine, req.namespace, names, scopes)
        set_scopes(engine, req.namespace, [n for n in names if n not in released], scopes)
        if subs:
            engine.apply(subs, component=COMPONENT, timeout=timeout)
        _delete_stale_subscriptions(engine, req.name, req.namespace, {s["metadata"]["name"] for s in subs})
    reporting.start(rep, step, "applying Knative Service")
    report = engine.apply([ksvc], component=COMPONENT, timeout=timeout, force_conflicts=req.force)
    result.applied = True
    result.action = next((r.action for r in report.results if r.kind == KSVC_KIND), None)
    if req.wait:
        reporting.update(rep, step, f"waiting up to {req.timeout:g}s for Ready")
        obj = wait_app(engine, req.name, req.namespace, req.timeout)
        result.ready = True
    else:
        obj = engine.get(KSVC_API, KSVC_KIND, req.name, req.namespace) or {}
    status = obj.get("status") or {}
    result.url = status.get("url")
    result.revision = status.get("latestCreatedRevisionName")
    result.traffic = status_traffic(obj)
    if result.url:
        result.requests = example_requests(result.url, ingress=ingress)
    reporting.finish(rep, step, "ready" if result.ready else (result.action or "applied"))
    return result


def _delete_stale_subscriptions(engine: Engine, app: str, namespace: str, keep: set[str]) -> None:
    for sub in engine.list(
        SUBSCRIPTION_API, "Subscription", namespace=namespace, label_selector=f"{APP_LABEL}={app}"
    ):
        name = str(sub["metadata"]["name"])
        labels = sub["metadata"].get("labels") or {}
        if name not in keep and labels.get(MANAGED_BY) == "platformctl":
            engine.delete(SUBSCRIPTION_API, "Subscription", name, namespace)
