"""Real peers for the push tests: network namespaces, sshd and Open vSwitch started by hand.

Everything is named ``cpush-…``, lives under a temporary directory, and is stopped by the PID
this module started (never by name): the machine is shared with other labs, some of which
run their own OVS. The controller (the test process) reaches a namespace's sshd through a
socat forwarder on 127.0.0.1, so no address or route is added to the host's own namespace.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

OVS_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


def run(*argv: str, check: bool = True, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)  # type: ignore[call-overload,no-any-return]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, timeout: float = 10.0, banner: bytes = b"") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if not banner or s.recv(64).startswith(banner):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}")


@dataclass
class Procs:
    """Processes this lab started, stopped by PID in reverse order."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
        with log.open("ab") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.procs.append(proc)
        return proc.pid

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                # Own session: the group holds only what this Popen started (ip netns exec,
                # socat's forks), so signalling the group stops nothing of anyone else's.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        self.procs.clear()


@dataclass
class Netns:
    name: str

    @classmethod
    def create(cls, tag: str) -> Netns:
        ns = cls(f"cpush-{tag}-{secrets.token_hex(3)}")
        run("ip", "netns", "add", ns.name)
        run("ip", "-n", ns.name, "link", "set", "lo", "up")
        return ns

    def exec(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.name, *argv, check=check)

    def argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def delete(self) -> None:
        run("ip", "netns", "delete", self.name, check=False)


@dataclass
class SshHost:
    """sshd inside a namespace, reachable from the controller at 127.0.0.1:port."""

    ns: Netns
    workdir: Path
    procs: Procs
    port: int = 0
    client_key: Path = field(init=False)

    def start(self) -> SshHost:
        d = self.workdir
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        host_key, self.client_key = d / "host_key", d / "client_key"
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key))
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.client_key))
        os.chmod(self.client_key, 0o600)
        auth = d / "authorized_keys"
        shutil.copy(d / "client_key.pub", auth)
        os.chmod(auth, 0o600)
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        config = d / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    "Port 22",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {d / 'sshd.pid'}",
                    f"AuthorizedKeysFile {auth}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    # The key lives under pytest's tmp dir inside world-writable /tmp.
                    "StrictModes no",
                    "PrintMotd no",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        self.procs.start(self.ns.argv("/usr/sbin/sshd", "-D", "-e", "-f", str(config)), d / "sshd.log")
        self.port = self.port or free_port()
        # socat forks per connection and opens the namespace side with its own
        # "ip netns exec": the host namespace gets no address, no route, no link.
        self.procs.start(
            [
                "socat",
                f"TCP-LISTEN:{self.port},bind=127.0.0.1,reuseaddr,fork",
                f"EXEC:ip netns exec {self.ns.name} socat STDIO TCP\\:127.0.0.1\\:22",
            ],
            d / "socat.log",
        )
        wait_port(self.port, banner=b"SSH-")
        return self


@dataclass
class OvsHost:
    """ovsdb-server + ovs-vswitchd (userspace datapath) inside a namespace, own paths."""

    ns: Netns
    rundir: Path
    procs: Procs

    def env(self) -> dict[str, str]:
        d = str(self.rundir)
        return {**os.environ, "OVS_RUNDIR": d, "OVS_DBDIR": d, "OVS_LOGDIR": d, "OVS_SYSCONFDIR": d}

    def start(self) -> OvsHost:
        d = self.rundir
        d.mkdir(parents=True, exist_ok=True)
        db = d / "conf.db"
        run("ovsdb-tool", "create", str(db), str(OVS_SCHEMA))
        sock = f"unix:{d / 'db.sock'}"
        self.procs.start(
            self.ns.argv(
                "ovsdb-server",
                str(db),
                f"--remote=p{sock}",
                f"--pidfile={d / 'ovsdb-server.pid'}",
                f"--unixctl={d / 'ovsdb-server.ctl'}",
                f"--log-file={d / 'ovsdb-server.log'}",
            ),
            d / "ovsdb-server.out",
            env=self.env(),
        )
        deadline = time.monotonic() + 10
        while not (d / "db.sock").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("ovsdb-server did not create its socket")
            time.sleep(0.05)
        self.vsctl("--no-wait", "init")
        self.procs.start(
            self.ns.argv(
                "ovs-vswitchd",
                sock,
                f"--pidfile={d / 'ovs-vswitchd.pid'}",
                f"--unixctl={d / 'ovs-vswitchd.ctl'}",
                f"--log-file={d / 'ovs-vswitchd.log'}",
            ),
            d / "ovs-vswitchd.out",
            env=self.env(),
        )
        self.vsctl("--timeout=10", "add-br", "cpbr0", "--", "set", "bridge", "cpbr0", "datapath_type=netdev")
        return self

    def vsctl(self, *args: str) -> str:
        out = run("ip", "netns", "exec", self.ns.name, "ovs-vsctl", f"--db=unix:{self.rundir / 'db.sock'}", *args)
        return out.stdout


@contextlib.contextmanager
def ovs_ssh_host(workdir: Path) -> Iterator[tuple[SshHost, OvsHost]]:
    procs = Procs()
    ns = Netns.create("ovs")
    try:
        # Short rundir: unix socket paths are limited to 107 bytes.
        rundir = Path(f"/tmp/{ns.name}")
        ovs = OvsHost(ns, rundir, procs).start()
        ssh = SshHost(ns, workdir / "ssh", procs).start()
        # Ports for the switch to carry: veth pairs, both ends inside the namespace.
        for i in (1, 2, 3):
            ns.exec("ip", "link", "add", f"cpush-p{i}", "type", "veth", "peer", "name", f"cpush-q{i}")
            ns.exec("ip", "link", "set", f"cpush-p{i}", "up")
            ns.exec("ip", "link", "set", f"cpush-q{i}", "up")
        yield ssh, ovs
    finally:
        procs.stop()
        ns.delete()
        shutil.rmtree(f"/tmp/{ns.name}", ignore_errors=True)
