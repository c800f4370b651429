"""Kubeconfig → authenticated API client, and the one HTTP path every engine request takes.

All requests go through :class:`KubeApi` (``ApiClient.param_serialize`` + ``call_api`` of the official
client, the same calls its DynamicClient makes), so requests are counted, errors become
:class:`~platformctl.drivers.kube.retry.ApiError` with the server's Status message, and nothing
caches discovery behind our back (DynamicClient writes a discovery cache file to /tmp that goes stale
when CRDs come and go).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from platformctl.drivers.kube.retry import ApiError, api_error_from_response
from platformctl.errors import ClusterError, ConfigError

PROBE_TIMEOUT = 5.0
REQUEST_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds for ordinary requests


def resolve_kubeconfig(kubeconfig: str | None, env: Mapping[str, str] | None = None) -> list[Path]:
    """The kubeconfig file(s) to read, as kubectl chooses them: an explicit path is one file and is
    never split; else every file $KUBECONFIG lists (merged); else ~/.kube/config."""
    from platformctl.drivers.kubeconfig import kubeconfig_chain

    if kubeconfig:
        return [Path(kubeconfig).expanduser()]
    return kubeconfig_chain(env)


def _describe(chain: Sequence[Path], explicit: bool) -> str:
    if explicit or len(chain) == 1:
        return str(chain[0])
    return f"$KUBECONFIG ({os.pathsep.join(str(p) for p in chain)})"


def _fix(explicit: bool) -> str:
    return "fix the file or pass another --kubeconfig" if explicit else "fix the file or set KUBECONFIG"


def load_client(kubeconfig: str | None, context: str | None) -> tuple[Any, str, str]:
    """Return (ApiClient, server URL, context name). ConfigError for a bad file or unknown context.

    ``kubeconfig`` (the --kubeconfig flag or cluster.kubeconfig) is one file; without it every file of
    $KUBECONFIG is read and merged with kubectl's rules (drivers/kubeconfig.py merge_chain)."""
    from platformctl.drivers.kubeconfig import merge_chain

    chain = resolve_kubeconfig(kubeconfig)
    explicit = bool(kubeconfig)
    where = _describe(chain, explicit)
    if not any(p.is_file() for p in chain):
        if explicit:
            raise ConfigError(f"kubeconfig {where} not found: pass --kubeconfig PATH or set KUBECONFIG")
        listed = "none of the files $KUBECONFIG lists exists" if len(chain) > 1 else "not found"
        raise ConfigError(f"kubeconfig {where}: {listed}; pass --kubeconfig PATH or set KUBECONFIG")
    for path in chain:
        if path.is_file():
            _check_kubeconfig_file(str(path), explicit)
    merged, origin = merge_chain(chain)
    names = [c["name"] for c in merged["contexts"]]
    if context is None:
        if not merged["current-context"]:
            raise ConfigError(
                f"kubeconfig {where} has no current-context: pass --context "
                f"(available: {', '.join(names) or 'none'})"
            )
        context = str(merged["current-context"])
        if context not in names:
            raise ConfigError(
                f"kubeconfig {where}: current-context {context!r} names no context "
                f"(available: {', '.join(names) or 'none'}); pass --context or run "
                "`kubectl config use-context NAME`"
            )
    elif context not in names:
        raise ConfigError(
            f"--context {context}: no such context in {where} (available: {', '.join(names) or 'none'})"
        )
    where = str(origin.get(context, where))
    entry = _check_context(merged, context, where, explicit)
    api_client = _new_client(merged, context, where, explicit, entry)
    server = str(api_client.configuration.host)
    return api_client, server, context


