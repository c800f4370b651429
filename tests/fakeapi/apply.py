"""Server-side apply, managedFields and the three classic patch formats.

Field ownership is kept in `metadata.managedFields` in the real FieldsV1 format:
``{"f:spec": {"f:replicas": {}}, "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, ...}}}}``.
Internally a field set is a set of paths; a path is a tuple of FieldsV1 elements (``"f:spec"``,
``'k:{"name":"app"}'``, ``"."``), ownership is tracked per leaf.

Lists: for built-in kinds, lists of maps are merged by key (like the strategic-merge keys the real
schemas declare: name, containerPort+protocol, port+protocol, mountPath, type); custom resources
have atomic lists (the CRD default, `x-kubernetes-list-type: atomic`). Scalars lists are atomic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

Path = tuple[str, ...]
FieldSet = set[Path]

# Owned as one field: a CRD's schema (hundreds of KB in KServe's CRDs; per-leaf tracking there
# would cost more than the rest of an install and nothing in platformctl shares schema ownership).
ATOMIC_KEYS = frozenset({"openAPIV3Schema"})

# metadata fields that participate in field management (identity fields never do)
_TRACKED_METADATA = ("labels", "annotations", "finalizers", "ownerReferences")

# Scalar lists with `x-kubernetes-list-type: set`: each value is owned on its own as `v:"value"`.
# ObjectMeta.finalizers is one (`+listType=set`) in every kind; other scalar lists stay atomic.
SET_LISTS: frozenset[Path] = frozenset({("f:metadata", "f:finalizers")})


class ApplyConflict(Exception):
    """Another manager owns fields the apply would change: (manager description, field path) pairs."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        super().__init__(conflict_message(conflicts))
        self.conflicts = conflicts


def clone(value: Any) -> Any:
    """Deep copy for JSON data (several times faster than copy.deepcopy on large CRDs)."""
    if isinstance(value, dict):
        return {k: clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) for v in value]
    return value


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- list keys -------------------------------------------------------------------------------


def list_key_fields(items: list[Any], keyed: bool) -> tuple[str, ...] | None:
    """Merge-key fields of a list, or None when the list is atomic."""
    if not keyed or not items or not all(isinstance(i, dict) for i in items):
        return None
    for candidates in (
        ("mountPath",),
        ("containerPort", "protocol"),
        ("port", "protocol"),
        ("name",),
        ("type",),
    ):
        if all(candidates[0] in i for i in items):
            if candidates[0] == "port" and any("containerPort" in i for i in items):
                continue
            keys = {item_key(i, candidates) for i in items}
            # duplicate keys (seen in real manifests): treat the list as atomic rather than merge wrongly
            return candidates if len(keys) == len(items) else None
    return None


def item_key(item: dict[str, Any], fields: tuple[str, ...]) -> str:
    key = {f: item[f] for f in fields if f in item}
    return "k:" + json.dumps(key, sort_keys=True, separators=(",", ":"))


def _item_matches(item: Any, key: dict[str, Any]) -> bool:
    return isinstance(item, dict) and all(item.get(k) == v for k, v in key.items())


# -- field sets ------------------------------------------------------------------------------


def tracked_body(obj: dict[str, Any], *, drop_status: bool) -> dict[str, Any]:
    """The part of an object whose fields are owned by managers."""
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    if drop_status:
        out.pop("status", None)
    meta = obj.get("metadata") or {}
    tracked_meta = {k: meta[k] for k in _TRACKED_METADATA if k in meta}
    if tracked_meta:
        out["metadata"] = tracked_meta
    return out


def leaves(node: Any, keyed: bool) -> FieldSet:
    out: FieldSet = set()

    def walk(n: Any, prefix: Path) -> None:
        if isinstance(n, dict):
            if not n and prefix:
                out.add(prefix)
            for k, v in n.items():
                if k in ATOMIC_KEYS:
                    out.add((*prefix, "f:" + k))
                else:
                    walk(v, (*prefix, "f:" + k))
        elif isinstance(n, list):
            if prefix in SET_LISTS and n and all(isinstance(i, str | int | bool) for i in n):
                out.update((*prefix, "v:" + json.dumps(i)) for i in n)
                return
            fields = list_key_fields(n, keyed)
            if fields is None:
                out.add(prefix)
                return
            for item in n:
                p = (*prefix, item_key(item, fields))
                out.add((*p, "."))
                for k, v in item.items():
                    walk(v, (*p, "f:" + k))
        else:
            out.add(prefix)

    walk(node, ())
    return out


