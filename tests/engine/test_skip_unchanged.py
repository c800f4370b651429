"""Skipping unchanged applies (docs/architecture.md, Engine): a re-apply of what is live sends no
write, while drift on fields we own, a changed configuration or --force-conflicts still applies.

Runs on the contract target (the fake, or a real cluster with PLATFORMCTL_TEST_KUBECONFIG); requests
are recorded on the engine's side so the same assertions hold on both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from platformctl.drivers.kube.apply import covers, up_to_date
from platformctl.drivers.kube.engine import Engine
from platformctl.drivers.kube.labels import SPEC_HASH_KEY
from platformctl.drivers.kube.retry import ApiError
from platformctl.errors import ConflictError
from tests.conftest import KubeTarget
from tests.engine.helpers import configmap, connect, crd, deployment, namespace, unique

WRITES = {"PATCH", "PUT", "POST", "DELETE"}
COMPONENT = "engine-test"


class Recorder:
    """Wraps ``engine.api.request`` and logs (method, path, query) of every call."""

    def __init__(self, engine: Engine) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self._inner = engine.api.request

        def request(method: str, path: str, **kw: Any) -> Any:
            self.calls.append((method, path, dict(kw.get("query") or ())))
            return self._inner(method, path, **kw)

        engine.api.request = request  # type: ignore[method-assign]

    def clear(self) -> None:
        self.calls.clear()

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.calls if m in WRITES]


@pytest.fixture
def engine(kube_target: KubeTarget) -> Iterator[Engine]:
    eng = connect(kube_target)
    yield eng
    eng.prune(component=COMPONENT, timeout=60)


def other_manager_merge_patch(engine: Engine, kind: str, ns: str, name: str, body: dict[str, Any]) -> None:
    """An edit by another actor (kubectl edit/patch style: an Update by a different field manager)."""
    info = engine.mapper.resolve("v1" if kind == "ConfigMap" else "apps/v1", kind)
    engine.api.request(
        "PATCH",
        info.path(ns, name),
        query=[("fieldManager", "someone-else")],
        body=body,
        content_type="application/merge-patch+json",
    )


def actions(engine: Engine, docs: list[dict[str, Any]], **kw: Any) -> list[str]:
    return [r.action for r in engine.apply(docs, component=COMPONENT, **kw).results]


def test_unchanged_reapply_sends_no_write_and_one_list_per_kind(engine: Engine) -> None:
    ns = unique("skip")
    docs = [namespace(ns), configmap("a", ns), configmap("b", ns), deployment("web", ns)]
    rec = Recorder(engine)
    assert actions(engine, docs) == ["created"] * 4
    # a fresh object costs its apply (201 = created) and a share of one LIST per kind, no GET each
    assert not [c for c in rec.calls if c[0] == "GET" and c[1].endswith(("/a", "/b", "/web"))]
    live = engine.get("v1", "ConfigMap", "a", ns)
    assert live is not None and live["metadata"]["annotations"][SPEC_HASH_KEY]
    rv = live["metadata"]["resourceVersion"]
    rec.clear()
    assert actions(engine, docs) == ["unchanged"] * 4
    assert rec.writes == []
    lists = [c for c in rec.calls if c[0] == "GET"]
    assert len(lists) == 3  # Namespace, ConfigMap, Deployment: one labelled LIST each
    assert all("labelSelector" in q for _, _, q in lists)
    assert engine.get("v1", "ConfigMap", "a", ns)["metadata"]["resourceVersion"] == rv  # type: ignore[index]


def test_edit_by_another_actor_to_a_field_we_own_is_reapplied(engine: Engine) -> None:
    ns = unique("skip-drift")
    docs = [namespace(ns), configmap("cm", ns, {"k": "ours", "x": "1"}), deployment("web", ns)]
    actions(engine, docs)
    other_manager_merge_patch(engine, "ConfigMap", ns, "cm", {"data": {"k": "theirs"}})
    other_manager_merge_patch(engine, "Deployment", ns, "web", {"spec": {"replicas": 3}})
    rec = Recorder(engine)
    # The edit is noticed and the apply is sent. An Update by another manager took ownership of the
    # value, so the apiserver answers with a conflict naming it (never a silent "unchanged").
    with pytest.raises(ConflictError, match='"someone-else"'):
        actions(engine, docs)
    assert [m for m, p in rec.writes] == ["PATCH"] and rec.writes[0][1].endswith("/configmaps/cm")
    rec.clear()
    assert actions(engine, docs, force_conflicts=True) == ["unchanged", "configured", "configured"]
    assert engine.get("v1", "ConfigMap", "cm", ns)["data"] == {"k": "ours", "x": "1"}  # type: ignore[index]
    assert engine.get("apps/v1", "Deployment", "web", ns)["spec"]["replicas"] == 1  # type: ignore[index]
    # once restored, the next run is write-free again
    rec.clear()
    assert actions(engine, docs) == ["unchanged"] * 3
    assert rec.writes == []


def test_removed_value_and_removed_label_are_reapplied(engine: Engine) -> None:
    ns = unique("skip-removed")
    docs = [namespace(ns), configmap("cm", ns, {"k": "v", "gone": "soon"}, annotations={"a": "1"})]
    actions(engine, docs)
    other_manager_merge_patch(
        engine, "ConfigMap", ns, "cm", {"data": {"gone": None}, "metadata": {"annotations": {"a": None}}}
    )
    rec = Recorder(engine)
    assert actions(engine, docs) == ["unchanged", "configured"]
    live = engine.get("v1", "ConfigMap", "cm", ns)
    assert live is not None and live["data"]["gone"] == "soon" and live["metadata"]["annotations"]["a"] == "1"
    assert len(rec.writes) == 1
    # without the component label the object is not in our LIST: the apply (200) says "configured"
    other_manager_merge_patch(
        engine, "ConfigMap", ns, "cm", {"metadata": {"labels": {"platformctl.io/component": None}}}
    )
    rec.clear()
    assert actions(engine, docs) == ["unchanged", "configured"]
    live = engine.get("v1", "ConfigMap", "cm", ns)
    assert live is not None and live["metadata"]["labels"]["platformctl.io/component"] == COMPONENT
    assert len(rec.writes) == 1


def test_fields_only_others_set_do_not_force_a_reapply(engine: Engine) -> None:
    ns = unique("skip-others")
    docs = [namespace(ns), configmap("cm", ns)]
    actions(engine, docs)
    other_manager_merge_patch(
        engine, "ConfigMap", ns, "cm", {"metadata": {"annotations": {"example.com/note": "x"}}}
    )
    rec = Recorder(engine)
    assert actions(engine, docs) == ["unchanged", "unchanged"]
    assert rec.writes == []


def test_changed_configuration_is_applied_and_dropped_fields_are_removed(engine: Engine) -> None:
    ns = unique("skip-changed")
    actions(engine, [namespace(ns), configmap("cm", ns, {"k": "v", "old": "x"})])
    assert actions(engine, [namespace(ns), configmap("cm", ns, {"k": "v"})]) == ["unchanged", "configured"]
    # SSA removes the field we no longer declare: the spec hash is what tells us to send it
    assert engine.get("v1", "ConfigMap", "cm", ns)["data"] == {"k": "v"}  # type: ignore[index]


def test_force_conflicts_always_sends_the_apply(engine: Engine) -> None:
    ns = unique("skip-force")
    docs = [namespace(ns), configmap("cm", ns)]
    actions(engine, docs)
    rec = Recorder(engine)
    assert actions(engine, docs, force_conflicts=True) == ["unchanged", "unchanged"]
    assert [m for m, _ in rec.writes] == ["PATCH", "PATCH"]
    assert all(q.get("force") == "true" for m, _, q in rec.calls if m == "PATCH")


def test_unlabelled_existing_object_is_configured_not_created(engine: Engine) -> None:
    ns = unique("skip-adopt")
    actions(engine, [namespace(ns)])
    info = engine.mapper.resolve("v1", "ConfigMap")
    engine.api.request("POST", info.path(ns), body=configmap("theirs", ns, {"k": "v"}))
    docs = [namespace(ns), configmap("theirs", ns, {"k": "v"})]
    # a dry run compares with the unlabelled object (our labels would be added): not "created"
    assert actions(engine, docs, dry_run=True) == ["unchanged", "configured"]
    assert "labels" not in (engine.get("v1", "ConfigMap", "theirs", ns) or {})["metadata"]
    assert actions(engine, docs) == ["unchanged", "configured"]


def test_unchanged_established_crd_is_not_waited_for_again(engine: Engine) -> None:
    group = f"{unique('skipcrd')}.platformctl.example.com"
    docs = [crd(group, "Gadget", "gadgets", scope="Cluster")]
    assert actions(engine, docs) == ["created"]
    rec = Recorder(engine)
    assert actions(engine, docs) == ["unchanged"]
    # no write, no Established wait (watch/GET of the CRD), no discovery refresh of its group
    assert [c[:2] for c in rec.calls if c[0] != "GET" or "labelSelector" not in c[2]] == []


def test_refused_list_falls_back_to_per_object_gets(engine: Engine) -> None:
    ns = unique("skip-rbac")
    docs = [namespace(ns), configmap("cm", ns)]
    actions(engine, docs)
    inner = engine.api.request
    gets: list[str] = []

    def request(method: str, path: str, **kw: Any) -> Any:
        if method == "GET" and any(k == "labelSelector" for k, _ in kw.get("query") or ()):
            raise ApiError("list forbidden", status=403, reason="Forbidden")
        if method == "GET":
            gets.append(path)
        return inner(method, path, **kw)

    engine.api.request = request  # type: ignore[method-assign]
    try:
        rec = Recorder(engine)
        assert actions(engine, docs) == ["unchanged", "unchanged"]
    finally:
        engine.api.request = inner  # type: ignore[method-assign]
    assert rec.writes == []
    assert any(p.endswith(f"/namespaces/{ns}/configmaps/cm") for p in gets)


def test_covers_is_strict_about_types_lists_and_missing_values() -> None:
    assert covers({"a": 1, "b": {"c": [1, 2]}, "extra": 0}, {"a": 1, "b": {"c": [1, 2]}})
    assert covers({"n": 1.0}, {"n": 1})
    assert not covers({"a": True}, {"a": 1})
    assert not covers({"a": "1"}, {"a": 1})
    assert not covers({"l": [1, 2, 3]}, {"l": [1, 2]})  # an item added by someone else
    assert not covers({"l": [{"name": "x"}]}, {"l": [{"name": "x", "image": "i"}]})
    assert not covers({}, {"a": {}})
    assert covers({}, {"a": None}) and not covers({"a": 1}, {"a": None})


def test_up_to_date_needs_hash_manager_and_values() -> None:
    desired = {"metadata": {"name": "x", "annotations": {SPEC_HASH_KEY: "h1"}}, "data": {"k": "v"}}
    live: dict[str, Any] = {
        "metadata": {
            "name": "x",
            "annotations": {SPEC_HASH_KEY: "h1"},
            "managedFields": [{"manager": "platformctl", "operation": "Apply"}],
        },
        "data": {"k": "v"},
    }
    assert up_to_date(live, desired)
    assert not up_to_date(None, desired)
    assert not up_to_date(live, {**desired, "metadata": {"name": "x", "annotations": {SPEC_HASH_KEY: "h2"}}})
    assert not up_to_date({**live, "data": {"k": "w"}}, desired)
    other = {**live, "metadata": {**live["metadata"], "managedFields": [{"manager": "kubectl"}]}}
    assert not up_to_date(other, desired)
