"""https targets: smoke-test dials the embedded IP but sends the real name as SNI, so nginx (like the
Istio gateway) picks the right certificate and verification against the name succeeds. nginx's default
server has a different certificate, so a client without SNI would fail verification."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.smoke.conftest import DOMAIN
from tests.support.cli_main import run_main
from tests.support.conference_double import conference_double
from tests.support.nginx import Tls, nginx_ingress

pytestmark = [pytest.mark.nginx]

HOST = f"frontend.default.{DOMAIN}"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d: Path) -> Tls:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "1", "-subj", "/CN=platformctl-test-ca", cwd=d)  # fmt: skip
    for name, san in (("leaf", f"DNS:*.default.{DOMAIN}"), ("other", "DNS:other.example")):
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "1", "-extfile", f"{name}.ext", cwd=d)  # fmt: skip
    return Tls(d / "leaf.crt", d / "leaf.key", d / "other.crt", d / "other.key")


@pytest.fixture
def certs(tmp_path: Path, needs_nginx: None) -> Tls:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed: cannot make test certificates")
    d = tmp_path / "pki"
    d.mkdir()
    return make_certs(d)


def test_https_with_sni_verifies_against_the_name(tmp_path: Path, certs: Tls) -> None:
    ca = certs.cert.parent / "ca.crt"
    with conference_double() as double, nginx_ingress(tmp_path, {HOST: double.port}, tls=certs) as ingress:
        ran = run_main(
            ["smoke-test", "--no-cluster", "--url", f"frontend=https://{HOST}", "--ingress", ingress.address,
             "--cacert", str(ca), "--only", "health,frontend", "-o", "json", "--timeout", "5"]
        )  # fmt: skip
        # The certificate depends on SNI: an unrouted name gets the default server's (other.example) one.
        ctx = ssl.create_default_context(cafile=str(ca))
        unrouted = f"unrouted.default.{DOMAIN}"
        with (
            socket.create_connection(("127.0.0.1", ingress.port), timeout=5) as raw,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            ctx.wrap_socket(raw, server_hostname=unrouted).close()
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    checks = {c["check"]: c for c in json.loads(ran.stdout)["checks"]}
    assert set(checks) == {"health:frontend", "frontend:html", "frontend:info"}
    assert checks["frontend:info"]["url"] == f"https://{HOST}/api/service/info"


def test_https_without_the_ca_fails_verification(tmp_path: Path, certs: Tls) -> None:
    with conference_double() as double, nginx_ingress(tmp_path, {HOST: double.port}, tls=certs) as ingress:
        ran = run_main(
            ["smoke-test", "--no-cluster", "--url", f"frontend=https://{HOST}", "--ingress", ingress.address,
             "--only", "health", "-o", "json", "--timeout", "2", "--retries", "0"]
        )  # fmt: skip
        insecure = run_main(
            ["smoke-test", "--no-cluster", "--url", f"frontend=https://{HOST}", "--ingress", ingress.address,
             "--only", "health", "-o", "json", "--insecure"]
        )  # fmt: skip
    assert ran.exit_code == 1
    check = json.loads(ran.stdout)["checks"][0]
    assert check["status"] is None and "CERTIFICATE_VERIFY_FAILED" in check["detail"]
    assert insecure.exit_code == 0, insecure.stderr
