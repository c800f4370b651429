"""What an InferenceService's spec says, as settings: read from a live object, overlaid by flags, rendered.

``deploy-model`` on an existing model starts from the live object (issue: a re-deploy keeps what the
user did not change): :func:`settings_from_live` reads every field platformctl models, the flags the
user gave replace those, :func:`render_isvc` renders the result and :func:`merge_live` keeps every
live field platformctl does not model (webhook defaults, fields set with kubectl). :func:`field_changes`
is the field-level diff that ``deploy-model`` prints.

Field names are KServe's v1beta1 API (kserve/kserve@v0.16.0 config/crd/full/serving.kserve.io_
inferenceservices.yaml; the tests validate every rendered object against the pinned CRD, strict):
``spec.predictor.{minReplicas,maxReplicas,canaryTrafficPercent,serviceAccountName,nodeSelector,
tolerations,scaleMetric,scaleTarget,model,containers}`` and ``spec.transformer.containers``.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, fields, replace
from typing import Any

ISVC_API = "serving.kserve.io/v1beta1"
ISVC_KIND = "InferenceService"
TEMPLATE = "models/inferenceservice.yaml.j2"
# KServe requires the predictor's and transformer's serving container to be named kserve-container
# (kserve/kserve@v0.16.0 pkg/constants/constants.go InferenceServiceContainerName).
CONTAINER_NAME = "kserve-container"
# Custom containers have no protocolVersion field: platformctl records the protocol it prints requests
# for (and `predict` speaks) in its own annotation.
PROTOCOL_ANNOTATION = "platformctl.io/protocol"
# Fields whose absence in the rendered spec means "remove": a deploy without --canary-traffic-percent
# rolls the new revision out to 100% (KServe: "promote ... by removing the canaryTrafficPercent field",
# https://kserve.github.io/website/docs/model-serving/predictive-inference/rollout-strategies/canary-example),
# and a predictor is either a model (built-in runtime) or custom containers, never both.
REMOVABLE = frozenset(
    {"spec.predictor.canaryTrafficPercent", "spec.predictor.model", "spec.predictor.containers"}
)


@dataclass
class ModelSettings:
    """Every InferenceService field platformctl sets; None = not set (a new model's default applies)."""

    format: str | None = None
    runtime: str | None = None
    protocol: str | None = None
    storage_uri: str | None = None
    image: str | None = None
    port: int | None = None
    args: list[str] | None = None
    env: list[dict[str, Any]] | None = None
    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None
    transformer_image: str | None = None
    transformer_port: int | None = None
    transformer_env: list[dict[str, Any]] | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    canary_traffic_percent: int | None = None
    service_account: str | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, Any]] | None = None
    scale_metric: str | None = None
    scale_target: int | None = None

    @property
    def custom(self) -> bool:
        return self.image is not None

    def overlay(self, given: ModelSettings) -> ModelSettings:
        """``self`` (the live model) with every field ``given`` sets replaced."""
        out = replace(self)
        for f in fields(given):
            value = getattr(given, f.name)
            if value is not None:
                setattr(out, f.name, copy.deepcopy(value))
        return out


def _container(obj: dict[str, Any], component: str) -> dict[str, Any]:
    containers = ((obj.get("spec") or {}).get(component) or {}).get("containers") or []
    named = [c for c in containers if isinstance(c, dict) and c.get("name") == CONTAINER_NAME]
    return named[0] if named else (containers[0] if containers and isinstance(containers[0], dict) else {})


def _port(container: dict[str, Any]) -> int | None:
    ports = container.get("ports") or []
    value = ports[0].get("containerPort") if ports and isinstance(ports[0], dict) else None
    return value if isinstance(value, int) else None


