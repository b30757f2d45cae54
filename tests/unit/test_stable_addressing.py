"""Stable addressing: growing the inventory never renumbers what exists (allocations.lock.json).

A recorder, a firewall rule, a DHCP reservation and an IDS binding hold each address, so the
lock file committed beside the inventory records every allocation; new sites, communes and
cameras only add entries, and a removed camera's address stays reserved until ``--prune``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from invmut import AS_OF, REFERENCE, copy_reference, edit, run_cli, valid_plan

from segmenting.allocate import LOCK_FILE
from segmenting.errors import EXIT_INVALID, EXIT_OK

ARGS = ["--as-of", AS_OF.isoformat()]


def _lock(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / LOCK_FILE).read_text())
    return data


def _camera(cam_id: str, site: str, commune: str, serial: int, port: int) -> dict[str, Any]:
    return {
        "id": cam_id,
        "site": site,
        "commune": commune,
        "mac": f"02:00:00:00:{serial >> 8:02x}:{serial & 0xFF:02x}",
        "model": "Axis P1465-LE",
        "auth": "mab",
        "port": port,
        "purposes": ["crime_prevention"],
    }


def _assert_kept(before: dict[str, Any], after: dict[str, Any]) -> None:
    for section in ("sites", "transport", "cameras", "csu_hosts"):
        for key, value in before[section].items():
            assert after[section].get(key) == value, f"{section}.{key} moved: {value} -> {after[section].get(key)}"


def _lock_cli(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run_cli(["lock", str(folder), *ARGS, *extra], capsys)


def test_reference_lock_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _lock_cli(REFERENCE, capsys, "--check")
    assert code == EXIT_OK
    assert "is up to date (310 allocations)" in out


def test_adding_a_commune_a_site_and_cameras_renumbers_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_reference(tmp_path)
    before = _lock(folder)
    plan_before = valid_plan(folder)
    # New entries listed FIRST, where an order-based allocator would shift everything.
    edit(
        folder,
        "communes.yml",
        lambda d: d["communes"].insert(
            0, {"id": "aaa-nouvelle", "name": "Nouvelle", "insee": "99021", "population": 800}
        ),
    )
    new_site = {
        "id": "s-aaa-nouvelle-1",
        "commune": "aaa-nouvelle",
        "name": "Nouvelle — centre",
        "transport": "cellular",
        "tunnel": {"type": "ikev2"},
        "switch": {"platform": "cisco_ios", "model": "Catalyst 9200CX-12P-2X2G"},
    }
    fibre_site = {**new_site, "id": "s-ingeville-4", "commune": "ingeville", "transport": "fiber"}
    del fibre_site["tunnel"]
    edit(folder, "sites.yml", lambda d: d.update(sites=[fibre_site, new_site, *d["sites"]]))

    def cams(d: dict[str, Any]) -> None:
        d["cameras"].insert(0, _camera("cam-a0001", "s-aaa-nouvelle-1", "aaa-nouvelle", 1, 1))
        d["cameras"].insert(0, _camera("cam-a0002", "s-ingeville-1", "ingeville", 2, 40))  # an existing site
        d["cameras"].insert(0, _camera("cam-a0003", "s-ingeville-4", "ingeville", 3, 1))

    edit(folder, "cameras.yml", cams)

    code, _, err = _lock_cli(folder, capsys, "--check")
    assert code == EXIT_INVALID
    assert "is out of date" in err

    code, out, _ = _lock_cli(folder, capsys)
    assert code == EXIT_OK
    assert "(6 new)" in out  # 2 site blocks, 1 fibre /30, 3 cameras
    after = _lock(folder)
    _assert_kept(before, after)
    assert set(after["cameras"]) - set(before["cameras"]) == {"cam-a0001", "cam-a0002", "cam-a0003"}

    plan_after = valid_plan(folder)
    old_hosts = {h.id: h.ip for h in plan_before.hosts}
    for host in plan_after.hosts:
        if host.id in old_hosts:
            assert host.ip == old_hosts[host.id], host.id
    # the new camera of an existing site takes the lowest free address of that site
    assert plan_after.host("cam-a0002").ip == "10.64.0.29"
    # and the new sites get blocks no one held
    taken = set(before["sites"].values())
    assert plan_after.site("s-aaa-nouvelle-1").block not in taken
    assert plan_after.site("s-ingeville-4").block not in taken

    code, _, _ = _lock_cli(folder, capsys, "--check")
    assert code == EXIT_OK


def test_removed_camera_keeps_its_address_until_pruned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_reference(tmp_path)
    retired_ip = _lock(folder)["cameras"]["cam-00005"]
    assert retired_ip == "10.64.0.14"
    edit(folder, "cameras.yml", lambda d: d["cameras"].pop(4))

    # Without the lock step nothing moves, and the retired address is still recorded.
    code, _, _ = _lock_cli(folder, capsys, "--check")
    assert code == EXIT_OK  # removing a camera adds no allocation: the lock is still current
    assert _lock(folder)["cameras"]["cam-00005"] == retired_ip

    # A new camera on that site must not inherit the retired camera's address.
    edit(folder, "cameras.yml", lambda d: d["cameras"].append(_camera("cam-b0001", "s-ingeville-1", "ingeville", 9, 5)))
    assert _lock_cli(folder, capsys)[0] == EXIT_OK
    lock = _lock(folder)
    assert lock["cameras"]["cam-00005"] == retired_ip
    assert lock["cameras"]["cam-b0001"] == "10.64.0.29"

    # --prune frees it: the next new camera takes it.
    code, out, _ = _lock_cli(folder, capsys, "--prune")
    assert code == EXIT_OK
    assert "written: 310 allocations" in out  # 311 less the retired camera
    assert "cam-00005" not in _lock(folder)["cameras"]
    edit(
        folder, "cameras.yml", lambda d: d["cameras"].append(_camera("cam-b0002", "s-ingeville-1", "ingeville", 10, 41))
    )
    assert _lock_cli(folder, capsys)[0] == EXIT_OK
    assert _lock(folder)["cameras"]["cam-b0002"] == retired_ip


def test_camera_moved_to_another_site_gets_an_address_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = copy_reference(tmp_path)
    before = _lock(folder)
    edit(folder, "cameras.yml", lambda d: d["cameras"][4].update(site="s-ingeville-2", port=40))
    assert _lock_cli(folder, capsys)[0] == EXIT_OK
    after = _lock(folder)
    assert after["cameras"]["cam-00005"].startswith("10.64.4.")
    del before["cameras"]["cam-00005"]
    _assert_kept(before, after)


def test_without_a_lock_the_plan_says_allocations_are_unrecorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_reference(tmp_path)
    (folder / LOCK_FILE).unlink()
    code, _, err = run_cli(["validate", str(folder), *ARGS, "--strict-lock"], capsys)
    assert code == EXIT_INVALID
    assert "310 allocation(s) are not recorded" in err
    # locking an inventory from scratch gives back the committed reference lock
    assert _lock_cli(folder, capsys)[0] == EXIT_OK
    assert (folder / LOCK_FILE).read_text() == (REFERENCE / LOCK_FILE).read_text()
