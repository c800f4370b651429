"""Injected failures: what a flaky apiserver, an overloaded one, or an unready webhook answers."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["5xx", "429", "reset", "webhook"]


@dataclass
class Fault:
    """Fail the next `count` requests whose method and path match.

    kind "5xx": a Status with `status` (500 InternalError or 503 ServiceUnavailable);
    "429": TooManyRequests with a Retry-After header; "reset": the connection is closed without
    an answer; "webhook": the 500 InternalError an apiserver returns while an admission webhook's
    pods do not serve yet.
    """

    kind: FaultKind
    method: str = "*"
    path_regex: str = ".*"
    count: int = 1
    status: int = 500
    retry_after: int = 1
    webhook: str = "webhook.serving.knative.dev"
    webhook_service: str = "webhook"
    webhook_namespace: str = "knative-serving"
    webhook_path: str = "/defaulting"
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method.upper())) and re.search(self.path_regex, path) is not None

    @property
    def exhausted(self) -> bool:
        return self.hits >= self.count

    def webhook_message(self) -> str:
        # shape of k8s.io/apiserver admission webhook errors (as a real apiserver words them)
        return (
            f'Internal error occurred: failed calling webhook "{self.webhook}": failed to call webhook: '
            f'Post "https://{self.webhook_service}.{self.webhook_namespace}.svc:443{self.webhook_path}'
            '?timeout=10s": dial tcp 10.96.0.1:443: connect: connection refused'
        )


class FaultSet:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first live fault matching this request (counting the hit), or None."""
        with self._lock:
            for f in self._faults:
                if not f.exhausted and f.matches(method, path):
                    f.hits += 1
                    return f
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if not f.exhausted]
