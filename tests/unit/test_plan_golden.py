"""The plan of the reference deployment, byte for byte, and the determinism it rests on.

On a mismatch the test writes ``<golden>.actual`` beside the reference file for a human to
review (``diff -u tests/unit/golden/ingeagglo.plan.json{,.actual}``); it never rewrites the
reference silently. ``CLOISON_UPDATE_GOLDEN=1 pytest tests/unit/test_plan_golden.py`` does,
once the change is understood.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from invmut import AS_OF, REFERENCE, copy_reference, edit, valid_plan

from segmenting.plan import plan_to_json

GOLDEN = Path(__file__).parent / "golden" / "ingeagglo.plan.json"


def check_golden(actual: str, golden: Path) -> None:
    actual_path = golden.with_name(golden.name + ".actual")
    if os.environ.get("CLOISON_UPDATE_GOLDEN") == "1":
        golden.write_text(actual, encoding="utf-8")
        actual_path.unlink(missing_ok=True)
        return
    expected = golden.read_text(encoding="utf-8") if golden.exists() else None
    if actual != expected:
        actual_path.write_text(actual, encoding="utf-8")
        raise AssertionError(
            f"{golden.name} differs from the plan built now; review `diff -u {golden} {actual_path}` "
            "and, if the change is intended, rerun with CLOISON_UPDATE_GOLDEN=1"
        )
    actual_path.unlink(missing_ok=True)


def test_reference_plan_matches_golden() -> None:
    check_golden(plan_to_json(valid_plan(REFERENCE, AS_OF)), GOLDEN)


def test_two_builds_are_byte_identical() -> None:
    assert plan_to_json(valid_plan(REFERENCE, AS_OF)) == plan_to_json(valid_plan(REFERENCE, AS_OF))


def test_plan_does_not_depend_on_hash_seeds() -> None:
    """Set and dict ordering vary with PYTHONHASHSEED between processes; the plan must not."""
    outputs = set()
    for seed in ("1", "4242"):
        proc = subprocess.run(
            [sys.executable, "-m", "segmenting.cli", "plan", str(REFERENCE), "--json", "--as-of", AS_OF.isoformat()],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(proc.stdout)
    assert len(outputs) == 1
    assert outputs.pop() == GOLDEN.read_text(encoding="utf-8")


def test_listing_order_does_not_change_the_plan(tmp_path: Path) -> None:
    """Cameras, sites and communes listed in another order: same plan (the lock holds the addresses)."""
    folder = copy_reference(tmp_path)
    rng = random.Random(7)
    edit(folder, "cameras.yml", lambda d: rng.shuffle(d["cameras"]))
    edit(folder, "sites.yml", lambda d: rng.shuffle(d["sites"]))
    edit(folder, "communes.yml", lambda d: rng.shuffle(d["communes"]))
    edit(folder, "state.yml", lambda d: rng.shuffle(d["state_convention"]["shared_communes"]))
    assert plan_to_json(valid_plan(folder)) == GOLDEN.read_text(encoding="utf-8")


def test_maintainer_sites_and_agent_communes_order(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "maintainers.yml", lambda d: d["maintainers"][0]["sites"].reverse())
    edit(folder, "agents.yml", lambda d: d["agents"][7]["communes"].reverse())
    assert plan_to_json(valid_plan(folder)) == GOLDEN.read_text(encoding="utf-8")


def test_hosts_maintainers_and_purposes_order(tmp_path: Path) -> None:
    """CSU hosts (hence viewing and flow endpoints), maintainers and each camera's purposes
    listed in another order: same plan (they are sorted by id / value)."""
    folder = copy_reference(tmp_path)
    rng = random.Random(11)
    edit(folder, "deployment.yml", lambda d: rng.shuffle(d["csu"]["hosts"]))
    edit(folder, "maintainers.yml", lambda d: d["maintainers"].reverse())
    edit(folder, "cameras.yml", lambda d: [c["purposes"].reverse() for c in d["cameras"]])
    assert plan_to_json(valid_plan(folder)) == GOLDEN.read_text(encoding="utf-8")
