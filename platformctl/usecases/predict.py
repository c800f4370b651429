"""``platformctl predict NAME``: one inference (or metadata/readiness) request to a deployed model.

The request goes through the platform's ingress to the InferenceService's URL (``status.url``: the
transformer when there is one, else the predictor), connecting to the IP a ``*.sslip.io``/``*.nip.io``
name embeds (drivers/http.py), so it works where magic DNS is blocked. Paths and bodies:

- KServe V1 protocol: ``POST /v1/models/NAME:predict`` with ``{"instances": [...]}``; readiness and
  metadata ``GET /v1/models/NAME`` (https://kserve.github.io/website/docs/concepts/architecture/data-plane/v1-protocol).
- Open Inference Protocol (v2): ``POST /v2/models/NAME/infer`` with ``{"inputs": [{name, shape,
  datatype, data}]}``; ``GET /v2/models/NAME`` (metadata), ``GET /v2/models/NAME/ready`` and
  ``GET /v2/health/ready`` (kserve/open-inference-protocol specification/protocol/inference_rest.md).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl.components.kserve_runtimes import HTTP_PROTOCOLS
from platformctl.errors import ClusterError, UsageError
from platformctl.kubeobjects import is_true
from platformctl.usecases.deploy_model import validate_name
from platformctl.usecases.model_spec import ISVC_API, ISVC_KIND, settings_from_live

if TYPE_CHECKING:
    from platformctl.drivers.http import Endpoint, HttpResult
    from platformctl.drivers.kube.engine import Engine

# Tensor data types of the Open Inference Protocol (inference_rest.md, "Tensor Data Types").
DATATYPES: tuple[str, ...] = (
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
)  # fmt: skip
# Pods of an InferenceService carry this label (kserve/kserve@v0.16.0 pkg/constants/constants.go
# InferenceServicePodLabelKey = KServeAPIGroupName + "/inferenceservice").
POD_LABEL = "serving.kserve.io/inferenceservice"
_INPUT_NAME = re.compile(r"^[A-Za-z0-9_.\-/]+$")
MODES: tuple[str, ...] = ("infer", "metadata", "ready")


@dataclass(frozen=True)
class RawBody:
    """A --data body: valid JSON, sent exactly as the user wrote it."""

    content: bytes


@dataclass
class PredictRequest:
    name: str
    namespace: str = "default"
    data: str | None = None  # --data FILE or "-" (stdin): the body, sent as is
    instances: str | None = None  # --instances JSON (v1)
    inputs: Sequence[str] = ()  # --input NAME:SHAPE:DATATYPE=JSON (v2), repeatable
    protocol: str | None = None  # default: the InferenceService's
    mode: str = "infer"  # infer / metadata / ready
    timeout: float = 120


@dataclass
class PredictResult:
    name: str
    namespace: str
    method: str
    url: str
    protocol: str
    status: int | None
    latency: float
    body: str
    cold_start: bool
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # no HTTP response at all

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def json_body(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "method": self.method,
            "url": self.url,
            "protocol": self.protocol,
            "status": self.status,
            "latencySeconds": round(self.latency, 4),
            "coldStart": self.cold_start,
            "error": self.error,
            "response": self.json_body() if self.json_body() is not None else self.body,
        }


def _json(text: str, flag: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: not valid JSON ({exc})") from None


def _count(data: Any) -> int:
    if isinstance(data, list):
        return sum(_count(d) for d in data)
    return 1


def parse_input(item: str) -> dict[str, Any]:
    """``NAME:SHAPE:DATATYPE=JSON`` → one v2 input tensor; SHAPE is ``2,4`` (or ``[2,4]``), and the
    number of values in JSON must be the product of SHAPE."""
    head, sep, text = item.partition("=")
    parts = head.split(":")
    if not sep or len(parts) != 3:
        raise UsageError(
            f"--input: {item[:60]!r} is not NAME:SHAPE:DATATYPE=JSON "
            "(e.g. input-0:1,4:FP32=[[6.8,2.8,4.8,1.4]])"
        )
    name, shape_text, datatype = parts
    if not _INPUT_NAME.fullmatch(name):
        raise UsageError(f"--input: {name!r} is not a tensor name (letters, digits, _ . - /)")
    dims = shape_text.strip("[]").split(",")
    if not all(d.strip().isdigit() for d in dims):
        raise UsageError(f"--input {name}: shape {shape_text!r} is not comma-separated sizes (e.g. 2,4)")
    shape = [int(d) for d in dims]
    datatype = datatype.upper()
    if datatype not in DATATYPES:
        raise UsageError(f"--input {name}: datatype {parts[2]!r}; choose one of " + ", ".join(DATATYPES))
    data = _json(text, f"--input {name}")
    count = _count(data) if isinstance(data, list) else 1
    if count != math.prod(shape):
        raise UsageError(
            f"--input {name}: shape {shape} holds {math.prod(shape)} values but the data has {count}"
        )
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def build_body(req: PredictRequest, protocol: str, read: Callable[[str], str]) -> Any:
    """The JSON body (a parsed object; --data is checked to be JSON and sent as is)."""
    given = [
        f for f, v in (("--data", req.data), ("--instances", req.instances), ("--input", req.inputs)) if v
    ]
    if len(given) > 1:
        raise UsageError(f"{given[1]}: cannot be combined with {given[0]}; give the body one way")
    if req.mode != "infer":
        if given:
            raise UsageError(f"{given[0]}: --{req.mode} sends no body; drop {given[0]}")
        return None
    if req.data is not None:
        try:
            text = read(req.data)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise UsageError(f"--data: cannot read {req.data} ({why})") from None
        except UnicodeDecodeError:
            raise UsageError(f"--data: {req.data} is not UTF-8 text (the body must be JSON)") from None
        _json(text, f"--data {req.data}")  # checked, then sent byte for byte
        return RawBody(text.encode("utf-8"))
    if req.instances is not None:
        if protocol != "v1":
            raise UsageError("--instances: builds a v1 body but the model speaks v2; use --input or --data")
        instances = _json(req.instances, "--instances")
        if not isinstance(instances, list):
            raise UsageError("--instances: expected a JSON list of instances, e.g. [[6.8,2.8,4.8,1.4]]")
        return {"instances": instances}
    if req.inputs:
        if protocol != "v2":
            raise UsageError("--input: builds a v2 body but the model speaks v1; use --instances or --data")
        return {"inputs": [parse_input(i) for i in req.inputs]}
    raise UsageError("--data, --instances (v1) or --input (v2) is required (or --metadata / --ready)")


def target(base: str, name: str, protocol: str, mode: str) -> tuple[str, str]:
    base = base.rstrip("/")
    if protocol == "v2":
        paths = {
            "infer": ("POST", f"/v2/models/{name}/infer"),
            "metadata": ("GET", f"/v2/models/{name}"),
            "ready": ("GET", f"/v2/models/{name}/ready"),
        }
    else:
        paths = {
            "infer": ("POST", f"/v1/models/{name}:predict"),
            "metadata": ("GET", f"/v1/models/{name}"),
            "ready": ("GET", f"/v1/models/{name}"),
        }
    method, path = paths[mode]
    return method, base + path


def scaled_to_zero(engine: Engine, obj: dict[str, Any]) -> bool:
    """A model that may scale to zero (minReplicas 0) and has no ready predictor pod right now."""
    settings = settings_from_live(obj)
    if settings.min_replicas != 0:
        return False
    meta = obj["metadata"]
    try:
        pods = engine.list(
            "v1", "Pod", namespace=meta["namespace"], label_selector=f"{POD_LABEL}={meta['name']}"
        )
    except ClusterError:
        return False  # e.g. RBAC forbids listing pods: no claim either way, the request still goes out
    for pod in pods:
        component = ((pod.get("metadata") or {}).get("labels") or {}).get("component")
        if component not in (None, "predictor"):
            continue
        if is_true(pod, "Ready"):
            return False
    return True


def validate_local(req: PredictRequest) -> None:
    validate_name(req.name, "NAME")
    validate_name(req.namespace, "--namespace")
    if req.protocol is not None and req.protocol not in HTTP_PROTOCOLS:
        raise UsageError(f"--protocol: {req.protocol!r}; choose one of " + ", ".join(HTTP_PROTOCOLS))
    if req.mode not in MODES:
        raise UsageError(f"mode {req.mode!r}: one of " + ", ".join(MODES))
    if not req.timeout > 0 or math.isinf(req.timeout):
        raise UsageError(f"--timeout: {req.timeout:g} must be a positive number of seconds")
    for item in req.inputs:
        parse_input(item)  # malformed --input is reported before connecting
    if req.instances is not None:
        _json(req.instances, "--instances")


def predict(
    req: PredictRequest,
    *,
    engine_factory: Callable[[], Engine],
    read: Callable[[str], str],
    ingress: Endpoint | None = None,
    verify: bool = True,
    ca_file: str | None = None,
) -> PredictResult:
    """Look the model up, build the request, send it once and report status, latency and cold start."""
    from platformctl.drivers.http import HttpClient

    validate_local(req)
    engine = engine_factory()
    obj = engine.get(ISVC_API, ISVC_KIND, req.name, req.namespace)
    if obj is None:
        raise UsageError(f"NAME: InferenceService {req.name!r} not found in namespace {req.namespace}")
    protocol = req.protocol or settings_from_live(obj).protocol or "v1"
    body = build_body(req, protocol, read)
    url = (obj.get("status") or {}).get("url")
    if not url:
        raise UsageError(
            f"NAME: InferenceService {req.namespace}/{req.name} has no URL yet (not Ready); "
            f"see: platformctl models describe {req.name} -n {req.namespace}"
        )
    cold = scaled_to_zero(engine, obj)
    method, full = target(str(url), req.name, protocol, req.mode)
    with HttpClient(ingress=ingress, verify=verify, ca_file=ca_file, timeout=req.timeout) as client:
        if isinstance(body, RawBody):
            res: HttpResult = client.request(
                method, full, content=body.content, headers={"Content-Type": "application/json"}
            )
        else:
            res = client.request(method, full, json_body=body)
    return PredictResult(
        req.name,
        req.namespace,
        method,
        full,
        protocol,
        res.status,
        res.elapsed,
        res.text,
        cold_start=cold,
        headers=res.headers,
        error=res.error,
    )
