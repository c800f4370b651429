"""Load the effective PlatformSpec: defaults < platform.yaml (or -f) < PLATFORMCTL_* env < flag overrides.

Every value remembers where it came from, so a validation failure is reported as ONE line naming the
source (file, environment variable or flag), the field path, the bad value and what is allowed:

    platform.yaml: cluster.http_port: 70000: input should be less than or equal to 65535

Environment variables (see docs/configuration.md): ``PLATFORMCTL_<FIELD>`` with ``__`` between nesting
levels, case-insensitive, e.g. ``PLATFORMCTL_DOMAIN``, ``PLATFORMCTL_CLUSTER__NAME``,
``PLATFORMCTL_COMPONENTS__CERT_MANAGER__ENABLED=false`` ('_' in a component name stands for '-').
Only variables whose first segment is a top-level spec field are read, so unrelated settings such as
PLATFORMCTL_UPSTREAM_DIR never collide with the spec.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from platformctl.errors import ConfigError
from platformctl.plan.lock import VersionLock, load_lock
from platformctl.plan.spec import COMPONENTS, ComponentSpec, PlatformSpec

ENV_PREFIX = "PLATFORMCTL_"
DEFAULT_FILE = "platform.yaml"
DEFAULTS_SOURCE = "defaults"

Path_ = tuple[str, ...]


@dataclass
class LoadedSpec:
    """The validated spec plus, for every field path set by a layer, the layer that set it."""

    spec: PlatformSpec
    sources: dict[Path_, str] = field(default_factory=dict)
    config_file: Path | None = None

    def source_of(self, path: Path_) -> str:
        """The layer that set the field at ``path``, else "defaults"."""
        return self.sources.get(path, DEFAULTS_SOURCE)


# --------------------------------------------------------------------------------------- helpers


def printable(text: str) -> str:
    """Escape what would break the one-line promise (newlines, U+0085, U+2028, control characters)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class _Full(Exception):
    pass


def short(value: Any, limit: int = 60) -> str:
    """A bounded, single-line, JSON-like rendering of a user value for error messages.

    Bounded by construction: YAML aliases can make self-referencing or exponentially shared
    structures, which json.dumps/repr would recurse into or expand."""
    parts: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)
        if size > limit:
            raise _Full

    def walk(v: Any) -> None:
        if isinstance(v, Mapping):
            emit("{")
            for i, (k, x) in enumerate(v.items()):
                emit(", " if i else "")
                walk(k)
                emit(": ")
                walk(x)
            emit("}")
        elif isinstance(v, list | tuple | set):
            emit("[")
            for i, x in enumerate(v):
                emit(", " if i else "")
                walk(x)
            emit("]")
        else:
            try:
                emit(json.dumps(v, default=str, ensure_ascii=False))
            except (TypeError, ValueError):
                emit(repr(v))

    with contextlib.suppress(_Full):  # the budget is spent: the "…" below marks the cut
        walk(value)
    text = printable("".join(parts))
    return text if len(text) <= limit else text[: limit - 1] + "…"


_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


def dotted(path: Sequence[str | int]) -> str:
    """``cluster.name``; odd keys (blank, dots, colons, unicode) are quoted so the path stays readable."""
    if not path:
        return "(document)"
    parts = (str(p) for p in path)
    return ".".join(
        p if _PLAIN_SEGMENT.match(p) else printable(json.dumps(p, ensure_ascii=False)) for p in parts
    )


