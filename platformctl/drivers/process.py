"""Follow a child process's combined output under a deadline (kind create, minikube start)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable


def follow(
    proc: subprocess.Popen[str], timeout: float, on_line: Callable[[str], None] | None, keep: int = 40
) -> tuple[int, list[str], bool]:
    """Read ``proc``'s stdout line by line (blank lines skipped), passing each to ``on_line``; kill it
    when ``timeout`` seconds pass. Returns (exit code, the last ``keep`` lines, whether it timed out).
    An exception (Ctrl-C included) kills the process before it propagates."""
    tail: list[str] = []
    timed_out = threading.Event()

    def _kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, _kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            if not line.strip():
                continue
            tail = [*tail[-(keep - 1) :], line]
            if on_line is not None:
                on_line(line)
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        timer.cancel()
    return rc, tail, timed_out.is_set()
