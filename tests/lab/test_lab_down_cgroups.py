"""`lab down` empties the lab's cgroups before removing them.

A node's payload can outlive nspawn by a moment (the kernel kills the PID namespace, the processes
leave their cgroups later): rmdir then fails with EBUSY and the lab leaves cgroups behind. A CI run
on a loaded machine hit exactly that.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from segmenting.lab import nodes

pytestmark = pytest.mark.lab


@pytest.fixture
def busy_cgroup():
    if os.geteuid() != 0:
        pytest.skip("cgroups need root")
    hierarchy = nodes.cgroup_hierarchies()[0]
    top = hierarchy / f"cl-cgtest-{os.getpid()}"
    leaf = top / "payload"
    leaf.mkdir(parents=True)
    proc = subprocess.Popen(["sh", "-c", f"echo $$ > {leaf}/cgroup.procs && exec sleep 60"])
    for _ in range(100):
        if str(proc.pid) in (leaf / "cgroup.procs").read_text().split():
            break
        time.sleep(0.05)
    try:
        yield top, proc
    finally:
        proc.kill()
        proc.wait()
        for d in (leaf, top):
            if d.exists():
                d.rmdir()


def test_down_empties_then_removes_its_cgroups(
    busy_cgroup: tuple[Path, subprocess.Popen[bytes]],
) -> None:
    top, proc = busy_cgroup
    assert nodes.remove_cgroups([str(top)], timeout=0), "the cgroup must be busy for this test to mean anything"
    left = nodes.remove_cgroups([str(top)], timeout=10)
    assert left == []
    assert not top.exists()
    assert proc.wait(timeout=5) == -9
