"""Offline validation of rendered objects: no cluster needed.

* Core kinds (Deployment, Service, …) with ``kubernetes-validate`` for the pinned Kubernetes minor.
* Custom resources with ``jsonschema`` against the ``openAPIV3Schema`` of the CRDs in the pinned
  upstream files (Knative serving-crds.yaml, kserve.yaml, Dapr crds/*.yaml).

Strict mode: an unknown field is an error. kubernetes-validate has strict schemas; for CRDs we add
``additionalProperties: false`` to every object schema that lists ``properties`` and neither sets
``additionalProperties`` nor ``x-kubernetes-preserve-unknown-fields`` (what the apiserver would prune
silently). ``metadata`` of a custom resource is checked against the ObjectMeta fields we allow.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from platformctl.drivers.sources import SourceResolver
    from platformctl.plan.lock import VersionLock

KubeObject = dict[str, Any]

# CRD files (by lock component) whose schemas validate the workloads' custom resources.
CRD_FILES: dict[str, tuple[str, ...]] = {
    "knative-serving": ("serving-crds.yaml",),
    "kserve": ("kserve.yaml",),
    "dapr": (
        "components.yaml",
        "configuration.yaml",
        "httpendpoints.yaml",
        "resiliency.yaml",
        "subscription.yaml",
    ),
}

_META_FIELDS = {"name", "namespace", "labels", "annotations", "generateName"}


def crd_paths(
    lock: VersionLock, upstream_dir: Path, versions: dict[str, str | None] | None = None
) -> list[Path]:
    """Paths of the pinned CRD files inside a bundle/upstream directory (layout of the lock's ``path``)."""
    out: list[Path] = []
    for component, names in CRD_FILES.items():
        _, release = lock.release(component, (versions or {}).get(component))
        for name in names:
            out.append(upstream_dir / release.file(name).path)
    return out


def crds_from_sources(
    lock: VersionLock, sources: SourceResolver, versions: dict[str, str | None] | None = None
) -> list[KubeObject]:
    """The pinned CRDs through the source resolver (bundle → cache → sha256-verified download)."""
    paths: list[Path] = []
    for component, names in CRD_FILES.items():
        _, release = lock.release(component, (versions or {}).get(component))
        paths.extend(sources.fetch(release.file(name)) for name in names)
    return load_crds(paths)


def load_crds(paths: Iterable[Path]) -> list[KubeObject]:
    """The CustomResourceDefinitions in ``paths`` (libyaml's parser when present: kserve.yaml is 3.5 MB)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crds: list[KubeObject] = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            for doc in yaml.load_all(fh, Loader=loader):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    crds.append(doc)
    return crds


def strict_schema(schema: Any) -> Any:
    """A copy of ``schema`` where objects with listed properties reject unknown fields."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    for sub in value.values():
                        walk(sub)
                elif key != "enum":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(out)
    return out


class CrdSchemas:
    """``(apiVersion, kind) → openAPIV3Schema`` for every served version of the given CRDs."""

    def __init__(self, crds: Sequence[KubeObject], *, strict: bool = True) -> None:
        self._schemas: dict[tuple[str, str], Any] = {}
        self._validators: dict[tuple[str, str], Any] = {}
        self.strict = strict
        for crd in crds:
            spec = crd.get("spec", {})
            group = spec.get("group", "")
            kind = spec.get("names", {}).get("kind", "")
            for version in spec.get("versions", []):
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if schema is not None and version.get("served", True):
                    self._schemas[(f"{group}/{version['name']}", kind)] = schema

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._schemas

    def errors(self, obj: KubeObject) -> list[str]:
        import jsonschema  # heavy: only when validating

        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        validator = self._validators.get(key)
        if validator is None:
            schema = self._schemas[key]
            if self.strict:
                schema = strict_schema(schema)
            validator = jsonschema.Draft7Validator(schema)
            self._validators[key] = validator
        out: list[str] = []
        for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
            where = ".".join(str(p) for p in err.absolute_path) or "<root>"
            out.append(f"{where}: {err.message}")
        return out


def _k8s_version(version: str) -> str:
    """``v1.32.8`` → ``1.32.0``: kubernetes-validate bundles one schema set per minor."""
    m = re.match(r"^v?(\d+)\.(\d+)", version)
    if not m:
        raise ValueError(f"not a Kubernetes version: {version!r}")
    return f"{m.group(1)}.{m.group(2)}.0"


def _metadata_errors(obj: KubeObject) -> list[str]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ["metadata: must be an object"]
    out = [f"metadata.{k}: unknown field" for k in sorted(set(meta) - _META_FIELDS)]
    for field in ("labels", "annotations"):
        values = meta.get(field, {})
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            out.append(f"metadata.{field}: must map strings to strings")
    if not isinstance(meta.get("name", meta.get("generateName")), str):
        out.append("metadata.name: required string")
    return out


def _describe(obj: KubeObject) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name") or meta.get("generateName") or "?"
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{name} ({obj.get('apiVersion')})"


def validate_objects(
    objects: Sequence[KubeObject],
    *,
    crds: Sequence[KubeObject] | CrdSchemas,
    kubernetes_version: str,
    strict: bool = True,
) -> list[str]:
    """Every schema violation of ``objects``, one line each (``<kind ns/name (apiVersion)>: <path>: <why>``).

    Custom resources are validated against ``crds``; anything else against the Kubernetes
    ``kubernetes_version`` (e.g. ``v1.32.8``) OpenAPI schemas bundled with kubernetes-validate.
    A kind known to neither is an error.
    """
    import kubernetes_validate  # heavy: only when validating

    schemas = crds if isinstance(crds, CrdSchemas) else CrdSchemas(crds, strict=strict)
    k8s = _k8s_version(kubernetes_version)
    errors: list[str] = []
    for obj in objects:
        label = _describe(obj)
        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        if key in schemas:
            errors.extend(f"{label}: {e}" for e in _metadata_errors(obj))
            errors.extend(f"{label}: {e}" for e in schemas.errors(obj))
            continue
        try:
            kubernetes_validate.validate(obj, k8s, strict=strict)
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{label}: no schema: not a Kubernetes {k8s} kind and no CRD for it was given")
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in getattr(exc, "path", ())) or "<root>"
            errors.append(f"{label}: {path}: {exc.message}")
        except kubernetes_validate.InvalidSchemaError as exc:
            errors.append(f"{label}: invalid schema for Kubernetes {k8s}: {exc}")
    return errors
