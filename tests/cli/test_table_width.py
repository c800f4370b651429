"""Every table command at 80 and 120 columns (issue 9 item 4): no copyable token (URL, digest, key=value,
command, path) is split across lines, no word is cut in two, bordered tables fit the width, and no cell
wraps word by word. Non-terminal output is as wide as COLUMNS (80 when unset, as in CI logs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from platformctl.cli.output import Col, OutputFormat, fit_table
from platformctl.components import registry
from platformctl.usecases import doctor as doctor_mod
from platformctl.usecases import models as models_mod
from platformctl.usecases import status as status_mod
from platformctl.usecases import up as up_mod
from platformctl.usecases.doctor import CheckResult
from platformctl.usecases.models import ModelRow
from platformctl.usecases.status import ComponentStatus, Endpoint, StatusResult
from tests.orchestration.toys import REAL_DEPS, ToyEngine, stub_preflight, toy_registry
from tests.support.cli_main import Ran, run_main

WIDTHS = (80, 120)
BOX = "│┃"
LONG_URL = "http://conference-frontend.conference-app-namespace.127.0.0.1.sslip.io/api/v1/agenda"


def words_of(data: Any) -> set[str]:
    """Every word (3+ characters) of every string in ``data``."""
    out: set[str] = set()
    if isinstance(data, dict):
        for v in data.values():
            out |= words_of(v)
    elif isinstance(data, list):
        for v in data:
            out |= words_of(v)
    elif isinstance(data, str):
        out |= {w for w in data.split() if len(w) >= 3}
    return out


def check_layout(text: str, width: int, tokens: set[str], words: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    lines = text.splitlines()
    for token in tokens:
        assert any(token in line for line in lines), f"split or missing token {token!r}:\n{text}"
    for word in words:
        assert word in text, f"word {word!r} was cut in two:\n{text}"
    for line in lines:
        if any(c in line for c in BOX):
            assert len(line) <= width, f"bordered line wider than {width}:\n{line}"
    # a table row that takes more than 3 lines is a cell wrapping word by word
    body = [line for line in lines if line.startswith("│")]
    rows = [line for line in body if line[1:].split("│")[0].strip()]
    assert len(body) <= 3 * max(len(rows), 1), f"cells wrap word by word:\n{text}"


def run(args: list[str], width: int, env: dict[str, str] | None = None) -> Ran:
    return run_main(args, env={"COLUMNS": str(width), **(env or {})})


# ---------------------------------------------------------------------------- the renderer itself


def render(renderable: Any, width: int) -> str:
    from io import StringIO

    from rich.console import Console

    console = Console(file=StringIO(), width=width, no_color=True, soft_wrap=True, emoji=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def test_fit_table_drops_low_value_columns_then_moves_prose_below() -> None:
    cols = [Col("name"), Col("kind", drop=1), Col("url"), Col("reason", kind="text", below=True)]
    reason = "waiting for the ingress gateway: " + "revision not ready " * 4
    rows = [("conference-frontend", "ksvc", LONG_URL[:60], reason)]
    text = render(fit_table("t", cols, rows, width=80), 80)
    assert "kind" not in text.splitlines()[1]  # dropped first
    assert "see below" in text and reason in text
    check_layout(text, 80, {LONG_URL[:60]})


def test_fit_table_falls_back_to_plain_columns_when_tokens_are_wider_than_the_terminal() -> None:
    digest = "sha256:" + "ab" * 32
    text = render(fit_table(None, [Col("image"), Col("digest")], [("kindest/node", digest)], width=80), 80)
    assert digest in text and not any(c in text for c in BOX)


def test_fit_table_abbreviates_digests_unless_wide() -> None:
    digest = "0123456789abcdef" * 4
    cols = [Col("file"), Col("sha256", abbrev=12)]
    assert digest[:12] in render(fit_table(None, cols, [("a", digest)], width=80), 80)
    assert digest not in render(fit_table(None, cols, [("a", digest)], width=80), 80)
    assert digest in render(fit_table(None, cols, [("a", digest)], width=80, wide=True), 80)


# ---------------------------------------------------------------------------- every table command


@pytest.mark.parametrize("width", WIDTHS)
def test_versions(width: int) -> None:
    ran = run(["versions"], width)
    assert ran.exit_code == 0, ran.output
    data = json.loads(run(["versions", "-o", "json"], width).stdout)
    files = [f for c in data["components"] for f in c["files"]]
    urls = {f["url"] for f in files}
    digests = {f["sha256"] for f in files}
    check_layout(ran.stdout, width, urls | {d[:12] for d in digests} | {data["node_image"]})
    # was 127 lines at 80 columns for 14 files; now about one line per pinned file (every set) + headers
    assert len(ran.stdout.splitlines()) < len(data["pinned_files"]) + 45
    # -o wide: every column (chart repos) and the full digests, still never split
    wide = run(["versions", "-o", "wide"], width)
    repos = {c["chart"]["repo"] for c in data["components"] if c.get("chart")}
    check_layout(wide.stdout, width, urls | digests | repos)


@pytest.mark.parametrize("width", WIDTHS)
def test_config_show(width: int, tmp_path: Path) -> None:
    args = [
        "config",
        "show",
        "-o",
        "table",
        "--set",
        f"cluster.kubeconfig={tmp_path}/very/long/path/kubeconfig",
    ]
    ran = run(args, width)
    assert ran.exit_code == 0, ran.output
    check_layout(
        ran.stdout, width, {f"{tmp_path}/very/long/path/kubeconfig", "components.knative-serving.enabled"}
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_doctor(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    fix = "free memory, or install fewer components: --set components.kserve.enabled=false"
    results = [
        CheckResult("docker", "ok", "Docker 27.5.1 reachable at unix:///var/run/docker.sock"),
        CheckResult("memory", "warn", "Docker has 6.0 GiB; the full platform wants 8 GiB", fix),
        CheckResult(
            "port 443", "fail", "127.0.0.1:443 is in use by another process", "set cluster.https_port=8443"
        ),
    ]
    monkeypatch.setattr(doctor_mod, "run_doctor", lambda *a, **k: results)
    ran = run(["doctor"], width)
    assert ran.exit_code == 1, ran.output
    check_layout(
        ran.stdout,
        width,
        {"components.kserve.enabled=false", "cluster.https_port=8443", "unix:///var/run/docker.sock"},
        words_of([r.to_dict() for r in results]),
    )


@pytest.fixture
def toy_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[ToyEngine, Path]:
    comps = toy_registry(REAL_DEPS)
    engine = ToyEngine()
    monkeypatch.setattr(registry, "get", lambda name: comps[name])
    monkeypatch.setattr(up_mod, "default_connect", lambda kubeconfig, context, reporter: engine)
    stub_preflight(monkeypatch)  # toy components have no pinned sources (see tests/orchestration/toys.py)
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("cluster:\n  provider: existing\ndomain: example.com\n")
    return engine, cfg


@pytest.mark.parametrize("width", WIDTHS)
def test_up_summary(width: int, toy_up: tuple[ToyEngine, Path]) -> None:
    engine, cfg = toy_up
    engine.never_ready.add("cert-manager")
    ran = run(["-f", str(cfg), "up"], width)
    assert ran.exit_code == 1
    summary = ran.stderr[ran.stderr.index("Summary") :]
    summary = summary[: summary.index("╭")]  # the failure panel follows
    check_layout(
        summary, width, {"created", "cert-manager"}, {"created", "dependency", "skipped", "(dependency"}
    )
    assert ("timeline" in summary) is (width >= 100)
    assert "dependency kserve skipped" in summary and "cert-manager failed)" in summary


@pytest.mark.parametrize("width", WIDTHS)
def test_status(width: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    res = StatusResult(
        context="kind-platform",
        server="https://127.0.0.1:45678",
        components=[
            ComponentStatus("istio", True, "1.27.1", True),
            ComponentStatus(
                "kserve",
                True,
                "v0.16.0",
                False,
                "Deployment kserve/kserve-controller-manager: 0/1 replicas available (ImagePullBackOff)",
            ),
        ],
        endpoints=[
            Endpoint("ksvc", "conference", "frontend", LONG_URL, True),
            Endpoint(
                "isvc",
                "default",
                "sklearn-iris",
                "http://sklearn-iris.default.127.0.0.1.sslip.io",
                False,
                "Predictor not ready",
            ),
        ],
    )
    monkeypatch.setattr(status_mod, "status", lambda *a, **k: res)
    monkeypatch.setattr(up_mod, "default_connect", lambda kubeconfig, context, reporter: ToyEngine())
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("cluster:\n  provider: existing\ndomain: example.com\n")
    ran = run(["-f", str(cfg), "status"], width)
    check_layout(
        ran.stdout,
        width,
        {LONG_URL, "http://sklearn-iris.default.127.0.0.1.sslip.io", "https://127.0.0.1:45678"},
        words_of([c.reason for c in res.components] + [e.reason for e in res.endpoints]),
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_models_list(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from platformctl.cli import models_cmd

    rows = [
        ModelRow("sklearn-iris", "default", "sklearn", "http://sklearn-iris.default.127.0.0.1.sslip.io",
                 True, None,
                 [{"revisionName": "sklearn-iris-predictor-00001", "percent": 100, "latestRevision": True}]),
        ModelRow("xgb-very-long-model-name", "models", "xgboost", LONG_URL, False,
                 "RevisionMissing: Configuration is waiting for a Revision to become ready"),
    ]  # fmt: skip
    monkeypatch.setattr(models_mod, "list_models", lambda engine, ns: rows)
    monkeypatch.setattr(models_cmd, "connect_engine", lambda ctx, spec: object())
    ran = run(["models", "list"], width)
    assert ran.exit_code == 0, ran.output
    check_layout(
        ran.stdout,
        width,
        {LONG_URL, "http://sklearn-iris.default.127.0.0.1.sslip.io", "xgb-very-long-model-name"},
        words_of([r.reason for r in rows if r.reason]),
    )


def test_models_list_empty_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from platformctl.cli import models_cmd

    monkeypatch.setattr(models_mod, "list_models", lambda engine, ns: [])
    monkeypatch.setattr(models_cmd, "connect_engine", lambda ctx, spec: object())
    assert "No InferenceServices found in any namespace" in run(["models", "list"], 80).stderr
    assert (
        "No InferenceServices found in namespace team-a" in run(["models", "list", "-n", "team-a"], 80).stderr
    )
    assert json.loads(run(["models", "list", "-o", "json"], 80).stdout) == []


def test_wide_is_an_output_format() -> None:
    assert OutputFormat("wide") is OutputFormat.wide


def test_live_progress_final_frame_keeps_icon_and_duration() -> None:
    import time
    from io import StringIO

    from rich.console import Console

    from platformctl.cli.progress import ProgressView
    from platformctl.reporting import Event

    console = Console(file=StringIO(), width=80, no_color=True)
    view = ProgressView(console, ["istio", "dapr"], live=True)  # the frame, without starting Live
    now = time.monotonic()
    view.emit(Event("start", "istio", "applying", at=now - 3))
    view.emit(Event("fail", "istio", "waiting for Deployment istio-system/istiod: " + "reason " * 30, at=now))
    view.emit(Event("start", "dapr", "applying", at=now - 2))
    view.emit(Event("finish", "dapr", "fine", at=now))
    console.print(view.renderable())
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[0].startswith("✗ ") and "istio" in lines[0] and lines[0].rstrip().endswith("3.0s")
    assert lines[1].startswith("✓ ") and lines[1].rstrip().endswith("2.0s")
    assert all(len(line) <= 80 for line in lines)


def test_models_list_validates_the_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    from platformctl.cli import models_cmd

    monkeypatch.setattr(models_cmd, "connect_engine", lambda ctx, spec: pytest.fail("connected"))
    ran = run(["models", "list", "-n", "Bad NS"], 80)
    assert ran.exit_code == 2 and "--namespace: 'Bad NS' is not a DNS-1123 label" in ran.stderr


@pytest.mark.parametrize("width", WIDTHS)
def test_smoke_test(width: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from platformctl.usecases import smoke_test as st

    results = [
        st.CheckResult("health:frontend", "health", LONG_URL, True, 0.012, 0.012, 1, 200, "HTTP 200"),
        st.CheckResult(
            "iris:v2", "iris", "http://sklearn-iris.default.127.0.0.1.sslip.io/v2/models/sklearn-iris/infer",
            False, 1.2, 3.4, 4, 503,
            "HTTP 503, expected 200: upstream connect error or disconnect/reset before headers",
        ),
    ]  # fmt: skip
    report = st.SmokeReport(results, 3.5, "127.0.0.1:80", "spec")
    monkeypatch.setattr(st, "run_smoke_test", lambda checks, **kw: report)
    ran = run(["smoke-test", "--no-cluster"], width)
    assert ran.exit_code == 1, ran.output
    check_layout(
        ran.stdout,
        width,
        {LONG_URL, "http://sklearn-iris.default.127.0.0.1.sslip.io/v2/models/sklearn-iris/infer"},
        words_of([r.detail for r in results]),
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_tools_and_bundle_verify(width: int, tmp_path: Path) -> None:
    ran = run(["tools"], width, {"PLATFORMCTL_CACHE_DIR": str(tmp_path / "cache")})
    assert ran.exit_code in (0, 1), ran.output
    check_layout(ran.stdout, width, set())
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    ran = run(["bundle", str(bundle), "--verify"], width)
    assert ran.exit_code == 3, ran.output
    paths = {line.split()[1] for line in ran.stdout.splitlines() if line.startswith("│ ") and "/" in line}
    # <component>/<version>/<file> and charts/<chart>-<version>.tgz, whole
    assert paths and all(p.count("/") >= 2 or p.startswith("charts/") for p in paths)
    assert any(p.startswith("charts/") and p.endswith(".tgz") for p in paths)
    check_layout(ran.stdout, width, paths)
