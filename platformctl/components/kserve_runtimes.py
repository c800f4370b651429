"""Which model formats KServe can serve, with which protocols and runtimes: data, never a hand-kept list.

The table is derived from ClusterServingRuntime objects: the pinned ``kserve-cluster-resources.yaml``
of the kserve release in manifests/lock.yaml (via the SourceResolver, sha256-verified), or a live
cluster's ClusterServingRuntimes (``serving.kserve.io/v1alpha1``) through the engine. Each runtime
declares ``spec.supportedModelFormats[]`` (name, version, autoSelect, priority) and
``spec.protocolVersions`` (v1, v2, grpc-v1, grpc-v2); a runtime with ``spec.disabled: true`` serves
nothing (KServe ServingRuntime API, https://kserve.github.io/website/docs/concepts/resources/servingruntime).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from platformctl.errors import UsageError
from platformctl.plan import names

if TYPE_CHECKING:
    from platformctl.drivers.kube.engine import Engine
    from platformctl.drivers.sources import SourceResolver

SERVING_RUNTIME_API = "serving.kserve.io/v1alpha1"
CLUSTER_RESOURCES_FILE = "kserve-cluster-resources.yaml"
# The REST protocols deploy-model prints requests for; grpc-* are listed but not selectable here.
HTTP_PROTOCOLS: tuple[str, ...] = ("v1", "v2")


@dataclass(frozen=True)
class RuntimeFormat:
    runtime: str
    format: str
    version: str | None
    auto_select: bool
    priority: int | None
    protocols: tuple[str, ...]


@dataclass
class RuntimeTable:
    source: str  # where the table came from: "kserve v0.16.0 kserve-cluster-resources.yaml" / "cluster"
    entries: list[RuntimeFormat] = field(default_factory=list)

    def formats(self) -> list[str]:
        return sorted({e.format for e in self.entries})

    def runtimes(self) -> list[str]:
        return sorted({e.runtime for e in self.entries})

    def protocols(self, fmt: str, runtime: str | None = None) -> list[str]:
        return sorted({p for e in self._matching(fmt, runtime) for p in e.protocols})

    def _matching(self, fmt: str, runtime: str | None) -> list[RuntimeFormat]:
        return [e for e in self.entries if e.format == fmt and (runtime is None or e.runtime == runtime)]

    def select(self, fmt: str, protocol: str | None, runtime: str | None) -> RuntimeFormat:
        """The runtime KServe would pick for (format, protocol), or UsageError naming the flag to change."""
        if fmt not in self.formats():
            raise UsageError(
                f"--format: unknown model format {fmt!r}; the runtimes ({self.source}) serve: "
                + ", ".join(self.formats())
            )
        if runtime is not None and runtime not in self.runtimes():
            raise UsageError(
                f"--runtime: unknown runtime {runtime!r}; available ({self.source}): "
                + ", ".join(self.runtimes())
            )
        candidates = self._matching(fmt, runtime)
        if not candidates:
            serving = sorted({e.runtime for e in self._matching(fmt, None)})
            raise UsageError(
                f"--runtime: {runtime} does not serve format {fmt!r}; runtimes that do: {', '.join(serving)}"
            )
        if protocol is not None:
            candidates = [e for e in candidates if protocol in e.protocols]
            if not candidates:
                where = f"runtime {runtime}" if runtime else "no runtime"
                # offer only what deploy-model accepts (HTTP): grpc is listed by runtimes but refused
                usable = [p for p in self.protocols(fmt, runtime) if p in HTTP_PROTOCOLS]
                raise UsageError(
                    f"--protocol: {where} serves format {fmt!r} over {protocol}; "
                    + (
                        "supported: " + ", ".join(usable)
                        if usable
                        else "it is served only over gRPC, which deploy-model does not support"
                    )
                )
        if runtime is None:
            # Mirror KServe's automatic selection: only autoSelect runtimes, highest priority first.
            auto = [e for e in candidates if e.auto_select]
            if not auto:
                raise UsageError(
                    f"--runtime: no runtime auto-selects format {fmt!r}"
                    + (f" over {protocol}" if protocol else "")
                    + "; name one with --runtime: "
                    + ", ".join(sorted({e.runtime for e in candidates}))
                )
            candidates = auto
        return sorted(candidates, key=lambda e: (-(e.priority or 0), e.runtime))[0]

    def as_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "format": e.format,
                "version": e.version,
                "runtime": e.runtime,
                "protocols": list(e.protocols),
                "autoSelect": e.auto_select,
                "priority": e.priority,
            }
            for e in sorted(self.entries, key=lambda e: (e.format, e.runtime, e.version or ""))
        ]


def table_from_objects(objects: Iterable[Mapping[str, Any]], *, source: str) -> RuntimeTable:
    table = RuntimeTable(source=source)
    for obj in objects:
        if obj.get("kind") not in ("ClusterServingRuntime", "ServingRuntime"):
            continue
        spec = obj.get("spec") or {}
        if spec.get("disabled"):
            continue
        name = str((obj.get("metadata") or {}).get("name", ""))
        protocols = tuple(str(p) for p in spec.get("protocolVersions") or ["v1"])
        for fmt in spec.get("supportedModelFormats") or []:
            priority = fmt.get("priority")
            table.entries.append(
                RuntimeFormat(
                    runtime=name,
                    format=str(fmt["name"]),
                    version=None if fmt.get("version") is None else str(fmt["version"]),
                    auto_select=bool(fmt.get("autoSelect", False)),
                    priority=None if priority is None else int(priority),
                    protocols=protocols,
                )
            )
    return table


def pinned_table(resolver: SourceResolver, version: str | None = None) -> RuntimeTable:
    """The table of the pinned kserve release (no cluster needed: --dry-run, docs, validation)."""
    ver, release = resolver.lock.release(names.KSERVE, version)
    docs = resolver.documents(release.file(CLUSTER_RESOURCES_FILE))
    return table_from_objects(docs, source=f"kserve {ver} {CLUSTER_RESOURCES_FILE}")


def cluster_table(engine: Engine, namespace: str | None = None) -> RuntimeTable:
    """The live cluster's ClusterServingRuntimes (plus namespaced ServingRuntimes in ``namespace``)."""
    objs: list[dict[str, Any]] = list(engine.list(SERVING_RUNTIME_API, "ClusterServingRuntime"))
    if namespace is not None:
        objs += engine.list(SERVING_RUNTIME_API, "ServingRuntime", namespace=namespace)
    return table_from_objects(objs, source=f"cluster {engine.context_name}")


def merge(tables: Sequence[RuntimeTable]) -> RuntimeTable:
    out = RuntimeTable(source=" + ".join(t.source for t in tables))
    for t in tables:
        out.entries.extend(t.entries)
    return out
