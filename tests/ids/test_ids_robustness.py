"""Robustness: fuzzed and truncated frames never crash the sensor; memory stays bounded.

The fuzz corpus is built once with Scapy's ``fuzz()`` over every layer stack the sensor
decodes (and each frame is also fed truncated), then pushed through the same entry point as
live and replayed frames: the raw fast path, the decoder and every detector.
"""

from __future__ import annotations

import gc
import os
import random
from pathlib import Path

import pytest
from idsite import write_allowlist
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptSrcLLAddr, IPv6, IPv6ExtHdrFragment
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, Raw, fuzz

from ids import allowlist
from ids.decode import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW
from ids.engine import Engine
from ids.flows import FlowTable, conn_key


def E() -> Ether:
    """Explicit MACs: Scapy would otherwise resolve them (route and ARP look-ups) per build."""
    return Ether(src="02:00:00:00:00:aa", dst="02:00:00:00:00:bb")


TEMPLATES: list[Packet] = [
    E() / IP() / TCP() / Raw(b"GET / HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n"),
    E() / IP() / TCP(sport=21) / Raw(b"530 no\r\n"),
    E() / IP() / UDP(dport=53) / DNS(qd=DNSQR(qname="a.example")),
    E() / IP() / UDP(sport=67, dport=68) / BOOTP() / DHCP(options=[("message-type", 2), "end"]),
    E() / ARP(),
    E() / Dot1Q() / IP() / UDP() / Raw(b"\x80" * 12),
    E() / Dot1Q() / Dot1Q() / IP() / TCP(),
    E() / IPv6() / ICMPv6ND_RA() / ICMPv6NDOptSrcLLAddr(),
    E() / IPv6() / IPv6ExtHdrFragment() / UDP(),
    E() / IP() / ICMP(),
]
N_FRAMES = 100_000
N_FUZZ = 2_000  # fuzz() costs ~1-10 ms a frame on this shared machine: 100k would take minutes
LINKTYPES = [LINKTYPE_ETHERNET] * 3 + [LINKTYPE_RAW, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2]


@pytest.fixture(scope="module")
def corpus() -> list[tuple[int, bytes]]:
    """2,000 frames from Scapy's fuzz(), each fed whole, cut at 25 random lengths and with 24
    random byte mutations: 100,000 frames, built once, almost all of them malformed."""
    rnd = random.Random(1234)
    frames: list[tuple[int, bytes]] = []
    built = 0
    while built < N_FUZZ:
        tpl = TEMPLATES[built % len(TEMPLATES)]
        try:
            raw = bytes(fuzz(tpl))
        except Exception:
            continue
        built += 1
        frames.append((LINKTYPE_ETHERNET, raw))
        for _ in range(25):
            frames.append((rnd.choice(LINKTYPES), raw[: rnd.randrange(0, len(raw) + 1)]))
        for _ in range(24):
            mutated = bytearray(raw)
            for _ in range(rnd.randrange(1, 5)):
                mutated[rnd.randrange(len(mutated))] = rnd.randrange(256)
            frames.append((rnd.choice(LINKTYPES), bytes(mutated)))
    return frames


def test_fuzzed_frames_never_crash(tmp_path: Path, corpus: list[tuple[int, bytes]]) -> None:
    alerts: list[dict[str, object]] = []
    engine = Engine(allowlist.load(write_allowlist(tmp_path)), [alerts.append])
    ts = 1_790_000_000.0
    for i, (linktype, frame) in enumerate(corpus):
        engine.process(ts + i * 1e-4, linktype, frame)
    assert engine.packets == len(corpus) >= N_FRAMES
    nop = Engine(None, [])
    for i, (linktype, frame) in enumerate(corpus[:20_000]):
        nop.process(ts + i * 1e-4, linktype, frame)
    assert nop.packets == 20_000


def _rss() -> int:
    """Resident set size in bytes (tracemalloc would slow a million inserts tenfold)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_million_flow_scan_keeps_memory_bounded() -> None:
    cap = 50_000
    table = FlowTable(max_flows=cap, ttl=30.0)
    gc.collect()
    rss_start = _rss()
    rss_at_cap = 0
    dst = b"\x0a\x40\x00\x0b"
    for i in range(1_000_000):
        src = (0x0A000000 + i).to_bytes(4, "big")
        conn = conn_key(6, src, 40000, dst, 554)
        table.bind(b"\x02\x00\x00\x00\x00\x66" + conn, table.create(conn, i * 1e-3, src))
        if i == 4 * cap:
            rss_at_cap = _rss()
        if i % 50_000 == 0:
            table.expire(i * 1e-3)
    rss_end = _rss()
    assert len(table) <= cap and len(table.by_key) <= cap
    assert table.evicted + table.expired + len(table) == 1_000_000
    # After a million flows the process is no bigger than after 200k: bounded, not growing.
    assert rss_end - rss_at_cap < 8 * 1024 * 1024, (rss_start, rss_at_cap, rss_end)
    assert rss_end - rss_start < 64 * 1024 * 1024, (rss_start, rss_end)


def test_engine_under_a_scan_keeps_its_table_capped(tmp_path: Path) -> None:
    engine = Engine(allowlist.load(write_allowlist(tmp_path)), [], max_flows=2_000)
    tpl = bytearray(bytes(E() / IP(src="10.64.0.66", dst="10.64.0.11") / TCP(flags="S")))
    for i in range(20_000):
        tpl[30:34] = (0x0A400000 + i % 65536).to_bytes(4, "big")  # destination address
        tpl[36:38] = (i % 50000 + 1).to_bytes(2, "big")  # destination port
        engine.process(1000.0 + i * 1e-4, LINKTYPE_ETHERNET, bytes(tpl))
    assert len(engine.flows) <= 2_000
    assert engine.stats()["alerts"] <= 60  # scans and unexpected flows, rate-limited
