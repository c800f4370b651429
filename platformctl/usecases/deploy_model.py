"""``platformctl deploy-model``: validate everything, render one InferenceService, apply, wait, explain.

Validation happens before any cluster write, so bad input (name, URI, format/protocol/runtime per
the runtimes table, quantities, canary on a missing model) raises UsageError and applies nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from platformctl import reporting
from platformctl.errors import UsageError
from platformctl.kserve_runtimes import HTTP_PROTOCOLS, RuntimeTable
from platformctl.plan.spec import DNS1123_LABEL, DNS1123_SUBDOMAIN
from platformctl.reporting import NullReporter, Reporter

if TYPE_CHECKING:
    from platformctl.drivers.http import Endpoint
    from platformctl.drivers.kube.engine import Engine

ISVC_API = "serving.kserve.io/v1beta1"
ISVC_KIND = "InferenceService"
COMPONENT = "models"
TEMPLATE = "models/inferenceservice.yaml.j2"

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
_QUANTITY = re.compile(r"^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
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
    name: str
    namespace: str = "default"
    format: str | None = None
    storage_uri: str | None = None
    protocol: str | None = None
    runtime: str | None = None
    min_replicas: int = 1
    max_replicas: int | None = None
    cpu: str | None = None
    memory: str | None = None
    gpu: int | None = None
    canary_traffic_percent: int | None = None
    env: Sequence[str] = ()
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
            "manifest": self.manifest,
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


def parse_env(items: Sequence[str]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not _ENV_NAME.fullmatch(key):
            raise UsageError(f"--env: {item!r} is not KEY=VALUE with KEY a valid environment variable name")
        out.append({"name": key, "value": value})
    return out


def _quantity(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    if not _QUANTITY.fullmatch(value):
        raise UsageError(f"{flag}: {value!r} is not a Kubernetes quantity (e.g. 500m, 1, 256Mi, 2Gi)")
    return value


def _existing_format(obj: dict[str, Any]) -> tuple[str | None, str | None, str | None, str | None]:
    model = ((obj.get("spec") or {}).get("predictor") or {}).get("model") or {}
    fmt = (model.get("modelFormat") or {}).get("name")
    return fmt, model.get("protocolVersion"), model.get("runtime"), model.get("storageUri")


def validate_local(req: DeployModelRequest) -> None:
    """Every check that needs neither the cluster nor the runtimes table (runs before connecting)."""
    validate_name(req.name, "NAME")
    validate_name(req.namespace, "--namespace")
    if req.storage_uri is not None:
        validate_storage_uri(req.storage_uri)
    if req.protocol is not None and req.protocol not in HTTP_PROTOCOLS:
        raise UsageError(f"--protocol: {req.protocol!r}; choose one of " + ", ".join(HTTP_PROTOCOLS))
    if req.min_replicas < 0:
        raise UsageError(f"--min-replicas: {req.min_replicas} must be 0 (scale to zero) or more")
    if req.max_replicas is not None and (req.max_replicas < 1 or req.max_replicas < req.min_replicas):
        raise UsageError(f"--max-replicas: {req.max_replicas} must be at least 1 and ≥ --min-replicas")
    if req.gpu is not None and req.gpu < 1:
        raise UsageError(f"--gpu: {req.gpu} must be a positive number of GPUs")
    if req.canary_traffic_percent is not None and not 0 <= req.canary_traffic_percent <= 100:
        raise UsageError(f"--canary-traffic-percent: {req.canary_traffic_percent} must be 0-100")
    if req.timeout <= 0:
        raise UsageError(f"--timeout: {req.timeout:g} must be positive seconds")
    _quantity(req.cpu, "--cpu")
    _quantity(req.memory, "--memory")
    parse_env(req.env)


def build_values(req: DeployModelRequest, table: RuntimeTable) -> dict[str, Any]:
    """Validate the request (locally, then against the runtimes table); return the template's values."""
    validate_local(req)
    if req.format is None:
        raise UsageError("--format is required for a new model; choose one of: " + ", ".join(table.formats()))
    if req.storage_uri is None:
        raise UsageError("--storage-uri is required (gs://, s3://, https://, pvc:// or hf://)")
    table.select(req.format, req.protocol, req.runtime)
    cpu = _quantity(req.cpu, "--cpu")
    memory = _quantity(req.memory, "--memory")
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if cpu:
        requests["cpu"] = limits["cpu"] = cpu
    if memory:
        requests["memory"] = limits["memory"] = memory
    if req.gpu:
        limits["nvidia.com/gpu"] = str(req.gpu)  # extended resources: limits only (requests default to it)
    return {
        "name": req.name,
        "namespace": req.namespace,
        "format": req.format,
        "runtime": req.runtime,
        "protocol": req.protocol,
        "storage_uri": req.storage_uri,
        "min_replicas": req.min_replicas,
        "max_replicas": req.max_replicas,
        "canary_traffic_percent": req.canary_traffic_percent,
        "requests": requests,
        "limits": limits,
    }


