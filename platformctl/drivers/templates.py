"""Render the package's Jinja2 templates (``templates/``) into Kubernetes objects.

Values are data, never YAML: every string that reaches a template must be a "safe scalar" (no
whitespace, quotes, ``#``, braces, ``: ``, newlines…), so no value can add keys or documents.
Resource names are checked as DNS-1123 labels by the callers (``dns_label_value``) first, so the
error names the offending field. Templates quote every interpolated string. Rendering is strict
(``StrictUndefined``): a missing value is an error, not an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from platformctl.errors import ConfigError, UsageError
from platformctl.plan.spec import DNS1123_LABEL
from platformctl.resources import data_dir

# Characters that can never change YAML structure inside a double-quoted scalar, and that cover
# images (registry/name:tag@sha256:…), hosts, ports, base64 and secrets.token_urlsafe output.
_SAFE_SCALAR = re.compile(r"^[A-Za-z0-9._/@:+=-]+$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*\.ya?ml\.j2$")


def dns_label_value(field: str, value: str) -> str:
    """``value`` if it is a DNS-1123 label; else a ConfigError naming ``field``."""
    if not isinstance(value, str) or not DNS1123_LABEL.fullmatch(value):
        raise ConfigError(
            f"{field}: {value!r}: must be a DNS-1123 label (lowercase letters, digits and '-', "
            "start and end alphanumeric, at most 63 characters)"
        )
    return value


def _check_values(path: str, value: Any) -> None:
    if isinstance(value, bool | int | float) or value is None:
        return
    if isinstance(value, str):
        if not _SAFE_SCALAR.fullmatch(value):
            raise UsageError(
                f"template value {path}: {value!r} contains characters that are not allowed in a "
                "rendered value (allowed: letters, digits and . _ / @ : + = -)"
            )
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not _SAFE_SCALAR.fullmatch(key):
                raise UsageError(f"template value {path}: key {key!r} is not allowed")
            _check_values(f"{path}.{key}", item)
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_values(f"{path}[{i}]", item)
        return
    raise UsageError(f"template value {path}: unsupported type {type(value).__name__}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def template_dir() -> Path:
    return data_dir("templates")


def render_text(name: str, values: Mapping[str, Any], *, directory: Path | None = None) -> str:
    """The rendered text of template ``name`` (e.g. ``"infra/redis.yaml.j2"``)."""
    import jinja2  # heavy: only when rendering

    if not _TEMPLATE_NAME.fullmatch(name):
        raise UsageError(f"template {name!r}: not a template name (expected e.g. 'infra/redis.yaml.j2')")
    for key, value in values.items():
        _check_values(key, value)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory or template_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # YAML, not HTML; safety comes from _check_values + quoting
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    try:
        return env.get_template(name).render(**values)
    except jinja2.TemplateNotFound:
        raise UsageError(f"template {name!r}: not found under {directory or template_dir()}") from None
    except jinja2.UndefinedError as exc:
        raise UsageError(f"template {name!r}: {exc}") from None


def render_template(
    name: str, values: Mapping[str, Any], *, directory: Path | None = None
) -> list[dict[str, Any]]:
    """Render ``name`` with ``values`` and parse it into Kubernetes objects (empty documents dropped)."""
    text = render_text(name, values, directory=directory)
    try:
        docs = list(yaml.load_all(text, Loader=_UniqueKeyLoader))  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise UsageError(f"template {name!r}: rendered text is not valid YAML: {exc}") from None
    objects: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict) or not {"apiVersion", "kind", "metadata"} <= doc.keys():
            raise UsageError(f"template {name!r}: document {i} is not a Kubernetes object")
        objects.append(doc)
    return objects
