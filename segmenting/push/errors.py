"""Errors a push can raise: each names the device and what the user should do."""

from __future__ import annotations

from segmenting.errors import EXIT_RUNTIME, CloisonError, UsageError


class PushError(CloisonError):
    exit_code = EXIT_RUNTIME


class TargetsError(UsageError):
    """The targets file (or a flag) is wrong: names the file, the entry and the fix."""


class DeviceError(PushError):
    """Something went wrong on one device."""

    def __init__(self, device: str, message: str, fix: str = "") -> None:
        self.device = device
        self.fix = fix
        text = f"{device}: {message}"
        if fix:
            text += f" ({fix})"
        super().__init__(text)


class DeviceUnreachable(DeviceError):
    pass


class DeviceAuthFailed(DeviceError):
    pass


class CommandRejected(DeviceError):
    pass


class VerifyFailed(DeviceError):
    pass


class RollbackFailed(DeviceError):
    """The backup could not be restored: the device needs a human now."""


class PushFailed(PushError):
    """A push ended without committing; the message summarises every device."""


class ConfirmError(PushError):
    """``cloison confirm`` could not find or confirm a pending push."""
