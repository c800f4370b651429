"""The Kubernetes engine: server-side apply, watch-based waits, diagnostics and prune.

Import :mod:`platformctl.drivers.kube.engine` lazily: it pulls in the ``kubernetes`` client.
"""
