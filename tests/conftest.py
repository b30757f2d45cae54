"""Suite-wide ordering: pure tests first, then the ones that build on the shared lab.

The lab is brought up once per session (segmenting.lab's pytest plugin); the roles converge
it, then the conformance audit reads it. pytest collects folders alphabetically, which would
audit before converging, so the order is fixed here, by folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from segmenting.lab.converge import Run, run_playbook
from segmenting.lab.pytest_plugin import Lab, lab, lab_network  # noqa: F401 - shared by every folder

# Every process the suite starts inherits this marker, detached daemons included, so that the
# last test can find any of them still running (tests/test_zz_session.py).
os.environ.setdefault("CLOISON_TEST_SESSION", secrets.token_hex(8))

ORDER = ("unit", "render", "push", "ids", "image", "lab", "roles", "conformance")


# Tests that take the shared lab down run after every test that uses it; the check that the
# suite left no process and no thread behind runs after that.
LAST = ("test_zz_down_leaves_nothing", "test_zz_session_leaves_no_process", "test_zz_session_leaves_no_thread")


def _rank(item: pytest.Item) -> int:
    if item.name in LAST:
        return len(ORDER) + LAST.index(item.name)
    parts = item.path.parts
    if "tests" in parts:
        folder = parts[parts.index("tests") + 1] if len(parts) > parts.index("tests") + 2 else ""
        if folder in ORDER:
            return ORDER.index(folder)
    return 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort keeps each folder's own order (and module-level ordering) intact.
    items.sort(key=_rank)


# --- the lab, shared by tests/lab, tests/roles and tests/conformance ---------------------------
# One lab per session (brought up by whichever test needs it first, torn down at the end), and
# one converge of it by the roles, which the roles tests assert on and the audit then reads.


@pytest.fixture(scope="session")
def converged_lab(lab: Lab) -> dict[str, Run]:  # noqa: F811 - the imported fixture, by name
    """The roles applied to the lab twice, then once in check mode: the runs, by name.

    The second run takes the roles' fast path (cloison_converged: a role whose inputs and owned
    state did not move since its last run ends after one round trip). The check-mode run turns
    the fast path off (``cloison_converged_max_age=0``): every task of every role is evaluated
    again, so "nothing to change" there proves the roles themselves idempotent, not the record.
    """
    folder = Path(os.environ.get("CLOISON_LAB_DEPLOYMENT", Path(__file__).resolve().parents[1] / "inventory/ingeagglo"))
    runs: dict[str, Run] = {"first": run_playbook(lab.paths.inventory, folder)}
    runs["second"] = run_playbook(lab.paths.inventory, folder)
    runs["check"] = run_playbook(lab.paths.inventory, folder, "--check", "--diff", "-e", "cloison_converged_max_age=0")
    return runs
