"""Converge the lab with the roles, twice, then check mode: the second run and the check change nothing.

ANSSI BP-028 / PA-022 controls are only as good as their repeatability: a role that reports a
change on an unchanged host hides real drift. Needs root and the lab (``@pytest.mark.lab``):
reuses a lab that is already up (the ``tests/lab`` session's), else brings one up and takes it
down afterwards. Timings go to ``out/roles-converge.json`` (bench/roles.md quotes them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from segmenting.lab import lab as lab_mod
from segmenting.lab.names import default_paths
from segmenting.lab.pytest_plugin import DEFAULT_DEPLOYMENT
from segmenting.lab.run import SubprocessRunner

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unr>\d+)\s+"
                   r"failed=(?P<failed>\d+)", re.MULTILINE)  # fmt: skip


@dataclass
class Run:
    seconds: float
    output: str
    recap: dict[str, dict[str, int]]


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    tail = output[output.rfind("PLAY RECAP") :]
    return {m["host"]: {k: int(m[k]) for k in ("ok", "changed", "unr", "failed")} for m in RECAP.finditer(tail)}


def test_parse_recap_reads_every_host() -> None:
    text = (
        "PLAY RECAP ****\n"
        "csu-fw                     : ok=38   changed=0    unreachable=0    failed=0    skipped=9\n"
        "gw-s-x-1                   : ok=12   changed=2    unreachable=0    failed=1    skipped=0\n"
    )
    assert parse_recap(text) == {
        "csu-fw": {"ok": 38, "changed": 0, "unr": 0, "failed": 0},
        "gw-s-x-1": {"ok": 12, "changed": 2, "unr": 0, "failed": 1},
    }


def playbook(inventory: Path, deployment: Path, *extra: str) -> Run:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_FORKS": "12",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), "-e", f"cloison_deployment={deployment}",
            str(ROOT / "playbooks" / "site.yml"), *extra]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
    out = proc.stdout + proc.stderr
    return Run(time.monotonic() - started, out, parse_recap(out))


@pytest.fixture(scope="module")
def lab_inventory() -> Iterator[tuple[Path, Path]]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    paths = default_paths()
    folder = Path(os.environ.get("CLOISON_LAB_DEPLOYMENT", DEFAULT_DEPLOYMENT))
    if lab_mod.is_up(paths):
        yield paths.inventory, folder
        return
    runner = SubprocessRunner()
    try:
        lab_mod.up(folder, int(os.environ.get("CLOISON_LAB_SITES", "3")), paths, runner)
        yield paths.inventory, folder
    finally:
        lab_mod.down(paths, runner)


@pytest.fixture(scope="module")
def converged(lab_inventory: tuple[Path, Path]) -> dict[str, Run]:
    inventory, folder = lab_inventory
    runs = {"first": playbook(inventory, folder)}
    runs["second"] = playbook(inventory, folder)
    runs["check"] = playbook(inventory, folder, "--check", "--diff")
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    (out / "roles-converge.json").write_text(
        json.dumps({name: {"seconds": round(r.seconds, 1), "recap": r.recap} for name, r in runs.items()}, indent=1)
    )
    return runs


@pytest.mark.lab
@pytest.mark.slow
def test_first_converge_succeeds_on_every_host(converged: dict[str, Run]) -> None:
    run = converged["first"]
    assert run.recap, run.output[-4000:]
    bad = {h: r for h, r in run.recap.items() if r["failed"] or r["unr"]}
    assert not bad, run.output[-8000:]


@pytest.mark.lab
@pytest.mark.slow
def test_second_converge_changes_nothing(converged: dict[str, Run]) -> None:
    run = converged["second"]
    changed = {h: r["changed"] for h, r in run.recap.items() if r["changed"] or r["failed"] or r["unr"]}
    assert run.recap and not changed, run.output[-8000:]


@pytest.mark.lab
@pytest.mark.slow
def test_check_mode_after_converge_shows_nothing_to_change(converged: dict[str, Run]) -> None:
    run = converged["check"]
    changed = {h: r["changed"] for h, r in run.recap.items() if r["changed"] or r["failed"] or r["unr"]}
    assert run.recap and not changed, run.output[-8000:]
