"""Simulated controllers: rollouts, jobs, endpoint slices, Ready kinds, latency and never_ready."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.fakeapi import FakeApiServer
from tests.fakeapi_tests.kube import apps, batch, core, crd, deployment, dynamic


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def _install_crd(fake: FakeApiServer, group: str, kind: str, plural: str, version: str) -> Any:
    dyn = dynamic(fake)
    dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition").create(
        body=crd(group=group, kind=kind, plural=plural, versions=(version,), short_names=())
    )
    assert fake.wait_idle()  # served once the CRD controller has set Established
    dyn.resources.invalidate_cache()
    return dyn.resources.get(api_version=f"{group}/{version}", kind=kind)


def test_deployment_rollout_pod_and_endpoint_slice(fake_api: FakeApiServer) -> None:
    apps(fake_api).create_namespaced_deployment("default", deployment("web", replicas=2))
    core(fake_api).create_namespaced_service(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
    )
    assert fake_api.wait_idle()
    dep = fake_api.get("Deployment", "web", "default")
    assert dep is not None
    st = dep["status"]
    assert (
        st["observedGeneration"],
        st["replicas"],
        st["updatedReplicas"],
        st["readyReplicas"],
        st["availableReplicas"],
    ) == (1, 2, 2, 2, 2)
    assert _conditions(dep)["Available"]["status"] == "True"
    pods = fake_api.objects("Pod", "default")
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Running"
    (es,) = fake_api.objects("EndpointSlice", "default")
    assert es["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
    assert es["endpoints"][0]["conditions"]["ready"] is True
    assert es["endpoints"][0]["addresses"] == [pods[0]["status"]["podIP"]]
    assert es["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]


def test_statefulset_daemonset_job(fake_api: FakeApiServer) -> None:
    sts = deployment("db")
    sts["kind"] = "StatefulSet"
    sts["spec"]["serviceName"] = "db"
    apps(fake_api).create_namespaced_stateful_set("default", sts)
    ds = deployment("agent")
    ds["kind"] = "DaemonSet"
    del ds["spec"]["replicas"]
    apps(fake_api).create_namespaced_daemon_set("default", ds)
    batch(fake_api).create_namespaced_job(
        "default",
        {
            "metadata": {"name": "migrate"},
            "spec": {
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "i"}]}}
            },
        },
    )
    assert fake_api.wait_idle()
    s = fake_api.get("StatefulSet", "db", "default")
    d = fake_api.get("DaemonSet", "agent", "default")
    j = fake_api.get("Job", "migrate", "default")
    assert s is not None and d is not None and j is not None
    assert (
        s["status"]["readyReplicas"] == 1 and s["status"]["currentRevision"] == s["status"]["updateRevision"]
    )
    assert {p["metadata"]["name"] for p in fake_api.objects("Pod")} >= {"db-0"}
    assert (
        d["status"]["desiredNumberScheduled"],
        d["status"]["numberReady"],
        d["status"]["updatedNumberScheduled"],
        d["status"]["numberAvailable"],
    ) == (1, 1, 1, 1)
    assert j["status"]["succeeded"] == 1 and _conditions(j)["Complete"]["status"] == "True"


def test_latency_delays_readiness() -> None:
    with FakeApiServer(latency={"Deployment": 1.0}) as fake:
        apps(fake).create_namespaced_deployment("default", deployment("slow"))
        dep = fake.get("Deployment", "slow", "default")
        assert dep is not None and "readyReplicas" not in (dep.get("status") or {})
        assert not fake.wait_idle(0.2)  # still queued
        assert fake.wait_idle(5)
        dep = fake.get("Deployment", "slow", "default")
        assert dep is not None and dep["status"]["readyReplicas"] == 1


def test_latency_per_object_overrides_kind() -> None:
    with FakeApiServer(latency={"Deployment": 5.0, "Deployment/default/quick": 0.0}) as fake:
        apps(fake).create_namespaced_deployment("default", deployment("quick"))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            dep = fake.get("Deployment", "quick", "default")
            if dep is not None and (dep.get("status") or {}).get("readyReplicas") == 1:
                break
            time.sleep(0.02)
        else:
            pytest.fail("per-object latency 0 was not honoured")


def test_no_controllers_means_nothing_becomes_ready() -> None:
    with FakeApiServer(controllers=False) as fake:
        apps(fake).create_namespaced_deployment("default", deployment("web"))
        time.sleep(0.1)
        dep = fake.get("Deployment", "web", "default")
        assert dep is not None and "status" not in dep
        assert fake.objects("Pod") == []


def test_knative_service_and_inference_service_ready_with_domain(fake_api: FakeApiServer) -> None:
    core(fake_api).create_namespace({"metadata": {"name": "knative-serving"}})
    core(fake_api).create_namespaced_config_map(
        "knative-serving",
        {"metadata": {"name": "config-domain"}, "data": {"_example": "docs", "example.test": ""}},
    )
    ksvc = _install_crd(fake_api, "serving.knative.dev", "Service", "services", "v1")
    isvc = _install_crd(fake_api, "serving.kserve.io", "InferenceService", "inferenceservices", "v1beta1")
    ksvc.create(
        body={
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "frontend", "namespace": "default"},
            "spec": {},
        }
    )
    isvc.create(
        body={
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "sklearn-iris", "namespace": "default"},
            "spec": {},
        }
    )
    assert fake_api.wait_idle()
    k = ksvc.get(name="frontend", namespace="default").to_dict()
    assert k["status"]["url"] == "http://frontend.default.example.test"
    assert _conditions(k)["Ready"]["status"] == "True"
    assert k["status"]["latestReadyRevisionName"] == "frontend-00001"
    assert k["status"]["traffic"][0]["percent"] == 100
    i = isvc.get(name="sklearn-iris", namespace="default").to_dict()
    assert i["status"]["url"] == "http://sklearn-iris.default.example.test"
    assert (
        i["status"]["components"]["predictor"]["url"] == "http://sklearn-iris-predictor.default.example.test"
    )
    assert _conditions(i)["Ready"]["status"] == "True"


def test_default_domain_is_sslip(fake_api: FakeApiServer) -> None:
    ksvc = _install_crd(fake_api, "serving.knative.dev", "Service", "services", "v1")
    ksvc.create(
        body={
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {},
        }
    )
    assert fake_api.wait_idle()
    assert ksvc.get(name="hello", namespace="default").status.url == "http://hello.default.127.0.0.1.sslip.io"


def test_never_ready_image_pull(fake_api: FakeApiServer) -> None:
    fake_api.never_ready("Deployment", "default", "web", reason="ImagePullBackOff")
    apps(fake_api).create_namespaced_deployment("default", deployment("web", image="ghcr.io/x/web:v9"))
    assert fake_api.wait_idle()
    dep = fake_api.get("Deployment", "web", "default")
    assert dep is not None and dep["status"]["readyReplicas"] == 0
    assert _conditions(dep)["Available"]["status"] == "False"
    (pod,) = fake_api.objects("Pod", "default")
    waiting = pod["status"]["containerStatuses"][0]["state"]["waiting"]
    assert pod["status"]["phase"] == "Pending"
    assert waiting == {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "ghcr.io/x/web:v9"'}
    events = (
        core(fake_api)
        .list_namespaced_event(
            "default", field_selector=f"involvedObject.name={pod['metadata']['name']},involvedObject.kind=Pod"
        )
        .items
    )
    assert [(e.type, e.reason) for e in events] == [("Warning", "Failed")]
    owner_events = (
        core(fake_api).list_namespaced_event("default", field_selector="involvedObject.name=web").items
    )
    assert owner_events and owner_events[0].type == "Warning"

    fake_api.make_ready("Deployment", "default", "web")
    assert fake_api.wait_idle()
    dep = fake_api.get("Deployment", "web", "default")
    assert dep is not None and dep["status"]["readyReplicas"] == 1


def test_never_ready_crashloop_has_logs(fake_api: FakeApiServer) -> None:
    fake_api.never_ready(
        "Deployment",
        "default",
        "api",
        reason="CrashLoopBackOff",
        logs="starting\nconnecting to db\npanic: connection refused\n",
    )
    apps(fake_api).create_namespaced_deployment("default", deployment("api"))
    assert fake_api.wait_idle()
    (pod,) = fake_api.objects("Pod", "default")
    cs = pod["status"]["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1 and cs["restartCount"] > 0
    log = core(fake_api).read_namespaced_pod_log(pod["metadata"]["name"], "default", tail_lines=1)
    assert log == "panic: connection refused\n"


def test_never_ready_unschedulable(fake_api: FakeApiServer) -> None:
    fake_api.never_ready("StatefulSet", "default", "db", reason="Unschedulable")
    sts = deployment("db")
    sts["kind"] = "StatefulSet"
    apps(fake_api).create_namespaced_stateful_set("default", sts)
    assert fake_api.wait_idle()
    (pod,) = fake_api.objects("Pod", "default")
    (cond,) = pod["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")
    assert cond["message"].startswith("0/1 nodes are available")
    events = core(fake_api).list_namespaced_event("default", field_selector="reason=FailedScheduling").items
    assert events and events[0].source.component == "default-scheduler"


def test_never_ready_condition_kind(fake_api: FakeApiServer) -> None:
    isvc = _install_crd(fake_api, "serving.kserve.io", "InferenceService", "inferenceservices", "v1beta1")
    fake_api.never_ready(
        "InferenceService",
        "default",
        "iris",
        reason="ModelLoadFailed",
        message="failed to download gs://bucket/model",
    )
    isvc.create(
        body={
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "iris", "namespace": "default"},
            "spec": {},
        }
    )
    assert fake_api.wait_idle()
    ready = _conditions(isvc.get(name="iris", namespace="default").to_dict())["Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "ModelLoadFailed",
        "failed to download gs://bucket/model",
    )


def test_controllers_do_not_churn(fake_api: FakeApiServer) -> None:
    apps(fake_api).create_namespaced_deployment("default", deployment("web"))
    assert fake_api.wait_idle()
    rv = fake_api.resource_version
    time.sleep(0.2)
    assert fake_api.wait_idle()
    assert fake_api.resource_version == rv


def test_template_change_replaces_the_pod_and_scale_to_zero_removes_it(fake_api: FakeApiServer) -> None:
    apps(fake_api).create_namespaced_deployment("default", deployment("web", image="web:v1"))
    assert fake_api.wait_idle()
    (before,) = fake_api.objects("Pod", "default")
    apps(fake_api).patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "web:v2"}]}}}},
    )
    assert fake_api.wait_idle()
    (after,) = fake_api.objects("Pod", "default")
    assert after["metadata"]["name"] != before["metadata"]["name"]
    assert after["spec"]["containers"][0]["image"] == "web:v2"
    dep = fake_api.get("Deployment", "web", "default")
    assert dep is not None and dep["status"]["observedGeneration"] == 2
    apps(fake_api).patch_namespaced_deployment("web", "default", {"spec": {"replicas": 0}})
    assert fake_api.wait_idle()
    assert fake_api.objects("Pod", "default") == []


def _job(name: str, **spec: Any) -> dict[str, Any]:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": "i"}]}}
    return {"metadata": {"name": name}, "spec": {"template": template, **spec}}


def test_never_ready_job_fails_with_backoff_limit_exceeded(fake_api: FakeApiServer) -> None:
    fake_api.never_ready("Job", "default", "migrate", reason="Error", logs="boom\n")
    batch(fake_api).create_namespaced_job("default", _job("migrate", backoffLimit=2))
    assert fake_api.wait_idle()
    job = fake_api.get("Job", "migrate", "default")
    assert job is not None
    st = job["status"]
    # the job controller's view once failures exceed spec.backoffLimit
    assert st["failed"] == 3 and "active" not in st and "succeeded" not in st
    for ctype in ("FailureTarget", "Failed"):
        cond = _conditions(job)[ctype]
        assert (cond["status"], cond["reason"]) == ("True", "BackoffLimitExceeded")
        assert cond["message"] == "Job has reached the specified backoff limit"
    (pod,) = fake_api.objects("Pod", "default")
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 1
    assert core(fake_api).read_namespaced_pod_log(pod["metadata"]["name"], "default") == "boom\n"
    events = core(fake_api).list_namespaced_event("default", field_selector="involvedObject.kind=Job").items
    assert [(e.reason, e.source.component) for e in events] == [("BackoffLimitExceeded", "job-controller")]


def test_never_ready_job_with_a_pull_error_stays_active(fake_api: FakeApiServer) -> None:
    # a pod that never starts never fails: a real Job waits (no backoff), so does the fake's
    fake_api.never_ready("Job", "default", "pull", reason="ImagePullBackOff")
    batch(fake_api).create_namespaced_job("default", _job("pull"))
    assert fake_api.wait_idle()
    job = fake_api.get("Job", "pull", "default")
    assert job is not None and job["status"]["active"] == 1 and "Failed" not in _conditions(job)


def test_inference_service_canary_splits_traffic_like_kserve(fake_api: FakeApiServer) -> None:
    isvc = _install_crd(fake_api, "serving.kserve.io", "InferenceService", "inferenceservices", "v1beta1")
    body: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "iris", "namespace": "default"},
        "spec": {"predictor": {"model": {"storageUri": "gs://b/v1"}}},
    }
    isvc.create(body=body)

    def predictor() -> dict[str, Any]:
        assert fake_api.wait_idle()
        got: dict[str, Any] = isvc.get(name="iris", namespace="default").to_dict()
        return dict(got["status"]["components"]["predictor"])

    first = predictor()
    assert first["traffic"] == [
        {"revisionName": "iris-predictor-00001", "latestRevision": True, "percent": 100}
    ]
    assert first["latestRolledoutRevision"] == "iris-predictor-00001"
    # a new model with canaryTrafficPercent: the last rolled-out revision keeps 100-P, tagged "prev"
    body["spec"]["predictor"] = {"canaryTrafficPercent": 10, "model": {"storageUri": "gs://b/v2"}}
    isvc.patch(body=body, content_type="application/merge-patch+json")
    canary = predictor()
    assert canary["traffic"] == [
        {"revisionName": "iris-predictor-00002", "latestRevision": True, "percent": 10},
        {
            "revisionName": "iris-predictor-00001",
            "latestRevision": False,
            "percent": 90,
            "tag": "prev",
            "url": "http://prev-iris-predictor.default.127.0.0.1.sslip.io",
        },
    ]
    assert canary["latestReadyRevision"] == canary["latestCreatedRevision"] == "iris-predictor-00002"
    assert canary["latestRolledoutRevision"] == "iris-predictor-00001"
    # promotion (canaryTrafficPercent removed): same revision, now 100 %, and the rollout is recorded
    del body["spec"]["predictor"]["canaryTrafficPercent"]
    isvc.replace(body={**body, "metadata": {**body["metadata"], "resourceVersion": None}})
    promoted = predictor()
    assert promoted["traffic"] == [
        {"revisionName": "iris-predictor-00002", "latestRevision": True, "percent": 100}
    ]
    assert promoted["latestRolledoutRevision"] == "iris-predictor-00002"
    assert promoted["previousRolledoutRevision"] == "iris-predictor-00001"
