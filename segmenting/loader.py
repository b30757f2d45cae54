"""Read a deployment folder into an :class:`~segmenting.model.Inventory`, or say what is wrong.

Every problem is reported at once, each naming the file, the key path, the line when it can be
found, and a fix. Line numbers are looked up only when something is wrong, so that loading a
50,000-camera inventory does not pay for YAML node marks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from segmenting.errors import InvalidInventory, Problem
from segmenting.fastyaml import safe_load
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
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(name, "", f"cannot be read: {exc}", "save it as UTF-8 text"))
            continue
        texts[name] = text
        try:
            raw[name] = safe_load(text)
        except ValueError as exc:
            # A scalar YAML resolves but cannot build, e.g. the date 2026-13-45: PyYAML raises a
            # bare ValueError with no position, so find the node ourselves.
            where, line = _bad_scalar(text)
            problems.append(
                Problem(
                    name,
                    where,
                    f"is not a valid value: {exc}",
                    "write dates as YYYY-MM-DD (quote the value if it is not a date)",
                    line,
                )
            )
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
    "int_type": "write a whole number",
    "int_from_float": "write a whole number",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "string_type": "write a text value (quote it if YAML reads it as a number or a date)",
    "string_too_short": "write a non-empty value",
    "string_too_long": "shorten it",
    "string_pattern_mismatch": "match the pattern shown (see docs/inventory.md)",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD",
    "date_from_datetime_inexact": "write a date as YYYY-MM-DD",
    "date_parsing": "write a date as YYYY-MM-DD",
    "date_type": "write a date as YYYY-MM-DD",
    "ip_v4_address": "write an IPv4 address, e.g. 192.0.2.10",
    "ip_v4_network": "write an IPv4 network with its prefix length, e.g. 10.64.0.0/22",
    "ip_v4_interface": "write an IPv4 network with its prefix length, e.g. 10.64.0.0/22",
    "too_short": "add at least one entry",
    "greater_than_equal": "use a value in the range allowed (see docs/inventory.md)",
    "less_than_equal": "use a value in the range allowed (see docs/inventory.md)",
    "greater_than": "use a value in the range allowed (see docs/inventory.md)",
    "less_than": "use a value in the range allowed (see docs/inventory.md)",
    "model_type": "write a mapping of keys (key: value)",
    "model_attributes_type": "write a mapping of keys (key: value)",
    "dict_type": "write a mapping of keys (key: value)",
    "list_type": "write a list (- item)",
    "tuple_type": "write a list (- item)",
}
_DEFAULT_FIX = "see this key in docs/inventory.md"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _network_fix(value: object, default: str) -> str:
    """``10.64.0.1/12`` has host bits set: name the network the user most likely meant."""
    try:
        network = IPv4Network(str(value), strict=False)
    except ValueError:
        return default
    return f"host bits are set: write the network address, {network}"


def problems_from_pydantic(err: ValidationError) -> list[Problem]:
    problems = []
    for item in err.errors(include_url=False):
        loc = tuple(item["loc"])
        section = str(loc[0]) if loc else ""
        kind = item["type"]
        message = item["msg"].removeprefix("Value error, ")
        fix = _FIXES.get(kind, _DEFAULT_FIX)
        if kind == "ip_v4_network":
            fix = _network_fix(item.get("input"), fix)
        if kind == "value_error" and ": " in message:
            # Our validators (segmenting.model) write "what is wrong: how to fix it", quoting the value.
            message, fix = message.rsplit(": ", 1)
        elif kind not in ("missing",) and "input" in item and not isinstance(item["input"], dict | list):
            message += f" (got {_short(item['input'])})"
        problems.append(Problem(section_file(section), _loc_to_path(loc), message, fix))
    return problems


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _split_path(path: str) -> list[str | int]:
    return [int(idx) if idx else key for key, idx in _PATH_PART.findall(path)]


def _bad_scalar(text: str) -> tuple[str, int | None]:
    """Key path and line of the first scalar SafeLoader resolves but cannot construct."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return "", None
    constructor = yaml.constructor.SafeConstructor()
    todo: list[tuple[yaml.Node, str]] = [(root, "")] if root is not None else []
    while todo:
        node, where = todo.pop(0)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = str(key_node.value)
                todo.append((value_node, f"{where}.{key}" if where else key))
        elif isinstance(node, yaml.SequenceNode):
            todo.extend((item, f"{where}[{i}]") for i, item in enumerate(node.value))
        elif isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node, deep=True)
            except (ValueError, yaml.YAMLError):
                return where, node.start_mark.line + 1
    return "", None


def _compose(text: str) -> yaml.Node | None:
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    return node


def line_of(text: str, path: str, root: yaml.Node | None = None) -> int | None:
    """1-based line of the deepest node of ``path`` that exists in the YAML ``text``.

    ``root`` is the composed ``text`` when the caller already has it (composing a large file
    once per problem made reporting 20 problems in a 10,000-camera inventory take a minute).
    """
    node = root if root is not None else _compose(text)
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


def json_line_of(text: str, path: str) -> int | None:
    """1-based line of ``section.key`` in a JSON file written one key per line (the lock file)."""
    parts = path.split(".", 1)
    section = f'"{parts[0]}":'
    key = f'"{parts[1]}":' if len(parts) > 1 else None
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not inside and stripped.startswith(section):
            if key is None:
                return number
            inside = True
        elif inside and stripped.startswith(key or ""):
            return number
    return None


def locate(problems: list[Problem], texts: Mapping[str, str]) -> list[Problem]:
    """Fill in line numbers for problems whose file text we have."""
    out = []
    roots: dict[str, yaml.Node | None] = {}
    for p in problems:
        if p.line is None and p.file in texts and p.path and p.file.endswith(".json"):
            out.append(Problem(p.file, p.path, p.message, p.fix, json_line_of(texts[p.file], p.path)))
        elif p.line is None and p.file in texts and p.path:
            if p.file not in roots:
                roots[p.file] = _compose(texts[p.file])
            root = roots[p.file]
            line = line_of(texts[p.file], p.path, root) if root is not None else None
            out.append(Problem(p.file, p.path, p.message, p.fix, line))
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


def load_with_texts(folder: Path, as_of: date | None = None) -> tuple[Inventory, dict[str, str]]:
    """:func:`load`, also returning each file's text so later stages can locate their problems."""
    raw, texts = read_folder(folder)
    try:
        inventory = parse(raw)
    except InvalidInventory as exc:
        raise InvalidInventory(locate(exc.problems, texts)) from None
    problems = check(inventory, as_of or date.today())
    if problems:
        raise InvalidInventory(locate(problems, texts))
    return inventory, texts


def load(folder: Path, as_of: date | None = None) -> Inventory:
    """Load and fully validate a deployment folder (structure, then meaning)."""
    return load_with_texts(folder, as_of)[0]
