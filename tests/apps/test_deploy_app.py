"""deploy-app through the real CLI entry point and engine, against the fake API server with the pinned
Knative/Dapr CRDs (or a real cluster with PLATFORMCTL_TEST_KUBECONFIG)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.apps.conftest import IMAGE_V1, IMAGE_V2, AppCluster
from tests.conftest import requires_fake
from tests.support.cli_main import Ran


def test_deploy_waits_ready_and_prints_url_and_requests(app_cluster: AppCluster, app_name: str) -> None:
    ran = app_cluster.run("deploy-app", app_name, "--image", IMAGE_V1, "--no-dapr", "--min-scale", "1")
    assert ran.exit_code == 0, ran.output
    obj = app_cluster.ksvc(app_name)
    assert obj is not None
    labels = obj["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "platformctl" and labels["platformctl.io/kind"] == "app"
    url = obj["status"]["url"]
    host = url.split("://", 1)[1]
    assert f"app default/{app_name}: Ready" in ran.stdout
    assert f"URL: {url}" in ran.stdout
    assert f"curl -sS -H 'Host: {host}' " in ran.stdout  # the Host header form
    assert f"Host:{host}" in ran.stdout  # httpie
    if host.endswith(".127.0.0.1.sslip.io"):
        assert f"--resolve {host}:80:127.0.0.1" in ran.stdout
        assert f"-H 'Host: {host}' http://127.0.0.1:80/" in ran.stdout


def test_no_wait_json(app_cluster: AppCluster, app_name: str) -> None:
    ran = app_cluster.run(
        "deploy-app",
        app_name,
        "--image",
        IMAGE_V1,
        "--no-dapr",
        "--no-wait",
        "-o",
        "json",
        "--ingress",
        "127.0.0.1:8080",
    )
    assert ran.exit_code == 0, ran.output
    data = json.loads(ran.stdout)
    assert data["applied"] is True and data["ready"] is False and data["action"] == "created"
    assert data["objects"][0]["kind"] == "Service"


def test_not_ready_explains_the_revision_and_pods(app_cluster: AppCluster, app_name: str) -> None:
    fake = requires_fake(app_cluster.target)
    fake.never_ready("Service", "default", app_name, reason="ImagePullBackOff")
    ran = app_cluster.run(
        "deploy-app", app_name, "--image", "registry.invalid/missing:1", "--no-dapr", "--timeout", "2"
    )
    assert ran.exit_code == 1, ran.output
    assert f"Knative Service default/{app_name} is not Ready: revision {app_name}-00001" in ran.stderr
    assert "ImagePullBackOff" in ran.stderr
    assert 'Back-off pulling image "registry.invalid/missing:1"' in ran.stderr  # from the revision's pod
    assert "Traceback" not in ran.output


def test_crash_loop_shows_the_last_log_lines(app_cluster: AppCluster, app_name: str) -> None:
    fake = requires_fake(app_cluster.target)
    fake.never_ready("Service", "default", app_name, reason="CrashLoopBackOff", logs="boot\npanic: no PORT\n")
    ran = app_cluster.run("deploy-app", app_name, "--image", IMAGE_V1, "--no-dapr", "--timeout", "2")
    assert ran.exit_code == 1, ran.output
    assert "CrashLoopBackOff" in ran.stderr and "panic: no PORT" in ran.stderr
    assert f"kubectl -n default describe revision {app_name}-00001" in ran.stderr


def test_existing_service_not_ours_is_refused_without_force(app_cluster: AppCluster, app_name: str) -> None:
    requires_fake(app_cluster.target)
    from platformctl.usecases.deploy_app import DeployAppRequest, render_service

    foreign = render_service(DeployAppRequest(app_name, image=IMAGE_V1), dapr=False)
    app_cluster.engine.apply([foreign], component="other")
    obj = app_cluster.ksvc(app_name)
    assert obj is not None
    labels = dict(obj["metadata"]["labels"])
    # someone else's Service: without our kind label, as if another tool had created it
    app_cluster.engine.apply(
        [{**foreign, "metadata": {**foreign["metadata"], "labels": {"app.kubernetes.io/name": app_name}}}],
        component="other",
    )
    obj = app_cluster.ksvc(app_name)
    assert obj is not None and "platformctl.io/kind" not in obj["metadata"]["labels"], labels
    assert app_cluster.fake is not None
    app_cluster.fake.reset_request_log()
    ran = app_cluster.run("deploy-app", app_name, "--image", IMAGE_V2, "--no-dapr")
    assert ran.exit_code == 5, ran.output
    assert "was not deployed by platformctl" in ran.stderr and "--force" in ran.stderr
    assert app_cluster.writes() == []
    ran = app_cluster.run("apps", "delete", app_name, "--yes")
    assert ran.exit_code == 5 and app_cluster.writes() == []


def test_canary_tag_promote_list_delete(app_cluster: AppCluster, app_name: str) -> None:
    assert app_cluster.run("deploy-app", app_name, "--image", IMAGE_V1, "--no-dapr").exit_code == 0
    first = app_cluster.ksvc(app_name)
    assert first is not None
    rev1 = first["status"]["latestReadyRevisionName"]
    # same spec again: no new revision
    again = app_cluster.run("deploy-app", app_name, "--image", IMAGE_V1, "--no-dapr", "-o", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["latestRevision"] == rev1
    ran = app_cluster.run(
        "deploy-app",
        app_name,
        "--image",
        IMAGE_V2,
        "--no-dapr",
        "--traffic-percent",
        "10",
        "--tag",
        "canary",
        "-o",
        "json",
    )
    assert ran.exit_code == 0, ran.output
    data = json.loads(ran.stdout)
    rev2 = data["latestRevision"]
    assert rev2 != rev1
    split = {t["revisionName"]: (t["percent"], t.get("tag"), t["latestRevision"]) for t in data["traffic"]}
    assert split == {rev2: (10, "canary", True), rev1: (90, None, False)}
    domain = data["url"].split(f"{app_name}.default.", 1)[1]
    tagged = next(t for t in data["traffic"] if t.get("tag") == "canary")
    assert tagged["url"] == f"http://canary-{app_name}.default.{domain}"
    spec = app_cluster.ksvc(app_name)
    assert spec is not None
    # what deploy-app declared (a real apiserver's Knative webhook may add latestRevision: false)
    declared = [
        (t["percent"], t.get("latestRevision", False), t.get("revisionName"), t.get("tag"))
        for t in spec["spec"]["traffic"]
    ]
    assert declared == [(10, True, None, "canary"), (90, False, rev1, None)]
    listed = app_cluster.run("apps", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    (row,) = [r for r in json.loads(listed.stdout) if r["name"] == app_name]
    assert {t["revisionName"]: t["percent"] for t in row["traffic"]} == {rev2: 10, rev1: 90}
    assert row["latestRevision"] == rev2 and row["ready"] is True and row["minScale"] == 0
    table = app_cluster.run("apps", "list")
    assert f"{rev2}:10% (latest, tag canary) {rev1}:90%" in table.stdout
    described = app_cluster.run("apps", "describe", app_name, "-o", "json")
    assert described.exit_code == 0, described.output
    revs = {r["name"]: r for r in json.loads(described.stdout)["revisions"]}
    assert (
        revs[rev2]["percent"] == 10 and revs[rev2]["tags"] == ["canary"] and revs[rev2]["image"] == IMAGE_V2
    )
    assert revs[rev1]["percent"] == 90 and revs[rev1]["image"] == IMAGE_V1
    promoted = app_cluster.run("apps", "promote", app_name, "-o", "json")
    assert promoted.exit_code == 0, promoted.output
    pdata = json.loads(promoted.stdout)
    assert pdata["changed"] is True
    assert [(t["revisionName"], t["percent"]) for t in pdata["traffic"]] == [(rev2, 100)]
    live = app_cluster.ksvc(app_name)
    assert live is not None
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE_V2
    assert live["status"]["latestCreatedRevisionName"] == rev2  # promote makes no new revision
    declined = run_delete(app_cluster, app_name, "n\n")
    assert declined.exit_code == 1 and "nothing was changed" in declined.stderr
    assert app_cluster.ksvc(app_name) is not None
    deleted = app_cluster.run("apps", "delete", app_name, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert f"deleted Service default/{app_name}" in deleted.stderr
    assert app_cluster.ksvc(app_name) is None
    assert app_name not in app_cluster.run("apps", "list").stdout


def run_delete(app_cluster: AppCluster, name: str, answer: str) -> Ran:
    """`apps delete` answering the confirmation with ``answer``."""
    from typer.testing import CliRunner

    from platformctl.cli.app import main

    with CliRunner().isolation(input=answer) as (out, err, _):
        code = 0
        try:
            main([*app_cluster.args, "apps", "delete", name])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        return Ran(code, out.getvalue().decode(), err.getvalue().decode())


def test_logs_of_the_latest_revision(app_cluster: AppCluster, app_name: str) -> None:
    fake = requires_fake(app_cluster.target)
    assert (
        app_cluster.run(
            "deploy-app", app_name, "--image", IMAGE_V1, "--no-dapr", "--min-scale", "1"
        ).exit_code
        == 0
    )
    fake.wait_idle()
    pods = [
        p
        for p in fake.objects(kind="Pod", namespace="default")
        if p["metadata"]["labels"].get("serving.knative.dev/service") == app_name
    ]
    assert len(pods) == 1
    fake.set_pod_logs("default", pods[0]["metadata"]["name"], "started\nlistening on :8080\n")
    ran = app_cluster.run("apps", "logs", app_name)
    assert ran.exit_code == 0, ran.output
    assert ran.stdout == "started\nlistening on :8080\n"
    followed = app_cluster.run("apps", "logs", app_name, "-f", "--tail", "1")
    assert followed.exit_code == 0, followed.output
    assert followed.stdout == "listening on :8080\n"
    assert f"following pod {pods[0]['metadata']['name']}" in followed.stderr
    listed = app_cluster.run("apps", "list", "-o", "json")
    (row,) = [r for r in json.loads(listed.stdout) if r["name"] == app_name]
    assert row["pods"] == 1 and row["minScale"] == 1


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["Bad_Name", "--image", IMAGE_V1], "NAME"),
        (["ok", "--image", "UPPER/Case:1"], "--image"),
        (["ok"], "--image"),
        (["ok", "--image", IMAGE_V1, "--port", "0"], "--port"),
        (["ok", "--image", IMAGE_V1, "--port", "70000"], "--port"),
        (["ok", "--image", IMAGE_V1, "--port", "3500"], "--port"),
        (["ok", "--image", IMAGE_V1, "--min-scale", "-1"], "--min-scale"),
        (["ok", "--image", IMAGE_V1, "--min-scale", "3", "--max-scale", "2"], "--max-scale"),
        (["ok", "--image", IMAGE_V1, "--concurrency", "-2"], "--concurrency"),
        (["ok", "--image", IMAGE_V1, "--cpu", "lots"], "--cpu"),
        (["ok", "--image", IMAGE_V1, "--memory", "1 GB"], "--memory"),
        (["ok", "--image", IMAGE_V1, "--env", "1BAD=x"], "--env"),
        (["ok", "--image", IMAGE_V1, "--env-from-secret", "Bad Secret"], "--env-from-secret"),
        (["ok", "--image", IMAGE_V1, "--traffic-percent", "101"], "--traffic-percent"),
        (["ok", "--image", IMAGE_V1, "--traffic-percent", "10"], "--traffic-percent"),  # a new app
        (["ok", "--image", IMAGE_V1, "--tag", "Not_A_Tag"], "--tag"),
        (["ok", "--image", IMAGE_V1, "--timeout", "0"], "--timeout"),
        (["ok", "--image", IMAGE_V1, "--namespace", "Bad"], "--namespace"),
        (["ok", "--image", IMAGE_V1, "--statestore", "nope"], "--statestore"),
        (["ok", "--image", IMAGE_V1, "--pubsub", "statestore"], "--pubsub"),  # exists, wrong type
        (["ok", "--image", IMAGE_V1, "--component", "state.mongodb:x"], "--component"),
        (["ok", "--image", IMAGE_V1, "--component", "nocolon"], "--component"),
        (["ok", "--image", IMAGE_V1, "--component", "pubsub.kafka:statestore"], "--component"),
        (["ok", "--image", IMAGE_V1, "--component", "state.redis:x", "-n", "other"], "--component"),
        (["ok", "--image", IMAGE_V1, "--subscribe", "orders=/orders"], "--subscribe"),  # no pubsub
        (["ok", "--image", IMAGE_V1, "--pubsub", "pubsub", "--subscribe", "orders"], "--subscribe"),
        (["ok", "--image", IMAGE_V1, "--pubsub", "pubsub", "--subscribe", "o=no-slash"], "--subscribe"),
        (["ok", "--image", IMAGE_V1, "--no-dapr", "--statestore", "statestore"], "--statestore"),
        (["ok", "--image", IMAGE_V1, "--ingress", "nowhere"], "--ingress"),
    ],
)
def test_bad_input_exits_2_naming_the_flag_and_applies_nothing(
    untouched_cluster: AppCluster, args: list[str], flag: str
) -> None:
    fake = requires_fake(untouched_cluster.target)
    ran = untouched_cluster.run("deploy-app", *args)
    assert ran.exit_code == 2, ran.output
    assert ran.stderr.startswith(f"error: {flag}"), ran.stderr
    assert "Traceback" not in ran.output
    assert untouched_cluster.writes() == []
    assert fake.objects(kind="Subscription") == []


def test_unknown_component_names_what_exists(untouched_cluster: AppCluster) -> None:
    ran = untouched_cluster.run("deploy-app", "ok", "--image", IMAGE_V1, "--statestore", "nope", "--dry-run")
    assert ran.exit_code == 2
    assert "no Dapr state component named 'nope' in namespace default; there are: " in ran.stderr
    assert "statestore" in ran.stderr.split("there are:", 1)[1]
    assert "--component state.redis:nope" in ran.stderr


def test_dry_run_without_cluster_access_prints_yaml(app_cluster: AppCluster) -> None:
    fake = requires_fake(app_cluster.target)
    ran = app_cluster.run("deploy-app", "hello", "--image", IMAGE_V1, "--dry-run")
    assert ran.exit_code == 0, ran.output
    (ksvc,) = list(yaml.safe_load_all(ran.stdout))
    assert ksvc["kind"] == "Service" and ksvc["metadata"]["name"] == "hello"
    ann = ksvc["spec"]["template"]["metadata"]["annotations"]
    # Dapr is on by default (the platform runs it): app id = NAME, app port, metrics 9092
    assert ann["dapr.io/enabled"] == "true" and ann["dapr.io/app-id"] == "hello"
    assert ann["dapr.io/app-port"] == "8080" and ann["dapr.io/metrics-port"] == "9092"
    assert ann["autoscaling.knative.dev/min-scale"] == "0"
    assert fake.request_count == 0


def test_scaled_to_zero_logs_list_promote_and_smoke(app_cluster: AppCluster, app_name: str) -> None:
    """An app with no pods (what Knative's autoscaler does to an idle min-scale 0 app): logs says so,
    list shows 0 pods, smoke-test reports the check as a cold start; promote without a canary is a no-op."""
    from platformctl.drivers.kube.patch import merge_patch
    from tests.support.httpserver import LocalHTTPServer

    fake = requires_fake(app_cluster.target)
    assert app_cluster.run("deploy-app", app_name, "--image", IMAGE_V1, "--no-dapr").exit_code == 0
    promoted = app_cluster.run("apps", "promote", app_name)
    assert promoted.exit_code == 0 and "already all on the latest revision" in promoted.stdout
    merge_patch(
        app_cluster.engine,
        "apps/v1",
        "Deployment",
        f"{app_name}-00001-deployment",
        "default",
        {"spec": {"replicas": 0}},
    )
    fake.wait_idle()
    logs = app_cluster.run("apps", "logs", app_name)
    assert logs.exit_code == 0 and "has no pods (scaled to zero)" in logs.stderr and logs.stdout == ""
    (row,) = [
        r for r in json.loads(app_cluster.run("apps", "list", "-o", "json").stdout) if r["name"] == app_name
    ]
    assert row["pods"] == 0
    with LocalHTTPServer() as ingress:
        ingress.add("/", b"hi")
        smoke = app_cluster.run(
            "smoke-test", "--ingress", f"127.0.0.1:{ingress.port}", "--only", f"app:{app_name}", "-o", "json"
        )
    assert smoke.exit_code == 0, smoke.output
    (check,) = json.loads(smoke.stdout)["checks"]
    assert check["detail"].startswith("cold start: scaled to zero before the check (")
