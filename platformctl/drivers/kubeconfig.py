"""Merge one context (kind's ``kind-<name>``) into the user's kubeconfig without touching the others.

Ownership marker: the context entry carries a named extension (kubeconfig ``contexts[].context.extensions``,
a list of ``{name, extension}``, clientcmd v1 NamedExtension) called ``platformctl.io/owner``. kubectl keeps
extensions when it rewrites the file, so the marker survives ``kubectl config use-context``. A context of the
same name without the marker was written by someone else: we never overwrite or delete it without force.

Writes are atomic (temp file in the same directory, then rename) and the file is mode 0600.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from platformctl.errors import ConfigError, SafetyError

OWNER_EXTENSION = "platformctl.io/owner"


def kubeconfig_chain(env: Mapping[str, str] | None = None) -> list[Path]:
    """The files $KUBECONFIG lists (``os.pathsep``-separated: ``:``, ``;`` on Windows), in order,
    empty entries and repeats dropped; ``~/.kube/config`` when it is unset or empty.

    kubectl's loading rules (``kubectl config --help``): with --kubeconfig only that one file is read
    and the value is never split; otherwise $KUBECONFIG is a list of paths that are merged.
    """
    environ = os.environ if env is None else env
    paths: list[Path] = []
    for part in environ.get("KUBECONFIG", "").split(os.pathsep):
        if part.strip():
            path = Path(part).expanduser()
            if path not in paths:
                paths.append(path)
    return paths or [Path.home() / ".kube" / "config"]


def default_kubeconfig_path(env: Mapping[str, str] | None = None) -> Path:
    """The file kubectl creates new entries in: the first file of the chain that exists, else the
    last one ("When a value is created, it is created in the first file that exists. If no files in
    the chain exist, then it creates the last file in the list." -- ``kubectl config --help``)."""
    chain = kubeconfig_chain(env)
    return next((p for p in chain if p.is_file()), chain[-1])


def write_destination(chain: Sequence[Path], section: str, name: str) -> Path:
    """Where kubectl writes entry ``name`` of ``section`` (clusters/users/contexts): the file that
    defines it ("When a value is modified, it is modified in the file that defines the stanza"),
    else the file new entries go to (:func:`default_kubeconfig_path` over ``chain``)."""
    for path in chain:
        if path.is_file() and _find(load(path)[section], name) is not None:
            return path
    return next((p for p in chain if p.is_file()), chain[-1])


# Fields holding a file path, resolved against the directory of the file that names them
# (client-go clientcmd ResolvePaths: certificate-authority, client-certificate, client-key, tokenFile).
_PATH_FIELDS = {
    "clusters": ("certificate-authority",),
    "users": ("client-certificate", "client-key", "tokenFile"),
}
_BODY = {"clusters": "cluster", "users": "user", "contexts": "context"}


def merge_chain(chain: Sequence[Path]) -> tuple[dict[str, Any], dict[str, Path]]:
    """The merged view of ``chain`` exactly as kubectl builds it, and the file each context came from.

    * Files that do not exist are skipped; an unreadable or invalid one is a ConfigError naming it.
    * clusters/users/contexts are keyed by name and the first file that defines a name wins: its entry
      is taken whole (a later file's entry of the same name is ignored, even its extra fields).
    * ``current-context`` comes from the first file that sets a non-empty one.
    * Relative file paths inside an entry are resolved against the directory of its own file.
    """
    merged = _empty()
    origin: dict[str, Path] = {}
    seen: dict[str, set[str]] = {key: set() for key in _BODY}
    for path in chain:
        if not path.is_file():
            continue
        data = load(path)
        for key, body_key in _BODY.items():
            entries = data.get(key)
            if not isinstance(entries, list):
                raise ConfigError(f"kubeconfig {path}: {key} is not a list; fix the file")
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                    raise ConfigError(f"kubeconfig {path}: an entry of {key} has no name; fix the file")
                if entry["name"] in seen[key]:
                    continue
                seen[key].add(entry["name"])
                entry = _resolve_paths(key, body_key, entry, path.parent)
                merged[key].append(entry)
                if key == "contexts":
                    origin[entry["name"]] = path
        current = data.get("current-context")
        if not merged["current-context"] and isinstance(current, str) and current:
            merged["current-context"] = current
    return merged, origin


def _resolve_paths(key: str, body_key: str, entry: dict[str, Any], base: Path) -> dict[str, Any]:
    body = entry.get(body_key)
    fields = _PATH_FIELDS.get(key, ())
    if not isinstance(body, dict) or not any(isinstance(body.get(f), str) for f in fields):
        return entry
    body = dict(body)
    for field in fields:
        value = body.get(field)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            body[field] = str(base / value)
    return {**entry, body_key: body}


def set_current_context(chain: Sequence[Path], context: str, *, fallback: Path) -> Path:
    """Make ``context`` current where kubectl would write it: the first file of the chain that sets
    a current-context (a later one would be shadowed by it), else ``fallback``. Returns that file."""
    target = fallback
    for path in chain:
        if path.is_file() and load(path).get("current-context"):
            target = path
            break
    data = load(target)
    if data.get("current-context") != context:
        data["current-context"] = context
        _write(target, data)
    return target


def _empty() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": "",
    }


