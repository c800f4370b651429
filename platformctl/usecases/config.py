"""``platformctl config show|init|validate``: the effective spec, where each value came from, and a
commented starter platform.yaml. Plain functions; the CLI prints."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformctl.errors import ConfigError, SafetyError
from platformctl.plan.loader import DEFAULTS_SOURCE, LoadedSpec, load_spec_with_sources
from platformctl.plan.lock import VersionLock, load_lock
from platformctl.plan.spec import COMPONENTS, PlatformSpec


@dataclass(frozen=True)
class FieldDoc:
    type: str
    allowed: str
    help: str


# One entry per spec field (components.<name>.* stands for every component). config init writes
# ``help`` as the comment above each key; docs/configuration.md lists the same facts; a test checks
# that every model field has an entry.
FIELD_DOCS: dict[str, FieldDoc] = {
    "versions": FieldDoc(
        "string or null",
        "a set under `sets` in the version lock (`platformctl versions` lists them)",
        "Version set: one consistent version of every component, kind and node image; "
        "null = the lock's default set.",
    ),
    "cluster": FieldDoc("mapping", "", "Where the platform runs."),
    "cluster.provider": FieldDoc(
        "string",
        "kind | existing | minikube",
        "kind: create a local kind cluster; existing: install onto the kubeconfig context given below; "
        "minikube: create a minikube profile (docker driver).",
    ),
    "cluster.name": FieldDoc(
        "DNS-1123 label", "a-z 0-9 '-', ≤63 chars", "Name of the kind cluster or minikube profile."
    ),
    "cluster.node_image": FieldDoc(
        "string or null",
        "image reference",
        "kind node image; null = the digest-pinned image of the selected version set.",
    ),
    "cluster.listen_address": FieldDoc(
        "IP address", "IPv4/IPv6", "Host address the ingress ports are published on."
    ),
    "cluster.http_port": FieldDoc("integer", "1-65535", "Host port for HTTP ingress (→ gateway NodePort)."),
    "cluster.https_port": FieldDoc("integer", "1-65535, ≠ http_port", "Host port for HTTPS ingress."),
    "cluster.kubeconfig": FieldDoc(
        "path or null", "file path", "Kubeconfig to use/write; null = $KUBECONFIG or ~/.kube/config."
    ),
    "cluster.context": FieldDoc(
        "string or null",
        "context name",
        "Kubeconfig context; null = kind-<name> (kind), <name> (minikube) or the current context.",
    ),
    "cluster.cpus": FieldDoc(
        "integer or null", "1-512", "minikube only: CPUs for the profile; null = minikube's default."
    ),
    "cluster.memory_mb": FieldDoc(
        "integer or null", "≥1024 (MiB)", "minikube only: memory for the profile; null = minikube's default."
    ),
    "cluster.registry_cache": FieldDoc(
        "boolean or null",
        "true | false | null",
        "Pull-through registry caches that survive `down` (kind); null = on for kind.",
    ),
    "domain": FieldDoc(
        "DNS-1123 subdomain",
        "e.g. example.com",
        "Wildcard domain for service URLs; required for provider 'existing'; minikube default <ip>.sslip.io.",
    ),
    "components": FieldDoc("mapping", ", ".join(COMPONENTS), "What to install, and which pinned version."),
    "components.<name>.enabled": FieldDoc("boolean", "true | false", "Install this component."),
    "components.<name>.version": FieldDoc(
        "string or null",
        "a version pinned in the lock",
        "Override one component's version; null = the version the selected set names.",
    ),
    "timeouts": FieldDoc("mapping", "", "Deadlines in seconds."),
    "timeouts.cluster": FieldDoc("number", "0 < s ≤ 86400", "kind create / cluster reachable."),
    "timeouts.component": FieldDoc("number", "0 < s ≤ 86400", "One component applied and ready."),
    "timeouts.model": FieldDoc("number", "0 < s ≤ 86400", "An InferenceService becoming Ready."),
    "timeouts.request": FieldDoc("number", "0 < s ≤ 86400", "One HTTP request (downloads, smoke checks)."),
    "workloads": FieldDoc("mapping", "", "Where the demo workloads go."),
    "workloads.namespace": FieldDoc(
        "DNS-1123 label", "namespace name", "Namespace of the conference app + infra."
    ),
    "workloads.model_namespace": FieldDoc(
        "DNS-1123 label", "namespace name", "Namespace of the iris InferenceService."
    ),
    "workloads.persistence": FieldDoc("boolean", "true | false", "PVCs for Redis/PostgreSQL/Kafka."),
}


def doc_key(path: tuple[str, ...]) -> str:
    if len(path) == 3 and path[0] == "components":
        return f"components.<name>.{path[2]}"
    return ".".join(path)


# --------------------------------------------------------------------------------------- show


@dataclass(frozen=True)
class SourceRow:
    field: str
    value: Any
    source: str


@dataclass(frozen=True)
class ConfigView:
    spec: dict[str, Any]
    rows: list[SourceRow]
    config_file: Path | None


def _leaves(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, Mapping):
            out.extend(_leaves(value, path))
        else:
            out.append((path, value))
    return out


def view(loaded: LoadedSpec) -> ConfigView:
    data = loaded.spec.model_dump(mode="json")
    rows = [SourceRow(".".join(p), v, loaded.source_of(p)) for p, v in _leaves(data)]
    return ConfigView(spec=data, rows=rows, config_file=loaded.config_file)


def show_config(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    override_labels: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ConfigView:
    """The effective spec (defaults < file < env < flags) and the source of every field."""
    return view(
        load_spec_with_sources(
            config_file, env=env, overrides=overrides, override_labels=override_labels, cwd=cwd
        )
    )


def overridden(view_: ConfigView) -> list[SourceRow]:
    return [r for r in view_.rows if r.source != DEFAULTS_SOURCE]


# --------------------------------------------------------------------------------------- schema


def json_schema() -> dict[str, Any]:
    """JSON Schema of platform.yaml (for editors, e.g. yaml-language-server), with FIELD_DOCS as
    descriptions and the component names as the only allowed keys of ``components``."""
    schema = PlatformSpec.model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    sections = {"cluster": "ClusterSpec", "timeouts": "TimeoutsSpec", "workloads": "WorkloadsSpec"}
    for key, doc in FIELD_DOCS.items():
        parts = key.split(".")
        if parts[0] == "components" and len(parts) == 3:
            target = defs.get("ComponentSpec", {}).get("properties", {}).get(parts[2])
        elif len(parts) == 2:
            target = defs.get(sections.get(parts[0], ""), {}).get("properties", {}).get(parts[1])
        else:
            target = schema["properties"].get(parts[0])
        if target is not None:
            allowed = f" Allowed: {doc.allowed}." if doc.allowed else ""
            target["description"] = doc.help + allowed
    schema["properties"]["components"]["propertyNames"] = {"enum": list(COMPONENTS)}
    schema["title"] = "platformctl platform.yaml"
    return schema


# --------------------------------------------------------------------------------------- init


def _scalar(value: Any) -> str:
    # JSON scalars are valid YAML and keep strings like "1.27.1" or "on" from changing type.
    return json.dumps(value)


def render_init(lock: VersionLock | None = None) -> str:
    """A platform.yaml with every field at its default, each preceded by a comment."""
    lk = lock or load_lock()
    defaults = PlatformSpec().model_dump(mode="json")
    lines = [
        "# platform.yaml: the platform `platformctl up` builds (written by `platformctl config init`).",
        "# Precedence: defaults < this file < PLATFORMCTL_* environment variables < command-line flags.",
        "# Reference: docs/configuration.md. Check with `platformctl config validate`.",
    ]

    def emit(data: Mapping[str, Any], prefix: tuple[str, ...], indent: int) -> None:
        pad = "  " * indent
        for key, value in data.items():
            path = (*prefix, key)
            if len(path) == 2 and path[0] == "components":
                comp = lk.components.get(key)
                pinned = (
                    f"pinned versions: {', '.join(sorted(comp.versions))} (default set: {comp.default})"
                    if comp
                    else "no pinned upstream version (templates shipped with platformctl)"
                )
                lines.append(f"{pad}# {key}: {pinned}")
                lines.append(f"{pad}{key}:")
                emit(value, path, indent + 1)
                continue
            doc = FIELD_DOCS[doc_key(path)]
            allowed = f" Allowed: {doc.allowed}." if doc.allowed and path[0] != "components" else ""
            lines.append(f"{pad}# {doc.help}{allowed}")
            if isinstance(value, Mapping):
                lines.append(f"{pad}{key}:")
                emit(value, path, indent + 1)
            else:
                lines.append(f"{pad}{key}: {_scalar(value)}")

    emit(defaults, (), 0)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class InitResult:
    path: Path
    overwritten: bool
    text: str


def init_config(path: Path, *, force: bool = False, lock: VersionLock | None = None) -> InitResult:
    """Write a commented platform.yaml. Never replaces an existing file unless ``force``."""
    text = render_init(lock)
    existed = path.exists() or path.is_symlink()
    if path.is_dir():
        raise ConfigError(
            f"config init: {path}: is a directory; give a file path such as {path / 'platform.yaml'}"
        )
    if existed and not force:
        raise SafetyError(
            f"config init: {path}: already exists; not overwriting it",
            hint="re-run with --force to replace it, or choose another PATH",
        )
    if not path.parent.is_dir():
        raise ConfigError(f"config init: {path.parent}: directory does not exist")
    try:
        if existed:
            # Replace atomically: a crash never leaves a half-written spec behind.
            fd, tmp = tempfile.mkstemp(prefix=".platform-", suffix=".yaml", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.chmod(tmp, 0o644)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            # O_EXCL: even a file created after the check above is never clobbered.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
    except FileExistsError:
        raise SafetyError(
            f"config init: {path}: already exists; not overwriting it", hint="re-run with --force"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config init: {path}: cannot write: {exc.strerror or exc}") from None
    return InitResult(path=path, overwritten=existed, text=text)
