"""Stale objects: what platformctl created for a component that the component's new render no longer
contains (an upgrade to another version set drops or renames objects). Found by ownership labels,
deleted only after the new render is applied and ready (the caller's job).

Safety rules, because an upgrade runs on clusters holding user data:
* only objects carrying platformctl's ownership labels AND the component's label are candidates;
  objects a controller owns (ownerReferences with controller=true) go with their owner (Pruner rules);
* Namespaces are never deleted here (a namespace may hold user objects); they are reported instead;
* Secrets and PersistentVolumeClaims are never candidates: some Secrets are created outside the
  render on purpose (generated passwords, components/secrets.py) and deleting either loses data,
  while a leftover one is harmless;
* a CustomResourceDefinition is deleted only when no custom resource of it exists: deleting a CRD
  deletes its objects, and those may be the user's. It is reported as kept otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from platformctl.drivers.kube.apply import ObjectResult
from platformctl.drivers.kube.labels import COMPONENT_KEY
from platformctl.drivers.kube.mapping import split_api_version
from platformctl.drivers.kube.prune import RANK_CRD, RANK_CUSTOM, RANK_NAMESPACE, Found, Pruner
from platformctl.drivers.kube.retry import ApiError
from platformctl.errors import NotReadyError
from platformctl.reporting import log

Key = tuple[str, str, str, str]  # (group, kind, namespace or "", name)


@dataclass(frozen=True)
class RenderKeys:
    """What a component's render contains, for matching live objects against it."""

    names: frozenset[Key]
    cluster_names: frozenset[tuple[str, str, str]]  # (group, kind, name), namespace ignored
    generate_names: frozenset[Key]  # (group, kind, namespace, generateName)

    @classmethod
    def of(cls, objects: Iterable[dict[str, Any]]) -> RenderKeys:
        names: set[Key] = set()
        cluster: set[tuple[str, str, str]] = set()
        generated: set[Key] = set()
        for obj in objects:
            md = obj.get("metadata") or {}
            group = split_api_version(str(obj.get("apiVersion", "")))[0]
            kind = str(obj.get("kind", ""))
            ns = str(md.get("namespace") or "")
            if md.get("name"):
                names.add((group, kind, ns, str(md["name"])))
                cluster.add((group, kind, str(md["name"])))
            elif md.get("generateName"):
                generated.add((group, kind, ns, str(md["generateName"])))
        return cls(frozenset(names), frozenset(cluster), frozenset(generated))

    def contains(self, found: Found) -> bool:
        info, md = found.info, found.obj.get("metadata") or {}
        if md.get("generateName") and (
            (info.group, info.kind, found.namespace or "", str(md["generateName"])) in self.generate_names
        ):
            return True
        if not info.namespaced:
            return (info.group, info.kind, found.name) in self.cluster_names
        return (info.group, info.kind, found.namespace or "", found.name) in self.names


@dataclass
class StaleReport:
    deleted: list[ObjectResult] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # candidates left in place, each with the reason


# (group, kind) never pruned as stale (see the module docstring).
NEVER_STALE = frozenset({("", "Secret"), ("", "PersistentVolumeClaim")})


def of_component(snapshot: Iterable[Found], component: str, keys: RenderKeys) -> list[Found]:
    """The snapshot's objects labelled for ``component`` that ``keys`` (its new render) lacks."""
    return [
        f
        for f in snapshot
        if ((f.obj.get("metadata") or {}).get("labels") or {}).get(COMPONENT_KEY) == component
        and (f.info.group, f.info.kind) not in NEVER_STALE
        and not keys.contains(f)
    ]


def _custom_resources_exist(pruner: Pruner, crd: dict[str, Any], deadline: float) -> int | None:
    """How many objects of ``crd`` exist (up to 1 is enough: 0 or 1); None when it cannot be read."""
    spec = crd.get("spec") or {}
    served = [v.get("name") for v in spec.get("versions") or [] if v.get("served")]
    plural = (spec.get("names") or {}).get("plural")
    if not served or not plural:
        return 0
    path = f"/apis/{spec.get('group')}/{served[0]}/{plural}"

    def count() -> int:
        try:
            body = pruner.api.request("GET", path, query=[("limit", "1")])
        except ApiError as exc:
            if exc.status == 404:
                return 0
            raise
        return len((body or {}).get("items") or [])

    try:
        result: int = pruner._call(count, deadline, f"list {plural}.{spec.get('group')}")
    except ApiError:
        return None
    return result


def delete_stale(
    pruner: Pruner, stale: list[Found], deadline: float, *, step: str, dry_run: bool = False
) -> StaleReport:
    """Delete ``stale`` (webhooks first, CRDs last, never Namespaces); ``dry_run`` only reports."""
    report = StaleReport()
    waiting: list[Found] = []
    for f in sorted(stale, key=lambda f: (f.rank, f.info.kind, f.namespace or "", f.name)):
        if f.rank == RANK_NAMESPACE:
            report.kept.append(f"{f.label()}: no longer rendered, not deleted (it may hold your objects)")
            continue
        if f.rank == RANK_CRD:
            n = _custom_resources_exist(pruner, f.obj, deadline)
            if n != 0:
                why = "its custom resources could not be listed" if n is None else "custom resources exist"
                report.kept.append(f"{f.label()}: no longer rendered, not deleted ({why})")
                continue
        if not dry_run:
            pruner._delete(f, deadline)
            log(pruner.reporter, step, f"pruned {f.label()}")
            if f.rank in (RANK_CUSTOM, RANK_CRD):
                waiting.append(f)
        report.deleted.append(ObjectResult(f.info.api_version, f.info.kind, f.namespace, f.name, "deleted"))
    for line in report.kept:
        log(pruner.reporter, step, line)
    stuck = pruner.wait_gone(waiting, deadline) if waiting else []
    if stuck:
        raise NotReadyError(
            f"prune: {len(stuck)} object(s) no longer rendered are still terminating",
            details=[f"{f.label()}: {last.summary}" for f, last in stuck],
            hint="their finalizers are not being cleared; check the controller, then run up again",
        )
    return report
