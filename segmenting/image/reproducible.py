"""Compare two builds of an image file by file: what differs, and why when it is known.

A build is reproducible when the same inputs give bit-for-bit the same artefacts
(https://reproducible-builds.org/docs/definition/). Debian 12 gets most of the way with a fixed
mirror state and ``SOURCE_DATE_EPOCH``; what is left is named here. Every member of the root
filesystem archive is listed with its type, mode, owner, size, content hash, link target and
(clamped) time, the two lists are compared, and each difference is matched against
:data:`CAUSES`: a known cause says why the file differs and whether the image tolerates it.
A difference no cause explains is a regression of the build, not noise.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from segmenting.errors import CloisonError
from segmenting.image.manifest import MANIFEST, Manifest, sha256_file
from segmenting.image.pack import ROOTFS_TAR
from segmenting.image.verify import SIGNATURE

_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


@dataclass(frozen=True)
class Entry:
    """One member of a root filesystem, as much as two builds can be compared on."""

    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    sha256: str = ""  # content, regular files only
    target: str = ""  # symbolic or hard link target
    mtime: int = 0
    xattrs: str = ""  # sorted name=value pairs (file capabilities, ACLs)

    def differences(self, other: Entry) -> tuple[str, ...]:
        """The attributes in which ``other`` differs, in a fixed order."""
        pairs = (
            ("type", self.kind, other.kind),
            ("mode", self.mode, other.mode),
            ("owner", (self.uid, self.gid), (other.uid, other.gid)),
            ("size", self.size, other.size),
            ("content", self.sha256, other.sha256),
            ("target", self.target, other.target),
            ("mtime", self.mtime, other.mtime),
            ("xattrs", self.xattrs, other.xattrs),
        )
        return tuple(name for name, mine, theirs in pairs if mine != theirs)


def _sha256(fh: IO[bytes] | None) -> str:
    h = hashlib.sha256()
    while fh is not None and (chunk := fh.read(1 << 20)):
        h.update(chunk)
    return h.hexdigest()


def tree_of_archive(archive: Path) -> dict[str, Entry]:
    """Every member of a ``.tar.zst`` root filesystem, by path (``./`` stripped)."""
    proc = subprocess.Popen(["zstd", "-q", "-d", "-c", str(archive)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    tree: dict[str, Entry] = {}
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                digest = _sha256(tar.extractfile(member)) if member.isfile() else ""
                xattrs = sorted(
                    f"{k.removeprefix('SCHILY.xattr.')}={v}"
                    for k, v in member.pax_headers.items()
                    if k.startswith("SCHILY.xattr.")
                )
                path = member.name.removeprefix("./").rstrip("/") or "."
                tree[path] = Entry(
                    _KINDS.get(member.type, repr(member.type)),
                    member.mode,
                    member.uid,
                    member.gid,
                    member.size,
                    digest,
                    member.linkname if (member.issym() or member.islnk()) else "",
                    int(member.mtime),
                    " ".join(xattrs),
                )
    except tarfile.TarError as exc:
        raise CloisonError(f"{archive} is not a readable root filesystem archive: {exc}") from None
    finally:
        proc.stdout.close()
    if proc.wait() != 0:
        raise CloisonError(f"cannot decompress {archive} (zstd exit {proc.returncode})")
    return tree


@dataclass(frozen=True)
class Cause:
    """A known reason why a path differs between two builds of the same image."""

    pattern: str  # fnmatch pattern on the member path
    reason: str
    tolerated: bool  # the image accepts it (True), or the build is meant to remove it (False)

    def matches(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.pattern)


# The build removes or normalises the untolerated ones (build.clean); if one of them differs
# again, the build regressed. The tolerated ones are what Debian 12 itself does not make
# reproducible when a system has been booted and configured; each is harmless to ship.
CAUSES: tuple[Cause, ...] = (
    Cause("etc/shadow", "accounts the roles create on the booted node record the build day as their "
          "last password change (those created by packages record SOURCE_DATE_EPOCH's)", True),
    Cause("etc/shadow-", "backup of /etc/shadow, same reason", True),
    Cause("var/lib/systemd/catalog/database", "journalctl --update-catalog writes a hash table "
          "whose layout depends on insertion order", True),
    Cause("*/__pycache__/*.pyc", "byte-code compiled at install or at run time: marshal flags "
          "objects by reference count, which depends on what the compiling process did before", True),
    Cause("var/log/*", "logs written during the build: truncated by the build", False),
    Cause("var/lib/systemd/random-seed", "the entropy seed saved at shutdown: removed by the build", False),
    Cause("var/lib/systemd/credential.secret", "a per-host secret: removed by the build", False),
    Cause("var/lib/systemd/timers/*", "timer stamps of the build boot: removed by the build", False),
    Cause("var/lib/systemd/timesync/*", "clock stamp of the build boot: removed by the build", False),
    Cause("var/lib/logrotate/*", "logrotate's state (dates): removed by the build", False),
    Cause("var/lib/chrony/*", "chrony's drift file: removed by the build", False),
    Cause("var/lib/sudo/*", "sudo's lecture stamps: removed by the build", False),
    Cause("var/cache/ldconfig/aux-cache", "ldconfig's inode cache: removed by the build", False),
    Cause("var/cache/debconf/*-old", "debconf's backup databases: removed by the build", False),
    Cause("etc/machine-id", "the machine's identity: emptied by the build, generated on first boot", False),
    Cause("var/lib/dbus/machine-id", "dbus's copy of the machine-id: removed by the build", False),
    Cause("etc/ssh/ssh_host_*", "SSH host keys: removed by the build, regenerated on first boot", False),
    Cause("etc/ssl/*/ssl-cert-snakeoil.*", "ssl-cert's self-signed pair: removed, regenerated on first boot", False),
    Cause("etc/hostname", "copied from the build host by mmdebstrap: replaced by the build", False),
    Cause("etc/resolv.conf", "copied from the build host by mmdebstrap: replaced by the build", False),
    Cause("root/*", "root's home written during the build (Ansible, shells): cleaned by the build", False),
    Cause("home/*/.ssh/authorized_keys", "the build's throw-away key on the administrator: removed by the build",
          False),
    Cause("home/*/.ansible/*", "the administrator's home written by Ansible during the build: removed", False),
    Cause("tmp/*", "temporary files: removed by the build", False),
    Cause("var/tmp/*", "temporary files: removed by the build", False),
)  # fmt: skip


def cause_of(path: str, causes: Iterable[Cause] = CAUSES) -> Cause | None:
    return next((c for c in causes if c.matches(path)), None)


@dataclass(frozen=True)
class Difference:
    path: str
    what: tuple[str, ...]  # attributes that differ, or "only in the first/second build"
    cause: Cause | None

    @property
    def tolerated(self) -> bool:
        return self.cause is not None and self.cause.tolerated

    def line(self) -> str:
        why = self.cause.reason if self.cause else "UNKNOWN cause: a regression of the build"
        return f"{self.path}: {', '.join(self.what)} — {why}"


@dataclass(frozen=True)
class Report:
    first: Path
    second: Path
    members: int
    artefacts: dict[str, tuple[str, str]]  # name -> (sha256 first, sha256 second)
    differences: tuple[Difference, ...]
    packages_changed: tuple[str, ...]  # SBOM components in one build only (another snapshot)
    epochs: tuple[int | None, int | None] = (None, None)  # SOURCE_DATE_EPOCH of each build

    @property
    def identical(self) -> bool:
        return not self.differences and all(a == b for a, b in self.artefacts.values())

    @property
    def untolerated(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if not d.tolerated)

    def lines(self, show: int | None = None) -> list[str]:
        out = [f"{self.first} vs {self.second}: {self.members} members in the root filesystem"]
        for name, (a, b) in sorted(self.artefacts.items()):
            out.append(f"  {name}: " + ("identical" if a == b else f"differs ({a[:12]} vs {b[:12]})"))
        if self.epochs[0] != self.epochs[1]:
            out.append(
                f"  SOURCE_DATE_EPOCH differs ({self.epochs[0]} vs {self.epochs[1]}): clamped times differ everywhere"
            )
        if self.packages_changed:
            out.append(
                f"  the package sets differ ({len(self.packages_changed)} components): the builds come from "
                f"different snapshots: {', '.join(self.packages_changed[:8])}"
            )
        out.append(f"  {len(self.differences)} files differ ({len(self.untolerated)} not explained or not tolerated)")
        out += [f"    {d.line()}" for d in self.differences[:show]]
        if show is not None and len(self.differences) > show:
            out.append(f"    … {len(self.differences) - show} more")
        return out


def _artefacts(folder: Path) -> dict[str, str]:
    """Artefact name -> SHA-256, from the manifest when there is one (it is what gets signed)."""
    manifest = folder / MANIFEST
    if manifest.exists():
        hashes = dict(Manifest.from_json(manifest.read_text(encoding="utf-8")).artefacts)
        for name in (MANIFEST, SIGNATURE):  # Ed25519 signatures are deterministic: same manifest, same key
            if (folder / name).exists():
                hashes[name] = sha256_file(folder / name)
        return hashes
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


def _epoch(folder: Path) -> int | None:
    manifest = folder / MANIFEST
    return Manifest.from_json(manifest.read_text(encoding="utf-8")).source_date_epoch if manifest.exists() else None


def _components(folder: Path) -> set[str]:
    path = folder / "sbom.cdx.json"
    if not path.exists():
        return set()
    return {str(c["purl"]) for c in json.loads(path.read_text(encoding="utf-8")).get("components", [])}


def compare_trees(a: dict[str, Entry], b: dict[str, Entry], causes: Iterable[Cause] = CAUSES) -> list[Difference]:
    causes = tuple(causes)
    out = []
    for path in sorted(a.keys() | b.keys()):
        if path not in b:
            what: tuple[str, ...] = ("only in the first build",)
        elif path not in a:
            what = ("only in the second build",)
        else:
            what = a[path].differences(b[path])
        if what:
            out.append(Difference(path, what, cause_of(path, causes)))
    return out


def compare_builds(first: Path, second: Path, causes: Iterable[Cause] = CAUSES) -> Report:
    """Compare two image folders (as written by ``cloison image build``)."""
    for folder in (first, second):
        if not (folder / ROOTFS_TAR).exists():
            raise CloisonError(f"{folder / ROOTFS_TAR} is missing: give two folders made by `cloison image build`")
    a, b = tree_of_archive(first / ROOTFS_TAR), tree_of_archive(second / ROOTFS_TAR)
    hashes_a, hashes_b = _artefacts(first), _artefacts(second)
    artefacts = {n: (hashes_a.get(n, "-"), hashes_b.get(n, "-")) for n in hashes_a.keys() | hashes_b.keys()}
    packages = tuple(sorted(_components(first) ^ _components(second)))
    differences = tuple(compare_trees(a, b, causes))
    return Report(
        first, second, len(a.keys() | b.keys()), artefacts, differences, packages, (_epoch(first), _epoch(second))
    )
