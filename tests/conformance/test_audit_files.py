"""File rights (ANSSI BP-028 R50, R53, R54, R56; PA-022 R37; hygiene 11): keys, secrets, set-id files."""

from __future__ import annotations

import pytest
from conformance_helpers import prefetch, run

pytestmark = pytest.mark.lab

KEY_DIRS = "/etc/ssh /etc/ssl/private /etc/freeradius /etc/swanctl /etc/ipsec.d /etc/nginx /etc/cloison /etc/rsyslog.d"
# Debian 12 set-id programs an appliance may keep (login, password change, sudo, mount, ssh).
SETID_OK = {
    "/usr/bin/passwd", "/usr/bin/chfn", "/usr/bin/chsh", "/usr/bin/gpasswd", "/usr/bin/newgrp", "/usr/bin/su",
    "/usr/bin/mount", "/usr/bin/umount", "/usr/bin/sudo", "/usr/bin/chage", "/usr/bin/expiry",
    "/usr/sbin/unix_chkpwd", "/usr/lib/openssh/ssh-keysign", "/usr/lib/dbus-1.0/dbus-daemon-launch-helper",
    "/usr/bin/crontab", "/usr/bin/ssh-agent", "/usr/sbin/pam_extrausers_chkpwd",
}  # fmt: skip


STAT = "xargs -r stat -c '%a %U %G %n'"
PRIVATE_KEYS = (
    f"{{ grep -rlsI -e 'PRIVATE KEY' {KEY_DIRS}; ls /etc/ssh/ssh_host_*_key; }} 2>/dev/null | sort -u | {STAT}"
)
ACCOUNT_DBS = "stat -c '%a %U %G %n' /etc/shadow /etc/gshadow /etc/passwd /etc/group"
AUTHORIZED_KEYS = (
    f"ls -d /root/.ssh /root/.ssh/authorized_keys /home/*/.ssh /home/*/.ssh/authorized_keys 2>/dev/null | {STAT}"
)
# One walk of the root file system for R53, R54 and R56 (a prefix tells which test each line is for).
FILE_SCAN = (
    r"find / -xdev \( \( -nouser -o -nogroup \) -printf 'orphan %p\n' \) -o "
    r"\( -type d -perm -0002 ! -perm -1000 -printf 'world %p\n' \) -o "
    r"\( -type f \( -perm -4000 -o -perm -2000 \) -printf 'setid %p\n' \) 2>/dev/null"
)
prefetch(PRIVATE_KEYS, ACCOUNT_DBS, AUTHORIZED_KEYS, FILE_SCAN)


def _scan(host, kind: str) -> list[str]:
    _, out = run(host, FILE_SCAN)
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith(kind + " ")]


def _stat(host, command: str) -> list[tuple[int, str, str, str]]:
    _, out = run(host, command)
    rows = []
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[0].isdigit():
            rows.append((int(parts[0], 8), parts[1], parts[2], parts[3]))
    return rows


@pytest.mark.control("ANSSI-BP028-R50", "ANSSI-HYG-11")
def test_private_keys_protected(node, host, evidence) -> None:
    rows = _stat(host, PRIVATE_KEYS)
    evidence("\n".join(f"{m:04o} {u}:{g} {n}" for m, u, g, n in rows) or "no private key found")
    bad = [f"{n} ({m:04o} {u}:{g})" for m, u, g, n in rows if m & 0o037 or (m & 0o040 and g in ("users", "staff"))]
    assert rows, "no private key found (SSH host keys at least are expected)"
    assert not bad, f"private keys readable beyond their owner/service group: {', '.join(bad)}"


@pytest.mark.control("ANSSI-BP028-R50", "ANSSI-HYG-11")
def test_account_databases_protected(node, host, evidence) -> None:
    rows = _stat(host, ACCOUNT_DBS)
    evidence("\n".join(f"{m:04o} {u}:{g} {n}" for m, u, g, n in rows))
    modes = {n: (m, u) for m, u, _, n in rows}
    for secret in ("/etc/shadow", "/etc/gshadow"):
        assert modes[secret][0] & 0o077 in (0, 0o040) and modes[secret][1] == "root", f"{secret} is too open"
    for public in ("/etc/passwd", "/etc/group"):
        assert not modes[public][0] & 0o022, f"{public} is writable by others"


@pytest.mark.control("ANSSI-PA022-R37")
def test_authorized_keys_private(node, host, evidence) -> None:
    rows = _stat(host, AUTHORIZED_KEYS)
    evidence("\n".join(f"{m:04o} {u}:{g} {n}" for m, u, g, n in rows) or "no authorized_keys")
    bad = [f"{n} {m:04o}" for m, _, _, n in rows if m & 0o077]
    owner = [f"{n} owned by {u}" for _, u, _, n in rows
             if u != "root" and not n.startswith(f"/home/{u}/")]  # fmt: skip
    assert not bad, f"SSH key files open to others: {', '.join(bad)}"
    assert not owner, f"SSH key files owned by someone else: {', '.join(owner)}"


@pytest.mark.control("ANSSI-BP028-R53")
def test_no_orphan_files(node, host, evidence) -> None:
    out = "\n".join(_scan(host, "orphan")[:20])
    evidence(f"files without a known owner: {out or 'none'}")
    assert not out, f"files without a known user or group: {out.splitlines()[:5]}"


@pytest.mark.control("ANSSI-BP028-R54")
def test_world_writable_dirs_sticky(node, host, evidence) -> None:
    out = "\n".join(_scan(host, "world")[:20])
    evidence(f"world-writable directories without the sticky bit: {out or 'none'}")
    assert not out, f"world-writable directories without the sticky bit: {out.splitlines()[:5]}"


@pytest.mark.control("ANSSI-BP028-R56")
def test_setid_files_known(node, host, evidence) -> None:
    found = sorted(_scan(host, "setid"))
    unknown = [p for p in found if p not in SETID_OK]
    evidence(f"set-id files: {found}")
    assert not unknown, f"set-id programs an appliance does not need: {', '.join(unknown)}"
