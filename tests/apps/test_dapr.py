"""Dapr building blocks of deploy-app: sidecar annotations, bindings to the platform's shared
components, scopes, --component and --subscribe, and what `apps delete` cleans up."""

from __future__ import annotations

import json

import yaml

from tests.apps.conftest import IMAGE_V1, AppCluster
from tests.conftest import requires_fake


def _env(ksvc: dict[str, object]) -> dict[str, str]:
    container = ksvc["spec"]["template"]["spec"]["containers"][0]  # type: ignore[index]
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def test_bind_platform_blocks_sets_annotations_env_and_scopes(app_cluster: AppCluster, app_name: str) -> None:
    ran = app_cluster.run(
        "deploy-app",
        app_name,
        "--image",
        IMAGE_V1,
        "--port",
        "8081",
        "--statestore",
        "statestore",
        "--pubsub",
        "pubsub",
        "--subscribe",
        "orders=/orders",
    )
    assert ran.exit_code == 0, ran.output
    assert "dapr: statestore (state.redis), pubsub (pubsub.kafka)" in ran.stdout
    ksvc = app_cluster.ksvc(app_name)
    assert ksvc is not None
    ann = ksvc["spec"]["template"]["metadata"]["annotations"]
    assert ann["dapr.io/enabled"] == "true" and ann["dapr.io/app-id"] == app_name
    assert ann["dapr.io/app-port"] == "8081" and ann["dapr.io/metrics-port"] == "9092"
    env = _env(ksvc)
    assert env["STATESTORE_NAME"] == "statestore" and env["PUBSUB_NAME"] == "pubsub"
    for name in ("statestore", "pubsub"):
        comp = app_cluster.component(name)
        assert comp is not None and app_name in comp["scopes"], comp
    sub = app_cluster.engine.get("dapr.io/v2alpha1", "Subscription", f"{app_name}-orders", "default")
    assert sub is not None
    assert sub["spec"] == {"topic": "orders", "routes": {"default": "/orders"}, "pubsubname": "pubsub"}
    assert sub["scopes"] == [app_name]
    described = app_cluster.run("apps", "describe", app_name, "-o", "json")
    data = json.loads(described.stdout)
    assert data["bindings"] == ["statestore", "pubsub"]
    assert data["subscriptions"][0]["topic"] == "orders"
    # a re-deploy without the subscription removes it; without the bindings takes the app out of scopes
    ran = app_cluster.run(
        "deploy-app", app_name, "--image", IMAGE_V1, "--port", "8081", "--statestore", "statestore"
    )
    assert ran.exit_code == 0, ran.output
    assert app_cluster.engine.get("dapr.io/v2alpha1", "Subscription", f"{app_name}-orders", "default") is None
    pubsub = app_cluster.component("pubsub")
    assert pubsub is not None and app_name not in (pubsub.get("scopes") or [])
    statestore = app_cluster.component("statestore")
    assert statestore is not None and app_name in statestore["scopes"]
    deleted = app_cluster.run("apps", "delete", app_name, "--yes")
    assert deleted.exit_code == 0, deleted.output
    statestore = app_cluster.component("statestore")
    assert statestore is not None  # the platform's own component stays
    assert app_name not in (statestore.get("scopes") or [])


def test_scopes_list_every_app_that_asked(app_cluster: AppCluster) -> None:
    requires_fake(app_cluster.target)
    for app in ("one", "two"):
        assert (
            app_cluster.run("deploy-app", app, "--image", IMAGE_V1, "--statestore", "statestore").exit_code
            == 0
        )
    comp = app_cluster.component("statestore")
    assert comp is not None and comp["scopes"] == ["one", "two"]
    assert app_cluster.run("apps", "delete", "one", "--yes").exit_code == 0
    comp = app_cluster.component("statestore")
    assert comp is not None and comp["scopes"] == ["two"]
    # `up` re-applying the platform's component keeps the scopes the apps set (a merge patch owns them)
    from platformctl.components.workloads import building_block

    app_cluster.engine.apply([building_block("statestore", "state.redis", "default")], component="conference")
    comp = app_cluster.component("statestore")
    assert comp is not None and comp["scopes"] == ["two"]


def test_component_creates_a_building_block_and_delete_removes_it(
    app_cluster: AppCluster, app_name: str
) -> None:
    cart = f"{app_name}-cart"
    ran = app_cluster.run(
        "deploy-app", app_name, "--image", IMAGE_V1, "--component", f"state.redis:{cart}", "-o", "json"
    )
    assert ran.exit_code == 0, ran.output
    comp = app_cluster.component(cart)
    assert comp is not None
    assert comp["spec"]["type"] == "state.redis" and comp["scopes"] == [app_name]
    assert comp["metadata"]["labels"]["platformctl.io/app"] == app_name
    meta = {m["name"]: m for m in comp["spec"]["metadata"]}
    assert meta["redisHost"]["value"] == "redis.default.svc.cluster.local:6379"
    assert meta["redisPassword"]["secretKeyRef"] == {"name": "redis", "key": "redis-password"}
    ksvc = app_cluster.ksvc(app_name)
    assert ksvc is not None and _env(ksvc)["STATESTORE_NAME"] == cart
    # now it exists: another app can bind it by name
    listed = app_cluster.run("deploy-app", "x", "--image", IMAGE_V1, "--statestore", cart, "--dry-run")
    assert listed.exit_code == 0, listed.output
    deleted = app_cluster.run("apps", "delete", app_name, "--yes")
    assert deleted.exit_code == 0, deleted.output
    assert f"deleted Component default/{cart}" in deleted.stderr
    assert app_cluster.component(cart) is None


def test_dry_run_shows_components_and_subscriptions(app_cluster: AppCluster) -> None:
    fake = requires_fake(app_cluster.target)
    ran = app_cluster.run(
        "deploy-app",
        "shop",
        "--image",
        IMAGE_V1,
        "--component",
        "pubsub.kafka:orders-bus",
        "--subscribe",
        "orders=/orders",
        "--dry-run",
    )
    assert ran.exit_code == 0, ran.output
    docs = list(yaml.safe_load_all(ran.stdout))
    assert [d["kind"] for d in docs] == ["Service", "Component", "Subscription"]
    assert docs[1]["scopes"] == ["shop"] and docs[2]["spec"]["pubsubname"] == "orders-bus"
    assert [m for m, _ in app_cluster.writes()] == []
    assert fake.objects(kind="Subscription") == []


def test_redeploy_without_a_created_component_removes_it(app_cluster: AppCluster, app_name: str) -> None:
    """A component deploy-app created and no app binds any more would be visible to every app (no
    scopes): it goes; the platform's own components stay, only losing the app from their scopes."""
    cart = f"{app_name}-cart"
    args = ["deploy-app", app_name, "--image", IMAGE_V1]
    assert app_cluster.run(*args, "--component", f"state.redis:{cart}", "--pubsub", "pubsub").exit_code == 0
    assert app_cluster.component(cart) is not None
    ran = app_cluster.run(*args)
    assert ran.exit_code == 0, ran.output
    assert app_cluster.component(cart) is None
    pubsub = app_cluster.component("pubsub")
    assert pubsub is not None and app_name not in (pubsub.get("scopes") or [])
