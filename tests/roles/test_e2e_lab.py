"""End to end on the converged lab (issue 4, proof 3): what the roles promise, observed on the wire.

- each EAP-TLS and MAB camera is authorized into its VLAN (the switch's port manager and hostapd),
  holds its address in its site's camera subnet, and its stream is being recorded (a segment on
  its recorder growing);
- an unknown device plugged into a free switch port lands in quarantine and reaches nothing;
- the maintainer reaches a switch's SSH only while a window is open (``playbooks/maintenance.yml``)
  and only through the maintenance VPN (a real IKEv2 client on the maintainer's laptop);
- the State client reads a shared camera through the relay (TLS, SNI naming the camera) and nothing else;
- a camera reaches neither the internet nor another camera.

ANSSI PA-022 R15/R49/R62, ANSSI hygiene 07/18/19/28, PG-075 R15, CSI L252-3, CNIL fiche 8.
Probes run from inside the sources' namespaces with the conformance audit's probe runner
(:mod:`segmenting.conformance.reachability`); expectations are the plan's, never typed here.

In the suite the lab is the session's, converged by ``converged_lab`` (tests/conftest.py) before
these run (tests/roles/test_converge_lab.py sorts first). ``CLOISON_E2E_RUNNING_LAB=1`` uses the
lab already up and converged instead: no converge, no teardown.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address, ip_interface, ip_network
from pathlib import Path
from string import Template
from types import ModuleType
from typing import Any

import pytest
import yaml

from segmenting import totp
from segmenting.api import load_plan
from segmenting.conformance.reachability import Endpoint, ProbeCase, allowed_by, build_cases, endpoints, reached
from segmenting.conformance.reachability import run_cases as probe
from segmenting.lab import lab as lab_mod
from segmenting.lab import plug, switches
from segmenting.lab.access import as_root
from segmenting.lab.converge import ROOT, run_playbook
from segmenting.lab.names import LabPaths, default_paths
from segmenting.lab.pytest_plugin import wait_for
from segmenting.lab.run import SubprocessRunner
from segmenting.lab.state import load
from segmenting.lab.topology import Camera, Switch, Topology, build_topology, pick_sites
from segmenting.plan import Plan
from segmenting.render.registry import get as get_renderer
from segmenting.render.secrets import FakeSecrets, totp_key

pytestmark = [pytest.mark.lab, pytest.mark.slow]

RUNNING_LAB = "CLOISON_E2E_RUNNING_LAB"
DEPLOYMENT = Path(os.environ.get("CLOISON_LAB_DEPLOYMENT", ROOT / "inventory" / "ingeagglo"))
MAINTENANCE = ROOT / "playbooks" / "maintenance.yml"
SETTLE_S = 90  # ports still being authorized right after a converge (portd retries every 10 s)
QUARANTINE_S = 40


def _filters() -> ModuleType:
    """The project's Ansible filters: the recorder split is theirs, not retyped here."""
    path = ROOT / "filter_plugins" / "cloison.py"
    spec = importlib.util.spec_from_file_location("e2e_cloison_filters", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _collected() -> tuple[Plan, Topology]:
    """The lab these tests are collected for: the running lab's sites, else the default pick."""
    plan = load_plan(DEPLOYMENT)
    st = load(default_paths().state)
    if st.sites and st.deployment == plan.deployment:
        sites = tuple(st.sites)
    else:
        sites = pick_sites(plan, int(os.environ.get("CLOISON_LAB_SITES", "3")))
    return plan, build_topology(plan, sites)


PLAN, TOPO = _collected()
CAMERAS = {c.id: c for c in TOPO.cameras}
SWITCHES = {s.id: s for s in TOPO.switches}


@dataclass(frozen=True)
class E2E:
    plan: Plan
    topology: Topology
    paths: LabPaths

    def ssh(self, host: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        if host not in SWITCHES:
            command = as_root(command)
        argv = ["ssh", "-F", str(self.paths.ssh_config), "-o", "BatchMode=yes", host, command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)

    def ns(self, ns: str, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        cmd = ["ip", "netns", "exec", ns, *argv]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False, env=env)

    def ovs(self, sw: Switch, *argv: str) -> str:
        return self.ns(sw.ns, *argv, env={**os.environ, **switches.env(self.paths, sw)}).stdout.strip()

    def ports(self, sw: Switch) -> dict[str, dict[str, Any]]:
        return lab_mod.port_states(self.paths, sw.id)


@pytest.fixture(scope="module")
def e2e(request: pytest.FixtureRequest) -> E2E:
    if os.environ.get(RUNNING_LAB) == "1":
        paths = default_paths()
        if not lab_mod.is_up(paths):
            pytest.fail(f"{RUNNING_LAB}=1 but no lab is up ({paths.state})", pytrace=False)
    else:
        request.getfixturevalue("converged_lab")
        paths = request.getfixturevalue("lab").paths
    sites = tuple(load(paths.state).sites)
    assert sites == TOPO.sites, f"collected for the sites {TOPO.sites}, the lab runs {sites}"
    return E2E(PLAN, TOPO, paths)


def _pki_dir(e2e: E2E) -> Path:
    """The pki role's CA directory on the controller: the lab inventory's, else the role's default."""
    doc = yaml.safe_load(e2e.paths.inventory.read_text()) or {}
    configured = ((doc.get("all") or {}).get("vars") or {}).get("pki_controller_dir")
    return Path(configured) if configured else Path.home() / ".cloison" / "pki" / PLAN.deployment  # roles/pki


def _eps() -> dict[str, Endpoint]:
    return {e.id: e for e in endpoints(PLAN, TOPO)}


def _case(name: str, src: Endpoint, dst: Endpoint, proto: str, port: int | None) -> ProbeCase:
    """A probe whose expectation is the plan's (a forbidden path is one no plan flow allows)."""
    flow = allowed_by(PLAN, src, dst, proto, port)
    return ProbeCase(name, src, dst, proto, port, "allow" if flow else "deny", flow.id if flow else None, ())


def _passed(cases: list[ProbeCase], observed: list[str]) -> list[str]:
    """The cases that got through, each as `src -> dst proto/port: observed` for the message."""
    return [f"{c.src.id} -> {c.dst.id} ({c.dst.ip}) {c.proto}/{c.port or '-'}: {o}"
            for c, o in zip(cases, observed, strict=True) if reached(o)]  # fmt: skip


# --- cameras: authorized into their VLAN, streams recorded ------------------------------------


@pytest.fixture(scope="module")
def port_states(e2e: E2E) -> dict[str, dict[str, dict[str, Any]]]:
    """Every switch's ports once all cameras are authorized, or as they are after :data:`SETTLE_S`."""

    def settled() -> dict[str, dict[str, dict[str, Any]]] | None:
        states = {sw.id: e2e.ports(sw) for sw in e2e.topology.switches}
        done = all(
            states[_switch(c).id].get(f"p{c.port}", {}).get("state") == "authorized" for c in e2e.topology.cameras
        )
        return states if done else None

    return wait_for(settled, SETTLE_S, 2.0) or {sw.id: e2e.ports(sw) for sw in e2e.topology.switches}


def _switch(cam: Camera) -> Switch:
    return TOPO.switch(cam.site)


@pytest.mark.parametrize("camera", sorted(CAMERAS))
def test_camera_is_authorized_into_its_vlan(e2e: E2E, port_states: dict[str, dict[str, dict[str, Any]]],
                                            camera: str) -> None:  # fmt: skip
    cam, sw = CAMERAS[camera], _switch(CAMERAS[camera])
    dev = f"p{cam.port}"
    port = port_states[sw.id].get(dev, {})
    where = f"{camera} ({cam.auth}) on {sw.id} {dev}"
    assert port.get("state") == "authorized", f"{where}: port {port.get('state')} ({port.get('reason') or '-'})"
    assert port.get("method") == ("802.1x" if cam.auth == "eap-tls" else "mab"), f"{where}: method {port.get('method')}"
    assert str(port.get("mac", "")).lower() == cam.mac.lower(), f"{where}: authorized MAC {port.get('mac')}"
    assert port.get("assigned_vlan") == cam.vlan, (
        f"{where}: RADIUS gave VLAN {port.get('assigned_vlan')}, plan {cam.vlan}"
    )
    tag = e2e.ovs(sw, "ovs-vsctl", "get", "port", dev, "tag")
    assert tag == str(cam.vlan), f"{where}: the switch port carries VLAN {tag}, plan {cam.vlan}"
    if cam.auth == "eap-tls":  # the authenticator itself holds the 802.1X session
        ctrl = str(e2e.paths.switch(sw.id) / "run" / "hostapd")
        sta = e2e.ns(sw.ns, "hostapd_cli", "-p", ctrl, "-i", dev, "sta", cam.mac).stdout
        assert "[AUTHORIZED]" in sta, f"{where}: hostapd has no authorized 802.1X session: {sta.strip()[:300]}"
    subnet = ip_network(PLAN.site(cam.site).subnets["cameras"])
    addrs = e2e.ns(cam.ns, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout.split()
    mine = [ip_interface(a) for i, a in enumerate(addrs) if i and addrs[i - 1] == "inet"]
    assert mine and all(a.ip in subnet for a in mine), f"{camera}: addresses {mine}, camera subnet {subnet}"
    assert ip_interface(cam.ip) in mine, f"{camera}: plan address {cam.ip} not on its interface ({mine})"


def _recorder_of(camera: str) -> str:
    return next(r for r in sorted(h.id for h in PLAN.hosts if h.kind == "recorder")
                if camera in {c["id"] for c in FILTERS.cloison_recorder_cameras(str(DEPLOYMENT), r)})  # fmt: skip


FILTERS = _filters()
RECORDINGS = "/var/lib/cloison/recordings"  # roles/recorder: recorder_store
SAMPLE_GAP_S = 8


def _newest_segments(e2e: E2E, recorder: str, cams: list[str]) -> dict[str, tuple[str, int, float, int]]:
    """camera -> (newest segment, its size, its mtime, bytes of all its segments) on one recorder;
    cameras without any segment are left out. The total is what proves the stream is recorded: at
    a segment boundary the closing file can still be the newest by mtime while the new one grows."""
    script = "; ".join(
        f"f=$(ls -t {RECORDINGS}/{c}/*.mkv 2>/dev/null | head -1); "
        f"t=$(stat -c %s {RECORDINGS}/{c}/*.mkv 2>/dev/null | awk '{{s+=$1}} END {{print s+0}}'); "
        f'[ -n "$f" ] && echo "{c} $(stat -c \'%n %s %Y\' "$f") $t"'
        for c in cams
    )
    res = e2e.ssh(recorder, script + "; true")
    out: dict[str, tuple[str, int, float, int]] = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 5:
            out[parts[0]] = (parts[1], int(parts[2]), float(parts[3]), int(parts[4]))
    return out


@pytest.fixture(scope="module")
def segments(e2e: E2E, port_states: Any) -> dict[str, Any]:
    """Two samples of every lab camera's newest segment on the recorders the lab boots."""
    lab_recorders = {h for n in e2e.topology.nodes for h in n.plays if PLAN.host(h).kind == "recorder"}
    cams = sorted(CAMERAS)
    node_of = {h: e2e.topology.node_playing(h).id for h in lab_recorders}
    first = {r: _newest_segments(e2e, node_of[r], cams) for r in sorted(lab_recorders)}
    time.sleep(SAMPLE_GAP_S)
    second = {r: _newest_segments(e2e, node_of[r], cams) for r in sorted(lab_recorders)}
    clock = e2e.ssh(node_of[min(lab_recorders)], "date +%s").stdout.strip() if lab_recorders else ""
    now = float(clock or time.time())
    return {"recorders": lab_recorders, "nodes": node_of, "first": first, "second": second, "now": now}


@pytest.mark.parametrize("camera", sorted(CAMERAS))
def test_camera_stream_is_recorded(e2e: E2E, segments: dict[str, Any], camera: str) -> None:
    recorder = _recorder_of(camera)
    assert recorder in segments["recorders"], (
        f"{camera}: the plan has it recorded by {recorder}, which the lab does not boot "
        f"(lab recorders: {sorted(segments['recorders'])}): nothing records this camera in the lab"
    )
    node = segments["nodes"][recorder]
    probe_unit = f"systemctl is-active cloison-record@{camera}; journalctl -u cloison-record@{camera} -n 4 -o cat"
    unit = " | ".join(e2e.ssh(node, probe_unit).stdout.split("\n")).strip(" |")[-600:]
    before, after = segments["first"][recorder].get(camera), segments["second"][recorder].get(camera)
    assert after, f"{camera}: no segment in {RECORDINGS}/{camera}/ on {node} (unit cloison-record@{camera}: {unit})"
    name, size, mtime, total = after
    age = segments["now"] - mtime
    assert age < 60, f"{camera}: newest segment {name} on {node} last written {age:.0f} s ago (unit: {unit})"
    grew = before is None or total > before[3]
    assert grew, (
        f"{camera}: its recordings on {node} did not grow in {SAMPLE_GAP_S} s ({total} bytes in all, newest {name}; "
        f"unit: {unit})"
    )
    assert size > 0, f"{camera}: {name} on {node} is empty"


# --- an unknown device: quarantine, and nothing reachable from there ---------------------------


def _quarantine_targets(e2e: E2E, q: Endpoint) -> list[ProbeCase]:
    """The audit's quarantine cases (CSU, management, internet) plus the site's own gateway and cameras."""
    eps = list(endpoints(PLAN, e2e.topology))
    cases = [c for c in build_cases(PLAN, [*eps, q]) if c.src.id == q.id]
    site = PLAN.site(q.site or "")
    gw = Endpoint(f"{site.gateway.id} (quarantine side)", e2e.topology.node(site.gateway.id).ns,
                  site.gateway.quarantine_gateway, "site_gw", site.id, "gateway", site.gateway.id)  # fmt: skip
    cases += [_case("quarantine->gateway", q, gw, p, n) for p, n in (("icmp", None), ("tcp", 22), ("udp", 53))]
    by_id = {e.id: e for e in eps}
    for cam in (c for c in e2e.topology.cameras if c.site == site.id):
        cases.append(_case("quarantine->camera", q, by_id[cam.id], "tcp", 554))
    for host in ("csu-rec-01", "csu-radius"):
        if host in by_id:
            cases.append(_case("quarantine->csu", q, by_id[host], "tcp", 22))
    return cases


@pytest.mark.parametrize("site", list(TOPO.sites))
def test_unknown_device_is_quarantined_and_reaches_nothing(e2e: E2E, site: str) -> None:
    sw = e2e.topology.switch(site)
    used = {c.port for c in e2e.topology.cameras if c.site == site}
    free = next(p for p in range(1, 48) if p not in used)
    dev = f"p{free}"
    r = SubprocessRunner()
    with lab_mod.exclusive():
        ns = plug.plug(e2e.topology, e2e.paths, r, f"{site}:{free}")
    try:
        quarantine = ip_network(PLAN.site(site).subnets["quarantine"])
        gw_ip = PLAN.site(site).gateway.quarantine_gateway
        ip = next(str(a) for a in reversed(list(quarantine.hosts())) if str(a) != gw_ip)
        e2e.ns(ns, "ip", "addr", "add", f"{ip}/{quarantine.prefixlen}", "dev", "eth0")
        e2e.ns(ns, "ip", "route", "replace", "default", "via", gw_ip)

        def quarantined() -> bool:
            e2e.ns(ns, "ping", "-c", "1", "-W", "1", gw_ip)  # frames: the port sees a MAC to try MAB with
            return e2e.ports(sw).get(dev, {}).get("state") == "quarantine"

        state = wait_for(quarantined, QUARANTINE_S, 0.5)
        port = e2e.ports(sw).get(dev, {})
        assert state, f"unknown device {plug.ATTACKER_MAC} on {sw.id} {dev}: port {port.get('state')} " \
                      f"({port.get('reason') or '-'}), expected quarantine"  # fmt: skip
        tag = e2e.ovs(sw, "ovs-vsctl", "get", "port", dev, "tag")
        assert tag == str(sw.vlans["quarantine"]), f"{sw.id} {dev}: VLAN {tag}, quarantine is {sw.vlans['quarantine']}"
        q = Endpoint(f"unknown device on {sw.id} {dev}", ns, ip, "quarantine", site, "unknown")
        cases = _quarantine_targets(e2e, q)
        assert len(cases) >= 8, [c.id for c in cases]
        allowed = [c.id for c in cases if c.expected != "deny"]
        assert not allowed, f"the plan itself lets the quarantine reach {allowed}"
        got = _passed(cases, probe(cases))
        assert not got, f"the quarantined device on {sw.id} {dev} reached: {got}"
    finally:
        with lab_mod.exclusive():
            plug.unplug(e2e.paths, r, e2e.topology)


# --- cameras reach neither the internet nor each other -----------------------------------------


@pytest.fixture(scope="module")
def camera_probes(e2e: E2E, port_states: Any) -> dict[str, list[tuple[ProbeCase, str]]]:
    eps = _eps()
    www = eps["www"]
    cases: list[ProbeCase] = []
    for cam in e2e.topology.cameras:
        src = eps[cam.id]
        cases += [_case("camera->internet", src, www, p, n) for p, n in (("tcp", 443), ("tcp", 80), ("icmp", None))]
        cases.append(_case("camera->internet", src, www, "udp", 53))
        for other in e2e.topology.cameras:
            if other.id != cam.id and (other.site == cam.site or other.id == _first_elsewhere(cam)):
                cases += [_case("camera->camera", src, eps[other.id], p, n) for p, n in (("tcp", 554), ("icmp", None))]
    observed = probe(cases)
    out: dict[str, list[tuple[ProbeCase, str]]] = {c: [] for c in CAMERAS}
    for case, seen in zip(cases, observed, strict=True):
        out[case.src.id].append((case, seen))
    return out


def _first_elsewhere(cam: Camera) -> str | None:
    return next((c.id for c in TOPO.cameras if c.site != cam.site), None)


@pytest.mark.parametrize("camera", sorted(CAMERAS))
def test_camera_reaches_neither_internet_nor_another_camera(
    port_states: dict[str, dict[str, dict[str, Any]]], camera_probes: dict[str, list[tuple[ProbeCase, str]]],
    camera: str,
) -> None:  # fmt: skip
    cam = CAMERAS[camera]
    port = port_states[_switch(cam).id].get(f"p{cam.port}", {})
    # A camera whose port is shut reaches nothing anyway: the denial only means something once it is on.
    assert port.get("state") == "authorized", f"{camera}: precondition, port {port.get('state')} ({port.get('reason')})"
    pairs = camera_probes[camera]
    assert pairs, f"{camera}: no probe"
    cases, seen = [c for c, _ in pairs], [o for _, o in pairs]
    errors = [f"{c.id}: {o}" for c, o in pairs if o.startswith("error")]
    assert not errors, f"{camera}: probes that could not run: {errors}"
    allowed = [c.id for c in cases if c.expected != "deny"]
    assert not allowed, f"{camera}: the plan itself allows {allowed}"
    got = _passed(cases, seen)
    assert not got, f"{camera} reached: {got}"


# --- the State: one shared camera through the relay, and nothing else --------------------------

# Runs in the State client's namespace: one TLS connection to the relay per camera named in SNI,
# an RTSP DESCRIBE in it, all cameras at once; prints what each got back.
_RELAY_CLIENT = r"""
import json, socket, ssl, sys, concurrent.futures as cf
host, port, ca, snis = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
ctx = ssl.create_default_context(cafile=ca or None)
ctx.check_hostname = False  # the relay's certificate names the relay; SNI names the camera
if not ca:
    ctx.verify_mode = ssl.CERT_NONE
def one(sni):
    try:
        with socket.create_connection((host, port), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname=sni) as s:
            s.settimeout(6)
            s.sendall(("DESCRIBE rtsp://%s:%d/stream RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n"
                       % (sni, port)).encode())
            data = b""
            while b"m=video" not in data and len(data) < 8192:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            return {"outcome": "answer" if data else "closed", "reply": data.decode("latin-1")[:600]}
    except Exception as e:
        return {"outcome": type(e).__name__, "reply": str(e)[:200]}
with cf.ThreadPoolExecutor(max_workers=16) as pool:
    print(json.dumps(dict(zip(snis, pool.map(one, snis)))))
"""


def _through_relay(e2e: E2E, cameras: list[str]) -> dict[str, dict[str, str]]:
    """What the State client gets from the relay's public address for each camera it names (SNI)."""
    state = _eps()["state"]
    ca = _pki_dir(e2e) / "ca.crt"
    snis = {f"{c}.relay.{PLAN.deployment}": c for c in cameras}
    res = e2e.ns(state.ns, sys.executable, "-c", _RELAY_CLIENT, PLAN.state.relay_public, str(PLAN.state.relay_port),
                 str(ca) if ca.exists() else "", *snis)  # fmt: skip
    try:
        data: dict[str, dict[str, str]] = json.loads(res.stdout)
    except ValueError:
        return {c: {"outcome": "error", "reply": res.stderr.strip()[:300]} for c in cameras}
    return {snis[sni]: got for sni, got in data.items()}


def _read(got: dict[str, str]) -> bool:
    """The camera's RTSP server answered through the relay with its stream's description."""
    return got["outcome"] == "answer" and got["reply"].startswith("RTSP/1.0 200") and "m=video" in got["reply"]


def test_state_reads_a_shared_camera_through_the_relay(e2e: E2E) -> None:
    shared = [c for c in e2e.topology.cameras if c.id in PLAN.state.shared_cameras]
    assert shared, (
        f"the lab's sites {list(e2e.topology.sites)} hold none of the {len(PLAN.state.shared_cameras)} cameras the "
        f"State convention shares (communes {list(PLAN.state.shared_communes)}): no shared camera to read"
    )
    log_file = "/var/log/nginx/cloison-state-access.log"  # roles/state_bridge
    before = e2e.ssh("csu-relay", f"wc -l < {log_file}").stdout.strip() or "0"
    got = _through_relay(e2e, [c.id for c in shared])
    log = e2e.ssh("csu-relay", f"tail -n +{int(before) + 1} {log_file}").stdout
    unread = {c: g for c, g in got.items() if not _read(g)}
    # The relay's own line says why a read came back "closed": its upstream, status and duration
    # (a 502 after proxy_connect_timeout is a camera the relay could not reach).
    why = [line for line in log.splitlines() if any(f"camera={c}." in line for c in unread)]
    assert not unread, (
        f"the State client ({_eps()['state'].ip}) could not read through the relay "
        f"{PLAN.state.relay_public}:{PLAN.state.relay_port}: {unread}; csu-relay logged: {why}"
    )
    missing = [c.id for c in shared if c.id not in log]
    assert not missing, f"csu-relay logged no consultation of {missing}: {log[-500:]!r}"


def test_state_reaches_nothing_else(e2e: E2E) -> None:
    """Through the relay, no camera outside the convention; directly, no camera and no CSU host."""
    eps = _eps()
    state = eps["state"]
    others = [c.id for c in e2e.topology.cameras if c.id not in PLAN.state.shared_cameras]
    relayed = _through_relay(e2e, others)
    leaks = [f"{c} through the relay: {g['reply'][:60]!r}" for c, g in relayed.items() if g["reply"].startswith("RTSP")]
    cases = [c for c in build_cases(PLAN, list(eps.values())) if c.case == "state->csu"]
    cases += [_case("state->camera", state, eps[c.id], "tcp", 554) for c in e2e.topology.cameras]
    cases += [_case("state->switch", state, eps[s.id], "tcp", 22) for s in e2e.topology.switches]
    assert len(cases) > len(e2e.topology.cameras), [c.id for c in cases]
    observed = probe(cases)
    errors = [f"{c.id}: {o}" for c, o in zip(cases, observed, strict=True) if o.startswith("error")]
    assert not errors, f"probes from the State client that could not run: {errors}"
    allowed = [c.id for c in cases if c.expected != "deny"]
    assert not allowed, f"the plan itself lets the State client reach {allowed}"
    leaks += _passed(cases, observed)
    assert not leaks, f"the State client ({state.ip}) reached: {leaks}"


# --- the maintainer: switch SSH only in a window, only through the VPN -------------------------


def _maintainers() -> list[str]:
    """The plan's maintainers of the lab's sites (a window is opened for each, closed after)."""
    return [m.id for m in PLAN.maintainers if set(m.sites) & set(TOPO.sites)]


@dataclass
class VpnClient:
    """An IKEv2 client (strongSwan, userspace ESP) on the maintainer's laptop, with its own files."""

    dir: Path
    ns: str
    proc: subprocess.Popen[bytes] | None = None
    vip: str | None = None
    output: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "STRONGSWAN_CONF": str(self.dir / "strongswan.conf"),
            "SWANCTL_DIR": str(self.dir / "swanctl"),
        }

    def swanctl(self, *argv: str, timeout: float = 40) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns, "swanctl", *argv, "--uri", f"unix://{self.dir}/charon.vici"],
                              capture_output=True, text=True, timeout=timeout, check=False, env=self.env)  # fmt: skip

    def log(self) -> str:
        """The IKE exchange as charon logged it: its last messages, task queueing and configuration left out."""
        path = self.dir / "charon.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        kept = [line for line in lines if "[CFG]" not in line and "queueing" not in line and "  IKE_" not in line]
        return "\n".join(kept[-25:])


