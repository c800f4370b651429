"""drivers/helm.py against the real helm binary and the local chart directory seam.

Renders use the real chart archives; tests that need a chart to edit or break copy the minimal
hand-written charts in tests/charts (MINIMAL_CHARTS) or write one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from platformctl.drivers.helm import render_chart
from platformctl.errors import SourceError, UsageError
from tests.support.charts import MINIMAL_CHARTS, real_charts_dir


def _render(
    helm: Path, chart: str, values: dict[str, object], chart_dir: Path | None = None, version: str = "1.27.1"
) -> list[dict[str, object]]:
    return render_chart(
        chart=chart,
        repo="https://istio-release.storage.googleapis.com/charts",
        version=version,
        release="istio-ingressgateway",
        namespace="istio-system",
        values=values,
        chart_dir=chart_dir or real_charts_dir(),
        helm_binary=helm,
    )


def test_renders_local_chart_with_values(helm_binary: Path) -> None:
    objs = _render(helm_binary, "gateway", {"service": {"type": "NodePort"}})
    kinds = [o["kind"] for o in objs]
    assert "Service" in kinds and "Deployment" in kinds
    svc = next(o for o in objs if o["kind"] == "Service")
    assert svc["spec"]["type"] == "NodePort"  # type: ignore[index]
    assert svc["metadata"]["namespace"] == "istio-system"  # type: ignore[index]
    # Empty documents (templates rendering nothing) are dropped.
    assert all(o.get("kind") and o.get("apiVersion") for o in objs)


def test_include_crds(helm_binary: Path) -> None:
    # The dapr chart ships its CRDs in crds/ (rendered only with include_crds); Istio's base templates them.
    objs = _render(helm_binary, "dapr", {}, version="1.15.14")
    assert sum(o["kind"] == "CustomResourceDefinition" for o in objs) == 5


def test_missing_chart_in_charts_dir(helm_binary: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not found in"):
        _render(helm_binary, "gateway", {}, chart_dir=tmp_path)


def test_local_chart_version_must_match_pin(helm_binary: Path, tmp_path: Path) -> None:
    # An edited chart: the minimal test chart, copied.
    shutil.copytree(MINIMAL_CHARTS / "gateway", tmp_path / "gateway")
    chart_yaml = tmp_path / "gateway" / "Chart.yaml"
    chart_yaml.write_text(chart_yaml.read_text().replace("version: 1.27.1", "version: 1.26.0"))
    with pytest.raises(SourceError, match=r"1\.26\.0"):
        _render(helm_binary, "gateway", {}, chart_dir=tmp_path)


def test_render_failure_is_usage_error_with_helm_stderr(helm_binary: Path, tmp_path: Path) -> None:
    chart = tmp_path / "gateway"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: gateway\nversion: 1.27.1\n")
    (chart / "templates" / "x.yaml").write_text('{{ required "service.type is required" .Values.nope }}\n')
    with pytest.raises(UsageError) as err:
        _render(helm_binary, "gateway", {}, chart_dir=tmp_path)
    assert any("service.type is required" in line for line in err.value.details)


def test_helm_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PLATFORMCTL_HELM", raising=False)
    with pytest.raises(SourceError, match="helm executable not found"):
        _render(tmp_path / "nope", "gateway", {})


def test_chart_schema_rejects_bad_values(helm_binary: Path) -> None:
    # The real gateway chart's values.schema.json types service.ports items.
    bad: dict[str, object] = {"service": {"ports": [{"name": "http2", "port": "eighty"}]}}
    with pytest.raises(UsageError) as err:
        _render(helm_binary, "gateway", bad)
    assert any("port" in line for line in err.value.details)
