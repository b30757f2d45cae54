"""Build a hardened appliance image: mmdebstrap → roles → clean → pack → SBOM → manifest → sign.

The same Ansible roles that configure the lab configure the image (through a
:class:`Configurer`, which boots the root filesystem as a systemd-nspawn node and runs the
image playbook over SSH). Site-specific values (addresses, certificates) are not baked in: the
first-boot unit regenerates SSH host keys and applies ``/etc/cloison/site.json`` when the
installer provides it.

Reproducibility: packages come from a fixed mirror state (:mod:`segmenting.image.debian`),
``SOURCE_DATE_EPOCH`` is its date, cleaning removes per-boot state and logs, and packing
clamps times to it; :mod:`segmenting.image.reproducible` names what still differs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from segmenting import __version__
from segmenting.errors import CloisonError, UsageError
from segmenting.image import pack
from segmenting.image.debian import APT_LISTS, SUITE, debootstrap, snapshot
from segmenting.image.manifest import MANIFEST, Manifest, with_checksums
from segmenting.image.sbom import sbom_for_rootfs
from segmenting.image.verify import sign
from segmenting.lab.access import ADMIN_USER

BASE_PACKAGES = (
    "openssh-server", "python3", "python3-apt", "nftables", "iproute2", "systemd-sysv", "dbus", "sudo",
    "auditd", "rsyslog", "rsyslog-gnutls", "chrony", "ca-certificates", "procps", "iputils-ping", "less",
)  # fmt: skip


@dataclass(frozen=True)
class ImageRole:
    name: str
    description: str
    packages: tuple[str, ...]
    groups: tuple[str, ...]  # the Ansible groups the image's node is put in for the image playbook


ROLES: dict[str, ImageRole] = {
    r.name: r
    for r in (
        ImageRole(
            "edge-gateway",
            "a site's edge gateway: routing, nftables, IKEv2 tunnel, DHCP for cameras, the site's IDS sensor",
            (
                "strongswan-swanctl",
                "charon-systemd",
                "libcharon-extra-plugins",
                "dnsmasq-base",
                "conntrack",
                "python3-scapy",
                "tcpdump",
            ),
            ("edge_gateways",),
        ),
        ImageRole(
            "csu-services",
            "CSU services host: FreeRADIUS, PKI, log collector",
            ("freeradius", "freeradius-utils", "openssl"),
            ("csu", "csu_radius"),
        ),
        ImageRole(
            "dmz-relay",
            "the State bridge relay in the DMZ (nginx stream proxy with access log)",
            ("nginx-light", "libnginx-mod-stream"),
            ("csu", "csu_relay"),
        ),
        ImageRole(
            "ids-sensor",
            "an IDS sensor on a switch mirror port (cloison ids)",
            ("python3-scapy", "tcpdump"),
            ("ids_sensors",),
        ),
    )
}

FIRSTBOOT_UNIT = """\
# cloison: regenerate SSH host keys and apply site values on the first boot of an image.
[Unit]
Description=cloison first boot (host keys, site values)
ConditionPathExists=!/var/lib/cloison/firstboot.done
Before=ssh.service freeradius.service
After=local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
ExecStart=/bin/sh -c 'test ! -x /usr/sbin/make-ssl-cert || /usr/sbin/make-ssl-cert generate-default-snakeoil'
ExecStart=/bin/sh -c 'test ! -f /etc/cloison/site.json || /usr/local/sbin/cloison-firstboot /etc/cloison/site.json'
ExecStart=/bin/sh -c 'mkdir -p /var/lib/cloison && touch /var/lib/cloison/firstboot.done'
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""

# Every boot, before sshd binds it: the administration-side address from the site values. No role
# owns an appliance's interfaces before its site is configured, so the image keeps this one itself.
SITE_ADDRESSES_UNIT = """\
# cloison: put the administration-side address of /etc/cloison/site.json on its interface.
[Unit]
Description=cloison administration address (site values)
ConditionPathExists=/etc/cloison/site.json
After=local-fs.target
Before=ssh.service network.target
Wants=network.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/cloison-firstboot --addresses /etc/cloison/site.json
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
"""

# systemd-sysctl skips itself where /proc/sys is read-only (a container such as systemd-nspawn),
# but the per-network-namespace keys (net.*) are writable there and must still be applied.
NETNS_SYSCTL_UNIT = """\
# cloison: apply the per-network-namespace kernel parameters when running as a container.
[Unit]
Description=cloison kernel network parameters (container)
ConditionVirtualization=container
DefaultDependencies=no
Before=network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'for f in /etc/sysctl.d/*.conf; do grep -E "^[[:space:]]*net[.]" "$$f"; done \\
    | /sbin/sysctl -q -e -p -'
RemainAfterExit=yes

[Install]
WantedBy=sysinit.target
"""

