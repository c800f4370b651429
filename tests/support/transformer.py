"""A REAL KServe transformer (kserve.Model with preprocess/postprocess) in front of a predictor.

Run as a script in a subprocess: ``python transformer.py --http_port N --model_name NAME
--predictor_host 127.0.0.1:P``. kserve's ModelServer reads --predictor_host/--predictor_protocol
itself (kserve 0.16 model_server.py) and the base class's ``predict`` forwards to
``http://PREDICTOR_HOST/v1/models/NAME:predict``, exactly as in a two-tier InferenceService.

preprocess: instances given as named iris features (``{"sepal_length": ..., ...}``) become the
4-column rows the sklearn predictor expects; a missing feature is a 400 (kserve InvalidInput).
postprocess: class ids become species names (``{"predictions": ["versicolor", ...]}``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.modelserver import _wait_ready, free_port, model_python

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SPECIES = ("setosa", "versicolor", "virginica")


@dataclass
class TransformerProcess:
    port: int
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path


@contextmanager
def transformer(
    tmp_dir: Path, *, name: str, predictor_port: int, timeout: float = 90
) -> Iterator[TransformerProcess]:
    python, reason = model_python()
    if python is None:
        raise RuntimeError(reason)
    port = free_port()
    log = tmp_dir / f"transformer-{port}.log"
    cmd = [python, str(Path(__file__).resolve()), "--http_port", str(port), "--model_name", name]
    cmd += ["--predictor_host", f"127.0.0.1:{predictor_port}", "--predictor_protocol", "v1"]
    cmd += ["--enable_grpc", "false", "--workers", "1"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=tmp_dir)
    try:
        _wait_ready(port, name, proc, log, timeout)
        yield TransformerProcess(port, name, proc, log)
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
    parser.add_argument("--model_name", required=True)
    ours, _ = parser.parse_known_args()

    import kserve
    import kserve.protocol.rest.server as rest_server
    from kserve.errors import InvalidInput

    class LoopbackConfig(rest_server.uvicorn.Config):  # type: ignore[misc]
        """kserve 0.16 hard-codes host 0.0.0.0 (protocol/rest/server.py); tests stay on loopback."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["host"] = "127.0.0.1"
            super().__init__(*args, **kwargs)

    rest_server.uvicorn.Config = LoopbackConfig

    class IrisTransformer(kserve.Model):  # type: ignore[misc]
        def __init__(self, name: str) -> None:
            super().__init__(name)
            self.ready = True

        def preprocess(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
            rows = []
            for i, inst in enumerate(payload.get("instances") or []):
                if not isinstance(inst, dict) or any(f not in inst for f in FEATURES):
                    raise InvalidInput(f"instance {i}: expected the features {', '.join(FEATURES)}")
                rows.append([float(inst[f]) for f in FEATURES])
            return {"instances": rows}

        def postprocess(
            self, result: Any, headers: dict[str, str] | None = None, response_headers: Any = None
        ) -> Any:
            return {"predictions": [SPECIES[int(p)] for p in result["predictions"]]}

    kserve.ModelServer().start([IrisTransformer(ours.model_name)])


if __name__ == "__main__":
    _serve()
