"""Property: whatever a user does to the inventory, cloison answers with a plan or a clear error.

Hypothesis mutates the reference deployment at random — deletes keys, changes types, writes
random strings, numbers, None, lists or mappings, duplicates or drops list items, swaps one
reference for another — and checks that loading, validating and planning either gives a plan
or raises :class:`InvalidInventory` whose every problem names a file of the inventory and says
what is wrong. Any other exception is a traceback in front of a user: a bug.

It works on the in-memory files (``segmenting.synth.generate()`` is the reference) to stay fast.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmenting import synth
from segmenting.allocate import LOCK_FILE, Lock
from segmenting.errors import InvalidInventory
from segmenting.loader import parse
from segmenting.model import FILES
from segmenting.plan import build_plan, plan_to_json
from segmenting.validate import check

AS_OF = date(2026, 11, 28)
REFERENCE = synth.generate()
KNOWN_FILES = frozenset(FILES) | {LOCK_FILE}


def _strings(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            out.add(str(key))
            _strings(value, out)
    elif isinstance(node, list):
        for item in node:
            _strings(item, out)
    elif isinstance(node, str):
        out.add(node)
    return out


# Values the inventory already holds: swapping one for another makes the mutations that
# matter (a camera pointing at another site, a duplicate MAC, a VLAN id reused, …).
EXISTING = sorted(_strings(REFERENCE, set()))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0, 1, 22, 23, 30, 31, 80, 161, 4094, 4095, 65535, 65536]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(EXISTING),
    st.sampled_from(["10.64.0.0/12", "10.64.0.10", "192.0.2.1", "0.0.0.0/0", "1.2.3.4/40", "::1", "2026-13-45"]),
    st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 1, 1)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def _mutate(data: st.DataObject, files: dict[str, Any]) -> None:
    """One random change somewhere in one file."""
    name = data.draw(st.sampled_from(sorted(files)), label="file")
    parent: Any = files
    key: Any = name
    node = files[name]
    # Walk down a random path; stop at a random depth.
    while isinstance(node, dict | list) and node and data.draw(st.integers(0, 3), label="depth") > 0:
        parent = node
        key = (
            data.draw(st.sampled_from(sorted(node, key=str)), label="key")
            if isinstance(node, dict)
            else data.draw(st.integers(0, len(node) - 1), label="index")
        )
        node = node[key]
    action = data.draw(
        st.sampled_from(["delete", "replace", "swap", "duplicate", "drop", "add-key"]),
        label="action",
    )
    if action == "delete" and parent is not files:
        del parent[key]
    elif action == "swap":
        parent[key] = data.draw(st.sampled_from(EXISTING), label="swap")
    elif action == "duplicate" and isinstance(node, list) and node:
        index = data.draw(st.integers(0, len(node) - 1), label="dup")
        node.insert(data.draw(st.integers(0, len(node)), label="at"), copy.deepcopy(node[index]))
    elif action == "drop" and isinstance(node, list) and node:
        del node[data.draw(st.integers(0, len(node) - 1), label="drop")]
    elif action == "add-key" and isinstance(node, dict):
        node[data.draw(st.sampled_from([*EXISTING[:50], "extra", "vlans", "ip", "tunnel"]), label="new")] = data.draw(
            values, label="value"
        )
    else:
        parent[key] = data.draw(values, label="value")


def outcome(files: dict[str, Any]) -> str | list[tuple[str, str]]:
    """The plan JSON, or the (file, message) of every problem; anything else propagates."""
    try:
        inventory = parse(files)
        problems = check(inventory, AS_OF)
        if problems:
            raise InvalidInventory(problems)
        return plan_to_json(build_plan(inventory, Lock()))
    except InvalidInventory as exc:
        return [(p.file, p.message) for p in exc.problems]


@settings(
    max_examples=300,
    deadline=2000,
    derandomize=True,  # same examples every run: CI does not flake, a failure reproduces
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_any_mutation_gives_a_plan_or_clear_problems(data: st.DataObject) -> None:
    files = copy.deepcopy(REFERENCE)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        _mutate(data, files)
    result = outcome(files)
    if isinstance(result, list):
        assert result, "InvalidInventory without a problem"
        for file, message in result:
            assert file in KNOWN_FILES, f"problem in unknown file {file!r}: {message}"
            assert message.strip(), f"empty message for {file}"


def test_the_reference_itself_plans() -> None:
    result = outcome(copy.deepcopy(REFERENCE))
    assert isinstance(result, str) and result.startswith("{")
