"""Reuse-or-refuse: the one ownership policy every cluster provider follows.

platformctl only reuses or deletes a cluster it created itself. Each provider keeps a record of what it
created (the sha256 of the desired config plus the settings behind it, in the XDG state dir); this module
compares the desired config with what exists and either says what to do or explains why it will not,
the way ctlptl's ``deleteIfIrreconcilable`` compares a desired cluster with the existing one before
recreating it (tilt-dev/ctlptl pkg/cluster/cluster.go):

* no cluster of that name: **create** (a stale record is forgotten first);
* a cluster without our record: not ours, **refuse** (``--force`` deletes and recreates it);
* our record, same config: **reuse**;
* our record, another config: **refuse** and list what differs (``--force`` recreates it).

Removal follows the same rule (``check_removal``), and so does the kubeconfig: a context, cluster or user
entry of the name we would write that platformctl did not write is never replaced without ``--force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from platformctl.errors import SafetyError

Action = Literal["create", "reuse", "recreate"]


def state_dir(provider: str, env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/platformctl/<provider>`` (default ``~/.local/state``)."""
    environ = os.environ if env is None else env
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "platformctl" / provider


@dataclass(frozen=True)
class Desired:
    """The cluster a command wants: its identity, the config digest, and the settings a human compares."""

    provider: str
    name: str
    config_sha256: str
    settings: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OwnershipRecord:
    name: str
    config_sha256: str
    created_at: float
    settings: Mapping[str, str] = field(default_factory=dict)


def settings_hash(settings: Mapping[str, str]) -> str:
    """sha256 of the settings as canonical JSON: the config digest of providers without a config file."""
    return hashlib.sha256(json.dumps(dict(settings), sort_keys=True).encode("utf-8")).hexdigest()


class RecordStore:
    """``<state_dir>/<name>.json`` per cluster platformctl created (mode 0600, written atomically)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def get(self, name: str) -> OwnershipRecord | None:
        try:
            raw: dict[str, Any] = json.loads(self._path(name).read_text(encoding="utf-8"))
            settings = raw.get("settings") or {}
            return OwnershipRecord(
                name=str(raw["name"]),
                config_sha256=str(raw["config_sha256"]),
                created_at=float(raw["created_at"]),
                settings={str(k): str(v) for k, v in dict(settings).items()},
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError):
            # A corrupt record proves nothing about ownership: treat it as absent.
            return None

    def save(self, desired: Desired) -> OwnershipRecord:
        rec = OwnershipRecord(desired.name, desired.config_sha256, time.time(), dict(desired.settings))
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(rec.name)
        tmp = path.with_suffix(".tmp")
        body = {**rec.__dict__, "settings": dict(rec.settings)}
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.chmod(0o600)
        os.replace(tmp, path)
        return rec

    def forget(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


def explain(recorded: OwnershipRecord, desired: Desired) -> list[str]:
    """What differs between the cluster as created and as wanted, one line per setting."""
    lines = [
        f"{key}: created with {recorded.settings.get(key, '(unrecorded)')}, wanted {value}"
        for key, value in desired.settings.items()
        if recorded.settings.get(key) != value
    ]
    lines.append(f"recorded config sha256 {recorded.config_sha256}")
    lines.append(f"wanted config sha256 {desired.config_sha256}")
    return lines


def decide(
    desired: Desired,
    *,
    exists: bool,
    record: OwnershipRecord | None,
    force: bool,
    foreign_hint: str = "use another cluster.name",
) -> Action:
    """create / reuse / recreate, or a SafetyError that says why platformctl will not touch the cluster."""
    what = f"{desired.provider} cluster {desired.name!r}"
    if not exists:
        return "create"
    if record is None:
        if not force:
            raise SafetyError(
                f"a {desired.provider} cluster named {desired.name!r} exists but was not created by "
                f"platformctl; {foreign_hint}, "
                "or re-run with --force to delete and recreate it"
            )
        return "recreate"
    if record.config_sha256 != desired.config_sha256:
        if not force:
            changed = [k for k, v in desired.settings.items() if record.settings.get(k) != v]
            what_changed = ", ".join(changed) if changed and record.settings else "settings"
            raise SafetyError(
                f"{what} was created by platformctl with a different config ({what_changed} changed); "
                "run `platformctl down` first, or re-run with --force to recreate it",
                details=explain(record, desired),
            )
        return "recreate"
    return "reuse"


def check_removal(provider: str, name: str, *, exists: bool, owned: bool, force: bool) -> bool:
    """True when the cluster should be deleted; SafetyError for a cluster platformctl did not create."""
    if not exists:
        return False
    if not owned and not force:
        raise SafetyError(
            f"{provider} cluster {name!r} was not created by platformctl; "
            "not deleting it (re-run with --force)"
        )
    return True


def check_kubeconfig_free(path: Path, context: str, *, force: bool, reusing: bool = False) -> None:
    """Refuse, before anything is created, to write a context/cluster/user someone else owns in ``path``.

    kind and minikube name the cluster and user entries like the context, so all three are checked
    (``reusing`` a cluster platformctl created: only the context, whose entries it wrote earlier).
    """
    from platformctl.drivers import kubeconfig as kcfg

    if force or not path.exists():
        return
    data = kcfg.load(path)
    for entry in data["contexts"]:
        if isinstance(entry, dict) and entry.get("name") == context and not kcfg.is_owned(entry):
            raise SafetyError(
                f"{path}: context {context!r} exists and was not written by platformctl; "
                "rename it or re-run with --force"
            )
    if reusing:
        return
    if not kcfg.owned_context(path, context):
        for key in ("clusters", "users"):
            if any(isinstance(e, dict) and e.get("name") == context for e in data[key]):
                raise SafetyError(
                    f"{path}: {key[:-1]} {context!r} exists and was not written by platformctl; "
                    "rename or remove it, or re-run with --force"
                )
