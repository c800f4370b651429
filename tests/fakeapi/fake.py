"""FakeApiServer: the object tests use (start/stop, kubeconfig, inspection, fault injection)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

from tests.fakeapi.controllers import Controllers, NeverReady
from tests.fakeapi.faults import Fault, FaultSet
from tests.fakeapi.resources import Registry
from tests.fakeapi.server import VERSION_INFO, Handler, _Server
from tests.fakeapi.store import Store

CONTEXT = "fake"
TOKEN = "fake-token"


class RequestRecord(tuple[str, str]):
    """One logged request. It unpacks and compares as ``(method, path)`` (what older callers use);
    ``query`` (the raw query string) and ``status`` (the HTTP answer, None for a reset) tell a watch
    from a list and a 404 from a 200."""

    query: str
    status: int | None

    def __new__(cls, method: str, path: str, query: str = "") -> RequestRecord:
        rec = super().__new__(cls, (method, path))
        rec.query = query
        rec.status = None
        return rec

    @property
    def method(self) -> str:
        return self[0]

    @property
    def path(self) -> str:
        return self[1]

    @property
    def params(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query, keep_blank_values=True).items()}

    @property
    def is_watch(self) -> bool:
        return self.params.get("watch", "").lower() in ("true", "1")

    def __repr__(self) -> str:
        q = f"?{self.query}" if self.query else ""
        return f"RequestRecord({self[0]} {self[1]}{q} -> {self.status})"


NODE_NAME = "fake-control-plane"
NODE_CPU = "8"
NODE_MEMORY = "16Gi"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def default_storage_class(name: str = "standard") -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def node(name: str, *, cpu: str, memory: str) -> dict[str, Any]:
    capacity = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {"capacity": dict(capacity), "allocatable": dict(capacity)},
    }


class FakeApiServer:
    """An in-process Kubernetes API server for tests; see docs/fake-apiserver.md for what it models."""

    context = CONTEXT
    # The fake's node: what a laptop kind node typically offers (allocatable, for sizing checks).
    node_name = NODE_NAME

    def __init__(
        self, latency: dict[str, float] | None = None, controllers: bool = True, token: str | None = TOKEN
    ) -> None:
        self.registry = Registry()
        self.store = Store(self.registry)
        self.controllers = Controllers(self.store, self.registry, latency, controllers)
        self.faults = FaultSet()
        self.token = token
        # What /version answers (tests set gitVersion to play other Kubernetes releases).
        self.version_info: dict[str, str] = dict(VERSION_INFO)
        # (verb, group, resource) a SelfSubjectAccessReview answers "not allowed" for; all else allowed.
        self.denied: set[tuple[str, str, str]] = set()
        self._log_lock = threading.Lock()
        # typed as (method, path) pairs for the callers written before the query was logged; the
        # entries are RequestRecords (see `records` for the typed view)
        self.requests: list[tuple[str, str]] = []
        # (type, namespace, name, manager, subresource) -> (spec revision, sha256 of the applied body)
        self.apply_memo: dict[tuple[tuple[str, str], str, str, str, str], tuple[int | None, str]] = {}
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.fake = self
        self.port: int = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp = Path(tempfile.mkdtemp(prefix="fakeapi-"))
        self.kubeconfig_path = self._tmp / "kubeconfig"
        self.kubeconfig_path.write_text(self.kubeconfig_text())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fakeapi-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self.controllers.start()
        self._closed = False
        self._bootstrap()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeApiServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def set_server_version(self, git_version: str) -> None:
        """Report ``git_version`` (e.g. ``v1.32.8``) from GET /version, as an older/newer cluster would."""
        major, minor = git_version.lstrip("v").split(".")[:2]
        self.version_info = {**self.version_info, "major": major, "minor": minor, "gitVersion": git_version}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.controllers.stop()
        self.store.close()  # ends open watch streams
        self._httpd.shutdown()
        self._httpd.server_close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _bootstrap(self) -> None:
        # what a fresh cluster has: the four system namespaces
        ns_rt = self.registry.by_key(("", "namespaces"))
        assert ns_rt is not None
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.store.create(ns_rt, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        # and what a kind cluster brings: one node and the default StorageClass "standard"
        # (kubernetes-sigs/kind pkg/cluster/internal/create/actions/installstorage: local-path-provisioner)
        sc_rt = self.registry.by_key(("storage.k8s.io", "storageclasses"))
        node_rt = self.registry.by_key(("", "nodes"))
        assert sc_rt is not None and node_rt is not None
        self.store.create(sc_rt, default_storage_class())
        self.store.create(node_rt, node(NODE_NAME, cpu=NODE_CPU, memory=NODE_MEMORY))

    def access_review(self, raw: bytes) -> dict[str, Any]:
        """Answer a SelfSubjectAccessReview (authorization.k8s.io/v1): allowed unless in ``denied``."""
        import json

        review: dict[str, Any] = json.loads(raw or b"{}")
        attrs = (review.get("spec") or {}).get("resourceAttributes") or {}
        key = (str(attrs.get("verb", "")), str(attrs.get("group", "")), str(attrs.get("resource", "")))
        allowed = key not in self.denied
        review["status"] = {"allowed": allowed} if allowed else {"allowed": False, "reason": "denied by test"}
        return review

    def kubeconfig_text(self, token: str | None = None, context: str = CONTEXT) -> str:
        """A kubeconfig for this server; pass another token to get one the server rejects (401)."""
        tok = token if token is not None else (self.token or "none")
        return (
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: {context}\n  cluster:\n    server: {self.url}\n"
            f"users:\n- name: {context}\n  user:\n    token: {tok}\n"
            f"contexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\n"
            f"current-context: {context}\n"
        )

    # -- requests log ----------------------------------------------------------------------

    def _record(self, method: str, path: str, query: str = "") -> RequestRecord:
        rec = RequestRecord(method, path, query)
        with self._log_lock:
            self.requests.append(rec)
        return rec

    @property
    def records(self) -> list[RequestRecord]:
        """The request log with its query strings and answers (a copy)."""
        with self._log_lock:
            return [r for r in self.requests if isinstance(r, RequestRecord)]

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def reset_request_log(self) -> None:
        with self._log_lock:
            self.requests = []

    # -- faults and failures ---------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        """Fail matching requests; the returned Fault's `hits` counts how many were failed."""
        return self.faults.add(fault)

    def never_ready(
        self,
        kind: str,
        namespace: str,
        name: str,
        reason: str = "ImagePullBackOff",
        message: str | None = None,
        logs: str | None = None,
    ) -> None:
        """Keep a workload (Deployment/StatefulSet/DaemonSet/Job) or a Ready-condition object from ever
        becoming ready. Workloads get failing pods (reason ImagePullBackOff, ErrImagePull,
        CrashLoopBackOff or Unschedulable), Warning Events and, for crashes, logs."""
        self.controllers.never[(kind, namespace, name)] = NeverReady(reason, message, logs)
        self._requeue(kind, namespace, name)

    def make_ready(self, kind: str, namespace: str, name: str) -> None:
        """Undo never_ready: the next reconcile makes the object ready."""
        self.controllers.never.pop((kind, namespace, name), None)
        self._requeue(kind, namespace, name)

    def _requeue(self, kind: str, namespace: str, name: str) -> None:
        for rt in self.registry.by_kind(kind):
            if self.store.get(rt, namespace, name) is not None:
                self.controllers.schedule(rt, namespace, name)

    def set_pod_logs(self, namespace: str, pod: str, text: str) -> None:
        self.controllers.logs[(namespace, pod)] = text

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until the simulated controllers have nothing queued."""
        return self.controllers.wait_idle(timeout)

    # -- inspection ------------------------------------------------------------------------

    def objects(self, kind: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
        out = []
        for rt, obj in self.store.all_objects():
            if kind is not None and rt.kind != kind:
                continue
            if namespace is not None and obj["metadata"].get("namespace") != namespace:
                continue
            out.append(obj)
        return out

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        for rt in self.registry.by_kind(kind):
            obj = self.store.get(rt, namespace or "", name)
            if obj is not None:
                return obj
        return None

    @property
    def resource_version(self) -> int:
        return self.store.resource_version
