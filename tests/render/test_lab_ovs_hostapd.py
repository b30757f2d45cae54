"""The lab's switch for real: the rendered OVS script runs against a private ovsdb-server and
ovs-vswitchd (userspace datapath) inside a throwaway netns, twice (idempotent); the hostapd
action script opens and closes the camera's port; hostapd accepts its config and enables the
port. Everything lives under a crend- netns and temp dir and is stopped by PID afterwards."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from crender_helpers import delete_netns

from segmenting.plan import Plan
from segmenting.render import hostapd, ovs
from segmenting.render._util import ovs_bridge, ovs_port
from segmenting.render.secrets import FakeSecrets

SITE = "s-castelroux-1"
pytestmark = pytest.mark.skipif(shutil.which("ovs-vswitchd") is None, reason="Open vSwitch not installed")


@dataclass
class Lab:
    netns: str
    env: dict[str, str]
    dir: Path

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *argv], env=self.env, capture_output=True, text=True, check=check
        )


@pytest.fixture(scope="module")
def lab(lab_plan: Plan) -> Iterator[Lab]:
    d = Path(tempfile.mkdtemp(prefix="crend-ovs-"))
    name = f"crend-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "OVS_RUNDIR": str(d), "OVS_DBDIR": str(d), "OVS_LOGDIR": str(d)}
    lab = Lab(name, env, d)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ovsdb-tool", "create", str(d / "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema"],
                       check=True, env=env)  # fmt: skip
        lab.run("ovsdb-server", str(d / "conf.db"), f"--remote=punix:{d}/db.sock", f"--pidfile={d}/ovsdb.pid",
                "--detach", f"--log-file={d}/ovsdb.log", f"--unixctl={d}/ovsdb.ctl")  # fmt: skip
        lab.run("ovs-vsctl", "--no-wait", "init")
        lab.run("ovs-vswitchd", f"unix:{d}/db.sock", f"--pidfile={d}/vswitchd.pid", "--detach",
                f"--log-file={d}/vswitchd.log", f"--unixctl={d}/vswitchd.ctl")  # fmt: skip
        site = lab_plan.site(SITE)
        # The lab creates the camera, uplink and mirror ports as veths; the script adds the rest.
        for port in [*(p for p, _ in site.switch.camera_ports), site.switch.uplink_port, site.switch.mirror_port]:
            lab.run("ip", "link", "add", ovs_port(site, port), "type", "veth", "peer", "name", f"crendpeer{port}")
            lab.run("ip", "link", "set", ovs_port(site, port), "up")
        yield lab
    finally:
        for pid_file in ("vswitchd.pid", "ovsdb.pid"):
            pid = d / pid_file
            if pid.exists():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid.read_text().strip()), signal.SIGTERM)
        time.sleep(0.3)
        delete_netns(name)
        shutil.rmtree(d, ignore_errors=True)


def _write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def test_ovs_script_builds_the_switch_and_is_idempotent(lab: Lab, lab_plan: Plan) -> None:
    (f,) = ovs.render(lab_plan, f"sw-{SITE}", FakeSecrets())
    script = _write(lab.dir, "ovs-setup.sh", f.text)
    for _ in range(2):
        res = lab.run("sh", str(script), check=False)
        assert res.returncode == 0, res.stderr
    site = lab_plan.site(SITE)
    br = ovs_bridge(site)
    assert lab.run("ovs-vsctl", "get", "bridge", br, "datapath_type").stdout.strip() == "netdev"
    for port, _cam in site.switch.camera_ports:
        name = ovs_port(site, port)
        assert lab.run("ovs-vsctl", "get", "port", name, "protected").stdout.strip() == "true"
        assert lab.run("ovs-vsctl", "get", "port", name, "tag").stdout.strip() == str(site.vlans["cameras"])
    up = ovs_port(site, site.switch.uplink_port)
    trunks = lab.run("ovs-vsctl", "get", "port", up, "trunks").stdout.strip()
    assert trunks == "[" + ", ".join(str(v) for v in sorted({*site.vlans.values()} - {site.vlans["unused"]})) + "]"
    mirrors = lab.run("ovs-vsctl", "--columns=name", "list", "mirror").stdout
    assert mirrors.count("ids") == 1, "one mirror, even after two runs"
    unused = ovs_port(site, site.switch.unused_ports[0])
    assert "PORT_DOWN" in lab.run("ovs-ofctl", "show", br).stdout.split(unused, 1)[1].split("\n", 3)[1]
    flows = lab.run("ovs-ofctl", "dump-flows", br).stdout
    expected = 1 + len(site.switch.camera_ports) + len(site.switch.unused_ports) + len(site.switch.camera_ports)
    assert flows.count("cookie=0xc105") == expected, "flows replaced, not duplicated"
    assert "dl_src=" not in flows, "every camera port starts closed, MAB ones included"


def test_action_script_opens_and_closes_the_port(lab: Lab, lab_plan: Plan) -> None:
    test_ovs_script_builds_the_switch_and_is_idempotent(lab, lab_plan)
    site = lab_plan.site(SITE)
    files = {f.path: f.text for f in hostapd.render(lab_plan, f"sw-{SITE}", FakeSecrets())}
    action = _write(lab.dir, "action.sh", files["hostapd/action.sh"])
    cam = next(c for c in lab_plan.cameras if c.site == SITE and c.auth == "eap-tls")
    port = ovs_port(site, cam.port)
    br = ovs_bridge(site)
    lab.run("sh", str(action), port, "AP-STA-CONNECTED", "02:00:00:00:00:99")  # not the planned camera
    assert f"dl_src={cam.mac}" not in lab.run("ovs-ofctl", "dump-flows", br).stdout
    assert "dl_src=02:00:00:00:00:99" not in lab.run("ovs-ofctl", "dump-flows", br).stdout
    lab.run("sh", str(action), port, "AP-STA-CONNECTED", cam.mac)
    flows = lab.run("ovs-ofctl", "dump-flows", br).stdout
    assert f"dl_src={cam.mac},arp_spa={cam.ip}" in flows and f"nw_src={cam.ip}" in flows
    lab.run("sh", str(action), port, "AP-STA-DISCONNECTED", cam.mac)
    assert f"dl_src={cam.mac}" not in lab.run("ovs-ofctl", "dump-flows", br).stdout


@pytest.mark.skipif(shutil.which("hostapd") is None, reason="hostapd not installed")
def test_hostapd_accepts_the_port_config(lab: Lab, lab_plan: Plan) -> None:
    site = lab_plan.site(SITE)
    cam = next(c for c in lab_plan.cameras if c.site == SITE and c.auth == "eap-tls")
    files = {f.path: f.text for f in hostapd.render(lab_plan, f"sw-{SITE}", FakeSecrets())}
    vlans = _write(lab.dir, "vlan", files["hostapd/vlan"])
    text = files[f"hostapd/{ovs_port(site, cam.port)}.conf"]
    conf = _write(lab.dir, "hostapd.conf", re.sub(r"(?m)^vlan_file=.*$", f"vlan_file={vlans}", text))
    # Dynamic VLAN needs the VLAN netdevs first (LAB-NOTES); the lab makes them taps.
    for line in files["hostapd/vlan"].splitlines():
        dev = line.split()[1]
        lab.run("ip", "tuntap", "add", dev, "mode", "tap", check=False)
        lab.run("ip", "link", "set", dev, "up")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", lab.netns, "hostapd", "-d", str(conf)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline, seen = time.time() + 10, ""
        assert proc.stdout is not None
        while time.time() < deadline and "AP-ENABLED" not in seen:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert "AP-ENABLED" in seen, seen[-2000:]
        assert "driver=wired" not in seen or "unknown" not in seen.lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(f"/run/hostapd-{ovs_bridge(site)}", ignore_errors=True)
