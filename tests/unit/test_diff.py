"""``cloison diff``: what a change to an inventory does, and its exit codes (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from segmenting import diff_cmd
from segmenting.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, CloisonError

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / "inventory" / "ingeagglo"

NEW_CAMERA = """\
- id: cam-09999
  site: s-ingeville-1
  commune: ingeville
  mac: 02:1c:a0:09:99:99
  model: Axis Q6135-LE
  auth: mab
  port: 40
  purposes:
  - crime_prevention
"""

DNS_FLOW = """\
flows:
- id: rec-dns
  src: {zone: recording}
  dst: {zone: services, hosts: [csu-dns]}
  proto: udp
  ports: [53]
  service: dns
  purpose: recorders resolve the NTP and syslog names
  controls: [ANSSI-HYG-22]
"""

BAD_FLOW = """\
flows:
- id: cam-cloud
  src: {zone: cameras}
  dst: {zone: internet}
  proto: tcp
  ports: [443]
  service: vendor-cloud
  purpose: the vendor's cloud viewer
  controls: [ANSSI-HYG-22]
"""


@pytest.fixture
def base(tmp_path: Path) -> Path:
    dest = tmp_path / "base"
    shutil.copytree(REFERENCE, dest)
    return dest


@pytest.fixture
def new(tmp_path: Path, base: Path) -> Path:
    dest = tmp_path / "new"
    shutil.copytree(base, dest)
    return dest


def main(argv: list[str]) -> int:
    """What `cloison diff ...` does, without the other command modules (tested on their own)."""
    parser = argparse.ArgumentParser(prog="cloison")
    diff_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CloisonError as exc:
        print(f"cloison: {exc}", file=sys.stderr)
        return exc.exit_code
    return code


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["diff", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def diff_json(capsys: pytest.CaptureFixture[str], new: Path, base: Path) -> tuple[int, dict[str, object]]:
    code, out, _ = run(capsys, str(new), "--against-dir", str(base), "--format", "json")
    return code, json.loads(out)


def test_no_change(capsys: pytest.CaptureFixture[str], new: Path, base: Path) -> None:
    code, out, _ = run(capsys, str(new), "--against-dir", str(base))
    assert code == EXIT_OK
    assert "no change to the plan" in out


def test_added_camera_is_reported_and_no_address_moves(
    capsys: pytest.CaptureFixture[str], new: Path, base: Path
) -> None:
    with (new / "cameras.yml").open("a", encoding="utf-8") as fh:
        fh.write(NEW_CAMERA)
    code, data = diff_json(capsys, new, base)
    assert code == EXIT_OK and data["valid"]
    sections = data["sections"]
    assert isinstance(sections, dict)
    assert [c["camera"] for c in sections["cameras_added"]] == ["cam-09999"]
    assert sections["addresses_changed"] == []
    assert sections["cameras_removed"] == [] and sections["flows_opened"] == [] and sections["flows_closed"] == []
    # Ingeville is shared with the State: the relay's flow to that site now reaches one more camera.
    changed = {(r["flow"], r["field"]) for r in sections["flows_changed"]}
    assert ("F-s-ingeville-1-relay-rtsp", "to hosts") in changed
    assert any("lock" in n for n in data["notes"])  # type: ignore[attr-defined]


def test_opened_flow_is_reported(capsys: pytest.CaptureFixture[str], new: Path, base: Path) -> None:
    (new / "flows.yml").write_text(DNS_FLOW, encoding="utf-8")
    code, out, _ = run(capsys, str(new), "--against-dir", str(base), "--format", "markdown")
    assert code == EXIT_OK
    assert "**OK: 1 flow opened**" in out
    assert "#### Flows opened" in out
    assert "| F-x-rec-dns | recording | services (csu-dns) | udp/53 | dns | ANSSI-HYG-22 |" in out


def test_guardrail_violation_exits_1_and_markdown_shows_it(
    capsys: pytest.CaptureFixture[str], new: Path, base: Path
) -> None:
    (new / "flows.yml").write_text(BAD_FLOW, encoding="utf-8")
    code, out, _ = run(capsys, str(new), "--against-dir", str(base), "--format", "markdown")
    assert code == EXIT_INVALID
    assert "**REFUSED: 1 problem in the new inventory**" in out
    assert "#### Problems (the change is refused)" in out
    assert "GR-CAM-INTERNET" in out and "flows.yml" in out
    code, out, _ = run(capsys, str(new), "--against-dir", str(base))
    assert code == EXIT_INVALID and "GR-CAM-INTERNET" in out


def test_removed_site_lists_its_closed_flows(capsys: pytest.CaptureFixture[str], new: Path, base: Path) -> None:
    gone = "s-valmorin-2"
    for name, key, keep in (
        ("sites.yml", "sites", lambda x: x["id"] != gone),
        ("cameras.yml", "cameras", lambda x: x["site"] != gone),
    ):
        data = yaml.safe_load((new / name).read_text(encoding="utf-8"))
        data[key] = [x for x in data[key] if keep(x)]
        (new / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    maint = yaml.safe_load((new / "maintainers.yml").read_text(encoding="utf-8"))
    for m in maint["maintainers"]:
        m["sites"] = [s for s in m["sites"] if s != gone]
    (new / "maintainers.yml").write_text(yaml.safe_dump(maint, sort_keys=False), encoding="utf-8")

    code, data = diff_json(capsys, new, base)
    assert code == EXIT_OK, data["problems"]
    sections = data["sections"]
    assert isinstance(sections, dict)
    assert [s["site"] for s in sections["sites_removed"]] == [gone]
    closed = {f["flow"] for f in sections["flows_closed"]}
    assert closed and all(f.startswith(f"F-{gone}-") for f in closed)
    assert f"F-{gone}-rec-rtsp" in closed and f"F-{gone}-admin-ssh" in closed
    assert sections["flows_opened"] == [] and sections["addresses_changed"] == []
    assert {c["site"] for c in sections["cameras_removed"]} == {gone}


def test_viewing_and_state_changes_are_flagged(capsys: pytest.CaptureFixture[str], new: Path, base: Path) -> None:
    state = yaml.safe_load((new / "state.yml").read_text(encoding="utf-8"))
    state["state_convention"]["shared_communes"].remove("valmorin")
    (new / "state.yml").write_text(yaml.safe_dump(state, allow_unicode=True, sort_keys=False), encoding="utf-8")
    code, out, _ = run(capsys, str(new), "--against-dir", str(base))
    assert code == EXIT_OK
    assert "State sharing" in out and "shared communes" in out and "-1: valmorin" in out
    assert "F-s-valmorin-1-relay-rtsp" in out  # the relay no longer reads Valmorin's cameras


def test_git_revision_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    dep = repo / "inventory" / "ingeagglo"
    shutil.copytree(REFERENCE, dep)

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "base")
    (dep / "flows.yml").write_text(DNS_FLOW, encoding="utf-8")  # uncommitted: the working tree
    before = sorted(p.name for p in dep.iterdir())

    monkeypatch.chdir(repo)
    code, out, _ = run(capsys, "inventory/ingeagglo", "--against", "HEAD", "--format", "json")
    assert code == EXIT_OK
    data = json.loads(out)
    assert [f["flow"] for f in data["sections"]["flows_opened"]] == ["F-x-rec-dns"]
    assert data["before"].startswith("HEAD (")
    assert sorted(p.name for p in dep.iterdir()) == before  # the working tree is untouched
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    assert status.stdout.strip() == "?? inventory/ingeagglo/flows.yml"

    code, _, err = run(capsys, "inventory/ingeagglo", "--against", "no-such-rev")
    assert code == EXIT_USAGE and "no-such-rev" in err and "Traceback" not in err


def test_not_a_git_repository_is_a_usage_error(capsys: pytest.CaptureFixture[str], new: Path) -> None:
    code, _, err = run(capsys, str(new), "--against", "HEAD")
    assert code == EXIT_USAGE
    assert "not inside a git repository" in err


def test_against_is_required(capsys: pytest.CaptureFixture[str], new: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["diff", str(new)])
    assert exc.value.code == EXIT_USAGE


def test_moved_address_is_flagged(capsys: pytest.CaptureFixture[str], new: Path, base: Path) -> None:
    lock_path = new / "allocations.lock.json"
    lock = json.loads(lock_path.read_text(encoding="utf-8"))
    old_ip = lock["cameras"]["cam-00001"]
    lock["cameras"]["cam-00001"] = "10.64.1.200"  # free, inside s-ingeville-1's camera subnet
    lock_path.write_text(json.dumps(lock, indent=1), encoding="utf-8")
    code, out, _ = run(capsys, str(new), "--against-dir", str(base), "--format", "markdown")
    assert code == EXIT_OK
    assert "#### Addresses changed ⚠" in out
    assert f"| cam-00001 | camera | {old_ip} | 10.64.1.200 |" in out
    assert "1 address moved" in out


def test_new_deployment_lists_everything_folded(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(["git", *ident, "commit", "-q", "--allow-empty", "-m", "empty"], cwd=repo, check=True)
    shutil.copytree(REFERENCE, repo / "ingeagglo")
    monkeypatch.chdir(repo)
    code, out, _ = run(capsys, "ingeagglo", "--against", "HEAD", "--format", "markdown")
    assert code == EXIT_OK
    assert "does not exist at HEAD: everything is new" in out
    assert "#### Cameras added" in out and "<details><summary>250 rows</summary>" in out
    assert "#### Flows closed" not in out


def test_viewing_right_change_is_flagged(capsys: pytest.CaptureFixture[str], new: Path, base: Path) -> None:
    agents = yaml.safe_load((new / "agents.yml").read_text(encoding="utf-8"))
    agents["agents"][0]["communes"].append("valmorin")
    (new / "agents.yml").write_text(yaml.safe_dump(agents, allow_unicode=True, sort_keys=False), encoding="utf-8")
    code, data = diff_json(capsys, new, base)
    assert code == EXIT_OK
    sections = data["sections"]
    assert isinstance(sections, dict)
    rows = sections["viewing_changed"]
    assert [(r["agent"], r["change"], r["after"]) for r in rows] == [("agt-001", "communes", "+1: valmorin")]
