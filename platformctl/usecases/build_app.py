"""``deploy-app --build DIR``: the inner loop. Build the image with Docker, tag it by content, and make
it available to the cluster: kind → ``kind load docker-image``; any cluster with ``--push REGISTRY`` →
push, then deploy by digest. An existing cluster without ``--push`` is bad input (it has no way to get
a local image).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from platformctl import reporting
from platformctl.errors import UsageError
from platformctl.reporting import NullReporter, Reporter

if TYPE_CHECKING:
    from platformctl.drivers.docker import DockerClient
    from platformctl.drivers.kind import KindCluster

# Knative resolves image tags to digests through the registry, except for these registries
# (knative/serving config/core/configmaps/deployment.yaml: registries-skipping-tag-resolving
# "kind.local,ko.local,dev.local"): a kind-loaded image is named under kind.local so its revision
# does not fail looking for it in a registry that does not exist.
LOCAL_REGISTRY = "kind.local"
TAG_LENGTH = 16  # hex digits of the content sha256 in the tag
# host[:port][/path] of a registry, after distribution/reference regexp.go (lowercase path components).
_REGISTRY = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


@dataclass(frozen=True)
class BuildPlan:
    directory: Path
    app: str
    digest: str  # sha256 hex of the directory's content
    repository: str  # kind.local/<app> or <registry>/<app>
    tag: str
    provider: str  # kind / existing
    cluster_name: str
    push: bool

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass
class BuiltImage:
    plan: BuildPlan
    image_id: str
    image: str  # what the Knative Service runs: repository:tag (kind) or repository@digest (pushed)
    loaded_into: str | None = None
    pushed_digest: str | None = None


def plan_build(directory: Path, app: str, *, provider: str, cluster_name: str, push: str | None) -> BuildPlan:
    """Validate --build/--push and derive the image name from the content; builds nothing."""
    from platformctl.drivers.image_build import check_context, context_digest

    check_context(directory)
    if push is not None and (not _REGISTRY.fullmatch(push) or len(push) > 255):
        raise UsageError(
            f"--push: {push!r} is not a registry (HOST[:PORT][/PATH], e.g. registry.example.com/team)"
        )
    from platformctl.providers import docker_nodes

    if push is None and not docker_nodes(provider):
        raise UsageError(
            f"--push: required with --build on a cluster of provider {provider!r}: it cannot see images on "
            "this machine; pass --push REGISTRY (the cluster must be able to pull from it)"
        )
    digest = context_digest(directory)
    repository = f"{push}/{app}" if push else f"{LOCAL_REGISTRY}/{app}"
    return BuildPlan(
        directory=directory,
        app=app,
        digest=digest,
        repository=repository,
        tag=digest[:TAG_LENGTH],
        provider=provider,
        cluster_name=cluster_name,
        push=push is not None,
    )


def build_and_publish(
    plan: BuildPlan,
    *,
    docker: DockerClient | None = None,
    kind: Callable[[], KindCluster] | None = None,
    reporter: Reporter | None = None,
) -> BuiltImage:
    """docker build; then kind load (kind) or docker push (--push). Progress lines go to ``reporter``.

    ``docker``: the daemon to build with (default: DOCKER_HOST, the docker context or the default socket);
    ``kind``: how to reach the kind binary (default: usecases/cluster.kind_cluster)."""
    from platformctl.drivers.image_build import build_image, push_image

    if docker is None:
        from platformctl.drivers.docker import DockerClient

        docker = DockerClient()
    if kind is None:
        from platformctl.usecases.cluster import kind_cluster

        kind = kind_cluster
    rep = reporter or NullReporter()
    step = f"build/{plan.app}"
    reporting.start(rep, step, f"docker build {plan.directory} -t {plan.reference}")
    image_id = build_image(
        docker, plan.directory, plan.reference, on_line=lambda line: reporting.update(rep, step, line)
    )
    built = BuiltImage(plan, image_id, plan.reference)
    if plan.push:
        reporting.update(rep, step, f"docker push {plan.reference}")
        digest = push_image(
            docker, plan.repository, plan.tag, on_line=lambda line: reporting.update(rep, step, line)
        )
        built.pushed_digest = digest
        built.image = f"{plan.repository}@{digest}"
    else:
        reporting.update(rep, step, f"kind load docker-image {plan.reference} --name {plan.cluster_name}")
        kind().load_docker_image(plan.cluster_name, plan.reference)
        built.loaded_into = plan.cluster_name
    reporting.finish(rep, step, built.image)
    return built
