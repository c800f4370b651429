"""THE place that chooses the concurrency model for running a plan.

Model: one OS thread per running component (bounded by ``max_workers``), scheduled from the calling
thread as soon as every dependency succeeded. Within a component its steps run strictly in order.
Threads fit because the work is blocking I/O: the kubernetes client is synchronous, and pyhelm3's
asyncio calls are run to completion inside the worker (``asyncio.run`` gives each thread its own loop),
so no event loop is shared between components.

Failure: a failed component marks every transitive dependent ``skipped`` (with the reason) while
independent branches keep running to the end, so one ``up`` reports everything that is wrong.

Cancellation (Ctrl-C, or a KeyboardInterrupt raised inside a task): stop scheduling, set the cancel
flag that tasks check at every step boundary, give running tasks ``grace`` seconds to finish their
current API call, then raise :class:`RunInterrupted` (exit 130) carrying the partial result. Worker
threads are daemons, so a wait that is still blocked after the grace period does not keep the process
alive; that is safe because every step is idempotent (server-side apply) and the next run resumes.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from platformctl import reporting
from platformctl.errors import Interrupted, PlatformError
from platformctl.reporting import Event, Reporter

Status = Literal["pending", "running", "succeeded", "failed", "skipped", "cancelled"]


class Cancelled(Exception):
    """Raised inside a task at a step boundary once cancellation was requested."""


@dataclass
class StepTiming:
    name: str
    kind: str  # "apply" | "wait" | "render" | anything a task records
    started: float
    finished: float | None = None
    detail: str = ""

    @property
    def duration(self) -> float:
        return (self.finished or self.started) - self.started


@dataclass
class ComponentRun:
    name: str
    status: Status = "pending"
    started: float | None = None
    finished: float | None = None
    steps: list[StepTiming] = field(default_factory=list)
    error: BaseException | None = None
    reason: str = ""  # why skipped/cancelled/failed, one line
    summary: str = ""  # what the task returned (e.g. "3 created, 40 unchanged")

    @property
    def duration(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or self.started) - self.started


@dataclass
class RunResult:
    order: tuple[str, ...]
    runs: dict[str, ComponentRun]
    started: float
    finished: float
    interrupted: bool = False

    @property
    def wall(self) -> float:
        return self.finished - self.started

    @property
    def ok(self) -> bool:
        return not self.interrupted and all(r.status == "succeeded" for r in self.runs.values())

    def with_status(self, status: Status) -> list[str]:
        return [n for n in self.order if self.runs[n].status == status]

    def raise_for_failure(self, *, rerun: str | None = None) -> None:
        """The one failure summary of a run (``up``, the library, benchmarks): raise when a component
        failed, as the first failure's class, so the exit code is that error's.

        Without ``rerun``: the first failure itself naming everything else ("a: <message> (also: b
        failed; c skipped (...))"), with its details and hint; an error that is not a PlatformError is
        re-raised as it is. With ``rerun`` (the command to run again, e.g. "platformctl up"): the caller
        has already shown each failure with its diagnostics (the CLI's panels), so only the count
        ("2 component(s) failed: a, b; skipped because of them: c") and how to resume; an unexpected
        error becomes a PlatformError (exit 1): its type and message were shown with it."""
        failed = self.with_status("failed")
        if not failed:
            return
        first = self.runs[failed[0]]
        err = first.error
        skipped = self.with_status("skipped")
        if rerun is not None:
            msg = f"{len(failed)} component(s) failed: {', '.join(failed)}"
            if skipped:
                msg += f"; skipped because of them: {', '.join(skipped)}"
            hint = f"fix the cause shown above and run `{rerun}` again: finished components are not redone"
            cls = type(err) if isinstance(err, PlatformError) else PlatformError
            raise cls(msg, hint=hint)
        others = [f"{n} failed" for n in failed[1:]] + [
            f"{n} skipped ({self.runs[n].reason})" for n in skipped
        ]
        suffix = f" (also: {'; '.join(others)})" if others else ""
        if isinstance(err, PlatformError):
            new = type(err)(f"{first.name}: {err.message}{suffix}", details=err.details, hint=err.hint)
            raise new from err
        if err is not None:
            raise err
        raise PlatformError(f"{first.name}: failed{suffix}")


class RunInterrupted(Interrupted):
    """Ctrl-C during a run; ``result`` holds what finished before (for the summary)."""

    def __init__(self, result: RunResult) -> None:
        done = ", ".join(result.with_status("succeeded")) or "nothing"
        super().__init__(
            f"interrupted; finished before stopping: {done}",
            hint="run the same command again to resume: finished steps are re-applied as unchanged",
        )
        self.result = result


_local = threading.local()


def current_component() -> str | None:
    """The component whose task runs on this thread (None outside the runner)."""
    name: str | None = getattr(_local, "component", None)
    return name


class TaskContext:
    """Handed to a task: records step timings, reports progress, and is where cancellation lands."""

    def __init__(
        self, run: ComponentRun, cancel: threading.Event, reporter: Reporter, clock: Callable[[], float]
    ):
        self.run = run
        self.name = run.name
        self._cancel = cancel
        self.reporter = reporter
        self._clock = clock

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled(self.name)

    @contextlib.contextmanager
    def step(self, name: str, kind: str, message: str | None = None) -> Iterator[StepTiming]:
        """Time one step; checks for cancellation first (a step boundary is where Ctrl-C stops us)."""
        self.check_cancelled()
        timing = StepTiming(name=name, kind=kind, started=self._clock())
        self.run.steps.append(timing)
        reporting.update(self.reporter, self.name, message or f"{kind} {name}")
        try:
            yield timing
        finally:
            timing.finished = self._clock()


Task = Callable[[str, TaskContext], str | None]


class ComponentTaggingReporter:
    """Forwards events; events from inside a task about sub-steps (engine waits, downloads) become
    ``update`` events of the component running on that thread, so the live view shows what it waits on."""

    def __init__(self, inner: Reporter, components: Sequence[str]) -> None:
        self.inner = inner
        self._components = frozenset(components)

    def emit(self, event: Event) -> None:
        comp = current_component()
        if comp is None or event.step in self._components:
            self.inner.emit(event)
            return
        if event.kind == "log":
            self.inner.emit(
                Event("log", comp, f"{event.step}: {event.message}" if event.message else event.step)
            )
            return
        if event.kind == "progress":
            # Kept as progress (the live view shows the percentage; plain output skips it).
            self.inner.emit(
                Event(
                    "progress",
                    comp,
                    event.message or event.step,
                    at=event.at,
                    done=event.done,
                    total=event.total,
                )
            )
            return
        what = event.message or event.step
        if event.message and event.step not in event.message:
            what = f"{event.step}: {event.message}"
        self.inner.emit(Event("update", comp, what, at=event.at))


def run_dag(
    order: Sequence[str],
    deps: Mapping[str, Sequence[str]],
    task: Task,
    *,
    reporter: Reporter | None = None,
    max_workers: int | None = None,
    cancel: threading.Event | None = None,
    grace: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
) -> RunResult:
    """Run ``task`` for every node of the DAG; see the module docstring for the model."""
    rep: Reporter = reporter or reporting.NullReporter()
    cancel = cancel or threading.Event()
    workers = max(1, max_workers or len(order) or 1)
    runs = {n: ComponentRun(n) for n in order}
    done_q: queue.Queue[str] = queue.Queue()
    lock = threading.Lock()
    threads: dict[str, threading.Thread] = {}
    started = clock()

    def work(name: str) -> None:
        run = runs[name]
        _local.component = name
        ctx = TaskContext(run, cancel, rep, clock)
        try:
            summary = task(name, ctx)
            with lock:
                run.status, run.summary = "succeeded", summary or ""
            reporting.finish(rep, name, run.summary)
        except Cancelled:
            with lock:
                run.status, run.reason = "cancelled", "interrupted"
        except KeyboardInterrupt:
            # A Ctrl-C delivered inside a task (or injected by a test) cancels the whole run.
            cancel.set()
            with lock:
                run.status, run.reason = "cancelled", "interrupted"
        except BaseException as exc:  # every failure is recorded; the caller decides how to report it
            msg = exc.message if isinstance(exc, PlatformError) else f"{type(exc).__name__}: {exc}"
            with lock:
                run.status, run.error, run.reason = "failed", exc, msg
            reporting.fail(rep, name, msg)
        finally:
            run.finished = clock()
            _local.component = None
            done_q.put(name)

    def schedule() -> None:
        with lock:
            for n in order:
                run = runs[n]
                if run.status != "pending":
                    continue
                if cancel.is_set():
                    # After an interrupt nothing new is judged: what has not started is cancelled, not
                    # "skipped because a dependency was cancelled" (the dependency did nothing wrong).
                    continue
                bad = [d for d in deps.get(n, ()) if runs[d].status in ("failed", "skipped", "cancelled")]
                if bad:
                    first = runs[bad[0]]
                    why = f"dependency {bad[0]} {first.status}"
                    if first.status == "skipped":
                        why = f"dependency {bad[0]} skipped ({first.reason})"
                    run.status, run.reason = "skipped", why
                    reporting.log(rep, n, f"skipped: {why}")
                    continue
                if cancel.is_set() or len(threads) >= workers:
                    continue
                if all(runs[d].status == "succeeded" for d in deps.get(n, ())):
                    run.status, run.started = "running", clock()
                    reporting.start(rep, n)
                    t = threading.Thread(target=work, args=(n,), name=f"platformctl-{n}", daemon=True)
                    threads[n] = t
                    t.start()

    interrupted = False
    try:
        while True:
            schedule()
            if cancel.is_set():
                interrupted = True
                break
            if not threads:
                break
            try:
                finished = done_q.get(timeout=0.1)
            except queue.Empty:
                continue
            threads.pop(finished).join()
            # A newly skipped node may unblock nothing, but re-scheduling also propagates skips.
    except KeyboardInterrupt:
        interrupted = True
        cancel.set()
    if interrupted:
        deadline = clock() + grace
        try:
            while threads and clock() < deadline:
                with contextlib.suppress(queue.Empty):
                    threads.pop(done_q.get(timeout=0.1), None)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting for running calls
        with lock:
            for run in runs.values():
                if run.status in ("pending", "running"):
                    run.status, run.reason = "cancelled", "interrupted"
                    if run.started is not None and run.finished is None:
                        run.finished = clock()
    result = RunResult(tuple(order), runs, started, clock(), interrupted=interrupted)
    if interrupted:
        raise RunInterrupted(result)
    return result
