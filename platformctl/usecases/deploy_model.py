"""``platformctl deploy-model``: validate everything, render one InferenceService, apply, wait, explain.

Validation happens before any cluster write, so bad input (name, URI, format/protocol/runtime per
the runtimes table, quantities, canary on a missing model) raises UsageError and applies nothing.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from platformctl import reporting
from platformctl.components.kserve_runtimes import HTTP_PROTOCOLS, RuntimeTable
from platformctl.errors import ClusterError, SafetyError, UsageError
from platformctl.plan.spec import DNS1123_LABEL, DNS1123_SUBDOMAIN
from platformctl.reporting import NullReporter, Reporter
from platformctl.usecases import model_storage
from platformctl.usecases.model_spec import (
    ISVC_API,
    ISVC_KIND,
    Change,
    ModelSettings,
    merge_live,
    protocol_of,
    render_isvc,
    settings_from_live,
    spec_changes,
    user_metadata,
)
from platformctl.usecases.model_storage import StorageObjects, StorageRequest

if TYPE_CHECKING:
    from pathlib import Path

    from platformctl.drivers.http import Endpoint
    from platformctl.drivers.kube.engine import Engine
    from platformctl.plan.spec import PlatformSpec

COMPONENT = "models"
INT32_MAX = 2**31 - 1
__all__ = [
    "ISVC_API",
    "ISVC_KIND",
    "DeployModelRequest",
    "DeployModelResult",
    "deploy_model",
    "promote_model",
]

# The design §6 iris payloads: the example request printed after a deploy.
V1_EXAMPLE = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
V2_EXAMPLE = {
    "inputs": [
        {
            "name": "input-0",
            "shape": [2, 4],
            "datatype": "FP32",
            "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]],
        }
    ]
}

# Kubernetes resource quantity (decimal or binary suffix), e.g. 500m, 1, 1.5, 256Mi, 2G.
# A resource quantity, by the grammar of kubernetes/apimachinery pkg/api/resource/quantity.go
# (<number><suffix>; suffix: binary SI Ki..Ei, decimal SI m/""/k/M/G/T/P/E, or a decimal exponent
# e<signedNumber>, so "1e3" is 1000), unsigned: requests and limits are never negative.
_QUANTITY = re.compile(r"^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
# Bucket names: GCS https://cloud.google.com/storage/docs/buckets#naming, S3 3-63 chars [a-z0-9.-].
_GCS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# hf://${REPO}/${MODEL}:${HASH}(optional) — KServe docs, storage/providers/hf.
_HF_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HF_HASH = re.compile(r"^[A-Za-z0-9._-]+$")
# The rendering layer's safe-scalar alphabet (drivers/templates.py): say so under the right flag.
_URI_CHARS = re.compile(r"^[A-Za-z0-9._/@:+=-]+$")
STORAGE_SCHEMES: tuple[str, ...] = ("gs", "s3", "https", "pvc", "hf")


@dataclass
class DeployModelRequest:
    """The flags as given: None (or empty) = not given. A new model gets the defaults; an existing one
    keeps its live value for every flag not given (see usecases/model_spec.py)."""

    name: str
    namespace: str = "default"
    format: str | None = None
    storage_uri: str | None = None
    protocol: str | None = None
    runtime: str | None = None
    image: str | None = None  # custom predictor container (instead of --format)
    port: int | None = None
    args: Sequence[str] = ()
    transformer_image: str | None = None
    transformer_env: Sequence[str] = ()
    transformer_port: int | None = None
    min_replicas: int | None = None  # a new model: 1
    max_replicas: int | None = None
    cpu: str | None = None
    memory: str | None = None
    gpu: int | None = None
    node_selector: Sequence[str] = ()
    tolerations: Sequence[str] = ()
    scale_metric: str | None = None
    scale_target: int | None = None
    canary_traffic_percent: int | None = None
    env: Sequence[str] = ()
    storage: StorageRequest = field(default_factory=StorageRequest)
    environ: Mapping[str, str] = field(default_factory=dict)  # where --s3-*-env variables are read
    force: bool = False  # take over a Secret/ServiceAccount platformctl did not create
    wait: bool = True
    timeout: float = 600
    dry_run: bool = False


@dataclass
class DeployModelResult:
    name: str
    namespace: str
    manifest: dict[str, Any]
    applied: bool
    action: str | None = None  # created / configured / unchanged
    ready: bool = False
    url: str | None = None
    protocol: str = "v1"
    runtimes: list[str] = field(default_factory=list)  # runtimes that can serve it (KServe picks)
    canary_traffic_percent: int | None = None
    traffic: list[dict[str, Any]] = field(default_factory=list)
    requests: dict[str, str] = field(default_factory=dict)  # "curl" / "httpie" → command line
    existed: bool = False  # an InferenceService of this name was live (the base of this deploy)
    changes: list[Change] = field(default_factory=list)  # field-level diff against the live object
    objects: list[dict[str, Any]] = field(default_factory=list)  # every object, Secrets redacted
    custom: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "applied": self.applied,
            "action": self.action,
            "ready": self.ready,
            "url": self.url,
            "protocol": self.protocol,
            "runtimes": self.runtimes,
            "canaryTrafficPercent": self.canary_traffic_percent,
            "traffic": self.traffic,
            "requests": self.requests,
            "existed": self.existed,
            "changes": [c.to_dict() for c in self.changes],
            "manifest": self.manifest,
            "objects": self.objects,
        }


def validate_name(value: str, flag: str) -> str:
    if not DNS1123_LABEL.fullmatch(value):
        raise UsageError(
            f"{flag}: {value!r} is not a DNS-1123 label (lowercase letters, digits, '-', "
            "start and end alphanumeric, at most 63 characters)"
        )
    return value


def validate_storage_uri(uri: str) -> str:
    """Scheme and shape of a KServe storageUri; UsageError naming --storage-uri otherwise."""
    bad = f"--storage-uri: {uri!r}"
    if not _URI_CHARS.fullmatch(uri):
        raise UsageError(f"{bad}: only letters, digits and . _ / @ : + = - are allowed in a storage URI")
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in STORAGE_SCHEMES:
        raise UsageError(f"{bad}: scheme must be one of " + ", ".join(f"{s}://" for s in STORAGE_SCHEMES))
    first, _, path = rest.partition("/")
    if scheme in ("gs", "s3"):
        pattern = _GCS_BUCKET if scheme == "gs" else _S3_BUCKET
        if not pattern.fullmatch(first) or ".." in first:
            raise UsageError(f"{bad}: {first!r} is not a valid bucket name ({scheme}://BUCKET/PATH)")
        if "//" in path:
            raise UsageError(f"{bad}: empty path segment ({scheme}://BUCKET/PATH)")
    elif scheme == "https":
        parts = urlsplit(uri)
        if not parts.hostname or "." not in parts.hostname or not parts.path.strip("/"):
            raise UsageError(f"{bad}: expected https://HOST/PATH to a model file or archive")
    elif scheme == "pvc":
        if not DNS1123_SUBDOMAIN.fullmatch(first) or len(first) > 253:
            raise UsageError(f"{bad}: {first!r} is not a PersistentVolumeClaim name (pvc://CLAIM/PATH)")
    elif scheme == "hf":
        repo_model, _, revision = rest.partition(":")
        pieces = repo_model.split("/")
        if len(pieces) != 2 or not all(_HF_PART.fullmatch(p) for p in pieces):
            raise UsageError(f"{bad}: expected hf://REPO/MODEL[:HASH], e.g. hf://facebook/opt-125m")
        if revision and not _HF_HASH.fullmatch(revision):
            raise UsageError(f"{bad}: {revision!r} is not a revision hash")
    return uri


def parse_env(items: Sequence[str], flag: str = "--env") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not _ENV_NAME.fullmatch(key):
            raise UsageError(f"{flag}: {item!r} is not KEY=VALUE with KEY a valid environment variable name")
        out.append({"name": key, "value": value})
    return out


def quantity(value: str | None, flag: str) -> str | None:
    """``value`` if it is a Kubernetes quantity (--cpu, --memory), else a UsageError naming ``flag``."""
    if value is None:
        return None
    if not _QUANTITY.fullmatch(value):
        raise UsageError(f"{flag}: {value!r} is not a Kubernetes quantity (e.g. 500m, 1, 256Mi, 2Gi)")
    return value


_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
# Taint effects (Kubernetes core/v1 Toleration.effect) and the `kubectl taint` form KEY[=VALUE]:EFFECT.
TOLERATION_EFFECTS: tuple[str, ...] = ("NoSchedule", "PreferNoSchedule", "NoExecute")
# The KPA metrics KServe passes to Knative (predictor.scaleMetric; the CRD's enum also lists cpu and
# memory, which need the HPA class: not offered here).
SCALE_METRICS: tuple[str, ...] = ("concurrency", "rps")
# An image reference: [registry[:port]/]path[:tag][@sha256:digest]
# (distribution/reference grammar, simplified).
_IMAGE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(@sha256:[a-f0-9]{64})?$"
)


def parse_node_selector(items: Sequence[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            raise UsageError(
                f"--node-selector: {item!r} is not KEY=VALUE with a label key and value "
                "(e.g. nvidia.com/gpu.present=true)"
            )
        out[key] = value
    return out or None


def parse_toleration(item: str) -> dict[str, Any]:
    """``KEY[=VALUE]:EFFECT`` (as in ``kubectl taint``) or ``KEY[=VALUE]`` (any effect)."""
    spec, sep, effect = item.rpartition(":")
    if not sep:
        spec, effect = item, ""
    key, eq, value = spec.partition("=")
    if (
        not _LABEL_KEY.fullmatch(key)
        or (eq and not _LABEL_VALUE.fullmatch(value))
        or (effect and effect not in TOLERATION_EFFECTS)
    ):
        raise UsageError(
            f"--toleration: {item!r} is not KEY[=VALUE][:EFFECT] with EFFECT one of "
            + ", ".join(TOLERATION_EFFECTS)
            + " (e.g. nvidia.com/gpu:NoSchedule)"
        )
    tol: dict[str, Any] = {"key": key, "operator": "Equal" if eq else "Exists"}
    if eq:
        tol["value"] = value
    if effect:
        tol["effect"] = effect
    return tol


def _image(value: str | None, flag: str) -> None:
    if value is not None and (len(value) > 255 or not _IMAGE.fullmatch(value)):
        raise UsageError(f"{flag}: {value!r} is not an image reference (REGISTRY/NAME[:TAG][@sha256:DIGEST])")


def _port(value: int | None, flag: str) -> None:
    if value is not None and not 1 <= value <= 65535:
        raise UsageError(f"{flag}: {value} must be a port number 1-65535")


def validate_local(req: DeployModelRequest) -> None:
    """Every check that needs neither the cluster nor the runtimes table (runs before connecting)."""
    validate_name(req.name, "NAME")
    validate_name(req.namespace, "--namespace")
    if req.image is not None:
        for flag, value in (
            ("--format", req.format),
            ("--runtime", req.runtime),
            ("--storage-uri", req.storage_uri),
        ):
            if value is not None:
                raise UsageError(
                    f"{flag}: not used with --image (a custom predictor serves its own model); "
                    f"drop {flag} or --image"
                )
    _image(req.image, "--image")
    _image(req.transformer_image, "--transformer-image")
    _port(req.port, "--port")
    _port(req.transformer_port, "--transformer-port")
    if req.storage_uri is not None:
        validate_storage_uri(req.storage_uri)
    if req.protocol is not None and req.protocol not in HTTP_PROTOCOLS:
        raise UsageError(f"--protocol: {req.protocol!r}; choose one of " + ", ".join(HTTP_PROTOCOLS))
    if req.min_replicas is not None and req.min_replicas < 0:
        raise UsageError(f"--min-replicas: {req.min_replicas} must be 0 (scale to zero) or more")
    if req.max_replicas is not None and (req.max_replicas < 1 or req.max_replicas < (req.min_replicas or 0)):
        raise UsageError(f"--max-replicas: {req.max_replicas} must be at least 1 and ≥ --min-replicas")
    if req.gpu is not None and req.gpu < 1:
        raise UsageError(f"--gpu: {req.gpu} must be a positive number of GPUs")
    if req.canary_traffic_percent is not None and not 0 <= req.canary_traffic_percent <= 100:
        raise UsageError(f"--canary-traffic-percent: {req.canary_traffic_percent} must be 0-100")
    if req.scale_metric is not None and req.scale_metric not in SCALE_METRICS:
        raise UsageError(f"--scale-metric: {req.scale_metric!r}; choose one of " + ", ".join(SCALE_METRICS))
    if req.scale_target is not None and req.scale_target < 1:
        raise UsageError(f"--scale-target: {req.scale_target} must be a positive number")
    if not 0 < req.timeout < math.inf:  # also refuses nan
        raise UsageError(f"--timeout: {req.timeout:g} must be a positive, finite number of seconds")
    for flag, count in (
        ("--min-replicas", req.min_replicas),
        ("--max-replicas", req.max_replicas),
        ("--scale-target", req.scale_target),
        ("--gpu", req.gpu),
    ):
        if count is not None and count > INT32_MAX:  # the CRD's fields are int32
            raise UsageError(f"{flag}: {count} is larger than {INT32_MAX}")
    quantity(req.cpu, "--cpu")
    quantity(req.memory, "--memory")
    parse_env(req.env)
    parse_env(req.transformer_env, "--transformer-env")
    parse_node_selector(req.node_selector)
    for item in req.tolerations:
        parse_toleration(item)
    model_storage.validate_local(req.storage)


def given_settings(req: DeployModelRequest) -> ModelSettings:
    """The settings the flags set (None where a flag was not given)."""
    return ModelSettings(
        format=req.format,
        runtime=req.runtime,
        protocol=req.protocol,
        storage_uri=req.storage_uri,
        image=req.image,
        port=req.port,
        args=list(req.args) or None,
        env=parse_env(req.env) or None,
        transformer_image=req.transformer_image,
        transformer_port=req.transformer_port,
        transformer_env=parse_env(req.transformer_env, "--transformer-env") or None,
        min_replicas=req.min_replicas,
        max_replicas=req.max_replicas,
        canary_traffic_percent=req.canary_traffic_percent,
        node_selector=parse_node_selector(req.node_selector),
        tolerations=[parse_toleration(t) for t in req.tolerations] or None,
        scale_metric=req.scale_metric,
        scale_target=req.scale_target,
    )


def effective_settings(req: DeployModelRequest, live: dict[str, Any] | None) -> ModelSettings:
    """The live model's settings with the given flags on top (a new model: the flags alone)."""
    given = given_settings(req)
    if live is None:
        eff = given
    else:
        base = settings_from_live(live)
        if given.image is not None and not base.custom:  # model -> custom container
            base.format = base.runtime = base.storage_uri = None
        if given.format is not None and base.custom:  # custom container -> model
            base.image = base.port = base.args = None
        eff = base.overlay(given)
        if req.canary_traffic_percent is None:
            eff.canary_traffic_percent = None  # no canary: the new revision takes 100%
    requests = dict(eff.requests or {})
    limits = dict(eff.limits or {})
    for key, value in (("cpu", quantity(req.cpu, "--cpu")), ("memory", quantity(req.memory, "--memory"))):
        if value:
            requests[key] = limits[key] = value
    if req.gpu:
        limits["nvidia.com/gpu"] = str(req.gpu)  # extended resources: limits only (requests default to it)
    eff.requests, eff.limits = requests or None, limits or None
    if eff.max_replicas is not None and eff.max_replicas < (
        eff.min_replicas if eff.min_replicas is not None else 1
    ):
        raise UsageError(f"--max-replicas: {eff.max_replicas} must be ≥ --min-replicas ({eff.min_replicas})")
    if not eff.custom and (req.port is not None or req.args):
        flag = "--port" if req.port is not None else "--args"
        raise UsageError(f"{flag}: only for a custom predictor (--image)")
    if eff.custom and (req.storage_uri is not None or req.runtime is not None):
        flag = "--storage-uri" if req.storage_uri is not None else "--runtime"
        raise UsageError(
            f"{flag}: {req.name} is a custom predictor (--image); switch it with --format, or drop {flag}"
        )
    if eff.transformer_image is None and (req.transformer_env or req.transformer_port is not None):
        flag = "--transformer-env" if req.transformer_env else "--transformer-port"
        raise UsageError(f"{flag}: the model has no transformer; add --transformer-image")
    return eff


