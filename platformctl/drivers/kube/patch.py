"""JSON merge patches (RFC 7386) of one object: for fields several writers share.

An apply declares every field it sends; a merge patch only touches the keys it names. deploy-app uses
it for a Dapr Component's ``scopes``: ``up`` applies the platform's components without scopes, and a
later ``up`` must not take back what the apps set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from platformctl.drivers.kube.retry import retry_call

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

FIELD_MANAGER = "platformctl"


def merge_patch(
    engine: Engine,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    body: dict[str, Any],
    *,
    timeout: float = 60,
) -> dict[str, Any]:
    """PATCH ``body`` as application/merge-patch+json (a None value removes the key); the live object."""
    info = engine.mapper.resolve(api_version, kind)
    path = info.path(namespace if info.namespaced else None, name)

    def send() -> dict[str, Any]:
        out: dict[str, Any] = engine.api.request(
            "PATCH",
            path,
            query=[("fieldManager", FIELD_MANAGER)],
            body=body,
            content_type="application/merge-patch+json",
        )
        return out

    where = f"{namespace}/{name}" if namespace else name
    result: dict[str, Any] = retry_call(
        send,
        deadline=engine.policy.clock() + timeout,
        what=f"patch {kind} {where}",
        policy=engine.policy,
    )
    return result
