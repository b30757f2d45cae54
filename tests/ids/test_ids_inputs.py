"""Inputs: pcap and pcapng, Ethernet / 802.1Q / Linux SLL / SLL2 / raw IP, all one code path."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from idsite import (
    ATTACKER_IP,
    CAM_IPS,
    attacker,
    cam_frame,
    replay,
    run_cli,
    sids,
    tagged,
    tcp_session,
    write_allowlist,
)
from scapy.layers.inet import IP
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Ether
from scapy.packet import Packet
from scapy.utils import wrpcap, wrpcapng

from ids import pcapfile
from ids import signatures as S
from ids.decode import decode

EXPECTED = {S.ADMIN_CLEARTEXT.sid, S.UNEXPECTED_FLOW.sid, S.UNKNOWN_DEVICE.sid}


def _telnet() -> list[Packet]:
    return tcp_session(
        attacker(), cam_frame(), ATTACKER_IP, CAM_IPS[0], 41000, 23, [(b"root\r\n", b"Password: ")], t0=1.0
    )


def _relink(pkts: list[Packet], kind: str) -> list[Packet]:
    out = []
    for p in pkts:
        ip = p[IP]
        if kind == "sll":
            q = (
                CookedLinux(
                    pkttype=0,
                    lladdrtype=1,
                    lladdrlen=6,
                    src=bytes.fromhex(p[Ether].src.replace(":", "")) + b"\0\0",
                    proto=0x0800,
                )
                / ip
            )
        elif kind == "sll2":
            q = (
                CookedLinuxV2(
                    proto=0x0800,
                    ifindex=2,
                    lladdrtype=1,
                    pkttype=0,
                    lladdrlen=6,
                    src=bytes.fromhex(p[Ether].src.replace(":", "")) + b"\0\0",
                )
                / ip
            )
        else:
            q = ip
        q.time = p.time
        out.append(q)
    return out


@pytest.mark.parametrize("kind", ["ether", "dot1q", "sll", "sll2", "raw"])
def test_same_alerts_on_every_link_type(tmp_path: Path, kind: str) -> None:
    pkts = _telnet()
    if kind == "dot1q":
        pkts = tagged(pkts)
    elif kind != "ether":
        pkts = _relink(pkts, kind)
    # Raw IP carries no MAC, so there the unknown-device detector has nothing to judge.
    expected = EXPECTED - {S.UNKNOWN_DEVICE.sid} if kind == "raw" else EXPECTED
    assert set(sids(replay(tmp_path, pkts))) == expected


def test_pcapng_gives_the_same_alerts_as_pcap(tmp_path: Path) -> None:
    path = tmp_path / "telnet.pcapng"
    wrpcapng(str(path), _telnet())
    alerts = replay(tmp_path, path)
    assert set(sids(alerts)) == EXPECTED
    assert alerts[0]["timestamp"].startswith("1970-01-01T00:00:01.0")


def test_several_files_are_one_stream(tmp_path: Path) -> None:
    pkts = _telnet()
    wrpcap(str(tmp_path / "a.pcap"), pkts[:2])
    wrpcap(str(tmp_path / "b.pcap"), pkts[2:])

    eve = tmp_path / "eve.json"
    rc = run_cli(
        [
            "ids",
            "replay",
            str(tmp_path / "a.pcap"),
            str(tmp_path / "b.pcap"),
            "--allowlist",
            str(write_allowlist(tmp_path)),
            "--eve",
            str(eve),
        ]
    )
    # One connection across both files: one alert per signature, not one per file.
    assert rc == 0 and len(eve.read_text().splitlines()) == len(EXPECTED)


def test_nanosecond_pcap_and_truncated_tail(tmp_path: Path) -> None:
    frame = bytes(cam_frame() / IP(src=CAM_IPS[0], dst="10.0.10.10"))
    path = tmp_path / "ns.pcap"
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        fh.write(struct.pack("<IIII", 5, 250_000_000, len(frame), len(frame)) + frame)
        fh.write(struct.pack("<IIII", 6, 0, 500, 500) + frame[:10])  # cut mid-record
    recs = list(pcapfile.read(path))
    assert len(recs) == 1 and recs[0][0] == pytest.approx(5.25) and recs[0][2] == frame


def test_decode_fields_from_raw_bytes() -> None:
    p = tagged(_telnet())[0]
    d = decode(1.0, bytes(p), 1)
    assert d.vlan == 110 and d.version == 4 and d.proto == 6
    assert (d.sport, d.dport, d.flags) == (41000, 23, 0x02)
    assert d.src == bytes([10, 64, 0, 66])
    # The directional key equals what the engine slices from an untagged frame.
    raw = bytes(_telnet()[0])
    assert decode(1.0, raw, 1).key() == raw[6:12] + raw[23:24] + raw[26:38]
