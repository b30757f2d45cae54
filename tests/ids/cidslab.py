"""A throw-away lab for the live sensor: a veth pair whose far end sits in a namespace.

Everything is named ``cids-<tag>...`` (the IDS's lab prefix on this shared machine); the
context manager removes the namespace and the link (deleting one end of a veth deletes both)
whatever happens. IPv6 is disabled inside the namespace only, so the kernel's own
autoconfiguration chatter does not mix with the test traffic. No host-wide setting changes.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@dataclass(frozen=True)
class VethLab:
    ns: str
    sensor_if: str  # in the root namespace: the sensor listens here (the "mirror port")
    sender_if: str  # inside ``ns``: traffic is injected here

    def in_ns(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *cmd]


@contextlib.contextmanager
def veth_lab(tag: str) -> Iterator[VethLab]:
    lab = VethLab(f"cids-{tag}", f"cids-{tag}s", f"cids-{tag}a")
    try:
        _ip("netns", "add", lab.ns)
        subprocess.run(
            lab.in_ns("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"),
            check=True,
            capture_output=True,
        )
        _ip("link", "add", lab.sensor_if, "type", "veth", "peer", "name", lab.sender_if)
        _ip("link", "set", lab.sender_if, "netns", lab.ns)
        subprocess.run(
            ["sysctl", "-qw", f"net.ipv6.conf.{lab.sensor_if}.disable_ipv6=1"], check=False, capture_output=True
        )
        _ip("link", "set", lab.sensor_if, "up")
        subprocess.run(lab.in_ns("ip", "link", "set", lab.sender_if, "up"), check=True, capture_output=True)
        yield lab
    finally:
        subprocess.run(["ip", "link", "del", lab.sensor_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", lab.ns], check=False, capture_output=True)
