"""Refused: retention above 30 days (CSI L252-5, L252-3), untrusted transports without a tunnel, AI misuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from invmut import copy_reference, edit, expect, line_with, only, problems, valid_plan


@pytest.mark.control("CSI-L252-5")
def test_retention_above_30_days(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d.update(retention_days=31))
    p = only(
        problems(folder),
        "deployment.yml",
        "retention_days",
        "GR-RETENTION: recordings kept 31 days, more than the 30 CSI L252-5 allows",
        line_with(folder, "deployment.yml", "retention_days: 31"),
    )
    assert "30" in p.fix


@pytest.mark.control("CSI-L252-5")
def test_retention_of_30_days_is_allowed(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d.update(retention_days=30))
    assert valid_plan(folder).retention_days == 30


@pytest.mark.control("CSI-L252-3")
def test_state_retention_above_one_month(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "state.yml", lambda d: d["state_convention"].update(state_retention_days=90))
    only(problems(folder), "state.yml", "state_convention.state_retention_days", "CSI L252-3 allows one month")


@pytest.mark.control("ANSSI-HYG-18")
@pytest.mark.parametrize("index", [18, 21], ids=["vdsl", "cellular"])
def test_untrusted_site_without_tunnel(tmp_path: Path, index: int) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][index].pop("tunnel"))
    p = only(problems(folder), "sites.yml", f"sites[{index}].tunnel", "GR-TUNNEL")
    assert "an untrusted transport, without a tunnel" in p.message
    assert "ikev2" in p.fix
    assert p.line == line_with(folder, "sites.yml", "- id: " + ["s-vaudrimont-1", "s-lussac-les-pres-1"][index // 20])


def test_fibre_site_needs_no_tunnel(tmp_path: Path) -> None:
    plan = valid_plan(copy_reference(tmp_path))
    assert not plan.site("s-ingeville-1").tunnelled
    assert plan.site("s-vaudrimont-1").tunnelled


def test_biometric_identification_can_never_be_enabled(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d["augmented_analysis"].update(biometric_identification=True))
    only(problems(folder), "deployment.yml", "augmented_analysis.biometric_identification", "False")


def test_augmented_analysis_limited_to_listed_events(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d["augmented_analysis"].update(enabled=True, events=["face_match"]))
    found = problems(folder)
    expect(found, "deployment.yml", "augmented_analysis.events[0]", "abandoned_object")


def test_two_legal_problems_at_once(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d.update(retention_days=45))
    edit(folder, "sites.yml", lambda d: d["sites"][23].pop("tunnel"))
    found = problems(folder)
    assert len(found) == 2, "\n".join(p.render() for p in found)
    expect(found, "deployment.yml", "retention_days", "GR-RETENTION")
    expect(found, "sites.yml", "sites[23].tunnel", "GR-TUNNEL")
