"""Small read-only helpers shared by the conformance checks (testinfra hosts)."""

from __future__ import annotations

import re
from typing import Any


def run(host: Any, command: str) -> tuple[int, str]:
    """Run a read-only command; (exit status, stdout+stderr stripped)."""
    res = host.run(command)
    return int(res.rc), (res.stdout + res.stderr).strip()


def listeners(host: Any) -> list[tuple[str, str, int, str]]:
    """(proto, local address, port, process) of every listening TCP socket and bound UDP socket."""
    _, out = run(host, "ss -H -l -n -p -t -u")
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        proto, local = parts[0], parts[4]
        addr, _, port = local.rpartition(":")
        addr = addr.strip("[]").split("%", 1)[0]
        proc = re.search(r'users:\(\("([^"]+)"', line)
        if port.isdigit():
            rows.append((proto, addr, int(port), proc.group(1) if proc else "?"))
    return rows


def sysctl(host: Any, key: str) -> str:
    rc, out = run(host, f"sysctl -n {key}")
    return out if rc == 0 else f"<unreadable: {out[:80]}>"
