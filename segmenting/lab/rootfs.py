"""The one root filesystem every managed node boots: built once with mmdebstrap, cached.

The package list is the cache key (with :data:`SCRIPT_VERSION`): roles install nothing at run time
(the lab has no internet), so everything a role will need — hardening, RADIUS/PKI, VPN, relay,
recorder, log forwarding, IDS sensor — is included here. Services are installed *disabled*: a node
boots unconfigured and the roles enable what they configure.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from segmenting.lab.names import CACHE_DIR
from segmenting.lab.run import LabError, Runner

SCRIPT_VERSION = "3"
HOST_APT_ARCHIVES = "/var/cache/apt/archives"
SUITE = "bookworm"
MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
PACKAGES: tuple[str, ...] = (
    # base: what Ansible and an operator need on any node
    "systemd-sysv", "dbus", "openssh-server", "python3", "python3-apt", "sudo", "ca-certificates", "openssl",
    "iproute2", "iputils-ping", "procps", "netcat-openbsd", "curl", "less",
    # hardening, time, logs (roles: hardening, log forwarding)
    "nftables", "conntrack", "auditd", "chrony", "rsyslog", "rsyslog-gnutls",
    # RADIUS / PKI / DNS (roles: radius, pki)
    "freeradius", "freeradius-utils", "unbound",
    # VPN: strongSwan with userspace ESP (the kernel has no IPsec) and wireguard (role: vpn)
    "strongswan-swanctl", "charon-systemd", "libcharon-extra-plugins", "libstrongswan-standard-plugins",
    "strongswan-pki", "wireguard-tools",
    # State relay and recorder (roles: relay, recorder)
    "nginx", "libnginx-mod-stream", "ffmpeg",
    # IDS sensor (role: ids sensor): capture and the project's scapy-based detectors
    "tcpdump", "python3-scapy",
)  # fmt: skip
# Installed, not started: the roles enable what they configure.
DISABLED_UNITS = ("freeradius", "nginx", "unbound", "strongswan", "auditd", "chrony", "console-getty", "getty@tty1")


def cache_key(packages: tuple[str, ...] = PACKAGES) -> str:
    text = "\n".join([SCRIPT_VERSION, SUITE, *MIRRORS, *sorted(packages)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def archive_path(cache: Path = CACHE_DIR) -> Path:
    return cache / f"rootfs-{cache_key()}.tar.zst"


def tree_path(cache: Path = CACHE_DIR) -> Path:
    """The extracted archive: the read-only lower layer of every node's overlay."""
    return cache / f"rootfs-{cache_key()}"


def ensure(r: Runner, cache: Path = CACHE_DIR) -> tuple[Path, float]:
    """Build the archive if missing, extract it if needed. Returns (tree, seconds spent building)."""
    override = os.environ.get("CLOISON_LAB_ROOTFS")
    if override:  # a tree prepared by hand (debugging the lab itself); never the default
        return Path(override), 0.0
    cache.mkdir(parents=True, exist_ok=True)
    archive, tree = archive_path(cache), tree_path(cache)
    spent = 0.0
    if not archive.exists():
        t0 = time.monotonic()
        tmp = archive.with_suffix(".partial")
        debs = cache / "debs"
        debs.mkdir(exist_ok=True)
        # Downloading dominates a cold build: seed apt's archive from the lab's own deb cache and from
        # this machine's apt cache (same mirror; apt checks every hash and downloads what differs),
        # and keep what was downloaded for the next build. The .debs are not left in the image.
        seed = f'mkdir -p "$1"/var/cache/apt/archives && cp -l {debs}/*.deb "$1"/var/cache/apt/archives/ 2>/dev/null; '
        seed += f'cp -ln {HOST_APT_ARCHIVES}/*.deb "$1"/var/cache/apt/archives/ 2>/dev/null; true'
        hooks = [
            "--skip=download/empty",
            f"--setup-hook={seed}",
            f'--customize-hook=cp -ln "$1"/var/cache/apt/archives/*.deb {debs}/ 2>/dev/null; true',
            '--customize-hook=rm -f "$1"/var/cache/apt/archives/*.deb',
            '--customize-hook=rm -f "$1"/etc/ssh/ssh_host_*',  # fresh host keys per node, at lab up
            '--customize-hook=chroot "$1" systemctl disable ' + " ".join(DISABLED_UNITS) + " || true",
            '--customize-hook=rm -f "$1"/etc/machine-id && touch "$1"/etc/machine-id',
        ]
        r.run(["mmdebstrap", "--quiet", "--variant=minbase", "--format=tar",
               "--include=" + ",".join(PACKAGES), *hooks, SUITE, str(tmp.with_suffix(".tar")), *MIRRORS],
              timeout=900)  # fmt: skip
        r.run(["zstd", "-q", "-T0", "-3", "--rm", "-f", str(tmp.with_suffix(".tar")), "-o", str(tmp)], timeout=300)
        if r.dry_run:
            return tree, 0.0
        tmp.rename(archive)
        spent = time.monotonic() - t0
        for old in cache.glob("rootfs-*"):  # images of older package lists: never used again
            if old not in (archive, tree):
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        if tree.exists():
            shutil.rmtree(tree)
    if not (tree / ".complete").exists():
        if tree.exists():
            shutil.rmtree(tree)
        tree.mkdir()
        r.run(["tar", "-C", str(tree), "--numeric-owner", "-I", "zstd", "-xpf", str(archive)], timeout=300)
        if not r.dry_run:
            (tree / ".complete").touch()
    if not r.dry_run and not (tree / "usr/sbin/sshd").exists():
        raise LabError(f"{tree} has no sshd: remove {archive} and run `cloison lab up` again")
    return tree, spent