def check_servable(eff: ModelSettings, table: RuntimeTable) -> list[str]:
    """The runtimes that can serve ``eff`` (UsageError naming the flag when none can)."""
    if eff.custom:
        return []
    if eff.format is None:
        raise UsageError(
            "--format is required for a new model (or --image for a custom predictor); choose one of: "
            + ", ".join(table.formats())
        )
    if eff.storage_uri is None:
        raise UsageError("--storage-uri is required (gs://, s3://, https://, pvc:// or hf://)")
    table.select(eff.format, eff.protocol, eff.runtime)
    if eff.runtime:
        return [eff.runtime]
    return sorted(
        {e.runtime for e in table.entries if e.format == eff.format and e.auto_select}
        & {e.runtime for e in table.entries if eff.protocol is None or eff.protocol in e.protocols}
    )


def example_requests(
    url: str, name: str, protocol: str, *, ingress: Endpoint | None = None
) -> dict[str, str]:
    from platformctl.drivers.http import curl_command, httpie_command

    base = url.rstrip("/")
    if protocol == "v2":
        target, body = f"{base}/v2/models/{name}/infer", json.dumps(V2_EXAMPLE, separators=(",", ":"))
    else:
        target, body = f"{base}/v1/models/{name}:predict", json.dumps(V1_EXAMPLE, separators=(",", ":"))
    return {
        "curl": curl_command("POST", target, body=body, ingress=ingress),
        "httpie": httpie_command("POST", target, body=body, ingress=ingress),
    }