def _issue_maintainer_cert(d: Path, maintainer: str, pki: Path) -> None:
    """A maintainer certificate from the deployment's CA (roles/pki), as the maintainers' onboarding would."""
    key, csr, cert, ext = d / "private" / "mnt.key", d / "mnt.csr", d / "x509" / "mnt.pem", d / "mnt.ext"
    subj = f"/CN={maintainer}/OU=maintainers/O={PLAN.deployment}"
    subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
                    "-keyout", str(key), "-out", str(csr), "-subj", subj], check=True, capture_output=True)  # fmt: skip
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"),
                    "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-CAserial", str(d / "ca.srl"), "-days", "1",
                    "-out", str(cert), "-extfile", str(ext)], check=True, capture_output=True)  # fmt: skip
    shutil.copy(pki / "ca.crt", d / "x509ca" / "ca.pem")


_STRONGSWAN_CONF = Template("""\
charon {
  load = random nonce openssl kdf pem pkcs1 pkcs8 x509 pubkey constraints kernel-libipsec kernel-netlink \
socket-default vici eap-identity eap-md5 eap-gtc updown
  plugins {
    vici {
      socket = unix://$dir/charon.vici
    }
  }
  journal {
    default = -1
  }
  filelog {
    e2e {
      path = $dir/charon.log
      flush_line = yes
      default = 1
      ike = 2
      cfg = 2
    }
  }
}
""")

