"""``up --prepull`` on an existing cluster: the short-lived DaemonSet (usecases/prepull_existing.py).

Needs the fake's simulated kubelet (pod statuses, pull failures): skipped on a real cluster.
"""

from __future__ import annotations

from pathlib import Path

from platformctl.plan.spec import COMPONENTS, PlatformSpec
from platformctl.reporting import NullReporter, RecordingReporter
from platformctl.usecases.prepull_existing import NAME, NAMESPACE, objects, pod_status, prepull_existing
from platformctl.usecases.render import SourceOptions
from platformctl.usecases.up import UpOptions, default_connect, up
from tests.conftest import KubeTarget, requires_fake

IMAGES = ["redis:7.2.5", "postgres:16.0", "apache/kafka:3.8.0"]


def test_daemonset_pulls_every_image_on_every_node_then_removes_itself(kube_target: KubeTarget) -> None:
    fake = requires_fake(kube_target)
    engine = default_connect(kube_target.kubeconfig, kube_target.context, NullReporter())
    rec = RecordingReporter()
    report = prepull_existing(engine, IMAGES, timeout=30, reporter=rec, poll=0.05)
    assert [r.image for r in report.results] == IMAGES and report.failed == []
    assert report.summary() == "3/3 images pre-pulled"
    applied = [p for m, p in fake.requests if m == "PATCH" and "/daemonsets/" in p]
    assert applied and NAME in applied[0] and NAMESPACE in applied[0]
    fake.wait_idle()
    assert fake.get("Namespace", NAMESPACE) is None and fake.get("DaemonSet", NAME, NAMESPACE) is None
    progress = [(e.done, e.total) for e in rec.events if e.kind == "progress"]
    assert progress[-1] == (3, 3)


def test_pull_failure_is_reported_and_the_daemonset_still_goes(kube_target: KubeTarget) -> None:
    fake = requires_fake(kube_target)
    fake.never_ready("DaemonSet", NAMESPACE, NAME, reason="ImagePullBackOff")
    engine = default_connect(kube_target.kubeconfig, kube_target.context, NullReporter())
    report = prepull_existing(engine, IMAGES, timeout=2, poll=0.05)
    errors = {r.image: r.error for r in report.failed}
    assert set(errors) == set(IMAGES)
    assert "ImagePullBackOff" in errors["redis:7.2.5"]
    assert errors["postgres:16.0"].startswith("not pulled yet when stopped on ")
    fake.wait_idle()
    assert fake.get("Namespace", NAMESPACE) is None


def test_pod_status_rules() -> None:
    pod = {
        "spec": {
            "nodeName": "n1",
            "containers": objects(IMAGES)[1]["spec"]["template"]["spec"]["containers"],
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "image-0",
                    "image": "docker.io/library/redis:7.2.5",
                    "imageID": "sha256:1",
                    "state": {},
                },
                {
                    "name": "image-1",
                    "image": "x",
                    "state": {"waiting": {"reason": "ErrImagePull", "message": "nope"}},
                },
                {"name": "image-2", "image": "y", "state": {"waiting": {"reason": "ContainerCreating"}}},
            ]
        },
    }
    st = pod_status(pod)
    assert st.node == "n1" and st.pulled == {"redis:7.2.5"}
    assert st.failed == {"postgres:16.0": "ErrImagePull: nope"}
    # a container that could not start (no such command) still had its image pulled
    crashed = {"name": "image-2", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
               "lastState": {"terminated": {"reason": "StartError"}}}  # fmt: skip
    pod["status"]["containerStatuses"][2] = crashed
    assert "apache/kafka:3.8.0" in pod_status(pod).pulled


def test_up_prepull_on_existing_cluster(kube_target: KubeTarget, tmp_path: Path) -> None:
    requires_fake(kube_target)
    spec = PlatformSpec.model_validate(
        {
            "cluster": {"provider": "existing"},
            "domain": "example.com",
            "components": {n: {"enabled": n == "infra"} for n in COMPONENTS},
        }
    )
    opts = UpOptions(
        sources=SourceOptions(allow_download=False),
        kubeconfig=kube_target.kubeconfig,
        context=kube_target.context,
        prepull=True,
        timeout=60,
    )
    res = up(spec, opts)
    assert res.run is not None and res.run.ok
    assert res.prepull is not None and res.prepull.total == 3
