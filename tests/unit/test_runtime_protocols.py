"""--protocol errors offer only protocols deploy-model accepts (issue 9 item 8: `--format triton`)."""

from __future__ import annotations

import pytest

from platformctl.components.kserve_runtimes import RuntimeFormat, RuntimeTable
from platformctl.errors import UsageError


def _table(*protocols: tuple[str, tuple[str, ...]]) -> RuntimeTable:
    return RuntimeTable(
        source="test",
        entries=[RuntimeFormat(f"rt-{fmt}", fmt, None, True, 1, protos) for fmt, protos in protocols],
    )


def test_a_refused_grpc_protocol_is_never_offered() -> None:
    table = _table(("triton", ("v2", "grpc-v2")))
    with pytest.raises(UsageError) as err:
        table.select("triton", "v1", None)
    assert err.value.message.startswith("--protocol: ") and "supported: v2" in err.value.message
    assert "grpc" not in err.value.message


def test_a_format_served_only_over_grpc_says_so() -> None:
    table = _table(("onlygrpc", ("grpc-v2",)))
    with pytest.raises(UsageError, match="only over gRPC, which deploy-model does not support"):
        table.select("onlygrpc", "v2", None)
