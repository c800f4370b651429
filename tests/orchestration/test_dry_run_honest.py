"""`up --dry-run` never reports success for something `up` would refuse (issue 9 item 3): it makes every
check `up` makes before changing anything and exits with the code `up` would; it renders only when the
cluster does not exist yet, and says so."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from platformctl.plan.spec import PlatformSpec
from platformctl.providers import ProviderOptions
from tests.support.cli_main import run_main

TESTS = Path(__file__).resolve().parents[1]
FAKE_KIND = TESTS / "fakebin" / "kind"
# These tests compare the cluster checks; preflight (sources, Docker, ports) has its own tests.
NO_PRE = ("--no-download", "--skip-preflight")


@pytest.fixture
def kind_env(tmp_path: Path) -> dict[str, str]:
    kc = tmp_path / "fake-kind-kubeconfig"
    kc.write_text(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kind-platform\n  cluster:\n"
        "    server: https://127.0.0.1:1\nusers:\n- name: kind-platform\n  user:\n    token: t\n"
        "contexts:\n- name: kind-platform\n  context:\n    cluster: kind-platform\n    user: kind-platform\n"
        "current-context: kind-platform\n"
    )
    return {
        "PLATFORMCTL_KIND": str(FAKE_KIND),
        "FAKE_KIND_STATE": str(tmp_path / "kind"),
        "FAKE_KIND_KUBECONFIG": str(kc),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KUBECONFIG": str(tmp_path / "kube" / "config"),
    }


def _kind_calls(env: dict[str, str]) -> str:
    calls = Path(env["FAKE_KIND_STATE"]) / "calls.jsonl"
    return calls.read_text() if calls.exists() else ""


def test_changed_kind_config_fails_the_dry_run_like_up(
    kind_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in kind_env.items():
        monkeypatch.setenv(key, value)
    from platformctl.providers.kind import KindProvider
    from platformctl.usecases.up_images import cache_enabled

    spec = PlatformSpec()  # the cluster `up` creates (registry caches on by default for kind)
    KindProvider(ProviderOptions(allow_download=False, registry_cache=cache_enabled(spec))).ensure(spec)
    # Regression: exited 0 ("rendering only") while `up` exits 5.
    # the cluster checks (preflight's sources/Docker/ports checks are compared below and in test_preflight)
    dry = run_main(["up", "--dry-run", *NO_PRE, "--set", "cluster.http_port=8080"], env=kind_env)
    real = run_main(["up", *NO_PRE, "--set", "cluster.http_port=8080"], env=kind_env)
    assert dry.exit_code == real.exit_code == 5, (dry.output, real.output)
    assert "different config" in dry.stderr and "different config" in real.stderr
    assert _kind_calls(kind_env).count('"create"') == 1  # only the setup created a cluster


def test_foreign_kind_cluster_fails_the_dry_run_like_up(kind_env: dict[str, str], tmp_path: Path) -> None:
    # a cluster named like ours that platformctl did not create (no record in XDG_STATE_HOME)
    env = {**kind_env, "XDG_STATE_HOME": str(tmp_path / "other-state")}
    from platformctl.drivers.kind import KindCluster

    KindCluster(FAKE_KIND, env=kind_env).create("platform", "kind: Cluster\n", tmp_path / "kc")
    dry = run_main(["up", "--dry-run", *NO_PRE], env=env)
    assert dry.exit_code == 5 and "not created by platformctl" in dry.stderr, dry.output
    assert "--set cluster.provider=existing" in dry.stderr  # there is no --provider flag


def test_no_cluster_yet_renders_only_and_says_so(kind_env: dict[str, str], upstream_dir: Path) -> None:
    # PLATFORMCTL_MANIFESTS_DIR is honoured by up (issue 9 item 6), as by deploy-model
    env = {**kind_env, "PLATFORMCTL_MANIFESTS_DIR": str(upstream_dir)}
    ran = run_main(["up", "--dry-run", *NO_PRE, "--only", "knative-serving"], env=env)
    assert ran.exit_code == 0, ran.output
    assert "render only (kind cluster 'platform' does not exist yet: `up` would create it)" in ran.stderr
    assert '"create"' not in _kind_calls(kind_env)


def test_charts_dir_that_does_not_exist_is_a_usage_error(tmp_path: Path) -> None:
    for command in (["up", "--dry-run"], ["render"]):
        ran = run_main([*command, "--charts-dir", str(tmp_path / "missing")])
        assert ran.exit_code == 2 and "--charts-dir" in ran.stderr and "not a directory" in ran.stderr


def _existing(tmp_path: Path, server: str) -> tuple[Path, dict[str, str]]:
    cfg = tmp_path / "platform.yaml"
    cfg.write_text("cluster:\n  provider: existing\ndomain: example.com\n")
    kc = tmp_path / "kubeconfig"
    kc.write_text(
        f"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n"
        "users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n    cluster: c\n"
        "    user: u\ncurrent-context: x\n"
    )
    return cfg, {"KUBECONFIG": str(kc)}


def test_unreachable_cluster_fails_the_dry_run_like_up(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the block ends
    cfg, env = _existing(tmp_path, f"http://127.0.0.1:{port}")
    # Regression: exited 0 after "rendering only".
    dry = run_main(["-f", str(cfg), "up", "--dry-run", *NO_PRE], env=env)
    real = run_main(["-f", str(cfg), "up", *NO_PRE], env=env)
    assert dry.exit_code == real.exit_code == 4, (dry.output, real.output)
    assert "cannot reach Kubernetes API server" in dry.stderr
    assert "render only" not in dry.stderr


def test_bad_certificate_authority_fails_the_dry_run_naming_the_field(tmp_path: Path) -> None:
    cfg, env = _existing(tmp_path, "https://127.0.0.1:1")
    kc = Path(env["KUBECONFIG"])
    kc.write_text(
        kc.read_text().replace("    server:", "    certificate-authority-data: bm9wZQ==\n    server:")
    )
    dry = run_main(["-f", str(cfg), "up", "--dry-run", *NO_PRE], env=env)
    assert dry.exit_code == 2 and "certificate-authority-data" in dry.stderr, dry.output


def test_a_preflight_failure_fails_the_dry_run_like_up(tmp_path: Path) -> None:
    # No bundle and no downloads: `up` stops in preflight listing the missing sources; so does the dry run.
    cfg, env = _existing(tmp_path, "https://127.0.0.1:1")
    dry = run_main(["-f", str(cfg), "up", "--dry-run", "--no-download"], env=env)
    real = run_main(["-f", str(cfg), "up", "--no-download"], env=env)
    assert dry.exit_code == real.exit_code == 1, (dry.output, real.output)
    assert "preflight" in dry.stderr and "missing" in dry.stderr and "render only" not in dry.stderr


def test_render_honours_platformctl_manifests_dir(upstream_dir: Path, tmp_path: Path) -> None:
    missing = run_main(["render", "--no-download", "--only", "knative-serving"])
    assert missing.exit_code == 3, missing.output  # no bundle, no downloads: the files are missing
    env = {"PLATFORMCTL_MANIFESTS_DIR": str(upstream_dir)}
    ran = run_main(["render", "--no-download", "--only", "knative-serving"], env=env)
    assert ran.exit_code == 0, ran.output
    assert "kind: CustomResourceDefinition" in ran.stdout


def test_failing_kind_from_the_environment_is_named(kind_env: dict[str, str]) -> None:
    env = {**kind_env, "PLATFORMCTL_KIND": "/bin/false"}
    for command in (["up", "--dry-run", *NO_PRE], ["down"]):
        ran = run_main(command, env=env)
        assert ran.exit_code == 4, ran.output
        assert "PLATFORMCTL_KIND=/bin/false" in ran.stderr and "unset it" in ran.stderr
