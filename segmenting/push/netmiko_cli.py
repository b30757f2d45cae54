"""Switch sessions for the CLI families: Cisco IOS/IOS-XE, Aruba AOS-CX, ArubaOS-Switch.

One small dialect record per platform (netmiko's own driver table is the model) says how the
platform shows its config, how it reports a refused line, and how it rolls back:

- IOS/IOS-XE: ``copy running-config flash:<file>`` before, ``configure replace flash:<file>
  force`` to roll back — the archive mechanism IOS's own ``configure confirm`` uses.
- AOS-CX: ``copy running-config checkpoint <name>`` / ``copy checkpoint <name> running-config``.
- ArubaOS-Switch (ProCurve) has no replace-from-file on a live config: the session computes the
  inverse commands from the read-back config and the backup (:func:`cliconf.inverse`).

Whatever the mechanism, a rollback ends with a read-back compared with the backup.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from netmiko.exceptions import ConfigInvalidException, NetmikoBaseException, ReadTimeout

from segmenting.push import cliconf
from segmenting.push.connect import netmiko_connect
from segmenting.push.errors import CommandRejected, DeviceUnreachable, RollbackFailed
from segmenting.push.targets import DeviceTarget

READ_TIMEOUT = 30.0


@dataclass(frozen=True)
class Dialect:
    show: str
    error_pattern: str
    rollback: str  # "replace" | "checkpoint" | "inverse"


DIALECTS: dict[str, Dialect] = {
    "cisco_ios": Dialect(
        "show running-config",
        r"% ?(Invalid|Incomplete|Ambiguous|Unknown|Unrecognized|Error)",
        "replace",
    ),
    "aruba_aoscx": Dialect("show running-config", r"(Invalid input|Incomplete command|Ambiguous|% )", "checkpoint"),
    "hp_procurve": Dialect(
        "show running-config", r"(Invalid input|Incomplete input|Ambiguous|Unable to|% )", "inverse"
    ),
}

_REFUSED = re.compile(r"at command: (?P<cmd>.*?), matched error")


def _snapshot_name(push_id: str) -> str:
    return "cloison-" + re.sub(r"[^A-Za-z0-9-]", "-", push_id)


class NetmikoCliSession:
    def __init__(self, target: DeviceTarget) -> None:
        if target.device_type not in DIALECTS:
            raise ValueError(f"no CLI dialect for {target.device_type}")
        self.target = target
        self.dialect = DIALECTS[target.device_type]
        self._conn: Any = None
        self._running: str | None = None

    # -- plumbing ---------------------------------------------------------------------------
    def connect(self) -> None:
        self._conn = netmiko_connect(self.target)

    def _ensure(self) -> Any:
        if self._conn is None or not self._conn.is_alive():
            self.connect()
        return self._conn

    def _exec(self, command: str) -> str:
        conn = self._ensure()
        try:
            out: str = conn.send_command(command, read_timeout=READ_TIMEOUT)
        except (NetmikoBaseException, ReadTimeout, OSError) as exc:
            raise DeviceUnreachable(self.target.name, f"no answer to {command!r}: {exc}", "check the session") from None
        return out

    def _config(self, lines: list[str]) -> None:
        conn = self._ensure()
        try:
            conn.send_config_set(
                lines,
                error_pattern=self.dialect.error_pattern,
                read_timeout=READ_TIMEOUT,
                exit_config_mode=False,
            )
            self._leave_config(conn)
        except ConfigInvalidException as exc:
            # netmiko stops at the refused line and leaves the device in config mode.
            self._leave_config(conn)
            match = _REFUSED.search(str(exc))
            line = match.group("cmd").strip() if match else str(exc)
            raise CommandRejected(
                self.target.name,
                f"the device refused {line!r}",
                "fix the rendered configuration for this platform",
            ) from None
        except (NetmikoBaseException, ReadTimeout, OSError) as exc:
            raise DeviceUnreachable(
                self.target.name, f"session lost while configuring: {exc}", "check the device"
            ) from None

    def _leave_config(self, conn: Any) -> None:
        """``end``, then wait for the exec prompt. netmiko's own exit check looks for
        "(config)#" and so believes AOS-CX is already out when it sits in "(config-if)#"."""
        conn.write_channel("end" + conn.RETURN)
        seen = ""
        for _ in range(20):
            seen += conn.read_until_pattern(pattern=r"[>#]", read_timeout=READ_TIMEOUT)
            last = seen.rstrip().splitlines()[-1] if seen.strip() else ""
            if last.startswith(conn.base_prompt) and "(config" not in last:
                return
        raise DeviceUnreachable(self.target.name, "could not leave configuration mode", "check the session")

    # -- SwitchSession ----------------------------------------------------------------------
    def running_config(self) -> str:
        self._running = cliconf.canonical(self._exec(self.dialect.show))
        return self._running

    def predict(self, running: str, candidate: str) -> str:
        return cliconf.predict(running, candidate)

    def commands(self, candidate: str) -> list[str]:
        """Only what the last read running config lacks (all of it before any read)."""
        if self._running is None:
            return cliconf.normalize(candidate)
        return cliconf.delta(self._running, candidate)

    def backup(self, push_id: str, running: str) -> None:
        name = _snapshot_name(push_id)
        if self.dialect.rollback == "replace":
            self._exec(f"copy running-config flash:{name}")
        elif self.dialect.rollback == "checkpoint":
            self._exec(f"copy running-config checkpoint {name}")

    def apply(self, candidate: str) -> None:
        lines = self.commands(candidate)
        if lines:
            self._config(lines)

    def missing(self, candidate: str) -> list[str]:
        return cliconf.missing_lines(self.running_config(), candidate)

    def save(self) -> None:
        conn = self._ensure()
        try:
            conn.save_config()
        except (NetmikoBaseException, ReadTimeout, OSError) as exc:
            raise DeviceUnreachable(self.target.name, f"saving the config failed: {exc}", "save it by hand") from None

    def rollback(self, push_id: str, backup: str) -> None:
        name = _snapshot_name(push_id)
        try:
            if self.dialect.rollback == "replace":
                self._exec(f"configure replace flash:{name} force")
            elif self.dialect.rollback == "checkpoint":
                self._exec(f"copy checkpoint {name} running-config")
            if cliconf.canonical(self.running_config()) != backup:
                # The on-device mechanism may be missing or partial: finish line by line.
                fix = cliconf.inverse(self.running_config(), backup)
                if fix:
                    self._config(fix)
            now = self.running_config()
        except (CommandRejected, DeviceUnreachable) as exc:
            raise RollbackFailed(self.target.name, f"rollback did not complete: {exc}", "restore it by hand") from None
        if now != backup:
            diff = cliconf.unified_diff(self.target.name, backup, now)
            raise RollbackFailed(
                self.target.name,
                "running config differs from the backup after rollback:\n" + diff,
                "restore it by hand from the backup printed above",
            )

    def discard_backup(self, push_id: str) -> None:
        name = _snapshot_name(push_id)
        if self.dialect.rollback == "replace":
            self._exec(f"delete flash:{name}")
        elif self.dialect.rollback == "checkpoint":
            self._exec(f"erase checkpoint {name}")

    def close(self) -> None:
        if self._conn is not None:
            # The session is being dropped anyway: a failing logout changes nothing.
            with contextlib.suppress(NetmikoBaseException, OSError, EOFError):
                self._conn.disconnect()
            self._conn = None
