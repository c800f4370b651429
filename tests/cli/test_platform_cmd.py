"""The up/down/status/render commands through Typer, with toy components (fast, no API server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from platformctl.cli.app import app, main
from platformctl.components import registry
from platformctl.usecases import up as up_mod
from tests.orchestration.toys import REAL_DEPS, ToyComponent, ToyEngine, stub_preflight, toy_registry


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[ToyEngine, dict[str, ToyComponent], Path]:
    comps = toy_registry(REAL_DEPS)
    engine = ToyEngine()
    monkeypatch.setattr(registry, "get", lambda name: comps[name])
    monkeypatch.setattr(up_mod, "default_connect", lambda kubeconfig, context, reporter: engine)
    stub_preflight(monkeypatch)
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("cluster:\n  provider: existing\ndomain: example.com\n")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return engine, comps, cfg


def run(cfg: Path, *args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, ["-f", str(cfg), *args], input=input, catch_exceptions=False)


def test_up_prints_plain_progress_summary_and_second_up_is_noop(env: Any) -> None:
    _engine, _, cfg = env
    res = run(cfg, "up")
    assert res.exit_code == 0, res.output
    out = res.output
    assert "istio: waiting for ready" in out  # plain lines (not a TTY)
    assert "Summary" in out and "timeline" not in out  # 80 columns: no bar (see test_table_width.py)
    assert "platform ready on toy" in out
    res2 = run(cfg, "up")
    assert res2.exit_code == 0
    assert "nothing changed" in res2.output


def test_up_failure_renders_diagnostics_and_exits_1(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    engine, _, cfg = env
    engine.never_ready.add("dapr")
    with pytest.raises(SystemExit) as info:
        main(["-f", str(cfg), "up"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "dapr failed" in err
    assert "pod dapr-0: ImagePullBackOff" in err
    assert "1 component(s) failed: dapr; skipped because of them: conference" in err
    assert "istio" in err and "succeeded" in err


def test_up_ctrl_c_exits_130_with_message(
    env: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _engine, comps, cfg = env

    def boom(ctx: Any) -> list[dict[str, Any]]:
        raise KeyboardInterrupt

    monkeypatch.setattr(comps["istio"], "_objects", boom)
    with pytest.raises(SystemExit) as info:
        main(["-f", str(cfg), "up"])
    assert info.value.code == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "run the same command again to resume" in err
    assert "Interrupted" in err  # partial summary table


def test_up_only_unknown_component_is_usage_error(env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, cfg = env
    with pytest.raises(SystemExit) as info:
        main(["-f", str(cfg), "up", "--only", "kafka"])
    assert info.value.code == 2
    assert "--only kafka: unknown component" in capsys.readouterr().err


def test_status_json_and_down_confirmation(env: Any) -> None:
    engine, _, cfg = env
    assert run(cfg, "up").exit_code == 0
    res = run(cfg, "status", "-o", "json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["healthy"] is True and data["context"] == "toy"
    assert [c["name"] for c in data["components"]][:2] == ["istio", "knative-serving"]
    declined = run(cfg, "down", input="n\n")
    assert declined.exit_code == 1 and "nothing was changed" in declined.output
    assert engine.store
    res = run(cfg, "down", "--yes")
    assert res.exit_code == 0, res.output
    assert engine.store == {}
    assert "removed 8 objects" in res.output


def test_down_without_an_answer_refuses_with_the_documented_error(env: Any) -> None:
    # Regression: stdin at EOF (CI, `< /dev/null`) made the prompt abort: "error: aborted", exit 130
    # (the Ctrl-C code) and no word about --yes. Now: docs/troubleshooting.md's refusal, exit 5.
    from tests.support.cli_main import run_main

    engine, _, cfg = env
    assert run(cfg, "up").exit_code == 0
    ran = run_main(["-f", str(cfg), "down"])
    assert ran.exit_code == 5, ran.output
    assert "down would delete every platformctl-managed object" in ran.stderr and "--yes" in ran.stderr
    assert engine.store  # nothing removed
