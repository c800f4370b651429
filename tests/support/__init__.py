"""Shared test helpers (real binaries, fake API server, local HTTP servers)."""
