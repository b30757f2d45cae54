"""The detector table: every detector the engine runs, in call order."""

from __future__ import annotations

from ids.detectors.arp_watch import ArpWatch
from ids.detectors.base import Detector
from ids.detectors.brute_force import BruteForce
from ids.detectors.cleartext import Cleartext
from ids.detectors.dhcp_rogue import RogueDhcp
from ids.detectors.dns import Dns
from ids.detectors.floods import Floods
from ids.detectors.lateral import Lateral
from ids.detectors.public_address import PublicAddress
from ids.detectors.rogue_ra import RogueRa
from ids.detectors.scans import Scans
from ids.detectors.stream_stop import StreamStop
from ids.detectors.unexpected_flow import UnexpectedFlow
from ids.detectors.unknown_device import UnknownDevice

ALL: tuple[type[Detector], ...] = (
    UnexpectedFlow,
    UnknownDevice,
    ArpWatch,
    RogueDhcp,
    RogueRa,
    Scans,
    Cleartext,
    BruteForce,
    PublicAddress,
    Dns,
    Floods,
    StreamStop,
    Lateral,
)
