"""Reachability: cases derived from the plan and the lab topology (pure), and probes on real namespaces."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from segmenting.api import load_plan
from segmenting.conformance.reachability import Endpoint, ProbeCase, allowed_by, build_cases, endpoints, run_cases
from segmenting.lab.topology import build_topology

ROOT = Path(__file__).resolve().parents[3]
PLAN = load_plan(ROOT / "inventory" / "ingeagglo")
EPS = endpoints(PLAN, build_topology(PLAN))
CASES = build_cases(PLAN, EPS)


def _by(case: str) -> list[ProbeCase]:
    return [c for c in CASES if c.case == case]


def test_every_named_forbidden_path_is_probed_and_denied() -> None:
    for name in ("camera->internet", "camera->camera", "state->csu", "internet->ssh",
                 "maintainer->switch (no window)", "non-admin zone->ssh", "internet->cleartext"):  # fmt: skip
        cases = _by(name)
        assert cases, f"no {name} case"
        assert all(c.expected == "deny" and c.flow is None for c in cases), name


def test_allowed_flows_are_probed_with_their_controls() -> None:
    allowed = _by("allowed-flow")
    flows = {c.flow for c in allowed}
    assert {"F-csu-state-relay", "F-csu-maint-ike", "F-csu-admin-ssh", "F-csu-hosts-dns"} <= flows
    for c in allowed:
        flow = next(f for f in PLAN.flows if f.id == c.flow)
        assert c.expected == "allow" and c.controls == flow.controls and c.src.ns != c.dst.ns
        if flow.src_site:
            assert c.src.site == flow.src_site


def test_expectation_comes_from_the_plan() -> None:
    relay = next(e for e in EPS if e.id == "relay-public")
    state = next(e for e in EPS if e.zone == "state")
    found = allowed_by(PLAN, state, relay, "tcp", PLAN.state.relay_port)
    assert found is not None and found.id == "F-csu-state-relay"
    assert allowed_by(PLAN, state, relay, "tcp", 22) is None
    cam = next(e for e in EPS if e.zone == "cameras")
    ntp = next(e for e in EPS if e.id == "csu-ntp")
    found = allowed_by(PLAN, cam, ntp, "udp", 123)
    assert found is not None and found.id == f"F-{cam.site}-cam-ntp"
    assert allowed_by(PLAN, cam, ntp, "tcp", 123) is None


# --- probes on real network namespaces (root): one listener, drop rules -------------------------

NS_A, NS_B = "caud-pa", "caud-pb"
SETUP = f"""
set -e
ip netns add {NS_A}; ip netns add {NS_B}
ip link add caud-va netns {NS_A} type veth peer name caud-vb netns {NS_B}
ip -n {NS_A} addr add 203.0.113.201/24 dev caud-va; ip -n {NS_B} addr add 203.0.113.202/24 dev caud-vb
ip -n {NS_A} link set caud-va up; ip -n {NS_B} link set caud-vb up
ip -n {NS_A} link set lo up; ip -n {NS_B} link set lo up
printf '%s\\n' 'table inet caud {{ chain input {{ type filter hook input priority 0; policy accept;' \
  'tcp dport 2222 drop' 'udp dport 5353 drop' 'ct state new udp dport 4444 counter' '}}' '}}' \
  | ip netns exec {NS_B} nft -f -
printf '%s\\n' 'table inet caud {{ chain output {{ type filter hook output priority 0; policy accept;' \
  'udp dport 7777 drop' '}}' '}}' | ip netns exec {NS_A} nft -f -
printf '%s\\n' 'table ip caudnat {{ chain post {{ type nat hook postrouting priority 100;' \
  'udp dport 4446 snat to 203.0.113.203' '}}' '}}' | ip netns exec {NS_A} nft -f -
"""
LISTENER = (
    "import socket,time\n"
    "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "s.bind(('203.0.113.202',8554));s.listen(5)\n"
    "u=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);u.bind(('203.0.113.202',4444))\n"
    "v=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);v.bind(('203.0.113.202',4446))\n"
    "print('up',flush=True);time.sleep(60)\n"
)


@pytest.fixture
def two_namespaces():
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    try:
        subprocess.run(["sh", "-c", SETUP], check=True, capture_output=True, text=True)
        listener = subprocess.Popen(
            ["ip", "netns", "exec", NS_B, "/usr/bin/python3", "-c", LISTENER], stdout=subprocess.PIPE, text=True
        )
        assert listener.stdout is not None and listener.stdout.readline().strip() == "up"
        yield
        listener.kill()
        listener.wait()
    finally:
        for ns in (NS_A, NS_B):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def test_probes_classify_what_comes_back(two_namespaces) -> None:
    a = Endpoint("a", NS_A, "203.0.113.201", "cameras")
    b = Endpoint("b", NS_B, "203.0.113.202", "recording")
    cases = [
        ProbeCase("t", a, b, "tcp", 8554, "allow", None, ()),  # listener
        ProbeCase("t", a, b, "tcp", 8555, "allow", None, ()),  # RST: reached, nothing listens
        ProbeCase("t", a, b, "tcp", 2222, "deny", None, ()),  # dropped
        ProbeCase("t", a, b, "udp", 9999, "allow", None, ()),  # ICMP port unreachable
        ProbeCase("t", a, b, "udp", 5353, "deny", None, ()),  # dropped
        ProbeCase("t", a, b, "udp", 4444, "allow", None, ()),  # bound, silent: conntrack saw it
        ProbeCase("t", a, b, "icmp", None, "allow", None, ()),
        ProbeCase("t", Endpoint("x", NS_A, "198.51.100.9", "cameras"), b, "tcp", 8554, "deny", None, ()),
        ProbeCase("t", a, b, "udp", 7777, "allow", None, ()),  # refused by the source's own output chain
    ]
    started = time.monotonic()
    observed = run_cases(cases, timeout=1.0)
    assert observed[:7] == ["open", "refused", "timeout", "refused", "silent", "delivered", "open"]
    assert observed[7].startswith("error: bind")
    assert observed[8] == "filtered"  # EPERM from the sender's netfilter: blocked, not "could not run"
    assert time.monotonic() - started < 10  # probes of one source run in parallel


def test_a_datagram_through_a_nat_is_seen_as_the_nat_address(two_namespaces) -> None:
    """A cellular site's gateway sits behind its operator's CGNAT: the destination's conntrack
    knows the datagram by the NAT's address (and the probe's source port), not the gateway's."""
    b = Endpoint("b", NS_B, "203.0.113.202", "transport")
    natted = Endpoint("gw-wan", NS_A, "203.0.113.201", "transport", seen_as="203.0.113.203")
    naive = Endpoint("gw-wan", NS_A, "203.0.113.201", "transport")
    elsewhere = Endpoint("gw-wan", NS_A, "203.0.113.201", "transport", seen_as="203.0.113.209")
    cases = [ProbeCase("t", e, b, "udp", 4446, "allow", None, ()) for e in (natted, naive, elsewhere)]
    assert run_cases(cases, timeout=1.0) == ["delivered", "silent", "silent"]
