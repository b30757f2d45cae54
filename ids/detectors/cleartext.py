"""Cleartext admin protocols and credentials; HTTP/RTSP authentication toward cameras.

DESIGN.md guardrail: no telnet, no FTP, no cleartext admin HTTP. Telnet (RFC 854) and FTP
(RFC 959) connections are flagged when they open; credentials are flagged when they cross
the wire in clear: FTP ``PASS``, HTTP/RTSP ``Authorization: Basic`` (RFC 7617). An
``Authorization`` header (Basic or Digest, RFC 7616) toward a camera from any zone but
``recording`` is someone other than the recorder logging into a camera. Only the user name is
reported, never the password.
"""

from __future__ import annotations

import base64
import binascii
import re

from ids.decode import Packet
from ids.detectors.base import Detector
from ids.flows import Flow
from ids.signatures import ADMIN_CLEARTEXT, CAMERA_HTTP_AUTH, CLEARTEXT_CREDS

HTTP_PORTS = frozenset({80, 554, 8000, 8080, 8554, 8081, 88})
_AUTH = re.compile(rb"\r\nAuthorization:[ \t]*(Basic|Digest)[ \t]+([^\r\n]{0,512})", re.I)
_FTP_USER = re.compile(rb"^USER ([^\r\n]{0,128})", re.M)


class Cleartext(Detector):
    name = "cleartext"
    inspect_ports = HTTP_PORTS | {21, 23}

    def new_flow(self, pkt: Packet, flow: Flow) -> None:
        if pkt.proto == 6 and pkt.dport in (21, 23) and not pkt.flags & 0x10:
            proto = "telnet" if pkt.dport == 23 else "FTP"
            self.engine.alert(ADMIN_CLEARTEXT, pkt, flow=flow, detail=f"{proto} connection")

    def frame(self, pkt: Packet, flow: Flow | None) -> None:
        if pkt.proto != 6 or not pkt.payload:
            return
        data = pkt.payload
        if pkt.dport == 21:
            if data[:5].upper() == b"PASS ":
                self.engine.alert(CLEARTEXT_CREDS, pkt, flow=flow, detail="FTP PASS in clear")
            return
        if pkt.dport not in HTTP_PORTS or b"uthorization" not in data:
            return
        m = _AUTH.search(data)
        if m is None:
            return
        scheme = m.group(1).decode("ascii").capitalize()
        if scheme == "Basic":
            user = ""
            try:
                raw = base64.b64decode(m.group(2).strip(), validate=False)
                user = raw.split(b":")[0].decode("utf-8", "replace")[:64]
            except (binascii.Error, ValueError):
                pass
            self.engine.alert(CLEARTEXT_CREDS, pkt, flow=flow, detail=f"HTTP Basic credentials (user {user!r})")
        host = self.engine.host(pkt.dst)
        zone = self.engine.zone(pkt.dst)
        to_camera = (host is not None and host.kind == "camera") or (zone is not None and zone.zone == "cameras")
        if to_camera:
            src_zone = self.engine.zone(pkt.src)
            if src_zone is None or src_zone.zone != "recording":
                self.engine.alert(
                    CAMERA_HTTP_AUTH,
                    pkt,
                    flow=flow,
                    detail=f"{scheme} auth to a camera from zone {src_zone.zone if src_zone else 'unknown'}",
                )
