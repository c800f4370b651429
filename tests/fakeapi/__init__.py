"""An in-process fake Kubernetes API server for tests (see docs/fake-apiserver.md).

from tests.fakeapi import FakeApiServer, Fault
with FakeApiServer(latency={"Deployment": 0.05}) as fake:
    engine = Engine.connect(str(fake.kubeconfig_path), fake.context)
"""

from tests.fakeapi.fake import FakeApiServer
from tests.fakeapi.faults import Fault

__all__ = ["FakeApiServer", "Fault"]