# The maintainer's side of the renderer's `maintenance-<maintainer>` connection
# (segmenting/render/swanctl.py): certificate, then EAP-GTC carrying the TOTP code the RADIUS server
# checks (roles/radius), an address from the pool. The concentrator fixes the EAP identity to the
# certificate's maintainer and asks none, so the client names itself in the second round (`id`):
# strongSwan looks its EAP secret up by that identity (else by its IP address, and finds none).
_SWANCTL_CONF = Template("""\
connections {
  maintenance {
    version = 2
    remote_addrs = $vpn
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha384-ecp384
    encap = yes
    local-cert {
      auth = pubkey
      certs = mnt.pem
      id = "$dn"
    }
    local-otp {
      auth = eap-gtc
      id = $maintainer
      eap_id = $maintainer
    }
    remote {
      auth = pubkey
      id = "CN=csu-vpn, O=$deployment"
      cacerts = ca.pem
    }
    children {
      maintenance {
        remote_ts = $remote_ts
        esp_proposals = aes256gcm16-ecp384
        start_action = none
      }
    }
  }
}
secrets {
  eap-maintainer {
    id = $maintainer
    secret = "$otp"
  }
}
""")


def _lab_vars(e2e: E2E) -> dict[str, Any]:
    doc = yaml.safe_load(e2e.paths.inventory.read_text()) or {}
    return dict((doc.get("all") or {}).get("vars") or {})


