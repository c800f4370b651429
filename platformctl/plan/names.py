"""The platform's component names, each spelled once: the spec's keys, the registry's, the lock's.

``plan/spec.py`` accepts exactly ``COMPONENTS``; ``components/registry.py`` maps each to its module;
each component module takes its ``name`` and ``depends_on`` from here, and ``drivers/schema.py`` keys
its CRD files by them. Adding a component starts with a name here.
"""

from __future__ import annotations

ISTIO = "istio"
KNATIVE_SERVING = "knative-serving"
CERT_MANAGER = "cert-manager"
KSERVE = "kserve"
DAPR = "dapr"
INFRA = "infra"
CONFERENCE = "conference"
IRIS = "iris"

# Every component of the DAG, in a stable display order.
COMPONENTS: tuple[str, ...] = (ISTIO, KNATIVE_SERVING, CERT_MANAGER, KSERVE, DAPR, INFRA, CONFERENCE, IRIS)