def settings_from_live(obj: dict[str, Any]) -> ModelSettings:
    """The settings a live InferenceService has (what a re-deploy keeps unless a flag changes it)."""
    spec = obj.get("spec") or {}
    pred = spec.get("predictor") or {}
    model = pred.get("model") or {}
    s = ModelSettings(
        min_replicas=pred.get("minReplicas"),
        max_replicas=pred.get("maxReplicas"),
        canary_traffic_percent=pred.get("canaryTrafficPercent"),
        service_account=pred.get("serviceAccountName"),
        node_selector=copy.deepcopy(pred.get("nodeSelector")),
        tolerations=copy.deepcopy(pred.get("tolerations")),
        scale_metric=pred.get("scaleMetric"),
        scale_target=pred.get("scaleTarget"),
    )
    if model:
        s.format = (model.get("modelFormat") or {}).get("name")
        s.runtime = model.get("runtime")
        s.protocol = model.get("protocolVersion")
        s.storage_uri = model.get("storageUri")
        s.env = copy.deepcopy(model.get("env"))
        resources = model.get("resources") or {}
    else:
        c = _container(obj, "predictor")
        s.image = c.get("image")
        s.port = _port(c)
        s.args = copy.deepcopy(c.get("args"))
        s.env = copy.deepcopy(c.get("env"))
        s.protocol = ((obj.get("metadata") or {}).get("annotations") or {}).get(PROTOCOL_ANNOTATION)
        resources = c.get("resources") or {}
    s.requests = copy.deepcopy(resources.get("requests"))
    s.limits = copy.deepcopy(resources.get("limits"))
    t = _container(obj, "transformer")
    if t:
        s.transformer_image = t.get("image")
        s.transformer_port = _port(t)
        s.transformer_env = copy.deepcopy(t.get("env"))
    return s


def health_path(protocol: str, name: str) -> str:
    """The model's readiness endpoint: v1 ``GET /v1/models/NAME`` (KServe V1 protocol), v2
    ``/v2/models/NAME/ready`` (Open Inference Protocol, kserve/open-inference-protocol rest spec)."""
    return f"/v2/models/{name}/ready" if protocol == "v2" else f"/v1/models/{name}"


def render_isvc(name: str, namespace: str, s: ModelSettings) -> dict[str, Any]:
    """One InferenceService from settings. Scalars go through the template (safe-scalar checked);
    free text (env values, args) and structured fields are set on the parsed object, never as YAML text."""
    from platformctl.drivers.templates import render_template

    protocol = s.protocol or "v1"
    values: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "protocol_annotation": {PROTOCOL_ANNOTATION: protocol} if s.custom else {},
        "min_replicas": 1 if s.min_replicas is None else s.min_replicas,
        "max_replicas": s.max_replicas,
        "canary_traffic_percent": s.canary_traffic_percent,
        "service_account": s.service_account,
        "scale_metric": s.scale_metric,
        "scale_target": s.scale_target,
        "format": s.format,
        "runtime": s.runtime,
        "protocol": s.protocol,
        "storage_uri": s.storage_uri,
        "image": s.image,
        "port": s.port,
        "health_path": health_path(protocol, name),
        "container_name": CONTAINER_NAME,
        "transformer_image": s.transformer_image,
        "transformer_port": s.transformer_port,
    }
    docs = render_template(TEMPLATE, values)
    if len(docs) != 1 or docs[0].get("kind") != ISVC_KIND:
        raise RuntimeError(f"{TEMPLATE} must render exactly one InferenceService")
    obj = docs[0]
    pred = obj["spec"]["predictor"]
    target = pred["containers"][0] if s.custom else pred["model"]
    resources = {k: dict(v) for k, v in (("requests", s.requests), ("limits", s.limits)) if v}
    if resources:
        target["resources"] = resources
    if s.env:
        target["env"] = copy.deepcopy(s.env)
    if s.custom and s.args:
        target["args"] = list(s.args)
    if s.node_selector:
        pred["nodeSelector"] = dict(s.node_selector)
    if s.tolerations:
        pred["tolerations"] = copy.deepcopy(s.tolerations)
    if s.transformer_image and s.transformer_env:
        obj["spec"]["transformer"]["containers"][0]["env"] = copy.deepcopy(s.transformer_env)
    return obj


