"""The switch push against simulated IOS / AOS-CX / ArubaOS-Switch CLIs (fakenos + a state model).

These prove the netmiko dialogue, error detection, read-back, commit-confirmed and rollback
logic — against a simulator, not hardware (docs/push.md).
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CANDIDATES, MIDWAY, item_for, target_for

from segmenting.push import cliconf
from segmenting.push.engine import PushEngine
from segmenting.push.targets import PushItem

FAMILIES = ["cisco_ios", "aruba_aoscx", "hp_procurve"]


def engine(items: list[PushItem], tmp_path: Path, **kw: object) -> PushEngine:
    return PushEngine(items, run_directory=tmp_path, out=io.StringIO(), progress=False, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("family", FAMILIES)
def test_clean_push_applies_verifies_and_saves(family, fake_switch, tmp_path):
    sw = fake_switch("sw-a", family)
    report = engine([item_for(sw)], tmp_path).run()
    result = report.results[0]
    assert report.committed, result.detail
    assert result.status == "committed"
    assert not cliconf.missing_lines(sw.running_text(), CANDIDATES[family])
    assert sw.state.saves == 1
    assert sw.state.startup == sw.state.running
    assert result.added > 0 and "+vlan 10" in result.diff
    assert not sw.state.snapshots, "the on-device backup is discarded after commit"


@pytest.mark.parametrize("family", FAMILIES)
def test_second_push_is_a_no_op(family, fake_switch, tmp_path):
    sw = fake_switch("sw-a", family)
    assert engine([item_for(sw)], tmp_path).run().committed
    report = engine([item_for(sw)], tmp_path).run()
    assert report.committed and report.results[0].status == "unchanged"
    assert sw.state.saves == 1


@pytest.mark.parametrize("family", FAMILIES)
def test_rejected_line_midway_rolls_back_to_the_backup(family, fake_switch, tmp_path):
    sw = fake_switch("sw-a", family, reject=MIDWAY[family])
    before = sw.running_text()
    report = engine([item_for(sw)], tmp_path).run()
    result = report.results[0]
    assert not report.committed
    assert result.status == "failed, rolled back"
    assert "refused" in result.detail and MIDWAY[family] in result.detail and "sw-a" in result.detail
    assert sw.running_text() == before  # identical to the backup, line for line
    assert sw.state.saves == 0


def test_failure_on_one_switch_rolls_back_every_switch(fake_switch, tmp_path):
    good = [fake_switch(f"sw-{i}", f) for i, f in enumerate(FAMILIES)]
    bad = fake_switch("sw-bad", "cisco_ios", reject="ip ssh version")
    before = {sw.name: sw.running_text() for sw in [*good, bad]}
    report = engine([item_for(sw) for sw in [*good, bad]], tmp_path, workers=4).run()
    assert not report.committed
    statuses = {r.name: r.status for r in report.results}
    assert statuses["sw-bad"] == "failed, rolled back"
    assert all(statuses[sw.name] == "rolled back (another device failed)" for sw in good)
    for sw in [*good, bad]:
        assert sw.running_text() == before[sw.name], sw.name
        assert sw.state.saves == 0


def test_per_switch_policy_keeps_the_good_ones(fake_switch, tmp_path):
    good = fake_switch("sw-good", "aruba_aoscx")
    bad = fake_switch("sw-bad", "hp_procurve", reject="bpdu-protection")
    before_bad = bad.running_text()
    report = engine([item_for(good), item_for(bad)], tmp_path, atomic=False).run()
    statuses = {r.name: r.status for r in report.results}
    assert statuses == {"sw-good": "committed", "sw-bad": "failed, rolled back"}
    assert bad.running_text() == before_bad
    assert not cliconf.missing_lines(good.running_text(), CANDIDATES["aruba_aoscx"])


def test_unreachable_switch_is_named_and_nothing_else_changes(fake_switch, tmp_path):
    sw = fake_switch("sw-up", "cisco_ios")
    before = sw.running_text()
    dead = item_for(sw)
    dead = PushItem(target_for(sw, name="sw-down", port=1), dead.candidate)
    report = engine([item_for(sw), dead], tmp_path).run()
    statuses = {r.name: r for r in report.results}
    assert not report.committed
    assert statuses["sw-down"].status == "failed (not changed)"
    assert "sw-down: cannot reach 127.0.0.1:1 over SSH" in statuses["sw-down"].detail
    assert statuses["sw-up"].status == "not changed (push aborted)"
    assert sw.running_text() == before and sw.state.saves == 0


def test_wrong_password_is_an_auth_error(fake_switch, tmp_path, monkeypatch):
    sw = fake_switch("sw-a", "cisco_ios")
    monkeypatch.setenv("CPUSH_TEST_SWITCH_PASSWORD", "wrong")
    report = engine([item_for(sw)], tmp_path).run()
    assert "authentication refused" in report.results[0].detail


@pytest.mark.parametrize("family", FAMILIES)
def test_dry_run_changes_nothing_and_shows_the_commands(family, fake_switch, tmp_path):
    sw = fake_switch("sw-a", family)
    before = sw.running_text()
    out = io.StringIO()
    report = PushEngine([item_for(sw)], run_directory=tmp_path, dry_run=True, out=out, progress=False).run()
    assert report.results[0].status == "dry-run"
    assert sw.running_text() == before and sw.state.saves == 0 and not sw.state.snapshots
    text = out.getvalue()
    assert "+vlan 10" in text and "sw-a: would send: vlan 10" in text
    assert not list(tmp_path.iterdir()), "a dry-run leaves no push state behind"


def test_unconfirmed_push_rolls_back_after_the_window(fake_switch, tmp_path):
    sw = fake_switch("sw-a", "cisco_ios")
    before = sw.running_text()
    started = time.monotonic()
    report = engine([item_for(sw)], tmp_path, confirm_within=1.5).run()
    assert time.monotonic() - started >= 1.5
    assert report.results[0].status == "rolled back (not confirmed)"
    assert sw.running_text() == before and sw.state.saves == 0


def _confirm_from_another_process(run_dir: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        if any(p.read_text().count('"awaiting-confirmation"') for p in run_dir.glob("push-*.json")):
            subprocess.run(
                [sys.executable, "-m", "segmenting.cli", "confirm"],
                env={"CLOISON_RUN_DIR": str(run_dir), "PATH": "/usr/bin:/bin"},
                check=True,
                capture_output=True,
            )
            return
        time.sleep(0.05)


def test_confirmed_push_stays(fake_switch, tmp_path):
    sw = fake_switch("sw-a", "hp_procurve")
    stop = threading.Event()
    confirmer = threading.Thread(target=_confirm_from_another_process, args=(tmp_path, stop))
    confirmer.start()
    try:
        report = engine([item_for(sw)], tmp_path, confirm_within=30).run()
    finally:
        stop.set()
        confirmer.join()
    assert report.committed and report.results[0].status == "committed"
    assert not cliconf.missing_lines(sw.running_text(), CANDIDATES["hp_procurve"])
    assert sw.state.saves == 1
