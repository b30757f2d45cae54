"""The command line: registration in ``cloison``, and user errors as messages, not tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from idsite import run_cli, write_allowlist

from segmenting.errors import EXIT_INVALID, EXIT_USAGE

CLOISON = [sys.executable, "-m", "segmenting.cli"]


def test_ids_is_registered_in_cloison() -> None:
    out = subprocess.run(
        [*CLOISON, "ids", "replay", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert out.returncode == 0, out.stderr
    assert "--allowlist" in out.stdout and "--no-plan" in out.stdout


def test_plan_choice_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(["ids", "replay", "x.pcap"])
    assert exc.value.code == EXIT_USAGE
    assert "--allowlist" in capsys.readouterr().err


def test_missing_capture_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = run_cli(["ids", "replay", str(tmp_path / "none.pcap"), "--no-plan"])
    err = capsys.readouterr().err
    assert rc == EXIT_INVALID and "none.pcap: capture file not found" in err
    assert "Traceback" not in err


def test_not_a_capture_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"GIF89a not a pcap at all")
    assert run_cli(["ids", "replay", str(junk), "--no-plan"]) == EXIT_INVALID
    assert "junk.pcap: not a pcap or pcapng file" in capsys.readouterr().err


def test_unsupported_link_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import struct  # noqa: PLC0415

    f = tmp_path / "wifi.pcap"
    f.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 127))
    assert run_cli(["ids", "replay", str(f), "--no-plan"]) == EXIT_INVALID
    assert "link type 127 is not supported" in capsys.readouterr().err


def test_bad_allowlist_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "allow.json"
    bad.write_text("[]")
    pcap = tmp_path / "x.pcap"
    pcap.write_bytes(b"")
    assert run_cli(["ids", "replay", str(pcap), "--allowlist", str(bad)]) == EXIT_INVALID
    assert f"{bad}: <top>: top level must be a JSON object" in capsys.readouterr().err


def test_syslog_needs_a_spool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    al = write_allowlist(tmp_path)
    rc = run_cli(["ids", "replay", "x.pcap", "--allowlist", str(al), "--syslog", "127.0.0.1:1"])
    assert rc == EXIT_USAGE and "--syslog needs --spool" in capsys.readouterr().err


def test_unknown_interface(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = run_cli(["ids", "run", "--iface", "cids-nonexistent0", "--no-plan", "--duration", "0"])
    assert rc != 0 and "interface 'cids-nonexistent0' does not exist" in capsys.readouterr().err
