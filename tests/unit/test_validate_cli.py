"""`cloison validate` in front of a user: exit 1, every problem with file:line, key path and fix, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from invmut import AS_OF, REFERENCE, copy_reference, edit, line_with, problems, run_cli

from segmenting.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE

ARGS = ["--as-of", AS_OF.isoformat()]


def test_reference_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["validate", str(REFERENCE), *ARGS, "--strict-lock"], capsys)
    assert code == EXIT_OK, err
    assert out.startswith("ok: Communauté d'agglomération INGEAGGLO (ingeagglo): 20 communes with sites, 26 sites")
    assert "250 cameras" in out
    assert err == ""


@pytest.mark.parametrize("command", ["validate", "plan", "lock"])
def test_invalid_inventory_exits_1_listing_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][3].update(mac="nope"))
    edit(folder, "deployment.yml", lambda d: d.update(retention_days="a month"))
    code, out, err = run_cli([command, str(folder), *ARGS], capsys)
    assert code == EXIT_INVALID
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("cloison: 2 problems in the inventory:")
    assert f"cameras.yml:{line_with(folder, 'cameras.yml', 'mac: nope')}: cameras[3].mac: 'nope' is not a MAC" in err
    assert f"deployment.yml:{line_with(folder, 'deployment.yml', 'retention_days')}: retention_days:" in err
    assert err.count("fix: ") == 2


def test_yaml_syntax_error_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_reference(tmp_path)
    text = (folder / "sites.yml").read_text().splitlines()
    text[10] = text[10] + ": x"  # "ports: 48: x": a mapping value where none may be
    (folder / "sites.yml").write_text("\n".join(text) + "\n")
    code, _, err = run_cli(["validate", str(folder), *ARGS], capsys)
    assert code == EXIT_INVALID
    assert "sites.yml:11: <top>: is not valid YAML" in err
    assert "Traceback" not in err


def test_impossible_date_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    """PyYAML reads 2028-13-45 as a date and raises a bare ValueError; it used to escape as a traceback."""
    folder = copy_reference(tmp_path)
    text = (folder / "agents.yml").read_text().replace("expires: '2028-01-15'", "expires: 2028-13-45")
    (folder / "agents.yml").write_text(text)
    found = problems(folder)
    assert len(found) == 1
    p = found[0]
    assert (p.file, p.path) == ("agents.yml", "agents[0].habilitation.expires")
    assert "month must be in 1..12" in p.message
    assert p.line == line_with(folder, "agents.yml", "2028-13-45")
    assert "YYYY-MM-DD" in p.fix


def test_missing_file_and_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_reference(tmp_path)
    (folder / "state.yml").unlink()
    code, _, err = run_cli(["validate", str(folder), *ARGS], capsys)
    assert code == EXIT_INVALID
    assert "state.yml: <top>: file is missing" in err

    folder = copy_reference(tmp_path, "other")
    edit(folder, "communes.yml", lambda d: d.update(retention_days=10))
    found = problems(folder)
    assert [(p.file, p.path, p.message, p.fix) for p in found] == [
        ("communes.yml", "retention_days", "unknown key", "move it to deployment.yml")
    ]


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    (folder / "agents.yml").write_text("- just\n- a list\n")
    found = problems(folder)
    assert [(p.file, p.message) for p in found] == [("agents.yml", "must be a mapping of keys, got list")]
    assert found[0].fix


def test_not_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["validate", str(tmp_path / "nowhere"), *ARGS], capsys)
    assert code == EXIT_INVALID
    assert "is not a folder" in err


def test_bad_as_of_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(["validate", str(REFERENCE), "--as-of", "tomorrow"], capsys)
    assert exc.value.code == EXIT_USAGE


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][0].update(vlans={"cameras": 99999}))
    proc = subprocess.run(
        [sys.executable, "-m", "segmenting.cli", "validate", str(folder), *ARGS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == EXIT_INVALID
    assert "Traceback" not in proc.stderr
    assert "sites[0].vlans.cameras" in proc.stderr
