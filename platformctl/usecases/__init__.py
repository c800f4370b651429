"""Use cases: plain functions the CLI calls; they return dataclasses and never print."""
