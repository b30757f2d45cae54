"""Unexpected flow: a connection the allowlist does not allow, by zone, protocol and port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from idsite import (
    CAM_IPS,
    OPERATOR,
    RECORDER,
    allowlist_doc,
    cam_frame,
    replay,
    run_cli,
    sids,
    tcp_session,
    to_cam,
)
from scapy.layers.inet import IP, TCP
from scapy.utils import wrpcap

from ids import signatures as S


def test_operator_to_camera_rtsp_is_unexpected(tmp_path: Path) -> None:
    pkts = tcp_session(
        to_cam(),
        cam_frame(),
        OPERATOR,
        CAM_IPS[0],
        40000,
        554,
        [(b"OPTIONS rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", b"")],
        t0=100.0,
    )
    alerts = replay(tmp_path, pkts)
    assert sids(alerts) == [S.UNEXPECTED_FLOW.sid]
    a = alerts[0]
    assert a["src_ip"] == OPERATOR and a["dest_ip"] == CAM_IPS[0]
    assert a["dest_port"] == 554 and a["proto"] == "TCP"
    assert a["cloison"]["zone"] == "operators" and a["cloison"]["dest_zone"] == "cameras"
    assert a["cloison"]["camera"] == "cam-ing-01-001"
    assert a["cloison"]["site"] == "csu"
    assert "ANSSI-HYG-19" in a["cloison"]["controls"]
    assert a["community_id"].startswith("1:")
    assert a["timestamp"].startswith("1970-01-01T00:01:40.000000")


def test_allowed_rtsp_and_its_replies_raise_nothing(tmp_path: Path) -> None:
    pkts = tcp_session(
        to_cam(),
        cam_frame(),
        RECORDER,
        CAM_IPS[0],
        40000,
        554,
        [(b"OPTIONS rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")],
        t0=100.0,
    )
    assert replay(tmp_path, pkts) == []


def test_joining_mid_connection_accepts_the_reply_direction(tmp_path: Path) -> None:
    # The sensor starts after the handshake: the first packet it sees is the camera's reply.
    p = cam_frame() / IP(src=CAM_IPS[0], dst=RECORDER) / TCP(sport=554, dport=40000, flags="PA")
    p.time = 5.0
    assert replay(tmp_path, [p]) == []


def test_forged_syn_from_an_allowed_port_is_not_a_reply(tmp_path: Path) -> None:
    p = cam_frame() / IP(src=CAM_IPS[0], dst=RECORDER) / TCP(sport=554, dport=40000, flags="S")
    p.time = 5.0
    assert sids(replay(tmp_path, [p])) == [S.UNEXPECTED_FLOW.sid]


def test_without_a_plan_the_flow_detector_is_off(tmp_path: Path) -> None:
    pkts = tcp_session(to_cam(), cam_frame(), OPERATOR, CAM_IPS[0], 40000, 554, [], t0=1.0)
    assert replay(tmp_path, pkts, plan=False) == []


def _maintenance_allowlist(tmp_path: Path) -> Path:
    doc = allowlist_doc()
    doc["zones"].append(
        {"id": "csu:maintenance_vpn", "zone": "maintenance_vpn", "site": "csu", "subnets": ["10.0.50.0/24"]}
    )
    doc["flows"].append(
        {
            "id": "F-maint-ssh",
            "proto": "tcp",
            "ports": [[22, 22]],
            "src": {"zone": "maintenance_vpn", "cidrs": ["10.0.50.0/24"]},
            "dst": {"zone": "cameras", "cidrs": ["10.64.0.0/24"]},
            "service": "ssh",
            "purpose": "maintainer",
            "controls": ["ANSSI-PA022-R49"],
            "window": "maintenance",
        }
    )
    path = tmp_path / "allow-maint.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("default", []),  # the contract: maintenance flows count as allowed unless told otherwise
        ("closed", [S.UNEXPECTED_FLOW.sid]),
        ("open", []),
    ],
)
def test_maintenance_window_flows(tmp_path: Path, window: str, expected: list[int]) -> None:
    pkts = tcp_session(to_cam(), cam_frame(), "10.0.50.7", CAM_IPS[0], 40000, 22, [], t0=10.0)
    pcap = tmp_path / "ssh.pcap"
    wrpcap(str(pcap), pkts)
    flag = tmp_path / "maintenance-open"
    if window == "open":
        flag.touch()
    eve = tmp_path / "eve.json"
    args = ["ids", "replay", str(pcap), "--allowlist", str(_maintenance_allowlist(tmp_path)), "--eve", str(eve)]
    if window != "default":
        args += ["--maintenance-file", str(flag)]
    assert run_cli(args) == 0
    assert sids(json.loads(line) for line in eve.read_text().splitlines()) == expected