def _maintainer_otp(e2e: E2E, maintainer: str) -> str:
    """The maintainer's current TOTP code, from the seed the lab generated into the RADIUS secrets
    file at lab up (``totp/<maintainer>``); waits for a fresh 30 s step if this one is nearly over."""
    path = Path(_lab_vars(e2e).get("radius_secrets_file") or e2e.paths.secrets)
    seeds = json.loads(path.read_text())
    if totp_key(maintainer) not in seeds:
        pytest.fail(f"{path} holds no {totp_key(maintainer)}: the lab's secrets predate the TOTP second factor "
                    "(converge the radius role, which generates it, or lab up again)")  # fmt: skip
    seed = seeds[totp_key(maintainer)]
    if totp.seconds_left(time.time()) < 10:
        time.sleep(totp.seconds_left(time.time()) + 0.5)
    return totp.code(seed, time.time())


def _maintenance_ts(e2e: E2E) -> str:
    """The concentrator's local_ts of its ``maintenance`` child, as the lab's rendering has it.

    With userspace ESP that is one wide range holding the concentrator's own address (kernel-
    libipsec refuses a CHILD_SA whose local selector holds none of its addresses); asking for
    anything narrower makes IKE narrow it and the CHILD_SA fails."""
    name = "swanctl-csu-libipsec" if _lab_vars(e2e).get("maintenance_vpn_userspace_esp") else "swanctl-csu"
    renderer = get_renderer(name)
    device = renderer.devices(PLAN)[0]
    text = next(f.text for f in renderer.render(PLAN, device, FakeSecrets()) if f.path.endswith("swanctl.conf"))
    found = re.search(r"\n\t\tchildren \{\n\t\t\tmaintenance \{\n\t\t\t\tlocal_ts = ([^\n]+)\n", text)
    assert found, f"no maintenance child in the {name} rendering of {device}"
    return found.group(1)


