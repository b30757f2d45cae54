"""The sensor on the lab: an attacker plugged into a free camera port is flagged (issue 5).

The lab's switches are Open vSwitch bridges whose ``span`` port mirrors everything
(``select-all=true``, segmenting/lab/switches.py) to the site gateway's ``span0``; the sensor
runs there, in the gateway node's network namespace, with the allowlist the renderer makes
from the plan. A camera port starts closed (an OpenFlow ``drop`` on ``in_port``): an OVS
mirror that selects all ports mirrors a port's ingress before the flow table decides, so the
attacker's frames reach the sensor even though the switch forwards none of them.

The attacker takes a port no camera uses, gives itself an unused address of the camera subnet
(it has read the neighbours' addresses) and pings a camera: its ARP requests carry a MAC the
inventory does not know and a source address in the camera zone, the unknown-device alert.
It then sweeps 40 TCP ports of that camera (SYNs straight to the camera's MAC, a static
neighbour entry): the vertical-scan alert. Both carry cloison's site, zone and control IDs.
Before the plug, the sensor watches the segment for a few seconds: the cameras sit on their
ports (``lab`` fixture: not yet authorized, so EAPOL and link-local chatter, no streams) and
no unknown MAC may be reported.

The plan gives a site gateway no MAC: the sensor learns the camera-segment gateway's MAC on
first use (trust on first use, ids/detectors/unknown_device.py), and its link-local chatter
before that (router solicitations at link-up) is no longer judged; the replay tests in
test_ids_l2_detectors.py pin that. Alerts naming the gateway's own interface MACs are still set
aside here, because the lab gateway (a veth with a random MAC) may also speak on the camera
VLAN from an address the plan does not list for it; any other unknown MAC in the benign phase
fails the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from ipaddress import IPv4Interface
from pathlib import Path

import pytest

from ids.signatures import SCAN_VERTICAL, UNKNOWN_DEVICE
from segmenting.lab import plug as plug_mod
from segmenting.lab.pytest_plugin import Lab
from segmenting.lab.run import SubprocessRunner

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
UNKNOWN_DEVICE_SID = UNKNOWN_DEVICE.sid

SWEEP = """
import socket, sys, time
socks = []
for port in range(1, 41):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((sys.argv[1], port))
    socks.append(s)
