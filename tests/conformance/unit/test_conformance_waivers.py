"""Waivers: every field required, controls known, dates real; expiry and host scope."""

from __future__ import annotations

from datetime import date

import pytest

from segmenting.conformance.waivers import Waiver, WaiverError, parse_waivers

KNOWN = frozenset({"ANSSI-BP028-R73", "CSI-L252-5"})


def test_parses_a_waiver() -> None:
    (w,) = parse_waivers(
        {"format": 1, "waivers": [{"control": "CSI-L252-5", "justification": " j ", "owner": "RSSI",
                                   "expires": "2027-01-31", "hosts": "csu-rec-01"}]},
        "w.yml", KNOWN,
    )  # fmt: skip
    assert w == Waiver("CSI-L252-5", "j", "RSSI", date(2027, 1, 31), ("csu-rec-01",))
    assert w.covers("CSI-L252-5", "csu-rec-01") and not w.covers("CSI-L252-5", "csu-log")
    assert not w.expired(date(2027, 1, 31)) and w.expired(date(2027, 2, 1))


def test_every_problem_is_reported_at_once() -> None:
    data = {
        "format": 1,
        "waivers": [
            {"control": "ANSSI-BP028-R73", "owner": "RSSI", "expires": date(2027, 1, 1)},
            {"control": "ANSSI-HYG-99", "justification": "x", "owner": "RSSI", "expires": "2027-01-01"},
            {"control": "CSI-L252-5", "justification": "x", "owner": "RSSI", "expires": "31/01/2027"},
        ],
    }
    with pytest.raises(WaiverError) as exc:
        parse_waivers(data, "w.yml", KNOWN)
    text = str(exc.value)
    assert "w.yml: waivers[0]: missing justification" in text
    assert "waivers[1]: control ANSSI-HYG-99 is not in the catalog" in text
    assert "waivers[2]: expires '31/01/2027' is not a date" in text


def test_all_hosts_by_default_and_empty_file() -> None:
    (w,) = parse_waivers(
        {"format": 1, "waivers": [{"control": "ANSSI-BP028-R73", "justification": "x", "owner": "o",
                                   "expires": date(2027, 1, 1)}]}, "w", KNOWN)  # fmt: skip
    assert w.covers("ANSSI-BP028-R73", None) and w.covers("ANSSI-BP028-R73", "any")
    assert parse_waivers(None, "w", KNOWN) == []
    with pytest.raises(WaiverError):
        parse_waivers({"waivers": []}, "w", KNOWN)
