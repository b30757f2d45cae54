"""Refused: unknown communes and sites, cameras without an auth identity, agents and the State convention
pointing outside the deployment, expired habilitations (CSI L252-2, L252-3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from invmut import AS_OF, copy_reference, edit, expect, line_with, only, problems, valid_plan


def test_camera_in_an_unknown_commune(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][10].update(commune="atlantis"))
    only(
        problems(folder),
        "cameras.yml",
        "cameras[10].commune",
        "unknown commune 'atlantis'",
        line_with(folder, "cameras.yml", "commune: atlantis"),
    )


def test_camera_in_an_unknown_site(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][10].update(site="s-atlantis-1"))
    p = only(problems(folder), "cameras.yml", "cameras[10].site", "unknown site 's-atlantis-1'")
    assert "sites.yml" in p.fix


def test_camera_whose_site_is_in_another_commune(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][10].update(commune="valmorin"))
    only(problems(folder), "cameras.yml", "cameras[10].commune", "its site 's-ingeville-1' is in 'ingeville'")


def test_site_in_an_unknown_commune(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][12].update(commune="atlantis"))
    found = problems(folder)
    expect(found, "sites.yml", "sites[12].commune", "unknown commune 'atlantis'")
    # its cameras now sit in a site of another commune: said too, all at once
    assert all(p.file in ("sites.yml", "cameras.yml") for p in found)


def test_camera_on_the_mirror_port(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][60].update(port=23))  # 24-port switch: 23 mirrors
    p = only(problems(folder), "cameras.yml", "cameras[60].port", "is the IDS mirror port")
    assert p.line is not None


def test_eap_tls_camera_without_identity(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][10].pop("identity"))
    p = only(problems(folder), "cameras.yml", "cameras[10].identity", "an eap-tls camera has no auth identity")
    assert "auth: mab" in p.fix
    # the key is absent: the line is the camera's, the nearest node that exists
    assert p.line == line_with(folder, "cameras.yml", "- id: cam-00011")


def test_mab_camera_needs_no_identity(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][18].pop("identity", None))
    assert valid_plan(folder).cameras[18].auth == "mab"


def test_duplicate_certificate_identity(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][11].update(identity="cam-00011.ingeagglo.cameras"))
    only(problems(folder), "cameras.yml", "cameras[11].identity", "duplicate certificate identity")


def test_agent_habilitated_outside_the_deployment(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "agents.yml", lambda d: d["agents"][2]["communes"].append("atlantis"))
    only(
        problems(folder),
        "agents.yml",
        "agents[2].communes[1]",
        "agent agt-003 is habilitated for 'atlantis', which is not in this deployment",
        line_with(folder, "agents.yml", "- atlantis"),
    )


def test_expired_habilitation(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "agents.yml", lambda d: d["agents"][4]["habilitation"].update(expires="2026-11-27"))
    p = only(
        problems(folder),
        "agents.yml",
        "agents[4].habilitation.expires",
        "habilitation of agt-005 expired on 2026-11-27 (CSI L252-2)",
        line_with(folder, "agents.yml", "expires: '2026-11-27'"),
    )
    assert "renew" in p.fix


def test_habilitation_expiring_today_is_still_valid(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "agents.yml", lambda d: d["agents"][4]["habilitation"].update(expires=AS_OF.isoformat()))
    valid_plan(folder, AS_OF)
    assert problems(folder, date(2026, 11, 29))  # one day later it is not


def test_state_convention_shares_an_unknown_commune(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "state.yml", lambda d: d["state_convention"]["shared_communes"].append("atlantis"))
    only(
        problems(folder),
        "state.yml",
        "state_convention.shared_communes[5]",
        "the State convention shares commune 'atlantis', which does not exist",
        line_with(folder, "state.yml", "- atlantis"),
    )


def test_operator_workstation_of_an_unknown_agent(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)

    def change(d: dict[str, Any]) -> None:
        for host in d["csu"]["hosts"]:
            if host["id"] == "op-01":
                host["agent"] = "agt-999"

    edit(folder, "deployment.yml", change)
    found = problems(folder)
    assert len(found) == 1
    assert found[0].path.endswith(".agent") and "unknown agent 'agt-999'" in found[0].message


def test_maintainer_of_an_unknown_site(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "maintainers.yml", lambda d: d["maintainers"][1]["sites"].append("s-atlantis-1"))
    found = problems(folder)
    assert len(found) == 1
    assert found[0].file == "maintainers.yml" and "unknown site 's-atlantis-1'" in found[0].message


def test_reference_problems_in_several_files_at_once(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][10].update(commune="atlantis"))
    edit(folder, "agents.yml", lambda d: d["agents"][4]["habilitation"].update(expires="2020-01-01"))
    found = problems(folder)
    assert len(found) == 2, "\n".join(p.render() for p in found)
    expect(found, "cameras.yml", "cameras[10].commune", "unknown commune")
    expect(found, "agents.yml", "agents[4].habilitation.expires", "expired")
