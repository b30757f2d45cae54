"""Coverage gate (Garden Linux ``tests/util/coverage.py`` in spirit): no lab needed.

Collects the conformance checks (``pytest --collect-only`` with the plugin's manifest): every
host/network control of the catalog is cited by at least one check, every check cites at least
one control and only known ones, and every composite's serving controls are themselves covered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segmenting.conformance.catalog import Kind, load_catalog

ROOT = Path(__file__).resolve().parents[3]
CHECKS = ROOT / "tests" / "conformance"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    out = tmp_path_factory.mktemp("caud-manifest") / "manifest.json"
    files = sorted(str(p) for p in CHECKS.glob("test_audit_*.py"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *files, "--collect-only", "-q", "-p", "no:cacheprovider",
         f"--rootdir={ROOT}", f"--conformance-manifest={out}"],
        capture_output=True, text=True, cwd=ROOT, check=False, env=dict(os.environ, CLOISON_AUDIT_RUN="1"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    data: list[dict[str, object]] = json.loads(out.read_text())
    return data


def test_checks_were_collected(manifest) -> None:
    assert len(manifest) > 300
    assert {Path(str(m["file"])).name for m in manifest} >= {"test_audit_ssh.py", "test_audit_reachability.py"}


def test_every_check_cites_a_known_control(manifest) -> None:
    ids = load_catalog().ids
    silent = [m["nodeid"] for m in manifest if not m["controls"]]
    unknown = [f"{m['nodeid']}: {c}" for m in manifest for c in m["controls"] if c not in ids]  # type: ignore[attr-defined]
    assert not silent, f"checks that cite no control: {silent[:10]}"
    assert not unknown, f"checks citing unknown controls: {unknown[:10]}"


def test_every_checkable_control_has_a_check(manifest) -> None:
    cited = {c for m in manifest for c in m["controls"]}  # type: ignore[attr-defined]
    catalog = load_catalog()
    missing = [c.id for c in catalog.of_kind(Kind.HOST, Kind.NETWORK) if c.id not in cited]
    assert not missing, f"host/network controls without a check (write one or mark them organisational): {missing}"
    for composite in catalog.of_kind(Kind.COMPOSITE):
        for served in composite.served_by:
            kind = catalog.get(served).kind
            assert kind == Kind.ORGANISATIONAL or served in cited, f"{composite.id} is served by unchecked {served}"


def test_no_check_collects_to_nothing(manifest) -> None:
    """A check whose controls apply to no lab node would never run: say where it runs (runs_on)."""
    empty = [m["nodeid"] for m in manifest if str(m["nodeid"]).endswith("[NOTSET]")]
    assert not empty, f"checks with no host to run on: {empty}"


def test_every_check_is_a_lab_check(manifest) -> None:
    """Checks run against the lab; none may pass silently without it (they fail when it is down)."""
    assert all(m["lab"] for m in manifest)


def test_checks_are_collected_only_inside_an_audit() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(CHECKS), "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "lab",
         f"--rootdir={ROOT}"],
        capture_output=True, text=True, cwd=ROOT, check=False, env={k: v for k, v in os.environ.items()
                                                                      if k != "CLOISON_AUDIT_RUN"},
    )  # fmt: skip
    assert "test_audit_" not in proc.stdout and "test_conformance_lab.py" in proc.stdout, proc.stdout[-2000:]


def test_unknown_control_is_refused_at_collection(tmp_path: Path) -> None:
    test = tmp_path / "test_caud_unknown.py"
    test.write_text("import pytest\n\n@pytest.mark.control('ANSSI-HYG-99')\ndef test_x():\n    pass\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(test), "-q", "-p", "segmenting.conformance.pytest_plugin",
         "-p", "no:cacheprovider", f"--rootdir={tmp_path}", "-c", "/dev/null"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "ANSSI-HYG-99" in proc.stderr and "not in segmenting/conformance/controls.yml" in proc.stderr
