"""Label and field selectors (the string forms the apiserver accepts in `labelSelector`/`fieldSelector`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.fakeapi.errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_./-]*)\s*$")


def _split_top(expr: str) -> list[str]:
    """Split on commas that are not inside `in (...)` value lists."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in expr:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


def _label_requirement(part: str) -> Callable[[dict[str, str]], bool]:
    m = _EQ_RE.match(part)
    if m:
        key, op, val = m.groups()
        if op == "!=":
            return lambda lb: lb.get(key) != val
        return lambda lb: key in lb and lb[key] == val
    m = _SET_RE.match(part)
    if not m:
        raise bad_request(f"unable to parse requirement: {part!r}")
    neg, key, op, values = m.groups()
    if op:
        vals = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda lb: key in lb and lb[key] in vals
        return lambda lb: key not in lb or lb[key] not in vals
    if neg:
        return lambda lb: key not in lb
    return lambda lb: key in lb


def label_matcher(selector: str | None) -> Callable[[dict[str, str]], bool]:
    """Equality (=, ==, !=), set (in, notin) and existence (key, !key) requirements, ANDed."""
    if not selector:
        return lambda _labels: True
    reqs = [_label_requirement(p) for p in _split_top(selector)]
    return lambda labels: all(r(labels) for r in reqs)


def _field_value(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def _field_requirement(part: str) -> Matcher:
    m = _EQ_RE.match(part)
    if not m:
        raise bad_request(f"invalid field selector: {part!r}")
    path, op, val = m.groups()
    if op == "!=":
        return lambda o: _field_value(o, path) != val
    return lambda o: _field_value(o, path) == val


def field_matcher(selector: str | None) -> Matcher:
    """Any dotted path is accepted (the real apiserver allows a per-kind subset: metadata.name,
    metadata.namespace, and e.g. involvedObject.* for Events, status.phase for Pods)."""
    if not selector:
        return lambda _obj: True
    reqs = [_field_requirement(p) for p in _split_top(selector)]
    return lambda obj: all(r(obj) for r in reqs)
