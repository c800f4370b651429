"""Each component's objects, rendered from the pinned upstream files and the test charts (real helm)."""

from __future__ import annotations

import json
from typing import Any

from platformctl.components import cert_manager, common, dapr, istio, knative, kserve
from platformctl.components.base import Apply, KubeObject, RenderContext, Wait
from tests.components.conftest import MakeCtx


def rendered(component: Any, ctx: RenderContext) -> list[tuple[str, list[KubeObject]]]:
    return [(s.name, s.render(ctx)) for s in component.steps(ctx) if isinstance(s, Apply)]


def flat(component: Any, ctx: RenderContext) -> list[KubeObject]:
    return [o for _, objs in rendered(component, ctx) for o in objs]


def find(objs: list[KubeObject], kind: str, name: str, ns: str | None = None) -> KubeObject:
    hits = [
        o
        for o in objs
        if o["kind"] == kind
        and o["metadata"]["name"] == name
        and (ns is None or o["metadata"].get("namespace") == ns)
    ]
    assert len(hits) == 1, f"{kind} {name}: {len(hits)} found"
    return hits[0]


def test_istio_on_kind(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    steps = rendered(istio.COMPONENT, ctx)
    assert [n for n, _ in steps] == ["istio base (namespace, CRDs)", "istiod", "istio-ingressgateway"]
    base = steps[0][1]
    assert base[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}}
    crds = [o["metadata"]["name"] for o in base if o["kind"] == "CustomResourceDefinition"]
    assert len(crds) == len(set(crds)) == 14  # pinned crd-all.gen.yaml; the chart's copy deduped
    validator = find(base, "ValidatingWebhookConfiguration", "istiod-default-validator")
    assert validator["metadata"]["labels"]["istio.io/rev"] == "default"
    # failurePolicy is istiod's to flip (Ignore → Fail): not claimed by our apply.
    assert "failurePolicy" not in validator["webhooks"][0]
    objs = flat(istio.COMPONENT, ctx)
    injector = find(objs, "ConfigMap", "istio-sidecar-injector", "istio-system")
    assert "policy: disabled" in injector["data"]["config"]
    svc = find(objs, "Service", "istio-ingressgateway", "istio-system")
    assert svc["spec"]["type"] == "NodePort"
    ports = {p["name"]: p for p in svc["spec"]["ports"]}
    assert ports["http2"]["port"] == 80 and ports["http2"]["nodePort"] == 31080
    assert ports["https"]["port"] == 443 and ports["https"]["nodePort"] == 31443
    assert ports["status-port"]["port"] == 15021 and "nodePort" not in ports["status-port"]
    # net-istio's Gateways select istio=ingressgateway.
    assert svc["spec"]["selector"] == {"app": "istio-ingressgateway", "istio": "ingressgateway"}
    dep = find(objs, "Deployment", "istio-ingressgateway", "istio-system")
    assert dep["spec"]["template"]["metadata"]["labels"]["istio"] == "ingressgateway"


