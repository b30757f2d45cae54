"""From results to control statuses: failures, waivers (active, expired, unused), not run, composites."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import yaml

from segmenting.conformance.audit import Status, audit_to_dict, evaluate
from segmenting.conformance.catalog import Kind, load_catalog
from segmenting.conformance.waivers import Waiver, parse_waivers

DATA = Path(__file__).parent / "data"
CATALOG = load_catalog()
RESULTS = json.loads((DATA / "results.json").read_text())
WAIVERS = parse_waivers(yaml.safe_load((DATA / "waivers.yml").read_text()), "waivers.yml", CATALOG.ids)
AS_OF = date(2026, 11, 28)


def test_statuses_on_the_recorded_results() -> None:
    audit = evaluate(CATALOG, RESULTS, WAIVERS, AS_OF, "ingeagglo")
    assert audit.result("ANSSI-HYG-13").status == Status.PASS
    assert audit.result("ANSSI-BP028-R73").status == Status.WAIVED  # fails everywhere, active waiver
    r33 = audit.result("ANSSI-BP028-R33")  # its waiver expired on 2026-10-01
    assert r33.status == Status.FAIL and set(r33.failed_hosts) == {"csu-radius", "csu-rec-01", "gw-s-castelroux-1"}
    assert audit.result("ANSSI-PG075-R34").status == Status.FAIL  # camera reached camera
    assert audit.result("ANSSI-HYG-07").status == Status.NOT_RUN  # its only check was skipped
    assert audit.result("ANSSI-HYG-37").status == Status.ORGANISATIONAL
    assert [w.control for w in audit.expired_waivers] == ["ANSSI-BP028-R33"]
    assert not audit.passed
    assert {c.control.id for c in audit.failed_controls} == {
        "ANSSI-BP028-R33", "ANSSI-PG075-R34", "ANSSI-HYG-19", "ANSSI-HYG-21", "CNIL-F08",
    }  # fmt: skip


def test_composites_take_the_worst_serving_status() -> None:
    audit = evaluate(CATALOG, RESULTS, WAIVERS, AS_OF)
    assert audit.result("NIS2-21.2.h").status == Status.FAIL  # HYG-21 fails on csu-relay
    assert audit.result("NIS2-21.2.b").status == Status.NOT_RUN  # PG075-R15 not proven, R73 waived
    assert audit.result("NIS2-21.2.j").status == Status.NOT_RUN
    assert audit.result("NIS2-21.2.a").status == Status.ORGANISATIONAL
    assert all(c.control.kind != Kind.COMPOSITE for c in audit.failed_controls)


def test_an_expired_waiver_alone_fails_the_audit() -> None:
    passing = {"checks": [c | {"outcome": "passed"} for c in RESULTS["checks"]]}
    assert evaluate(CATALOG, passing, [], AS_OF).passed
    old = Waiver("ANSSI-HYG-13", "x", "o", date(2026, 1, 1))
    audit = evaluate(CATALOG, passing, [old], AS_OF)
    assert not audit.passed and audit.expired_waivers == (old,)


def test_waiver_scoped_to_hosts() -> None:
    w = Waiver("ANSSI-BP028-R33", "lab", "RSSI", date(2027, 1, 1), ("csu-radius", "csu-rec-01"))
    audit = evaluate(CATALOG, RESULTS, [w], AS_OF)
    assert audit.result("ANSSI-BP028-R33").status == Status.FAIL  # gw-s-castelroux-1 is not covered
    w_all = Waiver("ANSSI-BP028-R33", "lab", "RSSI", date(2027, 1, 1))
    audit = evaluate(CATALOG, RESULTS, [w_all], AS_OF)
    assert audit.result("ANSSI-BP028-R33").status == Status.WAIVED
    unused = Waiver("CSI-L252-5", "x", "o", date(2027, 1, 1))
    assert evaluate(CATALOG, RESULTS, [unused], AS_OF).unused_waivers == (unused,)


def test_json_and_matrix() -> None:
    audit = evaluate(CATALOG, RESULTS, WAIVERS, AS_OF, "ingeagglo")
    data = audit_to_dict(audit)
    assert data["passed"] is False and "ANSSI-PG075-R34" in data["failed_controls"]
    assert len(data["reachability"]) == 6 and sum(not r["ok"] for r in data["reachability"]) == 1
    assert audit.matrix()[("cameras", "cameras")] == {"allow_ok": 0, "allow_bad": 0, "deny_ok": 0, "deny_bad": 1}
    assert "cam-00247->cam-00248" not in audit.hosts and "csu-radius" in audit.hosts
