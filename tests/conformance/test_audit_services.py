"""Network services (ANSSI hygiene 21, BP-028 R62/R74/R80, PA-022 R17, CNIL fiche 8).

What listens on each host, read with ``ss``, compared with the plan: the ports the plan's flows
open toward the hosts this node plays, SSH on the administration side, nothing in clear text.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest
from conformance_helpers import listeners, prefetch, run

pytestmark = pytest.mark.lab

CLEARTEXT = {
    ("tcp", 21): "ftp",
    ("tcp", 23): "telnet",
    ("udp", 69): "tftp",
    ("tcp", 513): "rlogin",
    ("tcp", 514): "rsh",
}
CLEARTEXT_DAEMONS = ("telnetd", "in.telnetd", "ftpd", "vsftpd", "proftpd", "in.tftpd", "tftpd", "inetd", "xinetd")
UNWANTED_UNITS = ("avahi-daemon", "cups", "rpcbind", "nfs-server", "bluetooth", "ModemManager", "xinetd", "inetd",
                  "telnet.socket", "tftpd-hpa", "vsftpd")  # fmt: skip
ADMIN_PORTS = {("tcp", 22), ("udp", 161), ("tcp", 830), ("tcp", 8443)}
EPHEMERAL = 32768

UNWANTED_ACTIVE = "systemctl is-active " + " ".join(UNWANTED_UNITS) + " 2>/dev/null"
prefetch(UNWANTED_ACTIVE)


def _loopback(addr: str) -> bool:
    try:
        return ip_address(addr).is_loopback
    except ValueError:
        return addr in ("localhost",)


def _wildcard(addr: str) -> bool:
    return addr in ("0.0.0.0", "::", "*")


@pytest.fixture(scope="module")
def socks(host) -> list[tuple[str, str, int, str]]:
    return listeners(host)


@pytest.mark.control("ANSSI-HYG-21", "CNIL-F08")
def test_no_cleartext_listener(node, socks, evidence) -> None:
    evidence("listeners: " + ", ".join(f"{p} {a}:{port} ({proc})" for p, a, port, proc in socks))
    bad = [f"{CLEARTEXT[(p, port)]} on {a}:{port}" for p, a, port, _ in socks if (p, port) in CLEARTEXT]
    bad += [f"{proc} on {a}:{port}" for p, a, port, proc in socks if proc in CLEARTEXT_DAEMONS]
    assert not bad, f"clear-text services listening: {', '.join(bad)}"


@pytest.mark.control("ANSSI-BP028-R62", "CNIL-F09")
def test_unneeded_services_inactive(node, host, evidence) -> None:
    _, out = run(host, UNWANTED_ACTIVE)
    states = dict(zip(UNWANTED_UNITS, out.splitlines(), strict=False))
    active = [u for u, s in states.items() if s == "active"]
    evidence(f"unneeded units active: {active or 'none'}")
    assert not active, f"unneeded services running: {', '.join(active)}"


@pytest.mark.control("ANSSI-BP028-R74")
def test_mail_local_only(node, socks, evidence) -> None:
    smtp = [f"{a}:{port}" for p, a, port, _ in socks if p == "tcp" and port in (25, 465, 587)]
    evidence(f"SMTP listeners: {smtp or 'none'}")
    assert all(_loopback(s.rsplit(":", 1)[0]) for s in smtp), f"mail service reachable from the network: {smtp}"


@pytest.mark.control("ANSSI-BP028-R80")
def test_listeners_match_the_plan(node, socks, plan, evidence) -> None:
    ips = {plan.host(h).ip for h in node.plays}
    expected: set[tuple[str, int]] = {("tcp", 22)}
    for flow in plan.flows:
        if any(ip_address(ip) in ip_network(c, strict=False) for ip in ips for c in flow.dst_cidrs if c != "0.0.0.0/0"):
            expected.update((flow.proto, port) for lo, hi in flow.ports for port in range(lo, min(hi, lo + 16) + 1))
    if "gateway" in node.kinds:  # an IKE initiator binds its ports too (its site's tunnel flow)
        for flow in plan.flows:
            if flow.service == "ike" and flow.src_site == node.site:
                expected.update((flow.proto, lo) for lo, _ in flow.ports)
    if {"vpn"} & set(node.kinds) or "relay" in node.kinds:  # public endpoints of the CSU
        for flow in plan.flows:
            if set(flow.dst_kinds) & set(node.kinds):
                expected.update((flow.proto, lo) for lo, _ in flow.ports)
    exposed = [(p, a, port, proc) for p, a, port, proc in socks if not _loopback(a)]
    extra = sorted({f"{p}/{port} ({proc})" for p, a, port, proc in exposed
                    if (p, port) not in expected and not (p == "udp" and port >= EPHEMERAL)})  # fmt: skip
    evidence(f"plan expects {sorted(f'{p}/{port}' for p, port in expected)}; exposed: "
             + ", ".join(f"{p} {a}:{port} ({proc})" for p, a, port, proc in exposed))  # fmt: skip
    assert not extra, f"listening but not in the plan: {', '.join(extra)}"


@pytest.mark.control("ANSSI-PA022-R17")
def test_admin_ports_on_admin_side(node, socks, plan, evidence) -> None:
    """SSH and other admin ports are bound to the administration side only, never to every interface."""
    allowed = {node.mgmt_ip} | {plan.host(h).ip for h in node.plays}
    admin = [(p, a, port) for p, a, port, _ in socks if (p, port) in ADMIN_PORTS and not _loopback(a)]
    evidence(f"admin listeners: {[f'{p} {a}:{port}' for p, a, port in admin] or 'none'}; "
             f"administration-side addresses: {sorted(allowed)}")  # fmt: skip
    wide = [f"{p} {a}:{port}" for p, a, port in admin if _wildcard(a) or a not in allowed]
    assert not wide, f"admin ports bound beyond the administration side: {', '.join(wide)}"
