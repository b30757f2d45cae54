"""Suite-wide ordering: pure tests first, then the ones that build on the shared lab.

The lab is brought up once per session (segmenting.lab's pytest plugin); the roles converge
it, then the conformance audit reads it. pytest collects folders alphabetically, which would
audit before converging, so the order is fixed here, by folder.
"""

from __future__ import annotations

import pytest

ORDER = ("unit", "render", "push", "ids", "image", "lab", "roles", "conformance")


def _rank(item: pytest.Item) -> int:
    parts = item.path.parts
    if "tests" in parts:
        folder = parts[parts.index("tests") + 1] if len(parts) > parts.index("tests") + 2 else ""
        if folder in ORDER:
            return ORDER.index(folder)
    return 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort keeps each folder's own order (and module-level ordering) intact.
    items.sort(key=_rank)
