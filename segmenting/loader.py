"""Read a deployment folder into an :class:`~segmenting.model.Inventory`, or say what is wrong.

Every problem is reported at once, each naming the file, the key path, the line when it can be
found, and a fix. Line numbers are looked up only when something is wrong, so that loading a
50,000-camera inventory does not pay for YAML node marks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from segmenting.errors import InvalidInventory, Problem
from segmenting.model import FILES, OPTIONAL_FILES, Inventory, section_file
from segmenting.validate import check

RawFiles = dict[str, Any]

try:  # the C loader is ~10x faster on large inventories; fall back where libyaml is absent
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


def read_folder(folder: Path) -> tuple[RawFiles, dict[str, str]]:
    """Parse each known YAML file of ``folder``. Returns (data by file, text by file)."""
    if not folder.is_dir():
        raise InvalidInventory(
            [
                Problem(
                    str(folder),
                    "",
                    "is not a folder",
                    "pass the deployment folder, e.g. inventory/ingeagglo",
                )
            ]
        )
    raw: RawFiles = {}
    texts: dict[str, str] = {}
    problems: list[Problem] = []
    for name in FILES:
        path = folder / name
        if not path.exists():
            if name not in OPTIONAL_FILES:
                problems.append(
                    Problem(
                        name,
                        "",
                        "file is missing",
                        f"create {folder / name} (see docs/inventory.md)",
                    )
                )
            continue
        text = path.read_text(encoding="utf-8")
        texts[name] = text
        try:
            raw[name] = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problems.append(
                Problem(
                    name,
                    "",
                    f"is not valid YAML: {getattr(exc, 'problem', exc)}",
                    "fix the syntax",
                    line,
                )
            )
    if problems:
        raise InvalidInventory(problems)
    return raw, texts


def merge_sections(raw: RawFiles) -> tuple[dict[str, Any], list[Problem]]:
    """Merge files into one mapping of sections, refusing keys that belong elsewhere."""
    merged: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, content in raw.items():
        data = {} if content is None else content
        if not isinstance(data, Mapping):
            problems.append(
                Problem(
                    name,
                    "",
                    f"must be a mapping of keys, got {type(data).__name__}",
                    "see docs/inventory.md",
                )
            )
            continue
        allowed = FILES[name]
        for key, value in data.items():
            if key not in allowed:
                home = section_file(str(key))
                fix = (
                    f"move it to {home}"
                    if home != name and str(key) in FILES.get(home, ())
                    else f"remove it or fix its spelling; {name} holds: {', '.join(allowed)}"
                )
                problems.append(Problem(name, str(key), "unknown key", fix))
                continue
            merged[str(key)] = value
    return merged, problems


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


_FIXES = {
    "missing": "add this key",
    "extra_forbidden": "remove it or fix its spelling (see docs/inventory.md)",
    "enum": "use one of the values listed",
    "literal_error": "use one of the values listed",
    "int_parsing": "write a whole number",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD",
    "ip_v4_address": "write an IPv4 address, e.g. 192.0.2.10",
    "ip_v4_network": "write an IPv4 network with its prefix length, e.g. 10.64.0.0/22",
    "too_short": "add at least one entry",
}


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def problems_from_pydantic(err: ValidationError) -> list[Problem]:
    problems = []
    for item in err.errors(include_url=False):
        loc = tuple(item["loc"])
        section = str(loc[0]) if loc else ""
        kind = item["type"]
        message = item["msg"].removeprefix("Value error, ")
        if kind not in ("missing",) and "input" in item and not isinstance(item["input"], dict | list):
            message += f" (got {_short(item['input'])})"
        problems.append(Problem(section_file(section), _loc_to_path(loc), message, _FIXES.get(kind, "")))
    return problems


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _split_path(path: str) -> list[str | int]:
    return [int(idx) if idx else key for key, idx in _PATH_PART.findall(path)]


def line_of(text: str, path: str) -> int | None:
    """1-based line of the deepest node of ``path`` that exists in the YAML ``text``."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    line = None
    for part in _split_path(path):
        if node is None:
            break
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    line = key_node.start_mark.line + 1
                    nxt = value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        node = nxt
    return line


def locate(problems: list[Problem], texts: Mapping[str, str]) -> list[Problem]:
    """Fill in line numbers for problems whose file text we have."""
    out = []
    for p in problems:
        if p.line is None and p.file in texts and p.path:
            out.append(Problem(p.file, p.path, p.message, p.fix, line_of(texts[p.file], p.path)))
        else:
            out.append(p)
    return out


def parse(raw: RawFiles) -> Inventory:
    """Structure-check merged raw data (no semantics); raises with every problem found."""
    merged, problems = merge_sections(raw)
    try:
        inventory = Inventory.model_validate(merged)
    except ValidationError as err:
        problems.extend(problems_from_pydantic(err))
        raise InvalidInventory(problems) from None
    if problems:
        raise InvalidInventory(problems)
    return inventory


def load(folder: Path, as_of: date | None = None) -> Inventory:
    """Load and fully validate a deployment folder (structure, then meaning)."""
    raw, texts = read_folder(folder)
    try:
        inventory = parse(raw)
    except InvalidInventory as exc:
        raise InvalidInventory(locate(exc.problems, texts)) from None
    problems = check(inventory, as_of or date.today())
    if problems:
        raise InvalidInventory(locate(problems, texts))
    return inventory