FIRSTBOOT_SCRIPT = f"""\
#!/usr/bin/python3
# cloison first boot: apply the site values the installer placed in /etc/cloison/site.json
# (segmenting/image/site.py checked them). Certificates are delivered by the pki role afterwards.
#   cloison-firstboot SITE.json              once: host name, administrator keys, sshd addresses
#   cloison-firstboot --addresses SITE.json  every boot, before sshd: the administration address
import json, os, pwd, subprocess, sys

ADMIN = "{ADMIN_USER}"
ROOT = os.environ.get("CLOISON_FIRSTBOOT_ROOT", "")  # a scratch root for the unit tests only


def write(path, text, mode, owner=(0, 0)):
    path = ROOT + path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, mode)
    if not ROOT:
        os.chown(path, *owner)


site = json.load(open(sys.argv[-1]))
if sys.argv[1] == "--addresses":
    for entry in site.get("addresses", []):
        subprocess.run(["ip", "link", "set", "dev", entry["interface"], "up"], check=True)
        subprocess.run(["ip", "addr", "replace", entry["address"], "dev", entry["interface"]], check=True)
    sys.exit(0)
write("/etc/hostname", site["hostname"] + "\\n", 0o644)
# mmdebstrap's minbase ships no /etc/hosts: without the name there, every sudo warns that it
# cannot resolve the host (Debian's own layout: the host name on 127.0.1.1).
write("/etc/hosts", "127.0.0.1 localhost\\n127.0.1.1 " + site["hostname"] + "\\n"
      "::1 localhost ip6-localhost ip6-loopback\\n", 0o644)
if not ROOT:
    subprocess.run(["hostname", site["hostname"]], check=False)
# The deployment's administrator keys go to the named account: root has none and may not log in.
keys = site.get("authorized_keys", [])
if keys:
    account = pwd.getpwnam(ADMIN) if not ROOT else None
    owner = (account.pw_uid, account.pw_gid) if account else (0, 0)
    home = account.pw_dir if account else "/home/" + ADMIN
    write(home + "/.ssh/authorized_keys", "".join(k.strip() + "\\n" for k in keys), 0o600, owner)
# sshd binds the administration side only (ANSSI-PA022-R17): the role's sshd_config includes this.
listen = site.get("ssh_listen", [])
if listen:
    write("/etc/ssh/sshd_config.d/cloison-site.conf",
          "# cloison first boot: the administration-side addresses of this appliance\\n"
          + "".join("ListenAddress " + a + "\\n" for a in listen), 0o600)
"""


class Configurer(Protocol):
    """Applies the roles to a root filesystem (side effects live behind this)."""

    def configure(self, rootfs: Path, role: ImageRole) -> None: ...


# Written while the image was built and booted once: secrets, per-boot state and caches. Each
# one is also a known cause of difference between two builds (reproducible.CAUSES).
BUILD_LEFTOVERS = (
    "etc/ssh/ssh_host_*",
    # ssl-cert's self-signed pair (FreeRADIUS's default), made at install: one per appliance instead.
    "etc/ssl/private/ssl-cert-snakeoil.key",
    "etc/ssl/certs/ssl-cert-snakeoil.pem",
    "root/.ssh/authorized_keys",
    # The build's throw-away key on the named administrator; first boot installs the deployment's.
    "home/*/.ssh/authorized_keys",
    "home/*/.ansible",
    "home/*/.cache",
    "home/*/.*_history",
    "home/*/.sudo_as_admin_successful",
    "var/log/sudo-io",
    "root/.ansible",
    "root/.cache",
    "root/.*_history",
    "root/.lesshst",
    "root/.wget-hsts",
    "var/lib/apt/lists/*",
    "var/cache/apt/*.bin",
    "var/cache/apt/archives/*.deb",
    "var/cache/debconf/*-old",
    "var/cache/ldconfig/aux-cache",
    "var/log/journal/*",
    "var/lib/dbus/machine-id",
    "var/lib/systemd/random-seed",
    "var/lib/systemd/credential.secret",
    "var/lib/systemd/timers/*",
    "var/lib/systemd/timesync/clock",
    "var/lib/logrotate/status",
    "var/lib/chrony/*",
    "var/lib/sudo/lectured/*",
    "tmp/*",
    "var/tmp/*",
)
ROTATED_LOG = re.compile(r"\.(\d+|gz|old|xz)$")
# Until the first boot applies the site's values, the image names no host and no resolver
# (mmdebstrap copies the build host's, which would also make the image depend on that host).
NEUTRAL_FILES = {
    "etc/hostname": "localhost\n",
    "etc/resolv.conf": "# Resolvers come with the site's values (first boot, then the site's playbooks).\n",
}


