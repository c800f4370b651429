"""`platformctl config show|init|validate` through the real entry point (exit-code mapping included)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from platformctl.plan.spec import PlatformSpec
from platformctl.usecases.config import render_init
from tests.support.cli_main import clean_env, run_main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray ./platform.yaml from the developer's checkout


def test_show_defaults_yaml() -> None:
    r = run_main(["config", "show"])
    assert r.exit_code == 0, r.output
    assert yaml.safe_load(r.stdout) == PlatformSpec().model_dump(mode="json")


def test_show_json_with_file_env_and_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "p.yaml"
    cfg.write_text("cluster:\n  name: from-file\n  http_port: 8080\ndomain: file.example.com\n")
    r = run_main(
        [
            "-f",
            str(cfg),
            "--context",
            "kind-x",
            "config",
            "show",
            "-o",
            "json",
            "--set",
            "cluster.name=from-flag",
        ],
        env={"PLATFORMCTL_CLUSTER__HTTP_PORT": "9090", "PLATFORMCTL_COMPONENTS__DAPR__ENABLED": "false"},
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["cluster"]["name"] == "from-flag"
    assert data["cluster"]["http_port"] == 9090
    assert data["cluster"]["context"] == "kind-x"
    assert data["domain"] == "file.example.com"
    assert data["components"]["dapr"]["enabled"] is False


def test_show_table_lists_sources(tmp_path: Path) -> None:
    (tmp_path / "platform.yaml").write_text("workloads:\n  namespace: conf\n")
    r = run_main(
        ["config", "show", "-o", "table"], env={"PLATFORMCTL_DOMAIN": "a.example.com", "COLUMNS": "200"}
    )
    assert r.exit_code == 0, r.output
    assert re.search(r"workloads\.namespace\s*│\s*conf\s*│\s*\S*platform\.yaml", r.stdout)
    assert re.search(r"domain\s*│\s*a\.example\.com\s*│\s*PLATFORMCTL_DOMAIN", r.stdout)
    assert re.search(r"cluster\.http_port\s*│\s*80\s*│\s*defaults", r.stdout)


def test_kubeconfig_flag_sets_the_spec_but_env_does_not(tmp_path: Path) -> None:
    # $KUBECONFIG may be a list ("a:b") the kube client merges: null already means "use $KUBECONFIG".
    r = run_main(["config", "show", "-o", "json"], env={"KUBECONFIG": "/k/a:/k/b"})
    assert json.loads(r.stdout)["cluster"]["kubeconfig"] is None
    r = run_main(["--kubeconfig", "/k/flag", "config", "show", "-o", "table"], env={"COLUMNS": "200"})
    assert re.search(r"cluster\.kubeconfig\s*│\s*/k/flag\s*│\s*--kubeconfig", r.stdout), r.stdout


def test_platformctl_config_env_selects_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "elsewhere.yaml"
    cfg.write_text("cluster:\n  name: via-env\n")
    r = run_main(["config", "show", "-o", "json"], env={"PLATFORMCTL_CONFIG": str(cfg)})
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["cluster"]["name"] == "via-env"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["config", "show", "--set", "cluster.http_port=0"],
            {},
            "--set cluster.http_port: cluster.http_port: 0:",
        ),
        (["config", "show", "--set", "nonsense"], {}, '--set: "nonsense": expected KEY=VALUE'),
        (
            ["config", "show"],
            {"PLATFORMCTL_CLUSTER__NAME": "UPPER"},
            "PLATFORMCTL_CLUSTER__NAME: cluster.name:",
        ),
        (["--context", "", "config", "show"], {}, None),
        (["-f", "missing.yaml", "config", "show"], {}, "-f/--config: missing.yaml: file not found"),
        (["config", "show", "--set", "components.kserve.version=v0.0.1"], {}, "not in the version lock"),
    ],
)
def test_show_errors_exit_2_with_one_line(args: list[str], env: dict[str, str], expected: str | None) -> None:
    r = run_main(args, env=env)
    if expected is None:  # an empty --context is allowed by the spec (str | None): not an error
        assert r.exit_code == 0, r.output
        return
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    first = r.stderr.splitlines()[0]
    assert first.startswith("error: ") and expected in first


def test_bad_yaml_file_exit_2(tmp_path: Path) -> None:
    (tmp_path / "platform.yaml").write_text("cluster: {name: x\n")
    r = run_main(["config", "show"])
    assert r.exit_code == 2
    assert "platform.yaml:" in r.stderr and "invalid YAML" in r.stderr and "Traceback" not in r.output


def test_verbose_shows_traceback(tmp_path: Path) -> None:
    (tmp_path / "platform.yaml").write_text("cluster:\n  http_port: 0\n")
    quiet = run_main(["config", "show"])
    loud = run_main(["-v", "config", "show"])
    assert quiet.exit_code == loud.exit_code == 2
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and "ConfigError" in loud.stderr


def test_bad_output_format_is_a_usage_error() -> None:
    r = run_main(["config", "show", "-o", "xml"])
    assert r.exit_code == 2 and "xml" in r.output


def test_init_writes_refuses_and_forces(tmp_path: Path) -> None:
    r = run_main(["config", "init"])
    assert r.exit_code == 0, r.output
    target = tmp_path / "platform.yaml"
    assert target.read_text() == render_init()
    assert "wrote" in r.stderr

    target.write_text("domain: keep.example.com\n")
    r = run_main(["config", "init"])
    assert r.exit_code == 5
    assert "already exists; not overwriting" in r.stderr and "--force" in r.stderr
    assert target.read_text() == "domain: keep.example.com\n"

    r = run_main(["config", "init", "--force"])
    assert r.exit_code == 0 and "replaced" in r.stderr
    assert target.read_text() == render_init()


def test_init_custom_path_and_stdout(tmp_path: Path) -> None:
    r = run_main(["config", "init", str(tmp_path / "dev.yaml")])
    assert r.exit_code == 0 and (tmp_path / "dev.yaml").is_file()
    r = run_main(["config", "init", "-"])
    assert r.exit_code == 0 and r.stdout == render_init()
    assert not (tmp_path / "-").exists()


def test_validate_ok_and_failing(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("cluster:\n  name: dev\n")
    r = run_main(["config", "validate", str(good)])
    assert r.exit_code == 0 and f"valid: {good}" in r.stderr and "1 field(s)" in r.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text("components:\n  dapr:\n    enabled: maybe\n")
    r = run_main(["config", "validate", str(bad)])
    assert r.exit_code == 2
    assert f'{bad}: components.dapr.enabled: "maybe": must be a boolean' in r.stderr

    r = run_main(["config", "validate"])  # nothing in cwd: the defaults are valid
    assert r.exit_code == 0 and "defaults" in r.stderr


def test_config_without_subcommand_shows_help() -> None:
    r = run_main(["config"])
    assert r.exit_code in (0, 2) and "show" in r.output and "init" in r.output


def _colored(args: list[str], extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if v is not None}
    for k in clean_env():
        env.pop(k, None)
    env.update({"FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "120"}, **extra)
    proc = subprocess.run(
        [sys.executable, "-m", "platformctl", *args], capture_output=True, text=True, env=env, timeout=60
    )
    return proc.stdout + proc.stderr


COLOR_SGR = re.compile(r"\x1b\[[0-9;]*(3[0-7]|38;|9[0-7])[0-9;]*m")


def test_no_color_is_respected(tmp_path: Path) -> None:
    args = ["config", "show", "--set", "cluster.http_port=0"]
    assert COLOR_SGR.search(_colored(args, {})), "FORCE_COLOR should produce colour codes"
    plain = _colored(args, {"NO_COLOR": "1"})
    assert "error:" in plain
    assert not COLOR_SGR.search(plain), repr(plain)


def test_user_values_print_verbatim() -> None:
    """Rich must not interpret user input in messages: markup ("[/]") or emoji codes (":v:")."""
    r = run_main(["config", "show", "--set", ":v:[/]x=1"])
    assert r.exit_code == 2
    assert r.stderr.startswith("error: --set :v:[/]x: "), r.stderr


def test_table_prints_user_values_verbatim(tmp_path: Path) -> None:
    cfg = tmp_path / "[red]odd.yaml"
    cfg.write_text("cluster:\n  context: '[/]ctx[bold]'\n")
    r = run_main(
        ["-f", str(cfg), "--context", "[/]", "config", "show", "-o", "table"], env={"COLUMNS": "250"}
    )
    assert r.exit_code == 0, r.output
    assert re.search(r"cluster\.context\s*│\s*\[/\]\s*│\s*--context", r.stdout), r.stdout
    assert "[red]odd.yaml" in r.stdout
    r = run_main(["-f", str(cfg), "config", "show", "-o", "table"], env={"COLUMNS": "250"})
    assert "[/]ctx[bold]" in r.stdout


def test_versions_table_prints_node_image_verbatim() -> None:
    r = run_main(["versions", "--set", "cluster.node_image=[/]img"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output
    assert "[/]img" in r.stdout


@pytest.mark.parametrize("key", ["\\[", "[/]", ":v:", "[bold]x[/bold]", "\\\\[x]"])
def test_error_keys_print_verbatim(key: str) -> None:
    r = run_main(["config", "show", "--set", f"{key}=1"])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: --set {key}: "), r.stderr


def test_schema_command_prints_json_schema() -> None:
    r = run_main(["config", "schema"])
    assert r.exit_code == 0, r.output
    schema = json.loads(r.stdout)
    assert schema["title"] == "platformctl platform.yaml"
    assert schema["properties"]["components"]["propertyNames"]["enum"][0] == "istio"
