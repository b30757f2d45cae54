"""Names and paths the lab uses: one prefix for everything it creates on a shared machine.

Everything visible outside the lab's own namespaces (network namespaces in /run/netns, the one
link in the root namespace, directories, machine names) starts with :data:`PREFIX`, so the lab
can recognise — and remove — what it made without touching other engineers' work.
Interface names are limited to 15 characters by the kernel (IFNAMSIZ - 1).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

PREFIX = "cl-"
IFNAMSIZ = 15

# The lab's out-of-band management network (controller <-> every node and switch). Chosen far from
# the plan's ranges (10.0.0.0/8) and from this machine's own (192.0.2.0/24 on eth0).
MGMT_CIDR = "172.30.255.0/24"
MGMT_CONTROLLER = "172.30.255.1"
MGMT_ROOT_LINK = "cl-mgmt"  # the only link the lab puts in the root namespace
MGMT_TABLE = 250  # routing table holding the management route inside nodes (kept out of `main`)

MIRROR_IF = "span0"  # a lab gateway's port on its switch's mirror (SPAN): the IDS sensor listens there
FABRIC_NS = "cl-fab"  # holds the L2 segments (Linux bridges) of the CSU and the outside world

CACHE_DIR = Path(os.environ.get("CLOISON_LAB_CACHE", "/var/cache/cloison"))
LAB_DIR = Path(os.environ.get("CLOISON_LAB_DIR", "/var/lib/cloison/lab"))


def netns(name: str) -> str:
    """Network namespace name for a lab object (host id, camera id, actor)."""
    return name if name.startswith(PREFIX) else PREFIX + name


def ifname(text: str) -> str:
    """A valid interface name; long names are shortened with a stable hash suffix."""
    if len(text) <= IFNAMSIZ:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:4]
    return text[: IFNAMSIZ - 5] + "-" + digest


@dataclass(frozen=True)
class LabPaths:
    """Where a lab keeps its files. ``root`` is removed entirely by ``lab down``."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def ssh_key(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def ssh_config(self) -> Path:
        return self.root / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yml"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets.json"

    @property
    def images(self) -> Path:
        """Appliance images attached to the running lab (``cloison lab attach-image``)."""
        return self.root / "images.json"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def logs(self) -> Path:
        return self.root / "log"

    def node(self, node_id: str) -> Path:
        return self.root / "nodes" / node_id

    def switch(self, switch_id: str) -> Path:
        return self.root / "switches" / switch_id

    def camera(self, camera_id: str) -> Path:
        return self.root / "cameras" / camera_id


def default_paths() -> LabPaths:
    return LabPaths(LAB_DIR)
