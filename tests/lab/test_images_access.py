"""An attached image's entries in the lab's access files (pure file handling, no lab needed).

``cloison lab attach-image`` adds the image to ssh_config, known_hosts and the inventory the way
``lab up`` writes a node; detaching must give back the files exactly as ``lab up`` wrote them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from segmenting.api import load_plan
from segmenting.lab import access, images
from segmenting.lab.names import LabPaths
from segmenting.lab.topology import Topology, build_topology

DEPLOYMENT = Path(__file__).resolve().parents[2] / "inventory" / "ingeagglo"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIImageHostKeyForTheTestOnly000000000000000"


@pytest.fixture(scope="module")
def topo() -> Topology:
    return build_topology(load_plan(DEPLOYMENT))


def _lab_files(tmp_path: Path, topo: Topology) -> LabPaths:
    paths = LabPaths(tmp_path)
    access.write(paths, topo, {h: f"ssh-ed25519 AAAA{h}" for h, _, _ in access.targets(topo)})
    return paths


def _files(paths: LabPaths) -> list[str]:
    return [p.read_text() for p in (paths.ssh_config, paths.known_hosts, paths.inventory)]


def test_register_then_unregister_gives_back_the_files_lab_up_wrote(tmp_path: Path, topo: Topology) -> None:
    paths = _lab_files(tmp_path, topo)
    before = _files(paths)
    access.register(paths, "img-gw-s-puy-sorel-1", "172.30.255.249", KEY)
    access.unregister(paths, "img-gw-s-puy-sorel-1")
    assert _files(paths) == before


def test_registered_image_is_reached_like_a_node(tmp_path: Path, topo: Topology) -> None:
    paths = _lab_files(tmp_path, topo)
    access.register(paths, "img-gw-s-puy-sorel-1", "172.30.255.249", KEY)
    # ssh's own reading of the file: the image's block, then the lab-wide options (key, pinning).
    out = subprocess.run(["ssh", "-G", "-F", str(paths.ssh_config), "img-gw-s-puy-sorel-1"],
                         capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
    for line in ("hostname 172.30.255.249", f"user {access.ADMIN_USER}", "hostkeyalias img-gw-s-puy-sorel-1",
                 "stricthostkeychecking true", f"identityfile {paths.ssh_key}"):  # fmt: skip
        assert line in out
    assert f"img-gw-s-puy-sorel-1,172.30.255.249 {KEY}\n" in paths.known_hosts.read_text()
    doc = yaml.safe_load(paths.inventory.read_text())["all"]
    assert doc["hosts"]["img-gw-s-puy-sorel-1"]["ansible_host"] == "172.30.255.249"
    # Only in the images' group: no play of the site playbook targets it, a converge leaves it alone.
    assert [g for g, m in doc["children"].items() if "img-gw-s-puy-sorel-1" in m["hosts"]] == [access.IMAGES_GROUP]


def test_image_addresses_come_from_the_top_of_the_pool(topo: Topology) -> None:
    used = {n.mgmt_ip for n in topo.nodes} | {s.mgmt_ip for s in topo.switches}
    first = images.free_address(used)
    assert first == "172.30.255.249" and first not in used
    assert images.free_address(used | {first}) == "172.30.255.248"
