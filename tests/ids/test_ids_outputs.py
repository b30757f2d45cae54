"""Outputs: RFC 5424 syslog through the spool (nothing lost, in order), Prometheus metrics."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import urllib.request
from pathlib import Path

from idsite import ATTACKER_IP, CAM_IPS, attacker, cam_frame, replay, tcp_session

from ids import allowlist
from ids.engine import Engine
from ids.outputs.metrics import MetricsServer, render
from ids.outputs.spool import Spool
from ids.outputs.syslog import SyslogForwarder, format_5424
from ids.signatures import UNEXPECTED_FLOW

_RFC5424 = re.compile(
    rb"^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) cloison-ids - alert "
    rb'\[cloison@32473 sid="(\d+)" site="([^"]*)"\] \xef\xbb\xbf(\{.*\})$'
)


class Collector:
    """A TCP syslog collector reading octet-counted frames (RFC 6587 3.4.1)."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        self.srv = socket.create_server(("127.0.0.1", port))
        if tls is not None:
            self.srv = tls.wrap_socket(self.srv, server_side=True)
        self.port = self.srv.getsockname()[1]
        self.messages: list[bytes] = []
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self) -> None:
        conn, _ = self.srv.accept()
        buf = b""
        with conn:
            while chunk := self._recv(conn):
                buf += chunk
                while b" " in buf:
                    head, rest = buf.split(b" ", 1)
                    n = int(head)
                    if len(rest) < n:
                        break
                    self.messages.append(rest[:n])
                    buf = rest[n:]

    @staticmethod
    def _recv(conn: socket.socket) -> bytes:
        try:
            return conn.recv(65536)
        except OSError:  # TLS peer closed without close_notify: same as EOF here
            return b""

    def close(self) -> None:
        self.srv.close()


def _eve(i: int) -> dict[str, object]:
    return {
        "timestamp": "2026-11-28T10:00:00.000000+0000",
        "n": i,
        "alert": {"signature_id": 9700001, "severity": 2},
        "cloison": {"site": "s-1"},
    }


def test_rfc5424_message_shape() -> None:
    msg = format_5424(_eve(1), "sensor-1")
    m = _RFC5424.match(msg)
    assert m is not None, msg
    assert int(m.group(1)) == 20 * 8 + 3  # local4.error for severity 2
    assert m.group(3) == b"sensor-1" and m.group(4) == b"9700001" and m.group(5) == b"s-1"
    assert json.loads(m.group(6))["n"] == 1


def test_spool_keeps_alerts_while_the_collector_is_down(tmp_path: Path) -> None:
    # Reserve a port, then leave it closed: the collector is "down".
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    fwd = SyslogForwarder(Spool(tmp_path / "spool"), "127.0.0.1", port, retry=0.1)
    try:
        for i in range(50):
            fwd(_eve(i))
        assert not fwd.flush(timeout=0.5)  # nothing can be delivered
        assert fwd.failures >= 1
        collector = Collector(port)  # the collector comes back
        try:
            assert fwd.flush(timeout=10)
            for i in range(50, 60):
                fwd(_eve(i))
            assert fwd.flush(timeout=10)
        finally:
            fwd.close()
            collector.close()
        collector._t.join(timeout=5)
        got = [json.loads(_RFC5424.match(m).group(6))["n"] for m in collector.messages]  # type: ignore[union-attr]
        assert got == list(range(60))  # all of them, in order
    finally:
        fwd.close()


def test_spool_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    spool.append(b"one")
    spool.append(b"two")
    first = spool.peek(limit=1)
    spool.commit(first[0][0])
    again = Spool(tmp_path / "s")  # a new process opening the same directory
    assert [r for _, r in again.peek()] == [b"two"]


def test_replay_with_syslog_delivers_every_alert(tmp_path: Path) -> None:
    collector = Collector()
    pkts = tcp_session(attacker(), cam_frame(), ATTACKER_IP, CAM_IPS[0], 41000, 23, [], t0=1.0)
    alerts = replay(
        tmp_path, pkts, extra=["--syslog", f"127.0.0.1:{collector.port}", "--spool", str(tmp_path / "spool")]
    )
    collector.close()
    collector._t.join(timeout=5)
    assert len(collector.messages) == len(alerts) == 3


def test_metrics_exposition_over_http(tmp_path: Path) -> None:
    from idsite import write_allowlist  # noqa: PLC0415

    engine = Engine(allowlist.load(write_allowlist(tmp_path)), [])
    for p in tcp_session(attacker(), cam_frame(), ATTACKER_IP, CAM_IPS[0], 41000, 8443, [], t0=1.0):
        engine.process(float(p.time), 1, bytes(p))
    server = MetricsServer(engine, "127.0.0.1", 0, kernel=lambda: (10, 2))
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            body = resp.read().decode()
            ctype = resp.headers["Content-Type"]
    finally:
        server.close()
    assert ctype.startswith("text/plain; version=0.0.4")
    assert "cloison_ids_packets_total 5\n" in body
    assert "cloison_ids_kernel_drops_total 2\n" in body
    assert (
        f'cloison_ids_alerts_total{{signature_id="{UNEXPECTED_FLOW.sid}",signature="{UNEXPECTED_FLOW.name}"}} 1'
    ) in body
    assert body == render(engine, lambda: (10, 2))


def test_syslog_over_tls(tmp_path: Path) -> None:
    """RFC 5425: the same octet-counted messages inside TLS, the collector's cert verified."""
    import subprocess  # noqa: PLC0415

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    collector = Collector(tls=server_ctx)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    fwd = SyslogForwarder(Spool(tmp_path / "spool"), "127.0.0.1", collector.port, tls=client_ctx)
    try:
        for i in range(5):
            fwd(_eve(i))
        assert fwd.flush(timeout=10)
    finally:
        fwd.close()
        collector._t.join(timeout=5)
        collector.close()
    got = [json.loads(_RFC5424.match(m).group(6))["n"] for m in collector.messages]  # type: ignore[union-attr]
    assert got == list(range(5))
