"""The Debian side of an image build: which mirror state it is built from, and mmdebstrap.

The package set of an image is fixed by a *snapshot*: the apt lists of the three bookworm
suites (main, updates, security) as the build host last fetched them. mmdebstrap is given
those very lists and told not to fetch new ones (``--skip=update``), so two builds from the
same lists install the same packages, whatever the mirror published in between, and the
manifest records the date of each suite's Release. ``SOURCE_DATE_EPOCH`` is the latest of
those dates (https://reproducible-builds.org/docs/source-date-epoch/): the newest input.
"""

from __future__ import annotations

import email.utils
import os
import shlex
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from segmenting.errors import CloisonError

SUITE = "bookworm"
# What mmdebstrap would pick for a stable suite, spelled out so that the build host's apt lists
# (same URIs, same file names) can be handed over as they are.
MIRRORS = (
    ("http://deb.debian.org/debian", SUITE),
    ("http://deb.debian.org/debian", f"{SUITE}-updates"),
    ("http://deb.debian.org/debian-security", f"{SUITE}-security"),
)
APT_LISTS = Path("/var/lib/apt/lists")
DEB_CACHE = Path("/var/cache/cloison/debs")  # shared with the lab's rootfs builds (same mirror)


def list_prefix(uri: str, suite: str) -> str:
    """apt's file name prefix for a suite's lists (URItoFileName: no scheme, '/' → '_')."""
    return uri.split("://", 1)[-1].rstrip("/").replace("/", "_") + f"_dists_{suite}_"


def release_date(release: Path) -> datetime:
    for line in release.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Date:"):
            return email.utils.parsedate_to_datetime(line.partition(":")[2].strip()).astimezone(UTC)
    raise CloisonError(f"{release} has no Date field: not a Debian Release file")


def iso(stamp: datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Snapshot:
    releases: dict[str, str]  # suite -> ISO date of its Release
    epoch: int  # SOURCE_DATE_EPOCH: the latest Release
    lists: tuple[Path, ...]  # the apt list files that define the package set

    @property
    def date(self) -> str:
        return iso(datetime.fromtimestamp(self.epoch, UTC))


def snapshot(lists: Path = APT_LISTS) -> Snapshot:
    """The mirror state recorded in the build host's apt lists, for every suite of :data:`MIRRORS`."""
    releases: dict[str, datetime] = {}
    files: list[Path] = []
    for uri, suite in MIRRORS:
        prefix = list_prefix(uri, suite)
        release = lists / f"{prefix}InRelease"
        if not release.exists():
            raise CloisonError(
                f"{release} is missing: the image is built from the host's apt lists; add "
                f"`deb {uri} {suite} main` to the host's apt sources and run `apt-get update`"
            )
        releases[suite] = release_date(release)
        files += sorted(p for p in lists.glob(f"{prefix}*") if p.is_file())
    latest = max(releases.values())
    return Snapshot({s: iso(d) for s, d in releases.items()}, int(latest.timestamp()), tuple(files))


def debootstrap(rootfs: Path, packages: Iterable[str], snap: Snapshot, debs: Path = DEB_CACHE) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(snap.epoch)}
    debs.mkdir(parents=True, exist_ok=True)
    lists = '"$1"/var/lib/apt/lists'
    pinned = [
        "--skip=update",
        f"--setup-hook=mkdir -p {lists}/partial && cp {' '.join(shlex.quote(str(f)) for f in snap.lists)} {lists}/",
    ]
    # Downloads dominate a build: start from the cached .debs (apt checks every hash and fetches
    # what differs), keep what was downloaded, and leave no .deb in the image.
    archives = '"$1"/var/cache/apt/archives'
    cache = [
        "--skip=download/empty",
        f"--setup-hook=mkdir -p {archives} && cp -l {debs}/*.deb {archives}/ 2>/dev/null; true",
        f"--customize-hook=cp -ln {archives}/*.deb {debs}/ 2>/dev/null; true",
        f"--customize-hook=rm -f {archives}/*.deb",
    ]
    # No fsync per unpacked file while building (the tree is packed afterwards, a crash means a
    # new build), and none left in the image: --dpkgopt would stay in the image's dpkg.cfg.d.
    unsafe_io = '"$1"/etc/dpkg/dpkg.cfg.d/00cloison-build'
    fast = [
        f'--setup-hook=mkdir -p "$1"/etc/dpkg/dpkg.cfg.d && echo force-unsafe-io > {unsafe_io}',
        f"--customize-hook=rm -f {unsafe_io}",
    ]
    cmd = [
        "mmdebstrap", "--variant=minbase", "--mode=root", f"--include={','.join(sorted(set(packages)))}",
        *pinned, *cache, *fast,
        "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
        SUITE, str(rootfs), *(f"deb {uri} {suite} main" for uri, suite in MIRRORS),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise CloisonError(f"mmdebstrap failed: {proc.stderr.strip()[-600:]}")
