"""Name → component module. Each module exposes ``COMPONENT``; imported lazily (render may need few)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from platformctl.components.base import Component

MODULES: dict[str, str] = {
    "istio": "platformctl.components.istio",
    "knative-serving": "platformctl.components.knative",
    "cert-manager": "platformctl.components.cert_manager",
    "kserve": "platformctl.components.kserve",
    "dapr": "platformctl.components.dapr",
    "infra": "platformctl.components.infra",
    "conference": "platformctl.components.conference",
    "iris": "platformctl.components.iris",
}


def get(name: str) -> Component:
    module = importlib.import_module(MODULES[name])
    component: Component = module.COMPONENT
    return component
