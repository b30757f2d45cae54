"""The converge fast path: library/cloison_converged.py (record, then check) and the
cloison_role_inputs lookup, on this machine's own files and through real ansible-core runs
(connection local, records in a temporary folder: nothing outside it is changed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_plugins import _load

ROOT = Path(__file__).resolve().parents[2]
CONVERGED = _load(ROOT / "library" / "cloison_converged.py")
BIN = Path(sys.executable).parent
DEPLOYMENT = ROOT / "inventory" / "ingeagglo"


@pytest.fixture
def owned(tmp_path: Path) -> dict[str, Any]:
    """A role's files: two configuration files under a folder, and a key file."""
    conf = tmp_path / "etc" / "demo"
    conf.mkdir(parents=True)
    (conf / "a.conf").write_text("a = 1\n")
    (conf / "b.conf").write_text("b = 2\n")
    key = tmp_path / "demo.key"
    key.write_text("secret\n")
    key.chmod(0o600)
    return {"files": [f"{conf}/**", str(key)], "packages": ["bash", "cloison-no-such-package"]}


def _recorded(watch: dict[str, Any], inputs: str = "i1", age: float = 0.0) -> dict[str, Any]:
    return {"inputs": inputs, "observed": CONVERGED.observe(watch), "recorded_at": time.time() - age}


def test_a_host_left_as_recorded_is_current(owned: dict[str, Any]) -> None:
    record = _recorded(owned)
    assert CONVERGED.judge(record, "i1", CONVERGED.observe(owned), 3600) == ""


def test_an_edited_file_is_drift_and_names_the_file(owned: dict[str, Any], tmp_path: Path) -> None:
    record = _recorded(owned)
    (tmp_path / "etc" / "demo" / "b.conf").write_text("b = 3\n")
    reason = CONVERGED.judge(record, "i1", CONVERGED.observe(owned), 3600)
    assert reason.startswith("drift") and "b.conf" in reason and "a.conf" not in reason


def test_a_mode_change_an_added_and_a_deleted_file_are_drift(owned: dict[str, Any], tmp_path: Path) -> None:
    record = _recorded(owned)
    (tmp_path / "demo.key").chmod(0o644)
    (tmp_path / "etc" / "demo" / "a.conf").unlink()
    (tmp_path / "etc" / "demo" / "c.conf").write_text("c\n")
    reason = CONVERGED.judge(record, "i1", CONVERGED.observe(owned), 3600)
    assert "demo.key" in reason and "0600" in reason and "0644" in reason
    assert "a.conf" in reason and "'absent'" not in reason.split("a.conf")[0][-5:]
    assert "c.conf" in reason and "not watched" in reason


def test_new_inputs_no_record_and_an_old_record_all_run_the_role(owned: dict[str, Any]) -> None:
    now = CONVERGED.observe(owned)
    assert "inputs changed" in CONVERGED.judge(_recorded(owned), "i2", now, 3600)
    assert "no record" in CONVERGED.judge(None, "i1", now, 3600)
    assert "full run is due" in CONVERGED.judge(_recorded(owned, age=7200), "i1", now, 3600)
    assert "full run is due" in CONVERGED.judge(_recorded(owned), "i1", now, 0)


def test_packages_are_observed_through_dpkg(owned: dict[str, Any]) -> None:
    seen = CONVERGED.observe_packages(owned["packages"])
    assert seen["cloison-no-such-package"] == "absent"
    version, status = seen["bash"].split()
    assert version[0].isdigit() and status == "ii"


def test_sysctl_keys_are_read_live(tmp_path: Path) -> None:
    conf = tmp_path / "90-demo.conf"
    conf.write_text("# comment\nnet.ipv4.ip_forward = 1\n-kernel.cloison_no_such_key = 1\n")
    seen = CONVERGED.observe_sysctl([str(conf)])
    assert seen["net.ipv4.ip_forward"] == Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    assert seen["kernel.cloison_no_such_key"] == "unreadable"


def _ansible(*args: str) -> dict[str, Any]:
    """One ad-hoc ansible-core run on this machine (connection local), its JSON result."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_INVENTORY_ENABLED": "host_list",
        "ANSIBLE_STDOUT_CALLBACK": "minimal",
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    argv = [str(BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,",
            "-e", f"ansible_python_interpreter={sys.executable}", *args]  # fmt: skip
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    # The minimal callback prints "localhost | STATUS => {result as JSON}".
    status, _, text = proc.stdout.partition("=>")
    result: dict[str, Any] = json.loads(text)
    result["failed"] = "FAILED" in status
    return result


def _module(tmp_path: Path, owned: dict[str, Any], state: str, inputs: str = "i1", *extra: str) -> dict[str, Any]:
    args = {"name": "demo-host.demo", "inputs": inputs, "state": state, "watch": owned, "dir": str(tmp_path / "rec")}
    return _ansible("-m", "cloison_converged", "-a", json.dumps(args), *extra)


def test_the_module_records_then_checks_through_ansible(owned: dict[str, Any], tmp_path: Path) -> None:
    first = _module(tmp_path, owned, "check")
    assert first["current"] is False and "no record" in first["reason"]
    assert _module(tmp_path, owned, "record", "i1", "--check")["changed"] is True
    assert not (tmp_path / "rec").exists(), "check mode wrote a record"
    assert _module(tmp_path, owned, "record")["changed"] is True
    assert (tmp_path / "rec" / "demo-host.demo.json").stat().st_mode & 0o777 == 0o600
    assert _module(tmp_path, owned, "check")["current"] is True
    assert _module(tmp_path, owned, "record")["changed"] is False
    (tmp_path / "etc" / "demo" / "a.conf").write_text("a = 2\n")
    again = _module(tmp_path, owned, "check")
    assert again["current"] is False and "a.conf" in again["reason"]
    assert again["changed"] is False


def test_the_module_refuses_an_unknown_watch_key(tmp_path: Path) -> None:
    got = _module(tmp_path, {"file": ["/etc/hostname"]}, "check")
    assert got.get("failed") and "unknown keys ['file']" in got["msg"]


def _inputs(*extra: str) -> str:
    lookup = "lookup('cloison_role_inputs', 'state_bridge', controller_files=cf | default([]))"
    got = _ansible("-e", f"cloison_deployment={DEPLOYMENT}", *extra, "-m", "debug", "-a", f"msg={{{{ {lookup} }}}}")
    digest: str = got["msg"]
    assert len(digest) == 64
    return digest


def test_the_inputs_digest_is_stable_and_follows_options_and_controller_files(tmp_path: Path) -> None:
    cert = tmp_path / "host.crt"
    cert.write_text("one\n")
    files = json.dumps({"cf": [str(cert)]})
    base = _inputs("-e", files)
    assert _inputs("-e", files) == base
    assert _inputs("-e", files, "-e", "state_bridge_rtsp_port=8554") != base
    cert.write_text("two\n")
    assert _inputs("-e", files) != base


def test_the_inputs_lookup_names_an_unknown_role() -> None:
    got = _ansible("-m", "debug", "-a", "msg={{ lookup('cloison_role_inputs', 'no_such_role') }}")
    assert got.get("failed") and "no role 'no_such_role'" in got["msg"]