def get_path(obj: Any, path: Path) -> tuple[bool, Any]:
    node = obj
    for el in path:
        if el == ".":
            return True, node
        if el.startswith("f:"):
            if not isinstance(node, dict) or el[2:] not in node:
                return False, None
            node = node[el[2:]]
        elif el.startswith("k:"):
            if not isinstance(node, list):
                return False, None
            key = json.loads(el[2:])
            found = [i for i in node if _item_matches(i, key)]
            if not found:
                return False, None
            node = found[0]
        elif el.startswith("v:"):
            value = json.loads(el[2:])
            if not isinstance(node, list) or value not in node:
                return False, None
            node = value
        else:
            return False, None
    return True, node


def remove_path(obj: dict[str, Any], path: Path) -> None:
    """Remove a leaf (or, for a trailing ".", a keyed list item); prune maps left empty below the top."""
    if not path:
        return
    if path[-1] == ".":
        ok, parent = get_path(obj, path[:-2])
        if ok and isinstance(parent, list):
            key = json.loads(path[-2][2:])
            parent[:] = [i for i in parent if not _item_matches(i, key)]
        return
    ok, parent = get_path(obj, path[:-1])
    if not ok:
        return
    last = path[-1]
    if last.startswith("v:") and isinstance(parent, list):
        value = json.loads(last[2:])
        parent[:] = [v for v in parent if v != value]
        if not parent:  # an emptied set is dropped (omitempty), like the apiserver's result
            ok, up = get_path(obj, path[:-2])
            if ok and isinstance(up, dict):
                up.pop(path[-2][2:], None)
        return
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    # prune empty maps upward, keeping top-level fields (spec: {} is still a spec)
    for depth in range(len(path) - 1, 1, -1):
        ok, node = get_path(obj, path[:depth])
        if ok and isinstance(node, dict) and not node and path[depth - 1].startswith("f:"):
            ok2, up = get_path(obj, path[: depth - 1])
            if ok2 and isinstance(up, dict):
                up.pop(path[depth - 1][2:], None)
        else:
            break


