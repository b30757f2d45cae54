"""Kernel parameters (ANSSI BP-028 R8, R9, R11, R12, R13, R14): the values the running kernel uses.

``net.*`` parameters belong to the host's network namespace; the others are kernel-wide, so on a
container they show the machine's values (the report says so through a waiver, not by hiding it).
"""

from __future__ import annotations

import pytest
from conformance_helpers import sysctl

pytestmark = pytest.mark.lab


def _k(key: str, op: str, value: int, control: str) -> object:
    return pytest.param(key, op, value, marks=pytest.mark.control(control), id=key)


KERNEL_WIDE = [
    _k("vm.mmap_min_addr", ">=", 65536, "ANSSI-BP028-R8"),
    _k("fs.suid_dumpable", "==", 0, "ANSSI-BP028-R8"),
    _k("kernel.dmesg_restrict", "==", 1, "ANSSI-BP028-R9"),
    _k("kernel.kptr_restrict", ">=", 1, "ANSSI-BP028-R9"),
    _k("kernel.perf_event_paranoid", ">=", 2, "ANSSI-BP028-R9"),
    _k("kernel.randomize_va_space", "==", 2, "ANSSI-BP028-R9"),
    _k("kernel.sysrq", "==", 0, "ANSSI-BP028-R9"),
    _k("kernel.unprivileged_bpf_disabled", ">=", 1, "ANSSI-BP028-R9"),
    _k("kernel.yama.ptrace_scope", ">=", 1, "ANSSI-BP028-R11"),
    _k("fs.protected_fifos", "==", 2, "ANSSI-BP028-R14"),
    _k("fs.protected_regular", "==", 2, "ANSSI-BP028-R14"),
    _k("fs.protected_symlinks", "==", 1, "ANSSI-BP028-R14"),
    _k("fs.protected_hardlinks", "==", 1, "ANSSI-BP028-R14"),
]

NETWORK = [
    _k("net.ipv4.conf.all.accept_redirects", "==", 0, "ANSSI-BP028-R12"),
    _k("net.ipv4.conf.default.accept_redirects", "==", 0, "ANSSI-BP028-R12"),
    _k("net.ipv4.conf.all.secure_redirects", "==", 0, "ANSSI-BP028-R12"),
    _k("net.ipv4.conf.all.send_redirects", "==", 0, "ANSSI-BP028-R12"),
    _k("net.ipv4.conf.all.accept_source_route", "==", 0, "ANSSI-BP028-R12"),
    _k("net.ipv4.conf.all.rp_filter", "==", 1, "ANSSI-BP028-R12"),
    _k("net.ipv4.conf.all.route_localnet", "==", 0, "ANSSI-BP028-R12"),
    _k("net.ipv4.icmp_ignore_bogus_error_responses", "==", 1, "ANSSI-BP028-R12"),
    _k("net.ipv4.tcp_syncookies", "==", 1, "ANSSI-BP028-R12"),
    _k("net.ipv4.tcp_rfc1337", "==", 1, "ANSSI-BP028-R12"),
    _k("net.ipv6.conf.all.disable_ipv6", "==", 1, "ANSSI-BP028-R13"),
    _k("net.ipv6.conf.default.disable_ipv6", "==", 1, "ANSSI-BP028-R13"),
]

ROUTERS = {"gateway", "firewall", "vpn"}


def _holds(found: str, op: str, want: int) -> bool:
    if not found.lstrip("-").isdigit():
        return False
    return int(found) >= want if op == ">=" else int(found) == want


# Each parameter cites its own control: a kernel-wide parameter is not an IPv4 option (R12).
@pytest.mark.parametrize(("key", "op", "want"), KERNEL_WIDE + NETWORK)
def test_sysctl(node, host, key, op, want, evidence) -> None:
    found = sysctl(host, key)
    evidence(f"sysctl {key} = {found}")
    assert _holds(found, op, want), f"{key} is {found}, expected {op} {want}"


@pytest.mark.control("ANSSI-BP028-R12")
def test_forwarding_only_on_routers(node, host, evidence) -> None:
    """Only hosts the plan makes route (gateways, CSU firewall, VPN) forward packets."""
    found = sysctl(host, "net.ipv4.ip_forward")
    router = bool(ROUTERS & set(node.kinds))
    evidence(
        f"net.ipv4.ip_forward = {found} (plan kinds {', '.join(node.kinds)}: {'router' if router else 'not a router'})"
    )
    assert found == ("1" if router else "0"), f"ip_forward {found} on a {'router' if router else 'non-routing host'}"
