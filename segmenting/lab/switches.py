"""Site access switches: Open vSwitch (userspace datapath) in the switch's own namespace.

ovsdb-server and ovs-vswitchd are started by hand with their own database and run directory
(``OVS_RUNDIR``), never the machine's /var/run/openvswitch, which other engineers' tests use. The
namespace also runs an sshd (the machine's binary, the lab's config) on the management network:
the switch is driven like any Linux box over SSH (netmiko ``linux``), and ``OVS_RUNDIR`` is set in
its sessions so ``ovs-vsctl``/``ovs-ofctl`` reach this switch and no other.

Camera ports start *closed*: parked in the plan's unused VLAN and dropped by an OpenFlow rule.
hostapd (one per port, ``driver=wired``) reads EAPOL from the port itself, so EAPOL gets through
a closed port; :mod:`segmenting.lab.portd` opens the port once RADIUS accepts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from segmenting.lab.names import LabPaths
from segmenting.lab.run import LabError, Proc, Runner
from segmenting.lab.state import LabState
from segmenting.lab.topology import Switch

BRIDGE = "cl-br"
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
MGMT_PORT = "mgmt"
CLOSED_PRIORITY = 100


def env(paths: LabPaths, sw: Switch) -> dict[str, str]:
    d = paths.switch(sw.id)
    return {"OVS_RUNDIR": str(d / "run"), "OVS_DBDIR": str(d), "OVS_LOGDIR": str(d / "log"), "OVS_SYSCONFDIR": str(d)}


def _wait(path: Path, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            raise LabError(f"{what} did not appear ({path})")
        time.sleep(0.05)


def start_ovs(r: Runner, sw: Switch, paths: LabPaths, state: LabState) -> None:
    d = paths.switch(sw.id)
    run = d / "run"
    for sub in (run, d / "log"):
        sub.mkdir(parents=True, exist_ok=True)
    e = env(paths, sw)
    db = d / "conf.db"
    if not db.exists():
        r.run(["ovsdb-tool", "create", str(db), str(SCHEMA)])
    sock = run / "db.sock"
    state.add_proc(r.spawn(
        ["ovsdb-server", str(db), f"--remote=punix:{sock}", f"--unixctl={run}/ovsdb-server.ctl",
         f"--log-file={d}/log/ovsdb-server.log"],
        what=f"ovsdb:{sw.id}", log=paths.logs / f"{sw.id}.ovsdb.out", ns=sw.ns, env=e,
    ))  # fmt: skip
    if not r.dry_run:
        _wait(sock, f"{sw.id} ovsdb socket")
    r.run(["ovs-vsctl", "--no-wait", "init"], env=e)
    state.add_proc(r.spawn(
        ["ovs-vswitchd", f"unix:{sock}", f"--unixctl={run}/ovs-vswitchd.ctl", f"--log-file={d}/log/ovs-vswitchd.log"],
        what=f"vswitchd:{sw.id}", log=paths.logs / f"{sw.id}.vswitchd.out", ns=sw.ns, env=e,
    ))  # fmt: skip
    r.run(["ovs-vsctl", "--timeout=30", "add-br", BRIDGE, "--", "set", "bridge", BRIDGE, "datapath_type=netdev",
           "--", "set", "bridge", BRIDGE, "other_config:forward-bpdu=false"], ns=sw.ns, env=e)  # fmt: skip


def access_port(sw: Switch, dev: str) -> list[str]:
    """``ovs-vsctl`` arguments adding a camera-side access port, closed (unused VLAN) and protected:
    no camera-to-camera traffic, as the plan's switches do (ANSSI-PG075-R34; the ovs renderer and
    `switchport protected` on IOS): NORMAL never forwards between two protected ports. Every
    (re-)added access port goes through here, the ports plug re-adds included."""
    return ["add-port", BRIDGE, dev, f"tag={sw.vlans['unused']}", "protected=true"]


def add_ports(r: Runner, sw: Switch, paths: LabPaths) -> None:
    """Uplinks, camera ports (closed), the mirror toward the IDS sensor, the management port."""
    e = env(paths, sw)
    cmd = ["ovs-vsctl", "--timeout=30"]
    for dev, vlan in sw.uplinks:
        cmd += ["--", "add-port", BRIDGE, dev, f"tag={vlan}"]
    for p in sw.ports:
        cmd += ["--", *access_port(sw, p.dev)]
    cmd += [
        "--",
        "add-port",
        BRIDGE,
        MGMT_PORT,
        f"tag={sw.vlans['site_mgmt']}",
        "--",
        "set",
        "interface",
        MGMT_PORT,
        "type=internal",
    ]
    cmd += ["--", "add-port", BRIDGE, sw.mirror_dev,
            "--", "--id=@out", "get", "port", sw.mirror_dev,
            "--", "--id=@m", "create", "mirror", "name=cl-span", "select-all=true", "output-port=@out",
            "--", "set", "bridge", BRIDGE, "mirrors=@m"]  # fmt: skip
    r.run(cmd, ns=sw.ns, env=e)
    flows = "".join(close_flow(p.dev) + "\n" for p in sw.ports)
    r.run(["ovs-ofctl", "add-flows", BRIDGE, "-"], ns=sw.ns, env=e, stdin=flows)
    # The management port is a tap the userspace datapath creates: wait for it, then address it.
    deadline = time.monotonic() + 15
    while not r.dry_run and MGMT_PORT not in r.run(["ip", "-o", "link", "show"], ns=sw.ns):
        if time.monotonic() > deadline:
            raise LabError(f"{sw.id}: OVS internal port {MGMT_PORT} did not appear")
        time.sleep(0.1)
    r.run(["ip", "-n", sw.ns, "addr", "add", f"{sw.plan_mgmt_ip}/{sw.plan_mgmt_prefix}", "dev", MGMT_PORT])
    r.run(["ip", "-n", sw.ns, "link", "set", MGMT_PORT, "up"])
    r.run(["ip", "-n", sw.ns, "route", "replace", "default", "via", sw.gateway_mgmt_ip])


def close_flow(dev: str) -> str:
    return f"priority={CLOSED_PRIORITY},in_port={dev},actions=drop"


def start_sshd(r: Runner, sw: Switch, paths: LabPaths, state: LabState) -> Proc:
    d = paths.switch(sw.id)
    key = d / "ssh_host_ed25519_key"
    if not key.exists():
        r.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{sw.id} (cloison lab)", "-f", str(key)])
    e = env(paths, sw)
    conf = d / "sshd_config"
    conf.write_text(
        f"# cloison lab: the management plane of {sw.id}\n"
        f"ListenAddress {sw.mgmt_ip}\nHostKey {key}\nPidFile none\n"
        f"AuthorizedKeysFile {paths.ssh_key}.pub\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        f"SetEnv OVS_RUNDIR={e['OVS_RUNDIR']} OVS_DBDIR={e['OVS_DBDIR']} CLOISON_SWITCH={sw.id}\n"
        "Subsystem sftp internal-sftp\n"
    )
    # sshd insists on its privilege-separation directory; the machine's ssh.service may not run.
    privsep = Path("/run/sshd")
    if not privsep.exists():
        privsep.mkdir(mode=0o755)
        state.created_dirs.append(str(privsep))
    return state.add_proc(r.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", str(conf)], what=f"sshd:{sw.id}",
                                  log=paths.logs / f"{sw.id}.sshd.log", ns=sw.ns))  # fmt: skip


def vlan_devs(sw: Switch) -> list[tuple[int, str]]:
    """hostapd's dynamic VLAN needs a netdev per VLAN RADIUS may return, existing beforehand."""
    return [(sw.vlans[k], f"v{sw.vlans[k]}") for k in ("cameras", "quarantine")]


