"""Render caches (issue #4: a second `up` re-parses nothing): the parsed-YAML cache of
SourceResolver.documents and the per-run Helm render memo.

The parsed cache is keyed by the pinned sha256, written only from verified bytes, and never used
without verifying the file again."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from platformctl.drivers.sources import SourceResolver
from platformctl.errors import IntegrityError
from platformctl.plan.lock import PinnedFile, load_lock

BODY = (
    b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n---\n---\n"
    b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n"
)
EXPECTED = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}},
]


def bundle(tmp_path: Path, body: bytes = BODY) -> tuple[Path, PinnedFile]:
    path = "demo/v1/demo.yaml"
    (tmp_path / "bundle" / "demo" / "v1").mkdir(parents=True, exist_ok=True)
    (tmp_path / "bundle" / path).write_bytes(body)
    pinned = PinnedFile(
        role="demo",
        version="v1",
        path=path,
        url="https://example.invalid/demo.yaml",
        sha256=hashlib.sha256(body).hexdigest(),
        size=len(body),
    )
    return tmp_path / "bundle", pinned


def resolver(tmp_path: Path, manifests: Path) -> SourceResolver:
    return SourceResolver(
        load_lock(), manifests_dir=manifests, cache_dir=tmp_path / "cache", allow_download=False
    )


def no_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("YAML was parsed again")

    monkeypatch.setattr(yaml, "load_all", refuse)


def test_second_resolver_uses_the_parsed_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifests, pinned = bundle(tmp_path)
    first = resolver(tmp_path, manifests)
    assert first.documents(pinned) == EXPECTED
    assert first.parsed_path(pinned).is_file()
    no_yaml(monkeypatch)
    again = resolver(tmp_path, manifests)  # a later CLI run
    docs = again.documents(pinned)
    assert docs == EXPECTED
    docs[0]["data"]["k"] = "edited"  # callers get private copies
    assert again.documents(pinned) == EXPECTED


def test_a_tampered_parsed_file_is_not_used(tmp_path: Path) -> None:
    manifests, pinned = bundle(tmp_path)
    r = resolver(tmp_path, manifests)
    r.documents(pinned)
    cached = r.parsed_path(pinned)
    cached.write_text(cached.read_text().replace('"k":"v"', '"k":"evil"'))
    assert resolver(tmp_path, manifests).documents(pinned) == EXPECTED


def test_the_source_file_is_verified_even_with_a_parsed_cache(tmp_path: Path) -> None:
    manifests, pinned = bundle(tmp_path)
    resolver(tmp_path, manifests).documents(pinned)
    (manifests / pinned.path).write_bytes(BODY.replace(b"k: v", b"k: x"))
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        resolver(tmp_path, manifests).documents(pinned)


def test_yaml_that_does_not_round_trip_through_json_is_not_cached(tmp_path: Path) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  when: 2024-01-02\n"
    manifests, pinned = bundle(tmp_path, body)
    r = resolver(tmp_path, manifests)
    docs = r.documents(pinned)
    assert str(docs[0]["metadata"]["when"]) == "2024-01-02"
    assert not r.parsed_path(pinned).exists()


def test_identical_helm_render_runs_once_per_renderer() -> None:
    from platformctl.components.base import RenderContext
    from platformctl.components.common import render_helm
    from platformctl.plan.spec import PlatformSpec
    from platformctl.reporting import NullReporter

    calls: list[tuple[str, ...]] = []

    def helm(
        chart: str, repo: str, version: str, release: str, ns: str, values: dict[str, Any]
    ) -> list[dict[str, Any]]:
        calls.append((chart, release, ns, str(values)))
        return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": release}, "data": {}}]

    lock = load_lock()
    ctx = RenderContext(
        spec=PlatformSpec(),
        lock=lock,
        sources=SourceResolver(lock, allow_download=False),
        reporter=NullReporter(),
        helm_render=helm,
    )
    first = render_helm(ctx, "istio", "base", "istio-base", "istio-system", {"a": 1})
    first[0]["data"]["edited"] = "x"  # callers get private copies
    again = render_helm(ctx, "istio", "base", "istio-base", "istio-system", {"a": 1})
    assert again == [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio-base"}, "data": {}}
    ]
    assert len(calls) == 1
    render_helm(ctx, "istio", "base", "istio-base", "istio-system", {"a": 2})  # other values: rendered
    assert len(calls) == 2
