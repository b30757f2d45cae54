"""The lab end to end: hosts reachable, 802.1X/MAB gating, streams, tunnels needed, clean teardown.

Runs as root on the lab machine (``@pytest.mark.lab``); one lab for the whole session (the ``lab``
fixture of :mod:`segmenting.lab.pytest_plugin`). Tests run in file order: the ones that need the
stand-in RADIUS/routing (``lab_network``) come after the ones that check the lab as ``lab up``
leaves it, and the last one takes the lab down and checks that nothing is left.
"""

from __future__ import annotations

import os
import subprocess
from ipaddress import IPv4Interface
from pathlib import Path

import pytest
from netmiko import ConnectHandler

from segmenting.api import load_plan
from segmenting.lab import access, cameras, nodes, plug
from segmenting.lab import lab as lab_mod
from segmenting.lab.pytest_plugin import DEFAULT_DEPLOYMENT, Lab, wait_for
from segmenting.lab.run import SubprocessRunner, alive
from segmenting.lab.state import load
from segmenting.lab.topology import build_topology

pytestmark = [pytest.mark.lab, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TOPO = build_topology(load_plan(DEFAULT_DEPLOYMENT))
TARGETS = [h for h, _, _ in access.targets(TOPO)]
FIBER = next(s for s in TOPO.switches if s.transport == "fiber")
TUNNELLED = [s for s in TOPO.switches if s.transport != "fiber"]
FIBER_CAMERAS = [c for c in TOPO.cameras if c.site == FIBER.site]


@pytest.mark.parametrize("host", TARGETS)
def test_managed_host_answers_ssh(lab: Lab, host: str) -> None:
    res = lab.ssh(host, "echo $(hostname)", check=False)
    assert res.returncode == 0, res.stderr
    expected = lab.topology.node_playing(host).id if not host.startswith("sw-") else None
    if expected:
        assert res.stdout.strip() == expected


def test_ansible_ping_every_host(lab: Lab) -> None:
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": f"{REPO / '.venv/bin'}:{os.environ['PATH']}",
    }
    res = subprocess.run([str(REPO / ".venv/bin/ansible"), "-i", str(lab.paths.inventory), "all", "-m", "ping"],
                         capture_output=True, text=True, env=env, timeout=240, check=False)  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert res.stdout.count("SUCCESS") == len(TARGETS)


def test_lab_up_is_idempotent(lab: Lab) -> None:
    res = lab_mod.up(DEFAULT_DEPLOYMENT, len(TOPO.sites), lab.paths, SubprocessRunner(), progress=lambda _: None)
    assert res.already


def test_switch_is_driven_over_ssh_with_netmiko(lab: Lab) -> None:
    conn = ConnectHandler(device_type="linux", host=FIBER.mgmt_ip, username="root", use_keys=True,
                          key_file=str(lab.paths.ssh_key), allow_agent=False)  # fmt: skip
    try:
        ports = conn.send_command("ovs-vsctl list-ports cl-br").split()
        mirror = conn.send_command("ovs-vsctl --columns=name,select_all list mirror")
        datapath = conn.send_command("ovs-vsctl get bridge cl-br datapath_type")
    finally:
        conn.disconnect()
    assert {p.dev for p in FIBER.ports} | {"up-cam", "up-quar", "up-mgmt", "span"} <= set(ports)
    assert "cl-span" in mirror and "true" in mirror
    assert datapath.strip() == "netdev"


def test_camera_ports_start_closed(lab: Lab) -> None:
    """Before RADIUS is configured no camera port forwards anything (only EAPOL reaches hostapd)."""
    for sw in lab.topology.switches:
        states = lab.ports(sw.id)
        assert states, sw.id
        assert all(p["state"] != "authorized" for p in states.values()), states
        flows = lab.ovs(sw, "ovs-ofctl", "dump-flows", "cl-br").stdout
        for port in sw.ports:
            tag = lab.ovs(sw, "ovs-vsctl", "get", "port", port.dev, "tag").stdout.strip()
            assert tag == str(sw.vlans["unused"])
        assert flows.count("actions=drop") >= len(sw.ports)