def start_hostapd(r: Runner, sw: Switch, dev: str, paths: LabPaths, *, state: LabState, secret: str) -> Proc:
    d = paths.switch(sw.id)
    vlan_file = d / "hostapd.vlan"
    if not vlan_file.exists():
        for _, name in vlan_devs(sw):
            r.run(["ip", "-n", sw.ns, "tuntap", "add", name, "mode", "tap"], check=False)
            r.run(["ip", "-n", sw.ns, "link", "set", name, "up"], check=False)
        vlan_file.write_text("".join(f"{vid} {name}\n" for vid, name in vlan_devs(sw)))
    conf = d / f"hostapd-{dev}.conf"
    conf.write_text(
        f"# cloison lab: 802.1X authenticator on {sw.id} port {dev}\n"
        f"interface={dev}\ndriver=wired\nctrl_interface={d / 'run' / 'hostapd'}\n"
        "logger_stdout=-1\nlogger_stdout_level=2\n"
        "ieee8021x=1\neapol_version=2\neap_reauth_period=0\nuse_pae_group_addr=1\n"
        f"own_ip_addr={sw.plan_mgmt_ip}\nnas_identifier={sw.id}\n"
        f"auth_server_addr={sw.radius_ip}\nauth_server_port=1812\nauth_server_shared_secret={secret}\n"
        f"dynamic_vlan=1\nvlan_file={vlan_file}\n"
    )
    conf.chmod(0o600)
    return state.add_proc(r.spawn(["hostapd", str(conf)], what=f"hostapd:{sw.id}:{dev}",
                                  log=paths.logs / f"{sw.id}.hostapd-{dev}.log", ns=sw.ns))  # fmt: skip


def write_secret(sw: Switch, paths: LabPaths, secret: str) -> str:
    """The switch's RADIUS shared secret, in a 0600 file radclient (MAB) reads."""
    path = paths.switch(sw.id) / "radius.secret"
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def portd_config(sw: Switch, paths: LabPaths) -> Path:
    d = paths.switch(sw.id)
    cfg = {
        "switch": sw.id,
        "bridge": BRIDGE,
        "env": env(paths, sw),
        "ctrl_dir": str(d / "run" / "hostapd"),
        "status": str(d / "ports.json"),
        "radius": sw.radius_ip,
        "secret_file": str(d / "radius.secret"),
        "nas_ip": sw.plan_mgmt_ip,
        "vlans": sw.vlans,
        "ports": {p.dev: {"vlan": p.vlan, "camera": p.camera} for p in sw.ports},
    }
    path = d / "portd.json"
    path.write_text(json.dumps(cfg, indent=1))
    path.chmod(0o600)
    return path
