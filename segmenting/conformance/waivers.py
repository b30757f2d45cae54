"""Waivers: controls deliberately not met, each with a justification, an owner and an expiry.

Like dev-sec's ``waivers.yaml``, but with an owner and a date: a waiver is a decision someone
signs for a limited time. An expired waiver no longer covers anything, and its presence alone
fails the audit, so that it is renewed or the control fixed rather than forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from segmenting.errors import EXIT_INVALID, CloisonError

ALL_HOSTS = "*"


class WaiverError(CloisonError):
    exit_code = EXIT_INVALID


@dataclass(frozen=True)
class Waiver:
    control: str
    justification: str
    owner: str
    expires: date
    hosts: tuple[str, ...] = (ALL_HOSTS,)

    def expired(self, as_of: date) -> bool:
        return as_of > self.expires

    def covers(self, control: str, host: str | None) -> bool:
        return control == self.control and (ALL_HOSTS in self.hosts or (host is not None and host in self.hosts))

    def to_dict(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "justification": self.justification,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
            "hosts": list(self.hosts),
        }


def parse_waivers(data: Any, where: str, known_ids: frozenset[str]) -> list[Waiver]:
    """Every problem at once, each naming the file, the entry and the fix."""
    if data is None:
        return []
    if not isinstance(data, dict) or data.get("format") != 1 or not isinstance(data.get("waivers", []), list):
        raise WaiverError(f"{where}: expected `format: 1` and a `waivers:` list")
    problems: list[str] = []
    out: list[Waiver] = []
    for index, raw in enumerate(data.get("waivers") or []):
        at = f"{where}: waivers[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{at}: expected a mapping")
            continue
        missing = [k for k in ("control", "justification", "owner", "expires") if not raw.get(k)]
        if missing:
            problems.append(f"{at}: missing {', '.join(missing)} (a waiver says why, who signs it and until when)")
            continue
        control = str(raw["control"])
        if control not in known_ids:
            problems.append(f"{at}: control {control} is not in the catalog; fix the ID")
            continue
        expires = raw["expires"]
        if not isinstance(expires, date):
            try:
                expires = date.fromisoformat(str(expires))
            except ValueError:
                problems.append(f"{at}: expires {expires!r} is not a date; write YYYY-MM-DD")
                continue
        hosts = raw.get("hosts", [ALL_HOSTS])
        if isinstance(hosts, str):
            hosts = [hosts]
        justification = str(raw["justification"]).strip()
        out.append(Waiver(control, justification, str(raw["owner"]), expires, tuple(map(str, hosts))))
    if problems:
        raise WaiverError("\n".join(problems))
    return out


def load_waivers(path: Path | None, known_ids: frozenset[str]) -> list[Waiver]:
    if path is None or not Path(path).exists():
        return []
    return parse_waivers(yaml.safe_load(Path(path).read_text(encoding="utf-8")), str(path), known_ids)