def _merge(live: Any, new: Any, path: str) -> Any:
    if isinstance(live, dict) and isinstance(new, dict):
        out: dict[str, Any] = {}
        for key, value in live.items():
            sub = f"{path}.{key}" if path else key
            if key in new:
                out[key] = _merge(value, new[key], sub)
            elif sub not in REMOVABLE:
                out[key] = copy.deepcopy(value)
        for key, value in new.items():
            if key not in live:
                out[key] = copy.deepcopy(value)
        return out
    if (
        isinstance(live, list)
        and isinstance(new, list)
        and path.endswith(".containers")
        and all(isinstance(c, dict) for c in live + new)
    ):
        # Containers are keyed by name (as Kubernetes merges them): keep what the webhook defaulted.
        by_name = {c.get("name"): c for c in live}
        return [_merge(by_name[c.get("name")], c, path) if c.get("name") in by_name else c for c in new]
    return copy.deepcopy(new)


def user_metadata(meta: dict[str, Any], key: str) -> dict[str, Any]:
    """Live labels/annotations minus those the engine sets on every apply (ownership, spec hash)."""
    from platformctl.drivers.kube.labels import COMPONENT_KEY, MANAGED_BY_KEY, SPEC_HASH_KEY

    engine_keys = {MANAGED_BY_KEY, COMPONENT_KEY, SPEC_HASH_KEY}
    return {k: v for k, v in (meta.get(key) or {}).items() if k not in engine_keys}


def merge_live(live: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
    """``rendered`` plus every field of ``live``'s spec, labels and annotations platformctl does not set."""
    meta = live.get("metadata") or {}
    out = copy.deepcopy(rendered)
    for key in ("labels", "annotations"):
        kept = {**user_metadata(meta, key), **(rendered["metadata"].get(key) or {})}
        if kept:
            out["metadata"][key] = kept
    out["spec"] = _merge(copy.deepcopy(live.get("spec") or {}), rendered["spec"], "spec")
    return out


@dataclass(frozen=True)
class Change:
    path: str
    old: Any  # None: the field is new
    new: Any  # None: the field is removed

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}

    def line(self) -> str:
        def show(v: Any) -> str:
            return json.dumps(v, separators=(",", ":"), sort_keys=True)

        if self.old is None:
            return f"+ {self.path}: {show(self.new)}"
        if self.new is None:
            return f"- {self.path}: {show(self.old)}"
        return f"~ {self.path}: {show(self.old)} -> {show(self.new)}"


def field_changes(old: Any, new: Any, path: str = "") -> list[Change]:
    """Leaf-level differences; containers are compared by name, other lists as a whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Change] = []
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            out.extend(field_changes(old.get(key), new.get(key), sub))
        return out
    if (
        isinstance(old, list)
        and isinstance(new, list)
        and path.endswith(".containers")
        and all(isinstance(c, dict) and "name" in c for c in old + new)
    ):
        olds = {c["name"]: c for c in old}
        news = {c["name"]: c for c in new}
        out = []
        for key in list(olds) + [k for k in news if k not in olds]:
            out.extend(field_changes(olds.get(key), news.get(key), f"{path}[{key}]"))
        return out
    return [] if old == new else [Change(path, old, new)]


def spec_changes(live: dict[str, Any] | None, desired: dict[str, Any]) -> list[Change]:
    """What applying ``desired`` changes in ``live`` (spec and annotations; [] when identical)."""
    if live is None:
        return []
    old = {
        "metadata": {"annotations": user_metadata(live.get("metadata") or {}, "annotations")},
        "spec": live.get("spec") or {},
    }
    new = {
        "metadata": {"annotations": user_metadata(desired.get("metadata") or {}, "annotations")},
        "spec": desired.get("spec") or {},
    }
    return field_changes(old, new)


def protocol_of(obj: dict[str, Any]) -> str:
    """v1/v2 from predictor.model.protocolVersion, or platformctl's annotation for custom containers."""
    return settings_from_live(obj).protocol or "v1"
