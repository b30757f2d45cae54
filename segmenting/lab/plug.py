"""``cloison lab plug attacker``: an attacker's foothold on a camera port or on the internet side.

On a camera port the camera is unplugged first (its cable pulled: the veth is deleted, which the
port manager sees as link down and closes the port); the attacker's namespace takes the port, and
a hostapd is started on it if there was none, exactly as for any 802.1X-controlled port.
"""

from __future__ import annotations

import json

from segmenting.lab import cameras, netns, switches
from segmenting.lab.names import FABRIC_NS, LabPaths
from segmenting.lab.names import netns as ns_name
from segmenting.lab.run import LabError, Runner
from segmenting.lab.state import load, save
from segmenting.lab.topology import ATTACKER_INET_IP, INET_LAN, INET_ROUTER, Iface, Link, Topology

ATTACKER = "attacker"
ATTACKER_MAC = "02:00:5e:10:66:66"  # locally administered: no vendor, unknown to RADIUS


def plug(topo: Topology, paths: LabPaths, r: Runner, where: str) -> str:
    st = load(paths.state)
    if st.phase != "up":
        raise LabError("the lab is not up: run `cloison lab up DIR` first")
    ns = ns_name(ATTACKER)
    if ATTACKER in st.plugged:
        unplug(paths, r, topo)
        st = load(paths.state)
    if ns not in st.netns:
        st.netns.append(ns)
        save(paths.state, st)
        netns.add_ns(r, ns)
    if where == "internet":
        prefix = INET_LAN.split("/")[1]
        netns.add_link(
            r,
            Link(
                Iface(ns, "eth0", (f"{ATTACKER_INET_IP}/{prefix}",), ATTACKER_MAC),
                Iface(FABRIC_NS, "l-attacker"),
                "lan",
            ),
        )
        r.run(["ip", "-n", ns, "route", "replace", "default", "via", INET_ROUTER])
    else:
        site, _, port_text = where.partition(":")
        sw = topo.switch(site)
        port = int(port_text)
        dev = f"p{port}"
        cam = next((c for c in topo.cameras if c.site == site and c.port == port), None)
        if cam is not None:
            r.run(["ip", "-n", cam.ns, "link", "del", "eth0"], check=False)  # the camera's cable, pulled
        env = switches.env(paths, sw)
        netns.add_link(
            r, Link(Iface(ns, "eth0", (), ATTACKER_MAC), Iface(sw.ns, dev), ovs_tag=sw.vlans["unused"], closed=True)
        )
        # A new cable is a new netdev: re-add the OVS port (closed) and restart the port's hostapd.
        r.run(["ovs-vsctl", "--if-exists", "del-port", switches.BRIDGE, dev, "--", *switches.access_port(sw, dev)],
              ns=sw.ns, env=env)  # fmt: skip
        r.run(["ovs-ofctl", "add-flow", switches.BRIDGE, switches.close_flow(dev)], ns=sw.ns, env=env)
        old = [p for p in st.procs if p.what == f"hostapd:{sw.id}:{dev}"]
        r.stop(old, grace=3)
        st.procs = [p for p in st.procs if p not in old]
        secret = (paths.switch(sw.id) / "radius.secret").read_text().strip()
        switches.start_hostapd(r, sw, dev, paths, state=st, secret=secret)
        cfg_path = paths.switch(sw.id) / "portd.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["ports"].setdefault(dev, {"vlan": sw.vlans["quarantine"], "camera": None})
        cfg_path.write_text(json.dumps(cfg, indent=1))
        # The attacker guesses the camera's address and sends traffic: the port must carry none.
        if cam is not None:
            r.run(["ip", "-n", ns, "addr", "add", cam.ip, "dev", "eth0"])
            r.run(["ip", "-n", ns, "route", "replace", "default", "via", cam.gateway])
    st.plugged[ATTACKER] = where
    save(paths.state, st)
    return ns


def unplug(paths: LabPaths, r: Runner, topo: Topology | None = None) -> None:
    """Remove the attacker; a camera whose port it took gets its cable back (and re-authenticates)."""
    st = load(paths.state)
    ns = ns_name(ATTACKER)
    where = st.plugged.pop(ATTACKER, "")
    if ns in st.netns:
        # Pull the cable first: deleting the link is synchronous, a namespace's teardown is not,
        # and the port's name must be free again for the camera's own cable.
        r.run(["ip", "-n", ns, "link", "del", "eth0"], check=False)
        netns.del_ns(r, ns)
        st.netns.remove(ns)
    if topo is not None and ":" in where:
        site, _, port_text = where.partition(":")
        sw = topo.switch(site)
        dev = f"p{port_text}"
        env = switches.env(paths, sw)
        old = [p for p in st.procs if p.what == f"hostapd:{sw.id}:{dev}"]
        r.stop(old, grace=3)
        st.procs = [p for p in st.procs if p not in old]
        r.run(["ovs-vsctl", "--if-exists", "del-port", switches.BRIDGE, dev], ns=sw.ns, env=env)
        cam = next((c for c in topo.cameras if c.site == site and c.port == int(port_text)), None)
        if cam is not None:
            netns.add_link(
                r,
                Link(
                    Iface(cam.ns, "eth0", (cam.ip,), cam.mac),
                    Iface(sw.ns, dev),
                    ovs_tag=sw.vlans["unused"],
                    closed=True,
                ),
            )
            r.run(["ip", "-n", cam.ns, "route", "replace", "default", "via", cam.gateway])
            r.run(["ovs-vsctl", *switches.access_port(sw, dev)], ns=sw.ns, env=env)
            r.run(["ovs-ofctl", "add-flow", switches.BRIDGE, switches.close_flow(dev)], ns=sw.ns, env=env)
            secret = (paths.switch(sw.id) / "radius.secret").read_text().strip()
            switches.start_hostapd(r, sw, dev, paths, state=st, secret=secret)
            sup = [p for p in st.procs if p.what == f"supplicant:{cam.id}"]
            if sup:  # the supplicant was bound to the old interface: start it again
                r.stop(sup, grace=3)
                st.procs = [p for p in st.procs if p not in sup]
                d = paths.pki
                cameras.start_supplicant(
                    r, cam, paths, key=d / f"{cam.id}.key", cert=d / f"{cam.id}.pem", ca=d / "ca.pem", state=st
                )
    save(paths.state, st)
