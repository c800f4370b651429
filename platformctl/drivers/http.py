"""HTTP to platform hostnames without trusting DNS: magic-DNS names go straight to the IP they embed.

Many sslip.io/nip.io users get no DNS answer (router DNS-rebinding protection, VPNs:
knative/docs#4102, design §6), so we parse the embedded address ourselves and connect to it (or to an
explicit ``--ingress HOST:PORT``), sending the original name as the Host header and as TLS SNI.

Forms accepted (https://sslip.io examples table): dotted ``www.192.168.0.1.sslip.io``, dashed
``192-168-0-1.sslip.io``, dash-prefixed ``www-78-46-204-247.sslip.io`` and IPv6 with dashes only
``--1.sslip.io`` (::1), ``2a01-4f8-c17-b8f--2.sslip.io``. nip.io uses the same IPv4 forms.

httpx is imported inside functions: this module is reachable from the CLI at import time.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from platformctl.errors import UsageError

if TYPE_CHECKING:
    import httpx

MAGIC_DNS_SUFFIXES: tuple[str, ...] = ("sslip.io", "nip.io")


def _ipv4(text: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def _dashed_ipv4(label: str) -> str | None:
    parts = label.split("-")
    if len(parts) < 4:
        return None
    # "www-78-46-204-247": the address is the last four dash-separated parts.
    return _ipv4(".".join(parts[-4:]))


def _dashed_ipv6(label: str) -> str | None:
    if "-" not in label:
        return None
    try:
        return str(ipaddress.IPv6Address(label.replace("-", ":")))
    except ValueError:
        return None


def resolve_magic_dns(host: str) -> str | None:
    """The IP a ``*.sslip.io`` / ``*.nip.io`` name embeds, or None for any other (or malformed) name."""
    name = host.strip().rstrip(".").lower()
    if name.startswith("[") or not name:
        return None
    suffix = next((s for s in MAGIC_DNS_SUFFIXES if name == s or name.endswith("." + s)), None)
    if suffix is None:
        return None
    labels = name[: -len(suffix)].rstrip(".").split(".") if name != suffix else []
    labels = [lbl for lbl in labels if lbl]
    if len(labels) >= 4:
        dotted = _ipv4(".".join(labels[-4:]))
        if dotted is not None:
            return dotted
    # The label nearest the suffix wins: "frontend.default.127-0-0-1.sslip.io".
    for label in reversed(labels):
        found = _dashed_ipv4(label) or _dashed_ipv6(label)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class Endpoint:
    """Where to open the TCP connection (host may be an IP literal or a name)."""

    host: str
    port: int

    def authority(self) -> str:
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"{h}:{self.port}"


def parse_ingress(value: str, *, flag: str = "--ingress") -> Endpoint:
    """``HOST:PORT`` or ``[IPv6]:PORT`` → Endpoint; UsageError naming the flag otherwise."""
    text = value.strip()
    host: str
    port_text: str
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or not text[close + 1 :].startswith(":"):
            raise UsageError(f"{flag}: {value!r} is not HOST:PORT (IPv6 form: [::1]:8080)")
        host, port_text = text[1:close], text[close + 2 :]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host or ":" in host:
            raise UsageError(f"{flag}: {value!r} is not HOST:PORT, e.g. 127.0.0.1:8080")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise UsageError(f"{flag}: {value!r}: port must be 1-65535")
    return Endpoint(host, int(port_text))


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def connect_endpoint(url: str, ingress: Endpoint | None = None) -> Endpoint:
    """Where a request for ``url`` goes: the --ingress override, the embedded IP, or the name itself."""
    parts = urlsplit(url)
    if parts.hostname is None:
        raise UsageError(f"{url!r} is not an absolute http(s) URL")
    if ingress is not None:
        return ingress
    port = parts.port or default_port(parts.scheme)
    return Endpoint(resolve_magic_dns(parts.hostname) or parts.hostname, port)


@dataclass
class HttpResult:
    url: str
    status: int | None  # None: no HTTP response (connection refused, timeout, DNS)
    elapsed: float
    text: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def json(self) -> Any:
        import json

        return json.loads(self.text)


class HttpClient:
    """A thread-safe client that connects where :func:`connect_endpoint` says, keeping Host and SNI."""

    def __init__(
        self,
        *,
        ingress: Endpoint | None = None,
        verify: bool = True,
        ca_file: str | None = None,
        timeout: float = 30,
    ) -> None:
        import ssl

        import httpx

        self.ingress = ingress
        self.timeout = timeout
        tls: bool | ssl.SSLContext = verify
        if verify and ca_file:
            try:
                tls = ssl.create_default_context(cafile=ca_file)  # e.g. the cluster's self-signed CA
            except (OSError, ssl.SSLError) as exc:  # missing file, or no PEM certificate in it
                why = getattr(exc, "strerror", None) or exc
                raise UsageError(f"--cacert {ca_file}: not a readable PEM CA bundle ({why})") from exc
        # trust_env=False: proxies from the environment would defeat connecting to the embedded IP.
        self._client = httpx.Client(verify=tls, trust_env=False, follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def build(
        self, method: str, url: str, *, json_body: Any = None, headers: Mapping[str, str] | None = None
    ) -> httpx.Request:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{url!r}: only absolute http:// and https:// URLs can be checked")
        target = connect_endpoint(url, self.ingress)
        wire = urlunsplit((parts.scheme, target.authority(), parts.path or "/", parts.query, ""))
        host_header = parts.netloc.rsplit("@", 1)[-1]
        hdrs = {"Host": host_header, **(headers or {})}
        extensions: dict[str, Any] = {}
        if parts.scheme == "https":
            # SNI and certificate verification use the real name, not the IP we dial.
            extensions["sni_hostname"] = parts.hostname
        return self._client.build_request(method, wire, json=json_body, headers=hdrs, extensions=extensions)

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> HttpResult:
        """One request; transport failures become ``HttpResult(status=None, error=...)``, never raise."""
        import httpx

        req = self.build(method, url, json_body=json_body, headers=headers)
        t = self.timeout if timeout is None else timeout
        req.extensions["timeout"] = httpx.Timeout(t).as_dict()
        started = time.monotonic()
        try:
            resp = self._client.send(req)
        except httpx.TimeoutException:
            return HttpResult(url, None, time.monotonic() - started, error=f"timed out after {t:g}s")
        except httpx.HTTPError as exc:
            return HttpResult(url, None, time.monotonic() - started, error=f"{type(exc).__name__}: {exc}")
        return HttpResult(
            url,
            resp.status_code,
            time.monotonic() - started,
            text=resp.text,
            headers={k.lower(): v for k, v in resp.headers.items()},
        )


def curl_command(method: str, url: str, *, body: str | None = None, ingress: Endpoint | None = None) -> str:
    """A ready-to-paste curl that reaches ``url`` without DNS (``--resolve`` / ``--connect-to``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or default_port(parts.scheme)
    args = ["curl", "-sS"]
    if ingress is not None:
        args += ["--connect-to", f"{host}:{port}:{ingress.host}:{ingress.port}"]
    else:
        ip = resolve_magic_dns(host)
        if ip is not None:
            args += ["--resolve", f"{host}:{port}:{f'[{ip}]' if ':' in ip else ip}"]
    if method != "GET":
        args += ["-X", method]
    if body is not None:
        args += ["-H", "'Content-Type: application/json'", "-d", f"'{body}'"]
    args.append(url)
    return " ".join(args)


def httpie_command(method: str, url: str, *, body: str | None = None, ingress: Endpoint | None = None) -> str:
    """The httpie form: dial the IP (or ingress) and send the real name as the Host header."""
    parts = urlsplit(url)
    target = connect_endpoint(url, ingress)
    wire = urlunsplit((parts.scheme, target.authority(), parts.path or "/", parts.query, ""))
    if target.host == parts.hostname and ingress is None:
        wire = url
    out = ["http", method, wire, f"Host:{parts.netloc}"]
    cmd = " ".join(out)
    if body is not None:
        cmd = f"echo '{body}' | {cmd}"
    return cmd


def curl_host_header_command(url: str, *, ingress: Endpoint | None = None) -> str:
    """The Host-header form of a GET: dial the IP the name embeds (or the ingress) and send the real
    name as ``Host``; for networks whose DNS blocks magic-DNS answers (knative/docs#4102)."""
    parts = urlsplit(url)
    target = connect_endpoint(url, ingress)
    wire = urlunsplit((parts.scheme, target.authority(), parts.path or "/", parts.query, ""))
    return f"curl -sS -H 'Host: {parts.netloc}' {wire}"
