"""Magic-DNS parsing (forms from the sslip.io examples table) and the request/command builders."""

from __future__ import annotations

import pytest

from platformctl.drivers.http import (
    Endpoint,
    HttpClient,
    connect_endpoint,
    curl_command,
    httpie_command,
    parse_ingress,
    resolve_magic_dns,
)
from platformctl.errors import UsageError


@pytest.mark.parametrize(
    ("host", "ip"),
    [
        ("127.0.0.1.sslip.io", "127.0.0.1"),
        ("frontend.default.127.0.0.1.sslip.io", "127.0.0.1"),
        ("sklearn-iris-predictor.default.127.0.0.1.sslip.io", "127.0.0.1"),
        ("192-168-0-1.sslip.io", "192.168.0.1"),
        ("www.192-168-0-1.sslip.io", "192.168.0.1"),
        ("www-78-46-204-247.sslip.io", "78.46.204.247"),
        ("frontend.default.10-0-0-7.sslip.io", "10.0.0.7"),
        ("--1.sslip.io", "::1"),
        ("2a01-4f8-c17-b8f--2.sslip.io", "2a01:4f8:c17:b8f::2"),
        ("app.2607-f8b0-400a-800--200e.sslip.io", "2607:f8b0:400a:800::200e"),
        ("app.10.0.0.5.nip.io", "10.0.0.5"),
        ("app-10-0-0-5.nip.io", "10.0.0.5"),
        ("Frontend.Default.127.0.0.1.SSLIP.IO", "127.0.0.1"),
        ("frontend.default.127.0.0.1.sslip.io.", "127.0.0.1"),
    ],
)
def test_embedded_ip(host: str, ip: str) -> None:
    assert resolve_magic_dns(host) == ip


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "127.0.0.1",
        "sslip.io",
        "frontend.sslip.io",
        "a.999.0.0.1.sslip.io",
        "1-2-3.sslip.io",
        "frontend.default.127.0.0.1.sslip.io.example.com",
        "127.0.0.1.notsslip.io",
        "sklearn-iris.default.sslip.io",
        "",
    ],
)
def test_not_magic_dns(host: str) -> None:
    assert resolve_magic_dns(host) is None


def test_parse_ingress() -> None:
    assert parse_ingress("127.0.0.1:8080") == Endpoint("127.0.0.1", 8080)
    assert parse_ingress("[::1]:31080") == Endpoint("::1", 31080)
    assert parse_ingress("gateway.local:443").authority() == "gateway.local:443"
    assert Endpoint("::1", 80).authority() == "[::1]:80"
    for bad in ("127.0.0.1", "host:0", "host:99999", "::1:80", ":80", "[::1]80"):
        with pytest.raises(UsageError, match="--ingress"):
            parse_ingress(bad)


def test_connect_endpoint() -> None:
    assert connect_endpoint("http://frontend.default.127.0.0.1.sslip.io") == Endpoint("127.0.0.1", 80)
    assert connect_endpoint("https://x.10-1-2-3.nip.io:8443/p") == Endpoint("10.1.2.3", 8443)
    assert connect_endpoint("http://example.com/") == Endpoint("example.com", 80)
    override = Endpoint("127.0.0.1", 9999)
    assert connect_endpoint("http://frontend.default.127.0.0.1.sslip.io", override) is override


def test_request_dials_ip_with_host_header_and_sni() -> None:
    with HttpClient() as client:
        req = client.build("GET", "https://frontend.default.192-168-1-5.sslip.io/api/service/info")
        assert str(req.url) == "https://192.168.1.5/api/service/info"
        assert req.headers["host"] == "frontend.default.192-168-1-5.sslip.io"
        assert req.extensions["sni_hostname"] == "frontend.default.192-168-1-5.sslip.io"
        plain = client.build(
            "POST", "http://m.default.127.0.0.1.sslip.io:8080/v1/models/m:predict", json_body={}
        )
        assert str(plain.url) == "http://127.0.0.1:8080/v1/models/m:predict"
        assert plain.headers["host"] == "m.default.127.0.0.1.sslip.io:8080"
        assert "sni_hostname" not in plain.extensions
    with HttpClient(ingress=Endpoint("::1", 31080)) as client:
        req = client.build("GET", "http://frontend.default.127.0.0.1.sslip.io/")
        assert str(req.url) == "http://[::1]:31080/"
        assert req.headers["host"] == "frontend.default.127.0.0.1.sslip.io"
    with HttpClient() as client, pytest.raises(UsageError):
        client.build("GET", "ftp://x.127.0.0.1.sslip.io/")


def test_paste_ready_commands() -> None:
    url = "http://sklearn-iris.default.127.0.0.1.sslip.io/v1/models/sklearn-iris:predict"
    assert "--resolve sklearn-iris.default.127.0.0.1.sslip.io:80:127.0.0.1" in curl_command(
        "POST", url, body="{}"
    )
    connect = curl_command("GET", url, ingress=Endpoint("127.0.0.1", 8080))
    assert "--connect-to sklearn-iris.default.127.0.0.1.sslip.io:80:127.0.0.1:8080" in connect
    v6 = curl_command("GET", "http://a.--1.sslip.io/")
    assert "--resolve a.--1.sslip.io:80:[::1]" in v6
    assert "--resolve" not in curl_command("GET", "http://example.com/")
    hp = httpie_command("POST", url, body="{}")
    assert "http POST http://127.0.0.1:80/v1/models/sklearn-iris:predict" in hp
    assert "Host:sklearn-iris.default.127.0.0.1.sslip.io" in hp


def test_raw_content_is_sent_byte_for_byte() -> None:
    # predict --data: the user's JSON file goes out exactly as written (not re-serialized).
    body = b'{ "instances" : [ [6.8, 2.8, 4.8, 1.4] ] }\n'
    with HttpClient() as client:
        req = client.build(
            "POST",
            "http://m.default.127.0.0.1.sslip.io/v1/models/m:predict",
            content=body,
            headers={"Content-Type": "application/json"},
        )
    assert req.content == body
    assert req.headers["content-type"] == "application/json"
    assert req.headers["host"] == "m.default.127.0.0.1.sslip.io"
