"""The object store: one lock, a global resourceVersion counter, a bounded event log for watches.

Stored objects are never mutated in place: every write stores a new dict. That lets watch streams
and readers serialise a snapshot without copying under the lock.

Lifecycle rules that the real apiserver and its built-in controllers apply are here too, because
they happen as part of writes: finalizers and deletionTimestamp, namespace termination, garbage
collection of owned objects (background propagation), CRD registration in discovery (once the
simulated CRD controller has set Established=True).
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from tests.fakeapi import errors
from tests.fakeapi.apply import clone, now_rfc3339
from tests.fakeapi.resources import Registry, ResourceType, resource_type_from_crd

ObjKey = tuple[str, str]  # (namespace or "", name)
TypeKey = tuple[str, str]  # (group, plural)
# (resourceVersion, type key, event type, object)
WatchEvent = tuple[int, TypeKey, str, dict[str, Any]]
Listener = Callable[[str, ResourceType, dict[str, Any]], None]

CRD_KEY: TypeKey = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACE_KEY: TypeKey = ("", "namespaces")
EVENT_LOG_SIZE = 50_000


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    """What bumps metadata.generation: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _without_status(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


class Store:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._rv = 1
        self._objects: dict[TypeKey, dict[ObjKey, dict[str, Any]]] = {}
        self._ns_counts: dict[str, int] = {}
        self.events: deque[WatchEvent] = deque(maxlen=EVENT_LOG_SIZE)
        self.listeners: list[Listener] = []
        # last resourceVersion at which anything but status changed, per object (apply memo)
        self.spec_revision: dict[tuple[TypeKey, str, str], int] = {}
        self.closed = False

    # -- reading ---------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def oldest_event_rv(self) -> int:
        with self.lock:
            return self.events[0][0] if self.events else self._rv

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self._objects.get(rt.key, {}).get((namespace if rt.namespaced else "", name))

    def objects_of(self, rt: ResourceType, namespace: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            objs = self._objects.get(rt.key, {})
            if namespace is None or not rt.namespaced:
                return list(objs.values())
            return [o for (ns, _), o in objs.items() if ns == namespace]

    def all_objects(self) -> list[tuple[ResourceType, dict[str, Any]]]:
        with self.lock:
            out: list[tuple[ResourceType, dict[str, Any]]] = []
            for key, objs in self._objects.items():
                rt = self.registry.by_key(key)
                if rt is not None:
                    out.extend((rt, o) for o in objs.values())
            return out

    def namespace_phase(self, namespace: str) -> str | None:
        ns = self._objects.get(NAMESPACE_KEY, {}).get(("", namespace))
        if ns is None:
            return None
        return str((ns.get("status") or {}).get("phase", "Active"))

    # -- low-level writes (caller holds the lock) --------------------------------------------

    def _emit(self, event_type: str, rt: ResourceType, obj: dict[str, Any]) -> None:
        self.events.append((self._rv, rt.key, event_type, obj))
        for listener in self.listeners:
            listener(event_type, rt, obj)
        self.changed.notify_all()

    def _put(self, rt: ResourceType, obj: dict[str, Any], event_type: str) -> dict[str, Any]:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        meta = obj["metadata"]
        key = (meta.get("namespace", "") if rt.namespaced else "", meta["name"])
        bucket = self._objects.setdefault(rt.key, {})
        if key not in bucket and rt.namespaced:
            self._ns_counts[key[0]] = self._ns_counts.get(key[0], 0) + 1
        old = bucket.get(key)
        if old is None or _without_status(old) != _without_status(obj):
            self.spec_revision[(rt.key, *key)] = self._rv
        bucket[key] = obj
        self._emit(event_type, rt, obj)
        return obj

    def _drop(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", "") if rt.namespaced else "", meta["name"])
        if self._objects.get(rt.key, {}).pop(key, None) is None:
            return
        self.spec_revision.pop((rt.key, *key), None)
        if rt.namespaced:
            self._ns_counts[key[0]] = self._ns_counts.get(key[0], 1) - 1
        self._rv += 1
        gone = {**obj, "metadata": {**meta, "resourceVersion": str(self._rv)}}
        self._emit("DELETED", rt, gone)
        self._after_removal(rt, gone)

    # -- object lifecycle ------------------------------------------------------------------

    def create(self, rt: ResourceType, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            name = meta.get("name") or ""
            if not name:
                raise errors.invalid(
                    rt, "", "metadata.name", "Required value: name or generateName is required"
                )
            if rt.namespaced:
                ns = meta.get("namespace") or "default"
                meta["namespace"] = ns
                phase = self.namespace_phase(ns)
                if phase is None:
                    raise errors.namespace_not_found(ns)
                if phase == "Terminating":
                    raise errors.terminating(ns, rt, name)
            else:
                meta.pop("namespace", None)
            if self.get(rt, meta.get("namespace", ""), name) is not None:
                raise errors.already_exists(rt, name)
            obj["apiVersion"] = obj.get("apiVersion") or rt.api_version()
            obj["kind"] = rt.kind
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            meta["generation"] = 1
            for transient in ("resourceVersion", "deletionTimestamp", "selfLink"):
                meta.pop(transient, None)
            if rt.key == NAMESPACE_KEY:
                obj["spec"] = {"finalizers": ["kubernetes"]}
                obj["status"] = {"phase": "Active"}
                meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            if rt.key == CRD_KEY:
                self._validate_crd(rt, obj)
            if dry_run:
                obj["metadata"]["resourceVersion"] = str(self._rv)
                return obj
            stored = self._put(rt, obj, "ADDED")
            if rt.key == CRD_KEY:
                self._serve_if_established(stored)
            return stored

    def replace(
        self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Store `new` in place of `old` (identity fields kept); no-op writes keep resourceVersion."""
        with self.lock:
            meta = new.setdefault("metadata", {})
            old_meta = old["metadata"]
            for k in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "generation"):
                if k in old_meta:
                    meta[k] = old_meta[k]
                else:
                    meta.pop(k, None)
            meta["resourceVersion"] = old_meta.get("resourceVersion")
            new["apiVersion"] = old.get("apiVersion", rt.api_version())
            new["kind"] = rt.kind
            if rt.key == NAMESPACE_KEY:
                new["spec"] = old.get("spec", {})
                new["status"] = new.get("status") or old.get("status", {})
            if new == old:
                return old
            if _spec_part(new) != _spec_part(old):
                meta["generation"] = int(old_meta.get("generation", 1)) + 1
            if rt.key == CRD_KEY:
                self._validate_crd(rt, new)
            if dry_run:
                return new
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                self._drop(rt, new)
                return new
            stored = self._put(rt, new, "MODIFIED")
            if rt.key == CRD_KEY:
                self._serve_if_established(stored)
            return stored

    def mutate(
        self, rt: ResourceType, namespace: str, name: str, fn: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any] | None:
        """Controllers' write path: apply `fn` to a copy of the current object and store it if it changed."""
        with self.lock:
            old = self.get(rt, namespace, name)
            if old is None:
                return None
            new = clone(old)
            fn(new)
            return self.replace(rt, old, new)

    def delete(self, rt: ResourceType, namespace: str, name: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Delete now, or mark for deletion when finalizers remain; returns the last state."""
        with self.lock:
            obj = self.get(rt, namespace, name)
            if obj is None:
                raise errors.not_found(rt, name)
            if dry_run:
                return obj
            if rt.key == NAMESPACE_KEY:
                return self._terminate_namespace(rt, obj)
            if obj["metadata"].get("finalizers"):
                if obj["metadata"].get("deletionTimestamp"):
                    return obj
                new = clone(obj)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                return self._put(rt, new, "MODIFIED")
            self._drop(rt, obj)
            return obj

    def _terminate_namespace(self, rt: ResourceType, ns_obj: dict[str, Any]) -> dict[str, Any]:
        name = ns_obj["metadata"]["name"]
        if ns_obj.get("status", {}).get("phase") != "Terminating":
            new = clone(ns_obj)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["status"] = {"phase": "Terminating"}
            ns_obj = self._put(rt, new, "MODIFIED")
        # what the namespace controller does: delete every namespaced object in it
        for key, objs in list(self._objects.items()):
            ort = self.registry.by_key(key)
            if ort is None or not ort.namespaced:
                continue
            for (ons, oname), _ in list(objs.items()):
                if ons == name and self.get(ort, ons, oname) is not None:
                    self.delete(ort, ons, oname)
        self._maybe_finalize_namespace(name)
        return self.get(rt, "", name) or ns_obj

    def _maybe_finalize_namespace(self, namespace: str) -> None:
        if self._ns_counts.get(namespace, 0) > 0 or self.namespace_phase(namespace) != "Terminating":
            return
        ns_rt = self.registry.by_key(NAMESPACE_KEY)
        ns_obj = self._objects.get(NAMESPACE_KEY, {}).get(("", namespace))
        if ns_rt is not None and ns_obj is not None:
            self._drop(ns_rt, ns_obj)

    def _after_removal(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if rt.key == CRD_KEY:
            self._forget_crd(obj)
        uid = meta.get("uid")
        # garbage collector, background propagation: dependents go after their owner
        for key, objs in list(self._objects.items()):
            ort = self.registry.by_key(key)
            if ort is None:
                continue
            for dep in list(objs.values()):
                refs = dep["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs):
                    dmeta = dep["metadata"]
                    if self.get(ort, dmeta.get("namespace", ""), dmeta["name"]) is not None:
                        self.delete(ort, dmeta.get("namespace", ""), dmeta["name"])
        if rt.namespaced:
            self._maybe_finalize_namespace(meta.get("namespace", ""))

    # -- CRDs ------------------------------------------------------------------------------

    def _validate_crd(self, rt: ResourceType, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        new_rt = resource_type_from_crd(crd)
        if new_rt is None:
            raise errors.invalid(
                rt, name, "spec", "Required value: group, names.plural, names.kind and a served version"
            )
        expected = f"{new_rt.plural}.{new_rt.group}"
        if name != expected:
            raise errors.invalid(
                rt,
                name,
                "metadata.name",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )

    def _serve_if_established(self, crd: dict[str, Any]) -> None:
        """Serve (or re-learn) a CRD's kind once it is Established, like the apiextensions server:
        until the CRD controller sets Established=True its resource and discovery entry are 404."""
        conditions = (crd.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        new_rt = resource_type_from_crd(crd)
        if new_rt is not None:
            self.registry.learn(new_rt)

    def _forget_crd(self, crd: dict[str, Any]) -> None:
        new_rt = resource_type_from_crd(crd)
        if new_rt is None:
            return
        rt = self.registry.by_key(new_rt.key)
        if rt is None or rt.builtin:
            return
        for obj in list(self._objects.get(rt.key, {}).values()):
            self._drop(rt, obj)  # instances go with their CRD; finalizers are not honoured here
        self._objects.pop(rt.key, None)
        self.registry.forget(rt.key)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.changed.notify_all()
