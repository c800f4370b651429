"""A REAL KServe model server (the ``model`` extra) serving an sklearn iris classifier on loopback.

Run as a script in a subprocess: ``python modelserver.py --http_port N --model_name sklearn-iris``.
The classifier is trained at startup on ``sklearn.datasets.load_iris()`` (bundled with scikit-learn,
no download), so V1 ``/v1/models/<name>:predict`` and V2 ``/v2/models/<name>/infer`` answer the
design §6 payloads with ``[1, 1]``. ``--constant K`` serves a "wrong" model that always predicts K
(failure-case tests). The server is kserve's own ``ModelServer`` (FastAPI/uvicorn), not a copy.

Interpreter: this process's Python when kserve is importable (CI installs ``.[test,model]`` in one
env), else ``$PLATFORMCTL_MODEL_PYTHON``; tests skip with the reason when neither has kserve.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_NAME = "sklearn-iris"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model_python() -> tuple[str | None, str]:
    """(interpreter with kserve + scikit-learn, reason when there is none)."""
    if importlib.util.find_spec("kserve") and importlib.util.find_spec("sklearn"):
        return sys.executable, ""
    alt = os.environ.get("PLATFORMCTL_MODEL_PYTHON")
    if alt:
        probe = subprocess.run([alt, "-c", "import kserve, sklearn"], capture_output=True, check=False)
        if probe.returncode == 0:
            return alt, ""
        return None, f"PLATFORMCTL_MODEL_PYTHON={alt} cannot import kserve/sklearn"
    return None, (
        "kserve + scikit-learn not importable: install the 'model' extra (pip install -e '.[model]') "
        "or set PLATFORMCTL_MODEL_PYTHON to an interpreter that has them"
    )


@dataclass
class ModelServerProcess:
    port: int
    name: str
    proc: subprocess.Popen[bytes]
    startup_seconds: float
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _wait_ready(port: int, name: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/v2/models/{name}/ready"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"model server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"model server not ready within {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def model_server(
    tmp_dir: Path, *, name: str = MODEL_NAME, constant: int | None = None, timeout: float = 90
) -> Iterator[ModelServerProcess]:
    """Start the real model server; yield once ``/v2/models/<name>/ready`` answers 200."""
    python, reason = model_python()
    if python is None:
        raise RuntimeError(reason)
    port = free_port()
    log = tmp_dir / f"modelserver-{port}.log"
    cmd = [python, str(Path(__file__).resolve()), "--http_port", str(port), "--model_name", name]
    cmd += ["--enable_grpc", "false", "--workers", "1"]
    if constant is not None:
        cmd += ["--constant", str(constant)]
    started = time.monotonic()
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=tmp_dir)
    try:
        _wait_ready(port, name, proc, log, timeout)
        yield ModelServerProcess(port, name, proc, time.monotonic() - started, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _serve() -> None:  # pragma: no cover - runs in the subprocess
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--model_name", default=MODEL_NAME)
    parser.add_argument("--constant", type=int, default=None)
    # kserve parses its own flags (--http_port, --enable_grpc, --workers) from sys.argv at import.
    ours, _ = parser.parse_known_args()

    import kserve
    import kserve.protocol.rest.server as rest_server
    from kserve.utils.utils import get_predict_input, get_predict_response

    class LoopbackConfig(rest_server.uvicorn.Config):  # type: ignore[misc]
        """kserve 0.16 hard-codes host 0.0.0.0 (protocol/rest/server.py); tests stay on loopback."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["host"] = "127.0.0.1"
            super().__init__(*args, **kwargs)

    rest_server.uvicorn.Config = LoopbackConfig
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    class IrisModel(kserve.Model):  # type: ignore[misc]
        """The kserve sklearnserver's predict path, with a model trained in-process."""

        def __init__(self, name: str, constant: int | None) -> None:
            super().__init__(name)
            self.constant = constant
            self.clf: Any = None
            self.load()

        def load(self) -> bool:
            x, y = load_iris(return_X_y=True)
            self.clf = LogisticRegression(max_iter=1000).fit(x, y)
            self.ready = True
            return True

        def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
            instances = get_predict_input(payload)
            result = self.clf.predict(instances)
            if self.constant is not None:
                result = [self.constant] * len(result)
            return get_predict_response(payload, result, self.name)

    kserve.ModelServer().start([IrisModel(ours.model_name, ours.constant)])


if __name__ == "__main__":
    _serve()
