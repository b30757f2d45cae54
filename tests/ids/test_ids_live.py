"""The live sensor on a real interface: BPF, PACKET_STATISTICS, detection latency <= 1 s."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cidslab import veth_lab
from idsite import ATTACKER_IP, CAM_IPS, CAM_VLAN, RECORDER, attacker, cam_frame, write_allowlist
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

from ids import allowlist
from ids.bpf import media_exclusion
from ids.capture import LiveCapture
from ids.engine import Engine
from ids.signatures import ADMIN_CLEARTEXT, UNKNOWN_DEVICE

SENDER = r"""
import socket, sys, time
iface, path = sys.argv[1], sys.argv[2]
frames = [bytes.fromhex(line) for line in open(path).read().split()]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
for f in frames[:-1]:
    s.send(f)
time.sleep(0.3)
t = time.time()
s.send(frames[-1])  # the offending frame, sent last
print(repr(t))
"""


@pytest.mark.lab
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for namespaces and AF_PACKET")
def test_live_sensor_flags_an_attacker_within_a_second(tmp_path: Path) -> None:
    al = allowlist.load(write_allowlist(tmp_path))
    rtp = cam_frame() / IP(src=CAM_IPS[0], dst=RECORDER) / UDP(sport=6970, dport=50000) / Raw(b"\x80\x60" + bytes(200))
    rtcp = cam_frame() / IP(src=CAM_IPS[0], dst=RECORDER) / UDP(sport=6971, dport=50001) / Raw(b"\x80\xc8" + bytes(26))
    telnet = attacker() / IP(src=ATTACKER_IP, dst=CAM_IPS[0]) / TCP(sport=41000, dport=23, flags="S")
    # An ARP probe (sender 0.0.0.0) from an unknown MAC: only its 802.1Q tag says it is on
    # the camera VLAN, and the kernel strips that tag into the ring's metadata.
    probe = (
        Ether(src="02:55:55:55:55:55", dst="ff:ff:ff:ff:ff:ff")
        / Dot1Q(vlan=CAM_VLAN)
        / ARP(hwsrc="02:55:55:55:55:55", psrc="0.0.0.0", pdst=CAM_IPS[2])
    )
    rtp_frames = []
    for seq in range(1, 2001):  # RTP sequence numbers count up; 1 in 64 is let through
        rtp[Raw].load = b"\x80\x60" + seq.to_bytes(2, "big") + bytes(198)
        rtp_frames.append(bytes(rtp))
    frames = [*rtp_frames, *[bytes(rtcp)] * 5, bytes(probe), bytes(telnet)]
    hexfile = tmp_path / "frames.hex"
    hexfile.write_text("\n".join(f.hex() for f in frames))
    got: list[tuple[float, dict[str, Any]]] = []
    with veth_lab(f"t{os.getpid() % 100000}") as lab:
        bpf = media_exclusion(al)
        cap = LiveCapture(lab.sensor_if, bpf)
        engine = Engine(al, [lambda eve: got.append((time.time(), eve))])
        stop = threading.Event()
        runner = threading.Thread(target=cap.run, args=(engine, stop, 15.0), daemon=True)
        runner.start()
        try:
            out = subprocess.run(
                lab.in_ns(sys.executable, "-c", SENDER, lab.sender_if, str(hexfile)),
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            sent_at = float(out.stdout.strip())
            deadline = time.time() + 5
            while time.time() < deadline and not any(e["alert"]["signature_id"] == ADMIN_CLEARTEXT.sid for _, e in got):
                time.sleep(0.02)
        finally:
            stop.set()
            runner.join(timeout=5)
            received, drops = cap.kernel_stats()
            cap.close()
    alert_at, eve = next((t, e) for t, e in got if e["alert"]["signature_id"] == ADMIN_CLEARTEXT.sid)
    assert alert_at - sent_at <= 1.0, alert_at - sent_at
    assert eve["in_iface"] == lab.sensor_if and eve["src_ip"] == ATTACKER_IP
    assert drops == 0
    # The kernel filter kept RTP (even port) out but for 1 in 64, and let RTCP, the probe and
    # the attack through: 31 + 5 + 2 frames of 2,007.
    assert received == 38, (received, engine.stats(), [(f.packets, f.conn.hex()) for f in engine.flows])
    assert engine.packets == received
    unknown = [e for _, e in got if e["alert"]["signature_id"] == UNKNOWN_DEVICE.sid]
    # The probe (known only by its VLAN tag) and the attacker (by its camera-zone address).
    assert sorted(e["cloison"]["mac"] for e in unknown) == ["02:55:55:55:55:55", "02:66:66:66:66:66"]
