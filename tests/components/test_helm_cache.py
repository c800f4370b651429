"""The on-disk render cache of drivers/helm.py, against the real helm binary (wrapped to count runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from platformctl.drivers.helm import render_chart
from tests.support.charts import MINIMAL_CHARTS

Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def counting_helm(helm_binary: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A wrapper script that logs each invocation, then runs the real helm: (wrapper, log)."""
    log = tmp_path / "helm-calls.log"
    log.touch()
    wrapper = tmp_path / "bin" / "helm"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{helm_binary}" "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.fixture
def charts(tmp_path: Path) -> Path:
    # A private copy of the minimal hand-written charts: these tests edit chart files in place, which
    # the real charts (packed archives) cannot be; the cache logic does not depend on chart content.
    dst = tmp_path / "charts"
    shutil.copytree(MINIMAL_CHARTS, dst)
    return dst


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PLATFORMCTL_NO_CACHE", raising=False)
    return tmp_path / "cache"


def calls(log: Path) -> list[str]:
    return [line for line in log.read_text(encoding="utf-8").splitlines() if line]


def templates(log: Path) -> int:
    return sum(1 for line in calls(log) if line.startswith("template "))


@pytest.fixture
def render(counting_helm: tuple[Path, Path], charts: Path, cache: Path) -> Render:
    wrapper, _ = counting_helm

    def _render(**overrides: Any) -> list[dict[str, Any]]:
        args: dict[str, Any] = {
            "chart": "gateway",
            "repo": "https://istio-release.storage.googleapis.com/charts",
            "version": "1.27.1",
            "release": "istio-ingressgateway",
            "namespace": "istio-system",
            "values": {"service": {"type": "NodePort"}},
            "chart_dir": charts,
            "helm_binary": wrapper,
            "cache_dir": cache,
        }
        args.update(overrides)
        return render_chart(**args)

    return _render


def service(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == "Service")


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "helm").glob("*.json"))


def test_second_render_runs_no_helm(render: Render, counting_helm: tuple[Path, Path], cache: Path) -> None:
    _, log = counting_helm
    first = render()
    assert templates(log) == 1
    n = len(calls(log))
    assert len(entries(cache)) == 1

    second = render()
    assert len(calls(log)) == n  # not even `helm version` or `helm show chart`
    assert second == first
    assert service(second)["spec"]["type"] == "NodePort"
    # Callers get their own copy: mutating one result does not leak into the next.
    second[0]["metadata"]["name"] = "mutated"
    assert render() == first


def test_cache_hit_across_processes_reads_entry_from_disk(
    render: Render, counting_helm: tuple[Path, Path], cache: Path
) -> None:
    _, log = counting_helm
    first = render()
    import platformctl.drivers.helm as helm_mod

    helm_mod._VERSIONS.clear()  # a new process: only the on-disk cache remains
    n = len(calls(log))
    assert render() == first
    assert len(calls(log)) == n


@pytest.mark.parametrize(
    ("rel", "edit"),
    [
        ("templates/service.yaml", "append-label"),
        ("values.yaml", "append-value"),
        ("templates/extra.yaml", "new-file"),
        ("values.schema.json", "whitespace"),
    ],
)
def test_editing_any_chart_file_invalidates(
    render: Render, counting_helm: tuple[Path, Path], charts: Path, rel: str, edit: str
) -> None:
    _, log = counting_helm
    first = render()
    render()
    assert templates(log) == 1

    path = charts / "gateway" / rel
    if edit == "append-label":
        text = path.read_text(encoding="utf-8")
        assert "metadata:" in text
        path.write_text(
            text.replace("metadata:", "metadata:\n  annotations: {cache-test: edited}", 1), encoding="utf-8"
        )
    elif edit == "append-value":
        path.write_text(path.read_text(encoding="utf-8") + "\ncacheTest: 1\n", encoding="utf-8")
    elif edit == "new-file":
        path.write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cache-test\n"
            "  namespace: {{ .Release.Namespace }}\n",
            encoding="utf-8",
        )
    else:  # a byte change that does not alter the output still counts: we hash bytes, not meaning
        path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")

    after = render()
    assert templates(log) == 2
    if edit == "append-label":
        assert service(after)["metadata"]["annotations"]["cache-test"] == "edited"
    elif edit == "new-file":
        assert any(o["kind"] == "ConfigMap" and o["metadata"]["name"] == "cache-test" for o in after)
    else:
        assert after == first
    render()
    assert templates(log) == 2  # the new content is cached in turn