def test_istio_on_existing_cluster_uses_load_balancer(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(cluster={"provider": "existing"}, domain="apps.example.com")
    svc = find(flat(istio.COMPONENT, ctx), "Service", "istio-ingressgateway")
    assert svc["spec"]["type"] == "LoadBalancer"
    assert all("nodePort" not in p for p in svc["spec"]["ports"])


def test_knative_config_and_order(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    steps = knative.COMPONENT.steps(ctx)
    names = [s.name for s in steps]
    assert names.index("serving core + config") < names.index("net-istio") < names.index("post-install jobs")
    # The webhook must answer before net-istio (its objects are admitted by Knative's webhooks).
    assert names.index("service knative-serving/webhook has ready endpoints") < names.index("net-istio")
    objs = flat(knative.COMPONENT, ctx)
    domain = find(objs, "ConfigMap", "config-domain", "knative-serving")["data"]
    assert domain["127.0.0.1.sslip.io"] == "" and "_example" in domain
    features = find(objs, "ConfigMap", "config-features", "knative-serving")["data"]
    assert features["kubernetes.podspec-fieldref"] == "enabled"
    assert features["tag-header-based-routing"] == "enabled"
    assert "_example" in features
    network = find(objs, "ConfigMap", "config-network", "knative-serving")["data"]
    assert network["ingress-class"] == "istio.ingress.networking.knative.dev"
    # Rules of the reconciled webhooks belong to Knative's webhook; the others keep theirs.
    assert (
        "rules"
        not in find(objs, "MutatingWebhookConfiguration", "webhook.serving.knative.dev")["webhooks"][0]
    )
    assert (
        "rules"
        not in find(objs, "ValidatingWebhookConfiguration", "validation.webhook.serving.knative.dev")[
            "webhooks"
        ][0]
    )
    assert find(objs, "ValidatingWebhookConfiguration", "config.webhook.serving.knative.dev")["webhooks"][0][
        "objectSelector"
    ]
    # serving-hpa.yaml is deliberately not applied.
    assert not [o for o in objs if o["metadata"].get("name") == "autoscaler-hpa"]
    jobs = [o for o in objs if o["kind"] == "Job"]
    assert jobs and all(o["metadata"].get("generateName") for o in jobs)
    assert knative.COMPONENT.depends_on == ("istio",)


def test_knative_custom_domain(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(domain="apps.example.com")
    cm = find(flat(knative.COMPONENT, ctx), "ConfigMap", "config-domain")
    assert cm["data"]["apps.example.com"] == ""


def test_cert_manager(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    steps = cert_manager.COMPONENT.steps(ctx)
    waits = [s.name for s in steps if isinstance(s, Wait)]
    assert waits == [
        "deployment cert-manager/cert-manager rolled out",
        "deployment cert-manager/cert-manager-cainjector rolled out",
        "deployment cert-manager/cert-manager-webhook rolled out",
        "service cert-manager/cert-manager-webhook has ready endpoints",
    ]
    objs = flat(cert_manager.COMPONENT, ctx)
    for name in cert_manager.DEPLOYMENTS:
        find(objs, "Deployment", name, "cert-manager")


def test_kserve_knative_mode_and_domain(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()  # the default set, kserve-0.20 (kserve-0.16: tests/components/test_render_sets.py)
    steps = rendered(kserve.COMPONENT, ctx)
    main, late = steps[0][1], steps[1][1]
    cm = find(main, "ConfigMap", "inferenceservice-config", "kserve")
    assert json.loads(cm["data"]["deploy"])["defaultDeploymentMode"] == "Knative"
    ingress = json.loads(cm["data"]["ingress"])
    assert ingress["ingressDomain"] == "127.0.0.1.sslip.io"
    assert ingress["domainTemplate"] == "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}"
    assert ingress["ingressGateway"] == "knative-serving/knative-ingress-gateway"  # upstream value kept
    assert "_example" in cm["data"]
    assert not [o for o in main if o["kind"] == "LLMInferenceServiceConfig"]
    assert sum(o["kind"] == "CustomResourceDefinition" for o in main) == 16
    llm = [o for o in late if o["kind"] == "LLMInferenceServiceConfig"]
    assert len(llm) == 10  # kserve-cluster-resources.yaml v0.20.0
    assert any(o["kind"] == "ClusterServingRuntime" for o in late)
    names = [s.name for s in kserve.COMPONENT.steps(ctx)]
    assert names.index("service kserve/kserve-webhook-server-service has ready endpoints") < names.index(
        "kserve cluster resources"
    )
    assert set(kserve.COMPONENT.depends_on) == {"cert-manager", "knative-serving"}


def test_dapr(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    objs = flat(dapr.COMPONENT, ctx)
    assert objs[0]["kind"] == "Namespace" and objs[0]["metadata"]["name"] == "dapr-system"
    crds = [o["metadata"]["name"] for o in objs if o["kind"] == "CustomResourceDefinition"]
    # 7 in dapr 1.18.3 (the default set; 5 in 1.15.14): the pinned files, the chart's copies deduped
    assert sorted(crds) == sorted(set(crds)) and "components.dapr.io" in crds and len(crds) == 7
    # The real 1.18.3 chart also renders ClusterRoles/-Bindings (the 1.15.14 test double has none).
    # ...and the Role/RoleBinding letting apps in `default` read Secrets (dapr_rbac secretReader.namespace).
    secret_reader = {("Role", "secret-reader"), ("RoleBinding", "dapr-secret-reader")}
    for o in objs:
        if (o["kind"], o["metadata"]["name"]) in secret_reader:
            assert o["metadata"]["namespace"] == "default"
        elif o["kind"] not in common.CLUSTER_SCOPED:
            assert o["metadata"]["namespace"] == "dapr-system", o["metadata"]["name"]
    # The scheduler's claims: 1Gi each (platformctl sets dapr_scheduler.cluster.storageSize), no
    # storageClassName (the cluster's default StorageClass: preflight checks there is one).
    sched = find(objs, "StatefulSet", "dapr-scheduler-server", "dapr-system")
    (claim,) = sched["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert claim["spec"].get("storageClassName") is None
    for kind, name in dapr.WORKLOADS:
        find(objs, kind, name, "dapr-system")
    sub = find(objs, "CustomResourceDefinition", "subscriptions.dapr.io")
    assert sub["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["namespace"] == "dapr-system"
    hook = find(objs, "MutatingWebhookConfiguration", "dapr-sidecar-injector")
    assert hook["webhooks"][0]["clientConfig"]["service"]["name"] == "dapr-sidecar-injector"
    find(objs, "Service", "dapr-sidecar-injector", "dapr-system")


def test_render_is_deterministic(make_ctx: MakeCtx) -> None:
    ctx = make_ctx()
    for comp in (istio.COMPONENT, dapr.COMPONENT, knative.COMPONENT, kserve.COMPONENT):
        a = json.dumps(flat(comp, ctx), sort_keys=True)
        b = json.dumps(flat(comp, ctx), sort_keys=True)
        assert a == b, comp.name


def _has_path(tree: Any, values: Any) -> bool:
    """Every key in ``values`` exists in ``tree`` (lists compared by their first item's keys)."""
    if isinstance(values, dict):
        return isinstance(tree, dict) and all(k in tree and _has_path(tree[k], v) for k, v in values.items())
    if isinstance(values, list) and values and isinstance(values[0], dict):
        known = set().union(*(t.keys() for t in tree)) if isinstance(tree, list) and tree else set()
        # nodePort is a Service port field the chart passes through verbatim (toYaml), not a chart key.
        return all(set(v) - {"nodePort"} <= known for v in values)
    return True


def chart_defaults(chart: str, version: str) -> Any:
    """The real chart's values.yaml defaults; Istio nests them under ``_internal_defaults_do_not_set``.

    istio/istio@1.27.1 manifests/charts/*/values.yaml: "_internal_defaults_do_not_set is a workaround for
    Helm limitations. Users should NOT set it explicitly, but rather directly set the fields": the
    templates merge that subtree into .Values (templates/zzz_profile.yaml), so keys set at the top
    level are the real keys.
    """
    import tarfile

    import yaml as _yaml

    from tests.support.charts import real_charts_dir

    with tarfile.open(real_charts_dir() / f"{chart}-{version}.tgz") as tf:
        member = tf.extractfile(f"{chart}/values.yaml")
        assert member is not None
        values = _yaml.safe_load(member.read())
    return values.get("_internal_defaults_do_not_set", values)


def test_values_keys_exist_in_chart_defaults() -> None:
    """Guard against invented keys: what we set must be a key of the real chart's values.yaml."""
    assert _has_path(chart_defaults("base", "1.27.1"), istio.base_values())
    assert _has_path(chart_defaults("istiod", "1.27.1"), istio.istiod_values("docker.io/istio", "1.27.1"))
    for provider in ("kind", "existing"):
        assert _has_path(chart_defaults("gateway", "1.27.1"), istio.gateway_values(provider))
    no_op = {"proxy": {"autoInject": "disabled"}}  # the quick install's top-level key: no template reads it
    assert not _has_path(chart_defaults("istiod", "1.27.1"), no_op)
