"""Pytest fixtures for tests that need the lab: ``pytest_plugins = ["segmenting.lab.pytest_plugin"]``.

``lab`` (session scope) brings the lab up once for the whole session and always tears it down
at the end, also when a test or the bring-up failed. Tests that need root and the lab carry
``@pytest.mark.lab``; without root they are skipped.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from segmenting.api import load_plan
from segmenting.lab import access, standin, switches
from segmenting.lab import lab as lab_mod
from segmenting.lab.names import LabPaths, default_paths
from segmenting.lab.run import SubprocessRunner
from segmenting.lab.topology import Switch, Topology
from segmenting.plan import Plan

T = TypeVar("T")

DEFAULT_DEPLOYMENT = Path(__file__).resolve().parents[2] / "inventory" / "ingeagglo"


def wait_for(pred: Callable[[], T], seconds: float, step: float = 0.5) -> T:
    """Poll ``pred`` until it returns something true or ``seconds`` pass; its last value either way."""
    deadline = time.monotonic() + seconds
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


@dataclass
class Lab:
    topology: Topology
    plan: Plan
    paths: LabPaths
    up_seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def ssh(self, host: str, command: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``command`` as root on a lab host (plan host id) over SSH, as the controller does:
        logged in as the named administrator, elevated with sudo (switches: the lab's own sshd, root)."""
        if host not in {s.id for s in self.topology.switches}:
            command = access.as_root(command)
        argv = ["ssh", "-F", str(self.paths.ssh_config), "-o", "BatchMode=yes", host, command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=check)

    def ns(self, ns: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run a command inside one of the lab's plain namespaces (cameras, actors, switches)."""
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout, check=False
        )

    def ovs(self, switch: Switch, *argv: str) -> subprocess.CompletedProcess[str]:
        """An ovs-vsctl/ovs-ofctl command against one lab switch (its own database and sockets)."""
        env = {**os.environ, **switches.env(self.paths, switch)}
        return subprocess.run(["ip", "netns", "exec", switch.ns, *argv], capture_output=True, text=True, timeout=30,
                              check=False, env=env)  # fmt: skip

    def ports(self, switch_id: str) -> dict[str, dict[str, object]]:
        return lab_mod.port_states(self.paths, switch_id)


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    folder = Path(os.environ.get("CLOISON_LAB_DEPLOYMENT", DEFAULT_DEPLOYMENT))
    sites = int(os.environ.get("CLOISON_LAB_SITES", "3"))
    paths = default_paths()
    r = SubprocessRunner()
    try:
        res = lab_mod.up(folder, sites, paths, r)
        yield Lab(res.topology, load_plan(folder), paths, res.seconds)
    finally:
        lab_mod.down(paths, r)


@pytest.fixture(scope="session")
def lab_network(lab: Lab) -> Lab:
    """The lab with RADIUS and routing configured by the stand-ins (until the roles exist)."""
    standin.configure(lab.paths, lab.topology, lab.plan)
    return lab
