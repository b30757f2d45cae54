"""Accounts and stored passwords (ANSSI BP-028 R30, R31, R34, R35, R68; PA-022 R30; hygiene 10–12;
CNIL fiche 4). Reads /etc/passwd, /etc/group, /etc/shadow (password hashes are never reported,
only their scheme) and /etc/login.defs.
"""

from __future__ import annotations

import pytest
from conformance_helpers import prefetch, run

pytestmark = pytest.mark.lab

VENDOR_ACCOUNTS = {"pi", "ubnt", "admin", "user", "guest", "debian", "vagrant", "test", "support", "default", "cisco"}
LOGIN_SHELLS = ("/bin/sh", "/bin/bash", "/usr/bin/bash", "/usr/bin/sh", "/bin/zsh", "/usr/bin/zsh", "/bin/dash")
STRONG_HASH = ("$y$", "$gy$", "$6$", "$7$")
LOCKED = ("!", "*")
ADMIN_GROUP = "cloison-admins"

PASSWD = "getent passwd"
SHADOW = "cat /etc/shadow"
LOGIN_DEFS = "grep -E '^[A-Z_]+[[:space:]]' /etc/login.defs"
ADMINS = "getent group cloison-admins"
prefetch(PASSWD, SHADOW, LOGIN_DEFS, ADMINS)


@pytest.fixture(scope="module")
def passwd(host) -> list[list[str]]:
    _, out = run(host, PASSWD)
    return [line.split(":") for line in out.splitlines() if line.count(":") == 6]


@pytest.fixture(scope="module")
def shadow(host) -> dict[str, str]:
    rc, out = run(host, SHADOW)
    assert rc == 0, f"cannot read /etc/shadow: {out[:100]}"
    return {f[0]: f[1] for f in (line.split(":") for line in out.splitlines()) if len(f) > 1}


@pytest.fixture(scope="module")
def login_defs(host) -> dict[str, str]:
    _, out = run(host, LOGIN_DEFS)
    return {p[0]: p[1] for p in (line.split() for line in out.splitlines()) if len(p) >= 2}


@pytest.mark.control("ANSSI-BP028-R30", "ANSSI-HYG-12")
def test_no_vendor_or_default_account(node, passwd, evidence) -> None:
    found = sorted(f[0] for f in passwd if f[0] in VENDOR_ACCOUNTS)
    evidence(f"{len(passwd)} accounts; vendor/default names present: {found or 'none'}")
    assert not found, f"default or vendor accounts present: {', '.join(found)}"


@pytest.mark.control("ANSSI-BP028-R31", "ANSSI-HYG-10")
def test_password_rules(node, login_defs, evidence) -> None:
    keys = ("PASS_MAX_DAYS", "PASS_MIN_DAYS", "LOGIN_RETRIES", "ENCRYPT_METHOD")
    evidence("login.defs: " + ", ".join(f"{k}={login_defs.get(k, '<unset>')}" for k in keys))
    assert 0 < int(login_defs.get("PASS_MAX_DAYS", "99999")) <= 365, "passwords never expire (PASS_MAX_DAYS)"
    assert int(login_defs.get("PASS_MIN_DAYS", "0")) >= 1, "PASS_MIN_DAYS allows immediate re-change"
    assert int(login_defs.get("LOGIN_RETRIES", "5")) <= 5, "too many login retries"


@pytest.mark.control("ANSSI-BP028-R34")
def test_service_accounts_have_no_shell(node, passwd, evidence) -> None:
    bad = [f"{f[0]} ({f[6]})" for f in passwd if 0 < int(f[2]) < 1000 and f[0] != "sync" and f[6] in LOGIN_SHELLS]
    evidence(f"system accounts with a login shell: {bad or 'none'}")
    assert not bad, f"service accounts with a login shell: {', '.join(bad)}"


@pytest.mark.control("ANSSI-BP028-R35", "CNIL-F04")
def test_identifiers_unique(node, passwd, evidence) -> None:
    uids: dict[str, list[str]] = {}
    for f in passwd:
        uids.setdefault(f[2], []).append(f[0])
    names = [f[0] for f in passwd]
    dup = {u: n for u, n in uids.items() if len(n) > 1}
    evidence(f"{len(names)} accounts, duplicate UIDs: {dup or 'none'}")
    assert not dup, f"accounts share a UID: {dup}"
    assert len(set(names)) == len(names), "duplicate account names"


@pytest.mark.control("ANSSI-BP028-R68", "ANSSI-HYG-11")
def test_stored_passwords_strong(node, shadow, login_defs, evidence) -> None:
    schemes = {user: ("locked" if h.startswith(LOCKED) or h == "" else h.split("$")[1] if "$" in h else "?")
               for user, h in shadow.items()}  # fmt: skip
    weak = sorted(u for u, h in shadow.items() if h and not h.startswith(LOCKED) and not h.startswith(STRONG_HASH))
    evidence(f"ENCRYPT_METHOD {login_defs.get('ENCRYPT_METHOD')}; hash schemes: "
             + ", ".join(f"{u}:{s}" for u, s in sorted(schemes.items()) if s != "locked"))  # fmt: skip
    assert login_defs.get("ENCRYPT_METHOD", "").upper() in ("YESCRYPT", "SHA512"), "weak ENCRYPT_METHOD"
    assert not weak, f"passwords stored with a weak hash: {', '.join(weak)}"


@pytest.mark.control("ANSSI-HYG-12", "CNIL-F04")
def test_no_empty_password(node, shadow, evidence) -> None:
    empty = sorted(u for u, h in shadow.items() if h == "")
    evidence(f"accounts with an empty password field: {empty or 'none'}")
    assert not empty, f"accounts without a password: {', '.join(empty)}"


@pytest.mark.control("ANSSI-PA022-R30")
def test_individual_admin_accounts(node, host, passwd, evidence) -> None:
    root_uids = [f[0] for f in passwd if f[2] == "0"]
    _, members = run(host, ADMINS)
    admins = set(members.rsplit(":", 1)[-1].split(",")) - {""} if members else set()
    humans = [f[0] for f in passwd if int(f[2]) >= 1000 and f[0] != "nobody" and f[6] in LOGIN_SHELLS]
    outside = sorted(set(humans) - admins)
    evidence(f"UID 0: {root_uids}; {ADMIN_GROUP}: {sorted(admins) or 'none'}; login accounts: {humans or 'none'}")
    assert root_uids == ["root"], f"several UID 0 accounts: {root_uids}"
    assert not outside, f"login accounts outside {ADMIN_GROUP}: {', '.join(outside)}"
    assert not (admins & VENDOR_ACCOUNTS), "a shared/generic account is an administrator"
