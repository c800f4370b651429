"""Kubernetes objects as plain dicts: their type, identity, status conditions and a few fixed names.

A core module (imports nothing from platformctl): every layer, from drivers to the CLI, reads objects
through these helpers instead of keeping its own copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# One object as the API server (or a manifest) spells it: apiVersion, kind, metadata, spec, status.
KubeObject = dict[str, Any]
# One entry of status.conditions: type, status ("True"/"False"/"Unknown"), reason, message, ...
Condition = dict[str, Any]
# (API group, kind, namespace, name): "" for the core group and for cluster-scoped objects.
Identity = tuple[str, str, str, str]

# Namespaces every cluster has (kube-apiserver creates them): platformctl never creates, prunes or
# deletes them, even when a component's objects live there or a label says they are ours.
# The four "initial namespaces" of kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})


def api_group(api_version: object) -> str:
    """``apps/v1`` -> ``apps``; ``v1`` (the core group) -> ``""``."""
    return str(api_version or "").rpartition("/")[0]


def identity(obj: KubeObject) -> Identity:
    """What the API server treats as the same object: the version of the group does not count."""
    md = obj.get("metadata") or {}
    return (
        api_group(obj.get("apiVersion")),
        str(obj.get("kind") or ""),
        str(md.get("namespace") or ""),
        str(md.get("name") or ""),
    )


def dedupe(objects: Iterable[KubeObject]) -> list[KubeObject]:
    """One entry per ``identity``: the FIRST definition wins and keeps its position; later ones are dropped.

    First wins because callers list the authoritative source first: a component puts the pinned CRD
    file before a Helm chart's own crds/ copies (Istio, Dapr). Objects without a name
    (``generateName``) are all kept: each one is a new object.
    """
    seen: set[Identity] = set()
    out: list[KubeObject] = []
    for obj in objects:
        key = identity(obj)
        if not key[3]:
            out.append(obj)
            continue
        if key in seen:
            continue
        seen.add(key)
        out.append(obj)
    return out


def conditions(obj: KubeObject | None) -> dict[str, Condition]:
    """``status.conditions`` by type, in the object's order (the first entry of a repeated type wins)."""
    out: dict[str, Condition] = {}
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if isinstance(cond, dict) and "type" in cond:
            out.setdefault(str(cond["type"]), cond)
    return out


def condition(obj: KubeObject | None, type_: str = "Ready") -> Condition | None:
    """The condition of that type, or None when the object has none (yet)."""
    return conditions(obj).get(type_)


def is_true(obj: KubeObject | None, type_: str = "Ready") -> bool:
    """The condition exists and its status is "True"."""
    cond = condition(obj, type_)
    return cond is not None and cond.get("status") == "True"
