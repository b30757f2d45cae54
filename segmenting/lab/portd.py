"""The lab switch's port-authentication logic (one process per switch, in its namespace).

hostapd (one per port) runs 802.1X but does not gate data frames, and hostapd 2.10 has no MAB
fallback (LAB-NOTES). This daemon does what a real switch's port manager does:

* a port starts **closed**: an OpenFlow rule drops everything it receives and it is parked in the
  plan's unused VLAN (hostapd reads EAPOL from the port's own socket, so EAPOL still gets in);
* hostapd reports ``AP-STA-CONNECTED`` (RADIUS Access-Accept): the port gets the VLAN RADIUS
  returned (``Tunnel-Private-Group-Id``, from hostapd's dynamic VLAN) and is opened;
* ``CTRL-EVENT-EAP-FAILURE`` (Access-Reject) or a MAB reject: the port goes to **quarantine**;
* no EAPOL within :data:`MAB_WAIT` seconds of the first frame: **MAB** — an Access-Request with the
  MAC as User-Name/User-Password (RFC 3580 §3.2 style, ``Service-Type = Call-Check``) sent with
  ``radclient``; accept opens the port in the returned VLAN, reject quarantines;
* logoff (``AP-STA-DISCONNECTED``) or link down closes the port again.

The port states are written to ``ports.json`` for ``cloison lab status`` and the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TX_PERIOD = 2.5  # EAP-Request/Identity retransmission while a device stays silent
MAB_WAIT = 8.0  # 802.1X first: MAB only for a device that stays silent to EAP this long
EAP_WAIT = 20.0
RETRY_AFTER = 10.0
ETH_P_ALL = 0x0003
ETH_P_PAE = 0x888E
PACKET_OUTGOING = 4
CLOSED_PRIORITY = 100


@dataclass
class Port:
    dev: str
    vlan: int
    camera: str | None
    state: str = "closed"  # closed, eapol, mab, authorized, quarantine
    method: str = ""
    mac: str = ""
    assigned_vlan: int | None = None
    since: float = 0.0
    reason: str = ""


def parse_radclient(out: str) -> tuple[str, int | None]:
    """("accept"|"reject"|"none", VLAN) from ``radclient -x`` output.

    radclient also prints "Expected Access-Accept got Access-Reject": only the *received* code counts.
    """
    if "Received Access-Accept" in out:
        m = re.search(r'Tunnel-Private-Group-Id(?::\d+)?\s*=\s*"?(\d+)', out)
        return "accept", int(m.group(1)) if m else None
    if "Received Access-Reject" in out:
        return "reject", None
    return "none", None


class PortManager:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.env = {**os.environ, **cfg["env"]}
        self.ports = {dev: Port(dev, p["vlan"], p.get("camera")) for dev, p in cfg["ports"].items()}
        self.ctrl: dict[str, socket.socket] = {}
        self.ctrl_inode: dict[str, int] = {}
        self.raw: dict[str, socket.socket] = {}
        self.first_frame: dict[str, float] = {}
        self.mab: dict[str, subprocess.Popen[str]] = {}
        self.retry_at: dict[str, float] = {}
        self.eapol_seen: set[str] = set()  # ports whose device spoke 802.1X: no MAB for them
        self.last_request: dict[str, float] = {}
        self.link_up: dict[str, bool] = {}
        self.ifindex: dict[str, int] = {}
        self.local_dir = Path(cfg["ctrl_dir"]).parent / "portd"
        self.local_dir.mkdir(parents=True, exist_ok=True)

    # -- switch actions ---------------------------------------------------------------------
    def _ovs(self, *argv: str) -> None:
        subprocess.run(list(argv), env=self.env, check=False, capture_output=True, timeout=20)

    def set_vlan_open(self, port: Port, vlan: int) -> None:
        br = self.cfg["bridge"]
        self._ovs("ovs-vsctl", "set", "port", port.dev, f"tag={vlan}")
        self._ovs("ovs-ofctl", "--strict", "del-flows", br, f"priority={CLOSED_PRIORITY},in_port={port.dev}")

    def close(self, port: Port, reason: str) -> None:
        br = self.cfg["bridge"]
        self._ovs("ovs-ofctl", "add-flow", br, f"priority={CLOSED_PRIORITY},in_port={port.dev},actions=drop")
        self._ovs("ovs-vsctl", "set", "port", port.dev, f"tag={self.cfg['vlans']['unused']}")
        self._ovs("ovs-appctl", "fdb/flush", br)
        if reason == "link down" and port.mac:
            # hostapd's wired driver does not watch the carrier: make it forget the station, so the
            # next frame from the device starts a new 802.1X session (EAP-Request/Identity).
            subprocess.run(["hostapd_cli", "-p", self.cfg["ctrl_dir"], "-i", port.dev, "deauthenticate", port.mac],
                           capture_output=True, check=False, timeout=10)  # fmt: skip
            self.eapol_seen.discard(port.dev)
        port.state, port.method, port.assigned_vlan, port.reason = "closed", "", None, reason
        port.since = time.time()
        self.first_frame.pop(port.dev, None)
        self.open_raw(port.dev)

    def authorize(self, port: Port, method: str, vlan: int | None, mac: str) -> None:
        vid = vlan or port.vlan  # no VLAN from RADIUS: the port's configured access VLAN
        if vid == int(self.cfg["vlans"]["quarantine"]):
            # The server accepts unknown devices into the quarantine VLAN (reaches nothing).
            self.quarantine(port, method, mac, "RADIUS: quarantine VLAN")
            return
        self.set_vlan_open(port, vid)
        port.state, port.method, port.assigned_vlan, port.mac, port.reason = "authorized", method, vid, mac, ""
        port.since = time.time()
        self.close_raw(port.dev)

    def quarantine(self, port: Port, method: str, mac: str, reason: str) -> None:
        vid = int(self.cfg["vlans"]["quarantine"])
        self.set_vlan_open(port, vid)
        port.state, port.method, port.assigned_vlan, port.mac, port.reason = "quarantine", method, vid, mac, reason
        port.since = time.time()
        if method != "mab":
            self.close_raw(port.dev)  # after MAB, keep listening: EAPOL from the device restarts 802.1X

    # -- sockets ----------------------------------------------------------------------------
    def open_raw(self, dev: str) -> None:
        if dev in self.raw:
            return
        try:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.bind((dev, 0))
            s.setblocking(False)
            self.raw[dev] = s
        except OSError:
            pass

    def close_raw(self, dev: str) -> None:
        s = self.raw.pop(dev, None)
        if s:
            s.close()

    def attach(self, dev: str) -> None:
        path = Path(self.cfg["ctrl_dir"]) / dev
        try:
            inode = path.stat().st_ino
        except OSError:
            inode = 0
        if dev in self.ctrl and self.ctrl_inode.get(dev) != inode:
            self.ctrl.pop(dev).close()  # hostapd restarted (a new cable on the port): attach again
        if dev in self.ctrl or not inode:
            return
        local = self.local_dir / dev
        local.unlink(missing_ok=True)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(str(local))
        try:
            s.connect(str(path))
            s.send(b"ATTACH")
        except OSError:
            s.close()
            return
        s.setblocking(False)
        self.ctrl[dev] = s
        self.ctrl_inode[dev] = inode

    def sta_vlan(self, dev: str, mac: str) -> int | None:
        out = subprocess.run(["hostapd_cli", "-p", self.cfg["ctrl_dir"], "-i", dev, "sta", mac],
                             capture_output=True, text=True, check=False, timeout=10).stdout  # fmt: skip
        m = re.search(r"^vlan_id=(\d+)", out, re.MULTILINE)
        return int(m.group(1)) if m else None

    # -- events -----------------------------------------------------------------------------
    def on_event(self, dev: str, text: str) -> None:
        port = self.ports.get(dev)
        if port is None:
            return
        msg = re.sub(r"^<\d+>", "", text).strip()
        parts = msg.split()
        if not parts:
            return
        ev, mac = parts[0], parts[1] if len(parts) > 1 else ""
        if ev == "AP-STA-CONNECTED":
            m = re.search(r"VLAN_ID=(\d+)", msg)
            vlan = int(m.group(1)) if m else self.sta_vlan(dev, mac)
            self.authorize(port, "802.1x", vlan, mac)
        elif ev == "CTRL-EVENT-EAP-FAILURE" and dev in self.eapol_seen:
            # Only a device that spoke 802.1X can fail it; a silent one (hostapd's EAP-Request/Identity
            # timing out) is a legacy device, left to MAB.
            self.quarantine(port, "802.1x", mac, "EAP failure (RADIUS reject)")
        elif ev == "AP-STA-DISCONNECTED" and port.state == "authorized" and port.method == "802.1x":
            self.close(port, "logoff")

    def on_frame(self, dev: str, data: bytes, pkttype: int) -> None:
        port = self.ports.get(dev)
        if port is None or pkttype == PACKET_OUTGOING or len(data) < 14 or not self.link_up.get(dev):
            return
        mac = ":".join(f"{b:02x}" for b in data[6:12])
        ethertype = int.from_bytes(data[12:14], "big")
        if ethertype == ETH_P_PAE:
            self.eapol_seen.add(dev)
            if port.state in ("closed", "mab") or (port.state == "quarantine" and port.method == "mab"):
                port.state, port.mac, port.since = "eapol", mac, time.time()
                self.first_frame[dev] = time.monotonic()
            return
        if dev in self.eapol_seen:
            return  # an 802.1X device is not offered MAB: it authenticates, or stays out
        if port.state == "closed" and dev not in self.first_frame and time.monotonic() >= self.retry_at.get(dev, 0):
            self.first_frame[dev] = time.monotonic()
            port.mac = mac
            self.request_identity(dev, mac)

    def request_identity(self, dev: str, mac: str) -> None:
        """EAP-Request/Identity to a device, as a switch sends at link up and every tx-period.

        hostapd's wired driver only reacts to EAPOL-Start; a supplicant that already authenticated
        once (then saw its link drop) does not send one again.
        """
        self.last_request[dev] = time.monotonic()
        subprocess.run(["hostapd_cli", "-p", self.cfg["ctrl_dir"], "-i", dev, "new_sta", mac],
                       capture_output=True, check=False, timeout=10)  # fmt: skip

    def start_mab(self, port: Port) -> None:
        user = port.mac.replace(":", "")
        calling = port.mac.replace(":", "-").upper()
        # Message-Authenticator: radclient computes it; the RADIUS server requires it (BlastRADIUS).
        req = (f'User-Name = "{user}"\nUser-Password = "{user}"\nService-Type = Call-Check\n'
               "Message-Authenticator = 0x00\n"
               f'Calling-Station-Id = "{calling}"\nNAS-IP-Address = {self.cfg["nas_ip"]}\n'
               f'NAS-Identifier = "{self.cfg["switch"]}"\nNAS-Port-Id = "{port.dev}"\n')  # fmt: skip
        server = f"{self.cfg['radius']}:1812"
        # The shared secret from a 0600 file, not the command line (which any user can read in ps).
        argv = ["radclient", "-x", "-t", "3", "-r", "2", "-S", self.cfg["secret_file"], server, "auth"]
        pipe = subprocess.PIPE
        p = subprocess.Popen(argv, stdin=pipe, stdout=pipe, stderr=subprocess.STDOUT, text=True)
        assert p.stdin is not None
        p.stdin.write(req)
        p.stdin.close()
        self.mab[port.dev] = p
        port.state, port.since = "mab", time.time()
        self.close_raw(port.dev)

    def finish_mab(self, dev: str, p: subprocess.Popen[str]) -> None:
        port = self.ports[dev]
        code, vlan = parse_radclient(p.stdout.read() if p.stdout else "")
        if code == "accept":
            self.authorize(port, "mab", vlan, port.mac)
        elif code == "reject":
            self.quarantine(port, "mab", port.mac, "MAB reject (unknown MAC)")
        else:
            port.state, port.reason = "closed", "RADIUS did not answer"
            self.first_frame.pop(dev, None)
            self.retry_at[dev] = time.monotonic() + RETRY_AFTER
            self.open_raw(dev)

    # -- main loop --------------------------------------------------------------------------
    def index_of(self, dev: str) -> int:
        try:
            return int(Path(f"/sys/class/net/{dev}/ifindex").read_text())
        except (OSError, ValueError):
            return 0

    def carrier(self, dev: str) -> bool | None:
        try:
            return Path(f"/sys/class/net/{dev}/carrier").read_text().strip() == "1"
        except OSError:
            return None  # unplugged (the device is gone)

    def tick(self) -> None:
        now = time.monotonic()
        for dev, port in self.ports.items():
            self.attach(dev)
            index = self.index_of(dev)
            if dev in self.ifindex and index != self.ifindex[dev]:
                # Another cable on the port (a new netdev, `cloison lab plug`): a new device.
                self.close_raw(dev)
                self.link_up[dev] = False
                self.close(port, "link down")
            self.ifindex[dev] = index
            up = self.carrier(dev)
            was_up = self.link_up.get(dev, False)
            self.link_up[dev] = bool(up)
            if not up:
                if port.state != "closed":
                    self.close(port, "link down")
                continue
            if not was_up:
                self.first_frame.pop(dev, None)  # frames read while the link was down do not count
            if port.state == "closed":
                self.open_raw(dev)
            t0 = self.first_frame.get(dev)
            if port.state == "closed" and t0 is not None and now - t0 >= MAB_WAIT:
                self.start_mab(port)
            elif port.state == "closed" and t0 is not None and now - self.last_request.get(dev, 0) >= TX_PERIOD:
                self.request_identity(dev, port.mac)
            elif port.state == "eapol" and t0 is not None and now - t0 >= EAP_WAIT:
                # No answer is not a reject (the RADIUS server may be unreachable): closed, and retry.
                self.close(port, "no 802.1X result in time")
        for dev, p in list(self.mab.items()):
            if p.poll() is not None:
                del self.mab[dev]
                self.finish_mab(dev, p)

    def write_status(self) -> None:
        path = Path(self.cfg["status"])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({d: asdict(p) for d, p in sorted(self.ports.items())}, indent=1))
        tmp.replace(path)

    def reload_ports(self) -> None:
        """Ports plugged after start (``cloison lab plug``) are added to the config file."""
        try:
            cfg = json.loads(Path(self.cfg["config_path"]).read_text())
        except (OSError, ValueError, KeyError):
            return
        for dev, p in cfg["ports"].items():
            if dev not in self.ports:
                self.ports[dev] = Port(dev, p["vlan"], p.get("camera"))

    def run(self) -> None:
        last_tick = 0.0
        while True:
            socks: list[socket.socket] = [*self.ctrl.values(), *self.raw.values()]
            if socks:
                ready, _, _ = select.select(socks, [], [], 0.2)
            else:
                ready = []
                time.sleep(0.2)
            for s in ready:
                dev = next((d for d, x in self.ctrl.items() if x is s), None)
                if dev is not None:
                    try:
                        self.on_event(dev, s.recv(4096).decode(errors="replace"))
                    except OSError:
                        self.ctrl.pop(dev, None)
                    continue
                dev = next((d for d, x in self.raw.items() if x is s), None)
                if dev is not None:
                    try:
                        data, addr = s.recvfrom(2048)
                        self.on_frame(dev, data, addr[2])
                    except OSError:
                        self.close_raw(dev)
            if time.monotonic() - last_tick >= 0.3:
                self.reload_ports()
                self.tick()
                self.write_status()
                last_tick = time.monotonic()


def main() -> None:
    ap = argparse.ArgumentParser(description="cloison lab: 802.1X/MAB port manager of one lab switch")
    ap.add_argument("config", type=Path)
    args = ap.parse_args()
    cfg = json.loads(args.config.read_text())
    cfg["config_path"] = str(args.config)
    PortManager(cfg).run()


if __name__ == "__main__":
    main()