def set_to_tree(fields: Iterable[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in fields:
        node = tree
        for el in path:
            node = node.setdefault(el, {})
    return tree


def tree_to_set(tree: dict[str, Any]) -> FieldSet:
    out: FieldSet = set()

    def walk(node: dict[str, Any], prefix: Path) -> None:
        for k, v in node.items():
            p = (*prefix, k)
            if k == "." or not v:
                out.add(p)
            else:
                walk(v, p)

    walk(tree, ())
    return out


def path_string(path: Path) -> str:
    """`.spec.template.spec.containers[name="app"].image`, as structured-merge-diff prints paths."""
    parts = []
    for el in path:
        if el.startswith("f:"):
            parts.append("." + el[2:])
        elif el.startswith("k:"):
            key = json.loads(el[2:])
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
        elif el.startswith("v:"):
            parts.append(f"[={el[2:]}]")
    return "".join(parts)


def conflict_message(conflicts: list[tuple[str, str]]) -> str:
    # format of k8s.io/apiserver .../fieldmanager/internal/conflict.go getConflictMessage
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {manager}: {path}"
    by_manager: dict[str, list[str]] = {}
    for manager, path in conflicts:
        by_manager.setdefault(manager, []).append(path)
    lines = []
    for manager in sorted(by_manager):
        lines.append(f"conflicts with {manager}:")
        lines.extend(f"- {p}" for p in by_manager[manager])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def describe_manager(entry: dict[str, Any]) -> str:
    # printManager in conflict.go: Update managers are shown with their apiVersion and time
    name = json.dumps(entry.get("manager", ""))
    if entry.get("operation") == "Update":
        if entry.get("time"):
            return f"{name} using {entry.get('apiVersion')} at {entry['time']}"
        return f"{name} using {entry.get('apiVersion')}"
    return name


# -- merging ---------------------------------------------------------------------------------


def merge_applied(live: Any, applied: Any, keyed: bool, at: Path = ()) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict):
        out = dict(live)
        for k, v in applied.items():
            if k in live and k not in ATOMIC_KEYS:
                out[k] = merge_applied(live[k], v, keyed, (*at, "f:" + k))
            else:
                out[k] = clone(v)
        return out
    if isinstance(live, list) and isinstance(applied, list) and at in SET_LISTS:
        return live + [v for v in applied if v not in live]  # a set: union, live order first
    if isinstance(live, list) and isinstance(applied, list):
        fields = list_key_fields(applied, keyed)
        if fields is not None and list_key_fields(live, keyed) == fields:
            result = list(live)
            for item in applied:
                key = json.loads(item_key(item, fields)[2:])
                for idx, existing in enumerate(result):
                    if _item_matches(existing, key):
                        result[idx] = merge_applied(existing, item, keyed, (*at, item_key(item, fields)))
                        break
                else:
                    result.append(clone(item))
            return result
    return clone(applied)


def _entry_matches(entry: dict[str, Any], manager: str, operation: str, subresource: str) -> bool:
    return (
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and entry.get("subresource", "") == subresource
    )


def _make_entry(
    manager: str,
    operation: str,
    api_version: str,
    subresource: str,
    fields: FieldSet,
    time: str | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": time or now_rfc3339(),
        "fieldsType": "FieldsV1",
        "fieldsV1": set_to_tree(fields),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    keyed: bool,
    api_version: str,
    subresource: str = "",
    drop_status: bool = False,
) -> dict[str, Any]:
    """The object after applying `applied` as `manager`; raises ApplyConflict. Does not touch `live`."""
    applied_body = tracked_body(applied, drop_status=drop_status)
    if subresource == "status":
        applied_body = {"status": applied.get("status") or {}}
    new_set = leaves(applied_body, keyed)
    if live is None:
        result: dict[str, Any] = clone(applied)
        if drop_status:
            result.pop("status", None)
        result.setdefault("metadata", {})["managedFields"] = [
            _make_entry(manager, "Apply", api_version, subresource, new_set)
        ]
        return result

    entries = [e for e in (live.get("metadata") or {}).get("managedFields") or [] if isinstance(e, dict)]
    mine_old: dict[str, Any] | None = None
    others: list[tuple[dict[str, Any], FieldSet]] = []
    for e in entries:
        if _entry_matches(e, manager, "Apply", subresource):
            mine_old = e
        else:
            others.append((e, tree_to_set(e.get("fieldsV1") or {})))
    old_set = tree_to_set(mine_old.get("fieldsV1") or {}) if mine_old else set()

    conflicts: list[tuple[str, str]] = []
    conflicting: set[Path] = set()
    for entry, owned in others:
        for p in sorted(new_set & owned):
            if p[-1] == ".":
                continue
            _, want = get_path(applied_body, p)
            _, have = get_path(live, p)
            if want != have:
                conflicts.append((describe_manager(entry), path_string(p)))
                conflicting.add(p)
    if conflicts and not force:
        raise ApplyConflict(conflicts)

    merged: dict[str, Any] = merge_applied(clone(live), applied_body, keyed)
    merged.setdefault("metadata", {})

    kept: dict[int, FieldSet] = {}
    for entry, owned in others:
        owned = owned - conflicting if force else owned
        if owned:
            kept[id(entry)] = owned
    still_owned: FieldSet = set().union(*kept.values()) if kept else set()
    # deepest first; at equal depth a list item's "." before its fields, so that the item goes whole
    # (removing its key field first would leave an item the "." entry no longer matches)
    for p in sorted(old_set - new_set - still_owned, key=lambda p: (len(p), p[-1] == "."), reverse=True):
        if p[-1] == "." and any(q[: len(p) - 1] == p[:-1] for q in still_owned | new_set):
            continue  # someone still owns fields of this list item
        remove_path(merged, p)

    # a no-op apply keeps the entry (and its timestamp) so that the object stays identical
    def content(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
        return {**obj, "metadata": meta}

    if mine_old is not None and old_set == new_set and content(merged) == content(live):
        mine_new = {**mine_old, "apiVersion": api_version}
    else:
        mine_new = _make_entry(manager, "Apply", api_version, subresource, new_set)
    new_entries: list[dict[str, Any]] = []
    for entry in entries:
        if entry is mine_old:
            new_entries.append(mine_new)
        elif id(entry) in kept:
            owned = kept[id(entry)]
            changed = tree_to_set(entry.get("fieldsV1") or {}) != owned
            new_entries.append({**entry, "fieldsV1": set_to_tree(owned)} if changed else entry)
    if mine_old is None:
        new_entries.append(mine_new)
    merged["metadata"]["managedFields"] = new_entries
    for k in ("apiVersion", "kind"):
        if k in live:
            merged[k] = live[k]
    return merged


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    keyed: bool,
    api_version: str,
    subresource: str = "",
    drop_status: bool = False,
) -> None:
    """Give `manager` (operation Update) the fields this write changed, taking them from others (in place)."""

    def body(obj: dict[str, Any]) -> dict[str, Any]:
        if subresource == "status":  # a status write touches nothing else
            return {"status": obj.get("status") or {}}
        return tracked_body(obj, drop_status=drop_status)

    new_body = body(new)
    new_leaves = leaves(new_body, keyed)
    changed: FieldSet = new_leaves
    gone: FieldSet = set()
    entries: list[dict[str, Any]] = []
    if old is not None:
        old_body = body(old)
        # A list item itself (its "." entry) changes hands only when it is added: editing a field of
        # an item takes that field, not the item (structured-merge-diff compares values, not items).
        changed = {
            p
            for p in new_leaves
            if (
                not get_path(old_body, p)[0]
                if p[-1] == "."
                else get_path(old_body, p) != get_path(new_body, p)
            )
        }
        gone = leaves(old_body, keyed) - new_leaves
        entries = [dict(e) for e in (old.get("metadata") or {}).get("managedFields") or []]
    out: list[dict[str, Any]] = []
    mine: dict[str, Any] | None = None
    for e in entries:
        if _entry_matches(e, manager, "Update", subresource):
            mine = e
            continue
        owned = tree_to_set(e.get("fieldsV1") or {})
        kept = owned - changed - gone
        if kept != owned:
            e["fieldsV1"] = set_to_tree(kept)
        if kept:
            out.append(e)
    if mine is None and not changed:
        new.setdefault("metadata", {})["managedFields"] = out
        return
    mine_set = (tree_to_set(mine.get("fieldsV1") or {}) - gone if mine else set()) | changed
    if mine_set:
        out.append(
            _make_entry(
                manager,
                "Update",
                api_version,
                subresource,
                mine_set,
                mine.get("time") if mine and not changed else None,
            )
        )
    new.setdefault("metadata", {})["managedFields"] = out


# -- classic patches -------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


class JsonPatchError(Exception):
    pass


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise JsonPatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for p in parts:
        if isinstance(doc, list):
            doc = doc[int(p)]
        elif isinstance(doc, dict):
            if p not in doc:
                raise JsonPatchError(f"path element {p!r} not found")
            doc = doc[p]
        else:
            raise JsonPatchError(f"cannot descend into {p!r}")
    return doc


def json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc = clone(doc)
    for op in ops:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))
        try:
            if kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise JsonPatchError(f"test failed at {op.get('path')}")
                continue
            value: Any
            if kind in ("move", "copy"):
                src = _pointer(op.get("from", ""))
                value = clone(_walk(doc, src))
                if kind == "move":
                    parent = _walk(doc, src[:-1])
                    if isinstance(parent, list):
                        parent.pop(int(src[-1]))
                    else:
                        del parent[src[-1]]
                kind = "add"
            else:
                value = clone(op.get("value"))
            if not parts:
                if kind in ("add", "replace"):
                    doc = value
                    continue
                raise JsonPatchError("cannot remove the whole document")
            parent = _walk(doc, parts[:-1])
            last = parts[-1]
            if isinstance(parent, list):
                if kind == "add":
                    parent.insert(len(parent) if last == "-" else int(last), value)
                elif kind == "remove":
                    parent.pop(int(last))
                elif kind == "replace":
                    parent[int(last)] = value
                else:
                    raise JsonPatchError(f"unknown op {kind!r}")
            elif isinstance(parent, dict):
                if kind == "add":
                    parent[last] = value
                elif kind in ("remove", "replace"):
                    if last not in parent:
                        raise JsonPatchError(f"path {op.get('path')} not found")
                    if kind == "remove":
                        del parent[last]
                    else:
                        parent[last] = value
                else:
                    raise JsonPatchError(f"unknown op {kind!r}")
            else:
                raise JsonPatchError(f"cannot apply {kind} at {op.get('path')}")
        except (IndexError, ValueError, KeyError, TypeError) as exc:
            raise JsonPatchError(f"{kind} {op.get('path')}: {exc}") from exc
    return doc
