"""strongSwan: the rendered swanctl.conf files (site side and CSU concentrator, with the
eap-radius plugin file) load into a real charon, each in a throwaway netns and a private mount
namespace (its /run is a tmpfs: the host's charon sockets are never touched).

This machine's strongSwan has no ``openssl`` plugin (libstrongswan-standard-plugins is not
installed): no ECDSA keys and no AES-GCM/ECP-384 at run time. The test therefore uses RSA-3072
certificates and checks what loading proves (syntax, identities, certificates, traffic
selectors, pools, the two-round maintainer authentication); negotiating the ANSSI proposals needs
that package (see the issue 8 report).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from crender_helpers import delete_netns

from segmenting.plan import Plan
from segmenting.render import swanctl
from segmenting.render.secrets import FakeSecrets

pytestmark = pytest.mark.skipif(
    shutil.which("charon-systemd") is None or shutil.which("swanctl") is None, reason="strongSwan not installed"
)
PLUGINS = "random nonce aes sha1 sha2 hmac gmp pem pkcs1 pkcs8 x509 pubkey revocation constraints "
PLUGINS += "kernel-netlink socket-default vici eap-radius attr"
LOAD = """set -e
mount -t tmpfs crend-run /run
export STRONGSWAN_CONF="$1/strongswan.conf" SWANCTL_DIR="$1/swanctl"
charon-systemd >"$1/charon.out" 2>&1 &
CH=$!
trap 'kill $CH; wait $CH || true' EXIT
i=0; while [ ! -S /run/charon.vici ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
swanctl --load-all --noprompt
swanctl --list-conns
"""


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="crend-swan-"))
    ca = ["openssl", "req", "-x509", "-newkey", "rsa:3072", "-nodes", "-keyout", str(d / "ca.key")]
    subprocess.run(
        [*ca, "-out", str(d / "ca.pem"), "-days", "2", "-subj", "/CN=test CA"], check=True, capture_output=True
    )
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _load(plan: Plan, device: str, files: list[tuple[str, str]], d: Path) -> str:
    base = d / device
    sw = base / "swanctl"
    for sub in ("x509", "x509ca", "private"):
        (sw / sub).mkdir(parents=True, exist_ok=True)
    for path, text in files:
        (base / path).parent.mkdir(parents=True, exist_ok=True)
        (base / path).write_text(text, encoding="utf-8")
    key, csr, pem = sw / "private" / f"{device}.key", base / "req.csr", sw / "x509" / f"{device}.pem"
    subj = f"/CN={device}/O={plan.deployment}"  # the DN order the renderer's ids use
    for argv in (
        ["req", "-newkey", "rsa:3072", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", subj],
        ["x509", "-req", "-in", str(csr), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
         "-CAcreateserial", "-out", str(pem), "-days", "2"],
    ):  # fmt: skip
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    shutil.copy(d / "ca.pem", sw / "x509ca" / swanctl.CA_CERT)
    include = base / "strongswan.d" / "charon" / "eap-radius.conf"
    (base / "strongswan.conf").write_text(
        f"charon-systemd {{\n\tload = {PLUGINS}\n"
        + (f"\tplugins {{\n\t\tinclude {include}\n\t}}\n" if include.exists() else "")
        + "}\n",
        encoding="utf-8",
    )
    script = d / "load.sh"
    script.write_text(LOAD, encoding="utf-8")
    ns = f"crend-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        res = subprocess.run(
            ["ip", "netns", "exec", ns, "unshare", "-m", "--propagation", "private", "sh", str(script), str(base)],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
    finally:
        delete_netns(ns)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    return out


def test_site_side_loads(plan: Plan, workdir: Path) -> None:
    device = "gw-s-vaudrimont-1"
    files = [(f.path, f.text) for f in swanctl.render_site(plan, device, FakeSecrets())]
    out = _load(plan, device, files, workdir)
    assert "successfully loaded 1 connections, 0 unloaded" in out, out[-3000:]
    site = plan.site("s-vaudrimont-1")
    assert f"remote: {plan.csu.vpn_endpoint}" in out
    assert f"local:  {site.subnets['cameras']} {site.subnets['site_mgmt']}" in out
    assert "quarantine" not in out and site.subnets["quarantine"] not in out


def test_concentrator_loads_every_site_and_the_maintainers(plan: Plan, workdir: Path) -> None:
    files = [(f.path, f.text) for f in swanctl.render_csu(plan, "csu-vpn", FakeSecrets())]
    out = _load(plan, "csu-vpn", files, workdir)
    tunnelled = [s for s in plan.sites if s.tunnelled]
    conns = len(tunnelled) + len(plan.maintainers)  # one connection per maintainer
    assert f"successfully loaded {conns} connections, 0 unloaded" in out, out[-3000:]
    assert "loaded pool 'maintenance_vpn'" in out
    assert out.count("remote EAP_RADIUS authentication") == len(plan.maintainers), "maintainers need a second factor"
    for m in plan.maintainers:
        # The certificate and the second factor name the same maintainer (no code of someone else).
        conn = out.split(f"maintenance-{m.id}:", 1)[1].split("\n\n", 1)[0]
        assert f"CN={m.id}, OU=maintainers" in conn and f"eap_id: {m.id}" in conn, conn
    problems = [
        line for line in out.splitlines()
        if "failed" in line and not line.startswith(("plugin '", "opening directory"))
    ]  # fmt: skip
    assert not problems, problems