def load(path: Path) -> dict[str, Any]:
    if not path.exists():
        return _empty()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read the kubeconfig ({exc}); fix its permissions or set cluster.kubeconfig"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(
            f"kubeconfig {path}: not valid YAML{at}; fix or move the kubeconfig file",
            details=[str(getattr(exc, "problem", None) or exc).splitlines()[0]],
        ) from None
    if data is None:
        return _empty()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a kubeconfig (top level is not a mapping)")
    for key in ("clusters", "users", "contexts"):
        if data.get(key) is None:
            data[key] = []
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".platformctl-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(data, fh, sort_keys=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    path.chmod(0o600)


def _find(entries: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def is_owned(entry: dict[str, Any] | None) -> bool:
    if not entry:
        return False
    ctx = entry.get("context") or {}
    return any(
        isinstance(ext, dict) and ext.get("name") == OWNER_EXTENSION for ext in ctx.get("extensions") or []
    )


def owned_context(path: Path, context: str) -> bool:
    """True when ``context`` exists in ``path`` and carries platformctl's marker."""
    return is_owned(_find(load(path)["contexts"], context))


def merge_context(
    path: Path,
    source: str,
    *,
    context: str,
    owner: str,
    force: bool = False,
    set_current: bool = True,
) -> str:
    """Copy ``context`` (and its cluster and user) from the kubeconfig text ``source`` into ``path``.

    Other contexts, clusters and users in ``path`` are left exactly as they were. Returns the context name.
    """
    src = yaml.safe_load(source) or {}
    src_ctx = _find(src.get("contexts") or [], context)
    if src_ctx is None:
        raise ConfigError(f"kubeconfig from kind has no context {context!r}; was the cluster created?")
    cluster_name = src_ctx["context"]["cluster"]
    user_name = src_ctx["context"]["user"]
    src_cluster = _find(src.get("clusters") or [], cluster_name)
    src_user = _find(src.get("users") or [], user_name)
    if src_cluster is None or src_user is None:
        raise ConfigError(f"kubeconfig from kind is incomplete for context {context!r}")

    data = load(path)
    existing = _find(data["contexts"], context)
    if existing is not None and not is_owned(existing) and not force:
        raise SafetyError(
            f"{path}: context {context!r} exists and was not written by platformctl; "
            "rename it (kubectl config rename-context) or re-run with --force to replace it"
        )
    if not force and not is_owned(existing):
        # Cluster/user entries of the same name not behind one of our contexts are someone else's too.
        for key, entry in (("clusters", src_cluster), ("users", src_user)):
            old_entry = _find(data[key], entry["name"])
            if old_entry is not None and old_entry != entry:
                raise SafetyError(
                    f"{path}: {key[:-1]} {entry['name']!r} exists and was not written by platformctl; "
                    "rename or remove it, or re-run with --force to replace it"
                )
    marked = dict(src_ctx)
    marked_ctx = dict(src_ctx["context"])
    exts = [e for e in marked_ctx.get("extensions") or [] if e.get("name") != OWNER_EXTENSION]
    exts.append({"name": OWNER_EXTENSION, "extension": {"owner": owner}})
    marked_ctx["extensions"] = exts
    marked["context"] = marked_ctx

    for key, entry in (("clusters", src_cluster), ("users", src_user), ("contexts", marked)):
        entries: list[dict[str, Any]] = data[key]
        for i, old in enumerate(entries):
            if isinstance(old, dict) and old.get("name") == entry["name"]:
                entries[i] = entry
                break
        else:
            entries.append(entry)
    if set_current:
        data["current-context"] = context
    _write(path, data)
    return context


def remove_context(path: Path, context: str, *, force: bool = False) -> bool:
    """Remove ``context`` (and its cluster/user when no other context uses them). False if absent."""
    if not path.exists():
        return False
    data = load(path)
    entry = _find(data["contexts"], context)
    if entry is None:
        return False
    if not is_owned(entry) and not force:
        raise SafetyError(
            f"{path}: context {context!r} was not written by platformctl; not removing it (use --force)"
        )
    data["contexts"] = [c for c in data["contexts"] if c is not entry]
    ctx = entry.get("context") or {}
    still_used_clusters = {(c.get("context") or {}).get("cluster") for c in data["contexts"]}
    still_used_users = {(c.get("context") or {}).get("user") for c in data["contexts"]}
    if ctx.get("cluster") not in still_used_clusters:
        data["clusters"] = [c for c in data["clusters"] if c.get("name") != ctx.get("cluster")]
    if ctx.get("user") not in still_used_users:
        data["users"] = [u for u in data["users"] if u.get("name") != ctx.get("user")]
    if data.get("current-context") == context:
        data["current-context"] = ""
    _write(path, data)
    return True
