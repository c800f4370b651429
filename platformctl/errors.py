"""The exception family every layer raises; the CLI maps each class to one exit code (see EXIT_CODES).

Messages are one line a user can act on: name the field/flag/file, the bad value and the fix.
Multi-line detail (diagnostics, per-object reports) goes in ``details``, rendered by the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence


class PlatformError(Exception):
    """Base class. ``exit_code`` is the documented process exit code (docs/configuration.md)."""

    exit_code = 1

    def __init__(self, message: str, *, details: Sequence[str] = (), hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(PlatformError):
    """Bad flag, bad config value, bad name: the user must change their input. Nothing was changed."""

    exit_code = 2


class ConfigError(UsageError):
    """A platform.yaml / PLATFORMCTL_* / flag value failed validation."""


class IntegrityError(PlatformError):
    """Downloaded or bundled bytes did not match their pinned sha256."""

    exit_code = 3


class SourceError(PlatformError):
    """A pinned file or tool could not be obtained (offline, HTTP error, missing from bundle)."""

    exit_code = 3


class ClusterError(PlatformError):
    """The cluster is unreachable, credentials were rejected, or an API call failed permanently."""

    exit_code = 4


class ConflictError(ClusterError):
    """Server-side apply conflict with another field manager."""


class NotReadyError(PlatformError):
    """A wait's deadline passed or the object failed; ``details`` holds the diagnostics."""

    exit_code = 1


class CheckFailed(PlatformError):
    """doctor / smoke-test found a failing check."""

    exit_code = 1


class SafetyError(PlatformError):
    """Refused to touch something platformctl did not create (use --force)."""

    exit_code = 5


class Interrupted(PlatformError):
    """Ctrl-C: stopped cleanly; the next run resumes."""

    exit_code = 130


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "a check failed or a component did not become ready (diagnostics printed)",
    2: "invalid input: flag, config field, name or file (nothing was changed)",
    3: "a pinned source could not be fetched or failed sha256 verification",
    4: "cluster unreachable, credentials rejected, or a permanent API error",
    5: "refused to modify something platformctl did not create (re-run with --force)",
    70: "internal error (a bug in platformctl): re-run with --verbose and report the traceback",
    130: "interrupted (Ctrl-C); run the same command again to resume",
}
