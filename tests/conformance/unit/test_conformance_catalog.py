"""The control catalog: well-formed, covering what issue 6 asks, and the one source of control IDs.

Every control ID used by the plan's flows, the guardrails and the roles' task names (``… | ID``)
must exist in the catalog; each control a role is said to enforce must be cited by that role.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import yaml

from segmenting.api import load_plan
from segmenting.conformance.catalog import CatalogError, Kind, load_catalog, parse_catalog
from segmenting.guardrails import RULES

ROOT = Path(__file__).resolve().parents[3]
CATALOG = load_catalog()
TASK_ID = re.compile(r"\|\s*((?:[A-Z0-9][A-Za-z0-9.\-]*\s*)+)$")


@functools.cache
def role_task_ids() -> dict[str, dict[str, set[str]]]:
    """role -> task file stem -> control IDs cited at the end of task names."""
    out: dict[str, dict[str, set[str]]] = {}

    def names(node: object) -> list[str]:
        found: list[str] = []
        if isinstance(node, dict):
            if isinstance(node.get("name"), str):
                found.append(node["name"])
            for key in ("block", "rescue", "always"):
                found.extend(names(node.get(key)))
        elif isinstance(node, list):
            for item in node:
                found.extend(names(item))
        return found

    for path in sorted(ROOT.glob("roles/*/tasks/*.yml")):
        role = path.parts[-3]
        for name in names(yaml.safe_load(path.read_text(encoding="utf-8"))):
            match = TASK_ID.search(name)
            if match:
                out.setdefault(role, {}).setdefault(path.stem, set()).update(match.group(1).split())
    return out


def test_catalog_size_and_kinds() -> None:
    kinds = {k: len(CATALOG.of_kind(k)) for k in Kind}
    assert len(CATALOG.controls) >= 80
    assert kinds[Kind.HOST] > 30 and kinds[Kind.NETWORK] > 10 and kinds[Kind.ORGANISATIONAL] >= 5


@pytest.mark.parametrize(
    "required",
    [
        *(f"ANSSI-BP028-R{n}" for n in (12, 13, 30, 31, 33, 34, 39, 50, 53, 54, 56, 58, 59, 62, 68, 80)),
        *(f"ANSSI-PA022-R{n}" for n in (15, 16, 30, 31, 36, 47, 49)),
        *(f"ANSSI-HYG-{n:02d}" for n in (7, 10, 11, 12, 13, 19, 20, 21, 22, 23, 25, 27, 28, 34, 36, 37)),
        *(f"CNIL-F{n:02d}" for n in (4, 5, 8, 9, 16)),
        "CSI-L252-2", "CSI-L252-3", "CSI-L252-5", "DEC-2023-1102-LOG",
        *(f"NIS2-21.2.{c}" for c in "abcdefghij"),
    ],
)  # fmt: skip
def test_issue_scope_is_in_the_catalog(required: str) -> None:
    assert required in CATALOG


def test_every_control_cites_a_source_from_the_references() -> None:
    for c in CATALOG.controls:
        assert c.source.url.startswith("https://"), c.id
        assert c.source.file.startswith("references/"), c.id
        assert c.item, f"{c.id}: which item of {c.source.key}?"
    keys = {c.source.key for c in CATALOG.controls}
    assert {"ANSSI-BP028", "ANSSI-PA022", "ANSSI-HYG", "CNIL", "CSI", "NIS2"} <= keys


def test_bp028_items_exist_in_the_reference_list() -> None:
    reference = ROOT.parent / "shared" / "references" / "anssi_bp28.txt"
    if not reference.exists():
        reference = Path("/work/shared/references/anssi_bp28.txt")
    listed = set(re.findall(r"^R(\d+) \|", reference.read_text(encoding="utf-8"), re.MULTILINE))
    for c in CATALOG.controls:
        if c.id.startswith("ANSSI-BP028-R"):
            assert c.id.rsplit("R", 1)[1] in listed, f"{c.id} is not in anssi_bp28.txt"


def test_nis2_items_are_mapped_or_organisational() -> None:
    for letter in "abcdefghij":
        c = CATALOG.get(f"NIS2-21.2.{letter}")
        assert c.kind in (Kind.COMPOSITE, Kind.ORGANISATIONAL)
        assert c.left_to_entity, f"{c.id}: say honestly what is left to the entity"
        for served in c.served_by:
            assert CATALOG.get(served).kind != Kind.COMPOSITE


def test_plan_flow_and_guardrail_controls_exist() -> None:
    plan = load_plan(ROOT / "inventory" / "ingeagglo")
    used = {cid for f in plan.flows for cid in f.controls} | {cid for r in RULES.values() for cid in r.controls}
    missing = sorted(used - CATALOG.ids)
    assert not missing, f"controls used by the plan/guardrails but missing from the catalog: {missing}"


def test_role_task_controls_exist() -> None:
    cited = {cid for files in role_task_ids().values() for ids in files.values() for cid in ids}
    missing = sorted(cited - CATALOG.ids)
    assert not missing, f"role task names cite controls missing from the catalog: {missing}"


def _enforcement() -> list[tuple[str, str]]:
    return sorted({(c.id, e) for c in CATALOG.controls for e in c.enforced_by})


@pytest.mark.parametrize(("control", "enforcer"), _enforcement(), ids=[f"{c}@{e}" for c, e in _enforcement()])
def test_enforcing_role_cites_the_control(control: str, enforcer: str) -> None:
    """``enforced_by: [role/concern]``: once the role exists, a task of it (that task file) cites the ID."""
    role, _, concern = enforcer.partition("/")
    folder = ROOT / "roles" / role
    if not folder.is_dir():
        pytest.skip(f"role {role} is not written yet")
    if concern:
        cited = role_task_ids().get(role, {}).get(concern, set())
        assert control in cited, f"no task of roles/{role}/tasks/{concern}.yml ends with `| … {control}`"
        return
    pattern = re.compile(rf"(?<![\w-]){re.escape(control)}(?![\w.-])")
    mentioned = [f for f in folder.rglob("*") if f.is_file() and f.name != "waivers.yml"
                 and pattern.search(f.read_text(encoding="utf-8", errors="ignore"))]  # fmt: skip
    assert mentioned, f"{control} says roles/{role} enforces it, but nothing in that role names it"


def test_catalog_rejects_mistakes() -> None:
    base = {"format": 1, "sources": {"S": {"title": "t", "url": "https://x", "file": "references/x"}}}
    bad = [
        {"id": "ANSSI-XYZ-1", "source": "S", "title": "t", "kind": "host", "applies_to": ["linux"]},
        {"id": "CNIL-F04", "source": "S", "title": "t", "kind": "organisational"},
        {"id": "CNIL-F05", "source": "S", "title": "t", "kind": "host", "applies_to": ["linux"], "disaster": None},
        {"id": "NIS2-21.2.a", "source": "S", "title": "t", "kind": "composite", "served_by": ["CNIL-F99"]},
    ]
    with pytest.raises(CatalogError) as exc:
        parse_catalog(base | {"controls": bad})
    text = str(exc.value)
    assert "ANSSI-XYZ-1: id" in text
    assert "CNIL-F04: an organisational measure must say" in text
    assert "CNIL-F05: unknown key(s) ['disaster']" in text
    assert "NIS2-21.2.a: served_by names unknown control CNIL-F99" in text