def test_cameras_are_authorized_by_radius(lab_network: Lab) -> None:
    def done() -> dict[str, dict[str, object]] | None:
        states = lab_network.ports(FIBER.id)
        ok = all(states.get(f"p{c.port}", {}).get("state") == "authorized" for c in FIBER_CAMERAS)
        return states if ok else None

    states = wait_for(done, 90)
    assert states, lab_network.ports(FIBER.id)
    for cam in FIBER_CAMERAS:
        port = states[f"p{cam.port}"]
        assert port["method"] == ("802.1x" if cam.auth == "eap-tls" else "mab")
        assert port["assigned_vlan"] == cam.vlan  # the VLAN RADIUS returned, applied to the port
        tag = lab_network.ovs(FIBER, "ovs-vsctl", "get", "port", f"p{cam.port}", "tag").stdout.strip()
        assert tag == str(cam.vlan)


@pytest.mark.parametrize("camera", [c.id for c in FIBER_CAMERAS])
def test_stream_readable_from_recording_zone(lab_network: Lab, camera: str) -> None:
    cam = lab_network.topology.camera(camera)
    url = cameras.rtsp_url(cam)
    probe = f"ffprobe -v error -rtsp_transport {cameras.RTSP_TRANSPORT} -show_entries stream=codec_name -of csv=p=0"
    cmd = f"timeout 30 {probe} {url}"
    res = lab_network.ssh("csu-rec-01", cmd, check=False)
    assert res.stdout.strip().splitlines()[:1] == ["h264"], res.stderr


def test_tunnelled_sites_have_no_path_without_the_tunnel(lab_network: Lab) -> None:
    for sw in TUNNELLED:
        gw = lab_network.topology.node(next(n.id for n in lab_network.topology.nodes if n.site == sw.site))
        res = lab_network.ssh(gw.id, f"ping -c 1 -W 1 {sw.radius_ip}", check=False)
        assert res.returncode != 0  # the CSU is reachable only through the IKEv2 tunnel (vpn role)
        states = lab_network.ports(sw.id)
        assert all(p["state"] != "authorized" for p in states.values()), states


def _attacker_reaches(lab: Lab, target: str) -> bool:
    return lab.ns("cl-attacker", "ping", "-c", "1", "-W", "1", target).returncode == 0


def test_unauthenticated_device_gets_no_traffic_through(lab_network: Lab) -> None:
    free = next(p for p in range(1, 48) if p not in {c.port for c in FIBER_CAMERAS})
    plug.plug(lab_network.topology, lab_network.paths, SubprocessRunner(), f"{FIBER.site}:{free}")
    victim = FIBER_CAMERAS[0]
    gateway = victim.gateway
    net = IPv4Interface(victim.ip).network
    lab_network.ns("cl-attacker", "ip", "addr", "add", f"{net.broadcast_address - 5}/{net.prefixlen}", "dev", "eth0")
    lab_network.ns("cl-attacker", "ip", "route", "replace", "default", "via", gateway)
    try:
        # While the port is closed nothing passes; once MAB rejects the unknown MAC, quarantine.
        assert not _attacker_reaches(lab_network, gateway)

        def quarantined() -> bool:
            return lab_network.ports(FIBER.id).get(f"p{free}", {}).get("state") == "quarantine"

        for _ in range(10):  # keep talking (ARP) so that the port sees a MAC to try MAB with
            if quarantined():
                break
            _attacker_reaches(lab_network, gateway)
        assert wait_for(quarantined, 20), lab_network.ports(FIBER.id)
        tag = lab_network.ovs(FIBER, "ovs-vsctl", "get", "port", f"p{free}", "tag").stdout.strip()
        assert tag == str(FIBER.vlans["quarantine"])
        for target in (gateway, victim.ip.split("/")[0], "10.0.1.10", "10.0.3.10"):
            assert not _attacker_reaches(lab_network, target), target
    finally:
        plug.unplug(lab_network.paths, SubprocessRunner(), lab_network.topology)