time.sleep(0.5)
"""


def _eve(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _alerts(path: Path, sid: int) -> list[dict[str, object]]:
    return [e for e in _eve(path) if e.get("event_type") == "alert" and e["alert"]["signature_id"] == sid]  # type: ignore[index]


def _link_macs(ns: str) -> set[str]:
    """The MACs of every interface in namespace ``ns`` (the lab gateway's own)."""
    res = subprocess.run(["ip", "-n", ns, "-j", "link"], capture_output=True, text=True, check=True, timeout=10)
    return {link["address"] for link in json.loads(res.stdout) if link.get("address")}


def _by_mac(alerts: list[dict[str, object]], ignore: set[str]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for a in alerts:
        mac = a["cloison"]["mac"]  # type: ignore[index]
        if mac not in ignore:
            out.setdefault(mac, []).append(a)  # type: ignore[arg-type]
    return out


def _wait(predicate: object, seconds: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(step)
    return bool(predicate())  # type: ignore[operator]


@contextlib.contextmanager
def _sensor(ns: str, iface: str, allowlist: Path, eve: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``cloison ids run`` inside ``ns``; stopped by its PID (TERM, then KILL) whatever happens."""
    argv = ["ip", "netns", "exec", ns, str(PYTHON), "-m", "segmenting.cli", "ids", "run",
            "--iface", iface, "--allowlist", str(allowlist), "--eve", str(eve), "--stats"]  # fmt: skip
    with log.open("wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_attacker_on_a_free_camera_port_is_flagged(lab: Lab, tmp_path: Path) -> None:
    topo = lab.topology
    sw = next(s for s in topo.switches if s.transport == "fiber")
    site = sw.site
    gw = next(n for n in topo.nodes if n.kind == "gateway" and n.site == site)
    cams = [c for c in topo.cameras if c.site == site]
    assert cams, f"fibre site {site} has no camera in the lab"

    # The plan's IDS allowlist, as the renderer writes it for the collector.
    out = tmp_path / "render"
    res = subprocess.run([str(PYTHON), "-m", "segmenting.cli", "render", str(ROOT / "inventory" / "ingeagglo"),
                          "-o", str(out), "--only", "ids-allowlist"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    (allowlist,) = out.glob("*/ids-allowlist.json")

    gw_macs = _link_macs(gw.ns)
    eve, log = tmp_path / "eve.json", tmp_path / "sensor.log"
    with _sensor(gw.ns, "span0", allowlist, eve, log) as proc:
        assert _wait(lambda: "capturing on span0" in log.read_text() or proc.poll() is not None, 30), log.read_text()
        assert proc.poll() is None, f"sensor exited: {log.read_text()}"

        # Benign state: the cameras on their ports (known MACs), no unknown device.
        time.sleep(4)
        benign = _by_mac(_alerts(eve, UNKNOWN_DEVICE_SID), gw_macs)
        assert benign == {}, json.dumps(benign, indent=1)

        used = {p.port for p in sw.ports}
        port = max(used) + 1
        net = IPv4Interface(cams[0].ip).network
        taken = {IPv4Interface(c.ip).ip for c in topo.cameras} | {IPv4Interface(f"{cams[0].gateway}/32").ip}
        addr = next(h for h in reversed(list(net.hosts())) if h not in taken)
        r = SubprocessRunner()
        ns = plug_mod.plug(topo, lab.paths, r, f"{site}:{port}")
        try:
            lab.ns(ns, "ip", "link", "set", "eth0", "up")
            lab.ns(ns, "ip", "addr", "add", f"{addr}/{net.prefixlen}", "dev", "eth0")
            victim = cams[0]
            target = str(IPv4Interface(victim.ip).ip)
            start = time.monotonic()
            ping = subprocess.Popen(["ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.5", "-W", "1", target],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            try:
                mine = plug_mod.ATTACKER_MAC
                assert _wait(lambda: mine in _by_mac(_alerts(eve, UNKNOWN_DEVICE_SID), gw_macs), 8), (
                    f"no unknown-device alert; EVE: {_eve(eve)}; sensor: {log.read_text()}"
                )
                latency = time.monotonic() - start
            finally:
                ping.wait(timeout=15)
            # A SYN sweep of the camera's ports (its MAC read off the label: no ARP answer needed).
            lab.ns(ns, "ip", "neigh", "replace", target, "lladdr", victim.mac, "dev", "eth0")
            lab.ns(ns, str(PYTHON), "-c", SWEEP, target)
            assert _wait(lambda: _alerts(eve, SCAN_VERTICAL.sid), 8), f"no scan alert; EVE: {_eve(eve)}"
        finally:
            plug_mod.unplug(lab.paths, r, topo)

    alerts = _by_mac(_alerts(eve, UNKNOWN_DEVICE_SID), gw_macs)
    assert list(alerts) == [plug_mod.ATTACKER_MAC], json.dumps(alerts, indent=1)  # nothing else unknown
    assert len(alerts[plug_mod.ATTACKER_MAC]) == 1, alerts  # deduplicated per MAC
    a = alerts[plug_mod.ATTACKER_MAC][0]
    meta = a["cloison"]
    assert isinstance(meta, dict)
    assert meta["mac"] == plug_mod.ATTACKER_MAC, a
    assert a["src_ip"] == str(addr), a
    assert meta["site"] == site, a
    assert meta["zone"] == "cameras", a
    assert meta["zone_id"], a
    assert meta["controls"] == list(UNKNOWN_DEVICE.controls), a
    assert a["alert"]["severity"] == 1, a  # type: ignore[index]
    assert latency < 8
    scan = _alerts(eve, SCAN_VERTICAL.sid)
    assert scan[0]["src_ip"] == str(addr), scan
    assert scan[0]["dest_ip"] == target, scan
    assert scan[0]["cloison"]["site"] == site, scan  # type: ignore[index]
    assert scan[0]["cloison"]["controls"] == list(SCAN_VERTICAL.controls), scan  # type: ignore[index]
    # The sensor saw the segment all along and lost nothing (its counters, printed on exit).
    stats = json.loads(log.read_text().strip().splitlines()[-1])
    assert stats["packets"] > 0, stats
    assert stats["kernel_drops"] == 0, stats
    print(f"unknown device flagged {latency:.1f} s after the attacker's first frame", file=sys.stderr)
