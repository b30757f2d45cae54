"""Refused: VLAN ids out of range or reused in a site; overlapping subnets (pools, pinned blocks, endpoints)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from invmut import copy_reference, edit, expect, line_with, only, problems


def test_site_vlan_out_of_range(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][2].update(vlans={"cameras": 5000}))
    p = only(
        problems(folder),
        "sites.yml",
        "sites[2].vlans.cameras",
        "less than or equal to 4094",
        line_with(folder, "sites.yml", "cameras: 5000"),
    )
    assert "5000" in p.message


def test_default_vlan_zero_is_out_of_range(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d["addressing"]["vlans"].update(site_mgmt=0))
    only(problems(folder), "deployment.yml", "addressing.vlans.site_mgmt", "greater than or equal to 1")


def test_vlan_reused_in_a_site(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][4].update(vlans={"quarantine": 110}))
    only(
        problems(folder),
        "sites.yml",
        "sites[4].vlans.quarantine",
        "VLAN 110 is used twice in site s-saint-aubin-sur-ingre-2 (cameras and quarantine)",
        line_with(folder, "sites.yml", "quarantine: 110"),
    )


def test_vlan_reused_by_the_defaults(tmp_path: Path) -> None:
    """The same VLAN for two zones in the defaults is wrong in every site; say so once, at the default."""
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d["addressing"]["vlans"].update(unused=10))
    only(problems(folder), "deployment.yml", "addressing.vlans.unused", "VLAN 10 is used twice")


def test_two_vlan_problems_at_once(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)

    def change(d: dict[str, Any]) -> None:
        d["sites"][1]["vlans"] = {"site_mgmt": 999}
        d["sites"][9]["vlans"] = {"unused": 110}

    edit(folder, "sites.yml", change)
    found = problems(folder)
    assert len(found) == 2, "\n".join(p.render() for p in found)
    expect(found, "sites.yml", "sites[1].vlans.site_mgmt", "VLAN 999 is used twice")
    expect(found, "sites.yml", "sites[9].vlans.unused", "VLAN 110 is used twice")


def test_overlapping_pools(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d["addressing"].update(transport_pool="10.65.0.0/16"))
    only(
        problems(folder),
        "deployment.yml",
        "addressing.transport_pool",
        "transport_pool 10.65.0.0/16 overlaps sites_pool 10.64.0.0/12",
        line_with(folder, "deployment.yml", "transport_pool: 10.65.0.0/16"),
    )


def test_overlapping_pinned_site_blocks(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)

    def pin(d: dict[str, Any]) -> None:
        d["sites"][0]["block"] = "10.64.0.0/22"
        d["sites"][5]["block"] = "10.64.0.0/22"

    edit(folder, "sites.yml", pin)
    only(
        problems(folder),
        "sites.yml",
        "sites[5].block",
        "block 10.64.0.0/22 overlaps s-ingeville-1's block 10.64.0.0/22",
        line_with(folder, "sites.yml", "block: 10.64.0.0/22", nth=1),
    )


def test_pinned_block_that_is_not_a_site_block(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][5].update(block="10.64.0.0/24"))
    only(problems(folder), "sites.yml", "sites[5].block", "is not a /22 inside sites_pool")


def test_pinned_block_taken_by_another_site_in_the_lock(tmp_path: Path) -> None:
    """s-ingeville-2 holds 10.64.4.0/22 in the lock file: pinning it elsewhere would renumber it."""
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][5].update(block="10.64.4.0/22"))
    found = problems(folder)
    expect(found, "allocations.lock.json", "sites.s-ingeville-2", "10.64.4.0/22 is also s-valmorin-1's block")


def test_overlapping_external_endpoints(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "state.yml", lambda d: d["state_convention"]["endpoints"][1].update(address="192.0.2.0/27"))
    only(
        problems(folder),
        "state.yml",
        "state_convention.endpoints[1].address",
        "192.0.2.0/27 overlaps 192.0.2.0/28 (state.yml:state_convention.endpoints[0].address)",
    )


def test_external_endpoint_inside_an_internal_pool(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d["csu"]["external"].update(relay_endpoint="10.0.6.20"))
    only(problems(folder), "deployment.yml", "csu.external.relay_endpoint", "overlaps the internal pool 10.0.0.0/20")


def test_wan_address_shared_by_two_sites(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][19].update(wan_address="203.0.113.11"))
    only(problems(folder), "sites.yml", "sites[19].wan_address", "203.0.113.11/32 overlaps 203.0.113.11/32")


def test_public_pool_is_refused(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(
        folder, "deployment.yml", lambda d: d["addressing"].update(csu_pool="198.18.0.0/20")
    )  # benchmarking range, not RFC 1918
    found = problems(folder)
    expect(found, "deployment.yml", "addressing.csu_pool", "is not a private range")


def test_full_pools_are_one_problem_each(tmp_path: Path) -> None:
    """A pool too small for the sites is said once, with the count — not once per site (nor a traceback for /31)."""
    folder = copy_reference(tmp_path)
    (folder / "allocations.lock.json").unlink()  # no recorded links: all 18 fibre sites need one
    edit(folder, "deployment.yml", lambda d: d["addressing"].update(transport_pool="10.255.0.0/31"))
    p = only(
        problems(folder),
        "deployment.yml",
        "addressing.transport_pool",
        "transport_pool 10.255.0.0/31 has no free /30 left for 18 fibre site(s): s-ingeville-1,",
        line_with(folder, "deployment.yml", "transport_pool:"),
    )
    assert "enlarge" in p.fix

    folder = copy_reference(tmp_path, "small")
    (folder / "allocations.lock.json").unlink()
    edit(folder, "deployment.yml", lambda d: d["addressing"].update(sites_pool="10.64.0.0/21"))
    only(problems(folder), "deployment.yml", "addressing.sites_pool", "has no free /22 left for 24 site(s)")
