"""wait.py readiness rules over object snapshots (the watch loop is covered by the contract suite)."""

from __future__ import annotations

from typing import Any

from platformctl.drivers.kube.wait import (
    crd_established,
    endpoints_ready,
    gone,
    job_complete,
    ready_condition,
    rollout_complete,
)


def cond(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


def deploy(gen: int = 2, observed: int = 2, replicas: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "d", "generation": gen},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": observed, **status},
    }


def test_deployment_rollout() -> None:
    check = rollout_complete("Deployment")
    assert check([]).state == "pending"
    assert check(
        [deploy(observed=1, updatedReplicas=2, readyReplicas=2, availableReplicas=2, replicas=2)]
    ).state == ("pending")
    p = check([deploy(updatedReplicas=2, readyReplicas=2, availableReplicas=0, replicas=2)])
    assert p.state == "pending" and p.summary.startswith("0/2 replicas available")
    old = check([deploy(updatedReplicas=2, readyReplicas=2, availableReplicas=2, replicas=3)])
    assert old.state == "pending"
    assert (
        check([deploy(updatedReplicas=2, readyReplicas=2, availableReplicas=2, replicas=2)]).state == "ready"
    )
    stuck = deploy(conditions=[cond("Progressing", "False", "ProgressDeadlineExceeded", "timed out")])
    assert check([stuck]).state == "failed"


def test_default_replicas_is_one() -> None:
    d = deploy(updatedReplicas=1, readyReplicas=1, availableReplicas=1, replicas=1)
    del d["spec"]["replicas"]
    assert rollout_complete("Deployment")([d]).state == "ready"


def test_statefulset_and_daemonset() -> None:
    sts = deploy(replicas=1, updatedReplicas=1, readyReplicas=0)
    assert rollout_complete("StatefulSet")([sts]).state == "pending"
    sts["status"]["readyReplicas"] = 1
    assert rollout_complete("StatefulSet")([sts]).state == "ready"
    ds = {
        "metadata": {"generation": 1},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 3,
            "updatedNumberScheduled": 3,
            "numberReady": 3,
            "numberAvailable": 2,
        },
    }
    assert rollout_complete("DaemonSet")([ds]).state == "pending"
    ds["status"]["numberAvailable"] = 3
    assert rollout_complete("DaemonSet")([ds]).state == "ready"


def test_job() -> None:
    assert job_complete([{"status": {"active": 1}}]).state == "pending"
    assert job_complete([{"status": {"conditions": [cond("Complete", "True")]}}]).state == "ready"
    failed = job_complete(
        [{"status": {"conditions": [cond("Failed", "True", "BackoffLimitExceeded", "too many")]}}]
    )
    assert failed.state == "failed" and "BackoffLimitExceeded" in failed.summary


def test_ready_condition_and_generation() -> None:
    obj: dict[str, Any] = {
        "metadata": {"generation": 2},
        "status": {"observedGeneration": 1, "conditions": [cond("Ready", "True")]},
    }
    assert ready_condition([obj]).state == "pending"  # Ready for an older generation
    obj["status"]["observedGeneration"] = 2
    assert ready_condition([obj]).state == "ready"
    unready = {"status": {"conditions": [cond("Ready", "False", "RevisionMissing", "not yet")]}}
    p = ready_condition([unready])
    assert p.state == "pending" and "RevisionMissing" in p.summary


def test_crd_established() -> None:
    assert crd_established([{"status": {"conditions": [cond("Established", "True")]}}]).state == "ready"
    assert crd_established([{"status": {}}]).state == "pending"
    bad = {"status": {"conditions": [cond("NamesAccepted", "False", "", "plural conflicts")]}}
    assert crd_established([bad]).state == "failed"


def test_endpoints() -> None:
    assert endpoints_ready([]).state == "pending"
    not_ready = {"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": False}}]}
    assert endpoints_ready([not_ready]).state == "pending"
    ready = {"endpoints": [{"addresses": ["10.0.0.2"], "conditions": {"ready": True}}]}
    assert endpoints_ready([not_ready, ready]).state == "ready"


def test_gone_reports_finalizers() -> None:
    assert gone([]).state == "ready"
    ns = {"metadata": {"finalizers": ["example.com/x"]}, "spec": {"finalizers": ["kubernetes"]}}
    p = gone([ns])
    assert p.state == "pending" and "example.com/x" in p.summary and "spec:kubernetes" in p.summary
