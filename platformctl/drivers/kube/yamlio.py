"""Multi-document YAML in, plain dicts out (``List`` kinds flattened, empty documents dropped)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml


def flatten(docs: Iterable[Any]) -> list[dict[str, Any]]:
    """Drop empty documents and expand ``kind: *List`` into its items."""
    out: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict) or not doc:
            continue
        if str(doc.get("kind") or "").endswith("List") and isinstance(doc.get("items"), list):
            out.extend(flatten(doc["items"]))
            continue
        out.append(doc)
    return out


def load_documents(text: str) -> list[dict[str, Any]]:
    """Parse multi-document YAML; CSafeLoader when available (kserve.yaml is 3.5 MB)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return flatten(yaml.load_all(text, Loader=loader))  # safe loader (C or pure Python)


def load_file(path: Path) -> list[dict[str, Any]]:
    return load_documents(path.read_text(encoding="utf-8"))


def load_dir(root: Path) -> list[dict[str, Any]]:
    """Every ``*.yaml``/``*.yml`` below ``root`` in sorted path order."""
    docs: list[dict[str, Any]] = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")):
        docs.extend(load_file(path))
    return docs
