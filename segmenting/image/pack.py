"""Pack a configured root filesystem reproducibly.

Follows the reproducible-builds.org recipe (https://reproducible-builds.org/docs/archives/):
names sorted, times clamped to ``SOURCE_DATE_EPOCH``, numeric owners, no atime/ctime in pax
headers; squashfs built with fixed inode and mkfs times. Two builds are compared file by file
by :mod:`segmenting.image.reproducible`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from segmenting.errors import CloisonError

ROOTFS_TAR = "rootfs.tar.zst"
# zstd level 6 for both: on this machine 5 times faster than 12 (tar) or 15 (squashfs, its
# default) for 5-8 % more bytes (bench/image.md); the size target is on the uncompressed tree.
ZSTD_LEVEL = 6
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
        zstd = subprocess.run(
            ["zstd", "-q", "-T0", f"-{ZSTD_LEVEL}", "-c"], stdin=tar_proc.stdout, stdout=fh, check=False
        )
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
            "mksquashfs", str(rootfs), str(target), "-noappend", "-no-progress", "-quiet",
            "-comp", "zstd", "-Xcompression-level", str(ZSTD_LEVEL),
            "-mkfs-time", str(epoch), "-all-time", str(epoch), "-processors", "2",
        ],
        "mksquashfs",
    )  # fmt: skip
    return target
