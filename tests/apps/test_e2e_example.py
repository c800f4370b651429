"""The issue's "done when", as far as this machine allows: deploy-app on the fake API server gives the
URL; the real example service (examples/hello-app/app.py, with a stand-in Dapr sidecar) answers it
through a Host-routing ingress (Debian's nginx, the Istio gateway's stand-in); the curl line deploy-app
printed works as pasted; smoke-test checks the app. No container runs here: the cluster is simulated."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps.conftest import IMAGE_V1, AppCluster
from tests.apps.test_hello_app import EXAMPLE, FakeDapr
from tests.conftest import requires_fake
from tests.support.modelserver import free_port
from tests.support.nginx import nginx_binary, nginx_ingress


@pytest.fixture
def example_port() -> Iterator[tuple[int, FakeDapr]]:
    """examples/hello-app/app.py as its container would run it: `python app.py`, PORT from the environment."""
    dapr = FakeDapr()
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "DAPR_HTTP_PORT": str(dapr.port),
        "STATESTORE_NAME": "statestore",
        "PUBSUB_NAME": "pubsub",
        "K_REVISION": "hello-00001",
    }
    proc = subprocess.Popen([sys.executable, str(EXAMPLE / "app.py")], env=env, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().decode().strip() == f"hello-app listening on :{port}"
        yield port, dapr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        dapr.server.shutdown()


def test_url_answers_through_the_ingress(
    app_cluster: AppCluster, tmp_path: Path, example_port: tuple[int, FakeDapr]
) -> None:
    requires_fake(app_cluster.target)
    binary, reason = nginx_binary()
    if binary is None:
        pytest.skip(reason)
    if shutil.which("curl") is None:
        pytest.skip("curl not installed: the printed command cannot be run")
    port, dapr = example_port
    host = "hello.default.127.0.0.1.sslip.io"
    with nginx_ingress(tmp_path, {host: port}) as ingress:
        ran = app_cluster.run(
            "deploy-app",
            "hello",
            "--image",
            IMAGE_V1,
            "--statestore",
            "statestore",
            "--pubsub",
            "pubsub",
            "--ingress",
            ingress.address,
        )
        assert ran.exit_code == 0, ran.output
        lines = ran.stdout.splitlines()
        curl = next(line for line in lines if line.startswith("curl -sS -H 'Host: "))
        assert f"http://{ingress.address}/" in curl
        # the pasted command, as a user would run it (only loopback is dialled)
        out = subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=30, check=True)
        answer = json.loads(out.stdout)
        assert answer["message"] == "hello from hello-app" and answer["visits"] == 1
        assert answer["revision"] == "hello-00001"
        resolve = next(line for line in lines if line.startswith("curl -sS --connect-to"))
        out = subprocess.run(shlex.split(resolve), capture_output=True, text=True, timeout=30, check=True)
        assert json.loads(out.stdout)["visits"] == 2
        assert dapr.state["statestore"]["visits"] == 2 and len(dapr.published) == 2
        smoke = app_cluster.run("smoke-test", "--ingress", ingress.address, "--only", "apps", "-o", "json")
        assert smoke.exit_code == 0, smoke.output
        (check,) = json.loads(smoke.stdout)["checks"]
        assert check["check"] == "app:hello" and check["status"] == 200
