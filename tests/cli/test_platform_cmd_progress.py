"""The progress view: live rendering on a terminal, plain lines otherwise, summary timeline, failures."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from platformctl.cli.app import app
from platformctl.cli.progress import ProgressView, print_failures, summary_table, timeline_bar
from platformctl.components import registry
from platformctl.errors import NotReadyError
from platformctl.reporting import Event
from platformctl.usecases.runner import ComponentRun, RunResult, StepTiming
from tests.orchestration.toys import REAL_DEPS, stub_preflight, toy_registry

FAKE_KIND = Path(__file__).resolve().parents[1] / "fakebin" / "kind"


def console(tty: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=tty, width=120, no_color=True), buf


def test_live_view_shows_one_line_per_component_with_wait_time() -> None:
    c, _ = console(True)
    view = ProgressView(c, ["istio", "dapr"], live=True)
    t = time.monotonic()
    view.emit(Event("start", "istio", "preparing", at=t - 5))
    view.emit(Event("update", "istio", "waiting for deployment istio-system/istiod rolled out", at=t - 3))
    view.emit(Event("start", "dapr", at=t - 2))
    view.emit(Event("finish", "dapr", "24 created", at=t - 1))
    probe, buf = console(True)
    probe.print(view.renderable())
    text = buf.getvalue()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 2
    assert "istio" in lines[0] and "waiting for deployment istio-system/istiod" in lines[0]
    assert "for 3.0s" in lines[0] and "5.0s" in lines[0]
    assert "dapr" in lines[1] and "24 created" in lines[1] and "✓" in lines[1]


def test_plain_mode_prints_lines_not_live() -> None:
    c, buf = console(False)
    with ProgressView(c) as view:
        view.emit(Event("start", "istio", "preparing"))
        view.emit(Event("update", "istio", "applying istiod"))
        view.emit(Event("update", "istio", "applying istiod"))  # unchanged: not repeated
        view.emit(Event("fail", "istio", "boom"))
        view.emit(Event("log", "kserve", "skipped: dependency istio failed"))
    out = buf.getvalue().splitlines()
    assert [ln.split("] ", 1)[1] for ln in out] == [
        "istio: preparing",
        "istio: applying istiod",
        "istio: FAILED: boom",
        "kserve: skipped: dependency istio failed",
    ]


def test_pending_events_list_the_plan_from_the_start() -> None:
    """``up`` announces its plan (``pending``): the live view lists those components before they start;
    plain output prints nothing for them (only what happens)."""
    c, _ = console(True)
    view = ProgressView(c, live=True)
    for name in ("istio", "dapr"):
        view.emit(Event("pending", name))
    view.emit(Event("start", "istio", "preparing"))
    view.emit(Event("pending", "istio"))  # announced again: the running line is kept
    probe, buf = console(True)
    probe.print(view.renderable())
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    assert len(lines) == 2
    assert "istio" in lines[0] and "preparing" in lines[0]
    assert "dapr" in lines[1] and "·" in lines[1]
    plain, out = console(False)
    with ProgressView(plain) as quiet:
        quiet.emit(Event("pending", "istio"))
    assert out.getvalue() == ""


def _result() -> RunResult:
    runs = {
        "a": ComponentRun("a", "succeeded", 0.0, 5.0, summary="3 created"),
        "b": ComponentRun("b", "succeeded", 0.0, 10.0),
        "c": ComponentRun(
            "c",
            "failed",
            5.0,
            10.0,
            steps=[StepTiming("ready", "wait", 6.0, 10.0)],
            error=NotReadyError("deployment c not ready", details=["pod c-1: CrashLoopBackOff"], hint="logs"),
            reason="deployment c not ready",
        ),
        "d": ComponentRun("d", "skipped", reason="dependency c failed"),
    }
    return RunResult(("a", "b", "c", "d"), runs, 0.0, 10.0)


def test_timeline_bars_show_parallelism() -> None:
    res = _result()
    assert timeline_bar(res.runs["a"], 0.0, 10.0, 10).plain == "█████·····"
    assert timeline_bar(res.runs["b"], 0.0, 10.0, 10).plain == "██████████"
    assert timeline_bar(res.runs["c"], 0.0, 10.0, 10).plain == "·····█████"
    assert timeline_bar(res.runs["d"], 0.0, 10.0, 10).plain == "··········"
    c, buf = console(False)
    c.print(summary_table(res, console_width=c.width))
    text = buf.getvalue()
    assert "timeline (0 → 10.0s)" in text and "dependency c failed" in text and "3 created" in text


def test_failures_render_diagnostics_and_hint() -> None:
    c, buf = console(False)
    print_failures(c, _result())
    text = buf.getvalue()
    assert "c failed" in text and "pod c-1: CrashLoopBackOff" in text and "hint: logs" in text
    assert "failed during wait step 'ready' after 4.0s" in text


@pytest.fixture
def toys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    comps = toy_registry(REAL_DEPS)
    monkeypatch.setattr(registry, "get", lambda name: comps[name])
    stub_preflight(monkeypatch)
    monkeypatch.setenv("PLATFORMCTL_KIND", str(FAKE_KIND))
    monkeypatch.setenv("FAKE_KIND_STATE", str(tmp_path / "kind"))
    return comps


def test_render_stdout_deterministic_and_out_dir(toys: Any, tmp_path: Path) -> None:
    r1 = CliRunner().invoke(app, ["render"], catch_exceptions=False)
    r2 = CliRunner().invoke(app, ["render"], catch_exceptions=False)
    assert r1.exit_code == 0 and r1.stdout == r2.stdout
    assert r1.stdout.count("kind: ConfigMap") == 8
    assert "app.kubernetes.io/managed-by: platformctl" in r1.stdout
    res = CliRunner().invoke(app, ["render", "--out", str(tmp_path / "out"), "--skip", "iris"])
    assert res.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir())[:2] == [
        "01-istio.yaml",
        "02-knative-serving.yaml",
    ]
    assert not list((tmp_path / "out").glob("*iris*"))


def test_dry_run_without_cluster_is_render_only(toys: Any, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["up", "--dry-run"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "does not exist yet: `up` would create it" in res.output and "nothing was changed" in res.output
    calls = (tmp_path / "kind" / "calls.jsonl").read_text()
    assert '"create"' not in calls


def test_render_out_removes_only_its_own_stale_files(toys: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["render", "--out", str(out)]).exit_code == 0
    assert (out / "08-iris.yaml").exists()
    mine = out / "99-old.yaml"
    mine.write_text("# Rendered by platformctl 0.0.1: old 1. Apply with server-side apply.\n")
    theirs = out / "98-notes.yaml"
    theirs.write_text("# hand-written\n")
    res = CliRunner().invoke(app, ["render", "--out", str(out), "--skip", "iris"])
    assert res.exit_code == 0
    assert not (out / "08-iris.yaml").exists() and not mine.exists()
    assert theirs.exists()
    assert "removed" in res.output and "08-iris.yaml" in res.output


def test_verbose_up_prints_step_timings(toys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platformctl.usecases import up as up_mod
    from tests.orchestration.toys import ToyEngine

    engine = ToyEngine()
    monkeypatch.setattr(up_mod, "default_connect", lambda kubeconfig, context, reporter: engine)
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("cluster:\n  provider: existing\ndomain: example.com\n")
    res = CliRunner().invoke(app, ["-v", "-f", str(cfg), "up"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "Steps" in res.output
    assert "ready" in res.output and "objects" in res.output and "1 created" in res.output
