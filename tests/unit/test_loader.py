"""plan/loader.py: precedence, env-var naming, and one-line errors that name source, field, value, rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from platformctl.errors import ConfigError, UsageError
from platformctl.plan.loader import (
    env_overrides,
    find_config_file,
    load_spec,
    load_spec_with_sources,
    parse_set_options,
)
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import COMPONENTS, PlatformSpec


def write(tmp_path: Path, text: str, name: str = "platform.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error_of(tmp_path: Path, text: str | None = None, **kw: Any) -> ConfigError:
    cfg = write(tmp_path, text) if text is not None else None
    kw.setdefault("env", {})
    with pytest.raises(ConfigError) as info:
        load_spec(cfg, cwd=tmp_path, **kw)
    assert "\n" not in info.value.message  # one line
    return info.value


# ------------------------------------------------------------------------------------ precedence


def test_defaults_when_no_file(tmp_path: Path) -> None:
    spec = load_spec(cwd=tmp_path, env={})
    assert spec == PlatformSpec()
    assert spec.enabled() == list(COMPONENTS)


def test_platform_yaml_in_cwd_is_used(tmp_path: Path) -> None:
    write(tmp_path, "cluster:\n  name: from-cwd\n")
    loaded = load_spec_with_sources(cwd=tmp_path, env={})
    assert loaded.spec.cluster.name == "from-cwd"
    assert loaded.config_file == tmp_path / "platform.yaml"
    assert loaded.source_of(("cluster", "name")) == str(tmp_path / "platform.yaml")


def test_explicit_file_wins_over_cwd_file(tmp_path: Path) -> None:
    write(tmp_path, "cluster:\n  name: from-cwd\n")
    other = write(tmp_path, "cluster:\n  name: from-flag\n", "other.yaml")
    assert load_spec(other, cwd=tmp_path, env={}).cluster.name == "from-flag"
    assert find_config_file(None, tmp_path) == tmp_path / "platform.yaml"
    assert find_config_file(None, tmp_path / "nowhere") is None


def test_file_env_flags_precedence(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "cluster:\n  name: file-name\n  http_port: 8080\n  https_port: 8443\n"
        "domain: file.example.com\ncomponents:\n  dapr:\n    enabled: false\n",
    )
    env = {
        "PLATFORMCTL_CLUSTER__NAME": "env-name",
        "PLATFORMCTL_CLUSTER__HTTP_PORT": "9080",
        "PLATFORMCTL_DOMAIN": "env.example.com",
    }
    overrides = {"cluster.name": "flag-name", "components.dapr.enabled": True}
    loaded = load_spec_with_sources(
        cfg, env=env, overrides=overrides, cwd=tmp_path, override_labels={"cluster.name": "--name"}
    )
    spec = loaded.spec
    assert spec.cluster.name == "flag-name"  # flag > env > file
    assert spec.cluster.http_port == 9080  # env > file
    assert spec.cluster.https_port == 8443  # file > default
    assert spec.domain == "env.example.com"
    assert spec.components["dapr"].enabled is True  # flag > file
    assert spec.timeouts.component == 600  # default
    assert loaded.source_of(("cluster", "name")) == "--name"
    assert loaded.source_of(("cluster", "http_port")) == "PLATFORMCTL_CLUSTER__HTTP_PORT"
    assert loaded.source_of(("cluster", "https_port")) == str(cfg)
    assert loaded.source_of(("components", "dapr", "enabled")) == "--set components.dapr.enabled"
    assert loaded.source_of(("timeouts", "component")) == "defaults"


def test_partial_components_keep_the_others(tmp_path: Path) -> None:
    cfg = write(tmp_path, "components:\n  kserve:\n    enabled: false\n")
    spec = load_spec(cfg, env={}, cwd=tmp_path)
    assert set(spec.components) == set(COMPONENTS)
    assert "kserve" not in spec.enabled() and "istio" in spec.enabled()


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_spec(write(tmp_path, "# nothing\n"), env={}, cwd=tmp_path) == PlatformSpec()


def test_pinned_version_is_accepted(tmp_path: Path) -> None:
    lock = load_lock()
    version = lock.components["istio"].default
    spec = load_spec(cwd=tmp_path, env={"PLATFORMCTL_COMPONENTS__ISTIO__VERSION": version})
    assert spec.components["istio"].version == version


# ------------------------------------------------------------------------------------ env naming


def test_env_names_nesting_and_component_dashes() -> None:
    env = {
        "PLATFORMCTL_COMPONENTS__CERT_MANAGER__ENABLED": "false",
        "platformctl_cluster__name": "lower",
        "PLATFORMCTL_UPSTREAM_DIR": "/ignored",
        "PLATFORMCTL_CONFIG": "/ignored-too",
        "HOME": "/x",
    }
    got = {path: (value, var) for path, value, var in env_overrides(env)}
    assert got == {
        ("components", "cert-manager", "enabled"): ("false", "PLATFORMCTL_COMPONENTS__CERT_MANAGER__ENABLED"),
        ("cluster", "name"): ("lower", "platformctl_cluster__name"),
    }


def test_empty_env_value_means_unset(tmp_path: Path) -> None:
    loaded = load_spec_with_sources(
        cwd=tmp_path, env={"PLATFORMCTL_COMPONENTS__ISTIO__VERSION": "", "PLATFORMCTL_CLUSTER__NAME": ""}
    )
    assert loaded.spec == PlatformSpec()
    assert loaded.sources == {}


def test_env_values_are_coerced(tmp_path: Path) -> None:
    spec = load_spec(
        cwd=tmp_path,
        env={
            "PLATFORMCTL_COMPONENTS__KNATIVE_SERVING__ENABLED": "False",
            "PLATFORMCTL_TIMEOUTS__MODEL": "12.5",
            "PLATFORMCTL_WORKLOADS__PERSISTENCE": "true",
            "PLATFORMCTL_CLUSTER__HTTPS_PORT": "8443",
        },
    )
    assert spec.components["knative-serving"].enabled is False
    assert spec.timeouts.model == 12.5
    assert spec.workloads.persistence is True
    assert spec.cluster.https_port == 8443


def test_env_single_underscore_typo_is_an_error(tmp_path: Path) -> None:
    e = error_of(tmp_path, env={"PLATFORMCTL_CLUSTER_NAME": "x"})
    assert e.message.startswith("PLATFORMCTL_CLUSTER_NAME: ")
    assert "PLATFORMCTL_CLUSTER__NAME" in e.message


def test_env_prefix_of_a_scalar_field_is_not_a_spec_variable(tmp_path: Path) -> None:
    # DOMAIN is not a section, so PLATFORMCTL_DOMAIN_SUFFIX is someone else's variable, not a typo.
    assert load_spec(cwd=tmp_path, env={"PLATFORMCTL_DOMAIN_SUFFIX": "x"}) == PlatformSpec()
    assert env_overrides({"PLATFORMCTL_DOMAIN_SUFFIX": "x"}) == []


def test_env_empty_segment_is_an_error(tmp_path: Path) -> None:
    e = error_of(tmp_path, env={"PLATFORMCTL_CLUSTER____NAME": "x"})
    assert e.message.startswith("PLATFORMCTL_CLUSTER____NAME: ") and "'__'" in e.message


def test_env_unknown_nested_field(tmp_path: Path) -> None:
    e = error_of(tmp_path, env={"PLATFORMCTL_CLUSTER__NMAE": "x"})
    assert e.message.startswith("PLATFORMCTL_CLUSTER__NMAE: cluster.nmae: ")
    assert "unknown field" in e.message and "name" in e.message


# ------------------------------------------------------------------------------------ errors


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster:\n  name: [unclosed\n")
    assert e.message.startswith(f"{tmp_path / 'platform.yaml'}:")
    assert "invalid YAML" in e.message
    assert ":3:" in e.message or ":2:" in e.message


def test_wrong_type(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster:\n  http_port: eighty\n")
    assert e.message == (
        f'{tmp_path / "platform.yaml"}: cluster.http_port: "eighty": must be a decimal integer such as 8080'
    )


def test_section_must_be_a_mapping(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster: 5\n")
    assert ': cluster: "5": must be a mapping of fields: provider, name,' in e.message


def test_unknown_top_level_field(tmp_path: Path) -> None:
    e = error_of(tmp_path, "domian: example.com\n")
    assert 'domian: "example.com": unknown field; allowed fields: cluster, domain, components' in e.message


def test_bad_dns_label(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster:\n  name: My_Cluster\n")
    assert 'cluster.name: "My_Cluster": must be a DNS-1123 label' in e.message


def test_port_out_of_range_from_flag(tmp_path: Path) -> None:
    e = error_of(
        tmp_path, overrides={"cluster.http_port": 70000}, override_labels={"cluster.http_port": "--port"}
    )
    assert e.message == "--port: cluster.http_port: 70000: input should be less than or equal to 65535"


def test_equal_ports_blame_the_field_and_its_source(tmp_path: Path) -> None:
    e = error_of(tmp_path, env={"PLATFORMCTL_CLUSTER__HTTPS_PORT": "80"})
    assert (
        e.message
        == "PLATFORMCTL_CLUSTER__HTTPS_PORT: cluster.https_port: 80: must differ from http_port (80)"
    )


def test_unknown_component(tmp_path: Path) -> None:
    e = error_of(tmp_path, "components:\n  linkerd:\n    enabled: true\n")
    assert 'components.linkerd: "linkerd": unknown component; allowed: istio, knative-serving' in e.message


def test_version_not_in_lock(tmp_path: Path) -> None:
    e = error_of(tmp_path, "components:\n  kserve:\n    version: v9.9.9\n")
    pinned = ", ".join(sorted(load_lock().components["kserve"].versions))
    assert e.message == (
        f'{tmp_path / "platform.yaml"}: components.kserve.version: "v9.9.9": not in the version lock; '
        f"pinned: {pinned} (set {load_lock().default_set} uses {load_lock().components['kserve'].default})"
    )


def test_version_on_component_without_pins(tmp_path: Path) -> None:
    e = error_of(tmp_path, env={"PLATFORMCTL_COMPONENTS__IRIS__VERSION": "1.0"})
    assert e.message.startswith("PLATFORMCTL_COMPONENTS__IRIS__VERSION: components.iris.version: ")
    assert "no pinned versions" in e.message


def test_existing_provider_needs_a_domain(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster:\n  provider: existing\n")
    assert e.message.startswith(f"{tmp_path / 'platform.yaml'}: domain: ")
    assert "required when cluster.provider is 'existing'" in e.message
    ok = load_spec(write(tmp_path, "cluster:\n  provider: existing\ndomain: apps.example.com\n"), env={})
    assert ok.cluster.provider == "existing"


def test_bad_literal(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster:\n  provider: k3d\n")
    assert "cluster.provider: \"k3d\": input should be 'kind', 'existing' or 'minikube'" in e.message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^-f/--config: .*nope\.yaml: file not found$"):
        load_spec(tmp_path / "nope.yaml", env={})


def test_directory_as_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_spec(tmp_path, env={})


def test_document_must_be_a_mapping(tmp_path: Path) -> None:
    e = error_of(tmp_path, "- a\n- b\n")
    assert '(document): ["a", "b"]: must be a mapping of fields: cluster, domain' in e.message


def test_one_document_only(tmp_path: Path) -> None:
    e = error_of(tmp_path, "domain: a.b\n---\ndomain: c.d\n")
    assert "2 YAML documents" in e.message


def test_non_string_keys(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster:\n  !!int 1: x\n")
    assert "cluster.1: 1: field names must be strings" in e.message


def test_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "platform.yaml"
    p.write_bytes(b"domain: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_spec(p, env={})


def test_file_scalar_then_env_nested(tmp_path: Path) -> None:
    e = error_of(tmp_path, "timeouts: 30\n", env={"PLATFORMCTL_TIMEOUTS__MODEL": "5"})
    assert e.message.startswith(f'{tmp_path / "platform.yaml"}: timeouts: "30": must be a mapping')


def test_all_errors_reported_as_details(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster:\n  name: BAD\n  http_port: 0\n")
    assert "cluster.name" in e.message
    assert any("cluster.http_port: 0" in d for d in e.details)


def test_config_error_is_exit_code_2() -> None:
    assert issubclass(ConfigError, UsageError) and ConfigError.exit_code == 2


# ------------------------------------------------------------------------------------ --set


def test_parse_set_options() -> None:
    assert parse_set_options(
        [
            "cluster.name=dev",
            "cluster.http_port=8080",
            "components.dapr.enabled=false",
            "cluster.node_image=",
            "a=[1",
        ]
    ) == {
        "cluster.name": "dev",
        "cluster.http_port": "8080",
        "components.dapr.enabled": "false",
        "cluster.node_image": None,
        "a": "[1",
    }


@pytest.mark.parametrize("bad", ["novalue", "=x", " =1"])
def test_parse_set_rejects_malformed(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"^--set: .*expected KEY=VALUE"):
        parse_set_options([bad])


def test_override_with_bad_path(tmp_path: Path) -> None:
    e = error_of(tmp_path, overrides={"cluster..name": "x"})
    assert e.message.startswith("--set cluster..name: ") and "not a field path" in e.message


def test_self_referencing_yaml_alias(tmp_path: Path) -> None:
    e = error_of(tmp_path, "cluster: &c\n  name: x\n  loop: *c\n")
    assert "cluster.loop" in e.message and "unknown field" in e.message
    e = error_of(tmp_path, "bogus: &b\n  me: *b\n")
    assert e.message.startswith(f"{tmp_path / 'platform.yaml'}: bogus: ")


def test_exponential_yaml_aliases_stay_fast(tmp_path: Path) -> None:
    lines = ["a0: &a0 {x: 1, y: 2}"]
    for i in range(1, 40):  # 2**40 leaves if anything expanded the aliases
        lines.append(f"a{i}: &a{i} {{l: *a{i - 1}, r: *a{i - 1}}}")
    lines.append("domain: *a39")
    e = error_of(tmp_path, "\n".join(lines) + "\n")
    assert len(e.message) < 400 and "(document)" not in e.message


def test_short_is_bounded() -> None:
    from platformctl.plan.loader import short

    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert len(short(loop)) <= 60 and short(loop).startswith('{"self": {"self"')
    assert short("line\nbreak\u2028") == r'"line\nbreak\u2028"'  # escaped, still one line
