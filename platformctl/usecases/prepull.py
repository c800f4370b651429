"""Pre-pull: put every image of the platform into the cluster's node(s) while the DAG installs.

``pull_order`` decides what first: images in the order the component DAG will need them (the plan
position of the first component whose pods run it), images no pod in this render runs last.
``Prepull`` runs the pulls in the background, at most ``concurrency`` at a time, through an injected
``pull(image) -> bytes | None`` callable (the kind driver's in-node ``crictl pull``, or a test double),
and reports progress (images done/total, bytes when the runtime reports them) through the reporter.
A failed pull is recorded with its error and never stops ``up``: the kubelet pulls the image later.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from platformctl import reporting
from platformctl.errors import PlatformError

if TYPE_CHECKING:
    from platformctl.reporting import Reporter
    from platformctl.usecases.images import ImageEntry, ImagesReport

PullFn = Callable[[str], "int | None"]
STEP = "images"  # the reporter step name progress is reported under
DEFAULT_CONCURRENCY = 3


def pull_order(report: ImagesReport, order: Sequence[str]) -> list[ImageEntry]:
    """Images sorted by when the DAG first needs them (stable within a component)."""
    rank = {name: i for i, name in enumerate(order)}
    unused = len(rank) + 1

    def key(item: tuple[int, ImageEntry]) -> tuple[int, int]:
        idx, entry = item
        users = entry.needed_by
        first = min((rank.get(c, len(rank)) for c in users), default=unused)
        return first, idx

    return [e for _, e in sorted(enumerate(report.images), key=key)]


@dataclass(frozen=True)
class PullResult:
    image: str
    ok: bool
    seconds: float
    bytes: int | None = None
    error: str = ""


@dataclass
class PrepullReport:
    total: int
    results: list[PullResult] = field(default_factory=list)
    max_concurrent: int = 0

    @property
    def done(self) -> int:
        return len(self.results)

    @property
    def failed(self) -> list[PullResult]:
        return [r for r in self.results if not r.ok]

    @property
    def bytes(self) -> int:
        return sum(r.bytes or 0 for r in self.results if r.ok)

    def summary(self) -> str:
        ok = self.done - len(self.failed)
        text = f"{ok}/{self.total} images pre-pulled"
        if self.bytes:
            text += f" ({self.bytes / 1e6:.0f} MB)"
        if self.failed:
            text += f", {len(self.failed)} failed (the kubelet pulls them when needed)"
        if self.done < self.total:
            text += f", {self.total - self.done} not attempted"
        return text


class Prepull:
    """Background pulls with bounded concurrency; ``start`` returns at once, ``wait`` joins.
    ``grace``: how long ``up`` waits for pulls still running when the DAG has finished."""

    grace = 10.0

    def __init__(
        self,
        images: Sequence[str],
        pull: PullFn,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        reporter: Reporter | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.images = list(dict.fromkeys(images))
        self._pull = pull
        self.concurrency = concurrency
        self.reporter: Reporter = reporter or reporting.NullReporter()
        self.report = PrepullReport(total=len(self.images))
        self._lock = threading.Lock()
        self._running = 0
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        reporting.start(self.reporter, STEP, f"pre-pulling {len(self.images)} images")
        self._thread = threading.Thread(target=self._run, name="platformctl-prepull", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Daemon workers (not a ThreadPoolExecutor, whose workers the interpreter joins at exit): a
        # pull still running when `up` returns must not keep the process alive.
        pending = list(self.images)

        def worker() -> None:
            while not self._cancel.is_set():
                with self._lock:
                    if not pending:
                        return
                    image = pending.pop(0)
                self._one(image)

        workers = [
            threading.Thread(target=worker, name=f"platformctl-prepull-{i}", daemon=True)
            for i in range(min(self.concurrency, len(pending)))
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        failed = self.report.failed
        if failed:
            reporting.fail(self.reporter, STEP, self.report.summary())
            for r in failed:
                reporting.log(self.reporter, STEP, f"pre-pull of {r.image} failed: {r.error}")
        else:
            reporting.finish(self.reporter, STEP, self.report.summary())

    def _one(self, image: str) -> None:
        if self._cancel.is_set():
            return
        with self._lock:
            self._running += 1
            self.report.max_concurrent = max(self.report.max_concurrent, self._running)
        started = time.monotonic()
        try:
            size = self._pull(image)
            result = PullResult(image, True, time.monotonic() - started, size)
        except PlatformError as exc:
            result = PullResult(image, False, time.monotonic() - started, error=exc.message)
        except OSError as exc:
            result = PullResult(image, False, time.monotonic() - started, error=str(exc))
        with self._lock:
            self._running -= 1
            self.report.results.append(result)
            done, total, nbytes = self.report.done, self.report.total, self.report.bytes
            failed = len(self.report.failed)
        detail = f"{done}/{total} images" + (f", {nbytes / 1e6:.0f} MB" if nbytes else "")
        detail += f", {failed} failed" if failed else ""
        reporting.progress(self.reporter, STEP, done, total, detail)
        if done * 4 // total > (done - 1) * 4 // total:  # a plain line per quarter (CI logs)
            reporting.update(self.reporter, STEP, f"pre-pull: {detail}")

    def wait(self, timeout: float | None = None) -> PrepullReport:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.report

    def cancel(self) -> None:
        """Stop starting new pulls (running ones finish); used when ``up`` ends or is interrupted."""
        self._cancel.set()
