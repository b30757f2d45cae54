"""Small read-only helpers shared by the conformance checks (testinfra hosts).

Speed: every check module declares the read-only commands it runs (:func:`prefetch`); before the
first check on a host, those commands run together in one SSH session per host, all hosts in
parallel (:func:`gather`), and :func:`run` answers from that cache. A command not declared runs
live through testinfra. Either way the command and its output are the same.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from segmenting.plan import Plan


@dataclass(frozen=True)
class NodeSpec:
    """A lab node as the checks see it: its name, the plan hosts and kinds it plays."""

    name: str
    plays: tuple[str, ...]
    kinds: tuple[str, ...]
    site: str | None
    mgmt_ip: str = ""  # the address the auditor reaches it on (its administration side)

    @property
    def audit_target(self) -> str:
        return self.name

    def __str__(self) -> str:
        return self.name


def inventory_nodes(plan: Plan, path: Path) -> list[NodeSpec]:
    """Hosts of an Ansible inventory (YAML, the lab's shape): plan hosts sharing an address are one node."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    hosts: dict[str, Any] = (doc.get("all") or {}).get("hosts") or {}
    by_address: dict[str, list[str]] = {}
    for name, hostvars in hosts.items():
        by_address.setdefault(str((hostvars or {}).get("ansible_host", name)), []).append(name)
    known = {h.id for h in plan.hosts}
    nodes = []
    for address, names in by_address.items():
        plays = tuple(n for n in names if n in known)
        if not plays:
            continue
        kinds = tuple(sorted({plan.host(h).kind for h in plays}))
        nodes.append(NodeSpec(plays[0], plays, kinds, plan.host(plays[0]).site, address))
    return sorted(nodes, key=lambda n: n.name)


PREFETCH: dict[str, None] = {}  # ordered set of commands the checks will run on every host
_CACHE: dict[tuple[str, str], tuple[int, str]] = {}
_UNREACHABLE: dict[str, str] = {}  # host -> why: every check on it errors at once instead of timing out


def prefetch(*commands: str) -> None:
    for command in commands:
        PREFETCH.setdefault(command, None)


def host_name(host: Any) -> str:
    target = host.backend.host  # a HostSpec (ssh://) or the inventory name (ansible://)
    return str(getattr(target, "name", target))


def gather(host: Any, commands: list[str]) -> int:
    """Run ``commands`` in one shell on the host and cache each one's (exit status, output)."""
    tag = secrets.token_hex(6)
    parts = [
        f"printf '\\n@@{tag} {i}@@\\n'; ( {cmd} ) 2>&1; printf '\\n@@{tag}-rc {i} %s@@\\n' $?"
        for i, cmd in enumerate(commands)
    ]
    try:
        res = host.run("sh -c " + shlex.quote("; ".join(parts)))
    except RuntimeError as exc:  # testinfra's SSH backend raises when ssh itself fails (exit 255)
        stderr = getattr(exc.args[0], "stderr", "") if exc.args else ""
        _UNREACHABLE[host_name(host)] = str(stderr or exc).strip()[:200]
        return 0
    if res.rc == 255 and not res.stdout:  # ssh itself failed: every check on this host reports it
        _UNREACHABLE[host_name(host)] = res.stderr.strip()[:200]
        return 0
    pattern = re.compile(rf"\n@@{tag} (\d+)@@\n(.*?)\n@@{tag}-rc \1 (\d+)@@\n", re.DOTALL)
    name = host_name(host)
    for match in pattern.finditer(res.stdout):
        _CACHE[(name, commands[int(match.group(1))])] = (int(match.group(3)), match.group(2).strip())
    return len(commands)


def run(host: Any, command: str) -> tuple[int, str]:
    """Run a read-only command; (exit status, stdout+stderr stripped). Unreachable host: raise."""
    key = (host_name(host), command)
    if key in _CACHE:
        return _CACHE[key]
    if key[0] in _UNREACHABLE:
        raise ConnectionError(f"{key[0]} unreachable over SSH: {_UNREACHABLE[key[0]]}")
    try:
        res = host.run(command)
    except RuntimeError as exc:
        raise ConnectionError(f"{key[0]} unreachable over SSH: {str(exc)[:200]}") from None
    if res.rc == 255 and "ssh" in res.stderr.lower() and not res.stdout:
        raise ConnectionError(f"{key[0]} unreachable over SSH: {res.stderr.strip()[:200]}")
    return int(res.rc), (res.stdout + res.stderr).strip()


LISTENERS = "ss -H -l -n -p -t -u"
SYSCTLS = "sysctl -a 2>/dev/null"
prefetch(LISTENERS, SYSCTLS)


def listeners(host: Any) -> list[tuple[str, str, int, str]]:
    """(proto, local address, port, process) of every listening TCP socket and bound UDP socket."""
    _, out = run(host, LISTENERS)
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
    _, out = run(host, SYSCTLS)
    for line in out.splitlines():
        name, sep, value = line.partition(" = ")
        if sep and name.strip() == key:
            return value.strip()
    return "<not available on this kernel>"
