"""The audit run on the lab, end to end: every node and the reachability matrix, within the time
budget; and a control broken on purpose on one node is reported failing, alone, then restored.

Uses the lab already running when there is one (audited as it is, never torn down here);
otherwise the lab plugin's ``lab`` fixture brings it up for the session.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import deployment_plan, lab_nodes, lab_topology

from segmenting.conformance.reachability import build_cases, endpoints
from segmenting.lab import lab as lab_mod
from segmenting.lab.access import as_root
from segmenting.lab.names import default_paths

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
WAIVERS = Path(__file__).parent / "waivers-lab.yml"
BUDGET_S = 60
# (sshd keyword, the weak value, the control only that setting's check cites)
BREAKABLE = (
    ("PasswordAuthentication", "yes", "ANSSI-HYG-13"),
    ("PermitEmptyPasswords", "yes", "CNIL-F04"),
    ("X11Forwarding", "yes", "ANSSI-BP028-R62"),
)


@pytest.fixture(scope="module")
def audit_lab(request: pytest.FixtureRequest):
    paths = default_paths()
    if not lab_mod.is_up(paths):
        request.getfixturevalue("lab")  # up for this session; the lab plugin tears it down at the end
    return paths


def audit(out: Path, *extra: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "segmenting.cli", "audit", "-o", str(out), "--waivers", str(WAIVERS), *extra],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=600,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert proc.returncode in (0, 4), proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads((out / "audit.json").read_text()), elapsed


def test_full_audit_of_the_lab(audit_lab, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    code, data, elapsed = audit(tmp_path)
    plan = deployment_plan(pytestconfig)
    nodes = {n.name for n in lab_nodes(pytestconfig)}
    assert set(data["hosts"]) == nodes, "every lab node is audited"
    cases = build_cases(plan, endpoints(plan, lab_topology(pytestconfig)))
    assert len(data["reachability"]) == len(cases) > 50, "every reachability case is probed"
    assert not [r for r in data["reachability"] if r["observed"].startswith("error")], "probes that could not run"
    assert (code == 0) == data["passed"] and (code == 4) == bool(data["failed_controls"] or any(
        w["expired"] for w in data["waivers"]))  # fmt: skip
    html = (tmp_path / "audit.html").read_text()
    assert not re.search(r"https?://", html)
    junit = (tmp_path / "junit.xml").read_text()
    assert '<property name="control" value="ANSSI-HYG-13"' in junit
    # The budget is for this 2-core machine when the audit has it; other engineers' suites share
    # it, so the limit stretches with the run queue (bench/audit.md reports the raw figures).
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    limit = BUDGET_S * max(1.0, load)
    assert elapsed <= limit, f"the audit of the lab took {elapsed:.0f} s (budget {BUDGET_S} s, x{load:.1f} load)"


def _ssh(paths, host: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ssh", "-F", str(paths.ssh_config), "-o", "BatchMode=yes", host, as_root(command)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def failing_on(results_dir: Path, host: str) -> set[str]:
    """Controls failing on one host, from the raw results of an audit (probes excluded)."""
    data = json.loads((results_dir / "results.json").read_text())
    return {c for r in data["checks"] if r["host"] == host and r["outcome"] in ("failed", "error")
            for c in r["controls"]}  # fmt: skip


def cited_on(results_dir: Path, host: str) -> set[str]:
    data = json.loads((results_dir / "results.json").read_text())
    return {c for r in data["checks"] if r["host"] == host and r["outcome"] != "skipped" for c in r["controls"]}


def test_a_broken_control_is_reported_alone(audit_lab, tmp_path: Path, pytestconfig: pytest.Config) -> None:
    _, _, _ = audit(tmp_path / "before", "--no-network")
    choice = next(
        ((node, b) for node in sorted(n.name for n in lab_nodes(pytestconfig)) for b in BREAKABLE
         if b[2] in cited_on(tmp_path / "before", node) - failing_on(tmp_path / "before", node)),
        None,
    )  # fmt: skip
    assert choice, f"none of {[b[2] for b in BREAKABLE]} passes on any node before the break: nothing to break"
    node, (keyword, value, control) = choice
    before = failing_on(tmp_path / "before", node)
    print(f"breaking {keyword} {value} on {node}: expecting {control} alone to fail")
    backup = "/etc/ssh/sshd_config.caud-backup"
    broke = _ssh(audit_lab, node, f"cp -p /etc/ssh/sshd_config {backup} && sed -i '1i {keyword} {value}' "
                                  "/etc/ssh/sshd_config && sshd -t && systemctl reload ssh")  # fmt: skip
    try:
        assert broke.returncode == 0, broke.stderr
        code, after_data, _ = audit(tmp_path / "after", "--hosts", node, "--no-network")
    finally:
        restored = _ssh(audit_lab, node, f"mv {backup} /etc/ssh/sshd_config && sshd -t && systemctl reload ssh")
    assert restored.returncode == 0, f"could not restore sshd_config on {node}: {restored.stderr}"
    after = failing_on(tmp_path / "after", node)
    assert code == 4 and control in after_data["failed_controls"]
    assert after - before == {control}, f"breaking {keyword} on {node} should fail {control} only"
    assert before - after == set()
    check = _ssh(audit_lab, node, f"sshd -T | grep -i '^{keyword.lower()} '")
    assert value not in check.stdout.split(), f"{node} still has {keyword} {value} after the restore"


def test_converged_lab_passes_the_audit(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Issue 6, done when: the roles converge the lab, then the audit passes (exit 0, with the lab waivers).

    Needs a ``converged_lab`` fixture (the roles' converge of the lab); until one exists in the
    suite this is skipped, visibly, rather than run against unconfigured nodes.
    """
    try:
        request.getfixturevalue("converged_lab")
    except pytest.FixtureLookupError:
        pytest.skip("no converged_lab fixture in the suite yet: nothing converges the lab before the audit")
    code, data, _ = audit(tmp_path)
    failing_ids = sorted(data["failed_controls"])
    assert code == 0 and data["passed"], f"the converged lab fails {failing_ids}; see {tmp_path / 'audit.html'}"