def _named(entries: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((e for e in entries if e.get("name") == name), None)


def _check_context(merged: dict[str, Any], context: str, where: str, explicit: bool) -> dict[str, Any]:
    """The context's cluster and user entries; a ConfigError naming the field when one is missing or
    holds data that cannot be used (the client would go on without credentials or CA, or crash)."""
    ctx = (_named(merged["contexts"], context) or {}).get("context")
    if not isinstance(ctx, dict):
        raise ConfigError(f"kubeconfig {where}: context {context!r} has no context: body; {_fix(explicit)}")
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    cluster = _named(merged["clusters"], str(cluster_name)) if cluster_name else None
    if cluster is None:
        raise ConfigError(
            f"kubeconfig {where}: context {context!r} points at cluster {cluster_name!r}, which is not "
            f"in clusters; {_fix(explicit)}"
        )
    user: dict[str, Any] | None = None
    if user_name:
        user = _named(merged["users"], str(user_name))
        if user is None:
            raise ConfigError(
                f"kubeconfig {where}: context {context!r} points at user {user_name!r}, which is not "
                f"in users; {_fix(explicit)}"
            )
    for kind, entry, fields in (
        ("clusters", cluster, ("certificate-authority-data",)),
        ("users", user, ("client-certificate-data", "client-key-data")),
    ):
        body = (entry or {}).get("cluster" if kind == "clusters" else "user")
        if not isinstance(body, dict):
            continue
        for field in fields:
            value = body.get(field)
            if value is None:
                continue
            try:
                decoded = base64.b64decode(str(value), validate=True)
            except ValueError:
                decoded = b""
            if b"-----BEGIN " not in decoded:
                raise ConfigError(
                    f"kubeconfig {where}: {kind}[{(entry or {}).get('name')}].{field} is not base64 of a "
                    f"PEM block; copy the value again from the cluster's kubeconfig"
                )
    return {"cluster": cluster, "user": user}


def _new_client(
    merged: dict[str, Any], context: str, where: str, explicit: bool, entry: dict[str, Any]
) -> Any:
    import logging

    from kubernetes import client as _client
    from kubernetes import config as _config
    from kubernetes.config.config_exception import ConfigException

    config: Any = _config  # the client is untyped
    configuration: Any = _client.Configuration()

    # The client reports a failing exec credential plugin on the root logger and goes on without
    # credentials; catch that record and name the plugin instead of a later 401.
    records: list[logging.LogRecord] = []

    class _Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    catcher = _Catch(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(catcher)
    try:
        api_client = config.new_client_from_config_dict(
            merged, context=context, persist_config=False, client_configuration=configuration
        )
    except ConfigException as exc:
        raise ConfigError(f"kubeconfig {where}, context {context}: {exc}") from exc
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"kubeconfig {where}, context {context}: malformed entries ({type(exc).__name__}: {exc}); "
            f"{_fix(explicit)}"
        ) from exc
    finally:
        root.removeHandler(catcher)
    user = (entry.get("user") or {}).get("user") or {}
    plugin = user.get("exec") if isinstance(user, dict) else None
    if isinstance(plugin, dict) and records:
        command = " ".join(str(p) for p in [plugin.get("command", "?"), *(plugin.get("args") or [])])
        why = (records[-1].getMessage().strip().splitlines() or ["no reason given"])[0]
        raise ClusterError(
            f"kubeconfig {where}, user {entry['user'].get('name')!r}: exec credential plugin "
            f"`{command}` failed: {why}",
            hint="run the plugin command by hand to see why, or refresh the login it needs",
        )
    ca = getattr(api_client.configuration, "ssl_ca_cert", None)
    if ca:
        import ssl

        try:
            ssl.create_default_context(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            body = entry["cluster"].get("cluster") or {}
            field = "certificate-authority"
            if "certificate-authority-data" in body:
                field = "certificate-authority-data"
            raise ConfigError(
                f"kubeconfig {where}: clusters[{entry['cluster'].get('name')}].{field} is not a usable "
                f"CA certificate ({exc}); {_fix(explicit)}"
            ) from exc
    return api_client


def _check_kubeconfig_file(path: str, explicit: bool = True) -> None:
    """ConfigError (exit 2) naming the file for what the client would raise as a bare traceback:
    unreadable file, invalid YAML, a top level that is not a mapping."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"kubeconfig {path}: cannot read it ({exc}); fix its permissions or "
            f"{'pass another --kubeconfig' if explicit else 'set KUBECONFIG'}"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"kubeconfig {path}: not valid YAML{at}; {_fix(explicit)}") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(
            f"kubeconfig {path}: not a kubeconfig (top level is not a mapping); {_fix(explicit)}"
        )


class _LegacyResponse:
    """The RESTResponse surface (status, reason, headers, read(), response) over urllib3's response."""

    def __init__(self, raw: Any) -> None:
        self.response = raw
        self.status = raw.status
        self.reason = raw.reason
        self.headers = raw.headers

    def read(self) -> bytes:
        data: bytes = self.response.data
        return data


class KubeApi:
    """Thin, counted JSON transport over the official client's ApiClient."""

    def __init__(self, api_client: Any, *, server: str, context: str) -> None:
        self.client = api_client
        self.server = server
        self.context = context
        self.request_count = 0
        self._lock = threading.Lock()

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
        timeout: Any = REQUEST_TIMEOUT,
        accept: str = "application/json",
        once: bool = False,
    ) -> Any:
        headers: dict[str, str] = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        if not hasattr(self.client, "param_serialize"):
            # the legacy REST layer JSON-encodes apply-patch bodies itself
            return self._send_legacy(method, path, query, headers, body, timeout)
        if headers.get("Content-Type") == "application/apply-patch+yaml" and not isinstance(body, str):
            body = json.dumps(body)  # JSON is YAML; sent verbatim
        m, url, hdrs, payload, post = self.client.param_serialize(
            method,
            path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        with self._lock:
            self.request_count += 1
        what = f"{method} {path}"
        try:
            if once and body is None and hasattr(self.client, "rest_client"):
                return self._send_once(m, url, hdrs, timeout)
            return self.client.call_api(
                m, url, header_params=hdrs, body=payload, post_params=post, _request_timeout=timeout
            )
        except ApiError:
            raise
        except Exception as exc:
            # urllib3 connection errors, or the client's own ApiException(status=0) for TLS errors.
            raise self._as_api_error(exc, what) from exc

    def _send_once(self, method: str, url: str, headers: dict[str, str], timeout: Any) -> Any:
        """One attempt, no urllib3 retries: the client's pool retries 3 times by default, so a 5 s
        timeout took 20 s against an unreachable server. The answer has the RESTResponse surface
        (status, reason, headers, read())."""
        import urllib3

        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        return self.client.rest_client.pool_manager.request(
            method,
            url,
            headers=headers,
            timeout=urllib3.Timeout(connect=connect, read=read),
            retries=False,
            preload_content=False,
        )

    def _as_api_error(self, exc: Exception, what: str) -> ApiError:
        """The client's ApiException (an HTTP answer) or a transport failure (no answer) as an ApiError."""
        status = getattr(exc, "status", None)
        if isinstance(status, int) and status > 0:
            return api_error_from_response(
                status,
                str(getattr(exc, "reason", "")),
                getattr(exc, "body", ""),
                getattr(exc, "headers", None),
                what,
            )
        return ApiError(
            f"{what}: cannot reach {self.server} (context {self.context}): {exc}",
            status=0,
            server_message=str(exc),
        )

    def _send_legacy(
        self,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        headers: dict[str, str],
        body: Any,
        timeout: Any,
    ) -> Any:
        """Older clients (31.0.0; python-legacy generator): call_api(path, method, …) returns urllib3's
        response and raises ApiException for non-2xx answers."""
        with self._lock:
            self.request_count += 1
        what = f"{method} {path}"
        try:
            raw = self.client.call_api(
                path,
                method,
                query_params=list(query),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
                _request_timeout=timeout,
            )
        except Exception as exc:
            raise self._as_api_error(exc, what) from exc
        return _LegacyResponse(raw)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
        timeout: Any = REQUEST_TIMEOUT,
        text: bool = False,
        with_status: bool = False,
        once: bool = False,
    ) -> Any:
        """One request; parsed JSON (or text) on 2xx, ApiError otherwise.

        ``with_status``: return ``(http_status, parsed)`` (an apply answers 201 when it created).
        ``once``: a GET without urllib3's own retries, so ``timeout`` is the whole wait (the probe).
        """
        resp = self._send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            timeout=timeout,
            accept="*/*" if text else "application/json",
            once=once,
        )
        try:
            data = resp.read()
        except Exception as exc:
            raise ApiError(f"{method} {path}: connection lost reading the answer: {exc}", status=0) from exc
        if not 200 <= int(resp.status) <= 299:
            raise api_error_from_response(
                int(resp.status), str(resp.reason or ""), data, resp.headers, f"{method} {path}"
            )
        decoded = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")
        if text:
            return (int(resp.status), decoded) if with_status else decoded
        parsed = json.loads(decoded) if decoded.strip() else None
        return (int(resp.status), parsed) if with_status else parsed

    def stream(self, path: str, query: Sequence[tuple[str, str]], read_timeout: float) -> Any:
        """Open a streaming GET (watch); returns the urllib3 response for kubernetes.watch.Watch."""
        resp = self._send("GET", path, query=query, timeout=(5.0, read_timeout))
        status = int(resp.status)
        if not 200 <= status <= 299:
            data = resp.read()
            raise api_error_from_response(status, str(resp.reason or ""), data, resp.headers, f"WATCH {path}")
        return resp.response


