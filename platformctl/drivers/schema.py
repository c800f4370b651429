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

from platformctl.kubeobjects import KubeObject
from platformctl.plan import names as component_names

if TYPE_CHECKING:
    from platformctl.drivers.sources import SourceResolver
    from platformctl.plan.lock import VersionLock


# CRD files (by lock component) whose schemas validate the workloads' custom resources.
CRD_FILES: dict[str, tuple[str, ...]] = {
    component_names.KNATIVE_SERVING: ("serving-crds.yaml",),
    component_names.KSERVE: ("kserve.yaml",),
    component_names.DAPR: (
        "components.yaml",
        "configuration.yaml",
        "httpendpoints.yaml",
        "resiliency.yaml",
        "subscription.yaml",
    ),
}

# Every CRD the platform's render may need (``render --validate``): the workloads' set plus Istio's
# crd-all (Knative's Gateway/PeerAuthentication objects) and cert-manager's release manifest (Issuer,
# Certificate of KServe).
PLATFORM_CRD_FILES: dict[str, tuple[str, ...]] = {
    component_names.ISTIO: ("crd-all.gen.yaml",),
    component_names.CERT_MANAGER: ("cert-manager.yaml",),
    **CRD_FILES,
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
    lock: VersionLock,
    sources: SourceResolver,
    versions: dict[str, str | None] | None = None,
    *,
    files: dict[str, tuple[str, ...]] = CRD_FILES,
) -> list[KubeObject]:
    """The pinned CRDs through the source resolver (bundle → cache → sha256-verified download)."""
    paths: list[Path] = []
    for component, names in files.items():
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
    """A copy of ``schema`` where objects reject the fields the apiserver would prune: unknown ones where
    properties are listed, and any field of an object schema that lists none (``type: object`` alone;
    not ``x-kubernetes-preserve-unknown-fields``/``-embedded-resource`` or ``*Of`` combinations)."""
    out = copy.deepcopy(schema)
    opaque = (
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "allOf",
        "anyOf",
        "oneOf",
    )

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
                bare_object = node.get("type") == "object" and not any(k in node for k in opaque)
                if "properties" in node or bare_object:
                    node["additionalProperties"] = False
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    for sub in value.values():
                        walk(sub)
                elif key not in ("enum", "default", "example"):  # data, not schema
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(out)
    return out


def _with_implicit_root(schema: Any) -> Any:
    """The apiserver always accepts ``apiVersion``/``kind``/``metadata`` at a custom resource's root,
    listed or not (Istio's CRDs list only ``spec``/``status``); strict mode must too. ObjectMeta's fields
    are checked by _metadata_errors, so strict mode leaves ``metadata`` open (its listed constraints stay)."""
    if not isinstance(schema, dict) or "properties" not in schema:
        return schema
    props = dict(schema["properties"])
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {
        **(props.get("metadata") or {"type": "object"}),
        "x-kubernetes-preserve-unknown-fields": True,
    }
    return {**schema, "properties": props}


def free_form_paths(schema: Any, path: str = "") -> list[str]:
    """Paths (``spec.a[].b``) marked ``x-kubernetes-preserve-unknown-fields``: they accept any content,
    so strict validation cannot see inside them. ``status`` is skipped (never rendered)."""
    out: list[str] = []
    if not isinstance(schema, dict):
        return out
    if schema.get("x-kubernetes-preserve-unknown-fields") and path:
        out.append(path)
    for key, sub in (schema.get("properties") or {}).items():
        if not path and key == "status":
            continue
        out.extend(free_form_paths(sub, f"{path}.{key}" if path else key))
    if isinstance(schema.get("items"), dict):
        out.extend(free_form_paths(schema["items"], f"{path}[]"))
    if isinstance(schema.get("additionalProperties"), dict):
        out.extend(free_form_paths(schema["additionalProperties"], f"{path}.*"))
    return out


class CrdSchemas:
    """``(apiVersion, kind) → openAPIV3Schema`` for every served version of the given CRDs (a later CRD
    for the same group/version/kind replaces an earlier one)."""

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

    def keys(self) -> set[tuple[str, str]]:
        return set(self._schemas)

    def free_form(self, key: tuple[str, str]) -> list[str]:
        """Where the schema of ``key`` (apiVersion, kind) accepts any content (see free_form_paths)."""
        return free_form_paths(self._schemas[key])

    def errors(self, obj: KubeObject) -> list[str]:
        import jsonschema  # heavy: only when validating

        key = (str(obj.get("apiVersion")), str(obj.get("kind")))
        validator = self._validators.get(key)
        if validator is None:
            schema = _with_implicit_root(self._schemas[key])
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


def describe_object(obj: KubeObject) -> str:
    """``<kind> <namespace>/<name> (<apiVersion>)``: how errors name an object."""
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
    schemas = crds if isinstance(crds, CrdSchemas) else CrdSchemas(crds, strict=strict)
    k8s = _k8s_version(kubernetes_version)
    errors: list[str] = []
    for obj in objects:
        label = describe_object(obj)
        found = check_object(obj, schemas=schemas, kubernetes_version=k8s, strict=strict)
        if found is None:
            errors.append(f"{label}: no schema: not a Kubernetes {k8s} kind and no CRD for it was given")
        else:
            errors.extend(f"{label}: {e}" for e in found)
    return errors


def has_core_schema(api_version: str, kind: str, kubernetes_version: str) -> bool:
    """Whether kubernetes-validate knows ``kind`` for this Kubernetes minor (built-in, not a CRD)."""
    import kubernetes_validate  # heavy: only when validating

    probe = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "probe"}}
    try:
        kubernetes_validate.validate(probe, _k8s_version(kubernetes_version), strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except (kubernetes_validate.ValidationError, kubernetes_validate.InvalidSchemaError):
        return True
    return True


def check_object(
    obj: KubeObject, *, schemas: CrdSchemas, kubernetes_version: str, strict: bool = True
) -> list[str] | None:
    """The violations of one object (``<path>: <why>``), or None when no schema is known for its kind:
    a CRD in ``schemas`` wins over the Kubernetes ``kubernetes_version`` schemas of kubernetes-validate."""
    import kubernetes_validate  # heavy: only when validating

    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    if key in schemas:
        return _metadata_errors(obj) + schemas.errors(obj)
    k8s = _k8s_version(kubernetes_version)
    try:
        kubernetes_validate.validate(obj, k8s, strict=strict)
    except kubernetes_validate.SchemaNotFoundError:
        return None
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in getattr(exc, "path", ())) or "<root>"
        return [f"{path}: {exc.message}"]
    except kubernetes_validate.InvalidSchemaError as exc:
        return [f"<root>: invalid schema for Kubernetes {k8s}: {exc}"]
    return []