def predictor_traffic(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """status.components.predictor.traffic: [{revisionName, percent, latestRevision, tag}]."""
    comp = ((obj.get("status") or {}).get("components") or {}).get("predictor") or {}
    return [t for t in comp.get("traffic") or [] if isinstance(t, dict)]


def _check_storage_ownership(engine: Engine, storage: StorageObjects, namespace: str, force: bool) -> None:
    """Never overwrite a Secret/ServiceAccount platformctl did not create (unless --force); an existing
    --storage-secret must exist."""
    from platformctl.drivers.kube.labels import MANAGED_BY, MANAGED_BY_KEY

    if storage.secret is None and engine.get("v1", "Secret", storage.secret_name, namespace) is None:
        raise UsageError(
            f"--storage-secret: Secret {storage.secret_name!r} not found in namespace {namespace}"
        )
    for obj in storage.objects():
        kind, name = obj["kind"], obj["metadata"]["name"]
        live = engine.get("v1", kind, name, namespace)
        labels = ((live or {}).get("metadata") or {}).get("labels") or {}
        if live is not None and labels.get(MANAGED_BY_KEY) != MANAGED_BY and not force:
            raise SafetyError(
                f"{kind} {namespace}/{name} exists and was not created by platformctl; "
                "pass --force to take it over, or use --storage-secret with your own Secret"
            )


def deploy_model(
    req: DeployModelRequest,
    *,
    table: RuntimeTable | Callable[[Engine | None], RuntimeTable],
    engine_factory: Callable[[], Engine] | None = None,
    ingress: Endpoint | None = None,
    reporter: Reporter | None = None,
) -> DeployModelResult:
    """Validate, render, (unless dry-run) apply and wait. ``table`` may depend on the engine.

    An existing InferenceService is the base: flags not given keep their live values, and the result
    lists the field-level changes. ``--dry-run`` reads the cluster (to compare) but writes nothing."""
    rep = reporter or NullReporter()
    step = f"model/{req.namespace}/{req.name}"
    validate_local(req)  # bad input is reported even when the cluster is unreachable
    engine = engine_factory() if engine_factory else None
    existing: dict[str, Any] | None = None
    if engine is not None:
        existing = engine.get(ISVC_API, ISVC_KIND, req.name, req.namespace)
        if existing is None and engine.get("v1", "Namespace", req.namespace) is None:
            # Checked here, for the real deploy and the dry run alike (a server-side dry run would
            # assume an earlier step creates it).
            raise UsageError(
                f"--namespace: namespace {req.namespace} does not exist on {engine.context_name}; "
                f"create it (kubectl create namespace {req.namespace}) or choose another"
            )
    if req.canary_traffic_percent is not None and existing is None:
        where = f"namespace {req.namespace}" + (f" of {engine.context_name}" if engine else "")
        raise UsageError(
            f"--canary-traffic-percent: InferenceService {req.name!r} does not exist in {where}; "
            "deploy it first without --canary-traffic-percent"
        )
    eff = effective_settings(req, existing)
    storage = model_storage.build_storage(
        req.storage, model=req.name, namespace=req.namespace, environ=req.environ
    )
    if storage is not None:
        model_storage.check_scheme(storage, eff.storage_uri)
        eff.service_account = storage.account_name
    # A custom predictor needs no runtime: the table (cluster or pinned release) is not even read.
    runtimes = [] if eff.custom else check_servable(eff, table(engine) if callable(table) else table)
    rendered = render_isvc(req.name, req.namespace, eff)
    manifest = merge_live(existing, rendered) if existing is not None else rendered
    if engine is not None and storage is not None:
        _check_storage_ownership(engine, storage, req.namespace, req.force)
    result = DeployModelResult(
        req.name,
        req.namespace,
        manifest,
        applied=False,
        protocol=eff.protocol or "v1",
        runtimes=runtimes,
        canary_traffic_percent=eff.canary_traffic_percent,
        existed=existing is not None,
        changes=spec_changes(existing, manifest),
        objects=(storage.redacted() if storage else []) + [manifest],
        custom=eff.custom,
    )
    if engine is None:
        return result
    if req.dry_run:
        # The API server checks what it would store (schemas, KServe's admission webhooks) and stores
        # nothing: a dry run does not report success for something the real deploy would fail on.
        deps = storage.objects() if storage is not None else []
        report = engine.apply(
            [*deps, manifest], component=COMPONENT, dry_run=True, timeout=min(req.timeout, 300)
        )
        result.action = next((r.action for r in report.results if r.kind == ISVC_KIND), None)
        return result
    timeout = min(req.timeout, 300)
    if storage is not None:
        # The ServiceAccount and Secret first (pods need them), owned by the model once it has a uid.
        reporting.start(rep, step, "applying storage credentials")
        deps = storage.objects()
        if existing is not None:
            for dep in deps:
                dep["metadata"]["ownerReferences"] = [model_storage.owner_reference(existing)]
        engine.apply(deps, component=COMPONENT, timeout=timeout)
    reporting.start(rep, step, "applying InferenceService")
    report = engine.apply([manifest], component=COMPONENT, timeout=timeout)
    result.applied = True
    result.action = report.results[0].action if report.results else None
    if storage is not None and existing is None:
        live = engine.get(ISVC_API, ISVC_KIND, req.name, req.namespace)
        if live is not None:
            reporting.update(rep, step, "making the credentials dependents of the model")
            deps = storage.objects()
            for dep in deps:
                dep["metadata"]["ownerReferences"] = [model_storage.owner_reference(live)]
            engine.apply(deps, component=COMPONENT, timeout=timeout)
    obj: dict[str, Any] | None = None
    if req.wait:
        reporting.update(rep, step, f"waiting up to {req.timeout:g}s for Ready")
        obj = engine.wait_ready(ISVC_API, ISVC_KIND, req.name, req.namespace, req.timeout)
        result.ready = True
    else:
        obj = engine.get(ISVC_API, ISVC_KIND, req.name, req.namespace)
    if obj is not None:
        result.url = (obj.get("status") or {}).get("url")
        result.traffic = predictor_traffic(obj)
    if result.url:
        result.requests = example_requests(result.url, req.name, result.protocol, ingress=ingress)
    reporting.finish(rep, step, "ready" if result.ready else (result.action or "applied"))
    return result


def promote_model(
    engine: Engine,
    name: str,
    namespace: str,
    *,
    wait: bool = True,
    timeout: float = 600,
    reporter: Reporter | None = None,
) -> DeployModelResult:
    """Send 100% of traffic to the canary: drop ``canaryTrafficPercent``, change nothing else."""
    rep = reporter or NullReporter()
    validate_name(name, "NAME")
    validate_name(namespace, "--namespace")
    live = engine.get(ISVC_API, ISVC_KIND, name, namespace)
    if live is None:
        raise UsageError(f"NAME: InferenceService {name!r} not found in namespace {namespace}")
    pred = (live.get("spec") or {}).get("predictor") or {}
    if pred.get("canaryTrafficPercent") is None:
        raise UsageError(
            f"NAME: InferenceService {namespace}/{name} has no canary (no canaryTrafficPercent); "
            "nothing to promote"
        )
    manifest = copy.deepcopy({k: live[k] for k in ("apiVersion", "kind", "spec")})
    meta = live.get("metadata") or {}
    manifest["metadata"] = {"name": name, "namespace": namespace}
    for key in ("labels", "annotations"):
        kept = user_metadata(meta, key)
        if kept:
            manifest["metadata"][key] = kept
    del manifest["spec"]["predictor"]["canaryTrafficPercent"]
    step = f"model/{namespace}/{name}"
    reporting.start(rep, step, "promoting the canary revision to 100%")
    report = engine.apply([manifest], component=COMPONENT, timeout=min(timeout, 300))
    after = engine.get(ISVC_API, ISVC_KIND, name, namespace) or {}
    if ((after.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent") is not None:
        raise ClusterError(
            f"InferenceService {namespace}/{name}: canaryTrafficPercent is still set (another field "
            "manager owns it); remove it with kubectl edit"
        )
    result = DeployModelResult(
        name,
        namespace,
        manifest,
        applied=True,
        action=report.results[0].action if report.results else None,
        protocol=protocol_of(live),
        existed=True,
        changes=spec_changes(live, manifest),
        objects=[manifest],
    )
    obj = engine.wait_ready(ISVC_API, ISVC_KIND, name, namespace, timeout) if wait else after
    result.ready = wait
    result.url = (obj.get("status") or {}).get("url")
    result.traffic = predictor_traffic(obj)
    reporting.finish(rep, step, "promoted")
    return result


def runtime_table(
    spec: PlatformSpec, engine: Engine | None, *, manifests_dir: Path | None = None
) -> RuntimeTable:
    """The live cluster's ClusterServingRuntimes when it has any, else the pinned kserve release's (from
    ``manifests_dir``, the download cache or a verified download)."""
    from platformctl.components.kserve_runtimes import cluster_table, pinned_table
    from platformctl.drivers.sources import SourceResolver
    from platformctl.plan.lock import load_lock

    if engine is not None:
        live = cluster_table(engine)
        if live.entries:
            return live
    resolver = SourceResolver(load_lock(), manifests_dir=manifests_dir)  # cache: $PLATFORMCTL_CACHE_DIR
    return pinned_table(resolver, resolver.lock.selected(spec, "kserve")[0])
