"""The switch session Protocol every push adapter implements, and its dry-run wrapper.

Shaped like nornir's connection plugins (``nornir/core/plugins/connections.py``): the engine
only sees this interface, so a platform is one small class, and a dry-run is the same
session with every write recorded instead of sent.
"""

from __future__ import annotations

from typing import Protocol

from segmenting.push.targets import DeviceTarget


class SwitchSession(Protocol):
    target: DeviceTarget

    def connect(self) -> None:
        """Open the session; raises DeviceUnreachable / DeviceAuthFailed."""

    def running_config(self) -> str:
        """The running config in this adapter's canonical, comparable form."""

    def predict(self, running: str, candidate: str) -> str:
        """What ``running_config()`` should return once ``candidate`` is applied."""

    def commands(self, candidate: str) -> list[str]:
        """The exact lines ``apply`` would send (shown by the dry-run)."""

    def backup(self, push_id: str, running: str) -> None:
        """Keep an on-device copy when the platform has one (IOS archive, AOS-CX checkpoint)."""

    def apply(self, candidate: str) -> None:
        """Send the candidate; raises CommandRejected naming the first refused line."""

    def missing(self, candidate: str) -> list[str]:
        """Read back; intended lines that the running config does not show."""

    def save(self) -> None:
        """Make the running config survive a reboot."""

    def rollback(self, push_id: str, backup: str) -> None:
        """Return to ``backup``; raises RollbackFailed if the device does not match it."""

    def discard_backup(self, push_id: str) -> None:
        """Remove the on-device copy made by ``backup`` (after commit or rollback)."""

    def close(self) -> None: ...


class DryRunSession:
    """Reads go to the device; writes are recorded in ``actions`` and never sent."""

    def __init__(self, inner: SwitchSession) -> None:
        self.inner = inner
        self.target = inner.target
        self.actions: list[str] = []

    def connect(self) -> None:
        self.inner.connect()

    def running_config(self) -> str:
        return self.inner.running_config()

    def predict(self, running: str, candidate: str) -> str:
        return self.inner.predict(running, candidate)

    def commands(self, candidate: str) -> list[str]:
        return self.inner.commands(candidate)

    def backup(self, push_id: str, running: str) -> None:
        self.actions.append(f"would keep an on-device backup for push {push_id}")

    def apply(self, candidate: str) -> None:
        self.actions += [f"would send: {line}" for line in self.inner.commands(candidate)]

    def missing(self, candidate: str) -> list[str]:
        return []

    def save(self) -> None:
        self.actions.append("would save the running config")

    def rollback(self, push_id: str, backup: str) -> None:
        self.actions.append("would roll back to the backup")

    def discard_backup(self, push_id: str) -> None:
        self.actions.append("would discard the on-device backup")

    def close(self) -> None:
        self.inner.close()
