"""The lab's state file: everything ``lab up`` created, so ``lab down`` removes exactly that.

Written after every step (not only at the end), so a failed or interrupted ``lab up`` can still
be torn down completely.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from segmenting.lab.run import Proc


@dataclass
class LabState:
    deployment: str = ""
    folder: str = ""
    sites: list[str] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    root_links: list[str] = field(default_factory=list)
    created_dirs: list[str] = field(default_factory=list)  # outside the lab dir (e.g. /run/sshd)
    phase: str = "empty"  # empty, building, up
    plugged: dict[str, str] = field(default_factory=dict)  # actor -> "SITE:PORT" or "internet"

    def add_proc(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def procs_of(self, prefix: str) -> list[Proc]:
        return [p for p in self.procs if p.what.startswith(prefix)]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabState:
        procs = [Proc(**p) for p in data.pop("procs", [])]
        return cls(procs=procs, **data)


def load(path: Path) -> LabState:
    if not path.exists():
        return LabState()
    return LabState.from_dict(json.loads(path.read_text()))


def save(path: Path, state: LabState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    tmp.replace(path)
