"""The ``cloison push`` / ``cloison confirm`` command line: exit codes and messages, no tracebacks."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from conftest import CANDIDATES, PASSWORD_ENV

from segmenting.cli import main
from segmenting.errors import EXIT_OK, EXIT_RUNTIME, EXIT_USAGE
from segmenting.push.plan_targets import targets_from_deployment


def targets_file(tmp_path, entries):
    path = tmp_path / "targets.yml"
    path.write_text(yaml.safe_dump(entries))
    return path


def entry(sw, **kw):
    config = sw.name + ".cfg"
    return {
        "name": sw.name,
        "host": "127.0.0.1",
        "port": sw.port,
        "device_type": sw.device_type,
        "username": "cloison",
        "password_env": PASSWORD_ENV,
        "config_file": config,
        "site": "s-test",
        **kw,
    }


def test_push_from_a_targets_file(fake_switch, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLOISON_RUN_DIR", str(tmp_path / "run"))
    sw = fake_switch("sw-cli", "aruba_aoscx")
    (tmp_path / "sw-cli.cfg").write_text(CANDIDATES["aruba_aoscx"])
    path = targets_file(tmp_path, [entry(sw)])
    assert main(["push", "switches", "--targets", str(path), "--dry-run", "--limit", "s-test"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "sw-cli: would send: vlan 10" in out and "dry-run" in out
    assert sw.state.saves == 0
    assert main(["push", "switches", "--targets", str(path), "--no-progress"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "sw-cli" in out and "committed" in out
    assert sw.state.saves == 1


def test_password_in_clear_is_refused(tmp_path, capsys):
    path = targets_file(
        tmp_path,
        [{"name": "sw", "host": "h", "device_type": "cisco_ios", "username": "u", "password": "x", "config": ""}],
    )
    assert main(["push", "switches", "--targets", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "'password' in clear is refused" in err and "password_env" in err and "Traceback" not in err


def test_unreachable_switch_exits_3_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLOISON_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv(PASSWORD_ENV, "x")
    (tmp_path / "c.cfg").write_text("hostname x\n")
    path = targets_file(
        tmp_path,
        [
            {
                "name": "sw-gone",
                "host": "127.0.0.1",
                "port": 1,
                "device_type": "hp_procurve",
                "username": "u",
                "password_env": PASSWORD_ENV,
                "config_file": "c.cfg",
            }
        ],
    )
    assert main(["push", "switches", "--targets", str(path), "--no-progress"]) == EXIT_RUNTIME
    err = capsys.readouterr().err
    assert "sw-gone: cannot reach 127.0.0.1:1 over SSH" in err and "Traceback" not in err


def test_confirm_without_a_pending_push(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLOISON_RUN_DIR", str(tmp_path))
    assert main(["confirm"]) == EXIT_RUNTIME
    assert "no push is waiting for confirmation" in capsys.readouterr().err


def test_bad_flags_are_usage_errors(tmp_path, capsys):
    rules = tmp_path / "r.nft"
    rules.write_text("table inet t {}\n")
    assert main(["push", "firewall", str(rules), "--local", "--probe", "nope"]) == EXIT_USAGE
    assert "--probe 'nope': expected HOST:PORT" in capsys.readouterr().err
    assert main(["push", "switches"]) == EXIT_USAGE
    assert "give a deployment DIR or --targets FILE" in capsys.readouterr().err


def test_deployment_folder_gives_one_target_per_switch(tmp_path, capsys):
    inventory = Path(__file__).resolve().parents[2] / "inventory" / "ingeagglo"
    assert main(["render", str(inventory), "-o", str(tmp_path / "out"), "--only", "cisco-ios"]) == EXIT_OK
    capsys.readouterr()
    args = argparse.Namespace(
        folder=inventory,
        as_of=None,
        username="cloison",
        key_file=None,
        password_env="SW_PASSWORD",
        secrets=tmp_path / "out" / ".secrets" / "secrets.json",
    )
    items = targets_from_deployment(args)
    assert items and len({i.target.name for i in items}) == len(items)
    for item in items:
        assert item.target.device_type in ("cisco_ios", "aruba_aoscx", "hp_procurve", "linux")
        assert item.target.host.count(".") == 3 and item.target.site
        assert item.candidate.strip()
    ios = next(i for i in items if i.target.device_type == "cisco_ios")
    assert f"hostname {ios.target.name}" in ios.candidate
