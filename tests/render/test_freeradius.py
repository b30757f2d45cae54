"""FreeRADIUS: the rendered files, overlaid on Debian's /etc/freeradius/3.0 copy, pass
``freeradius -XC``; then a real server in a throwaway netns answers MAB requests the way the
plan says (known MAC on its own switch → cameras VLAN, unknown MAC → quarantine VLAN, a
known MAC on another switch → quarantine, unknown client → no answer)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from crender_helpers import assemble_raddb, delete_netns

from segmenting.plan import Plan
from segmenting.render import freeradius
from segmenting.render._switch import radius_key
from segmenting.render._util import mac_plain
from segmenting.render.secrets import FakeSecrets

SYSTEM = Path("/etc/freeradius/3.0")
pytestmark = pytest.mark.skipif(
    not SYSTEM.exists() or shutil.which("freeradius") is None, reason="freeradius 3.x not installed"
)


@pytest.fixture(scope="module")
def raddb(plan: Plan) -> Iterator[Path]:
    # Not under pytest's tmp dir: that one is 0700 and freeradius runs as the freerad user.
    dest = Path(tempfile.mkdtemp(prefix="crend-radius-"))
    try:
        yield assemble_raddb(plan, dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_freeradius_accepts_the_configuration(raddb: Path) -> None:
    res = subprocess.run(["freeradius", "-XC", "-d", str(raddb)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "Configuration appears to be OK" in res.stdout


def test_freeradius_check_is_a_real_check(raddb: Path) -> None:
    broken = raddb.parent / "broken"
    shutil.copytree(raddb, broken, symlinks=True)
    users = broken / "mods-config" / "files" / "authorize"
    users.write_text(users.read_text(encoding="utf-8").replace("Tunnel-Type = VLAN,", "Tunnel-Type = ,", 1))
    res = subprocess.run(["freeradius", "-XC", "-d", str(broken)], capture_output=True, text=True, check=False)
    assert res.returncode != 0


def test_eap_is_tls_only(plan: Plan) -> None:
    text = freeradius.eap_conf(plan)
    assert "default_eap_type = tls" in text and 'tls_min_version = "1.2"' in text
    for other in ("md5 {", "peap {", "ttls {", "mschapv2 {", "gtc {", "\tca_path ="):
        assert other not in text
    assert "check_cert_cn = %{User-Name}" in text


@pytest.fixture(scope="module")
def server(raddb: Path, netns_module: str) -> Iterator[str]:
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns_module, "freeradius", "-f", "-l", "stdout", "-d", str(raddb)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        subprocess.run(["ip", "netns", "exec", netns_module, "ip", "link", "set", "lo", "up"], check=True)
        time.sleep(1.0)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        yield netns_module
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def netns_module() -> Iterator[str]:
    name = f"crend-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
    try:
        yield name
    finally:
        delete_netns(name)


def _mab(netns: str, user: str, nas: str, secret: str, server: str) -> str:
    """A MAB request as a switch sends it (PAP, User-Name = User-Password = the MAC)."""
    attrs = f'User-Name = "{user}"\nUser-Password = "{user}"\nNAS-IP-Address = {nas}\nService-Type = Call-Check\n'
    attrs += "Message-Authenticator = 0x00\n"
    res = subprocess.run(
        ["ip", "netns", "exec", netns, "radclient", "-x", "-r", "1", "-t", "2", f"{server}:1812", "auth", secret],
        input=attrs, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return res.stdout + res.stderr


def test_mab_requests_get_the_planned_vlan(plan: Plan, server: str, raddb: Path) -> None:
    site = plan.site("s-sainte-ombre-1")
    sw = site.switch
    secret = FakeSecrets().get(radius_key(sw.id))
    assert f"client {sw.id} {{" in (raddb / "clients.conf").read_text(encoding="utf-8")
    # The namespace's loopback carries the switch's address: requests sent to it leave from it,
    # so the server sees the switch as the client (the netns is ours, nothing else sees it).
    subprocess.run(["ip", "netns", "exec", server, "ip", "addr", "add", f"{sw.mgmt_ip}/32", "dev", "lo"], check=True)
    mab_cam = next(c for c in plan.cameras if c.site == site.id and c.auth == "mab")
    other = plan.site("s-merival-1").switch.mgmt_ip
    # The users file binds entries to NAS-IP-Address, which radclient lets us set freely.
    known = _mab(server, mac_plain(mab_cam.mac), sw.mgmt_ip, secret, sw.mgmt_ip)
    unknown = _mab(server, "02deadbeef01", sw.mgmt_ip, secret, sw.mgmt_ip)
    elsewhere = _mab(server, mac_plain(mab_cam.mac), other, secret, sw.mgmt_ip)
    stranger = _mab(server, mac_plain(mab_cam.mac), sw.mgmt_ip, secret, "127.0.0.1")
    for out in (known, unknown, elsewhere):
        assert "Access-Accept" in out, out
    assert "No reply" in stranger, "a host that is not a declared switch gets no answer"
    assert f'Tunnel-Private-Group-Id:0 = "{site.vlans["cameras"]}"' in known
    assert f'Tunnel-Private-Group-Id:0 = "{site.vlans["quarantine"]}"' in unknown
    assert f'Tunnel-Private-Group-Id:0 = "{site.vlans["quarantine"]}"' in elsewhere
