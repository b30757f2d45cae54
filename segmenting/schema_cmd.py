"""``cloison schema``: the inventory format as JSON Schema (draft 2020-12), for editors and CI.

The schema is generated from the pydantic model (:mod:`segmenting.model`), so it cannot drift
from what ``cloison validate`` accepts. It checks *structure* only — types, ranges, formats,
closed vocabularies, unknown keys; rules that span records (duplicates, references, guardrails)
need ``cloison validate``.

Each inventory file gets its own schema (``cameras.yml`` holds only ``cameras:`` …); the
combined schema accepts any one inventory file (``anyOf`` the per-file schemas), so a single
editor mapping ``inventory/*/*.yml`` works too. See docs/cli.md for the editor set-up.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any

from segmenting.errors import EXIT_OK, EXIT_RUNTIME, CloisonError
from segmenting.model import FILES, Inventory

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# RFC 6761 reserves .invalid: the id names the schema without pretending to be fetchable.
ID_BASE = "https://cloison.invalid/schema/"

# Networks are written with their prefix length; the generated "format" is not a standard one,
# so editors would accept anything without this pattern.
_NET_PATTERN = r"^\s*(\d{1,3}\.){3}\d{1,3}/\d{1,2}\s*$"


def _add_network_patterns(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("format") == "ipv4network":
            node["pattern"] = _NET_PATTERN
        for value in node.values():
            _add_network_patterns(value)
    elif isinstance(node, list):
        for item in node:
            _add_network_patterns(item)


@functools.cache
def _model_schema_text() -> str:
    schema = Inventory.model_json_schema(mode="validation")
    _add_network_patterns(schema)
    return json.dumps(schema)


def _model_schema() -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    """(definitions, top-level properties, required top-level keys) of the whole inventory.

    Generated once per process (pydantic takes a while), handed out as fresh dicts each time.
    """
    schema = json.loads(_model_schema_text())
    return schema.pop("$defs"), schema["properties"], set(schema.get("required", ()))


def _file_body(name: str, properties: dict[str, Any], required: set[str]) -> dict[str, Any]:
    keys = FILES[name]
    return {
        "title": f"cloison inventory: {name}",
        "description": f"Keys of {name} (docs/inventory.md). Structure only: run `cloison validate` for the rest.",
        "type": "object",
        "properties": {key: properties[key] for key in keys},
        "required": [key for key in keys if key in required],
        "additionalProperties": False,
    }


def file_schema(name: str) -> dict[str, Any]:
    """A standalone schema for one inventory file, e.g. ``cameras.yml``."""
    if name not in FILES:
        raise CloisonError(f"{name} is not an inventory file; use one of {', '.join(FILES)}")
    defs, properties, required = _model_schema()
    return {
        "$schema": DRAFT,
        "$id": f"{ID_BASE}{Path(name).stem}.schema.json",
        **_file_body(name, properties, required),
        "$defs": defs,
    }


def combined_schema() -> dict[str, Any]:
    """One schema that accepts any single inventory file; per-file schemas under ``$defs``."""
    defs, properties, required = _model_schema()
    files = {name: _file_body(name, properties, required) for name in FILES}
    return {
        "$schema": DRAFT,
        "$id": f"{ID_BASE}inventory.schema.json",
        "title": "cloison inventory file",
        "description": "Any one file of a cloison deployment folder; each file's own schema is "
        "$defs/<file name>, e.g. #/$defs/cameras.yml.",
        "anyOf": [{"$ref": f"#/$defs/{name}"} for name in FILES],
        "$defs": {**defs, **files},
    }


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(folder: Path) -> list[Path]:
    """``inventory.schema.json`` and one ``<file>.schema.json`` per inventory file."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "inventory.schema.json"]
    written[0].write_text(dumps(combined_schema()), encoding="utf-8")
    for name in FILES:
        path = folder / f"{Path(name).stem}.schema.json"
        path.write_text(dumps(file_schema(name)), encoding="utf-8")
        written.append(path)
    return written


def cmd_schema(args: argparse.Namespace) -> int:
    schema = file_schema(args.file) if args.file else combined_schema()
    out: Path | None = args.output
    if out is None:
        sys.stdout.write(dumps(schema))
        return EXIT_OK
    try:
        if out.suffix == ".json":
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(dumps(schema), encoding="utf-8")
            written = [out]
        elif args.file:
            raise CloisonError(f"-o {out}: with --file, give a .json file name")
        else:
            written = write_all(out)
    except OSError as exc:
        raise CloisonError(f"cannot write {out}: {exc.strerror}") from None
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of the inventory format (for editors and CI)",
        description="Print the JSON Schema (draft 2020-12) of the inventory files, generated from the model. "
        "Without --file: one schema accepting any inventory file. -o DIR writes inventory.schema.json and one "
        "<file>.schema.json per inventory file; -o FILE.json writes just the selected schema. Exit 0, "
        f"or {EXIT_RUNTIME} if the output cannot be written.",
    )
    p.add_argument("--file", choices=list(FILES), help="only this file's schema, e.g. cameras.yml")
    p.add_argument("-o", "--output", type=Path, metavar="PATH", help="write to PATH (a folder or a .json file)")
    p.set_defaults(func=cmd_schema)


__all__ = ["combined_schema", "file_schema", "register", "write_all"]