def render_manifest(values: dict[str, Any]) -> dict[str, Any]:
    from platformctl.drivers.templates import render_template

    docs = render_template(TEMPLATE, values)
    if len(docs) != 1 or docs[0].get("kind") != ISVC_KIND:
        raise RuntimeError(f"{TEMPLATE} must render exactly one InferenceService")
    return docs[0]


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


def deploy_model(
    req: DeployModelRequest,
    *,
    table: RuntimeTable | Callable[[Engine | None], RuntimeTable],
    engine_factory: Callable[[], Engine] | None = None,
    ingress: Endpoint | None = None,
    reporter: Reporter | None = None,
) -> DeployModelResult:
    """Validate, render, (unless dry-run) apply and wait. ``table`` may depend on the engine."""
    rep = reporter or NullReporter()
    step = f"model/{req.namespace}/{req.name}"
    validate_local(req)  # bad input is reported even when the cluster is unreachable
    # A cluster is needed to apply, and to check a canary's base even on --dry-run.
    engine = (
        engine_factory()
        if engine_factory and (not req.dry_run or req.canary_traffic_percent is not None)
        else None
    )
    existing: dict[str, Any] | None = None
    if engine is not None:
        existing = engine.get(ISVC_API, ISVC_KIND, req.name, req.namespace)
    if req.canary_traffic_percent is not None:
        if existing is None:
            where = f"namespace {req.namespace}" + (f" of {engine.context_name}" if engine else "")
            raise UsageError(
                f"--canary-traffic-percent: InferenceService {req.name!r} does not exist in {where}; "
                "deploy it first without --canary-traffic-percent"
            )
        # A canary changes what it must (usually --storage-uri); the rest defaults to the current spec.
        fmt, proto, runtime, uri = _existing_format(existing)
        req.format = req.format or fmt
        req.protocol = req.protocol or proto
        req.runtime = req.runtime or runtime
        req.storage_uri = req.storage_uri or uri
    resolved = table(engine) if callable(table) else table
    values = build_values(req, resolved)
    env = parse_env(req.env)
    manifest = render_manifest(values)
    if env:
        # Env values are free text (spaces, quotes): set them on the parsed object, not through YAML text.
        manifest["spec"]["predictor"]["model"]["env"] = env
    protocol = req.protocol or "v1"
    runtimes = (
        [req.runtime]
        if req.runtime
        else sorted(
            {e.runtime for e in resolved.entries if e.format == req.format and e.auto_select}
            & {e.runtime for e in resolved.entries if req.protocol is None or req.protocol in e.protocols}
        )
    )
    result = DeployModelResult(
        req.name,
        req.namespace,
        manifest,
        applied=False,
        protocol=protocol,
        runtimes=runtimes,
        canary_traffic_percent=req.canary_traffic_percent,
    )
    if req.dry_run or engine is None:
        return result
    reporting.start(rep, step, "applying InferenceService")
    report = engine.apply([manifest], component=COMPONENT, timeout=min(req.timeout, 300))
    result.applied = True
    result.action = report.results[0].action if report.results else None
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
        result.requests = example_requests(result.url, req.name, protocol, ingress=ingress)
    reporting.finish(rep, step, "ready" if result.ready else (result.action or "applied"))
    return result