def test_values_release_namespace_invalidate(render: Render, counting_helm: tuple[Path, Path]) -> None:
    _, log = counting_helm
    render()
    lb = render(values={"service": {"type": "LoadBalancer"}, "replicaCount": 2})
    assert service(lb)["spec"]["type"] == "LoadBalancer"
    other = render(release="other-gw")
    assert service(other)["metadata"]["name"] == "other-gw"
    ns = render(namespace="elsewhere")
    assert service(ns)["metadata"]["namespace"] == "elsewhere"
    assert templates(log) == 4
    # Same values spelled in another key order: canonical JSON, so a hit.
    render(values={"replicaCount": 2, "service": {"type": "LoadBalancer"}})
    assert templates(log) == 4


def test_corrupt_entry_is_ignored_and_rewritten(
    render: Render, counting_helm: tuple[Path, Path], cache: Path
) -> None:
    _, log = counting_helm
    first = render()
    (entry,) = entries(cache)
    good = entry.read_bytes()

    for bad in (good[: len(good) // 2], b"", b"\x00\xff garbage", json.dumps({"format": 1}).encode()):
        entry.write_bytes(bad)
        before = templates(log)
        assert render() == first
        assert templates(log) == before + 1
        assert json.loads(entry.read_bytes())["objects"] == first  # rewritten whole

    before = templates(log)
    render()
    assert templates(log) == before


def test_entry_of_another_key_is_not_used(render: Render, cache: Path) -> None:
    render()
    (entry,) = entries(cache)
    doc = json.loads(entry.read_bytes())
    render(release="other")
    other = next(p for p in entries(cache) if p != entry)
    # An entry copied under the wrong name (key mismatch) is a miss, not a wrong answer.
    other.write_text(json.dumps(doc), encoding="utf-8")
    assert service(render(release="other"))["metadata"]["name"] == "other"


def test_no_cache_env_disables(
    render: Render, counting_helm: tuple[Path, Path], cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, log = counting_helm
    monkeypatch.setenv("PLATFORMCTL_NO_CACHE", "1")
    first = render()
    second = render()
    assert templates(log) == 2
    assert first == second
    assert entries(cache) == []


def test_default_cache_dir_is_the_sources_cache(
    render: Render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, counting_helm: tuple[Path, Path]
) -> None:
    _, log = counting_helm
    monkeypatch.delenv("PLATFORMCTL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    render(cache_dir=None)
    assert len(list((tmp_path / "xdg" / "platformctl" / "helm").glob("*.json"))) == 1
    render(cache_dir=None)
    assert templates(log) == 1


def test_packed_chart_keyed_by_archive_bytes(
    render: Render, counting_helm: tuple[Path, Path], charts: Path, helm_binary: Path, tmp_path: Path
) -> None:
    _, log = counting_helm
    packed_dir = tmp_path / "packed"
    packed_dir.mkdir()
    subprocess.run(
        [str(helm_binary), "package", str(charts / "gateway"), "-d", str(packed_dir)],
        check=True,
        capture_output=True,
    )
    assert (packed_dir / "gateway-1.27.1.tgz").is_file()
    first = render(chart_dir=packed_dir)
    render(chart_dir=packed_dir)
    assert templates(log) == 1

    svc = charts / "gateway" / "templates" / "service.yaml"
    svc.write_text(
        svc.read_text(encoding="utf-8").replace("metadata:", "metadata:\n  annotations: {x: y}", 1)
    )
    subprocess.run(
        [str(helm_binary), "package", str(charts / "gateway"), "-d", str(packed_dir)],
        check=True,
        capture_output=True,
    )
    after = render(chart_dir=packed_dir)
    assert templates(log) == 2
    assert service(after)["metadata"]["annotations"] == {"x": "y"}
    assert after != first


def test_helm_version_is_part_of_the_key(
    render: Render, counting_helm: tuple[Path, Path], helm_binary: Path, tmp_path: Path
) -> None:
    _, log = counting_helm
    render()

    def fake(name: str, version: str) -> Path:
        # Another binary that reports ``version`` for `helm version` and renders with the real helm.
        path = tmp_path / name
        path.write_text(
            "#!/bin/sh\n"
            f'echo "$*" >> "{log}"\n'
            f'if [ "$1" = version ]; then printf %s "{version}"; exit 0; fi\n'
            f'exec "{helm_binary}" "$@"\n',
            encoding="utf-8",
        )
        path.chmod(0o755)
        return path

    same = subprocess.run(
        [str(helm_binary), "version", "--template", "{{ .Version }}"], capture_output=True, check=True
    ).stdout.decode()
    render(helm_binary=fake("helm-same", same))
    assert templates(log) == 1  # same version string: same key, even from another binary
    upgraded = render(helm_binary=fake("helm-next", "v3.99.0"))
    assert templates(log) == 2  # another helm version may render differently: a miss
    assert service(upgraded)["spec"]["type"] == "NodePort"
