"""Config parsing is strict where YAML 1.1 is surprising (issue 9 item 5): --set values, PLATFORMCTL_*
variables and platform.yaml are read with YAML 1.2 core semantics and converted by the field's type;
duplicate keys in platform.yaml are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from platformctl.errors import ConfigError
from platformctl.plan.loader import load_spec, parse_set_options
from platformctl.plan.spec import COMPONENTS, PlatformSpec
from tests.support.cli_main import run_main


def with_sets(*items: str) -> PlatformSpec:
    return load_spec(env={}, overrides=parse_set_options(list(items)), cwd=Path("/nonexistent"))


def set_error(*items: str) -> str:
    with pytest.raises(ConfigError) as info:
        with_sets(*items)
    return info.value.message


@pytest.mark.parametrize(
    ("item", "field", "value"),
    [
        ("cluster.http_port=0100", "http_port", 100),  # YAML 1.1: octal 64
        ("cluster.name=no", "name", "no"),  # YAML 1.1: false, refused as "not a string"
        ("cluster.name=on", "name", "on"),
        ("cluster.context=1:20", "context", "1:20"),  # YAML 1.1: sexagesimal 80
        ("cluster.context=2024-01-01", "context", "2024-01-01"),  # YAML 1.1: a date
        ("cluster.context=null", "context", "null"),  # a string field takes the text as written
        ("cluster.context=", "context", None),  # empty: unset
    ],
)
def test_set_values_take_the_fields_type(item: str, field: str, value: Any) -> None:
    assert getattr(with_sets(item).cluster, field) == value


def test_set_string_field_keeps_digits() -> None:
    assert with_sets("workloads.namespace=123").workloads.namespace == "123"


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ("cluster.http_port=1:20", "must be a decimal integer"),  # YAML 1.1: 80
        ("cluster.http_port=true", "must be a decimal integer"),  # YAML 1.1 + pydantic: 1
        ("cluster.http_port=0x50", "must be a decimal integer"),
        ("cluster.http_port=80.0", "must be a decimal integer"),
        ("components.dapr.enabled=yes", "must be a boolean: true or false"),
        ("components.dapr.enabled=1", "must be a boolean: true or false"),
        ("timeouts.model=nan", "must be a decimal number"),
        ("timeouts.model=.inf", "must be a decimal number"),
    ],
)
def test_set_refuses_what_the_type_does_not_take(item: str, why: str) -> None:
    key = item.partition("=")[0]
    assert set_error(item).startswith(f"--set {key}: {key}: ") and why in set_error(item)


def _spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "platform.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("cluster:\n  http_port: yes\n", 'cluster.http_port: "yes": must be a decimal integer'),
        ("cluster:\n  http_port: 1:20\n", 'cluster.http_port: "1:20": must be a decimal integer'),
        ("components:\n  dapr:\n    enabled: on\n", 'components.dapr.enabled: "on": must be a boolean'),
    ],
)
def test_spec_file_refuses_yaml_1_1_surprises(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        load_spec(_spec_file(tmp_path, text), env={})


def test_spec_file_reads_scalars_by_field_type(tmp_path: Path) -> None:
    spec = load_spec(
        _spec_file(
            tmp_path,
            "cluster:\n  name: no\n  http_port: 0100\n  context: 1:20\n"
            "workloads:\n  namespace: 123\ncomponents:\n  dapr:\n    enabled: FALSE\n"
            "timeouts:\n  model: 1e3\n",
        ),
        env={},
    )
    assert (spec.cluster.name, spec.cluster.http_port, spec.cluster.context) == ("no", 100, "1:20")
    assert spec.workloads.namespace == "123"
    assert spec.components["dapr"].enabled is False
    assert spec.timeouts.model == 1000.0


def test_duplicate_keys_are_refused_naming_both_lines(tmp_path: Path) -> None:
    # Regression: the later `cluster:` block silently dropped the earlier one's http_port.
    path = _spec_file(tmp_path, "cluster:\n  http_port: 8080\ndomain: a.b\ncluster:\n  name: dev\n")
    with pytest.raises(ConfigError) as info:
        load_spec(path, env={})
    assert info.value.message.startswith(
        f"{path}:4:1: invalid YAML: duplicate key 'cluster' (first at line 1)"
    )
    nested = _spec_file(tmp_path, "cluster:\n  name: a\n  name: b\n")
    with pytest.raises(ConfigError, match=r":3:3: invalid YAML: duplicate key 'name' \(first at line 2\)"):
        load_spec(nested, env={})


def test_config_validate_refuses_a_yes_port(tmp_path: Path) -> None:
    path = _spec_file(tmp_path, "cluster:\n  http_port: yes\n")
    ran = run_main(["config", "validate", str(path)])
    assert ran.exit_code == 2 and "must be a decimal integer" in ran.stderr


# ---------------------------------------------------------------------- property: --set round-trips

_label = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?\Z")
_free_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]), min_size=1, max_size=30
).filter(lambda t: t.strip() == t and t != "")
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "cluster.provider": st.sampled_from(["kind", "existing"]),
    "cluster.name": _label,
    "cluster.node_image": _free_text,
    "cluster.listen_address": st.ip_addresses().map(str),
    "cluster.http_port": st.integers(1, 65535),
    "cluster.kubeconfig": _free_text,
    "cluster.context": _free_text,
    "domain": st.builds(lambda a, b: f"{a}.{b}", _label, _label),
    "timeouts.cluster": st.floats(min_value=0.001, max_value=86400, allow_nan=False, allow_infinity=False),
    "timeouts.request": st.integers(1, 86400).map(float),
    "workloads.namespace": _label,
    "workloads.model_namespace": _label,
    "workloads.persistence": st.booleans(),
    **{f"components.{c}.enabled": st.booleans() for c in COMPONENTS},
}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def _field(spec: PlatformSpec, path: str) -> Any:
    node: Any = spec
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


@settings(max_examples=300, deadline=None)
@given(data=st.data(), path=st.sampled_from(sorted(FIELDS)))
def test_set_round_trips_every_valid_value(data: st.DataObject, path: str) -> None:
    value = data.draw(FIELDS[path])
    extra = ["domain=example.com"] if path == "cluster.provider" else []
    if path == "cluster.http_port" and value == 443:
        extra.append("cluster.https_port=1")
    spec = with_sets(f"{path}={_as_text(value)}", *extra)
    assert _field(spec, path) == value
