"""Zone detectors: camera to a public address, lateral movement, camera stream stopping."""

from __future__ import annotations

from pathlib import Path

from idsite import (
    CAM_IPS,
    OPERATOR,
    OPERATOR2,
    RECORDER,
    cam_frame,
    replay,
    sids,
    tcp_session,
    to_cam,
    udp,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from ids import signatures as S


def test_camera_talking_to_a_public_address(tmp_path: Path) -> None:
    pkts = tcp_session(cam_frame(1), to_cam(1), CAM_IPS[1], "203.0.113.250", 40000, 443, [], t0=1.0)
    pkts += tcp_session(cam_frame(1), to_cam(1), CAM_IPS[1], "8.8.4.4", 40001, 443, [], t0=2.0)
    alerts = replay(tmp_path, pkts)
    public = [a for a in alerts if a["alert"]["signature_id"] == S.CAMERA_PUBLIC.sid]
    # 203.0.113.0/24 is documentation space (not global); 8.8.4.4 is public.
    assert [a["dest_ip"] for a in public] == ["8.8.4.4"]
    assert public[0]["cloison"]["camera"] == "cam-ing-01-002"


def test_smb_between_cameras(tmp_path: Path) -> None:
    pkts = tcp_session(cam_frame(0), cam_frame(1), CAM_IPS[0], CAM_IPS[1], 40000, 445, [], t0=1.0)
    got = sids(replay(tmp_path, pkts))
    assert S.LATERAL_MOVEMENT.sid in got


def test_rdp_between_operator_workstations(tmp_path: Path) -> None:
    eth = Ether(src="02:00:00:00:30:21", dst="02:00:00:00:30:22")
    pkts = tcp_session(eth, eth, OPERATOR, OPERATOR2, 40000, 3389, [], t0=1.0)
    assert S.LATERAL_MOVEMENT.sid in sids(replay(tmp_path, pkts))


def _rtp(cam: int, seconds: float, t0: float = 0.0, rate: int = 10) -> list[Packet]:
    return [
        udp(cam_frame(cam), CAM_IPS[cam], RECORDER, 6970, 50000 + 2 * cam, b"\x80\x60" + bytes(10), t0 + i / rate)
        for i in range(int(seconds * rate))
    ]


def test_stream_stop_is_one_alert_for_the_silent_camera(tmp_path: Path) -> None:
    pkts = sorted(_rtp(0, 40) + _rtp(1, 12) + _rtp(2, 40), key=lambda p: float(p.time))
    alerts = replay(tmp_path, pkts)
    assert sids(alerts) == [S.STREAM_STOPPED.sid]
    a = alerts[0]
    assert a["cloison"]["camera"] == "cam-ing-01-002"
    assert a["src_ip"] == CAM_IPS[1] and a["dest_ip"] == RECORDER
    # stopped at ~12 s, timeout 10 s: the alert comes at ~22-23 s of capture time
    assert a["timestamp"].startswith(("1970-01-01T00:00:22", "1970-01-01T00:00:23"))


def test_stream_that_resumes_rearms(tmp_path: Path) -> None:
    # Gaps further apart than the 60 s deduplication window: two separate outages.
    pkts = _rtp(0, 5) + _rtp(0, 5, t0=80) + _rtp(3, 120)
    pkts.sort(key=lambda p: float(p.time))
    assert sids(replay(tmp_path, pkts)) == [S.STREAM_STOPPED.sid] * 2
