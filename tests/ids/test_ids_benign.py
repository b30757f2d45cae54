"""Benign captures produce no alert: a ten-minute camera site, plain and on a trunk mirror."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import benign
import pytest
from idsite import replay, write_allowlist

from ids import allowlist, pcapfile
from ids.decode import decode
from ids.engine import Engine


@pytest.fixture(scope="module")
def site_pcap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("benign") / "site-10min.pcap"
    return benign.write(path, benign.benign_site(seconds=630))


def test_the_capture_is_ten_minutes_of_the_expected_protocols(site_pcap: Path) -> None:
    recs = list(pcapfile.read(site_pcap))
    assert recs[-1][0] - recs[0][0] >= 600
    kinds: Counter[str] = Counter()
    for ts, lt, frame in recs:
        p = decode(ts, frame, lt)
        ports = {p.sport, p.dport}
        kinds["eapol"] += p.ethertype == 0x888E
        kinds["arp"] += p.ethertype == 0x0806
        kinds["rtsp"] += 554 in ports
        kinds["onvif"] += 80 in ports
        kinds["ntp"] += 123 in ports
        kinds["dhcp"] += 67 in ports
        kinds["dns"] += 53 in ports
        kinds["rtp"] += p.proto == 17 and p.dport >= 50000 and p.dport % 2 == 0
    assert all(kinds[k] > 0 for k in ("eapol", "arp", "rtsp", "onvif", "ntp", "dhcp", "dns"))
    assert kinds["rtp"] > 50_000


def test_benign_site_yields_zero_alerts(tmp_path: Path, site_pcap: Path) -> None:
    assert replay(tmp_path, site_pcap) == []


def test_benign_site_without_a_plan_yields_zero_alerts(tmp_path: Path, site_pcap: Path) -> None:
    assert replay(tmp_path, site_pcap, plan=False) == []


def test_rtp_bulk_takes_the_fast_path(tmp_path: Path, site_pcap: Path) -> None:
    engine = Engine(allowlist.load(write_allowlist(tmp_path)), [])
    for ts, lt, frame in pcapfile.read(site_pcap):
        engine.process(ts, lt, frame)
    s = engine.stats()
    assert s["alerts"] == 0
    assert s["slow_path"] < s["packets"] * 0.05, s  # >95 % decided from raw bytes


def test_feed_and_process_agree(tmp_path: Path, site_pcap: Path) -> None:
    """The batched replay loop and the per-frame entry point make the same decisions."""
    al = allowlist.load(write_allowlist(tmp_path))
    a, b = Engine(al, []), Engine(al, [])
    for ts, lt, frame in pcapfile.read(site_pcap):
        a.process(ts, lt, frame)
    b.feed(pcapfile.read(site_pcap))
    assert a.stats() == b.stats()
    assert a.stats()["packets"] > 60_000
