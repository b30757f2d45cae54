"""Optional response, off by default: put the offender in an nftables quarantine set.

The side effect sits behind the :class:`Quarantiner` protocol (STYLE.md: small typed adapters
with a dry-run). :class:`NftSetQuarantine` adds the address to a named set, e.g. one the
gateway's ruleset drops (``nft add element inet cloison quarantine_v4 { 10.64.0.66 }``);
in dry-run it only logs the command. Every decision is logged, taken or not.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger("cloison.ids.response")

Runner = Callable[[Sequence[str]], int]


class Quarantiner(Protocol):
    def quarantine(self, ip: str, reason: str) -> None: ...


def _run(cmd: Sequence[str]) -> int:
    return subprocess.run(list(cmd), check=False, capture_output=True, timeout=10).returncode


class NftSetQuarantine:
    def __init__(
        self,
        family: str = "inet",
        table: str = "cloison",
        set_v4: str = "quarantine_v4",
        set_v6: str = "quarantine_v6",
        *,
        dry_run: bool = True,
        runner: Runner = _run,
    ) -> None:
        self.family, self.table = family, table
        self.set_v4, self.set_v6 = set_v4, set_v6
        self.dry_run = dry_run
        self.runner = runner
        self.done: set[str] = set()
        self.commands: list[list[str]] = []

    def quarantine(self, ip: str, reason: str) -> None:
        if ip in self.done:
            return
        self.done.add(ip)
        name = self.set_v6 if ":" in ip else self.set_v4
        cmd = ["nft", "add", "element", self.family, self.table, name, "{", ip, "}"]
        self.commands.append(cmd)
        if self.dry_run:
            log.warning("quarantine (dry-run) %s: %s -- would run: %s", ip, reason, " ".join(cmd))
            return
        rc = self.runner(cmd)
        log.warning("quarantine %s: %s -- %s (rc=%d)", ip, reason, " ".join(cmd), rc)


class QuarantineSink:
    """Quarantines the source of high-severity alerts, never a host the plan lists."""

    def __init__(self, q: Quarantiner, protected: set[str], min_severity: int = 1) -> None:
        self.q = q
        self.protected = protected
        self.min_severity = min_severity

    def __call__(self, eve: dict[str, Any]) -> None:
        ip = str(eve.get("src_ip") or "")
        sev = int(eve.get("alert", {}).get("severity", 3))
        if not ip or sev > self.min_severity:
            return
        if ip in self.protected:
            log.info("not quarantining %s: a planned host (%s)", ip, eve["alert"]["signature"])
            return
        self.q.quarantine(ip, str(eve["alert"]["signature"]))
