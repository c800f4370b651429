"""--cpu/--memory take Kubernetes quantities as the API server parses them (`--memory 1e3` is 1000)."""

from __future__ import annotations

import pytest

from platformctl.errors import UsageError
from platformctl.usecases.deploy_model import quantity

# kubernetes/apimachinery pkg/api/resource/quantity.go: <number><binarySI | decimalSI | decimalExponent>
VALID = ["500m", "1", "1.5", ".5", "1.", "256Mi", "2Gi", "1k", "2E", "1e3", "1E3", "1.5e-3", "2e+2"]
INVALID = ["", "Mi", "-1", "1 Gi", "1GB", "1e", "1e3Mi", "1.2.3", "0x10", "1Kb"]


@pytest.mark.parametrize("value", VALID)
def test_valid_quantities_pass_unchanged(value: str) -> None:
    assert quantity(value, "--memory") == value


@pytest.mark.parametrize("value", INVALID)
def test_invalid_quantities_name_the_flag(value: str) -> None:
    with pytest.raises(UsageError) as err:
        quantity(value, "--memory")
    assert err.value.message.startswith("--memory: ") and err.value.exit_code == 2


def test_none_means_not_given() -> None:
    assert quantity(None, "--cpu") is None
