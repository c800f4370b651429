"""Kubeconfig → authenticated API client, and the one HTTP path every engine request takes.

All requests go through :class:`KubeApi` (``ApiClient.param_serialize`` + ``call_api`` of the official
client, the same calls its DynamicClient makes), so requests are counted, errors become
:class:`~platformctl.drivers.kube.retry.ApiError` with the server's Status message, and nothing
caches discovery behind our back (DynamicClient writes a discovery cache file to /tmp that goes stale
when CRDs come and go).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from platformctl.drivers.kube.retry import ApiError, api_error_from_response
from platformctl.errors import ClusterError, ConfigError

PROBE_TIMEOUT = 5.0
REQUEST_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds for ordinary requests


def resolve_kubeconfig(kubeconfig: str | None, env: dict[str, str] | None = None) -> str:
    """Explicit path, else $KUBECONFIG (first entry), else ~/.kube/config."""
    environ = os.environ if env is None else env
    if kubeconfig:
        return str(Path(kubeconfig).expanduser())
    from_env = environ.get("KUBECONFIG", "")
    if from_env:
        return str(Path(from_env.split(os.pathsep)[0]).expanduser())
    return str(Path("~/.kube/config").expanduser())


def load_client(kubeconfig: str | None, context: str | None) -> tuple[Any, str, str]:
    """Return (ApiClient, server URL, context name). ConfigError for a bad file or unknown context."""
    from kubernetes import config as _config
    from kubernetes.config.config_exception import ConfigException

    config: Any = _config  # the client is untyped

    path = resolve_kubeconfig(kubeconfig)
    if not Path(path).is_file():
        raise ConfigError(
            f"kubeconfig {path} not found: pass --kubeconfig PATH or set KUBECONFIG",
        )
    _check_kubeconfig_file(path)
    try:
        contexts, active = config.list_kube_config_contexts(config_file=path)
    except ConfigException as exc:
        raise ConfigError(f"kubeconfig {path}: {exc}") from exc
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        # valid YAML mapping whose entries have the wrong shape (the client indexes blindly)
        raise ConfigError(
            f"kubeconfig {path}: malformed entries ({type(exc).__name__}: {exc}); "
            "fix the file or pass another --kubeconfig"
        ) from exc
    names = [c["name"] for c in contexts or []]
    if context is None:
        if not active:
            raise ConfigError(
                f"kubeconfig {path} has no current-context: pass --context "
                f"(available: {', '.join(names) or 'none'})"
            )
        context = str(active["name"])
    elif context not in names:
        raise ConfigError(
            f"--context {context}: no such context in {path} (available: {', '.join(names) or 'none'})"
        )
    try:
        api_client = config.new_client_from_config(config_file=path, context=context, persist_config=False)
    except ConfigException as exc:
        raise ConfigError(f"kubeconfig {path}, context {context}: {exc}") from exc
    except (TypeError, KeyError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"kubeconfig {path}, context {context}: malformed entries ({type(exc).__name__}: {exc}); "
            "fix the file or pass another --kubeconfig"
        ) from exc
    server = str(api_client.configuration.host)
    return api_client, server, context


def _check_kubeconfig_file(path: str) -> None:
    """ConfigError (exit 2) naming the file for what the client would raise as a bare traceback:
    unreadable file, invalid YAML, a top level that is not a mapping."""
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"kubeconfig {path}: cannot read it ({exc}); fix its permissions or pass another --kubeconfig"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(
            f"kubeconfig {path}: not valid YAML{at}; fix the file or pass another --kubeconfig"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"kubeconfig {path}: not a kubeconfig (top level is not a mapping); "
            "fix the file or pass another --kubeconfig"
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
            return self.client.call_api(
                m, url, header_params=hdrs, body=payload, post_params=post, _request_timeout=timeout
            )
        except ApiError:
            raise
        except Exception as exc:
            # urllib3 connection errors, or the client's own ApiException(status=0) for TLS errors.
            raise self._as_api_error(exc, what) from exc

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
    ) -> Any:
        """One request; parsed JSON (or text) on 2xx, ApiError otherwise.

        ``with_status``: return ``(http_status, parsed)`` (an apply answers 201 when it created).
        """
        resp = self._send(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            timeout=timeout,
            accept="*/*" if text else "application/json",
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
        version = api.request("GET", "/version", timeout=(PROBE_TIMEOUT, PROBE_TIMEOUT))
    except ApiError as exc:
        if exc.status in (401, 403):
            raise ClusterError(
                f"credentials rejected by {api.server} (context {api.context}): {exc.status} {exc.reason}",
                hint="refresh the kubeconfig credentials or pick another --context",
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
