"""Simulated controllers: what kube-controller-manager, the kubelet, the scheduler and the operators
of the installed components would do to objects, reduced to the status fields the engine reads.

Writes enqueue (kind, namespace, name) with a per-object latency; one worker thread reconciles
due items against the current state. Reconciles are idempotent: a write that changes nothing keeps
the resourceVersion (the store short-circuits it), so there are no reconcile loops.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import itertools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from tests.fakeapi.apply import clone, now_rfc3339
from tests.fakeapi.errors import ApiError
from tests.fakeapi.resources import Registry, ResourceType
from tests.fakeapi.store import Store

DEFAULT_DOMAIN = "127.0.0.1.sslip.io"

# (group, kind) of objects that get a Ready condition from an operator/controller
READY_KINDS = {
    ("serving.knative.dev", "Service"),
    ("operator.knative.dev", "KnativeServing"),
    ("serving.kserve.io", "InferenceService"),
    ("cert-manager.io", "Certificate"),
    ("cert-manager.io", "Issuer"),
    ("cert-manager.io", "ClusterIssuer"),
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
# never_ready reasons that leave a pod waiting forever: a Job with such a pod stays active (a real
# Job only fails on its backoffLimit, which needs pods that run and fail); any other reason fails it
STUCK_REASONS = {"ImagePullBackOff", "ErrImagePull", "Unschedulable"}
JOB_BACKOFF_MESSAGE = "Job has reached the specified backoff limit"

DEFAULT_MESSAGES = {
    "ImagePullBackOff": 'Back-off pulling image "{image}"',
    "ErrImagePull": 'failed to pull and unpack image "{image}": '
    'failed to resolve reference "{image}": not found',
    "CrashLoopBackOff": "back-off 5m0s restarting failed container={container} pod={pod}_{namespace}({uid})",
    "Unschedulable": "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: "
    "1 No preemption victims found for incoming pod.",
}


@dataclass
class NeverReady:
    reason: str
    message: str | None
    logs: str | None


def set_condition(
    status: dict[str, Any], ctype: str, value: str, reason: str = "", message: str = ""
) -> None:
    """Set a condition, keeping lastTransitionTime when its status did not change (no churn)."""
    conds: list[dict[str, Any]] = status.setdefault("conditions", [])
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != value:
                c["lastTransitionTime"] = now_rfc3339()
            c.update(status=value, reason=reason, message=message)
            return
    conds.append(
        {
            "type": ctype,
            "status": value,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now_rfc3339(),
        }
    )


def _short_hash(*parts: str, n: int = 5) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _template_hash(obj: dict[str, Any]) -> str:
    """Stands in for pod-template-hash: changes exactly when the pod template does."""
    template = json.dumps((obj.get("spec") or {}).get("template") or {}, sort_keys=True)
    return _short_hash(template, n=10)


def _isvc_traffic(
    rev: str, canary: Any, pred: dict[str, Any], isvc: dict[str, Any], host: str
) -> list[dict[str, Any]]:
    """The predictor's Knative traffic as KServe sets it (pkg/controller/v1beta1/inferenceservice/
    reconcilers/knative/ksvc_reconciler.go): with canaryTrafficPercent and a rolled-out revision,
    P% to the latest revision and the rest to the last rolled-out one, tagged "prev"; otherwise 100%
    to the latest. The latest target is tagged "latest" only with the enable-tag-routing annotation.
    Knative reports each tagged target with its own URL, `<tag>-<host>`."""
    rolled_out = pred.get("latestRolledoutRevision") or ""
    tag_latest = ((isvc.get("metadata") or {}).get("annotations") or {}).get(
        "serving.kserve.io/enable-tag-routing"
    ) == "true"
    percent = int(canary) if isinstance(canary, int) and rolled_out else 100
    latest: dict[str, Any] = {"revisionName": rev, "latestRevision": True, "percent": percent}
    if tag_latest:
        latest.update(tag="latest", url=f"http://latest-{host}")
    targets = [latest]
    if percent < 100:
        targets.append(
            {
                "revisionName": rolled_out,
                "latestRevision": False,
                "percent": 100 - percent,
                "tag": "prev",
                "url": f"http://prev-{host}",
            }
        )
    return targets


def _track_rollout(pred: dict[str, Any], rev: str) -> None:
    """KServe's PropagateStatus: a ready latest revision at 100% becomes latestRolledoutRevision
    (the one before it previousRolledoutRevision); a canary split over that same revision (a
    rollback request) moves latestRolledoutRevision back to the previous one."""
    for t in pred["traffic"]:
        if t["revisionName"] != rev or not t["latestRevision"]:
            continue
        if pred.get("latestRolledoutRevision") != rev:
            if t["percent"] == 100:
                if pred.get("latestRolledoutRevision"):
                    pred["previousRolledoutRevision"] = pred["latestRolledoutRevision"]
                pred["latestRolledoutRevision"] = rev
        elif t["percent"] < 100 and pred.get("previousRolledoutRevision"):
            on_rev = sum(x["percent"] for x in pred["traffic"] if x["revisionName"] == rev)
            if on_rev == 100:
                pred["latestRolledoutRevision"] = pred["previousRolledoutRevision"]


def _ksvc_traffic(ksvc: dict[str, Any], latest_ready: str, domain: str) -> list[dict[str, Any]]:
    """status.traffic from spec.traffic as Knative's route reconciler resolves it: ``latestRevision:
    true`` targets the latest ready revision, a tag gets its own URL (config-network tag-template
    ``{{.Tag}}-{{.Name}}`` under domain-template ``{{.Name}}.{{.Namespace}}.{{.Domain}}``, knative/serving
    config/core/configmaps/network.yaml). No spec.traffic means 100% to the latest revision."""
    meta = ksvc["metadata"]
    spec_traffic = (ksvc.get("spec") or {}).get("traffic") or [{"latestRevision": True, "percent": 100}]
    out: list[dict[str, Any]] = []
    for entry in spec_traffic:
        latest = bool(entry.get("latestRevision", not entry.get("revisionName")))
        target: dict[str, Any] = {
            "revisionName": latest_ready if latest else entry.get("revisionName"),
            "latestRevision": latest,
            "percent": int(entry.get("percent") or 0),
        }
        if entry.get("tag"):
            target["tag"] = entry["tag"]
            target["url"] = f"http://{entry['tag']}-{meta['name']}.{meta['namespace']}.{domain}"
        out.append(target)
    return out


class Controllers:
    def __init__(
        self, store: Store, registry: Registry, latency: dict[str, float] | None, enabled: bool
    ) -> None:
        self.store = store
        self.registry = registry
        self.latency = dict(latency or {})
        self.enabled = enabled
        self.never: dict[tuple[str, str, str], NeverReady] = {}
        self.logs: dict[tuple[str, str], str] = {}
        self._cv = threading.Condition()
        self._queue: list[tuple[float, int, tuple[str, str], str, str]] = []
        self._pending: set[tuple[tuple[str, str], str, str]] = set()
        self._seq = itertools.count()
        self._stop = False
        self._busy = False
        self._ip = itertools.count(2)
        self._cluster_ip = itertools.count(10)
        self._node_port = itertools.count(30000)
        self._thread: threading.Thread | None = None
        # InferenceService / Knative Service uid -> (hash of the revision template, revision number)
        self._revisions: dict[str, tuple[str, int]] = {}
        store.listeners.append(self._on_change)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fakeapi-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def delay_for(self, kind: str, namespace: str, name: str) -> float:
        for key in (f"{kind}/{namespace}/{name}", f"{kind}/{name}", kind):
            if key in self.latency:
                return self.latency[key]
        return 0.0

    def schedule(self, rt: ResourceType, namespace: str, name: str, delay: float | None = None) -> None:
        item = (rt.key, namespace, name)
        with self._cv:
            if item in self._pending:
                return
            self._pending.add(item)
            d = self.delay_for(rt.kind, namespace, name) if delay is None else delay
            heapq.heappush(self._queue, (time.monotonic() + d, next(self._seq), rt.key, namespace, name))
            self._cv.notify()

    def _on_change(self, event_type: str, rt: ResourceType, obj: dict[str, Any]) -> None:
        # called by the store under its lock: only enqueue here
        if not self.enabled:
            return
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        services = self._rt("", "services")
        if rt.key == ("", "pods"):  # endpoints follow pods
            for svc in self.store.objects_of(services, ns):
                self.schedule(services, ns, svc["metadata"]["name"], 0.0)
        elif rt.key == services.key and event_type != "DELETED":
            self.schedule(services, ns, name, 0.0)
        if event_type == "DELETED":
            return
        if rt.key == ("", "configmaps") and name == "config-domain" and ns == "knative-serving":
            for kind_rt in self.registry.all():
                if (kind_rt.group, kind_rt.kind) in READY_KINDS:
                    for o in self.store.objects_of(kind_rt):
                        self.schedule(kind_rt, o["metadata"].get("namespace", ""), o["metadata"]["name"])
        if self._handles(rt):
            self.schedule(rt, ns, name)

    def _handles(self, rt: ResourceType) -> bool:
        return (
            rt.key == ("apiextensions.k8s.io", "customresourcedefinitions")
            or (rt.group in ("apps", "batch") and rt.kind in WORKLOADS)
            or (rt.group, rt.kind) in READY_KINDS
        )

    def _rt(self, group: str, plural: str) -> ResourceType:
        rt = self.registry.by_key((group, plural))
        assert rt is not None, f"built-in type {plural} missing"
        return rt

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and (not self._queue or self._queue[0][0] > time.monotonic()):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cv.wait(timeout=wait)
                if self._stop:
                    return
                _, _, key, ns, name = heapq.heappop(self._queue)
                self._pending.discard((key, ns, name))
                self._busy = True
            try:
                rt = self.registry.by_key(key)
                # ApiError: e.g. the namespace is terminating, the object goes away anyway
                with contextlib.suppress(ApiError):
                    if rt is not None:
                        self.reconcile(rt, ns, name)
            finally:
                with self._cv:
                    self._busy = False

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is queued (tests use it instead of sleeping)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cv:
                if not self._queue and not self._busy:
                    return True
            time.sleep(0.005)
        return False

    # -- defaulting (part of the apiserver's write path) -----------------------------------

    def default(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Defaults the engine may observe: Service type, clusterIP, port protocol/targetPort/nodePort."""
        if rt.key != ("", "services"):
            return
        spec = obj.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        spec.setdefault("type", "ClusterIP")
        if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
            n = next(self._cluster_ip)
            spec["clusterIP"] = old_spec.get("clusterIP") or f"10.96.{n // 250}.{n % 250 + 1}"
            spec["clusterIPs"] = [spec["clusterIP"]]
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []}
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
            if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
                prev = old_ports.get((port.get("port"), port["protocol"]), {}).get("nodePort")
                port["nodePort"] = prev or next(self._node_port)

    # -- reconcile -------------------------------------------------------------------------

    def reconcile(self, rt: ResourceType, ns: str, name: str) -> None:
        obj = self.store.get(rt, ns, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        if rt.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._crd(rt, obj)
        elif rt.key == ("", "services"):
            self._endpoint_slice(obj)
        elif rt.kind in WORKLOADS and rt.group in ("apps", "batch"):
            self._workload(rt, obj)
        elif (rt.group, rt.kind) in READY_KINDS:
            self._ready_kind(rt, obj)

    def _crd(self, rt: ResourceType, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}

        def fn(o: dict[str, Any]) -> None:
            st = o.setdefault("status", {})
            st["acceptedNames"] = clone(spec.get("names") or {})
            st["storedVersions"] = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
            set_condition(st, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
            set_condition(
                st, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted"
            )

        self.store.mutate(rt, "", crd["metadata"]["name"], fn)

    # -- workloads and their pods ----------------------------------------------------------

    def _workload(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        ns, name = meta["namespace"], meta["name"]
        failure = self.never.get((rt.kind, ns, name))
        spec = obj.get("spec") or {}
        replicas = 1 if rt.kind in ("DaemonSet", "Job") else int(spec.get("replicas", 1))
        self._ensure_pods(rt, obj, replicas, failure)
        gen = meta.get("generation", 1)
        ready = 0 if failure else replicas
        job_fails = rt.kind == "Job" and failure is not None and failure.reason not in STUCK_REASONS

        def fn(o: dict[str, Any]) -> None:
            st: dict[str, Any] = o.setdefault("status", {})
            st["observedGeneration"] = gen
            if rt.kind == "DaemonSet":
                st.update(
                    desiredNumberScheduled=1,
                    currentNumberScheduled=1,
                    updatedNumberScheduled=1,
                    numberReady=ready,
                    numberAvailable=ready,
                    numberMisscheduled=0,
                )
                if failure:
                    st["numberUnavailable"] = 1
                else:
                    st.pop("numberUnavailable", None)
            elif rt.kind == "Job":
                if job_fails:
                    # what the job controller records once failed pods exceed spec.backoffLimit
                    st.pop("active", None)
                    st.update(
                        failed=int(spec.get("backoffLimit", 6)) + 1,
                        ready=0,
                        startTime=st.get("startTime") or now_rfc3339(),
                    )
                    for ctype in ("FailureTarget", "Failed"):
                        set_condition(st, ctype, "True", "BackoffLimitExceeded", JOB_BACKOFF_MESSAGE)
                elif failure:
                    st.update(active=1, ready=0)
                else:
                    st.pop("active", None)
                    st.update(
                        succeeded=1,
                        ready=0,
                        startTime=st.get("startTime") or now_rfc3339(),
                        completionTime=st.get("completionTime") or now_rfc3339(),
                    )
                    set_condition(
                        st,
                        "SuccessCriteriaMet",
                        "True",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    )
                    set_condition(
                        st,
                        "Complete",
                        "True",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods",
                    )
            else:
                st.update(
                    replicas=replicas, updatedReplicas=replicas, readyReplicas=ready, availableReplicas=ready
                )
                if rt.kind == "StatefulSet":
                    rev = f"{name}-{_short_hash(name, str(gen), n=10)}"
                    st.update(currentReplicas=replicas, currentRevision=rev, updateRevision=rev)
                if failure:
                    st["unavailableReplicas"] = replicas
                else:
                    st.pop("unavailableReplicas", None)
                if rt.kind == "Deployment":
                    rs = f"{name}-{_template_hash(o)}"
                    if failure:
                        set_condition(
                            st,
                            "Available",
                            "False",
                            "MinimumReplicasUnavailable",
                            "Deployment does not have minimum availability.",
                        )
                        set_condition(
                            st,
                            "Progressing",
                            "True",
                            "ReplicaSetUpdated",
                            f'ReplicaSet "{rs}" is progressing.',
                        )
                    else:
                        set_condition(
                            st,
                            "Available",
                            "True",
                            "MinimumReplicasAvailable",
                            "Deployment has minimum availability.",
                        )
                        set_condition(
                            st,
                            "Progressing",
                            "True",
                            "NewReplicaSetAvailable",
                            f'ReplicaSet "{rs}" has successfully progressed.',
                        )

        self.store.mutate(rt, ns, name, fn)

    def _owned_pods(self, owner: dict[str, Any]) -> list[dict[str, Any]]:
        uid = owner["metadata"]["uid"]
        return [
            p
            for p in self.store.objects_of(self._rt("", "pods"), owner["metadata"]["namespace"])
            if any(r.get("uid") == uid for r in p["metadata"].get("ownerReferences") or [])
        ]

    def _ensure_pods(
        self, rt: ResourceType, obj: dict[str, Any], replicas: int, failure: NeverReady | None
    ) -> None:
        pods_rt = self._rt("", "pods")
        want = min(replicas, 1)  # one pod stands for the whole workload
        marker = self._pod_marker(obj, failure)
        keep: list[dict[str, Any]] = []
        for pod in self._owned_pods(obj):
            # a new template or a change of health replaces the pod (a rollout, in one step)
            if len(keep) < want and pod["metadata"].get("annotations", {}).get("fakeapi/pod") == marker:
                keep.append(pod)
            else:
                self.store.delete(pods_rt, pod["metadata"]["namespace"], pod["metadata"]["name"])
        if len(keep) >= want:
            return
        pod = self._make_pod(rt, obj, failure)
        self.store.create(pods_rt, pod)
        if failure is not None:
            self._warn(obj, pod, failure)

    @staticmethod
    def _pod_marker(obj: dict[str, Any], failure: NeverReady | None) -> str:
        return f"{_template_hash(obj)}-{'failing' if failure else 'healthy'}"

    def _make_pod(self, rt: ResourceType, obj: dict[str, Any], failure: NeverReady | None) -> dict[str, Any]:
        meta = obj["metadata"]
        ns, name = meta["namespace"], meta["name"]
        template = (obj.get("spec") or {}).get("template") or {}
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        suffix = _short_hash(meta["uid"], str(time.monotonic_ns()))
        if rt.kind == "Deployment":
            tmpl_hash = _template_hash(obj)
            labels["pod-template-hash"] = tmpl_hash
            pod_name = f"{name}-{tmpl_hash}-{suffix}"
        elif rt.kind == "StatefulSet":
            pod_name = f"{name}-0"
        else:
            pod_name = f"{name}-{suffix}"
        if rt.kind == "Job":
            labels["batch.kubernetes.io/job-name"] = name
        pod_spec = clone(template.get("spec") or {"containers": [{"name": "main", "image": "unknown"}]})
        pod_spec.setdefault("nodeName", "fake-control-plane")
        containers = pod_spec.get("containers") or [{"name": "main", "image": "unknown"}]
        now = now_rfc3339()
        status: dict[str, Any] = {"hostIP": "172.18.0.2", "startTime": now, "qosClass": "BestEffort"}
        pod_uid_hint = _short_hash(ns, pod_name, n=8)
        if failure is None:
            ip = next(self._ip)
            status["podIP"] = f"10.244.{ip // 250}.{ip % 250 + 1}"
            status["podIPs"] = [{"ip": status["podIP"]}]
            done = rt.kind == "Job"
            status["phase"] = "Succeeded" if done else "Running"
            cond = "False" if done else "True"
            status["conditions"] = [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": cond, "lastTransitionTime": now},
                {"type": "Ready", "status": cond, "lastTransitionTime": now},
            ]
            state: dict[str, Any] = (
                {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}}
                if done
                else {"running": {"startedAt": now}}
            )
            status["containerStatuses"] = [
                {
                    "name": c.get("name"),
                    "image": c.get("image"),
                    "imageID": "",
                    "ready": not done,
                    "started": not done,
                    "restartCount": 0,
                    "state": state,
                }
                for c in containers
            ]
        else:
            first = containers[0]
            message = failure.message or DEFAULT_MESSAGES.get(failure.reason, failure.reason).format(
                image=first.get("image", ""),
                container=first.get("name", ""),
                pod=pod_name,
                namespace=ns,
                uid=pod_uid_hint,
            )
            failure.message = failure.message or message
            if rt.kind == "Job" and failure.reason not in STUCK_REASONS:
                # the container ran and exited 1 (restartPolicy Never/OnFailure alike end here)
                ip = next(self._ip)
                status["podIP"] = f"10.244.{ip // 250}.{ip % 250 + 1}"
                status["phase"] = "Failed"
                status["conditions"] = [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": "False", "reason": "PodFailed", "lastTransitionTime": now},
                ]
                status["containerStatuses"] = [
                    {
                        "name": first.get("name"),
                        "image": first.get("image"),
                        "imageID": "",
                        "ready": False,
                        "started": False,
                        "restartCount": 0,
                        "state": {
                            "terminated": {
                                "exitCode": 1,
                                "reason": "Error",
                                "startedAt": now,
                                "finishedAt": now,
                            }
                        },
                    }
                ]
                self.logs[(ns, pod_name)] = (
                    failure.logs or f"Error: {first.get('name')} exited with status 1\n"
                )
            elif failure.reason == "Unschedulable":
                status["phase"] = "Pending"
                status["conditions"] = [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                        "lastTransitionTime": now,
                    }
                ]
                pod_spec.pop("nodeName", None)
                status.pop("hostIP", None)
            else:
                ip = next(self._ip)
                status["podIP"] = f"10.244.{ip // 250}.{ip % 250 + 1}"
                crash = failure.reason == "CrashLoopBackOff"
                status["phase"] = "Running" if crash else "Pending"
                status["conditions"] = [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "ContainersNotReady",
                        "message": f"containers with unready status: [{first.get('name')}]",
                        "lastTransitionTime": now,
                    },
                ]
                cs: dict[str, Any] = {
                    "name": first.get("name"),
                    "image": first.get("image"),
                    "imageID": "",
                    "ready": False,
                    "started": False,
                    "restartCount": 5 if crash else 0,
                    "state": {"waiting": {"reason": failure.reason, "message": message}},
                }
                if crash:
                    cs["lastState"] = {
                        "terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}
                    }
                    self.logs[(ns, pod_name)] = failure.logs or (
                        f"Error: {first.get('name')} failed to start: exit status 1\n"
                    )
                status["containerStatuses"] = [cs]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "namespace": ns,
                "labels": labels,
                "annotations": {"fakeapi/pod": self._pod_marker(obj, failure)},
                "ownerReferences": [
                    {
                        "apiVersion": obj.get("apiVersion"),
                        "kind": rt.kind,
                        "name": name,
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": pod_spec,
            "status": status,
        }

    def _warn(self, owner: dict[str, Any], pod: dict[str, Any], failure: NeverReady) -> None:
        """Warning Events as the kubelet / scheduler would record them, for the pod and its owner."""
        if owner.get("kind") == "Job" and failure.reason not in STUCK_REASONS:
            # the job controller's event on the Job; the pod itself just ended Failed
            self._event(owner, "job-controller", "BackoffLimitExceeded", JOB_BACKOFF_MESSAGE)
            return
        component = "default-scheduler" if failure.reason == "Unschedulable" else "kubelet"
        reason = {
            "Unschedulable": "FailedScheduling",
            "CrashLoopBackOff": "BackOff",
            "ImagePullBackOff": "Failed",
            "ErrImagePull": "Failed",
        }.get(failure.reason, failure.reason)
        for target in (pod, owner):
            self._event(target, component, reason, failure.message or failure.reason)

    def _event(self, target: dict[str, Any], component: str, reason: str, message: str) -> None:
        """A Warning Event about `target`, as `component` records it."""
        tmeta = target["metadata"]
        ns = tmeta["namespace"]
        now = now_rfc3339()
        self.store.create(
            self._rt("", "events"),
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": f"{tmeta['name']}.{_short_hash(tmeta['name'], str(time.monotonic_ns()))}",
                    "namespace": ns,
                },
                "involvedObject": {
                    "kind": target.get("kind", "Pod"),
                    "name": tmeta["name"],
                    "namespace": ns,
                    "uid": tmeta.get("uid", ""),
                    "apiVersion": target.get("apiVersion", "v1"),
                },
                "reason": reason,
                "message": message,
                "type": "Warning",
                "count": 5,
                "firstTimestamp": now,
                "lastTimestamp": now,
                "source": {"component": component},
                "reportingComponent": component,
            },
        )

    def pod_log(self, ns: str, name: str, query: dict[str, str]) -> str:
        if self.store.get(self._rt("", "pods"), ns, name) is None:
            raise ApiError(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
        text = self.logs.get((ns, name), "")
        tail = query.get("tailLines")
        if tail:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-int(tail) :]) if int(tail) > 0 else ""
        return text

    # -- endpoints -------------------------------------------------------------------------

    def _endpoint_slice(self, svc: dict[str, Any]) -> None:
        spec = svc.get("spec") or {}
        selector = spec.get("selector")
        if not selector:
            return
        meta = svc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        pods = [
            p
            for p in self.store.objects_of(self._rt("", "pods"), ns)
            if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            and not p["metadata"].get("deletionTimestamp")
            and (p.get("status") or {}).get("podIP")
        ]
        endpoints = []
        for p in sorted(pods, key=lambda p: p["metadata"]["name"]):
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
            endpoints.append(
                {
                    "addresses": [p["status"]["podIP"]],
                    "conditions": {"ready": ready, "serving": ready, "terminating": False},
                    "nodeName": p["spec"].get("nodeName", "fake-control-plane"),
                    "targetRef": {
                        "kind": "Pod",
                        "name": p["metadata"]["name"],
                        "namespace": ns,
                        "uid": p["metadata"]["uid"],
                    },
                }
            )
        ports = []
        for port in spec.get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            ports.append(
                {
                    "name": port.get("name", ""),
                    "protocol": port.get("protocol", "TCP"),
                    "port": target if isinstance(target, int) else port.get("port"),
                }
            )
        slice_rt = self._rt("discovery.k8s.io", "endpointslices")
        slice_name = f"{name}-{_short_hash(ns, name)}"
        body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name,
                "namespace": ns,
                "labels": {
                    "kubernetes.io/service-name": name,
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": name,
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }
        existing = self.store.get(slice_rt, ns, slice_name)
        if existing is None:
            self.store.create(slice_rt, body)
        else:

            def fn(o: dict[str, Any]) -> None:
                o["endpoints"], o["ports"] = endpoints, ports

            self.store.mutate(slice_rt, ns, slice_name, fn)

    # -- operators' Ready condition --------------------------------------------------------

    def domain(self) -> str:
        cm = self.store.get(self._rt("", "configmaps"), "knative-serving", "config-domain")
        for key in (cm or {}).get("data") or {}:
            if not key.startswith("_"):  # "_example" is documentation in upstream's config-domain
                return str(key)
        return DEFAULT_DOMAIN

    def _predictor_revision(self, isvc: dict[str, Any]) -> int:
        """Knative makes a new revision when the predictor's template changes; canaryTrafficPercent
        only routes traffic, so changing it alone keeps the revision."""
        pred = {
            k: v
            for k, v in ((isvc.get("spec") or {}).get("predictor") or {}).items()
            if k != "canaryTrafficPercent"
        }
        digest = _short_hash(json.dumps(pred, sort_keys=True), n=16)
        uid = isvc["metadata"]["uid"]
        seen, number = self._revisions.get(uid, ("", 0))
        if seen != digest:
            number += 1
            self._revisions[uid] = (digest, number)
        return number

    def _ksvc_revision(self, ksvc: dict[str, Any], failure: NeverReady | None) -> str:
        """Knative's Configuration makes a new Revision (``<name>-00001``, ``-00002``, …) exactly when
        spec.template changes; ``traffic`` only routes, so changing it alone keeps the revision. When
        the Revision CRD is installed the Revision is created too (labels as Knative sets them,
        owned by the Service), with a Deployment ``<revision>-deployment`` whose pods carry the
        ``serving.knative.dev/revision`` label (what ``kubectl logs -l`` selects on)."""
        meta = ksvc["metadata"]
        template = (ksvc.get("spec") or {}).get("template") or {}
        digest = _short_hash(json.dumps(template, sort_keys=True), n=16)
        seen, number = self._revisions.get(meta["uid"], ("", 0))
        if seen != digest:
            number += 1
            self._revisions[meta["uid"]] = (digest, number)
        rev = str((template.get("metadata") or {}).get("name") or f"{meta['name']}-{number:05d}")
        rev_rt = self.registry.by_key(("serving.knative.dev", "revisions"))
        if rev_rt is not None and self.store.get(rev_rt, meta["namespace"], rev) is None:
            self._create_revision(rev_rt, ksvc, rev, number, template, failure)
        return rev

    def _create_revision(
        self,
        rev_rt: ResourceType,
        ksvc: dict[str, Any],
        rev: str,
        number: int,
        template: dict[str, Any],
        failure: NeverReady | None,
    ) -> None:
        meta = ksvc["metadata"]
        ns, name = meta["namespace"], meta["name"]
        labels = {
            **((template.get("metadata") or {}).get("labels") or {}),
            "serving.knative.dev/service": name,
            "serving.knative.dev/configuration": name,
            "serving.knative.dev/configurationGeneration": str(number),
        }
        owner = {
            "apiVersion": ksvc.get("apiVersion", "serving.knative.dev/v1"),
            "kind": "Service",
            "name": name,
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
        status: dict[str, Any] = {"observedGeneration": 1}
        for c in ("ResourcesAvailable", "ContainerHealthy", "Ready"):
            set_condition(
                status,
                c,
                "False" if failure else "True",
                failure.reason if failure else "",
                (failure.message or "") if failure else "",
            )
        revision = {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Revision",
            "metadata": {
                "name": rev,
                "namespace": ns,
                "labels": labels,
                "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                "ownerReferences": [owner],
            },
            "spec": clone(template.get("spec") or {}),
            "status": status,
        }
        created = self.store.create(rev_rt, revision)
        pod_labels = {**labels, "serving.knative.dev/revision": rev}
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": f"{rev}-deployment",
                "namespace": ns,
                "labels": pod_labels,
                "ownerReferences": [
                    {
                        "apiVersion": "serving.knative.dev/v1",
                        "kind": "Revision",
                        "name": rev,
                        "uid": created["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": 1,  # Knative's initial-scale default (config-autoscaler) is 1
                "selector": {"matchLabels": {"serving.knative.dev/revision": rev}},
                "template": {"metadata": {"labels": pod_labels}, "spec": clone(template.get("spec") or {})},
            },
        }
        if failure is not None:
            self.never[("Deployment", ns, f"{rev}-deployment")] = failure
        self.store.create(self._rt("apps", "deployments"), deployment)

    def _ready_kind(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        failure = self.never.get((rt.kind, ns, name))
        domain = self.domain()
        gen = meta.get("generation", 1)
        ksvc_rev = self._ksvc_revision(obj, failure) if rt.kind == "Service" else ""

        def fn(o: dict[str, Any]) -> None:
            st: dict[str, Any] = o.setdefault("status", {})
            st["observedGeneration"] = gen
            ok = "False" if failure else "True"
            reason = failure.reason if failure else ""
            message = (failure.message or "") if failure else ""
            if rt.kind == "Service":  # Knative Service
                st["url"] = f"http://{name}.{ns}.{domain}"
                st["address"] = {"url": f"http://{name}.{ns}.svc.cluster.local"}
                st["latestCreatedRevisionName"] = ksvc_rev
                if not failure:
                    st["latestReadyRevisionName"] = ksvc_rev
                if st.get("latestReadyRevisionName"):
                    st["traffic"] = _ksvc_traffic(o, st["latestReadyRevisionName"], domain)
                for c in ("ConfigurationsReady", "RoutesReady"):
                    set_condition(st, c, ok, reason, message)
            elif rt.kind == "InferenceService":
                rev = f"{name}-predictor-{self._predictor_revision(o):05d}"
                st["url"] = f"http://{name}.{ns}.{domain}"
                st["address"] = {"url": f"http://{name}-predictor.{ns}.svc.cluster.local"}
                old_pred = (st.get("components") or {}).get("predictor") or {}
                predictor: dict[str, Any] = {
                    "url": f"http://{name}-predictor.{ns}.{domain}",
                    "latestCreatedRevision": rev,
                }
                for kept in ("latestRolledoutRevision", "previousRolledoutRevision"):
                    if old_pred.get(kept):
                        predictor[kept] = old_pred[kept]
                if not failure:
                    predictor["latestReadyRevision"] = rev
                    canary = ((o.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")
                    host = f"{name}-predictor.{ns}.{domain}"
                    predictor["traffic"] = _isvc_traffic(rev, canary, predictor, o, host)
                    _track_rollout(predictor, rev)
                st["components"] = {"predictor": predictor}
                st["modelStatus"] = {
                    "transitionStatus": "BlockedByFailedLoad" if failure else "UpToDate",
                    "states": {
                        "activeModelState": "" if failure else "Loaded",
                        "targetModelState": "FailedToLoad" if failure else "Loaded",
                    },
                }
                for c in (
                    "IngressReady",
                    "PredictorConfigurationReady",
                    "PredictorReady",
                    "PredictorRouteReady",
                ):
                    set_condition(st, c, ok, reason, message)
            elif rt.kind == "KnativeServing":
                for c in ("DependenciesInstalled", "DeploymentsAvailable", "InstallSucceeded"):
                    set_condition(st, c, ok, reason, message)
            set_condition(st, "Ready", ok, reason, message)

        self.store.mutate(rt, ns, name, fn)
