"""Each component name is spelled once (plan/names.py); the registry, spec, schema and modules agree."""

from __future__ import annotations

from platformctl.components import registry
from platformctl.drivers.schema import CRD_FILES, PLATFORM_CRD_FILES
from platformctl.plan import names, spec


def test_the_registry_maps_exactly_the_spec_names_in_their_order() -> None:
    assert tuple(registry.MODULES) == names.COMPONENTS
    assert spec.COMPONENTS is names.COMPONENTS
    assert set(spec.PlatformSpec().components) == set(names.COMPONENTS)
    assert len(set(names.COMPONENTS)) == len(names.COMPONENTS)


def test_each_component_carries_its_registry_name_and_known_dependencies() -> None:
    for name in names.COMPONENTS:
        component = registry.get(name)
        assert component.name == name
        assert set(component.depends_on) <= set(names.COMPONENTS), name


def test_crd_files_are_keyed_by_component_names() -> None:
    assert set(CRD_FILES) <= set(PLATFORM_CRD_FILES) <= set(names.COMPONENTS)