def test_attacker_on_a_camera_port_is_quarantined_and_the_camera_comes_back(lab_network: Lab) -> None:
    cam = next(c for c in FIBER_CAMERAS if c.auth == "mab")  # the legacy camera's port, cable swapped
    dev = f"p{cam.port}"

    def port() -> dict[str, object]:
        return lab_network.ports(FIBER.id).get(dev, {})

    plug.plug(lab_network.topology, lab_network.paths, SubprocessRunner(), f"{FIBER.site}:{cam.port}")
    try:
        for _ in range(10):
            if port().get("state") == "quarantine":
                break
            _attacker_reaches(lab_network, cam.gateway)  # ARP: the port sees the attacker's MAC
        assert wait_for(lambda: port().get("state") == "quarantine", 20), port()
        assert port()["mac"] == plug.ATTACKER_MAC
        for target in (cam.gateway, "10.0.1.10"):
            assert not _attacker_reaches(lab_network, target), target
    finally:
        plug.unplug(lab_network.paths, SubprocessRunner(), lab_network.topology)
    assert wait_for(lambda: port().get("state") == "authorized" and port().get("mac") == cam.mac, 60), port()


def test_attacker_on_the_internet_sees_only_public_endpoints(lab_network: Lab) -> None:
    plug.plug(lab_network.topology, lab_network.paths, SubprocessRunner(), "internet")
    try:
        assert _attacker_reaches(lab_network, "198.18.0.10")  # the internet itself
        assert _attacker_reaches(lab_network, lab_network.plan.csu.vpn_endpoint)  # the VPN endpoint
        for private in ("10.0.3.10", "10.0.1.10", FIBER_CAMERAS[0].ip.split("/")[0], FIBER.plan_mgmt_ip):
            assert not _attacker_reaches(lab_network, private), private
    finally:
        plug.unplug(lab_network.paths, SubprocessRunner(), lab_network.topology)


def test_logoff_and_link_down_close_the_port(lab_network: Lab) -> None:
    cam = next(c for c in FIBER_CAMERAS if c.auth == "eap-tls")
    dev = f"p{cam.port}"
    wpa = ["wpa_cli", "-p", str(lab_network.paths.camera(cam.id) / "wpa"), "-i", "eth0"]

    def state() -> object:
        return lab_network.ports(FIBER.id)[dev]["state"]

    lab_network.ns(cam.ns, *wpa, "logoff")
    assert wait_for(lambda: state() == "closed", 15), lab_network.ports(FIBER.id)[dev]
    lab_network.ns(cam.ns, *wpa, "logon")
    assert wait_for(lambda: state() == "authorized", 60), lab_network.ports(FIBER.id)[dev]
    lab_network.ns(cam.ns, "ip", "link", "set", "eth0", "down")
    assert wait_for(lambda: state() == "closed", 15), lab_network.ports(FIBER.id)[dev]
    lab_network.ns(cam.ns, "ip", "link", "set", "eth0", "up")
    # Link down took the camera's default route with it; the camera sets it again on link up, as
    # a real one does (without it, the rest of the session saw this camera cut from the CSU).
    lab_network.ns(cam.ns, "ip", "route", "replace", "default", "via", cam.gateway)
    assert wait_for(lambda: state() == "authorized", 60), lab_network.ports(FIBER.id)[dev]


def test_status_reports_memory(lab: Lab) -> None:
    info = lab_mod.status(lab.paths)
    assert info["phase"] == "up"
    assert float(info["memory_total_mib"]) > 50  # type: ignore[arg-type]


def test_zz_down_leaves_nothing(lab: Lab) -> None:
    st = load(lab.paths.state)
    assert st.procs and st.netns and st.mounts
    took = lab_mod.down(lab.paths, SubprocessRunner())
    assert took < 20
    left_ns = [ns for ns in st.netns if Path(f"/run/netns/{ns}").exists()]
    assert not left_ns
    assert not [p for p in st.procs if alive(p)]
    mounts = Path("/proc/self/mounts").read_text()
    assert str(lab.paths.root) not in mounts
    assert not Path("/sys/class/net/cl-mgmt").exists()
    assert not any((h / nodes.CGROUP_LAB).exists() for h in nodes.cgroup_hierarchies())
    assert not lab.paths.root.exists()
    propagate = Path("/run/systemd/nspawn/propagate")
    assert not (propagate.exists() and any(propagate.glob("cl-*")))
