"""Converge the lab with the roles, twice, then check mode: the second run and the check change nothing.

ANSSI BP-028 / PA-022 controls are only as good as their repeatability: a role that reports a
change on an unchanged host hides real drift. Needs root and the lab (``@pytest.mark.lab``).
The converge is the session's ``converged_lab`` (tests/conftest.py): the same converged lab the
conformance audit then reads. Timings go to ``out/roles-converge.json`` (bench/roles.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from segmenting.lab.converge import Run, changed_tasks, parse_recap, run_playbook
from segmenting.lab.pytest_plugin import Lab

ROOT = Path(__file__).resolve().parents[2]


def test_parse_recap_reads_every_host() -> None:
    text = (
        "PLAY RECAP ****\n"
        "csu-fw                     : ok=38   changed=0    unreachable=0    failed=0    skipped=9\n"
        "gw-s-x-1                   : ok=12   changed=2    unreachable=0    failed=1    skipped=0\n"
    )
    recap = parse_recap(text)
    assert recap == {
        "csu-fw": {"ok": 38, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 9},
        "gw-s-x-1": {"ok": 12, "changed": 2, "unreachable": 0, "failed": 1, "skipped": 0},
    }


def test_changed_tasks_names_host_and_task_once() -> None:
    text = (
        "TASK [pki : Install the CA certificate | ANSSI-PA022-R37] ****\n"
        "ok: [csu-fw]\n"
        "changed: [gw-s-x-1] => (item={'src': 'ca.crt', 'dest': 'ca.crt'})\n"
        "changed: [gw-s-x-1] => (item={'src': 'gw.crt', 'dest': 'host.crt'})\n"
        "\n"
        "RUNNING HANDLER [time_sync : Restart chrony] ****\n"
        "changed: [csu-fw]\n"
    )
    assert changed_tasks(text) == [
        ("gw-s-x-1", "pki : Install the CA certificate | ANSSI-PA022-R37"),
        ("csu-fw", "time_sync : Restart chrony"),
    ]
    assert changed_tasks("TASK [x] ***\nok: [a]\n") == []


@pytest.fixture(scope="module")
def converged(converged_lab: dict[str, Run]) -> dict[str, Run]:
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    times = {name: {"seconds": round(r.seconds, 1), "recap": r.recap} for name, r in converged_lab.items()}
    (out / "roles-converge.json").write_text(json.dumps(times, indent=1))
    return converged_lab


def _not_clean(run: Run) -> dict[str, dict[str, int]]:
    return {h: r for h, r in run.recap.items() if r.get("changed") or r.get("failed") or r.get("unreachable")}


@pytest.mark.lab
@pytest.mark.slow
def test_first_converge_succeeds_on_every_host(converged: dict[str, Run]) -> None:
    run = converged["first"]
    assert run.recap, run.output[-4000:]
    assert not run.failed_hosts, run.output[-8000:]


@pytest.mark.lab
@pytest.mark.slow
def test_second_converge_changes_nothing(converged: dict[str, Run]) -> None:
    run = converged["second"]
    assert run.recap and not _not_clean(run), (changed_tasks(run.output), run.output[-8000:])


@pytest.mark.lab
@pytest.mark.slow
def test_check_mode_after_converge_shows_nothing_to_change(converged: dict[str, Run]) -> None:
    run = converged["check"]
    assert run.recap and not _not_clean(run), run.output[-8000:]


@pytest.mark.lab
@pytest.mark.slow
def test_second_converge_takes_the_fast_path_on_every_role(converged: dict[str, Run]) -> None:
    """Each role of each host ended after its state check: nothing moved since the first run.
    A role that ran in full on any host reaches its last task, whose banner then shows."""
    run = converged["second"]
    assert "Is this host still as the role's last converge left it" in run.output, run.output[-6000:]
    assert "Record what the role left on this host" not in run.output, run.output[-6000:]


@pytest.mark.lab
@pytest.mark.slow
def test_a_converge_repairs_drift_the_fast_path_sees(converged: dict[str, Run], lab: Lab) -> None:
    """A hand edit of a file a role owns (chrony's configuration on a site gateway) is drift:
    the next converge of that host runs the role in full and puts the file back."""
    host = sorted(n.id for n in lab.topology.nodes if n.id.startswith("gw-") and n.id in converged["first"].recap)[0]
    conf = "/etc/chrony/chrony.conf"
    before = lab.ssh(host, f"sha256sum {conf}").stdout.split()[0]
    lab.ssh(host, f"echo 'server 192.0.2.1 iburst' >> {conf}")
    assert lab.ssh(host, f"sha256sum {conf}").stdout.split()[0] != before
    folder = Path(os.environ.get("CLOISON_LAB_DEPLOYMENT", ROOT / "inventory" / "ingeagglo"))
    run = run_playbook(lab.paths.inventory, folder, "-l", host)
    assert not run.failed_hosts and run.recap.get(host, {}).get("changed", 0) >= 1, run.output[-6000:]
    assert lab.ssh(host, f"sha256sum {conf}").stdout.split()[0] == before, run.output[-6000:]
