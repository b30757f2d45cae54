"""802.1X end to end with the rendered files only: a camera (wpa_supplicant, EAP-TLS, wired)
talks to the lab switch's hostapd (rendered port config) which asks the CSU's FreeRADIUS
(rendered clients, EAP and users files). The camera whose certificate names its planned
identity gets in, with the cameras VLAN in the Access-Accept; a certificate whose CN is not
the identity claimed is refused (check_cert_cn).

Three throwaway namespaces (crend-…): camera ↔ switch over the veth that is the switch's camera
port, switch ↔ RADIUS over a second veth carrying the plan's addresses (switch management
address, RADIUS address). LAB-NOTES: hostapd wired + wpa_supplicant -D wired + FreeRADIUS
EAP-TLS works end to end in about 2 s.
"""

from __future__ import annotations

import os
import re
import select
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
from crender_helpers import assemble_raddb, delete_netns

from segmenting.plan import Plan
from segmenting.render import hostapd
from segmenting.render._util import ovs_bridge, ovs_port, site
from segmenting.render.secrets import FakeSecrets

SITE = "s-castelroux-1"
pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("hostapd", "wpa_supplicant", "freeradius")),
    reason="hostapd, wpa_supplicant and freeradius are needed",
)


@dataclass
class Net:
    cam: str
    sw: str
    rad: str
    dir: Path
    raddb: Path


def _ns(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *argv], check=True, capture_output=True)


@pytest.fixture(scope="module")
def net(lab_plan: Plan) -> Iterator[Net]:
    tag = uuid.uuid4().hex[:6]
    names = [f"crend-{tag}-{n}" for n in ("cam", "sw", "rad")]
    d = Path(tempfile.mkdtemp(prefix="crend-dot1x-"))
    s = site(lab_plan, SITE)
    radius_ip = lab_plan.host("csu-radius").ip
    for n in names:
        subprocess.run(["ip", "netns", "add", n], check=True)
        _ns(n, "ip", "link", "set", "lo", "up")
    cam, sw, rad = names
    try:
        cam_port = ovs_port(s, next(p for p, c in s.switch.camera_ports if _auth(lab_plan, c) == "eap-tls"))
        _ns(sw, "ip", "link", "add", cam_port, "type", "veth", "peer", "name", "crcam0", "netns", cam)
        _ns(sw, "ip", "link", "add", "crsw0", "type", "veth", "peer", "name", "crrad0", "netns", rad)
        for ns, dev in ((sw, cam_port), (cam, "crcam0"), (sw, "crsw0"), (rad, "crrad0")):
            _ns(ns, "ip", "link", "set", dev, "up")
        _ns(sw, "ip", "addr", "add", f"{s.switch.mgmt_ip}/32", "dev", "crsw0")
        _ns(sw, "ip", "route", "add", f"{radius_ip}/32", "dev", "crsw0")
        _ns(rad, "ip", "addr", "add", f"{radius_ip}/32", "dev", "crrad0")
        _ns(rad, "ip", "route", "add", f"{s.switch.mgmt_ip}/32", "dev", "crrad0")
        raddb = assemble_raddb(lab_plan, d)
        yield Net(cam, sw, rad, d, raddb)
    finally:
        for n in names:
            delete_netns(n)
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(f"/run/hostapd-{ovs_bridge(s)}", ignore_errors=True)


def _auth(plan: Plan, cam_id: str) -> str:
    return next(c.auth for c in plan.cameras if c.id == cam_id)


def _camera_cert(raddb: Path, out: Path, cn: str) -> tuple[Path, Path]:
    ca = raddb / "certs" / "cloison"
    key, csr, pem = out / f"{cn}.key", out / f"{cn}.csr", out / f"{cn}.pem"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for argv in (
        ["req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={cn}"],
        ["x509", "-req", "-in", str(csr), "-CA", str(ca / "ca.pem"), "-CAkey", str(ca / "ca.key"),
         "-CAcreateserial", "-out", str(pem), "-days", "2"],
    ):  # fmt: skip
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    return key, pem


class _Proc:
    def __init__(self, argv: list[str]) -> None:
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.seen = ""
        self._pending = ""  # read from the pipe, not yet matched: a partial line at most

    def wait_for(self, *markers: str, timeout: float) -> str:
        """The first marker seen in the output before ``timeout`` ("" if none): never blocks past it.

        Reads the pipe's file descriptor directly: a buffered reader would pull several lines in
        one read and hand back one, and select() on the descriptor would then wait for the next
        write while the marker sits in the reader's buffer (hostapd writes to a pipe in blocks).
        """
        assert self.p.stdout is not None
        fd = self.p.stdout.fileno()
        deadline = time.time() + timeout
        while True:
            *lines, self._pending = self._pending.split("\n")
            for i, line in enumerate(lines):
                self.seen += line + "\n"
                for marker in markers:
                    if marker in line:
                        self._pending = "\n".join([*lines[i + 1 :], self._pending])
                        return marker
            left = deadline - time.time()
            if left <= 0:
                return ""
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return ""
            chunk = os.read(fd, 65536)
            if not chunk:
                return ""
            self._pending += chunk.decode(errors="replace")

    def stop(self) -> str:
        self.p.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rest, _ = self.p.communicate()
        self.seen += self._pending + (rest or b"").decode(errors="replace")
        self._pending = ""
        return self.seen


