"""Runner with toy tasks: real concurrency, dependency failure propagation, Ctrl-C."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from platformctl.errors import NotReadyError
from platformctl.reporting import RecordingReporter
from platformctl.usecases.runner import RunInterrupted, TaskContext, run_dag

DEPS = {"a": (), "b": (), "c": ("a",), "d": ("c", "b"), "e": ()}
ORDER = ("a", "b", "c", "d", "e")


def sleeper(seconds: float) -> object:
    def task(name: str, ctx: TaskContext) -> str:
        with ctx.step("apply", "apply"):
            time.sleep(seconds)
        with ctx.step("ready", "wait"):
            time.sleep(seconds)
        return f"{name} done"

    return task


def test_independent_branches_overlap_and_dependencies_order() -> None:
    rec = RecordingReporter()
    result = run_dag(ORDER, DEPS, sleeper(0.1), reporter=rec)  # type: ignore[arg-type]
    assert result.ok
    r = result.runs
    # a, b, e have no dependencies: their intervals overlap (they ran at the same time).
    latest_start = max(r[n].started or 0 for n in ("a", "b", "e"))
    earliest_end = min(r[n].finished or 0 for n in ("a", "b", "e"))
    assert latest_start < earliest_end
    # dependencies finish before dependents start
    assert (r["a"].finished or 0) <= (r["c"].started or 0)
    assert (r["c"].finished or 0) <= (r["d"].started or 0)
    assert (r["b"].finished or 0) <= (r["d"].started or 0)
    # critical path a -> c -> d = 3 x 0.2 s; a sequential run would take 5 x 0.2 s
    assert result.wall < 0.9
    assert [s.name for s in r["d"].steps] == ["apply", "ready"]
    assert r["d"].summary == "d done"
    assert sorted(rec.steps("finish")) == sorted(ORDER)


def test_max_workers_one_is_sequential() -> None:
    result = run_dag(ORDER, DEPS, sleeper(0.02), max_workers=1)  # type: ignore[arg-type]
    runs = sorted(result.runs.values(), key=lambda r: r.started or 0)
    for before, after in itertools.pairwise(runs):
        assert (before.finished or 0) <= (after.started or 0)


def test_failure_skips_dependents_and_independent_branches_finish() -> None:
    def task(name: str, ctx: TaskContext) -> None:
        with ctx.step("x", "wait"):
            time.sleep(0.05)
            if name == "a":
                raise NotReadyError(
                    "deployment a-controller not ready", details=["pod a-1: ImagePullBackOff"]
                )

    rec = RecordingReporter()
    result = run_dag(ORDER, DEPS, task, reporter=rec)
    assert not result.ok
    assert result.with_status("failed") == ["a"]
    assert result.with_status("skipped") == ["c", "d"]
    assert result.runs["c"].reason == "dependency a failed"
    assert result.runs["d"].reason.startswith("dependency c skipped")
    assert result.with_status("succeeded") == ["b", "e"]
    assert "a" in rec.steps("fail")
    with pytest.raises(NotReadyError) as info:
        result.raise_for_failure()
    assert info.value.message.startswith("a: deployment a-controller not ready")
    assert "c skipped" in info.value.message
    assert info.value.details == ["pod a-1: ImagePullBackOff"]


def test_keyboard_interrupt_inside_task_stops_scheduling() -> None:
    started: list[str] = []
    lock = threading.Lock()
    b_running = threading.Event()

    def task(name: str, ctx: TaskContext) -> None:
        with lock:
            started.append(name)
        with ctx.step("s1", "apply"):
            if name == "b":
                b_running.set()
            if name == "a":
                assert b_running.wait(5)
                raise KeyboardInterrupt
            time.sleep(0.2)
        with ctx.step("s2", "wait"):  # cancellation lands at this boundary for b and e
            time.sleep(0.2)

    with pytest.raises(RunInterrupted) as info:
        run_dag(ORDER, DEPS, task)
    res = info.value.result
    assert info.value.exit_code == 130
    assert res.interrupted
    assert "c" not in started and "d" not in started  # never scheduled after the interrupt
    assert all(res.runs[n].status == "cancelled" for n in ORDER), {
        n: (r.status, r.reason) for n, r in res.runs.items()
    }
    # b and e stopped at the step boundary: their second step never started.
    assert [s.name for s in res.runs["b"].steps] == ["s1"]


def test_ctrl_c_in_main_thread_cancels(monkeypatch: pytest.MonkeyPatch) -> None:
    import _thread

    gate = threading.Event()

    def task(name: str, ctx: TaskContext) -> None:
        with ctx.step("s1", "wait"):
            if name == "b":
                gate.set()
                _thread.interrupt_main()  # delivers KeyboardInterrupt to the scheduling thread
            time.sleep(0.2)
        with ctx.step("s2", "wait"):
            time.sleep(0.2)

    with pytest.raises(RunInterrupted) as info:
        run_dag(ORDER, DEPS, task)
    assert gate.is_set()
    assert info.value.result.with_status("succeeded") == []


def test_grace_period_abandons_stuck_tasks() -> None:
    release = threading.Event()

    def task(name: str, ctx: TaskContext) -> None:
        with ctx.step("s", "wait"):
            if name == "a":
                raise KeyboardInterrupt
            release.wait(5)  # a long blocking wait the runner cannot interrupt

    t0 = time.monotonic()
    with pytest.raises(RunInterrupted):
        run_dag(("a", "b"), {"a": (), "b": ()}, task, grace=0.3)
    assert time.monotonic() - t0 < 2
    release.set()


def test_unexpected_exception_is_recorded_and_reraised() -> None:
    def task(name: str, ctx: TaskContext) -> None:
        raise ValueError("boom")

    result = run_dag(("a",), {"a": ()}, task)
    assert result.with_status("failed") == ["a"]
    with pytest.raises(ValueError, match="boom"):
        result.raise_for_failure()


def test_failure_summary_after_the_failures_were_shown() -> None:
    """raise_for_failure(rerun=...): what `up` ends with after its panels showed each failure."""
    from platformctl.errors import PlatformError

    def task(name: str, ctx: TaskContext) -> None:
        if name == "a":
            raise NotReadyError("deployment a not ready", details=["pod a-1: ImagePullBackOff"], hint="h")
        if name == "e":
            raise ValueError("boom")

    result = run_dag(ORDER, DEPS, task)
    with pytest.raises(NotReadyError) as info:
        result.raise_for_failure(rerun="platformctl up")
    assert info.value.message == "2 component(s) failed: a, e; skipped because of them: c, d"
    assert info.value.details == []  # already shown, not repeated
    assert info.value.hint is not None and "run `platformctl up` again" in info.value.hint

    # An unexpected first error: a PlatformError (exit 1), its traceback class was shown with it.
    only_e = run_dag(("e",), {"e": ()}, task)
    with pytest.raises(PlatformError) as generic:
        only_e.raise_for_failure(rerun="platformctl up")
    assert type(generic.value) is PlatformError
    assert generic.value.message == "1 component(s) failed: e"

    ok = run_dag(("b",), {"b": ()}, task)
    ok.raise_for_failure(rerun="platformctl up")  # nothing failed: nothing raised
