"""Image pieces without a full build: SBOM, manifest, signature, packing, the installer's refusals."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from segmenting import cli
from segmenting.errors import EXIT_INVALID
from segmenting.image import pack
from segmenting.image.build import FIRSTBOOT_SCRIPT, clean, private_keys, release_date
from segmenting.image.manifest import MANIFEST, Manifest, with_checksums
from segmenting.image.sbom import Component, debian_packages, sbom, sbom_for_rootfs
from segmenting.image.verify import ImageRefused, allowed_signers, generate_key, sign, verify_image

# Built at run time so that no tracked file carries a private-key marker (secret scanners).
PEM_HEAD = "-----BEGIN %s " + "PRIVATE KEY-----"

STATUS = """\
Package: openssh-server
Status: install ok installed
Architecture: amd64
Version: 1:9.2p1-2+deb12u3
Description: secure shell (SSH) server
 a continuation line: with a colon

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: python3
Status: install ok installed
Architecture: amd64
Version: 3.11.2-1+b1
"""


def test_debian_packages_keeps_only_installed_ones() -> None:
    comps = debian_packages(STATUS)
    assert [c.name for c in comps] == ["openssh-server", "python3"]
    assert comps[0].purl == "pkg:deb/debian/openssh-server@1%3A9.2p1-2%2Bdeb12u3?arch=amd64&distro=debian-12"


def _rootfs(tmp: Path) -> Path:
    root = tmp / "rootfs"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(STATUS)
    dist = root / "usr/lib/python3/dist-packages/scapy-2.5.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: scapy\nVersion: 2.5.0\nLicense: GPL-2.0-only\n")
    (root / "etc/ssh").mkdir(parents=True)
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin no\n")
    return root


def test_sbom_lists_debs_and_python_dists_and_is_valid_cyclonedx(tmp_path: Path) -> None:
    bom = sbom_for_rootfs(_rootfs(tmp_path), "cloison-edge-gateway", "0.1.0", "2026-11-01T00:00:00Z")
    names = {(c["name"], c["purl"].split(":")[1].split("/")[0]) for c in bom["components"]}
    assert names == {("openssh-server", "deb"), ("python3", "deb"), ("scapy", "pypi")}
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(bom)) is None


def test_sbom_is_deterministic() -> None:
    comps = [Component("deb", "b", "1"), Component("deb", "a", "2")]
    one = sbom("img", "1", comps, "t")
    two = sbom("img", "1", list(reversed(comps)), "t")
    assert one == two
    assert one["serialNumber"] != sbom("img", "1", comps[:1], "t")["serialNumber"]


def test_clean_removes_host_keys_and_build_key_and_adds_firstboot(tmp_path: Path) -> None:
    root = _rootfs(tmp_path)
    (root / "etc/ssh/ssh_host_ed25519_key").write_text(PEM_HEAD % "OPENSSH" + "\nx\n")
    (root / "root/.ssh").mkdir(parents=True)
    (root / "root/.ssh/authorized_keys").write_text("ssh-ed25519 AAAA build\n")
    (root / "etc/machine-id").write_text("0123456789abcdef\n")
    assert private_keys(root) == ["etc/ssh/ssh_host_ed25519_key"]
    clean(root)
    assert not (root / "etc/ssh/ssh_host_ed25519_key").exists()
    assert not (root / "root/.ssh/authorized_keys").exists()
    assert (root / "etc/machine-id").read_text() == ""
    assert (root / "etc/systemd/system/multi-user.target.wants/cloison-firstboot.service").is_symlink()
    assert private_keys(root) == []


def test_private_key_anywhere_is_found(tmp_path: Path) -> None:
    root = _rootfs(tmp_path)
    (root / "etc/freeradius").mkdir(parents=True)
    (root / "etc/freeradius/server.key").write_text(PEM_HEAD % "EC" + "\nabc\n")
    assert private_keys(root) == ["etc/freeradius/server.key"]


def test_release_date_reads_apt_lists(tmp_path: Path) -> None:
    (tmp_path / "deb.debian.org_debian_dists_bookworm_InRelease").write_text(
        "Origin: Debian\nSuite: stable\nDate: Sat, 08 Nov 2025 09:47:53 UTC\n"
    )
    assert release_date(tmp_path) == ("2025-11-08T09:47:53Z", 1762595273)


def _signed_image(tmp_path: Path) -> tuple[Path, Path]:
    key = generate_key(tmp_path / "keys" / "img_ed25519", "test-images")
    assert key.stat().st_mode & 0o777 == 0o600
    signers = tmp_path / "keys" / "allowed_signers"
    signers.write_text(allowed_signers("test-images", key.with_suffix(".pub")))
    out = tmp_path / "image"
    out.mkdir()
    pack.pack_tar(_rootfs(tmp_path), out, 1_700_000_000)
    (out / "sbom.cdx.json").write_text("{}\n")
    manifest = with_checksums(
        Manifest("cloison-test", "edge-gateway", "0.1.0", "bookworm", "2025-11-08T09:47:53Z", 1_700_000_000),
        out,
        [pack.ROOTFS_TAR, "sbom.cdx.json"],
    )
    (out / MANIFEST).write_text(manifest.to_json())
    sign(out / MANIFEST, key)
    return out, signers


def test_signed_image_verifies(tmp_path: Path) -> None:
    out, signers = _signed_image(tmp_path)
    manifest = verify_image(out, signers, "test-images")
    assert set(manifest.artefacts) == {pack.ROOTFS_TAR, "sbom.cdx.json"}
    # The documented one-line verification works by hand too.
    with (out / MANIFEST).open("rb") as fh:
        proc = subprocess.run(
            ["ssh-keygen", "-Y", "verify", "-f", str(signers), "-I", "test-images", "-n", "cloison-image",
             "-s", str(out / "manifest.json.sig")],
            stdin=fh, capture_output=True, check=False,
        )  # fmt: skip
    assert proc.returncode == 0


def test_tampered_artefact_is_refused(tmp_path: Path) -> None:
    out, signers = _signed_image(tmp_path)
    (out / "sbom.cdx.json").write_text('{"tampered": true}\n')
    with pytest.raises(ImageRefused, match=r"sbom.cdx.json: SHA-256 .* does not match"):
        verify_image(out, signers, "test-images")


def test_tampered_manifest_is_refused(tmp_path: Path) -> None:
    out, signers = _signed_image(tmp_path)
    text = (out / MANIFEST).read_text().replace("edge-gateway", "dmz-relay")
    (out / MANIFEST).write_text(text)
    with pytest.raises(ImageRefused, match="does not verify"):
        verify_image(out, signers, "test-images")


def test_other_signer_is_refused(tmp_path: Path) -> None:
    out, _ = _signed_image(tmp_path)
    other = generate_key(tmp_path / "other" / "k", "mallory")
    signers = tmp_path / "other" / "allowed_signers"
    signers.write_text(allowed_signers("test-images", other.with_suffix(".pub")))
    with pytest.raises(ImageRefused, match="does not verify"):
        verify_image(out, signers, "test-images")


def test_installer_refuses_unsigned_image_with_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, signers = _signed_image(tmp_path)
    (out / "manifest.json.sig").unlink()
    code = cli.main(
        ["image", "install", str(out), "--signers", str(signers), "--identity", "test-images",
         "--target", str(tmp_path / "target")]
    )  # fmt: skip
    assert code == EXIT_INVALID
    err = capsys.readouterr().err
    assert "unsigned" in err and "Traceback" not in err
    assert not (tmp_path / "target").exists()


def test_installer_unpacks_a_good_image(tmp_path: Path) -> None:
    out, signers = _signed_image(tmp_path)
    site = tmp_path / "site.json"
    site.write_text('{"hostname": "gw-test"}')
    code = cli.main(
        ["image", "install", str(out), "--signers", str(signers), "--identity", "test-images",
         "--target", str(tmp_path / "target"), "--site", str(site)]
    )  # fmt: skip
    assert code == 0
    assert (tmp_path / "target/etc/ssh/sshd_config").read_text() == "PermitRootLogin no\n"
    assert (tmp_path / "target/etc/cloison/site.json").stat().st_mode & 0o777 == 0o600


def test_pack_is_reproducible_and_compare_names_differences(tmp_path: Path) -> None:
    root = _rootfs(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    pack.pack_tar(root, one, 1_700_000_000)
    (root / "etc/ssh/sshd_config").touch()  # a new mtime must not matter: times are clamped
    pack.pack_tar(root, two, 1_700_000_000)
    assert (one / pack.ROOTFS_TAR).read_bytes() == (two / pack.ROOTFS_TAR).read_bytes()
    assert pack.compare(one / pack.ROOTFS_TAR, two / pack.ROOTFS_TAR).identical
    (root / "etc/ssh/sshd_config").write_text("PermitRootLogin yes\n")
    pack.pack_tar(root, two, 1_700_000_000)
    result = pack.compare(one / pack.ROOTFS_TAR, two / pack.ROOTFS_TAR)
    assert result.differing == ("etc/ssh/sshd_config",)


def test_firstboot_script_applies_hostname_and_keys(tmp_path: Path) -> None:
    """Run the first-boot script for real, against a scratch root (paths rewritten)."""

    fake = tmp_path / "fake"
    (fake / "etc").mkdir(parents=True)
    script = tmp_path / "firstboot.sh"
    script.write_text(
        FIRSTBOOT_SCRIPT.replace("/etc/hostname", str(fake / "etc/hostname"))
        .replace('hostname "$name"', "true")
        .replace("/root/.ssh", str(fake / "root/.ssh"))
    )
    site = tmp_path / "site.json"
    site.write_text(
        json.dumps({"hostname": "gw-x", "authorized_keys": ["ssh-ed25519 AAAA one", "ssh-ed25519 BBBB two"]})
    )
    proc = subprocess.run(["sh", str(script), str(site)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (fake / "etc/hostname").read_text() == "gw-x\n"
    keys = fake / "root/.ssh/authorized_keys"
    assert keys.read_text() == "ssh-ed25519 AAAA one\nssh-ed25519 BBBB two\n"
    assert keys.stat().st_mode & 0o777 == 0o600
