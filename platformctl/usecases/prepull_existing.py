"""``up --prepull`` on an existing cluster: a short-lived DaemonSet pulls the image list on every node.

platformctl cannot reach an existing cluster's nodes, so it asks the kubelets: a DaemonSet in its own
namespace ``platformctl-prepull`` runs one container per image. The containers are never meant to run
(their command does not exist, so they fail to start); what matters is that the kubelet pulls each
image to create them. An image counts as pulled on a node when its container was created (an
``imageID``, or a running/terminated state, now or last time), as failed when the kubelet reports a
pull error (``ErrImagePull``, ``ImagePullBackOff``, ``InvalidImageName``, ``ErrImageNeverPull``).
When every image is settled on every scheduled pod, or the deadline passes, the namespace is deleted
(the DaemonSet and its pods with it). Failures are reported per image; none of this is fatal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl import reporting
from platformctl.errors import ClusterError, NotReadyError
from platformctl.usecases.prepull import STEP, PrepullReport, PullResult

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine
    from platformctl.reporting import Reporter

NAMESPACE = "platformctl-prepull"
NAME = "platformctl-prepull"
COMPONENT = "prepull"
SELECTOR = f"app.kubernetes.io/name={NAME}"
# A command no image ships: the kubelet pulls the image, creates the container, and fails to start it.
NOOP = "/platformctl-prepull-noop"
PULL_ERRORS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
POLL = 2.0


def objects(images: Sequence[str]) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": NAME}
    containers = [
        {
            "name": f"image-{i}",
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "command": [NOOP],
            "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}},
        }
        for i, image in enumerate(images)
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": containers,
                        "tolerations": [{"operator": "Exists"}],  # every node, control planes too
                        "terminationGracePeriodSeconds": 0,
                        "automountServiceAccountToken": False,
                        "enableServiceLinks": False,
                    },
                },
            },
        },
    ]


@dataclass
class NodeStatus:
    node: str
    pulled: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)


def pod_status(pod: Mapping[str, Any]) -> NodeStatus:
    """Which images a prepull pod has pulled / failed to pull (pending ones are in neither)."""
    spec = pod.get("spec") or {}
    node = str(spec.get("nodeName") or (pod.get("metadata") or {}).get("name") or "?")
    result = NodeStatus(node)
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        image = str(cs.get("image") or "")
        by_name = {c.get("name"): c.get("image") for c in spec.get("containers") or []}
        image = str(by_name.get(cs.get("name")) or image)  # the spec's spelling, not the runtime's
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        if cs.get("imageID") or state.get("running") or state.get("terminated") or cs.get("lastState"):
            result.pulled.add(image)
        elif waiting.get("reason") in PULL_ERRORS:
            result.failed[image] = f"{waiting.get('reason')}: {waiting.get('message') or ''}".rstrip(": ")
    return result


def prepull_existing(
    engine: Engine,
    images: Sequence[str],
    *,
    timeout: float = 900,
    reporter: Reporter | None = None,
    poll: float = POLL,
    cancel: threading.Event | None = None,
) -> PrepullReport:
    """Create the DaemonSet, wait until every image is settled on every node (or ``cancel`` is set,
    or the deadline passes), remove it."""
    rep = reporter or reporting.NullReporter()
    wanted = list(dict.fromkeys(images))
    report = PrepullReport(total=len(wanted))
    reporting.start(rep, STEP, f"pre-pulling {len(wanted)} images on every node (DaemonSet {NAME})")
    started = time.monotonic()
    deadline = started + timeout
    nodes: list[NodeStatus] = []
    try:
        engine.apply(objects(wanted), component=COMPONENT, timeout=min(timeout, 120))
        last = -1
        while True:
            pods = engine.list("v1", "Pod", namespace=NAMESPACE, label_selector=SELECTOR)
            nodes = [pod_status(p) for p in pods]
            settled = [i for i in wanted if nodes and all(i in n.pulled or i in n.failed for n in nodes)]
            if len(settled) != last:
                last = len(settled)
                reporting.progress(
                    rep, STEP, last, len(wanted), f"{last}/{len(wanted)} images on {len(nodes)} node(s)"
                )
            if nodes and len(settled) == len(wanted):
                break
            if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
                break
            if cancel is not None:
                cancel.wait(min(poll, max(0.0, deadline - time.monotonic())))
            else:
                time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
    finally:
        try:
            engine.delete("v1", "Namespace", NAMESPACE, timeout=120)
        except (ClusterError, NotReadyError) as exc:
            reporting.log(rep, STEP, f"could not remove namespace {NAMESPACE}: {exc.message}")
    took = time.monotonic() - started
    for image in wanted:
        errors = [f"{n.node}: {n.failed[image]}" for n in nodes if image in n.failed]
        pending = [n.node for n in nodes if image not in n.pulled and image not in n.failed]
        if not nodes:
            report.results.append(PullResult(image, False, took, error="no prepull pod was scheduled"))
        elif errors:
            report.results.append(PullResult(image, False, took, error="; ".join(errors)))
        elif pending:
            report.results.append(
                PullResult(image, False, took, error=f"not pulled yet when stopped on {', '.join(pending)}")
            )
        else:
            report.results.append(PullResult(image, True, took))
    if report.failed:
        reporting.fail(rep, STEP, report.summary())
        for r in report.failed:
            reporting.log(rep, STEP, f"pre-pull of {r.image} failed: {r.error}")
    else:
        reporting.finish(rep, STEP, report.summary())
    return report


class ExistingPrepull:
    """``prepull_existing`` on a background thread, with the same start/cancel/wait as ``Prepull``.
    ``grace``: how long ``up`` waits at the end for the cleanup (deleting the namespace)."""

    grace = 150.0

    def __init__(
        self, engine: Engine, images: Sequence[str], *, timeout: float, reporter: Reporter | None = None
    ) -> None:
        self._cancel = threading.Event()
        self.report = PrepullReport(total=len(dict.fromkeys(images)))

        def run() -> None:
            try:
                self.report = prepull_existing(
                    engine, images, timeout=timeout, reporter=reporter, cancel=self._cancel
                )
            except (ClusterError, NotReadyError) as exc:
                reporting.fail(reporter or reporting.NullReporter(), STEP, f"pre-pull failed: {exc.message}")

        self._thread = threading.Thread(target=run, name="platformctl-prepull-existing", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> PrepullReport:
        self._thread.join(timeout)
        return self.report
