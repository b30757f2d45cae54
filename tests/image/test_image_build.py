"""Issue 7: the edge-gateway image as built — signed, its SBOM valid, no key shipped, within size.

The image is built once per session with the real roles (hardening through playbooks/image.yml)
and signed with a key made for the test. Booting it as a node of the lab, as a gateway of the
plan, and auditing it there is ``test_lab_node.py``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from image_builds import Built

from segmenting.image import pack
from segmenting.image.reproducible import tree_of_archive
from segmenting.image.verify import ImageRefused, verify_image

pytestmark = [pytest.mark.lab, pytest.mark.slow]

EDGE_GATEWAY_MAX_BYTES = 400_000_000
ADMIN = "cloison-admin"


def test_image_is_signed_and_its_sbom_is_valid(built: Built) -> None:
    manifest = verify_image(built.folder, built.signers, "test-images")
    assert set(manifest.artefacts) == {pack.ROOTFS_TAR, pack.SQUASHFS, "sbom.cdx.json"}
    sbom_text = (built.folder / "sbom.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(sbom_text) is None
    names = {c["name"] for c in json.loads(sbom_text)["components"]}
    assert {"openssh-server", "nftables", "charon-systemd", "auditd"} <= names
    assert "telnet" not in names and "inetutils-telnet" not in names


def test_image_ships_no_host_key_nor_build_key(built: Built) -> None:
    digest = tree_of_archive(built.folder / pack.ROOTFS_TAR)
    assert not [n for n in digest if n.startswith("etc/ssh/ssh_host_")]
    assert "root/.ssh/authorized_keys" not in digest
    assert f"home/{ADMIN}/.ssh/authorized_keys" not in digest
    assert "etc/systemd/system/multi-user.target.wants/cloison-firstboot.service" in digest


def test_edge_gateway_size_is_within_target(built: Built, tmp_path: Path) -> None:
    target = tmp_path / "root"
    target.mkdir()
    subprocess.run(
        f"zstd -q -d -c {built.folder / pack.ROOTFS_TAR} | tar -x --numeric-owner -C {target}", shell=True, check=True
    )
    size = int(subprocess.run(["du", "-sb", str(target)], capture_output=True, text=True, check=True).stdout.split()[0])
    print(f"edge-gateway image: {size / 1e6:.0f} MB uncompressed, built in {built.seconds:.0f} s")
    assert size <= EDGE_GATEWAY_MAX_BYTES


def test_installer_refuses_a_corrupted_image(built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(built.folder), str(copy)], check=True)
    with (copy / pack.SQUASHFS).open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\x00corrupted\x00")
    with pytest.raises(ImageRefused, match=r"rootfs\.squashfs: SHA-256"):
        verify_image(copy, built.signers, "test-images")
