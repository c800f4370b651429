"""Real peers for smoke-test: kserve's model server (sklearn iris), the conference double, Debian nginx.

Model servers are session-scoped (startup ≈ 3-4 s each); nginx and the double are per test so
faults and cold starts do not leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.conference_double import ConferenceDouble, conference_double
from tests.support.modelserver import ModelServerProcess, model_python, model_server
from tests.support.nginx import NginxIngress, nginx_binary, nginx_ingress

DOMAIN = "127.0.0.1.sslip.io"
SERVICES = ("frontend", "agenda-service", "c4p-service", "notifications-service")
IRIS_HOST = f"sklearn-iris.default.{DOMAIN}"
IRIS_PREDICTOR_HOST = f"sklearn-iris-predictor.default.{DOMAIN}"
WRONG_HOST = f"wrong-iris.default.{DOMAIN}"


def service_host(name: str, namespace: str = "default") -> str:
    return f"{name}.{namespace}.{DOMAIN}"


@pytest.fixture(scope="session")
def iris_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServerProcess]:
    python, reason = model_python()
    if python is None:
        pytest.skip(reason)
    with model_server(tmp_path_factory.mktemp("iris")) as server:
        yield server


@pytest.fixture(scope="session")
def wrong_iris_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelServerProcess]:
    """The same real server, serving a model that always predicts class 0 (the "wrong model" case)."""
    python, reason = model_python()
    if python is None:
        pytest.skip(reason)
    with model_server(tmp_path_factory.mktemp("wrong-iris"), constant=0) as server:
        yield server


@pytest.fixture
def needs_nginx() -> None:
    binary, reason = nginx_binary()
    if binary is None:
        pytest.skip(reason)


@pytest.fixture
def double() -> Iterator[ConferenceDouble]:
    with conference_double(cold_start=0.3) as d:
        yield d


def routes(double: ConferenceDouble, model_port: int) -> dict[str, int]:
    r = {service_host(s): double.port for s in SERVICES}
    r[IRIS_HOST] = model_port
    r[IRIS_PREDICTOR_HOST] = model_port
    return r


@pytest.fixture
def ingress(
    tmp_path: Path, needs_nginx: None, double: ConferenceDouble, iris_server: ModelServerProcess
) -> Iterator[NginxIngress]:
    with nginx_ingress(tmp_path, routes(double, iris_server.port)) as n:
        yield n
