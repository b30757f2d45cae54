"""Payload detectors: cleartext admin/credentials, camera HTTP auth, brute force, DNS."""

from __future__ import annotations

import base64
from pathlib import Path

from idsite import (
    ATTACKER_IP,
    BASTION,
    CAM_IPS,
    DNS,
    OPERATOR,
    RECORDER,
    attacker,
    cam_frame,
    replay,
    sids,
    tcp_session,
    to_cam,
    udp,
)
from scapy.layers.dns import DNS as DNSMsg
from scapy.layers.dns import DNSQR
from scapy.packet import Packet

from ids import signatures as S


def _basic(user: str, pw: str) -> bytes:
    token = base64.b64encode(f"{user}:{pw}".encode()).decode()
    return (f"GET /onvif/device_service HTTP/1.1\r\nHost: cam\r\nAuthorization: Basic {token}\r\n\r\n").encode()


def test_telnet_to_a_camera(tmp_path: Path) -> None:
    pkts = tcp_session(
        attacker(), cam_frame(), ATTACKER_IP, CAM_IPS[0], 41000, 23, [(b"root\r\n", b"Password: ")], t0=1.0
    )
    got = sids(replay(tmp_path, pkts))
    assert S.ADMIN_CLEARTEXT.sid in got and S.UNEXPECTED_FLOW.sid in got


def test_ftp_password_in_clear(tmp_path: Path) -> None:
    pkts = tcp_session(
        to_cam(),
        cam_frame(),
        BASTION,
        CAM_IPS[0],
        41000,
        21,
        [(b"", b"220 cam ftp\r\n"), (b"USER admin\r\n", b"331 pw\r\n"), (b"PASS hunter2\r\n", b"230 ok\r\n")],
        t0=1.0,
    )
    alerts = replay(tmp_path, pkts)
    creds = [a for a in alerts if a["alert"]["signature_id"] == S.CLEARTEXT_CREDS.sid]
    assert len(creds) == 1 and "hunter2" not in str(creds[0])
    assert S.ADMIN_CLEARTEXT.sid in sids(alerts)


def test_http_basic_to_camera_from_operators(tmp_path: Path) -> None:
    pkts = tcp_session(
        to_cam(),
        cam_frame(),
        OPERATOR,
        CAM_IPS[0],
        41000,
        80,
        [(_basic("admin", "s3cret"), b"HTTP/1.1 200 OK\r\n\r\n")],
        t0=1.0,
    )
    alerts = replay(tmp_path, pkts)
    got = sids(alerts)
    assert S.CLEARTEXT_CREDS.sid in got and S.CAMERA_HTTP_AUTH.sid in got
    creds = next(a for a in alerts if a["alert"]["signature_id"] == S.CLEARTEXT_CREDS.sid)
    assert "'admin'" in creds["cloison"]["detail"] and "s3cret" not in str(alerts)


def test_digest_from_the_recorder_is_normal(tmp_path: Path) -> None:
    req = (
        b"DESCRIBE rtsp://cam/stream1 RTSP/1.0\r\nCSeq: 3\r\nAuthorization: Digest "
        b'username="rec", realm="cam", nonce="abc", uri="rtsp://cam/stream1", '
        b'response="0123456789abcdef0123456789abcdef"\r\n\r\n'
    )
    pkts = tcp_session(
        to_cam(), cam_frame(), RECORDER, CAM_IPS[0], 41000, 554, [(req, b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n")], t0=1.0
    )
    assert replay(tmp_path, pkts) == []


def test_ftp_brute_force(tmp_path: Path) -> None:
    ex = [(b"", b"220 cam\r\n")]
    for i in range(10):
        ex += [(b"USER admin\r\n", b"331 pw\r\n"), (f"PASS guess{i}\r\n".encode(), b"530 Login incorrect\r\n")]
    pkts = tcp_session(attacker(), cam_frame(), ATTACKER_IP, CAM_IPS[0], 41000, 21, ex, t0=1.0)
    alerts = replay(tmp_path, pkts)
    brute = [a for a in alerts if a["alert"]["signature_id"] == S.BRUTE_FORCE.sid]
    assert len(brute) == 1
    assert brute[0]["src_ip"] == ATTACKER_IP and brute[0]["dest_ip"] == CAM_IPS[0]


def test_rtsp_401_brute_force_over_many_connections(tmp_path: Path) -> None:
    pkts: list[Packet] = []
    for i in range(12):
        pkts += tcp_session(
            attacker(),
            cam_frame(),
            ATTACKER_IP,
            CAM_IPS[1],
            42000 + i,
            554,
            [(b"DESCRIBE rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\n\r\n", b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n")],
            t0=1.0 + i,
        )
    got = sids(replay(tmp_path, pkts))
    assert got.count(S.BRUTE_FORCE.sid) == 1


def test_one_digest_challenge_is_not_brute_force(tmp_path: Path) -> None:
    pkts = tcp_session(
        to_cam(),
        cam_frame(),
        RECORDER,
        CAM_IPS[0],
        41000,
        554,
        [
            (
                b"DESCRIBE rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\n\r\n",
                b'RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Digest realm="c"\r\n\r\n',
            ),
            (b"DESCRIBE rtsp://cam/ RTSP/1.0\r\nCSeq: 2\r\n\r\n", b"RTSP/1.0 200 OK\r\n\r\n"),
        ],
        t0=1.0,
    )
    assert replay(tmp_path, pkts) == []


def test_ssh_brute_force_is_many_short_connections(tmp_path: Path) -> None:
    pkts: list[Packet] = []
    for i in range(15):
        pkts += tcp_session(
            to_cam(),
            cam_frame(),
            BASTION,
            CAM_IPS[2],
            43000 + i,
            22,
            [(b"SSH-2.0-x\r\n", b"SSH-2.0-y\r\n")],
            t0=1.0 + i * 2,
        )
    assert sids(replay(tmp_path, pkts)) == [S.BRUTE_FORCE.sid]


def _dns_query(src: str, dst: str, name: str, qtype: str, t: float, sport: int = 33000) -> Packet:
    return udp(cam_frame(), src, dst, sport, 53, bytes(DNSMsg(rd=1, qd=DNSQR(qname=name, qtype=qtype))), t)


def test_camera_using_a_public_resolver(tmp_path: Path) -> None:
    got = sids(replay(tmp_path, [_dns_query(CAM_IPS[0], "1.1.1.1", "pool.ntp.org", "A", 1.0)]))
    assert S.DNS_RESOLVER.sid in got and S.CAMERA_PUBLIC.sid in got


def test_dns_tunnel_long_high_entropy_names(tmp_path: Path) -> None:
    name = "mzxw6ytboi2dqnzrgq4dsmjsgiytsnbrhe3tqmrzgm4dmnbq.gexz6.tunnel.example"
    alerts = replay(tmp_path, [_dns_query(CAM_IPS[0], DNS, name, "A", 1.0)])
    assert sids(alerts) == [S.DNS_TUNNEL.sid]


def test_dns_txt_volume(tmp_path: Path) -> None:
    pkts = [_dns_query(CAM_IPS[0], DNS, f"q{i}.example.org", "TXT", 1 + i, 33000 + i) for i in range(40)]
    assert sids(replay(tmp_path, pkts)) == [S.DNS_TUNNEL.sid]


def test_ordinary_dns_is_quiet(tmp_path: Path) -> None:
    pkts = [_dns_query(CAM_IPS[0], DNS, "ntp.ingeagglo.fr", "A", 1 + i, 33000 + i) for i in range(40)]
    assert replay(tmp_path, pkts) == []
