"""Drivers: the only layer that talks to processes, sockets and HTTP.

kube, helm, kind, sources (verified downloads), tools (kind/helm/kubectl), docker, system (host checks).
"""
