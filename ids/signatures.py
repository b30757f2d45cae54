"""The alert catalog: one signature per thing a detector flags.

Signature IDs live in the 9 700 000 range so they never collide with Suricata/ET rule IDs in
the same SIEM. Severity follows Suricata (1 = high, 3 = low). Control IDs are the project's
shared key (DESIGN.md "Control IDs"): ANSSI-HYG-* are measures of the ANSSI hygiene guide,
NIS2-21.2.* the points of NIS2 article 21(2), CNIL-F* the CNIL video-protection sheets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Signature:
    sid: int
    name: str
    category: str
    severity: int
    controls: tuple[str, ...]


_DETECT = "NIS2-21.2.b"  # incident handling: every alert feeds it
_SEG = "ANSSI-HYG-19"  # partitioning
_CAM = "CNIL-F08"  # security of the video-protection system and its images

UNEXPECTED_FLOW = Signature(9700001, "CLOISON flow not in the plan allowlist", "Policy Violation", 2, (_SEG, _DETECT))
UNKNOWN_DEVICE = Signature(
    9700002,
    "CLOISON unknown MAC on a camera segment",
    "Potential Corporate Privacy Violation",
    1,
    (_SEG, _CAM, _DETECT),
)
BINDING_CHANGE = Signature(9700003, "CLOISON IP/MAC binding changed", "Potentially Bad Traffic", 2, (_SEG, _DETECT))
ARP_SPOOF = Signature(
    9700004, "CLOISON ARP spoofing of a planned host", "Attempted Information Leak", 1, (_SEG, _CAM, _DETECT)
)
ROGUE_DHCP = Signature(9700005, "CLOISON rogue DHCP server", "Potentially Bad Traffic", 1, (_SEG, _DETECT))
ROGUE_RA = Signature(9700006, "CLOISON rogue IPv6 router advertisement", "Potentially Bad Traffic", 1, (_SEG, _DETECT))
SCAN_HORIZONTAL = Signature(9700007, "CLOISON horizontal scan", "Attempted Information Leak", 2, (_SEG, _DETECT))
SCAN_VERTICAL = Signature(9700008, "CLOISON vertical port scan", "Attempted Information Leak", 2, (_SEG, _DETECT))
ADMIN_CLEARTEXT = Signature(
    9700009, "CLOISON cleartext admin protocol (telnet/FTP)", "Policy Violation", 2, ("NIS2-21.2.h", _DETECT)
)
CLEARTEXT_CREDS = Signature(
    9700010, "CLOISON cleartext credentials", "Attempted User Privilege Gain", 1, ("NIS2-21.2.h", _CAM, _DETECT)
)
CAMERA_HTTP_AUTH = Signature(
    9700011,
    "CLOISON HTTP/RTSP auth to a camera from outside recording",
    "Attempted Administrator Privilege Gain",
    2,
    (_SEG, _CAM, _DETECT),
)
BRUTE_FORCE = Signature(
    9700012,
    "CLOISON brute force (repeated failed logins)",
    "Attempted User Privilege Gain",
    1,
    ("NIS2-21.2.i", _DETECT),
)
CAMERA_PUBLIC = Signature(
    9700013,
    "CLOISON camera talking to a public address",
    "Potential Corporate Privacy Violation",
    1,
    (_SEG, _CAM, _DETECT),
)
DNS_RESOLVER = Signature(9700014, "CLOISON DNS query to an unapproved resolver", "Policy Violation", 2, (_SEG, _DETECT))
DNS_TUNNEL = Signature(
    9700015, "CLOISON possible DNS tunnelling", "Potential Corporate Privacy Violation", 1, (_CAM, _DETECT)
)
SYN_FLOOD = Signature(9700016, "CLOISON SYN flood", "Attempted Denial of Service", 2, (_DETECT,))
ICMP_FLOOD = Signature(9700017, "CLOISON ICMP flood", "Attempted Denial of Service", 2, (_DETECT,))
DHCP_FLOOD = Signature(9700018, "CLOISON DHCP flood / starvation", "Attempted Denial of Service", 2, (_DETECT,))
STREAM_STOPPED = Signature(
    9700019,
    "CLOISON camera stream stopped (tampering or outage)",
    "Not Suspicious Traffic",
    2,
    (_CAM, "CSI-L252-2", _DETECT),
)
LATERAL_MOVEMENT = Signature(
    9700020,
    "CLOISON lateral movement (SMB/RDP) inside a zone",
    "Attempted Administrator Privilege Gain",
    1,
    (_SEG, _DETECT),
)

ALL: tuple[Signature, ...] = tuple(v for v in list(globals().values()) if isinstance(v, Signature))
