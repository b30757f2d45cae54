"""From check results to the audit: per-control status, waivers applied, frameworks, NIS2, matrix.

Pure: the results JSON written by :mod:`segmenting.conformance.pytest_plugin`, the catalog and
the waivers in; an :class:`Audit` out. :mod:`segmenting.conformance.report` turns it into text.

A control **fails** when one of the checks citing it failed or errored on some host and no
active waiver covers that host; it is **waived** when every failure is covered; **not run** when
no check citing it ran (host not in the audit, check skipped): not proven, shown as such.
A *composite* control (NIS2 Art. 21(2)) takes the worst status of the controls that serve it.
An expired waiver covers nothing and fails the audit by itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from segmenting.conformance.catalog import Catalog, Control, Kind
from segmenting.conformance.waivers import Waiver

AUDIT_FORMAT = 1
# Probe outcomes meaning "the packet got through" (see segmenting.conformance.reachability).
REACHED = frozenset({"open", "refused", "delivered"})


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    WAIVED = "waived"
    NOT_RUN = "not run"
    ORGANISATIONAL = "organisational"


# Worst first: a composite takes the first of these found among the controls serving it. Not
# proven ("not run") ranks before a signed waiver: the waiver is a decision, the gap is not.
_SEVERITY = (Status.FAIL, Status.NOT_RUN, Status.WAIVED, Status.PASS, Status.ORGANISATIONAL)


@dataclass(frozen=True)
class CheckResult:
    nodeid: str
    file: str
    name: str
    controls: tuple[str, ...]
    host: str | None
    outcome: str  # passed / failed / error / skipped
    message: str = ""
    evidence: tuple[str, ...] = ()
    duration_s: float = 0.0
    network: bool = False  # a reachability probe, not a check on one host

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "error")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CheckResult:
        return cls(
            nodeid=str(raw["nodeid"]),
            file=str(raw.get("file", raw["nodeid"].split("::", 1)[0])),
            name=str(raw.get("name", raw["nodeid"])),
            controls=tuple(raw.get("controls", ())),
            host=raw.get("host"),
            outcome=str(raw["outcome"]),
            message=str(raw.get("message", "")),
            evidence=tuple(raw.get("evidence", ())),
            duration_s=float(raw.get("duration_s", 0.0)),
            network=bool(raw.get("probes")),
        )


@dataclass(frozen=True)
class Probe:
    """One row of the reachability matrix."""

    case: str
    src: str
    src_zone: str
    dst: str
    dst_zone: str
    proto: str
    port: int | None
    expected: str  # allow / deny
    observed: str  # open / closed / error text
    flow: str | None
    controls: tuple[str, ...]

    @property
    def ok(self) -> bool:
        if self.observed.startswith("error"):
            return False
        return (self.expected == "allow") == (self.observed in REACHED)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Probe:
        port = raw.get("port")
        return cls(
            case=str(raw.get("case", "")),
            src=str(raw["src"]),
            src_zone=str(raw["src_zone"]),
            dst=str(raw["dst"]),
            dst_zone=str(raw["dst_zone"]),
            proto=str(raw["proto"]),
            port=int(port) if port is not None else None,
            expected=str(raw["expected"]),
            observed=str(raw["observed"]),
            flow=raw.get("flow"),
            controls=tuple(raw.get("controls", ())),
        )


@dataclass(frozen=True)
class ControlResult:
    control: Control
    status: Status
    checks: tuple[CheckResult, ...] = ()
    failed_hosts: tuple[str, ...] = ()
    passed_hosts: tuple[str, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    served: tuple[tuple[str, Status], ...] = ()  # composite: (control id, status)


@dataclass(frozen=True)
class Audit:
    deployment: str
    as_of: date
    started: str
    duration_s: float
    hosts: tuple[str, ...]
    controls: tuple[ControlResult, ...]
    checks: tuple[CheckResult, ...]
    probes: tuple[Probe, ...]
    waivers: tuple[Waiver, ...]
    expired_waivers: tuple[Waiver, ...]
    unused_waivers: tuple[Waiver, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def failed_controls(self) -> list[ControlResult]:
        return [c for c in self.controls if c.status == Status.FAIL and c.control.kind != Kind.COMPOSITE]

    @property
    def passed(self) -> bool:
        return not self.failed_controls and not self.expired_waivers

    def by_framework(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for c in self.controls:
            out.setdefault(c.control.framework, Counter())[c.status.value] += 1
        return dict(sorted(out.items()))

    def result(self, control_id: str) -> ControlResult:
        for c in self.controls:
            if c.control.id == control_id:
                return c
        raise KeyError(control_id)

    def matrix(self) -> dict[tuple[str, str], dict[str, int]]:
        """(src zone, dst zone) → counts of allowed-ok, allowed-broken, denied-ok, denied-leaking."""
        cells: dict[tuple[str, str], dict[str, int]] = {}
        for p in self.probes:
            empty = {"allow_ok": 0, "allow_bad": 0, "deny_ok": 0, "deny_bad": 0}
            cell = cells.setdefault((p.src_zone, p.dst_zone), empty)
            key = f"{p.expected}_{'ok' if p.ok else 'bad'}"
            cell[key] += 1
        return dict(sorted(cells.items()))


def _status_of(
    control: Control, checks: list[CheckResult], waivers: list[Waiver], as_of: date
) -> tuple[Status, list[str], list[str], list[Waiver]]:
    ran = [c for c in checks if c.outcome != "skipped"]
    if not ran:
        return Status.NOT_RUN, [], [], []
    failed_hosts: list[str] = []
    passed_hosts: list[str] = []
    used: list[Waiver] = []
    uncovered = False
    for check in ran:
        host = check.host or "-"
        if check.failed:
            if host not in failed_hosts:
                failed_hosts.append(host)
            cover = [w for w in waivers if not w.expired(as_of) and w.covers(control.id, check.host)]
            if cover:
                used.extend(w for w in cover if w not in used)
            else:
                uncovered = True
        elif host not in passed_hosts:
            passed_hosts.append(host)
    passed_hosts = [h for h in passed_hosts if h not in failed_hosts]
    if uncovered:
        return Status.FAIL, failed_hosts, passed_hosts, used
    if failed_hosts:
        return Status.WAIVED, failed_hosts, passed_hosts, used
    return Status.PASS, failed_hosts, passed_hosts, used


def evaluate(
    catalog: Catalog,
    results: dict[str, Any],
    waivers: list[Waiver],
    as_of: date,
    deployment: str = "",
) -> Audit:
    checks = tuple(CheckResult.from_dict(r) for r in results.get("checks", []))
    probes = tuple(Probe.from_dict(p) for r in results.get("checks", []) for p in r.get("probes", []))
    by_control: dict[str, list[CheckResult]] = {}
    for check in checks:
        for cid in check.controls:
            by_control.setdefault(cid, []).append(check)

    plain: dict[str, ControlResult] = {}
    used_waivers: list[Waiver] = []
    for control in catalog.controls:
        if control.kind == Kind.COMPOSITE:
            continue
        mine = by_control.get(control.id, [])
        if control.kind == Kind.ORGANISATIONAL and not mine:
            plain[control.id] = ControlResult(control, Status.ORGANISATIONAL)
            continue
        status, failed, passed, used = _status_of(control, mine, waivers, as_of)
        used_waivers.extend(w for w in used if w not in used_waivers)
        plain[control.id] = ControlResult(control, status, tuple(mine), tuple(failed), tuple(passed), tuple(used))

    results_out: list[ControlResult] = []
    for control in catalog.controls:
        if control.kind != Kind.COMPOSITE:
            results_out.append(plain[control.id])
            continue
        served = tuple((cid, plain[cid].status) for cid in control.served_by if cid in plain)
        technical = [s for _, s in served if s != Status.ORGANISATIONAL]
        status = next((s for s in _SEVERITY if s in technical), Status.ORGANISATIONAL)
        direct = by_control.get(control.id, [])
        if direct:  # a check may also cite a NIS2 item directly (a plan flow's reachability probe)
            own, failed, passed, used = _status_of(control, direct, waivers, as_of)
            used_waivers.extend(w for w in used if w not in used_waivers)
            status = next(s for s in _SEVERITY if s in (status, own))
        results_out.append(ControlResult(control, status, tuple(direct), served=served))

    expired = tuple(w for w in waivers if w.expired(as_of))
    unused = tuple(w for w in waivers if w not in used_waivers and w not in expired)
    hosts = tuple(sorted({c.host for c in checks if c.host and not c.network}))
    return Audit(
        deployment=deployment or str(results.get("deployment", "")),
        as_of=as_of,
        started=str(results.get("started", "")),
        duration_s=float(results.get("duration_s", 0.0)),
        hosts=hosts,
        controls=tuple(results_out),
        checks=checks,
        probes=probes,
        waivers=tuple(waivers),
        expired_waivers=expired,
        unused_waivers=unused,
        notes=tuple(results.get("notes", ())),
    )


def audit_to_dict(audit: Audit) -> dict[str, Any]:
    """The JSON the CLI writes: stable keys, for CI and for another tool to read."""
    return {
        "format": AUDIT_FORMAT,
        "deployment": audit.deployment,
        "as_of": audit.as_of.isoformat(),
        "started": audit.started,
        "duration_s": audit.duration_s,
        "passed": audit.passed,
        "hosts": list(audit.hosts),
        "summary": {k: dict(sorted(v.items())) for k, v in audit.by_framework().items()},
        "failed_controls": [c.control.id for c in audit.failed_controls],
        "controls": [
            {
                "id": c.control.id,
                "title": c.control.title,
                "framework": c.control.framework,
                "kind": c.control.kind.value,
                "status": c.status.value,
                "source": {"item": c.control.item, "url": c.control.source.url, "file": c.control.source.file},
                "failed_hosts": list(c.failed_hosts),
                "passed_hosts": list(c.passed_hosts),
                "checks": [ch.nodeid for ch in c.checks],
                "waivers": [w.to_dict() for w in c.waivers],
                "served_by": [{"id": i, "status": s.value} for i, s in c.served],
                "left_to_entity": c.control.left_to_entity,
            }
            for c in audit.controls
        ],
        "checks": [
            {
                "nodeid": ch.nodeid,
                "host": ch.host,
                "controls": list(ch.controls),
                "outcome": ch.outcome,
                "message": ch.message,
                "evidence": list(ch.evidence),
            }
            for ch in audit.checks
        ],
        "reachability": [
            {
                "case": p.case,
                "src": p.src,
                "src_zone": p.src_zone,
                "dst": p.dst,
                "dst_zone": p.dst_zone,
                "proto": p.proto,
                "port": p.port,
                "expected": p.expected,
                "observed": p.observed,
                "ok": p.ok,
                "flow": p.flow,
                "controls": list(p.controls),
            }
            for p in audit.probes
        ],
        "waivers": [w.to_dict() | {"expired": w in audit.expired_waivers} for w in audit.waivers],
        "notes": list(audit.notes),
    }
