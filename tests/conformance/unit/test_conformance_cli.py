"""``cloison audit``: exit codes and the files it writes (re-rendering recorded results, no lab)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conformance_helpers import inventory_nodes

from segmenting import cli
from segmenting.api import load_plan
from segmenting.conformance.runner import RunOptions, pytest_argv
from segmenting.errors import EXIT_CHECK_FAILED, EXIT_INVALID, EXIT_OK

DATA = Path(__file__).parent / "data"


def test_failing_controls_exit_4_and_write_every_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["audit", "--from-results", str(DATA / "results.json"), "--waivers", str(DATA / "waivers.yml"),
                     "--as-of", "2026-11-28", "-o", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == EXIT_CHECK_FAILED
    assert "FAIL ANSSI-PG075-R34" in out and "EXPIRED waiver for ANSSI-BP028-R33" in out
    assert {p.name for p in tmp_path.iterdir()} >= {"audit.html", "audit.md", "audit.json"}
    data = json.loads((tmp_path / "audit.json").read_text())
    assert data["passed"] is False and data["as_of"] == "2026-11-28"


def test_all_passing_exits_0(tmp_path: Path) -> None:
    results = json.loads((DATA / "results.json").read_text())
    for check in results["checks"]:
        check["outcome"] = "passed"
        for probe in check["probes"]:
            probe["observed"] = "open" if probe["expected"] == "allow" else "timeout"
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    empty = tmp_path / "no-waivers.yml"
    empty.write_text("format: 1\nwaivers: []\n")
    code = cli.main(["audit", "--from-results", str(path), "--waivers", str(empty), "-o", str(tmp_path / "out")])
    assert code == EXIT_OK


def test_invalid_waiver_file_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "waivers.yml"
    bad.write_text("format: 1\nwaivers:\n  - control: ANSSI-HYG-13\n    owner: RSSI\n")
    code = cli.main(["audit", "--from-results", str(DATA / "results.json"), "--waivers", str(bad), "-o", str(tmp_path)])
    assert code == EXIT_INVALID
    assert "missing justification, expires" in capsys.readouterr().err


def test_pytest_command_line(tmp_path: Path) -> None:
    argv = pytest_argv(RunOptions(tmp_path, Path("inventory/ingeagglo"), ("csu-log",), None, network=False))
    files = [a for a in argv if a.endswith(".py")]
    assert files and all(Path(f).name.startswith("test_audit_") for f in files)
    assert not any(f.endswith("test_audit_reachability.py") for f in files)
    assert f"--junitxml={tmp_path / 'junit.xml'}" in argv and "--audit-hosts=csu-log" in argv
    assert argv[argv.index("lab") - 1] == "-m"  # only the lab checks, never the unit tests


def test_inventory_hosts_become_nodes(tmp_path: Path) -> None:
    """A deployment's Ansible inventory (the lab's shape): plan hosts sharing an address are one node."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n"
        "    csu-radius: {ansible_host: 172.31.254.6}\n    csu-ntp: {ansible_host: 172.31.254.6}\n"
        "    csu-rec-01: {ansible_host: 172.31.254.14}\n    printer: {ansible_host: 172.31.254.99}\n"
    )
    plan = load_plan(Path(__file__).resolve().parents[3] / "inventory" / "ingeagglo")
    nodes = {n.name: n for n in inventory_nodes(plan, inventory)}
    assert set(nodes) == {"csu-radius", "csu-rec-01"}  # hosts outside the plan are not audited
    assert nodes["csu-radius"].plays == ("csu-radius", "csu-ntp") and nodes["csu-radius"].kinds == ("ntp", "radius")
    assert nodes["csu-rec-01"].mgmt_ip == "172.31.254.14"
