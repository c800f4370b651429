"""cert-manager (v1.16.1 or v1.18.0, per the version set) from its pinned release manifest
(cert-manager.yaml, sha256 in manifests/lock.yaml).

v1.18.0 splits the challenges ClusterRole into dns01/http01 ones (the old
``cert-manager-controller-challenges`` role and binding are pruned on upgrade) and rotates private keys
by default; KServe's Certificates need nothing else. Ready: Deployments cert-manager,
cert-manager-cainjector, cert-manager-webhook rolled out (same names in both releases) and Service
cert-manager-webhook with ready endpoints: KServe's Issuer and Certificate objects are admitted by that
webhook (kserve#1635).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platformctl.components import common
from platformctl.components.base import Apply, Health, RenderContext, Step
from platformctl.kubeobjects import KubeObject
from platformctl.plan import names

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine

NAME = names.CERT_MANAGER
NAMESPACE = "cert-manager"
DEPLOYMENTS = ("cert-manager", "cert-manager-cainjector", "cert-manager-webhook")
WEBHOOK_SERVICE = "cert-manager-webhook"


def render(ctx: RenderContext) -> list[KubeObject]:
    return common.pinned_documents(ctx, NAME, "cert-manager.yaml")


class CertManager:
    name = NAME
    depends_on: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = (NAMESPACE,)

    def version(self, ctx: RenderContext) -> str:
        return common.pinned_version(ctx, NAME)

    def steps(self, ctx: RenderContext) -> list[Step]:
        steps: list[Step] = [Apply("cert-manager", render)]
        steps += [common.rollout("Deployment", NAMESPACE, d) for d in DEPLOYMENTS]
        steps.append(common.endpoints(NAMESPACE, WEBHOOK_SERVICE))
        return steps

    def health(self, engine: Engine, ctx: RenderContext) -> Health:
        return common.health(
            engine,
            self.version(ctx),
            [("Deployment", NAMESPACE, d) for d in DEPLOYMENTS],
            [(NAMESPACE, WEBHOOK_SERVICE)],
            version_of=("Deployment", NAMESPACE, "cert-manager"),
        )


COMPONENT = CertManager()