def _model_fields(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(path: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``path`` (None when it is not a model)."""
    model: type[BaseModel] = PlatformSpec
    i = 0
    while i < len(path):
        part = path[i]
        if model is PlatformSpec and part == "components":
            if i + 1 >= len(path):
                return None  # the components mapping itself: keys are component names
            model = ComponentSpec
            i += 2
            continue
        info = model.model_fields.get(str(part))
        ann = info.annotation if info else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
        i += 1
    return model


def _is_section(path: Sequence[str | int]) -> bool:
    """A mapping of the spec whose keys are fields or component names (not a leaf value)."""
    return tuple(path) == ("components",) or (len(path) > 0 and _model_at(path) is not None)


def _allowed_fields(path: Sequence[str | int]) -> str:
    if tuple(path) == ("components",):
        return "component names: " + ", ".join(COMPONENTS)
    model = _model_at(path)
    return "fields: " + ", ".join(_model_fields(model)) if model else "no nested fields"


# --------------------------------------------------------------------------------------- layers


class _Layers:
    """Deep-merges layers into one raw mapping, recording the source of every path set."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sources: dict[Path_, str] = {}

    def set(self, path: Path_, value: Any, source: str) -> None:
        node = self.data
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                earlier = self.sources.get(path[: i + 1], DEFAULTS_SOURCE)
                raise ConfigError(
                    f"{earlier}: {dotted(path[: i + 1])}: {short(child)}: must be a mapping of "
                    f"{_allowed_fields(path[: i + 1])} ({source} sets {dotted(path)})"
                )
            node = child
        node[path[-1]] = value
        self.sources[path] = source

    def merge_mapping(self, data: Mapping[Any, Any], source: str, prefix: Path_ = ()) -> None:
        for key, value in data.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"{source}: {dotted((*prefix, str(key)))}: {short(key)}: field names must be strings; "
                    f"allowed {_allowed_fields(prefix)}"
                )
            path = (*prefix, key)
            # Recurse only into the spec's own sections (depth ≤ 3): anything else is one value for the
            # model to reject, so self-referencing YAML aliases cannot recurse forever here.
            if isinstance(value, Mapping) and value and _is_section(path):
                existing = self.get(path)
                if existing is not None and not isinstance(existing, dict):
                    self.set(path, {}, source)
                # Only leaves are recorded: a section's fields keep their own (possibly default) source.
                self.merge_mapping(value, source, path)
            else:
                self.set(path, value, source)

    def get(self, path: Path_) -> Any:
        node: Any = self.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def source_for_error(self, loc: Sequence[str | int]) -> str:
        path = tuple(str(p) for p in loc)
        for n in range(len(path), 0, -1):
            if path[:n] in self.sources:
                return self.sources[path[:n]]
        # A cross-field check (loc is a parent): blame the last layer that set anything below it.
        below = [s for p, s in self.sources.items() if p[: len(path)] == path]
        return below[-1] if below else DEFAULTS_SOURCE


# ------------------------------------------------------------------------------- YAML 1.2 core + types
#
# YAML 1.1 (PyYAML's default) reads `0100` as 64, `1:20` as 80, `yes`/`no`/`on` as booleans and
# `2024-01-01` as a date. The spec reads YAML with the 1.2 core schema's null only; every other plain
# scalar stays the text the user wrote, and the field's type converts it (_coerce): a string field
# takes the text as written, an integer field only a decimal integer, a boolean field true or false,
# a number of seconds a decimal number. --set values and PLATFORMCTL_* variables are text and go
# through the same conversion, so every layer reads a value the same way.

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")  # YAML 1.2 core null
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")  # YAML 1.2 core bool
_DECIMAL = re.compile(r"^[-+]?[0-9]+$")
_NUMBER = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")  # 1.2 core float


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader with only YAML 1.2 core null resolved implicitly, and duplicate keys refused."""

    yaml_implicit_resolvers = {}  # noqa: RUF012  (PyYAML reads it per class)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[str, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in first:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key_node.value!r} (first at line {first[key_node.value] + 1}); "
                        "a later key would silently replace the earlier one: keep one and merge them",
                        key_node.start_mark,
                    )
                first[key_node.value] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


_SpecLoader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])


def _explicit_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if not _DECIMAL.fullmatch(text.strip()):
        raise yaml.constructor.ConstructorError(
            None, None, f"!!int {text!r}: not a decimal integer", node.start_mark
        )
    return int(text.strip(), 10)


def _explicit_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    text = str(loader.construct_scalar(node))
    if not _BOOL.fullmatch(text.strip()):
        raise yaml.constructor.ConstructorError(
            None, None, f"!!bool {text!r}: not true or false", node.start_mark
        )
    return text.strip().lower() == "true"


_SpecLoader.add_constructor("tag:yaml.org,2002:int", _explicit_int)
_SpecLoader.add_constructor("tag:yaml.org,2002:bool", _explicit_bool)


def _field_kind(path: Path_) -> str | None:
    """'bool', 'int', 'float' or 'str' for a leaf field of the spec; None for anything else."""
    model = _model_at(path[:-1]) if path else None
    info = model.model_fields.get(path[-1]) if model is not None else None
    if info is None:
        return None
    annotation: Any = info.annotation
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else None
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is str or get_origin(annotation) is Literal:
        return "str"
    return None


_KIND_HINT = {
    "bool": "must be a boolean: true or false",
    "int": "must be a decimal integer such as 8080",
    "float": "must be a decimal number such as 300 or 12.5",
}


def coerce_value(kind: str, value: Any) -> Any:
    """``value`` converted for a field of ``kind`` (see _field_kind); ValueError when it cannot be.

    Text is read by the field's type, never by YAML 1.1: a string field keeps it as written."""
    if value is None or kind == "str":
        return value
    if isinstance(value, bool):
        if kind == "bool":
            return value
        raise ValueError(_KIND_HINT[kind])
    if not isinstance(value, str):
        return value  # a typed value (a command's own flag, an explicit YAML tag): the model checks it
    text = value.strip()
    if kind == "bool" and _BOOL.fullmatch(text):
        return text.lower() == "true"
    if kind == "int" and _DECIMAL.fullmatch(text):
        return int(text, 10)
    if kind == "float" and _NUMBER.fullmatch(text):
        return float(text)
    raise ValueError(_KIND_HINT[kind])


def _coerce(layers: _Layers) -> None:
    for path, source in layers.sources.items():
        kind = _field_kind(path)
        if kind is None:
            continue
        value = layers.get(path)
        try:
            converted = coerce_value(kind, value)
        except ValueError as exc:
            raise ConfigError(f"{source}: {dotted(path)}: {short(value)}: {exc}") from None
        if converted is not value:
            node = layers.data
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = converted


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a platform.yaml into a mapping; every failure is one ConfigError line naming the file."""
    label = printable(str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"-f/--config: {label}: file not found", hint="run 'platformctl config init'"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"-f/--config: {label}: is a directory, expected a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{label}: byte {exc.start}: not UTF-8 text; the spec must be a UTF-8 YAML file"
        ) from None
    except OSError as exc:
        raise ConfigError(f"-f/--config: {label}: cannot read: {exc.strerror or exc}") from None
    try:
        docs = [d for d in yaml.load_all(text, Loader=_SpecLoader) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{where}: invalid YAML: {problem}", hint="fix the YAML syntax at that line"
        ) from None
    except (ValueError, TypeError, RecursionError) as exc:  # e.g. out-of-range timestamps, deep nesting
        raise ConfigError(f"{label}: invalid YAML value: {short(str(exc))}") from None
    if not docs:
        return {}
    if len(docs) > 1:
        raise ConfigError(f"{label}: (document): {len(docs)} YAML documents: the spec must be one document")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{label}: (document): {short(doc)}: must be a mapping of fields: "
            + ", ".join(_model_fields(PlatformSpec))
        )
    return doc


def env_overrides(env: Mapping[str, str]) -> list[tuple[Path_, str, str]]:
    """(field path, value, variable name) for every PLATFORMCTL_* variable that addresses the spec."""
    top = set(_model_fields(PlatformSpec))
    out: list[tuple[Path_, str, str]] = []
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        parts = rest.split("__")
        if parts[0] not in top:
            # PLATFORMCTL_CLUSTER_NAME: a spec field with a single '_' is a likely typo for '__'.
            sections = [t for t in top if _is_section((t,))]
            guess = next((t for t in sections if rest.startswith(t + "_")), None)
            if guess is not None:
                raise ConfigError(
                    f"{name}: {rest}: {short(env[name])}: unknown setting; nested fields are separated "
                    f"by '__', e.g. {ENV_PREFIX}{guess.upper()}__{rest[len(guess) + 1 :].upper()}"
                )
            continue  # not a spec variable (PLATFORMCTL_UPSTREAM_DIR, PLATFORMCTL_CONFIG, ...)
        if any(not p for p in parts):
            raise ConfigError(
                f"{name}: {'.'.join(parts)}: {short(env[name])}: empty path segment; "
                f"use single '__' between field names, e.g. {ENV_PREFIX}CLUSTER__NAME"
            )
        if env[name] == "":
            continue  # empty = unset (CI templates often export empty variables)
        if parts[0] == "components" and len(parts) > 1:
            parts[1] = parts[1].replace("_", "-")  # env names cannot hold '-' (cert-manager)
        out.append((tuple(parts), env[name], name))
    return out


def parse_set_options(values: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` strings → overrides. VALUE is text, converted by the field's type when the
    spec is validated (a string field takes it as written); an empty VALUE means null (unset)."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"--set: {short(item)}: expected KEY=VALUE with KEY a dotted field path such as "
                "cluster.name=dev or components.dapr.enabled=false"
            )
        out[key] = raw if raw.strip() else None
    return out


# --------------------------------------------------------------------------------------- validation


def _describe(err: Mapping[str, Any]) -> str:
    etype = str(err.get("type", ""))
    loc = tuple(err.get("loc", ()))
    msg = str(err.get("msg", "invalid value"))
    if etype == "extra_forbidden":
        return f"unknown field; allowed {_allowed_fields(loc[:-1])}"
    if etype in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping of {_allowed_fields(loc)}"
    if etype == "bool_parsing" or etype == "bool_type":
        return "must be a boolean: true or false"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    return msg[:1].lower() + msg[1:]


_FIELD_PREFIX = re.compile(r"^(?:Value error, )?([a-z_]+(?:\.[a-z_]+)*): (.*)$", re.S)


def _format_error(err: Mapping[str, Any], layers: _Layers) -> str:
    loc = tuple(err.get("loc", ()))
    value = err.get("input")
    described = _describe(err)
    # Cross-field checks (spec.py model validators) report at the parent with "<field>: <why>".
    m = _FIELD_PREFIX.match(str(err.get("msg", ""))) if err.get("type") == "value_error" else None
    if m is not None and isinstance(value, Mapping):
        field_path = (*map(str, loc), *m.group(1).split("."))
        value = layers.get(field_path)
        if value is None:
            value = _default_at(field_path)
        source = layers.sources.get(field_path) or layers.source_for_error(loc)
        return f"{source}: {dotted(field_path)}: {short(value)}: {m.group(2)}"
    return f"{layers.source_for_error(loc)}: {dotted(loc)}: {short(value)}: {described}"


def _default_at(path: Sequence[str]) -> Any:
    node: Any = PlatformSpec().model_dump(mode="json")
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _validate(layers: _Layers) -> PlatformSpec:
    comps = layers.data.get("components")
    if isinstance(comps, dict):
        for name in comps:
            if name not in COMPONENTS:
                src = layers.source_for_error(("components", name))
                raise ConfigError(
                    f"{src}: components.{name}: {short(name)}: unknown component; "
                    f"allowed: {', '.join(COMPONENTS)}"
                )
    _coerce(layers)
    try:
        return PlatformSpec.model_validate(layers.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        lines = [_format_error(e, layers) for e in errors]
        raise ConfigError(lines[0], details=[f"also: {line}" for line in lines[1:]]) from None
    except (ValueError, TypeError, RecursionError) as exc:  # pydantic wraps most; keep the one-line promise
        raise ConfigError(f"{layers.source_for_error(())}: (document): {short(str(exc))}") from None


def _check_versions(spec: PlatformSpec, layers: _Layers, lock: VersionLock) -> None:
    if spec.versions is not None and spec.versions not in lock.sets:
        src = layers.source_for_error(("versions",))
        raise ConfigError(
            f"{src}: versions: {short(spec.versions)}: not a version set of the lock; "
            f"sets: {', '.join(sorted(lock.sets))} (default {lock.default_set})"
        )
    set_name, vset = lock.version_set(spec.versions)
    for name in COMPONENTS:
        version = spec.components[name].version
        if version is None:
            continue
        src = layers.source_for_error(("components", name, "version"))
        comp = lock.components.get(name)
        if comp is None:
            raise ConfigError(
                f"{src}: components.{name}.version: {short(version)}: {name} has no pinned versions in the "
                "version lock; leave version unset"
            )
        if version not in comp.versions:
            raise ConfigError(
                f"{src}: components.{name}.version: {short(version)}: not in the version lock; "
                f"pinned: {', '.join(sorted(comp.versions))} (set {set_name} uses {vset.components[name]})"
            )


# --------------------------------------------------------------------------------------- entry points


def find_config_file(config_file: Path | None, cwd: Path | None = None) -> Path | None:
    """-f FILE when given; else ./platform.yaml when it exists; else None (defaults only)."""
    if config_file is not None:
        return config_file
    candidate = (cwd or Path.cwd()) / DEFAULT_FILE
    return candidate if candidate.is_file() else None


def load_spec_with_sources(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
    override_labels: Mapping[str, str] | None = None,
    lock: VersionLock | None = None,
) -> LoadedSpec:
    """Like load_spec, also returning which layer set each field (for ``config show -o table``)."""
    layers = _Layers()
    path = find_config_file(config_file, cwd)
    if path is not None:
        layers.merge_mapping(read_config_file(path), printable(str(path)))
    for fpath, value, var in env_overrides(os.environ if env is None else env):
        layers.set(fpath, value, printable(var))
    labels = override_labels or {}
    for key, value in (overrides or {}).items():
        label = printable(labels.get(key, f"--set {key}"))
        parts = tuple(key.split("."))
        if not key or any(not p for p in parts):
            raise ConfigError(
                f"{label}: {short(key)}: not a field path; use dotted names such as cluster.name"
            )
        layers.set(parts, value, label)
    spec = _validate(layers)
    _check_versions(spec, layers, lock or load_lock())
    return LoadedSpec(spec=spec, sources=dict(layers.sources), config_file=path)


def load_spec(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
    override_labels: Mapping[str, str] | None = None,
    lock: VersionLock | None = None,
) -> PlatformSpec:
    """The effective spec: defaults < file (-f, else ./platform.yaml) < PLATFORMCTL_* env < overrides.

    ``overrides`` keys are dotted field paths ("cluster.name"); ``override_labels`` maps a key to the
    flag that set it so errors name the flag (default "--set <key>"). Raises ConfigError (exit 2).
    """
    return load_spec_with_sources(
        config_file, env=env, overrides=overrides, cwd=cwd, override_labels=override_labels, lock=lock
    ).spec
