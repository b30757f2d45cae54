"""Helpers for the inventory tests: a private copy of the reference deployment, edited in place.

Every bad-input test starts from ``inventory/ingeagglo`` copied to a tmp folder, changes one
thing (or two) the way a user would, and looks at what ``cloison`` says.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from segmenting import cli
from segmenting.api import load_plan
from segmenting.errors import InvalidInventory, Problem
from segmenting.plan import Plan

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "inventory" / "ingeagglo"
AS_OF = date(2026, 11, 28)  # habilitations are judged on this date everywhere in the tests

Data = dict[str, Any]


def copy_reference(tmp_path: Path, name: str = "dep") -> Path:
    folder = tmp_path / name
    shutil.copytree(REFERENCE, folder)
    return folder


def read(folder: Path, file: str) -> Data:
    data: Data = yaml.load((folder / file).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    return data


def write(folder: Path, file: str, data: Data) -> None:
    # The C dumper: the tests rewrite cameras.yml often, and the pure-Python one is slow.
    text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=110)
    (folder / file).write_text(text, encoding="utf-8")


def edit(folder: Path, file: str, change: Callable[[Data], object]) -> None:
    """Load ``file``, let ``change`` mutate it, write it back."""
    data = read(folder, file) if (folder / file).exists() else {}
    change(data)
    write(folder, file, data)


def lines_with(folder: Path, file: str, needle: str) -> list[int]:
    """1-based numbers of the lines of ``file`` that contain ``needle``."""
    text = (folder / file).read_text(encoding="utf-8")
    return [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]


def line_with(folder: Path, file: str, needle: str, nth: int = 0) -> int:
    found = lines_with(folder, file, needle)
    assert len(found) > nth, f"{needle!r} not found {nth + 1} time(s) in {file}"
    return found[nth]


def problems(folder: Path, as_of: date = AS_OF) -> list[Problem]:
    """The problems ``cloison validate`` reports (load, validate, allocate, plan)."""
    try:
        load_plan(folder, as_of)
    except InvalidInventory as exc:
        return exc.problems
    pytest.fail("the inventory was accepted")


def valid_plan(folder: Path, as_of: date = AS_OF) -> Plan:
    return load_plan(folder, as_of)


def only(found: list[Problem], file: str, path: str, fragment: str, line: int | None = None) -> Problem:
    """Assert ``found`` is exactly one problem at (file, path) whose message has ``fragment``."""
    assert len(found) == 1, "\n".join(p.render() for p in found)
    return expect(found, file, path, fragment, line)


def expect(found: list[Problem], file: str, path: str, fragment: str, line: int | None = None) -> Problem:
    """Assert one of ``found`` is at (file, path), says ``fragment``, has a fix (and the line)."""
    hits = [p for p in found if p.file == file and p.path == path and fragment in p.message]
    assert hits, f"no problem {file}:{path} ~ {fragment!r} among:\n" + "\n".join(p.render() for p in found)
    problem = hits[0]
    assert problem.fix, f"problem without a fix: {problem.render()}"
    if line is not None:
        assert problem.line == line, f"expected line {line}: {problem.render()}"
    return problem


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err
