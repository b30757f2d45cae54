"""Refused: duplicate camera ids, MACs and IPs (pinned or in the lock file); malformed MACs and addresses."""

from __future__ import annotations

import json
from pathlib import Path

from invmut import copy_reference, edit, expect, line_with, only, problems

from segmenting.allocate import LOCK_FILE


def test_duplicate_camera_id(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][5].update(id="cam-00001"))
    found = problems(folder)
    # cameras[5] also keeps its own MAC and port, so the id is the only thing wrong.
    only(
        found,
        "cameras.yml",
        "cameras[5].id",
        "duplicate camera id cam-00001",
        line_with(folder, "cameras.yml", "- id: cam-00001", nth=1),
    )


def test_duplicate_camera_mac_names_the_first_owner(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][7].update(mac="B8-A4-4F-00-00-01"))
    found = problems(folder)
    p = only(found, "cameras.yml", "cameras[7].mac", "duplicate MAC b8:a4:4f:00:00:01")
    assert "cameras.yml:cameras[0].mac" in p.message  # where the other one is
    assert p.line == line_with(folder, "cameras.yml", "mac: B8-A4-4F-00-00-01")


def test_duplicate_mac_between_a_camera_and_a_switch(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "sites.yml", lambda d: d["sites"][3]["switch"].update(mac="b8:a4:4f:00:00:01"))
    only(problems(folder), "sites.yml", "sites[3].switch.mac", "duplicate MAC b8:a4:4f:00:00:01")


def test_duplicate_pinned_ip(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)

    def pin(d: dict[str, list[dict[str, object]]]) -> None:
        d["cameras"][2]["ip"] = "10.64.0.200"
        d["cameras"][4]["ip"] = "10.64.0.200"

    edit(folder, "cameras.yml", pin)
    p = only(problems(folder), "cameras.yml", "cameras[4].ip", "duplicate IP 10.64.0.200 (also cam-00003)")
    assert p.line == line_with(folder, "cameras.yml", "ip: 10.64.0.200", nth=1)


def test_pinned_ip_outside_the_site_range(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][2].update(ip="10.64.4.50"))  # s-ingeville-2's range
    only(problems(folder), "cameras.yml", "cameras[2].ip", "outside s-ingeville-1's camera range")


def test_duplicate_ip_in_the_lock_file(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    lock = json.loads((folder / LOCK_FILE).read_text())
    lock["cameras"]["cam-00002"] = lock["cameras"]["cam-00001"]
    (folder / LOCK_FILE).write_text(json.dumps(lock, indent=1) + "\n")
    p = only(problems(folder), LOCK_FILE, "cameras.cam-00002", "IP 10.64.0.10 is also assigned to cam-00001")
    assert p.line == line_with(folder, LOCK_FILE, '"cam-00002"')


def test_lock_file_site_block_outside_the_pool(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    lock = json.loads((folder / LOCK_FILE).read_text())
    lock["sites"]["s-ingeville-1"] = "172.16.0.0/22"
    (folder / LOCK_FILE).write_text(json.dumps(lock, indent=1) + "\n")
    found = problems(folder)
    expect(found, LOCK_FILE, "sites.s-ingeville-1", "172.16.0.0/22 is not a /22 of sites_pool")


def test_lock_file_that_is_not_json(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    (folder / LOCK_FILE).write_text('{\n "version": 1,\n "sites": {\n')
    p = only(problems(folder), LOCK_FILE, "", "is not valid JSON")
    assert p.line is not None


def test_malformed_mac(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][3].update(mac="ac:cc:8e:00:00:zz"))
    only(
        problems(folder),
        "cameras.yml",
        "cameras[3].mac",
        "'ac:cc:8e:00:00:zz' is not a MAC address",
        line_with(folder, "cameras.yml", "mac: ac:cc:8e:00:00:zz"),
    )


def test_malformed_addresses(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "cameras.yml", lambda d: d["cameras"][3].update(ip="10.64.0.300"))
    edit(folder, "state.yml", lambda d: d["state_convention"]["endpoints"][1].update(address="192.0.2.16/33"))
    edit(folder, "deployment.yml", lambda d: d["csu"]["external"].update(vpn_endpoint="vpn.example.org"))
    found = problems(folder)
    assert len(found) == 3, "\n".join(p.render() for p in found)  # all at once, across files
    expect(found, "cameras.yml", "cameras[3].ip", "IPv4", line_with(folder, "cameras.yml", "ip: 10.64.0.300"))
    expect(found, "state.yml", "state_convention.endpoints[1].address", "IPv4", line_with(folder, "state.yml", "/33"))
    p = expect(found, "deployment.yml", "csu.external.vpn_endpoint", "IPv4")
    assert "vpn.example.org" in p.message  # the offending value is quoted back


def test_two_duplicates_are_reported_together(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)

    def twice(d: dict[str, list[dict[str, object]]]) -> None:
        d["cameras"][5]["id"] = "cam-00001"
        d["cameras"][40]["mac"] = d["cameras"][41]["mac"]

    edit(folder, "cameras.yml", twice)
    found = problems(folder)
    assert len(found) == 2, "\n".join(p.render() for p in found)
    expect(found, "cameras.yml", "cameras[5].id", "duplicate camera id")
    expect(found, "cameras.yml", "cameras[41].mac", "duplicate MAC")


def test_network_with_host_bits_names_the_network(tmp_path: Path) -> None:
    folder = copy_reference(tmp_path)
    edit(folder, "deployment.yml", lambda d: d["addressing"].update(sites_pool="10.64.0.1/12"))
    p = only(problems(folder), "deployment.yml", "addressing.sites_pool", "not a valid IPv4 network")
    assert p.fix == "host bits are set: write the network address, 10.64.0.0/12"