def _attempt(net: Net, lab_plan: Plan, identity: str, cert_cn: str) -> tuple[str, str, bool]:
    s = site(lab_plan, SITE)
    port, cam_id = next((p, c) for p, c in s.switch.camera_ports if _auth(lab_plan, c) == "eap-tls")
    files = {f.path: f.text for f in hostapd.render(lab_plan, s.switch.id, FakeSecrets())}
    vlans = net.dir / "vlan"
    vlans.write_text(files["hostapd/vlan"], encoding="utf-8")
    conf = net.dir / "hostapd.conf"
    text = files[f"hostapd/{ovs_port(s, port)}.conf"]
    conf.write_text(re.sub(r"(?m)^vlan_file=.*$", f"vlan_file={vlans}", text), encoding="utf-8")
    for line in files["hostapd/vlan"].splitlines():  # dynamic VLAN: the netdevs exist first
        dev = line.split()[1]
        subprocess.run(["ip", "netns", "exec", net.sw, "ip", "tuntap", "add", dev, "mode", "tap"], check=False)
        subprocess.run(["ip", "netns", "exec", net.sw, "ip", "link", "set", dev, "up"], check=False)
    key, pem = _camera_cert(net.raddb, net.dir, cert_cn)
    supp = net.dir / "supplicant.conf"
    supp.write_text(
        "ap_scan=0\nnetwork={\n key_mgmt=IEEE8021X\n eap=TLS\n eapol_flags=0\n"
        f' identity="{identity}"\n ca_cert="{net.raddb}/certs/cloison/ca.pem"\n'
        f' client_cert="{pem}"\n private_key="{key}"\n}}\n',
        encoding="utf-8",
    )
    rad = _Proc(["ip", "netns", "exec", net.rad, "freeradius", "-X", "-d", str(net.raddb)])
    ap = _Proc(["ip", "netns", "exec", net.sw, "hostapd", "-d", str(conf)])
    supplicant: _Proc | None = None
    try:
        assert rad.wait_for("Ready to process requests", timeout=15), rad.seen[-2000:]
        assert ap.wait_for("AP-ENABLED", timeout=30), ap.seen[-2000:]
        supplicant = _Proc(["ip", "netns", "exec", net.cam, "wpa_supplicant", "-D", "wired", "-i", "crcam0",
                            "-c", str(supp)])  # fmt: skip
        ok = ap.wait_for("AP-STA-CONNECTED", "CTRL-EVENT-EAP-FAILURE", timeout=20) == "AP-STA-CONNECTED"
        del cam_id
    finally:
        sup_out = supplicant.stop() if supplicant else ""
        ap_out = ap.stop()
        rad_out = rad.stop()
    return rad_out, ap_out + sup_out, ok


def test_camera_with_its_certificate_gets_the_cameras_vlan(net: Net, lab_plan: Plan) -> None:
    s = site(lab_plan, SITE)
    cam = next(c for c in lab_plan.cameras if c.site == SITE and c.auth == "eap-tls")
    assert cam.identity
    rad, ap, ok = _attempt(net, lab_plan, cam.identity, cam.identity)
    assert ok, ap[-3000:]
    accept = rad[rad.rfind("Sent Access-Accept") :]
    assert "Sent Access-Accept" in rad, rad[-3000:]
    reply = accept.split("Finished request", 1)[0]
    assert f'Tunnel-Private-Group-Id = "{s.vlans["cameras"]}"' in reply
    assert "Tunnel-Type = VLAN" in reply and "Tunnel-Medium-Type = IEEE-802" in reply


def test_certificate_not_naming_the_identity_is_refused(net: Net, lab_plan: Plan) -> None:
    cam = next(c for c in lab_plan.cameras if c.site == SITE and c.auth == "eap-tls")
    assert cam.identity
    rad, _ap, ok = _attempt(net, lab_plan, cam.identity, "someone-else.ingeagglo.cameras")
    assert not ok, "a camera presenting another CN must not be authorised"
    assert "Sent Access-Reject" in rad, rad[-3000:]
    assert "Sent Access-Accept" not in rad
