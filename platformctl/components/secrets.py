"""Passwords generated once per install and kept on every re-run.

Rendered manifests never carry secret values: workloads read them through ``secretKeyRef``. The
Secrets themselves are created by an install-time step (``ensure_secrets``) that reads the live
Secret first and only creates it when absent, so a re-run never rotates a password silently and
``platformctl render`` stays deterministic (it emits no Secret objects at all). Values are never
logged or returned to the CLI.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from platformctl.drivers.templates import dns_label_value

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine


@dataclass(frozen=True)
class GeneratedSecret:
    name: str
    keys: tuple[str, ...]
    nbytes: int = 24  # secrets.token_urlsafe(24): 32 URL-safe characters


def secret_object(namespace: str, spec: GeneratedSecret, data: dict[str, str]) -> dict[str, Any]:
    """The Secret with ``data`` (already base64, as the API stores it)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": spec.name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "conference-app"},
        },
        "type": "Opaque",
        "data": dict(sorted(data.items())),
    }


def ensure_secrets(
    engine: Engine, namespace: str, specs: Sequence[GeneratedSecret], *, component: str, timeout: float
) -> list[str]:
    """Create each missing Secret with fresh random values; keep existing ones byte for byte.

    Returns the names of the Secrets created now (for the progress log; never the values). A Secret
    that exists but lacks a key gets only the missing key added (existing values untouched).
    """
    dns_label_value("workloads.namespace", namespace)
    created: list[str] = []
    for spec in specs:
        live = engine.get("v1", "Secret", spec.name, namespace)
        existing: dict[str, str] = dict((live or {}).get("data") or {})
        missing = [k for k in spec.keys if k not in existing]
        if not missing:
            continue
        # Existing values are re-sent exactly as stored (base64), so they stay byte for byte.
        data = dict(existing)
        data.update(
            {k: base64.b64encode(secrets.token_urlsafe(spec.nbytes).encode()).decode() for k in missing}
        )
        engine.apply([secret_object(namespace, spec, data)], component=component, timeout=timeout)
        created.append(spec.name)
    return created