def _vpn_config(e2e: E2E, d: Path, maintainer: str, code_of: str) -> None:
    """swanctl.conf, with the code of the current 30 s step: written just before it is loaded
    and the connection initiated (FreeRADIUS 3.2.1's rlm_totp accepts the current step only).
    ``code_of`` is the maintainer whose EAP identity and code are sent (the certificate's own,
    unless a test plays someone holding a certificate and another maintainer's code)."""
    (d / "swanctl" / "swanctl.conf").write_text(
        _SWANCTL_CONF.substitute(
            vpn=PLAN.csu.vpn_endpoint,
            dn=f"CN={maintainer}, OU=maintainers, O={PLAN.deployment}",
            maintainer=code_of,
            deployment=PLAN.deployment,
            remote_ts=_maintenance_ts(e2e),
            otp=_maintainer_otp(e2e, code_of),
        )
    )


@contextlib.contextmanager
def _vpn_client(e2e: E2E, maintainer: str, code_of: str | None = None) -> Iterator[VpnClient]:
    laptop = _eps()["laptop"]
    d = Path(tempfile.mkdtemp(prefix="cl-e2e-vpn-"))
    client = VpnClient(d, laptop.ns)
    try:
        for sub in ("swanctl/x509", "swanctl/x509ca", "swanctl/private"):
            (d / sub).mkdir(parents=True, mode=0o700)
        _issue_maintainer_cert(d / "swanctl", maintainer, _pki_dir(e2e))
        (d / "strongswan.conf").write_text(_STRONGSWAN_CONF.substitute(dir=d))
        argv = ["ip", "netns", "exec", laptop.ns, "/usr/sbin/charon-systemd"]
        client.proc = subprocess.Popen(argv, env=client.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)  # fmt: skip
        wait_for(lambda: (d / "charon.vici").exists() or client.proc.poll() is not None, 15, 0.2)  # type: ignore[union-attr]
        _vpn_config(e2e, d, maintainer, code_of or maintainer)
        loaded = client.swanctl("--load-all", "--file", str(d / "swanctl" / "swanctl.conf"))
        up = client.swanctl("--initiate", "--child", "maintenance", "--timeout", "30")
        said = (loaded.stdout + loaded.stderr + up.stdout + up.stderr).splitlines()
        noise = ("opening directory", "failed to load")
        client.output = "\n".join(line for line in said if not any(n in line for n in noise))[-1500:]
        pool = ip_network(PLAN.csu.zones["maintenance_vpn"])
        addrs = e2e.ns(laptop.ns, "ip", "-4", "-o", "addr", "show").stdout.split()
        vips = [a.split("/")[0] for a in addrs if "/" in a and IPv4Address(a.split("/")[0]) in pool]
        client.vip = vips[0] if vips else None
        yield client
    finally:
        if client.proc is not None and client.proc.poll() is None:
            os.killpg(client.proc.pid, signal.SIGTERM)
            try:
                client.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(client.proc.pid, signal.SIGKILL)
                client.proc.wait(5)
        shutil.rmtree(d, ignore_errors=True)


