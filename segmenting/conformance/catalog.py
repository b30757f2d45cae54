"""The control catalog: ``controls.yml`` loaded into typed, validated records.

Sources are the files under ``../shared/references/`` (checklists.md, anssi_bp28.txt); every
control names its source document, the item in it and the public URL the reference gives.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from segmenting.errors import CloisonError

CATALOG_FILE = "controls.yml"
ID_PATTERN = re.compile(
    r"^(ANSSI-(BP028|PA022|PG075|NT007)-R\d+|ANSSI-HYG-\d{2}|CNIL-F\d{2}|CSI-[LR]\d{3}-\d+"
    r"|ARR-2007-A\d|DEC-2023-1102-LOG|NIS2-21\.2\.[a-j])$"
)


_KEYS = frozenset(
    {"id", "title", "source", "item", "kind", "applies_to", "enforced_by", "served_by", "left_to_entity", "status"}
)


class Kind(StrEnum):
    HOST = "host"
    NETWORK = "network"
    ORGANISATIONAL = "organisational"
    COMPOSITE = "composite"


class CatalogError(CloisonError):
    """The catalog file itself is wrong (a developer error, reported with the control at fault)."""


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str
    file: str


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    source: Source
    item: str
    kind: Kind
    applies_to: tuple[str, ...]
    enforced_by: tuple[str, ...]
    served_by: tuple[str, ...] = ()
    left_to_entity: str = ""
    status: str = "as listed in the reference"

    @property
    def framework(self) -> str:
        """The family shown in the report's summary: ANSSI-BP028, ANSSI-HYG, CNIL, CSI, NIS2, …"""
        return self.source.key

    @property
    def checkable(self) -> bool:
        return self.kind in (Kind.HOST, Kind.NETWORK)


@dataclass(frozen=True)
class Catalog:
    controls: tuple[Control, ...]
    sources: tuple[Source, ...]

    def __contains__(self, control_id: object) -> bool:
        return any(c.id == control_id for c in self.controls)

    def get(self, control_id: str) -> Control:
        for c in self.controls:
            if c.id == control_id:
                return c
        raise KeyError(control_id)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(c.id for c in self.controls)

    def of_kind(self, *kinds: Kind) -> list[Control]:
        return [c for c in self.controls if c.kind in kinds]


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("expected a list of strings")
    return tuple(value)


def parse_catalog(data: Any, where: str = CATALOG_FILE) -> Catalog:
    """Build a catalog from the YAML document; every problem names the control and the key."""
    if not isinstance(data, dict) or data.get("format") != 1:
        raise CatalogError(f"{where}: expected a mapping with `format: 1`")
    sources: dict[str, Source] = {}
    for key, raw in (data.get("sources") or {}).items():
        sources[key] = Source(key, str(raw["title"]), str(raw["url"]), str(raw["file"]))
    problems: list[str] = []
    controls: list[Control] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("controls") or []):
        cid = str(raw.get("id", f"controls[{index}]"))
        try:
            if not ID_PATTERN.match(cid):
                raise ValueError(f"id {cid!r} does not follow the catalog's key format")
            extra = set(raw) - _KEYS
            if extra:
                raise ValueError(f"unknown key(s) {sorted(map(str, extra))} (an unquoted comma in a flow mapping?)")
            if cid in seen:
                raise ValueError("duplicate id")
            seen.add(cid)
            if raw.get("source") not in sources:
                raise ValueError(f"source {raw.get('source')!r} is not one of {sorted(sources)}")
            kind = Kind(raw["kind"])
            control = Control(
                id=cid,
                title=str(raw["title"]),
                source=sources[raw["source"]],
                item=str(raw.get("item", "")),
                kind=kind,
                applies_to=_tuple(raw.get("applies_to")),
                enforced_by=_tuple(raw.get("enforced_by")),
                served_by=_tuple(raw.get("served_by")),
                left_to_entity=str(raw.get("left_to_entity", "")),
                status=str(raw.get("status", "as listed in the reference")),
            )
            if kind == Kind.ORGANISATIONAL and not control.left_to_entity:
                raise ValueError("an organisational measure must say what is left to the entity (left_to_entity)")
            if kind == Kind.COMPOSITE and not control.served_by:
                raise ValueError("a composite control must list the controls that serve it (served_by)")
            if control.checkable and not control.applies_to:
                raise ValueError("a host/network control must say what it applies to (applies_to)")
            controls.append(control)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{where}: {cid}: {exc}")
    ids = {c.id for c in controls}
    for c in controls:
        for ref in c.served_by:
            if ref not in ids:
                problems.append(f"{where}: {c.id}: served_by names unknown control {ref}")
    if problems:
        raise CatalogError("\n".join(problems))
    return Catalog(tuple(controls), tuple(sources.values()))


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 20x faster


@functools.cache
def load_catalog(path: Path | None = None) -> Catalog:
    """The packaged catalog, or another file (tests, a deployment's own extension). Read once."""
    if path is None:
        text = resources.files("segmenting.conformance").joinpath(CATALOG_FILE).read_text(encoding="utf-8")
        return parse_catalog(yaml.load(text, Loader=_Loader))  # noqa: S506 - a safe loader
    return parse_catalog(yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader), str(path))  # noqa: S506
