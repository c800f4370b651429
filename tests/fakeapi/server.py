"""The HTTP face of the fake: routing, request decoding, Status errors, watch streaming.

A `ThreadingHTTPServer` on 127.0.0.1:0 speaking HTTP/1.1 with keep-alive (the kubernetes client
reuses connections through urllib3); watch responses stream newline-delimited JSON events and
close the connection when they end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from tests.fakeapi import apply as ssa
from tests.fakeapi import errors
from tests.fakeapi.apply import clone
from tests.fakeapi.errors import ApiError
from tests.fakeapi.resources import ResourceType
from tests.fakeapi.selectors import field_matcher, label_matcher

if TYPE_CHECKING:
    from tests.fakeapi.fake import FakeApiServer, RequestRecord

# The Kubernetes of the default version set's kind node image (manifests/lock.yaml).
VERSION_INFO = {
    "major": "1",
    "minor": "34",
    "gitVersion": "v1.34.0",
    "gitCommit": "fake",
    "gitTreeState": "clean",
    "buildDate": "2025-08-01T00:00:00Z",
    "goVersion": "go1.23.11",
    "compiler": "gc",
    "platform": "linux/amd64",
}
DEFAULT_WATCH_TIMEOUT = 1800.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeApiServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # clients dropping keep-alive connections (or "reset" faults) are normal here
        exc = sys.exc_info()[1]
        if not isinstance(exc, ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without these every keep-alive request waits ~40 ms for the client's delayed ACK (Nagle):
    # buffer each response into one write and set TCP_NODELAY (engine helper measured 48 ms → 7 ms).
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server
    _logged: RequestRecord | None = None

    def send_response(self, code: int, message: str | None = None) -> None:
        if self._logged is not None:
            self._logged.status = code  # the request log keeps each request's answer
        super().send_response(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- plumbing --------------------------------------------------------------------------

    def _send(
        self,
        code: int,
        payload: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, code: int, obj: Any) -> None:
        self._send(code, json.dumps(obj, separators=(",", ":")).encode())

    def _send_error(self, err: ApiError) -> None:
        self._send(err.code, json.dumps(err.body()).encode(), headers=err.headers)

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self._logged = fake._record(method, path, split.query)
        fault = fake.faults.take(method, path)
        if fault is not None:
            self._answer_fault(fault)
            return
        try:
            if fake.token and self.headers.get("Authorization") != f"Bearer {fake.token}":
                raise ApiError(401, "Unauthorized", "Unauthorized")
            self._dispatch(method, path, query, raw)
        except ApiError as err:
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _answer_fault(self, fault: Any) -> None:
        if fault.kind == "reset":
            # close without a status line: the client sees RemoteDisconnected / ProtocolError
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.kind == "429":
            err = ApiError(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
                {"retryAfterSeconds": fault.retry_after},
                headers={"Retry-After": str(fault.retry_after)},
            )
        elif fault.kind == "webhook":
            msg = fault.webhook_message()
            err = ApiError(500, "InternalError", msg, {"causes": [{"message": msg.split(": ", 1)[1]}]})
        elif fault.status == 503:
            err = ApiError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        else:
            msg = "Internal error occurred: injected fault"
            err = ApiError(fault.status, "InternalError", msg, {"causes": [{"message": "injected fault"}]})
        self._send_error(err)

    # -- routing ---------------------------------------------------------------------------

    def _dispatch(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        fake = self.server.fake
        reg = fake.registry
        if path == "/version":
            self._send_json(200, fake.version_info)
            return
        if method == "POST" and path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews":
            self._send_json(201, fake.access_review(raw))
            return
        if path in ("/healthz", "/readyz", "/livez"):
            self._send(200, b"ok", "text/plain")
            return
        if path == "/api":
            self._send(200, reg.api_versions_json())
            return
        if path == "/apis":
            self._send(200, reg.api_groups_json())
            return
        # Clients percent-encode path segments (ClusterRole names with ":"); the apiserver decodes them.
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if not rest:
            doc = reg.resource_list_json(group, version)
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
            self._send(200, doc)
            return
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            nrt = reg.lookup(group, version, rest[2])
            if nrt is not None and nrt.namespaced:
                namespace, rest = rest[1], rest[2:]
        rt = reg.lookup(group, version, rest[0])
        if rt is None or (namespace is None and rt.namespaced and len(rest) > 1) or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        if sub and sub not in (("status",) if rt.status_subresource else ()) + rt.extra_subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        req = Request(
            fake,
            rt,
            version,
            namespace,
            name,
            sub,
            query,
            raw,
            self.headers.get("Content-Type", ""),
            self.headers.get("User-Agent", ""),
        )
        if method == "GET" and name is None and (query.get("watch") or "").lower() in ("true", "1"):
            self._watch(req)
            return
        if method == "GET" and sub == "log":
            self._send(
                200, fake.controllers.pod_log(namespace or "", name or "", query).encode(), "text/plain"
            )
            return
        code, body = req.run(method)
        self._send_json(code, body)

    # -- watch -----------------------------------------------------------------------------

    def _watch(self, req: Request) -> None:
        fake = self.server.fake
        store = fake.store
        timeout = float(req.query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        deadline = time.monotonic() + timeout
        labels = label_matcher(req.query.get("labelSelector"))
        fields = field_matcher(req.query.get("fieldSelector"))
        rt, ns = req.rt, req.namespace

        def wanted(key: tuple[str, str], obj: dict[str, Any]) -> bool:
            if key != rt.key:
                return False
            meta = obj.get("metadata") or {}
            if ns is not None and meta.get("namespace") != ns:
                return False
            return labels(meta.get("labels") or {}) and fields(obj)

        bookmarks = (req.query.get("allowWatchBookmarks") or "").lower() in ("true", "1")
        rv_param = req.query.get("resourceVersion") or ""
        initial: list[tuple[str, dict[str, Any]]] = []
        with store.lock:
            if rv_param in ("", "0"):
                initial = [("ADDED", o) for o in store.objects_of(rt, ns) if wanted(rt.key, o)]
                cursor = store.resource_version
            else:
                try:
                    cursor = int(rv_param)
                except ValueError as exc:
                    raise errors.bad_request(f"invalid resourceVersion {rv_param!r}") from exc
                full = len(store.events) == store.events.maxlen
                if full and store.events and cursor < store.events[0][0] - 1:
                    initial = [
                        (
                            "ERROR",
                            errors.status_body(
                                410, "Expired", f"too old resource version: {cursor} ({store.events[0][0]})"
                            ),
                        )
                    ]
                    deadline = 0.0
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        try:
            for event_type, obj in initial:
                self._write_event(event_type, req.view(obj) if event_type != "ERROR" else obj)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or store.closed:
                    break
                batch: list[tuple[str, dict[str, Any]]] = []
                with store.changed:
                    if store.resource_version <= cursor:
                        store.changed.wait(timeout=min(remaining, 1.0))
                    if store.closed:
                        break
                    for ev_rv, key, ev_type, obj in reversed(store.events):
                        if ev_rv <= cursor:
                            break
                        if wanted(key, obj):
                            batch.append((ev_type, obj))
                    cursor = store.resource_version
                for ev_type, obj in reversed(batch):
                    self._write_event(ev_type, req.view(obj))
            if bookmarks and not store.closed and deadline > 0:
                # like the apiserver before a watch times out: where to resume from
                mark = {
                    "kind": rt.kind,
                    "apiVersion": rt.api_version(req.version),
                    "metadata": {"resourceVersion": str(cursor)},
                }
                self._write_event("BOOKMARK", mark)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    def _write_event(self, event_type: str, obj: dict[str, Any]) -> None:
        line = json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()


class Request:
    """One resource request, decoded; `run` returns (HTTP code, JSON body)."""

    def __init__(
        self,
        fake: FakeApiServer,
        rt: ResourceType,
        version: str,
        namespace: str | None,
        name: str | None,
        sub: str,
        query: dict[str, str],
        raw: bytes,
        content_type: str,
        user_agent: str,
    ) -> None:
        self.fake = fake
        self.store = fake.store
        self.rt = rt
        self.version = version
        self.namespace = namespace
        self.name = name
        self.sub = sub
        self.query = query
        self.raw = raw
        self.content_type = content_type.split(";")[0].strip()
        self.dry_run = query.get("dryRun") == "All"
        # the apiserver names an unnamed Update manager after the client's user agent
        self.manager = query.get("fieldManager") or (user_agent.split("/")[0] or "unknown")

    def view(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as the requested version (no conversion: only apiVersion changes)."""
        want = self.rt.api_version(self.version)
        return obj if obj.get("apiVersion") == want else {**obj, "apiVersion": want}

    def body(self) -> Any:
        if not self.raw:
            raise errors.bad_request("the request body is empty")
        try:
            return json.loads(self.raw)
        except ValueError:
            pass
        try:
            return yaml.safe_load(self.raw)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error decoding request body: {exc}") from exc

    def run(self, method: str) -> tuple[int, Any]:
        if method == "GET":
            return (200, self._get()) if self.name else (200, self._list())
        if method == "POST" and self.name is None:
            return self._create()
        if method == "PUT" and self.name:
            return self._replace()
        if method == "PATCH" and self.name:
            return self._patch()
        if method == "DELETE":
            return (200, self._delete()) if self.name else (200, self._delete_collection())
        raise ApiError(
            405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
        )

    # -- verbs -----------------------------------------------------------------------------

    def _current(self) -> dict[str, Any]:
        obj = self.store.get(self.rt, self.namespace or "", self.name or "")
        if obj is None:
            raise errors.not_found(self.rt, self.name or "")
        return obj

    def _get(self) -> dict[str, Any]:
        return self.view(self._current())

    def _list(self) -> dict[str, Any]:
        labels = label_matcher(self.query.get("labelSelector"))
        fields = field_matcher(self.query.get("fieldSelector"))
        with self.store.lock:
            items = [
                self.view(o)
                for o in self.store.objects_of(self.rt, self.namespace)
                if labels((o.get("metadata") or {}).get("labels") or {}) and fields(o)
            ]
            rv = str(self.store.resource_version)
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return {
            "kind": f"{self.rt.kind}List",
            "apiVersion": self.rt.api_version(self.version),
            "metadata": {"resourceVersion": rv},
            "items": items,
        }

    def _check_identity(self, obj: Any, *, need_name: bool) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise errors.bad_request("the request body must be a JSON object")
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise errors.bad_request("metadata must be an object")
        if self.rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != self.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = self.namespace
        if need_name and meta.get("name") and meta["name"] != self.name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({self.name})"
            )
        if need_name:
            meta["name"] = self.name
        return obj

    def _create(self) -> tuple[int, dict[str, Any]]:
        obj = self._check_identity(self.body(), need_name=False)
        if self.rt.status_subresource and self.rt.key != ("", "namespaces"):
            obj.pop("status", None)
        self.fake.controllers.default(self.rt, obj, None)
        ssa.record_update(
            None,
            obj,
            manager=self.manager,
            keyed=self.rt.builtin,
            api_version=self.rt.api_version(self.version),
            drop_status=self.rt.status_subresource,
        )
        stored = self.store.create(self.rt, obj, dry_run=self.dry_run)
        return 201, self.view(stored)

    def _finish_update(self, old: dict[str, Any], new: dict[str, Any], apply_manager: bool) -> dict[str, Any]:
        """Status isolation, defaulting, managedFields (for Update), then store."""
        if self.rt.status_subresource:
            if self.sub == "status":
                managed = (new.get("metadata") or {}).get("managedFields")
                new = {**clone(old), "status": new.get("status", {})}
                if managed is not None:
                    new["metadata"]["managedFields"] = managed
            elif self.rt.key != ("", "namespaces"):
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
        self.fake.controllers.default(self.rt, new, old)
        if apply_manager:
            ssa.record_update(
                old,
                new,
                manager=self.manager,
                keyed=self.rt.builtin,
                api_version=self.rt.api_version(self.version),
                subresource=self.sub,
                drop_status=self.rt.status_subresource and self.sub != "status",
            )
        return self.store.replace(self.rt, old, new, dry_run=self.dry_run)

    def _replace(self) -> tuple[int, dict[str, Any]]:
        new = self._check_identity(self.body(), need_name=True)
        with self.store.lock:
            old = self._current()
            want_rv = new["metadata"].get("resourceVersion")
            if want_rv and want_rv != old["metadata"].get("resourceVersion"):
                raise errors.conflict(self.rt, self.name or "")
            return 200, self.view(self._finish_update(old, new, True))

    def _patch(self) -> tuple[int, dict[str, Any]]:
        ctype = self.content_type
        patch = self.body()
        if ctype == "application/apply-patch+yaml":
            return self._apply(patch)
        with self.store.lock:
            old = self._current()
            try:
                if ctype == "application/json-patch+json" or (
                    ctype == "application/json" and isinstance(patch, list)
                ):
                    new = ssa.json_patch(old, patch)
                elif ctype in (
                    "application/merge-patch+json",
                    "application/strategic-merge-patch+json",
                    "application/json",
                ):
                    # strategic merge is treated as a JSON merge patch (lists replaced, no $patch directives)
                    new = ssa.merge_patch(old, patch)
                else:
                    raise ApiError(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json, "
                        "application/apply-patch+yaml",
                    )
            except ssa.JsonPatchError as exc:
                raise ApiError(
                    422, "Invalid", f"the server rejected our request due to an error in our request: {exc}"
                ) from exc
            new = clone(new)
            want_rv = (
                (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            )
            if want_rv and want_rv != old["metadata"].get("resourceVersion"):
                raise errors.conflict(self.rt, self.name or "")
            new["metadata"]["resourceVersion"] = old["metadata"].get("resourceVersion")
            return 200, self.view(self._finish_update(old, new, True))

    def _apply(self, patch: Any) -> tuple[int, dict[str, Any]]:
        if "fieldManager" not in self.query:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: '
                "fieldManager: Required value: is required for apply patch",
            )
        if not isinstance(patch, dict) or not patch.get("apiVersion") or not patch.get("kind"):
            raise errors.bad_request("invalid object: apiVersion and kind must be set for apply")
        patch = self._check_identity(patch, need_name=True)
        manager = self.query["fieldManager"]
        force = (self.query.get("force") or "").lower() in ("true", "1")
        keyed = self.rt.builtin
        api_version = self.rt.api_version(self.version)
        drop_status = self.rt.status_subresource and self.sub != "status"
        with self.store.lock:
            old = self.store.get(self.rt, self.namespace or "", self.name or "")
            # SSA is idempotent: the same body from the same manager on the state it produced is a no-op
            memo_key = (self.rt.key, self.namespace or "", self.name or "", manager, self.sub)
            digest = hashlib.sha256(self.raw).hexdigest()
            spec_key = (self.rt.key, (self.namespace or "") if self.rt.namespaced else "", self.name or "")
            if old is not None and self.fake.apply_memo.get(memo_key) == (
                self.store.spec_revision.get(spec_key),
                digest,
            ):
                return 200, self.view(old)
            try:
                if old is None:
                    if self.sub:
                        raise errors.not_found(self.rt, self.name or "")
                    obj = ssa.apply(
                        None,
                        patch,
                        manager=manager,
                        force=force,
                        keyed=keyed,
                        api_version=api_version,
                        drop_status=drop_status,
                    )
                    self.fake.controllers.default(self.rt, obj, None)
                    created = self.store.create(self.rt, obj, dry_run=self.dry_run)
                    if not self.dry_run:
                        self.fake.apply_memo[memo_key] = (self.store.spec_revision.get(spec_key), digest)
                    return 201, self.view(created)
                new = ssa.apply(
                    old,
                    patch,
                    manager=manager,
                    force=force,
                    keyed=keyed,
                    api_version=api_version,
                    subresource=self.sub,
                    drop_status=drop_status,
                )
            except ssa.ApplyConflict as exc:
                causes = [
                    {"reason": "FieldManagerConflict", "message": f"conflict with {m}", "field": p}
                    for m, p in exc.conflicts
                ]
                raise ApiError(409, "Conflict", str(exc), {"causes": causes}) from exc
            stored = self._finish_update(old, new, False)
            if not self.dry_run:
                self.fake.apply_memo[memo_key] = (self.store.spec_revision.get(spec_key), digest)
            return 200, self.view(stored)

    def _delete(self) -> dict[str, Any]:
        with self.store.lock:
            obj = self.store.delete(self.rt, self.namespace or "", self.name or "", dry_run=self.dry_run)
            still = self.store.get(self.rt, self.namespace or "", self.name or "")
        if still is not None:
            return self.view(still)  # pending finalizers: the apiserver answers with the object
        details: dict[str, Any] = {
            "name": self.name,
            "kind": self.rt.plural,
            "uid": obj["metadata"].get("uid"),
        }
        if self.rt.group:
            details["group"] = self.rt.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _delete_collection(self) -> dict[str, Any]:
        listed = self._list()
        for obj in listed["items"]:
            meta = obj["metadata"]
            with contextlib.suppress(ApiError):  # gone meanwhile
                self.store.delete(self.rt, meta.get("namespace", ""), meta["name"], dry_run=self.dry_run)
        return listed