def _window(e2e: E2E, maintainer: str, state: str) -> str:
    run = run_playbook(e2e.paths.inventory, DEPLOYMENT, "-e", f"maintainer={maintainer}", "-e", "hours=1",
                       "-e", f"window={state}", playbook=MAINTENANCE)  # fmt: skip
    return "" if run.returncode == 0 and not run.failed_hosts else f"{state} {maintainer}: {run.output[-2000:]}"


@pytest.fixture(scope="module")
def maintenance(e2e: E2E) -> dict[str, Any]:
    """Switch SSH probed from the laptop, directly and through the VPN: before, during, after a window.

    The VPN is up only for its own probes: with it up, the laptop's traffic to the management
    subnets is routed into the tunnel, and "directly" would no longer be direct.
    """
    eps = _eps()
    laptop = eps["laptop"]
    maintainers = _maintainers()
    assert maintainers, f"no maintainer of the plan covers the lab's sites {TOPO.sites}"
    out: dict[str, Any] = {"maintainers": maintainers, "errors": [], "vpn": {}}

    def ssh_probes(src: Endpoint) -> dict[str, str]:
        cases = [_case("maintainer->switch", src, eps[s.id], "tcp", 22) for s in e2e.topology.switches]
        return {c.dst.id: o for c, o in zip(cases, probe(cases, timeout=3), strict=True)}

    def phase(when: str) -> None:
        out[when] = {"direct": ssh_probes(laptop)}
        with _vpn_client(e2e, maintainers[0]) as vpn:
            out["vpn"][when] = {"vip": vpn.vip, "output": vpn.output, "log": vpn.log()}
            if vpn.vip:
                src = Endpoint("maintainer (VPN)", laptop.ns, vpn.vip, "maintenance_vpn", None, "maintainer")
                out[when]["vpn"] = ssh_probes(src)

    phase("closed")
    try:
        out["errors"] += [e for m in maintainers if (e := _window(e2e, m, "open"))]
        phase("open")
        # Someone holding the first maintainer's certificate and another maintainer's valid code.
        other = next(m.id for m in PLAN.maintainers if m.id != maintainers[0])
        with _vpn_client(e2e, maintainers[0], code_of=other) as vpn:
            out["impostor"] = {"other": other, "vip": vpn.vip, "output": vpn.output, "log": vpn.log()}
    finally:
        out["errors"] += [e for m in maintainers if (e := _window(e2e, m, "closed"))]
    phase("after")
    return out