def clear_logs(log_dir: Path) -> None:
    """Empty the logs the build wrote; keep each file with its owner and mode for its daemon."""
    if not log_dir.is_dir():
        return
    for path in sorted(log_dir.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if ROTATED_LOG.search(path.name):
            path.unlink()
        else:
            os.truncate(path, 0)


def clean(rootfs: Path) -> None:
    """Remove build-time secrets, host keys, per-boot state, logs and caches; add the first-boot unit."""
    for pattern in BUILD_LEFTOVERS:
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    clear_logs(rootfs / "var/log")
    for name, text in NEUTRAL_FILES.items():
        (rootfs / name).unlink(missing_ok=True)  # it may be a symlink to the build host's resolver
        (rootfs / name).write_text(text, encoding="utf-8")
    # An empty machine-id makes systemd generate a fresh one on first boot (machine-id(5)).
    (rootfs / "etc/machine-id").write_text("", encoding="utf-8")
    wants = rootfs / "etc/systemd/system/multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("cloison-firstboot.service", FIRSTBOOT_UNIT),
        ("cloison-site-address.service", SITE_ADDRESSES_UNIT),
    ):
        unit = rootfs / "etc/systemd/system" / name
        unit.write_text(text, encoding="utf-8")
        if not (wants / name).is_symlink():
            (wants / name).symlink_to(f"/etc/systemd/system/{name}")
    netns_unit = rootfs / "etc/systemd/system/cloison-netns-sysctl.service"
    netns_unit.write_text(NETNS_SYSCTL_UNIT, encoding="utf-8")
    sysinit = rootfs / "etc/systemd/system/sysinit.target.wants"
    sysinit.mkdir(parents=True, exist_ok=True)
    if not (sysinit / netns_unit.name).is_symlink():
        (sysinit / netns_unit.name).symlink_to(f"/etc/systemd/system/{netns_unit.name}")
    script = rootfs / "usr/local/sbin/cloison-firstboot"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(FIRSTBOOT_SCRIPT, encoding="utf-8")
    script.chmod(0o755)


def private_keys(rootfs: Path) -> list[str]:
    """Files that still hold a private key: the build refuses to pack them."""
    found = []
    for folder in ("etc", "root", "home", "var/lib", "opt", "usr/local"):
        base = rootfs / folder
        if not base.exists():
            continue
        for path in base.rglob("*"):
            if not path.is_file() or path.is_symlink() or path.stat().st_size > 1 << 20:
                continue
            try:
                head = path.read_bytes()[:65536]
            except OSError:
                continue
            if b"PRIVATE KEY-----" in head and b"BEGIN" in head:
                found.append(str(path.relative_to(rootfs)))
    return sorted(found)


@dataclass(frozen=True)
class BuildResult:
    folder: Path
    manifest: Manifest
    rootfs_bytes: int
    packages: int
    phases: dict[str, float] = field(default_factory=dict)  # phase -> wall seconds, in build order

    def timing(self) -> str:
        return ", ".join(f"{name} {seconds:.0f} s" for name, seconds in self.phases.items())


def du_bytes(path: Path) -> int:
    out = subprocess.run(["du", "-sb", "--apparent-size", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


@contextmanager
def _timed(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        phases[name] = time.monotonic() - started


def build(
    role_name: str,
    out: Path,
    key: Path,
    configurer: Configurer,
    work: Path,
    *,
    lists: Path = APT_LISTS,
) -> BuildResult:
    role = ROLES.get(role_name)
    if role is None:
        raise UsageError(f"unknown image role {role_name!r}: choose one of {', '.join(ROLES)}")
    snap = snapshot(lists)
    rootfs = work / f"{role.name}.rootfs"
    if rootfs.exists():
        shutil.rmtree(rootfs)
    phases: dict[str, float] = {}
    with _timed(phases, "mmdebstrap"):
        debootstrap(rootfs, (*BASE_PACKAGES, *role.packages), snap)
    with _timed(phases, "roles"):
        configurer.configure(rootfs, role)
    with _timed(phases, "clean"):
        clean(rootfs)
        leftovers = private_keys(rootfs)
    if leftovers:
        raise CloisonError(
            f"refusing to pack {role.name}: private keys left in the image: {', '.join(leftovers[:5])} "
            "(they must be generated on first boot or delivered by the pki role)"
        )
    out.mkdir(parents=True, exist_ok=True)
    size = du_bytes(rootfs)
    with _timed(phases, "sbom"):
        bom = sbom_for_rootfs(rootfs, f"cloison-{role.name}", __version__, snap.date)
        (out / "sbom.cdx.json").write_text(_json(bom), encoding="utf-8")
    with _timed(phases, "tar"):
        pack.pack_tar(rootfs, out, snap.epoch)
    with _timed(phases, "squashfs"):
        pack.pack_squashfs(rootfs, out, snap.epoch)
    with _timed(phases, "sign"):
        manifest = with_checksums(
            Manifest(f"cloison-{role.name}", role.name, __version__, SUITE, snap.date, snap.epoch, snap.releases),
            out,
            [pack.ROOTFS_TAR, pack.SQUASHFS, "sbom.cdx.json"],
        )
        (out / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        sign(out / MANIFEST, key)
    shutil.rmtree(rootfs)
    return BuildResult(out, manifest, size, len(bom["components"]), phases)


def _json(data: object) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"
