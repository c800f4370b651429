"""Container logs of pods: the last lines, or a followed stream (``kubectl logs [-f]``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from platformctl.drivers.kube.retry import ApiError

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

# A followed stream stays open while the container runs: no read timeout ends it early. One day is
# the deadline of a `logs -f` session; Ctrl-C ends it sooner.
FOLLOW_READ_TIMEOUT = 86_400.0


def _path(namespace: str, pod: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods/{pod}/log"


def read_logs(engine: Engine, namespace: str, pod: str, container: str, *, tail: int | None = None) -> str:
    """The container's log text ('' for a pod whose container has not started)."""
    query = [("container", container)]
    if tail is not None:
        query.append(("tailLines", str(tail)))
    try:
        return str(engine.api.request("GET", _path(namespace, pod), query=query, text=True) or "")
    except ApiError as exc:
        if exc.status == 400:  # "container ... is waiting to start": nothing to show yet
            return ""
        raise


def follow_logs(
    engine: Engine, namespace: str, pod: str, container: str, *, tail: int | None = None
) -> Iterator[str]:
    """Lines of the container's log as they are written, until the container or the stream ends."""
    query = [("container", container), ("follow", "true")]
    if tail is not None:
        query.append(("tailLines", str(tail)))
    resp = engine.api.stream(_path(namespace, pod), query, FOLLOW_READ_TIMEOUT)
    try:
        buffer = b""
        for chunk in resp.stream(4096, decode_content=True):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                yield line.decode("utf-8", "replace")
        if buffer:
            yield buffer.decode("utf-8", "replace")
    finally:
        resp.release_conn()
