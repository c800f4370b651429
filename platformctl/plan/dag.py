"""Moved to platformctl/components/dag.py (the DAG is built from the component registry, which the plan
layer below the components must not import). Kept so existing imports keep working; new code imports
``platformctl.components.dag``. The layers contract (pyproject.toml) allows this one shim."""

from platformctl.components.dag import Plan, build_plan, topological

__all__ = ["Plan", "build_plan", "topological"]
