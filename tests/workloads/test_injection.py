"""No value can inject YAML: names are DNS-1123 labels, every other value is a safe scalar."""

from __future__ import annotations

from typing import Any

import pytest

from platformctl.components import conference, infra, iris
from platformctl.components.base import RenderContext
from platformctl.drivers.templates import dns_label_value, render_template
from platformctl.errors import ConfigError, UsageError
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import PlatformSpec, WorkloadsSpec
from platformctl.reporting import NullReporter
from tests.workloads.conftest import rendered

BAD_NAMES = ["x\n  evil: 1", "a:b", "Apps", "a" * 64, "", "-a", 'a"b', "a b", "a#b"]


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_dns_label_value_rejects(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"^workloads\.namespace: .*DNS-1123 label"):
        dns_label_value("workloads.namespace", bad)


def test_dns_label_value_accepts_63_chars() -> None:
    assert dns_label_value("f", "a" * 63) == "a" * 63


def _ctx_bypassing_spec_validation(namespace: str, model_namespace: str = "default") -> RenderContext:
    # The spec model already refuses these; build one without validation to prove the components
    # check again before anything reaches a template (defence in depth for programmatic callers).
    workloads = WorkloadsSpec.model_construct(
        namespace=namespace, model_namespace=model_namespace, persistence=False
    )
    spec = PlatformSpec.model_construct(**{**PlatformSpec().__dict__, "workloads": workloads})
    return RenderContext(spec=spec, lock=load_lock(), sources=None, reporter=NullReporter())  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize("component", [infra.COMPONENT, conference.COMPONENT])
def test_components_reject_bad_namespace(component: Any, bad: str) -> None:
    with pytest.raises(ConfigError, match=r"workloads\.namespace"):
        rendered(component, _ctx_bypassing_spec_validation(bad))


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_iris_rejects_bad_model_namespace(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"workloads\.model_namespace"):
        rendered(iris.COMPONENT, _ctx_bypassing_spec_validation("default", bad))


@pytest.mark.parametrize(
    "value",
    ["x\n  evil: 1", "a: b", 'a"b', "a'b", "{a}", "[a]", "a#b", "a b", "", "a\\b", "x\n---\nkind: Secret"],
)
def test_render_template_rejects_unsafe_values(value: str) -> None:
    with pytest.raises(UsageError, match=r"template value name"):
        render_template(
            "iris/inferenceservice.yaml.j2", {"name": value, "namespace": "ok", "storage_uri": "gs://b/m"}
        )


def test_render_template_rejects_unsafe_nested_values_and_keys() -> None:
    with pytest.raises(UsageError, match=r"images\.redis"):
        render_template(
            "infra/redis.yaml.j2", {"namespace": "ok", "persistence": False, "images": {"redis": "r\nx: 1"}}
        )
    with pytest.raises(UsageError, match=r"key"):
        render_template(
            "infra/redis.yaml.j2", {"namespace": "ok", "persistence": False, "images": {"a b": "x"}}
        )


def test_render_template_missing_value_is_an_error() -> None:
    with pytest.raises(UsageError, match=r"undefined"):
        render_template("iris/inferenceservice.yaml.j2", {"name": "x", "namespace": "ok"})


@pytest.mark.parametrize("name", ["../etc/passwd", "/abs.yaml.j2", "iris/x.txt", "Iris/Upper.yaml.j2"])
def test_render_template_rejects_bad_template_names(name: str) -> None:
    with pytest.raises(UsageError, match="template"):
        render_template(name, {})


def test_duplicate_keys_are_rejected(tmp_path: Any) -> None:
    (tmp_path / "dup.yaml.j2").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nkind: Secret\n"
    )
    with pytest.raises(UsageError, match="duplicate key 'kind'"):
        render_template("dup.yaml.j2", {}, directory=tmp_path)
