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
import json
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from segmenting import synth
from segmenting.allocate import LOCK_FILE, Lock
from segmenting.errors import InvalidInventory
from segmenting.loader import parse
from segmenting.model import FILES, Zone
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
    st.sampled_from(
        [
            *("10.64.0.0/12", "10.64.0.10", "192.0.2.1", "0.0.0.0/0", "1.2.3.4/40", "::1", "2026-13-45"),
            *("10.255.0.0/31", "10.64.0.0/32", "10.0.0.0/8", "10.64.0.0/21", "172.16.0.0/30"),
        ]
    ),
    st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 1, 1)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        # YAML keys need not be strings: `1: x`, `2024-01-01: x`, `~: x`
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), st.none(), st.dates()), inner, max_size=3),
    ),
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
    # `pytest --hypothesis-show-statistics` shows how the examples split between outcomes.
    event("valid plan" if isinstance(result, str) else f"refused in {min(f for f, _ in result or [('?', '')])}")
    if isinstance(result, list):
        assert result, "InvalidInventory without a problem"
        for file, message in result:
            assert file in KNOWN_FILES, f"problem in unknown file {file!r}: {message}"
            assert message.strip(), f"empty message for {file}"


def test_the_reference_itself_plans() -> None:
    result = outcome(copy.deepcopy(REFERENCE))
    assert isinstance(result, str) and result.startswith("{")


# --- changes a user makes on purpose: pins, overrides, extra flows, an edited lock ---------------

REFERENCE_LOCK = json.loads((Path(__file__).resolve().parents[2] / "inventory/ingeagglo" / LOCK_FILE).read_text())
SITE_IDS = [s["id"] for s in REFERENCE["sites.yml"]["sites"]]
HOST_IDS = [h["id"] for h in REFERENCE["deployment.yml"]["csu"]["hosts"]] + ["cam-00001", "cam-00100", "nobody"]
ZONES = [z.value for z in Zone]
PORTS = st.one_of(
    st.sampled_from([21, 22, 23, 53, 69, 80, 123, 161, 443, 500, 554, 830, 4500, 8443, 8554]), st.integers(1, 65535)
)


def _flows(draw: st.DrawFn) -> list[dict[str, Any]]:
    flows = []
    for index in range(draw(st.integers(0, 3))):

        def end() -> dict[str, Any]:
            out: dict[str, Any] = {"zone": draw(st.sampled_from(ZONES))}
            if draw(st.booleans()):
                out["site"] = draw(st.sampled_from([*SITE_IDS, "s-nowhere"]))
            if draw(st.booleans()):
                out["hosts"] = draw(st.lists(st.sampled_from(HOST_IDS), max_size=2))
            return out

        flows.append(
            {
                "id": f"x-{index}",
                "src": end(),
                "dst": end(),
                "proto": draw(st.sampled_from(["tcp", "udp", "icmp"])),
                "ports": draw(st.lists(PORTS, max_size=3)),
                "service": draw(st.sampled_from(["ssh", "http", "rtsp", "dns", "ike", "custom"])),
                "purpose": "property test",
                "controls": ["ANSSI-HYG-19"],
            }
        )
    return flows


@st.composite
def edited(draw: st.DrawFn) -> tuple[dict[str, Any], Lock]:
    files = copy.deepcopy(REFERENCE)
    cameras = files["cameras.yml"]["cameras"]
    sites = files["sites.yml"]["sites"]
    for _ in range(draw(st.integers(0, 4))):
        cam = cameras[draw(st.integers(0, len(cameras) - 1))]
        choice = draw(st.sampled_from(["ip", "port", "drop", "move"]))
        if choice == "ip":
            cam["ip"] = f"10.64.{draw(st.integers(0, 104))}.{draw(st.integers(0, 255))}"
        elif choice == "port":
            cam["port"] = draw(st.integers(1, 50))
        elif choice == "drop":
            cameras.remove(cam)
        else:
            site = sites[draw(st.integers(0, len(sites) - 1))]
            cam["site"], cam["commune"] = site["id"], site["commune"]
    for _ in range(draw(st.integers(0, 3))):
        site = sites[draw(st.integers(0, len(sites) - 1))]
        choice = draw(st.sampled_from(["block", "vlan", "transport", "ports"]))
        if choice == "block":
            site["block"] = f"10.{draw(st.sampled_from([64, 65, 79, 80]))}.{draw(st.integers(0, 63)) * 4}.0/22"
        elif choice == "vlan":
            zone = draw(st.sampled_from(["cameras", "quarantine", "site_mgmt", "unused"]))
            site.setdefault("vlans", {})[zone] = draw(st.sampled_from([10, 110, 999, 4000, 1, 4094, 200]))
        elif choice == "transport":
            site["transport"] = draw(st.sampled_from(["fiber", "vdsl", "cellular"]))
        else:
            site["switch"]["ports"] = draw(st.sampled_from([4, 8, 12, 24, 48]))
    files["flows.yml"] = {"flows": _flows(draw)}
    sections = {name: dict(REFERENCE_LOCK[name]) for name in ("sites", "transport", "cameras", "csu_hosts")}
    lock = Lock(**sections) if draw(st.booleans()) else Lock()
    for _ in range(draw(st.integers(0, 2))):
        section = draw(st.sampled_from(["sites", "transport", "cameras", "csu_hosts"]))
        entries = getattr(lock, section)
        key = draw(st.sampled_from([*sorted(entries)[:5], "ghost"]))
        entries[key] = draw(
            st.sampled_from(["10.64.0.10", "10.64.0.0/22", "10.255.0.0/30", "10.0.1.10", "junk", "10.0.99.1"])
        )
    return files, lock


@settings(max_examples=150, deadline=2000, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(edited())
def test_deliberate_edits_give_a_plan_or_clear_problems(case: tuple[dict[str, Any], Lock]) -> None:
    files, lock = case
    try:
        inventory = parse(files)
        problems = check(inventory, AS_OF)
        if problems:
            raise InvalidInventory(problems)
        plan = build_plan(inventory, lock)
        event("valid plan")
        assert plan_to_json(plan) == plan_to_json(build_plan(inventory, lock))  # deterministic
    except InvalidInventory as exc:
        event(f"refused in {exc.problems[0].file}")
        for p in exc.problems:
            assert p.file in KNOWN_FILES, p.render()
            assert p.message.strip() and p.fix.strip(), p.render()
