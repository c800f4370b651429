"""retry.py: classification of API errors and the backoff loop (no network)."""

from __future__ import annotations

import http.client
from typing import Any

import pytest

from platformctl.drivers.kube.retry import (
    ApiError,
    RetryPolicy,
    api_error_from_response,
    backoff_delay,
    classify,
    parse_retry_after,
    retry_call,
    webhook_not_ready,
)
from platformctl.errors import ClusterError, NotReadyError

WEBHOOK_REFUSED = (
    'Internal error occurred: failed calling webhook "webhook.serving.knative.dev": failed to call webhook: '
    'Post "https://webhook.knative-serving.svc:443/defaulting?timeout=10s": dial tcp 10.96.1.2:443: '
    "connect: connection refused"
)


def status_error(
    code: int, message: str, reason: str = "", headers: dict[str, str] | None = None
) -> ApiError:
    body = f'{{"kind":"Status","status":"Failure","message":{message!r},"reason":"{reason}","code":{code}}}'
    return api_error_from_response(code, reason, body.replace("'", '"'), headers or {}, "PATCH /x")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(clock: FakeClock, rng: float = 1.0) -> RetryPolicy:
    return RetryPolicy(base=0.1, cap=2.0, sleep=clock.sleep, clock=clock.clock, rng=lambda: rng)


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_5xx_is_transient(code: int) -> None:
    assert classify(status_error(code, "etcdserver: request timed out")).transient


def test_429_is_transient_and_carries_retry_after() -> None:
    verdict = classify(status_error(429, "too many requests", "TooManyRequests", {"Retry-After": "3"}))
    assert verdict.transient and verdict.kind == "throttled" and verdict.retry_after == 3.0


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_permanent(code: int) -> None:
    verdict = classify(status_error(code, "spec.replicas: Invalid value"))
    assert not verdict.transient
    assert verdict.reason == "spec.replicas: Invalid value"


@pytest.mark.parametrize(
    "tail",
    [
        "connect: connection refused",
        'no endpoints available for service "kserve-webhook-server-service"',
        "context deadline exceeded",
        "tls: failed to verify certificate: x509: certificate signed by unknown authority",
        "remote error: tls: handshake failure (TLS handshake error)",
    ],
)
def test_webhook_not_ready_messages_are_transient(tail: str) -> None:
    msg = (
        'Internal error occurred: failed calling webhook "x.kserve.io": failed to call webhook: '
        f'Post "https://s": {tail}'
    )
    # webhooks also answer 400/403 on some apiservers: the message decides, not the code
    for code in (500, 400):
        verdict = classify(status_error(code, msg))
        assert verdict.transient and verdict.kind == "webhook", (code, tail)
    assert 'webhook "x.kserve.io"' in classify(status_error(500, msg)).reason


def test_webhook_denial_is_permanent() -> None:
    msg = 'admission webhook "validation.webhook.serving.knative.dev" denied the request: bad value'
    assert not webhook_not_ready(msg)
    assert not classify(status_error(400, msg)).transient


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError(104, "Connection reset by peer"),
        ConnectionRefusedError(111, "refused"),
        http.client.RemoteDisconnected("closed"),
        TimeoutError("timed out"),
    ],
)
def test_connection_errors_are_transient(exc: BaseException) -> None:
    assert classify(exc).transient


def test_urllib3_errors_are_transient() -> None:
    import urllib3.exceptions as u3

    assert classify(u3.ProtocolError("Connection aborted.", ConnectionResetError())).transient
    assert classify(ApiError("x", status=0, server_message="reset")).transient


def test_kubernetes_api_exception_is_classified() -> None:
    from kubernetes.client.exceptions import ApiException

    assert classify(ApiException(status=503, reason="Service Unavailable")).transient
    assert not classify(ApiException(status=422, reason="Invalid")).transient


def test_status_body_message_is_kept() -> None:
    err = status_error(422, 'Deployment.apps "x" is invalid: spec.template: Required value', "Invalid")
    assert err.status == 422 and err.reason == "Invalid"
    assert "spec.template: Required value" in err.message


def test_parse_retry_after() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_full_jitter_is_capped_exponential() -> None:
    assert [backoff_delay(a, base=0.1, cap=1.0, rng=lambda: 1.0) for a in range(6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    )
    assert backoff_delay(3, base=0.1, cap=1.0, rng=lambda: 0.25) == pytest.approx(0.2)
    assert backoff_delay(10_000, rng=lambda: 1.0) == 5.0


def test_retry_call_retries_transient_then_succeeds() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) <= 3:
            raise status_error(503, "unavailable")
        return "ok"

    assert retry_call(fn, deadline=10, what="apply x", policy=policy(clock)) == "ok"
    assert len(calls) == 4
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_retry_call_honours_retry_after() -> None:
    clock = FakeClock()
    attempts = iter([status_error(429, "slow down", "TooManyRequests", {"Retry-After": "2"}), None])

    def fn() -> int:
        exc = next(attempts)
        if exc is not None:
            raise exc
        return 1

    assert retry_call(fn, deadline=10, what="x", policy=policy(clock, rng=0.0)) == 1
    assert clock.sleeps == [2.0]


def test_retry_call_permanent_fails_at_once() -> None:
    clock = FakeClock()
    calls: list[int] = []

    def fn() -> None:
        calls.append(1)
        raise status_error(422, "spec.foo: Invalid value")

    with pytest.raises(ApiError, match="Invalid value"):
        retry_call(fn, deadline=10, what="x", policy=policy(clock))
    assert calls == [1] and clock.sleeps == []


def test_retry_call_gives_up_at_deadline_with_plain_words() -> None:
    clock = FakeClock()

    def fn() -> Any:
        raise status_error(500, WEBHOOK_REFUSED, "InternalError")

    with pytest.raises(NotReadyError) as info:
        retry_call(fn, deadline=3, what="apply ConfigMap knative-serving/config-domain", policy=policy(clock))
    assert 'webhook "webhook.serving.knative.dev" is not serving yet' in info.value.message
    assert "config-domain" in info.value.message
    assert clock.now <= 3.0 + 1e-9

    def server() -> Any:
        raise status_error(503, "overloaded")

    with pytest.raises(ClusterError, match="overloaded"):
        retry_call(server, deadline=clock.now + 1, what="x", policy=policy(clock))


def test_retry_after_beyond_deadline_gives_up() -> None:
    clock = FakeClock()

    def fn() -> None:
        raise status_error(429, "slow", "TooManyRequests", {"Retry-After": "30"})

    with pytest.raises(ClusterError, match="throttled"):
        retry_call(fn, deadline=5, what="x", policy=policy(clock))
    assert clock.sleeps == []
