"""The pytest plugin: control IDs into JUnit XML properties and into the results JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SAMPLE = """
import pytest

@pytest.mark.control("ANSSI-HYG-13")
def test_pass(evidence):
    evidence("sshd -T: passwordauthentication no")

@pytest.mark.parametrize("value", [
    pytest.param("no", marks=pytest.mark.control("ANSSI-BP028-R33"), id="root-no"),
    pytest.param("yes", marks=pytest.mark.control("CNIL-F04"), id="empty-yes"),
])
@pytest.mark.control("ANSSI-PA022-R24")
def test_param(value):
    assert value == "no", f"found {value}"

@pytest.mark.control("CSI-L252-5")
def test_skipped():
    pytest.skip("no recorder")

@pytest.fixture
def broken():
    raise RuntimeError("cannot reach host")

@pytest.mark.control("ANSSI-HYG-36")
def test_error(broken):
    pass

@pytest.mark.control("ANSSI-HYG-19")
def test_probe(probe_row):
    probe_row({"case": "camera->camera", "src": "a", "src_zone": "cameras", "dst": "b", "dst_zone": "cameras",
               "proto": "tcp", "port": 554, "expected": "deny", "observed": "timeout", "controls": ["ANSSI-HYG-19"]})
"""


def _run(tmp_path: Path) -> tuple[ET.Element, dict[str, dict[str, object]]]:
    (tmp_path / "test_caud_sample.py").write_text(SAMPLE)
    junit, results = tmp_path / "junit.xml", tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "test_caud_sample.py", "-q", "-p", "segmenting.conformance.pytest_plugin",
         "-p", "no:cacheprovider", "-c", "/dev/null", f"--rootdir={tmp_path}", f"--junitxml={junit}",
         f"--conformance-json={results}"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one failure, one error
    data = json.loads(results.read_text())
    return ET.parse(junit).getroot(), {r["name"]: r for r in data["checks"]}


def test_junit_carries_control_ids(tmp_path: Path) -> None:
    root, _ = _run(tmp_path)
    props = {
        case.get("name"): [(p.get("name"), p.get("value")) for p in case.iter("property")]
        for case in root.iter("testcase")
    }
    assert ("control", "ANSSI-HYG-13") in props["test_pass"]
    assert ("evidence", "sshd -T: passwordauthentication no") in props["test_pass"]
    assert {v for k, v in props["test_param[root-no]"] if k == "control"} == {"ANSSI-BP028-R33", "ANSSI-PA022-R24"}
    assert {v for k, v in props["test_param[empty-yes]"] if k == "control"} == {"CNIL-F04", "ANSSI-PA022-R24"}


def test_results_json_records_outcomes(tmp_path: Path) -> None:
    _, rec = _run(tmp_path)
    assert rec["test_pass"]["outcome"] == "passed" and rec["test_pass"]["evidence"] == [
        "sshd -T: passwordauthentication no"
    ]
    assert rec["test_param[empty-yes]"]["outcome"] == "failed"
    assert "found yes" in str(rec["test_param[empty-yes]"]["message"])
    assert rec["test_skipped"]["outcome"] == "skipped"
    assert rec["test_error"]["outcome"] == "error" and "cannot reach host" in str(rec["test_error"]["message"])
    assert rec["test_probe"]["probes"] == [
        {"case": "camera->camera", "src": "a", "src_zone": "cameras", "dst": "b", "dst_zone": "cameras",
         "proto": "tcp", "port": 554, "expected": "deny", "observed": "timeout", "controls": ["ANSSI-HYG-19"]}
    ]  # fmt: skip
