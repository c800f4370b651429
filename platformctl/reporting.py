"""Progress events from core code to whoever displays them (the CLI's rich view, a test recorder).

Core code never prints. It calls a Reporter: ``pending`` for a step that is planned but not started
(``up`` announces its plan, so a view can list every component from the start), ``start``/``update``/
``finish``/``fail`` for named steps (a component, a download, a wait), ``log`` for a line worth
showing. Reporter methods must be thread-safe: components run concurrently.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Literal, Protocol

EventKind = Literal["pending", "start", "update", "finish", "fail", "log", "progress"]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    step: str
    message: str = ""
    at: float = field(default_factory=time.monotonic)
    # For "progress": bytes/items done and total (total 0 = unknown).
    done: int = 0
    total: int = 0


class Reporter(Protocol):
    def emit(self, event: Event) -> None: ...


class NullReporter:
    def emit(self, event: Event) -> None:
        return None


class RecordingReporter:
    """Keeps every event; tests assert on the sequence."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def steps(self, kind: EventKind) -> list[str]:
        with self._lock:
            return [e.step for e in self.events if e.kind == kind]


def pending(r: Reporter, step: str) -> None:
    r.emit(Event("pending", step))


def start(r: Reporter, step: str, message: str = "") -> None:
    r.emit(Event("start", step, message))


def update(r: Reporter, step: str, message: str) -> None:
    r.emit(Event("update", step, message))


def finish(r: Reporter, step: str, message: str = "") -> None:
    r.emit(Event("finish", step, message))


def fail(r: Reporter, step: str, message: str) -> None:
    r.emit(Event("fail", step, message))


def log(r: Reporter, step: str, message: str) -> None:
    r.emit(Event("log", step, message))


def progress(r: Reporter, step: str, done: int, total: int, message: str = "") -> None:
    r.emit(Event("progress", step, message, done=done, total=total))
