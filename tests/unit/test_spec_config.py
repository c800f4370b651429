"""usecases/config.py + usecases/versions.py: documented fields, the commented starter file, the report."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from platformctl.errors import ConfigError, SafetyError
from platformctl.plan.loader import load_spec
from platformctl.plan.lock import load_lock
from platformctl.plan.spec import COMPONENTS, ComponentSpec, PlatformSpec
from platformctl.usecases.config import FIELD_DOCS, doc_key, init_config, render_init, show_config
from platformctl.usecases.versions import versions_report


def _model_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        out.append(path)
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(_model_paths(ann, path))
    return out


def all_field_paths() -> list[tuple[str, ...]]:
    paths = _model_paths(PlatformSpec)
    paths += [("components", "<name>", f) for f in ComponentSpec.model_fields]
    return paths


def test_every_spec_field_is_documented() -> None:
    documented = set(FIELD_DOCS)
    for path in all_field_paths():
        assert doc_key(path) in documented, f"FIELD_DOCS lacks {'.'.join(path)}"
    assert documented == {doc_key(p) for p in all_field_paths()}  # and nothing stale


def test_init_file_round_trips_to_the_defaults() -> None:
    text = render_init()
    assert yaml.safe_load(text) == PlatformSpec().model_dump(mode="json")


def test_init_file_comments_every_key(tmp_path: Path) -> None:
    lines = render_init().splitlines()
    keys = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keys += 1
            above = lines[i - 1].strip()
            assert above.startswith("#") and len(above) > 3, f"no comment above {line!r}"
    # every leaf and section of the model appears as a key (components expanded per component)
    expected = len(_model_paths(PlatformSpec)) + len(COMPONENTS) * (1 + len(ComponentSpec.model_fields))
    assert keys == expected


def test_init_file_mentions_pinned_versions() -> None:
    text = render_init()
    lock = load_lock()
    for name, comp in lock.components.items():
        assert (
            f"# {name}: pinned versions: {', '.join(sorted(comp.versions))} (default set: {comp.default})"
            in text
        )


def test_init_writes_then_refuses_then_forces(tmp_path: Path) -> None:
    target = tmp_path / "platform.yaml"
    first = init_config(target)
    assert not first.overwritten and target.read_text() == first.text
    assert stat.S_IMODE(target.stat().st_mode) & 0o600 == 0o600
    assert load_spec(target, env={}) == PlatformSpec()

    target.write_text("domain: mine.example.com\n")
    with pytest.raises(SafetyError, match=r"already exists; not overwriting") as info:
        init_config(target)
    assert info.value.exit_code == 5 and info.value.hint and "--force" in info.value.hint
    assert target.read_text() == "domain: mine.example.com\n"

    again = init_config(target, force=True)
    assert again.overwritten and target.read_text() == render_init()
    assert not list(tmp_path.glob(".platform-*"))  # no temp file left behind


def test_init_refuses_a_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "platform.yaml"
    link.symlink_to(tmp_path / "elsewhere.yaml")
    with pytest.raises(SafetyError):
        init_config(link)
    assert not (tmp_path / "elsewhere.yaml").exists()


def test_init_into_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="directory does not exist"):
        init_config(tmp_path / "no" / "platform.yaml")


def test_show_config_rows_name_sources(tmp_path: Path) -> None:
    cfg = tmp_path / "p.yaml"
    cfg.write_text("cluster:\n  name: filed\n")
    v = show_config(cfg, env={"PLATFORMCTL_DOMAIN": "x.example.com"}, overrides={"cluster.http_port": 81})
    rows = {r.field: (r.value, r.source) for r in v.rows}
    assert rows["cluster.name"] == ("filed", str(cfg))
    assert rows["domain"] == ("x.example.com", "PLATFORMCTL_DOMAIN")
    assert rows["cluster.http_port"] == (81, "--set cluster.http_port")
    assert rows["workloads.namespace"] == ("default", "defaults")
    assert v.spec["cluster"]["name"] == "filed"


def test_versions_report_follows_the_lock_and_spec() -> None:
    lock = load_lock()
    rep = versions_report()
    assert rep.kind == lock.kind.version and rep.node_image == lock.kind.node_image
    assert rep.kubernetes == lock.kubernetes.version
    assert rep.tools == {n: t.version for n, t in lock.tools.items()}
    assert [c.name for c in rep.components] == [n for n in COMPONENTS if n in lock.components]
    assert {(n, f.path, f.sha256) for n, f in rep.files()} == {
        (n, f.path, f.sha256) for n, f in lock.set_files()
    }
    assert {(f.component, f.path, f.sha256) for f in rep.pinned_files} == {
        (n, f.path, f.sha256) for n, f in lock.all_files()
    }
    istio = next(c for c in rep.components if c.name == "istio")
    pin = lock.components["istio"].versions[istio.version].charts
    assert istio.chart is not None and pin is not None
    assert (istio.chart.repo, istio.chart.version, istio.chart.names) == (pin.repo, pin.version, pin.names)

    spec = PlatformSpec.model_validate(
        {"components": {"dapr": {"enabled": False}}, "cluster": {"node_image": "x:y"}}
    )
    rep2 = versions_report(spec)
    assert next(c for c in rep2.components if c.name == "dapr").enabled is False
    assert rep2.node_image == "x:y"


def test_docs_list_every_field_and_env_var() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    for path in all_field_paths():
        key = doc_key(path)
        if FIELD_DOCS[key].type == "mapping":
            continue  # sections are covered by their fields
        assert f"| `{key}` |" in docs, f"docs/configuration.md lacks a row for {key}"
        env = "PLATFORMCTL_" + key.upper().replace(".", "__")
        assert f"`{env}`" in docs, f"docs/configuration.md lacks {env}"


def test_json_schema_accepts_the_init_file_and_rejects_what_the_loader_rejects() -> None:
    import jsonschema

    from platformctl.usecases.config import json_schema

    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load(render_init())))
    for bad in (
        {"components": {"linkerd": {"enabled": True}}},
        {"cluster": {"http_port": 70000}},
        {"cluster": {"nmae": "x"}},
        {"workloads": {"persistence": "maybe"}},
    ):
        assert list(validator.iter_errors(bad)), bad
    # every field carries its FIELD_DOCS help as the editor tooltip
    defs = schema["$defs"]
    for name in ("ClusterSpec", "TimeoutsSpec", "WorkloadsSpec", "ComponentSpec"):
        for field, prop in defs[name]["properties"].items():
            assert prop.get("description"), f"{name}.{field} has no description"
