"""Ownership labels: how status, prune and ``down`` find what platformctl created."""

from __future__ import annotations

from typing import Any

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY = "platformctl"
COMPONENT_KEY = "platformctl.io/component"
# Annotation with the hash of what we last sent: lets an unchanged object skip its apply (apply.up_to_date)
# and identifies an equivalent earlier create of a generateName object (those cannot be applied).
SPEC_HASH_KEY = "platformctl.io/spec-hash"
FIELD_MANAGER = "platformctl"


def ownership_labels(component: str | None = None) -> dict[str, str]:
    labels = {MANAGED_BY_KEY: MANAGED_BY}
    if component:
        labels[COMPONENT_KEY] = component
    return labels


def selector(component: str | None = None) -> str:
    """Label selector string matching objects platformctl manages (for one component when given)."""
    return ",".join(f"{k}={v}" for k, v in ownership_labels(component).items())


def add_labels(obj: dict[str, Any], component: str) -> None:
    """Add ownership labels in place (the object must already be a private copy)."""
    metadata = obj.setdefault("metadata", {})
    labels = metadata.get("labels") or {}
    labels.update(ownership_labels(component))
    metadata["labels"] = labels