def _switch_maintainers(sw: Switch) -> list[str]:
    return [m.id for m in PLAN.maintainers if sw.site in m.sites]


@pytest.mark.parametrize("switch", sorted(SWITCHES))
def test_no_switch_ssh_outside_a_window(maintenance: dict[str, Any], switch: str) -> None:
    for when in ("closed", "after"):
        for how, seen in maintenance[when].items():
            outcome = seen[switch]
            assert not outcome.startswith("error"), f"{switch} from the maintainer ({how}, window {when}): {outcome}"
            assert not reached(outcome), f"the maintainer reached {switch} SSH {how} with the window {when}: {outcome}"


@pytest.mark.parametrize("switch", sorted(SWITCHES))
def test_switch_ssh_only_through_the_vpn_while_a_window_is_open(maintenance: dict[str, Any], switch: str) -> None:
    assert _switch_maintainers(SWITCHES[switch]), f"no maintainer of the plan covers {switch}"
    assert not maintenance["errors"], f"maintenance.yml failed: {maintenance['errors']}"
    direct = maintenance["open"]["direct"][switch]
    assert not reached(direct), f"the maintainer's laptop reached {switch} SSH without the VPN: {direct}"
    vpn = maintenance["vpn"]["open"]
    assert vpn["vip"], (
        f"the maintainer's VPN to {PLAN.csu.vpn_endpoint} did not come up (no address from the maintenance_vpn "
        f"pool), so {switch} cannot be reached through it: {vpn['output'][-1200:]}\n"
        f"--- charon log ---\n{vpn['log'][-1500:]}"
    )
    through = maintenance["open"]["vpn"][switch]
    assert reached(through), f"through the VPN ({vpn['vip']}) with the window open, {switch} SSH: {through}"


def test_a_certificate_with_another_maintainers_code_gets_no_vpn(maintenance: dict[str, Any]) -> None:
    """The second factor is the certificate holder's own: the concentrator checks the TOTP code of
    the maintainer the certificate names (fixed eap_id), whatever EAP identity the client claims."""
    got = maintenance["impostor"]
    assert maintenance["vpn"]["open"]["vip"], "the genuine maintainer's VPN must come up for this test to mean anything"
    assert got["vip"] is None, (
        f"{maintenance['maintainers'][0]}'s certificate with {got['other']}'s code got {got['vip']} from the pool: "
        f"{got['output'][-800:]}"
    )


def test_maintenance_window_is_for_a_named_maintainer_only(e2e: E2E) -> None:
    """The playbook refuses a maintainer the plan does not name (no window for anyone else)."""
    run = run_playbook(e2e.paths.inventory, DEPLOYMENT, "-e", "maintainer=nobody-e2e", "-e", "hours=1",
                       playbook=MAINTENANCE)  # fmt: skip
    assert run.returncode != 0, f"maintenance.yml opened a window for an unknown maintainer: {run.output[-1500:]}"
    assert "maintainer must be a plan maintainer" in run.output, run.output[-1500:]
