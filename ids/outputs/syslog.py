"""Syslog delivery: RFC 5424 messages, octet-counted framing over TCP (RFC 6587 section 3.4.1)
or TLS (RFC 5425), fed from the on-disk spool so a collector outage loses nothing.

The MSG part is the EVE JSON of the alert; structured data ``[cloison@32473 ...]`` carries the
signature ID and the site (32473 is the documentation enterprise number of RFC 5612).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
import time
from typing import Any

from ids.outputs.spool import Spool

log = logging.getLogger("cloison.ids.syslog")

FACILITY_LOCAL4 = 20
_SEVERITY = {1: 2, 2: 3, 3: 4}  # Suricata severity -> syslog critical / error / warning


def _sd_escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_5424(eve: dict[str, Any], hostname: str, app: str = "cloison-ids") -> bytes:
    sev = _SEVERITY.get(int(eve.get("alert", {}).get("severity", 3)), 5)
    pri = FACILITY_LOCAL4 * 8 + sev
    ts = str(eve.get("timestamp", "-"))
    if ts.endswith("+0000"):
        ts = ts[:-5] + "Z"  # RFC 5424 wants RFC 3339 (Z or +00:00)
    sid = eve.get("alert", {}).get("signature_id", 0)
    site = eve.get("cloison", {}).get("site", "")
    sd = f'[cloison@32473 sid="{sid}" site="{_sd_escape(str(site))}"]'
    msg = json.dumps(eve, separators=(",", ":"))
    header = f"<{pri}>1 {ts} {hostname or '-'} {app} - alert {sd} "
    return header.encode("utf-8") + b"\xef\xbb\xbf" + msg.encode("utf-8")


def frame_octet_counted(msg: bytes) -> bytes:
    return str(len(msg)).encode("ascii") + b" " + msg


class SyslogForwarder:
    """Spool every alert; a background thread delivers the spool in order, reconnecting."""

    def __init__(
        self,
        spool: Spool,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        hostname: str | None = None,
        retry: float = 1.0,
    ) -> None:
        self.spool = spool
        self.host = host
        self.port = port
        self.tls = tls
        self.hostname = hostname or socket.gethostname()
        self.retry = retry
        self.sent = 0
        self.failures = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="syslog", daemon=True)
        self._thread.start()

    def __call__(self, eve: dict[str, Any]) -> None:
        self.spool.append(format_5424(eve, self.hostname))

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=5)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        return sock

    def _run(self) -> None:
        while not self._stop.is_set():
            # The spool clears ``ready`` itself when it drains (under its lock), so an alert
            # appended while a batch was in flight is never missed; the timeout is a backstop.
            self.spool.ready.wait(0.2)
            batch = self.spool.peek()
            if not batch:
                continue
            try:
                if self._sock is None:
                    self._sock = self._connect()
                for end, record in batch:
                    self._sock.sendall(frame_octet_counted(record))
                    self.spool.commit(end)
                    self.sent += 1
            except OSError as exc:
                self.failures += 1
                log.warning("syslog collector %s:%d unreachable (%s); spooling", self.host, self.port, exc)
                self._close()
                self._stop.wait(self.retry)

    def _close(self) -> None:
        if self._sock is not None:
            sock, self._sock = self._sock, None
            with contextlib.suppress(OSError, ValueError):
                # FIN after the last record, then read until the collector closes: closing a
                # socket with unread data (TLS 1.3 session tickets) sends RST, and a RST makes
                # the collector's kernel drop records it has not read yet.
                sock.settimeout(1.0)
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(4096):
                    pass
            with contextlib.suppress(OSError):
                sock.close()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the spool is drained (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool.pending() == 0:
                return True
            time.sleep(0.05)
        return self.spool.pending() == 0

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._close()
