"""Engine behaviour on the contract target: the fake by default, a real cluster when
PLATFORMCTL_TEST_KUBECONFIG is set. Objects live in throw-away namespaces and are pruned."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from platformctl.drivers.kube.engine import Engine
from platformctl.drivers.kube.labels import COMPONENT_KEY, FIELD_MANAGER, SPEC_HASH_KEY
from platformctl.errors import ClusterError, ConfigError, ConflictError
from tests.conftest import KubeTarget
from tests.engine.helpers import configmap, connect, crd, namespace, unique
from tests.fakeapi import FakeApiServer


@pytest.fixture
def engine(kube_target: KubeTarget) -> Iterator[Engine]:
    eng = connect(kube_target)
    yield eng
    eng.prune(component="engine-test", timeout=60)


def test_connect_reports_server_and_context(kube_target: KubeTarget) -> None:
    eng = connect(kube_target)
    assert eng.server.startswith(("http://", "https://"))
    assert eng.context_name
    assert eng.server_version.get("major")


def test_missing_context_is_a_config_error_listing_contexts(kube_target: KubeTarget) -> None:
    with pytest.raises(ConfigError) as info:
        Engine.connect(kube_target.kubeconfig, "no-such-context")
    assert "no-such-context" in info.value.message and "available:" in info.value.message


def test_unreachable_server_names_url_and_context(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: gone\n  cluster:\n    server: http://127.0.0.1:{port}\n"
        "users:\n- name: u\n  user:\n    token: t\n"
        "contexts:\n- name: gone-ctx\n  context:\n    cluster: gone\n    user: u\n"
        "current-context: gone-ctx\n"
    )
    with pytest.raises(ClusterError) as info:
        Engine.connect(str(cfg))
    assert f"http://127.0.0.1:{port}" in info.value.message and "gone-ctx" in info.value.message
    # the OS reason, not urllib3's nested "HTTPConnectionPool(...): Max retries exceeded" wording
    assert info.value.message.endswith("Connection refused") and "Max retries" not in info.value.message


def test_rejected_credentials(fake_api: FakeApiServer, tmp_path: Path) -> None:
    cfg = tmp_path / "kubeconfig"
    cfg.write_text(fake_api.kubeconfig_text(token="wrong-token"))
    with pytest.raises(
        ClusterError, match=r"credentials rejected by http://127\.0\.0\.1:\d+ \(context fake\)"
    ):
        Engine.connect(str(cfg))


def test_missing_kubeconfig_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        Engine.connect(str(tmp_path / "nope"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("clusters: [\n", r"not valid YAML at line 2"),
        ("- just\n- a list\n", r"top level is not a mapping"),
        (
            "contexts: [{name: a, context: {cluster: c, user: u}}]\ncurrent-context: a\n"
            "clusters: [{name: c, cluster: {server: 5}}]\nusers: [{name: u, user: {}}]\n",
            r"context a: malformed entries",
        ),
        (b"\xff\xfe", r"cannot read it"),
    ],
)
def test_malformed_kubeconfig_is_a_config_error_naming_the_file(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    # Regression: these reached the user as "internal error: ParserError/TypeError" (exit 70).
    cfg = tmp_path / "kubeconfig"
    if isinstance(text, bytes):
        cfg.write_bytes(text)
    else:
        cfg.write_text(text)
    with pytest.raises(ConfigError, match=expected) as info:
        Engine.connect(str(cfg))
    assert str(cfg) in info.value.message and "--kubeconfig" in info.value.message


def test_crd_and_its_custom_resources_apply_in_one_call(engine: Engine) -> None:
    ns = unique("engine-crd")
    group = f"{ns}.platformctl.example.com"
    widget = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": ns},
        "spec": {"size": 3},
    }
    # the CR comes first in the input: ordering, the Established wait and the discovery refresh make it work
    report = engine.apply([widget, crd(group, "Widget", "widgets"), namespace(ns)], component="engine-test")
    assert [r.kind for r in report.results] == ["Namespace", "CustomResourceDefinition", "Widget"]
    assert all(r.action == "created" for r in report.results)
    live = engine.get(f"{group}/v1", "Widget", "w1", ns)
    assert live is not None and live["spec"]["size"] == 3
    assert live["metadata"]["labels"][COMPONENT_KEY] == "engine-test"


def test_unknown_kind_fails_with_a_clear_error(engine: Engine) -> None:
    gadget = {"apiVersion": "nothing.platformctl.example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    with pytest.raises(ClusterError, match=r"Gadget \(nothing\.platformctl\.example\.com/v1\) is not served"):
        engine.apply([gadget], component="engine-test")


def test_reapply_is_unchanged_and_edit_is_configured(engine: Engine) -> None:
    ns = unique("engine-apply")
    docs = [namespace(ns), configmap("cm", ns)]
    assert [r.action for r in engine.apply(docs, component="engine-test").results] == ["created", "created"]
    rv = engine.get("v1", "ConfigMap", "cm", ns)["metadata"]["resourceVersion"]  # type: ignore[index]
    assert [r.action for r in engine.apply(docs, component="engine-test").results] == [
        "unchanged",
        "unchanged",
    ]
    assert engine.get("v1", "ConfigMap", "cm", ns)["metadata"]["resourceVersion"] == rv  # type: ignore[index]
    edited = [namespace(ns), configmap("cm", ns, {"k": "changed"})]
    assert [r.action for r in engine.apply(edited, component="engine-test").results] == [
        "unchanged",
        "configured",
    ]


def test_conflict_names_the_other_manager_unless_forced(engine: Engine) -> None:
    ns = unique("engine-conflict")
    engine.apply([namespace(ns)], component="engine-test")
    info = engine.mapper.resolve("v1", "ConfigMap")
    body = configmap(
        "shared",
        ns,
        {"k": "theirs"},
        labels={"app.kubernetes.io/managed-by": "platformctl", COMPONENT_KEY: "engine-test"},
    )
    engine.api.request(
        "PATCH",
        info.path(ns, "shared"),
        query=[("fieldManager", "other-tool")],
        body=body,
        content_type="application/apply-patch+yaml",
    )
    with pytest.raises(ConflictError) as err:
        engine.apply([configmap("shared", ns, {"k": "ours"})], component="engine-test")
    assert '"other-tool"' in err.value.message and ".data.k" in err.value.message
    assert "--force-conflicts" in err.value.message
    report = engine.apply(
        [configmap("shared", ns, {"k": "ours"})], component="engine-test", force_conflicts=True
    )
    assert report.results[0].action == "configured"
    assert engine.get("v1", "ConfigMap", "shared", ns)["data"]["k"] == "ours"  # type: ignore[index]


def test_controller_injected_ca_bundle_is_never_blanked(engine: Engine) -> None:
    name = unique("engine-webhook")
    hook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.platformctl.example.com",
                "clientConfig": {
                    "caBundle": "",
                    "service": {"name": "nope", "namespace": "default", "port": 443},
                },
                # matches nothing real and never blocks anything (harmless on a real cluster)
                "rules": [
                    {
                        "apiGroups": ["nothing.platformctl.example.com"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["gadgets"],
                    }
                ],
                "failurePolicy": "Ignore",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    engine.apply([hook], component="engine-test")
    injected = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
    live = engine.get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", name)
    assert live is not None
    live["webhooks"][0]["clientConfig"]["caBundle"] = injected  # what cert-manager's cainjector does
    live["metadata"].pop("managedFields", None)  # an update carrying managedFields would replace them
    info = engine.mapper.resolve("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")
    engine.api.request("PUT", info.path(None, name), query=[("fieldManager", "cainjector")], body=live)
    # without stripping, applying "" would conflict with (or, forced, blank) the injector's value
    engine.apply([hook], component="engine-test")
    again = engine.get("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", name)
    assert again is not None and again["webhooks"][0]["clientConfig"]["caBundle"] == injected


def test_generate_name_objects_are_created_once(engine: Engine) -> None:
    ns = unique("engine-gen")
    engine.apply([namespace(ns)], component="engine-test")
    gen = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"generateName": "migrate-", "namespace": ns},
        "data": {"run": "1"},
    }
    first = engine.apply([gen], component="engine-test").results[0]
    assert first.action == "created" and first.name.startswith("migrate-") and first.name != "migrate-"
    second = engine.apply([gen], component="engine-test").results[0]
    assert (second.action, second.name) == ("unchanged", first.name)
    assert len(engine.list("v1", "ConfigMap", ns, f"{COMPONENT_KEY}=engine-test")) == 1
    changed = engine.apply([{**gen, "data": {"run": "2"}}], component="engine-test").results[0]
    assert changed.action == "created" and changed.name != first.name
    hashes = {
        c["metadata"]["annotations"][SPEC_HASH_KEY]
        for c in engine.list("v1", "ConfigMap", ns)
        if c["metadata"].get("generateName") == "migrate-"
    }
    assert len(hashes) == 2


def test_dry_run_changes_nothing(engine: Engine) -> None:
    ns = unique("engine-dry")
    docs = [namespace(ns), configmap("cm", ns)]
    report = engine.apply(docs, component="engine-test", dry_run=True)
    assert [r.action for r in report.results] == ["created", "created"] and report.dry_run
    assert engine.get("v1", "Namespace", ns) is None
    engine.apply(docs, component="engine-test")
    edited = [namespace(ns), configmap("cm", ns, {"k": "new"})]
    assert [r.action for r in engine.apply(edited, component="engine-test", dry_run=True).results] == [
        "unchanged",
        "configured",
    ]
    assert engine.get("v1", "ConfigMap", "cm", ns)["data"] == {"k": "v"}  # type: ignore[index]


def test_field_manager_is_platformctl(engine: Engine) -> None:
    ns = unique("engine-fm")
    engine.apply([namespace(ns), configmap("cm", ns)], component="engine-test")
    live = engine.get("v1", "ConfigMap", "cm", ns)
    assert live is not None
    managers = {(m["manager"], m["operation"]) for m in live["metadata"].get("managedFields") or []}
    assert (FIELD_MANAGER, "Apply") in managers


def test_delete_waits_until_gone(engine: Engine) -> None:
    ns = unique("engine-del")
    engine.apply([namespace(ns), configmap("cm", ns)], component="engine-test")
    assert engine.delete("v1", "ConfigMap", "cm", ns, timeout=30) is True
    assert engine.get("v1", "ConfigMap", "cm", ns) is None
    assert engine.delete("v1", "ConfigMap", "cm", ns, timeout=30) is False


def test_missing_namespace_is_named_and_dry_run_spans_steps(engine: Engine) -> None:
    ns = unique("engine-later")
    with pytest.raises(ClusterError, match=f"namespace {ns} does not exist"):
        engine.apply([configmap("cm", ns)], component="engine-test")
    # a dry-run of a multi-step plan: the namespace and the CRD come from earlier (dry-run) steps
    group = f"{ns}.platformctl.example.com"
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": ns}}
    engine.apply([namespace(ns), crd(group, "Widget", "widgets")], component="engine-test", dry_run=True)
    report = engine.apply([configmap("cm", ns), widget], component="engine-test", dry_run=True)
    assert [r.action for r in report.results] == ["created", "created"]
    assert engine.get("v1", "Namespace", ns) is None


def test_reads_of_unserved_kinds_are_empty(engine: Engine) -> None:
    assert engine.get("nothing.platformctl.example.com/v1", "Gadget", "g", "default") is None
    assert engine.list("nothing.platformctl.example.com/v1", "Gadget", "default") == []


def test_a_wait_with_no_time_left_still_judges_once(engine: Engine) -> None:
    ns = unique("engine-now")
    group = f"{ns}.platformctl.example.com"
    engine.apply([crd(group, "Widget", "widgets")], component="engine-test")  # waits for Established
    engine.wait_established([f"widgets.{group}"], timeout=0)


def test_prune_spares_system_namespaces_and_derived_objects(kube_target: KubeTarget) -> None:
    eng = connect(kube_target)
    component = unique("prune-guard")
    ns = unique("engine-guard")
    # a component may apply "default" (the conference app lives there): prune must not delete it
    docs = [namespace("default"), namespace(ns), configmap("cm", ns), configmap("cm", "default")]
    eng.apply([{"apiVersion": "v1", "kind": "List", "items": docs}], component=component)  # Lists expand
    report = eng.prune(component=component, timeout=60)
    deleted = {(r.kind, r.namespace, r.name) for r in report.deleted}
    assert ("Namespace", None, "default") not in deleted
    assert {("Namespace", None, ns), ("ConfigMap", ns, "cm"), ("ConfigMap", "default", "cm")} <= deleted
    assert not any(k in ("Endpoints", "EndpointSlice") for k, _, _ in deleted)
    default = eng.get("v1", "Namespace", "default")
    assert default is not None
    # give the labels back: an apply without them drops what the "platformctl" manager owned
    eng.api.request(
        "PATCH",
        "/api/v1/namespaces/default",
        query=[("fieldManager", "platformctl")],
        body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}},
        content_type="application/apply-patch+yaml",
    )
    labels = (eng.get("v1", "Namespace", "default") or {}).get("metadata", {}).get("labels") or {}
    assert COMPONENT_KEY not in labels


def test_kubeconfig_from_environment(kube_target: KubeTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", kube_target.kubeconfig)
    eng = Engine.connect(None, kube_target.context)
    assert eng.context_name == (kube_target.context or eng.context_name)


def test_apply_reports_progress(kube_target: KubeTarget) -> None:
    from platformctl.reporting import RecordingReporter

    rec = RecordingReporter()
    eng = Engine.connect(kube_target.kubeconfig, kube_target.context, reporter=rec)
    ns = unique("engine-report")
    try:
        eng.apply([namespace(ns), configmap("cm", ns)], component="engine-test")
    finally:
        eng.prune(component="engine-test", timeout=60)
    assert rec.steps("start")[0] == "apply:engine-test"
    progress = [e for e in rec.events if e.kind == "progress" and e.step == "apply:engine-test"]
    assert [(e.done, e.total) for e in progress] == [(1, 2), (2, 2)]
    assert "2 created" in next(
        e.message for e in rec.events if e.kind == "finish" and e.step == "apply:engine-test"
    )
