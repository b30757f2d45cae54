"""Converge the lab with the project's roles: ``ansible-playbook playbooks/site.yml`` on its inventory.

One place runs the playbook the way the tests, ``cloison lab converge`` and ``make demo`` do:
the lab's inventory (plan host names, lab management addresses), the project's ansible.cfg,
pipelining, and the recap parsed per host so that "the second run changes nothing" can be
asserted host by host.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from segmenting.errors import CloisonError

ROOT = Path(__file__).resolve().parents[2]
SITE_PLAYBOOK = ROOT / "playbooks" / "site.yml"

_RECAP = re.compile(r"^(?P<host>\S+)\s*:\s*(?P<counts>(?:\w+=\d+\s*)+)$", re.MULTILINE)


@dataclass(frozen=True)
class Run:
    seconds: float
    returncode: int
    output: str
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> dict[str, int]:
        return {host: counts.get("changed", 0) for host, counts in self.recap.items()}

    @property
    def failed_hosts(self) -> list[str]:
        return sorted(h for h, c in self.recap.items() if c.get("failed", 0) or c.get("unreachable", 0))


def changed_tasks(output: str) -> list[tuple[str, str]]:
    """(host, task or handler) of every ``changed`` line of the default callback, once each, in order."""
    found: list[tuple[str, str]] = []
    task = ""
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            task = line[line.index("[") + 1 : line.rfind("]")]
        elif line.startswith("changed: [") and "]" in line:
            entry = (line[len("changed: [") : line.index("]")], task)
            if entry not in found:
                found.append(entry)
    return found


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """Per-host counters of the PLAY RECAP (ok, changed, unreachable, failed, skipped, …)."""
    tail = output.rsplit("PLAY RECAP", 1)[-1] if "PLAY RECAP" in output else ""
    recap: dict[str, dict[str, int]] = {}
    for match in _RECAP.finditer(tail):
        counts = dict(item.split("=") for item in match.group("counts").split())
        recap[match.group("host")] = {k: int(v) for k, v in counts.items()}
    return recap


def run_playbook(
    inventory: Path, deployment: Path, *extra: str, playbook: Path = SITE_PLAYBOOK, facts: bool = True
) -> Run:
    """``facts``: keep gathered facts beside the inventory (the lab's); off for a playbook that
    gathers none, whose inventory may be a deployment folder in the checkout."""
    if not inventory.exists():
        raise CloisonError(f"{inventory} not found: bring the lab up first (`cloison lab up {deployment}`)")
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_FORKS": "12",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if facts:
        # Facts survive between the lab's runs (the nodes live for one lab, the cache with them):
        # a converge of an unchanged lab does not pay fact gathering again.
        env |= {
            "ANSIBLE_CACHE_PLUGIN": "jsonfile",
            "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(inventory.parent / "facts"),
            "ANSIBLE_CACHE_PLUGIN_TIMEOUT": "86400",
        }
    argv = [
        str(bin_dir / "ansible-playbook"), "-i", str(inventory), "-e", f"cloison_deployment={deployment.resolve()}",
        str(playbook), *extra,
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
    output = proc.stdout + proc.stderr
    return Run(time.monotonic() - started, proc.returncode, output, parse_recap(output))
