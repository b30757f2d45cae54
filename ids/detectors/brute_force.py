"""Brute force: repeated failed logins from one client to one server.

Failures are read from the server's answers: FTP ``530`` (RFC 959), HTTP ``401`` (RFC 9110)
and RTSP ``401`` (RFC 2326/7826). SSH is encrypted, so for it the sign is many short
connections from one client to one server within a minute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ids.decode import Packet
from ids.detectors.base import Detector, WindowCounter
from ids.detectors.cleartext import HTTP_PORTS
from ids.flows import Flow
from ids.signatures import BRUTE_FORCE

if TYPE_CHECKING:
    from ids.engine import Engine

WINDOW = 60.0


class BruteForce(Detector):
    name = "brute_force"
    inspect_ports = HTTP_PORTS | {21}

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.failures = WindowCounter(WINDOW)
        self.fail_threshold = int(engine.options.get("bruteforce_failures", 8))
        self.ssh_threshold = int(engine.options.get("bruteforce_ssh", 12))

    def new_flow(self, pkt: Packet, flow: Flow) -> None:
        if pkt.proto == 6 and pkt.dport == 22 and pkt.flags & 0x12 == 0x02:
            n = self.failures.add((pkt.src, pkt.dst, "ssh"), pkt.ts)
            if n == self.ssh_threshold:
                self.engine.alert(BRUTE_FORCE, pkt, flow=flow, detail=f"{n} SSH connections within {WINDOW:.0f}s")

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        if pkt.proto != 6 or not pkt.payload:
            return
        data = pkt.payload
        service = ""
        if pkt.sport == 21 and data[:4] == b"530 ":
            service = "ftp"
        elif pkt.sport in HTTP_PORTS and data[9:12] == b"401" and data[:5] in (b"HTTP/", b"RTSP/"):
            service = data[:4].decode("ascii").lower()
        if not service:
            return
        client, server = pkt.dst, pkt.src
        n = self.failures.add((client, server, service), pkt.ts)
        if n == self.fail_threshold:
            self.engine.alert(
                BRUTE_FORCE,
                pkt,
                flow=flow,
                src=client,
                dst=server,
                detail=f"{n} failed {service} logins within {WINDOW:.0f}s",
            )
