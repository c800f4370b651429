"""The plan: selection rules, dependency validation, cycles, deterministic order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import pytest

from platformctl.components.base import Component
from platformctl.components.dag import build_plan, topological
from platformctl.errors import ConfigError, UsageError
from platformctl.plan.spec import COMPONENTS, PlatformSpec


@dataclass
class Toy:
    name: str
    depends_on: tuple[str, ...]
    namespaces: tuple[str, ...] = ()


def getter(deps: Mapping[str, tuple[str, ...]]) -> Any:
    def get(name: str) -> Component:
        return cast(Component, Toy(name, deps.get(name, ())))

    return get


def test_real_registry_dag_order_and_dependencies() -> None:
    plan = build_plan(PlatformSpec())
    assert set(plan.order) == set(COMPONENTS)
    pos = {n: i for i, n in enumerate(plan.order)}
    for n, deps in plan.deps.items():
        for d in deps:
            assert pos[d] < pos[n], f"{d} must come before {n}"
    # the platform's dependency edges (docs/architecture.md)
    assert "istio" in plan.deps["knative-serving"]
    assert set(plan.deps["kserve"]) >= {"cert-manager", "knative-serving"}
    assert plan.external == {}
    assert plan.reverse()[-1] in ("istio", "cert-manager", "dapr", "infra")


def test_only_records_missing_dependencies_as_external() -> None:
    plan = build_plan(PlatformSpec(), only=["kserve"])
    assert plan.order == ("kserve",)
    assert plan.deps == {"kserve": ()}
    assert set(plan.external) >= {"cert-manager", "knative-serving"}
    assert plan.external["cert-manager"] == ("kserve",)


def test_skip_makes_dependency_external_and_dependents_still_planned() -> None:
    plan = build_plan(PlatformSpec(), skip=["istio"])
    assert "istio" not in plan.order
    assert plan.external["istio"] == ("knative-serving",)


def test_disabled_component_is_left_out() -> None:
    spec = PlatformSpec.model_validate({"components": {"dapr": {"enabled": False}}})
    plan = build_plan(spec)
    assert "dapr" not in plan.order
    assert "dapr" in plan.external  # conference needs it
    with pytest.raises(UsageError, match=r"--only dapr: .*components\.dapr\.enabled"):
        build_plan(spec, only=["dapr"])


def test_unknown_names_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="--only nope: unknown component"):
        build_plan(PlatformSpec(), only=["nope"])
    with pytest.raises(UsageError, match="--skip kube: unknown component"):
        build_plan(PlatformSpec(), skip=["kube"])


def test_cycle_is_reported_with_path() -> None:
    deps = {"istio": ("dapr",), "dapr": ("knative-serving",), "knative-serving": ("istio",)}
    with pytest.raises(ConfigError, match="cycle: istio -> dapr -> knative-serving -> istio"):
        build_plan(PlatformSpec(), get_component=getter(deps))
    # a cycle through a skipped component is still a cycle
    with pytest.raises(ConfigError, match="cycle"):
        build_plan(PlatformSpec(), skip=["dapr"], get_component=getter(deps))


def test_dependency_on_unknown_component() -> None:
    with pytest.raises(ConfigError, match="'iris' depends on unknown component 'ghost'"):
        build_plan(PlatformSpec(), get_component=getter({"iris": ("ghost",)}))


def test_order_is_deterministic_display_order_for_ties() -> None:
    assert topological(["dapr", "istio", "cert-manager"], {}) == ["istio", "cert-manager", "dapr"]


def test_dependents_and_critical_path() -> None:
    plan = build_plan(PlatformSpec())
    assert set(plan.dependents("istio")) >= {"knative-serving", "kserve", "iris", "conference"}
    assert "dapr" not in plan.dependents("istio")
    durations = {n: 1.0 for n in plan.order}
    durations["istio"] = 10.0
    length, path = plan.critical_path(durations)
    assert path[0] == "istio"
    assert length == pytest.approx(10.0 + sum(1.0 for _ in path[1:]))
