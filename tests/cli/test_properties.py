"""Property tests: random platform.yaml documents, garbage YAML, env vars and --set flags through the real
entry point. Never a traceback; exit 0 for valid input, else exit 2 with one line naming the source."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from platformctl.plan.loader import printable
from platformctl.plan.spec import COMPONENTS, PlatformSpec
from tests.support.cli_main import Ran, run_main

FIELDS = [
    "cluster", "domain", "components", "timeouts", "workloads", "provider", "name", "node_image",
    "listen_address", "http_port", "https_port", "kubeconfig", "context", "registry_cache", "enabled",
    "version", "cluster",
    "component", "model", "request", "namespace", "model_namespace", "persistence", *COMPONENTS,
]  # fmt: skip
LEAF_PATHS = [
    "cluster.provider", "cluster.name", "cluster.node_image", "cluster.listen_address", "cluster.http_port",
    "cluster.https_port", "cluster.kubeconfig", "cluster.context", "cluster.registry_cache", "domain",
    "timeouts.cluster",
    "timeouts.component", "timeouts.model", "timeouts.request", "workloads.namespace",
    "workloads.model_namespace", "workloads.persistence",
    *(f"components.{c}.{f}" for c in COMPONENTS for f in ("enabled", "version")),
]  # fmt: skip

safe_text = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    safe_text,
    st.sampled_from(["kind", "existing", "127.0.0.1", "dev", "80", "443", "true", "no", "1.27.1", "v0.16.0"]),
)
keys = st.one_of(st.sampled_from(FIELDS), safe_text.filter(bool))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A spec-shaped document where some leaves are replaced by random values."""
    doc: dict[str, Any] = PlatformSpec().model_dump(mode="json")
    for path in draw(st.lists(st.sampled_from(LEAF_PATHS), max_size=4)):
        node = doc
        *parents, leaf = path.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = draw(values)
    if draw(st.booleans()):
        doc[draw(keys)] = draw(values)
    return doc


documents = st.one_of(st.dictionaries(keys, values, max_size=5), near_valid(), values)
garbage = st.text(alphabet=st.sampled_from(list(":{}[]-#&*!|>'\"%@`,? \n\tabcx019.")), max_size=60)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A scratch dir; also memoises Typer's click-command build (≈40 ms per call, identical every time) so
    hundreds of examples run in seconds. Parsing, commands and main()'s exit-code mapping all still run."""
    real = typer.main.get_command
    built: dict[int, Any] = {}

    def cached(app: typer.Typer) -> Any:
        key = id(app)
        if key not in built:
            built[key] = real(app)
        return built[key]

    with tempfile.TemporaryDirectory() as d, pytest.MonkeyPatch.context() as mp:
        mp.setattr(typer.main, "get_command", cached)
        yield Path(d)


def check(r: Ran, sources: list[str], fmt: str = "yaml") -> None:
    assert "Traceback" not in r.output, r.output
    assert "internal error" not in r.output, r.output
    assert r.exit_code in (0, 2), (r.exit_code, r.output)
    if r.exit_code == 2:
        lines = r.stderr.splitlines()
        assert lines and lines[0].startswith("error: "), r.stderr
        body = lines[0][len("error: ") :]
        # "<source>: <field.path or line:col>: ...": the line starts with the offending source
        assert any(body.startswith(s) and re.match(r"^(:\d+:\d+)?: \S", body[len(s) :]) for s in sources), (
            body,
            sources,
        )
    elif fmt == "table":
        assert "cluster.name" in r.stdout
    else:
        assert isinstance(yaml.safe_load(r.stdout), dict)


SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(doc=documents, fmt=st.sampled_from(["yaml", "json", "table"]))
def test_random_documents(workdir: Path, doc: Any, fmt: str) -> None:
    cfg = workdir / "doc.yaml"
    cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    check(run_main(["-f", str(cfg), "config", "show", "-o", fmt], env={"COLUMNS": "200"}), [str(cfg)], fmt)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=garbage)
def test_garbage_yaml(workdir: Path, text: str) -> None:
    cfg = workdir / "garbage.yaml"
    cfg.write_text(text, encoding="utf-8")
    check(run_main(["-f", str(cfg), "config", "show"]), [str(cfg)])


@SETTINGS
@given(
    sets=st.lists(st.tuples(st.one_of(st.sampled_from(LEAF_PATHS), keys), safe_text), max_size=3),
    env=st.dictionaries(
        st.sampled_from(
            [f"PLATFORMCTL_{p.upper().replace('.', '__').replace('-', '_')}" for p in LEAF_PATHS]
        ),
        safe_text,
        max_size=2,
    ),
)
def test_random_flags_and_env(workdir: Path, sets: list[tuple[str, str]], env: dict[str, str]) -> None:
    args = ["config", "show"]
    for key, value in sets:
        args += ["--set", f"{key}={value}"]
    r = run_main(args, env=env)
    # the flag splits at the first '=': that prefix is the key the error must name
    labels = [f"--set {printable(f'{k}={v}'.partition('=')[0].strip())}" for k, v in sets]
    check(r, ["--set", *labels, *env])


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.one_of(st.sampled_from(["table", "json", "yaml", "JSON", "Yaml"]), safe_text), context=safe_text
)
def test_random_output_format_and_context(workdir: Path, fmt: str, context: str) -> None:
    """-o takes table/json/yaml (any case) and nothing else; --context takes any name into the spec."""
    r = run_main([f"--context={context}", "config", "show", f"--output={fmt}"])
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    if fmt.lower() in ("table", "json", "yaml"):
        assert r.exit_code == 0, r.output
        if fmt.lower() != "table":
            data = json.loads(r.stdout) if fmt.lower() == "json" else yaml.safe_load(r.stdout)
            assert data["cluster"]["context"] == context
    else:
        assert r.exit_code == 2, r.output
        assert "'-o' / '--output'" in r.stderr or "--output" in r.stderr, r.stderr
