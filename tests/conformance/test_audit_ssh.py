"""OpenSSH server: effective settings (``sshd -T``) per ANSSI DAT-NT-007 and BP-028.

References: ANSSI DAT-NT-007 (R15 ciphers), BP-028 R32/R33, PA-022 R24/R31, hygiene 13, CNIL
fiche 4. Each setting is one parametrized case carrying its own control, so breaking one setting
fails exactly one control. PA-022 R24 (secured administration protocols) is served by sshd running
with strong algorithms only, not by every setting.
"""

from __future__ import annotations

import re

import pytest
from conformance_helpers import prefetch, run

pytestmark = pytest.mark.lab

SSHD_T = "sshd -T"
TMOUT = "grep -hs -E '^[^#]*TMOUT=' /etc/profile /etc/profile.d/*.sh /etc/bash.bashrc"
SSH_ACTIVE = "systemctl is-active ssh.service"
prefetch(SSHD_T, TMOUT, SSH_ACTIVE)

WEAK_CIPHER = ("cbc", "arcfour", "3des", "blowfish", "cast128")
WEAK_MAC = ("md5", "sha1", "umac-64", "ripemd")
WEAK_KEX = ("group1-sha1", "group14-sha1", "group-exchange-sha1")

# (sshd -T keyword, accepted values, control)


def _setting(keyword: str, accepted: set[str], control: str) -> object:
    return pytest.param(keyword, accepted, marks=pytest.mark.control(control), id=keyword)


SETTINGS = [
    _setting("passwordauthentication", {"no"}, "ANSSI-HYG-13"),
    _setting("kbdinteractiveauthentication", {"no"}, "ANSSI-HYG-13"),
    _setting("hostbasedauthentication", {"no"}, "ANSSI-HYG-13"),
    _setting("permitemptypasswords", {"no"}, "CNIL-F04"),
    _setting("permitrootlogin", {"no"}, "ANSSI-BP028-R33"),
    _setting("pubkeyauthentication", {"yes"}, "ANSSI-PA022-R37"),
    _setting("loglevel", {"VERBOSE"}, "ANSSI-PA022-R31"),
    _setting("x11forwarding", {"no"}, "ANSSI-BP028-R62"),
    _setting("permittunnel", {"no"}, "ANSSI-PA022-R17"),
]


@pytest.fixture(scope="module")
def sshd_t(host) -> dict[str, str]:
    rc, out = run(host, SSHD_T)
    assert rc == 0, f"sshd -T failed: {out[:300]}"
    settings: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key.lower(), value.strip())
    return settings


@pytest.mark.parametrize(("keyword", "accepted"), SETTINGS)
def test_sshd_setting(node, sshd_t, keyword, accepted, evidence) -> None:
    value = sshd_t.get(keyword, "<absent>")
    evidence(f"sshd -T: {keyword} {value}")
    assert value in accepted, f"sshd -T says {keyword} {value}, expected {' or '.join(sorted(accepted))}"


@pytest.mark.control("ANSSI-NT007-R15")
@pytest.mark.control("ANSSI-PA022-R24")
def test_sshd_algorithms(node, sshd_t, evidence) -> None:
    found = {k: sshd_t.get(k, "") for k in ("ciphers", "macs", "kexalgorithms")}
    evidence("\n".join(f"{k} {v}" for k, v in found.items()))
    weak = [
        f"{k}: {alg}"
        for k, words in (("ciphers", WEAK_CIPHER), ("macs", WEAK_MAC), ("kexalgorithms", WEAK_KEX))
        for alg in found[k].split(",")
        if any(w in alg for w in words)
    ]
    assert found["ciphers"], "sshd -T shows no ciphers"
    assert not weak, f"weak SSH algorithms offered: {', '.join(weak)}"


@pytest.mark.control("ANSSI-BP028-R32")
def test_idle_sessions_close(node, sshd_t, evidence) -> None:
    interval, count = int(sshd_t.get("clientaliveinterval", "0")), int(sshd_t.get("clientalivecountmax", "3"))
    evidence(f"clientaliveinterval {interval}, clientalivecountmax {count}")
    assert 0 < interval * count <= 900, f"idle SSH sessions are not closed within 15 min ({interval} s x {count})"


@pytest.mark.control("ANSSI-BP028-R32")
def test_idle_shells_close(node, host, evidence) -> None:
    _, out = run(host, TMOUT)
    evidence(f"TMOUT lines: {out or '<none>'}")
    values = [int(v) for v in re.findall(r"TMOUT=(\d+)", out)]
    assert values, "no TMOUT for interactive shells"
    assert all(0 < v <= 900 for v in values), f"TMOUT {values} exceeds 15 minutes"


@pytest.mark.control("ANSSI-PA022-R24")
def test_sshd_running(node, host, evidence) -> None:
    _, out = run(host, SSH_ACTIVE)
    evidence(f"ssh.service: {out}")
    assert out == "active", f"ssh.service is {out}"
