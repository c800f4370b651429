"""Name → component module. Each module exposes ``COMPONENT``; imported lazily (render may need few)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from platformctl.plan import names

if TYPE_CHECKING:
    from platformctl.components.base import Component

# Keyed by plan/names.py; tests/unit/test_component_names.py keeps the keys equal to names.COMPONENTS.
MODULES: dict[str, str] = {
    names.ISTIO: "platformctl.components.istio",
    names.KNATIVE_SERVING: "platformctl.components.knative",
    names.CERT_MANAGER: "platformctl.components.cert_manager",
    names.KSERVE: "platformctl.components.kserve",
    names.DAPR: "platformctl.components.dapr",
    names.INFRA: "platformctl.components.infra",
    names.CONFERENCE: "platformctl.components.conference",
    names.IRIS: "platformctl.components.iris",
}


def get(name: str) -> Component:
    module = importlib.import_module(MODULES[name])
    component: Component = module.COMPONENT
    return component
