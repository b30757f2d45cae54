"""Pack a configured root filesystem reproducibly, and compare two packed images.

Follows the reproducible-builds.org recipe: names sorted, times clamped to
``SOURCE_DATE_EPOCH``, numeric owners, no atime/ctime in pax headers; squashfs built with a
fixed mkfs time. :func:`tar_digest` lists every member with its SHA-256 so two builds can be
compared file by file (:func:`compare`).
"""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from segmenting.errors import CloisonError

ROOTFS_TAR = "rootfs.tar.zst"
SQUASHFS = "rootfs.squashfs"


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CloisonError(f"{what} failed ({cmd[0]} exit {proc.returncode}): {proc.stderr.strip()[-400:]}")


def pack_tar(rootfs: Path, out: Path, epoch: int) -> Path:
    target = out / ROOTFS_TAR
    tar = [
        "tar", "--sort=name", f"--mtime=@{epoch}", "--clamp-mtime", "--numeric-owner", "--xattrs",
        "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
        "-C", str(rootfs), "-cf", "-", ".",
    ]  # fmt: skip
    with target.open("wb") as fh:
        tar_proc = subprocess.Popen(tar, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        zstd = subprocess.run(["zstd", "-q", "-T0", "-12", "-c"], stdin=tar_proc.stdout, stdout=fh, check=False)
        assert tar_proc.stdout is not None
        tar_proc.stdout.close()
        tar_err = tar_proc.stderr.read().decode() if tar_proc.stderr else ""
        if tar_proc.wait() != 0 or zstd.returncode != 0:
            raise CloisonError(f"packing {rootfs} into {target} failed: {tar_err.strip()[-400:]}")
    return target


def pack_squashfs(rootfs: Path, out: Path, epoch: int) -> Path:
    target = out / SQUASHFS
    target.unlink(missing_ok=True)
    _run(
        [
            "mksquashfs", str(rootfs), str(target), "-noappend", "-comp", "zstd", "-no-progress", "-quiet",
            "-mkfs-time", str(epoch), "-all-time", str(epoch), "-processors", "2",
        ],
        "mksquashfs",
    )  # fmt: skip
    return target


def tar_digest(archive: Path) -> dict[str, str]:
    """Member name → SHA-256 of content (files) or a description (links, dirs, devices)."""
    proc = subprocess.Popen(["zstd", "-q", "-d", "-c", str(archive)], stdout=subprocess.PIPE)
    out: dict[str, str] = {}
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            key = member.name.removeprefix("./")
            meta = f"{member.mode:o}:{member.uid}:{member.gid}:{member.mtime}"
            if member.isfile():
                fh = tar.extractfile(member)
                digest = hashlib.sha256(fh.read() if fh else b"").hexdigest()
                out[key] = f"file:{digest}:{meta}"
            elif member.issym() or member.islnk():
                out[key] = f"link:{member.linkname}:{meta}"
            else:
                out[key] = f"{member.type!r}:{meta}"
    if proc.wait() != 0:
        raise CloisonError(f"cannot read {archive}")
    return out


@dataclass(frozen=True)
class Comparison:
    identical: bool
    only_first: tuple[str, ...]
    only_second: tuple[str, ...]
    differing: tuple[str, ...]
    members: int

    def summary(self) -> str:
        if self.identical:
            return f"identical: {self.members} members"
        return (
            f"{len(self.differing)} differing, {len(self.only_first)} only in the first, "
            f"{len(self.only_second)} only in the second (of {self.members} members)"
        )


def compare(first: Path, second: Path) -> Comparison:
    a, b = tar_digest(first), tar_digest(second)
    differing = tuple(sorted(k for k in a.keys() & b.keys() if a[k] != b[k]))
    only_a = tuple(sorted(a.keys() - b.keys()))
    only_b = tuple(sorted(b.keys() - a.keys()))
    return Comparison(not (differing or only_a or only_b), only_a, only_b, differing, len(a.keys() | b.keys()))
