"""Which API errors are worth retrying, and how long to wait between attempts.

Transient (retried with capped exponential backoff + full jitter, inside the caller's deadline):
5xx, 429 (honouring ``Retry-After``), connection reset/refused/timeouts, and admission-webhook
failures that only mean "the webhook's pods are not serving yet" (kserve#4182, kserve#5037,
knative/serving#6353). Everything else (400/401/403/404/409/422 …) is permanent and fails at once
with the server's own message.

Full jitter: sleep = uniform(0, min(cap, base·2^attempt)) — the AWS architecture blog's
"Exponential Backoff And Jitter" variant that spreads retries of many clients best.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from platformctl.errors import ClusterError, NotReadyError

T = TypeVar("T")

# The apiserver wraps a webhook call failure as `Internal error occurred: failed calling webhook "x":
# failed to call webhook: Post "https://svc.ns.svc:443/…": <dial or TLS error>` while the webhook's
# pods start (seen on a real apiserver).
_WEBHOOK = re.compile(r"failed calling webhook", re.IGNORECASE)
_WEBHOOK_NOT_READY = re.compile(
    r"connection refused|no endpoints available|context deadline exceeded|x509|tls handshake"
    r"|connection reset|i/o timeout|service unavailable",
    re.IGNORECASE,
)
_WEBHOOK_NAME = re.compile(r'failed calling webhook "([^"]+)"')


class ApiError(ClusterError):
    """A non-2xx answer from the API server (``status`` 0 = no HTTP answer at all)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        reason: str = "",
        server_message: str = "",
        retry_after: float | None = None,
        causes: list[dict[str, Any]] | None = None,
        details: list[str] | None = None,
    ) -> None:
        super().__init__(message, details=details or [])
        self.status = status
        self.reason = reason
        self.server_message = server_message
        self.retry_after = retry_after
        self.causes = causes or []


def api_error_from_response(
    status: int, reason: str, body: bytes | str | None, headers: Any, what: str
) -> ApiError:
    """Build an ApiError from an HTTP answer, keeping the Status object's message and causes."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    server_message = text.strip()
    status_reason = reason
    causes: list[dict[str, Any]] = []
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        server_message = str(parsed.get("message") or server_message)
        status_reason = str(parsed.get("reason") or reason)
        causes = list((parsed.get("details") or {}).get("causes") or [])
    retry_after = parse_retry_after(headers.get("Retry-After") if headers is not None else None)
    msg = (
        f"{what}: {status} {status_reason}: {server_message}"
        if server_message
        else f"{what}: {status} {reason}"
    )
    return ApiError(
        msg,
        status=status,
        reason=status_reason,
        server_message=server_message,
        retry_after=retry_after,
        causes=causes,
    )


def parse_retry_after(value: Any) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None  # HTTP-date form: the apiserver only sends seconds
    return max(0.0, seconds)


@dataclass(frozen=True)
class Verdict:
    transient: bool
    kind: str  # "webhook" | "throttled" | "server" | "connection" | "permanent"
    reason: str
    retry_after: float | None = None


def _message_of(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return exc.server_message or exc.message
    return str(exc)


def webhook_not_ready(message: str) -> bool:
    return bool(_WEBHOOK.search(message) and _WEBHOOK_NOT_READY.search(message))


def _connection_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = [
        ConnectionError,  # reset / refused / aborted (builtins)
        TimeoutError,
        http.client.RemoteDisconnected,
        http.client.IncompleteRead,
    ]
    try:
        import urllib3.exceptions as u3

        types += [u3.ProtocolError, u3.NewConnectionError, u3.MaxRetryError, u3.TimeoutError]
    except ImportError:  # pragma: no cover - urllib3 ships with kubernetes
        pass
    return tuple(types)


def as_api_error(exc: BaseException) -> ApiError | None:
    """ApiError itself, or the official client's ApiException (e.g. a watch ERROR event) converted."""
    if isinstance(exc, ApiError):
        return exc
    status = getattr(exc, "status", None)
    if type(exc).__name__.endswith("Exception") and isinstance(status, int) and hasattr(exc, "reason"):
        return api_error_from_response(
            status,
            str(getattr(exc, "reason", "") or ""),
            getattr(exc, "body", None),
            getattr(exc, "headers", None),
            "API",
        )
    return None


def classify(exc: BaseException) -> Verdict:
    """Transient or permanent, with the reason in plain words."""
    api_exc = as_api_error(exc)
    if api_exc is not None:
        message = _message_of(api_exc)
        if webhook_not_ready(message):
            m = _WEBHOOK_NAME.search(message)
            name = m.group(1) if m else "?"
            return Verdict(True, "webhook", f'webhook "{name}" is not serving yet: {message}')
        if api_exc.status == 0:
            return Verdict(True, "connection", message)
        if api_exc.status == 429:
            return Verdict(True, "throttled", f"throttled (429): {message}", api_exc.retry_after)
        if 500 <= api_exc.status <= 599:
            return Verdict(True, "server", f"server error {api_exc.status}: {message}", api_exc.retry_after)
        return Verdict(False, "permanent", message)
    if isinstance(exc, _connection_error_types()):
        return Verdict(True, "connection", f"connection problem: {exc}")
    return Verdict(False, "permanent", str(exc))


def backoff_delay(
    attempt: int, *, base: float = 0.2, cap: float = 5.0, rng: Callable[[], float] = random.random
) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(cap, base * float(2 ** min(attempt, 30)))
    return float(rng()) * ceiling


@dataclass
class RetryPolicy:
    base: float = 0.2
    cap: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: Callable[[], float] = random.random


DEFAULT_POLICY = RetryPolicy()


def retry_call(
    fn: Callable[[], T],
    *,
    deadline: float,
    what: str,
    policy: RetryPolicy | None = None,
    on_retry: Callable[[Verdict, float], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, a permanent error occurs, or ``deadline`` (policy clock) passes.

    Permanent errors propagate unchanged. When the deadline passes on a transient error the caller
    gets a NotReadyError (webhook not serving) or ClusterError (anything else) naming ``what`` and
    the last reason.
    """
    p = policy or DEFAULT_POLICY
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            verdict = classify(exc)
            if not verdict.transient:
                raise
            remaining = deadline - p.clock()
            delay = backoff_delay(attempt, base=p.base, cap=p.cap, rng=p.rng)
            if verdict.retry_after is not None:
                delay = max(delay, verdict.retry_after)
            too_late = verdict.retry_after is not None and verdict.retry_after > remaining
            if remaining <= 0 or too_late:
                attempts = attempt + 1
                msg = f"{what}: gave up after {attempts} attempt(s) at the deadline: {verdict.reason}"
                if verdict.kind == "webhook":
                    raise NotReadyError(
                        msg, hint="the webhook's pods are not serving; see their logs"
                    ) from exc
                raise ClusterError(msg) from exc
            delay = min(delay, remaining)
            if on_retry is not None:
                on_retry(verdict, delay)
            p.sleep(delay)
            attempt += 1