def probe(api: KubeApi) -> dict[str, Any]:
    """GET /version with a short timeout; ClusterError naming server and context on failure."""
    try:
        version = api.request("GET", "/version", timeout=(PROBE_TIMEOUT, PROBE_TIMEOUT), once=True)
    except ApiError as exc:
        if exc.status in (401, 403):
            raise ClusterError(
                f"credentials rejected by {api.server} (context {api.context}): {exc.status} {exc.reason}",
                hint="refresh the kubeconfig credentials or pick another --context",
            ) from exc
        if exc.status == 0 and "CERTIFICATE_VERIFY_FAILED" in exc.server_message:
            raise ClusterError(
                f"{api.server} (context {api.context}) presented a TLS certificate that the kubeconfig's "
                "certificate-authority-data (or certificate-authority) of that context's cluster does "
                f"not trust: {_short_reason(exc.server_message)}",
                hint="copy the cluster's CA again into the kubeconfig (kind: `kind export kubeconfig`), "
                "or pick another --context",
            ) from exc
        if exc.status == 0:
            raise ClusterError(
                f"cannot reach Kubernetes API server {api.server} (context {api.context}): "
                f"{_short_reason(exc.server_message)}",  # the full text: --verbose (exception chain)
                hint="is the cluster running? check --kubeconfig/--context",
            ) from exc
        raise ClusterError(
            f"Kubernetes API server {api.server} (context {api.context}) answered /version with "
            f"{exc.status}: {exc.server_message}"
        ) from exc
    return version if isinstance(version, dict) else {}


def _short_reason(message: str) -> str:
    """The OS-level cause inside urllib3's nested wording ("HTTPSConnectionPool(...): Max retries
    exceeded ... [Errno 111] Connection refused"), so the error stays one readable line."""
    import re

    found = re.search(r"\[Errno -?\d+\] [^'\")\]]+", message)
    if found:
        return found.group(0).strip()
    for marker in ("timed out", "CERTIFICATE_VERIFY_FAILED", "Name or service not known"):
        if marker in message:
            return marker
    return message
