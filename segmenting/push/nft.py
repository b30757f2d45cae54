"""nftables hosts as adapters: this host, a local network namespace, or a host over SSH.

Every ruleset is loaded with one ``nft -f`` of a file that starts with ``flush ruleset``: the
kernel applies it as one transaction, so the host never runs half of the old and half of the
new ruleset. Before applying, :meth:`arm_restore` starts a dead-man timer *on the host* that
reloads the saved ruleset by itself — if the new ruleset cuts the controller off, nothing on
the controller's side can help any more (``iptables-apply`` works the same way).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Protocol

from netmiko.exceptions import NetmikoBaseException, ReadTimeout

from segmenting.push.connect import netmiko_connect
from segmenting.push.errors import CommandRejected, DeviceUnreachable
from segmenting.push.targets import DeviceTarget


def full_replacement(ruleset: str) -> str:
    """The ruleset as one transaction that replaces whatever is loaded."""
    body = ruleset if ruleset.endswith("\n") else ruleset + "\n"
    if re.match(r"\s*flush\s+ruleset\b", body):
        return body
    return "flush ruleset\n" + body


class NftHost(Protocol):
    name: str

    def list_ruleset(self) -> str: ...

    def check(self, ruleset: str) -> None:
        """``nft -c``: raises CommandRejected with nft's message; changes nothing."""

    def load(self, ruleset: str) -> None:
        """``nft -f`` (atomic); raises CommandRejected, and then nothing changed."""

    def arm_restore(self, ruleset: str, seconds: float) -> str:
        """Start the host-side timer that loads ``ruleset`` after ``seconds``; returns its id."""

    def disarm_restore(self, handle: str) -> None: ...

    def close(self) -> None: ...


class LocalNft:
    """nft on this machine, optionally inside a network namespace (``ip netns exec``)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self.name = f"netns {netns}" if netns else "localhost"
        self._files: list[Path] = []

    def _argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)

    def _nft(self, *args: str, stdin: str | None = None) -> str:
        try:
            proc = subprocess.run(
                self._argv("nft", *args), input=stdin, capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeviceUnreachable(self.name, f"cannot run nft: {exc}", "install nftables") from None
        if proc.returncode != 0:
            raise CommandRejected(
                self.name,
                "nft refused the ruleset: " + (proc.stderr.strip() or f"exit {proc.returncode}"),
                "fix the ruleset; nothing was changed",
            )
        return proc.stdout

    def list_ruleset(self) -> str:
        return self._nft("list", "ruleset")

    def check(self, ruleset: str) -> None:
        self._nft("-c", "-f", "-", stdin=full_replacement(ruleset))

    def load(self, ruleset: str) -> None:
        self._nft("-f", "-", stdin=full_replacement(ruleset))

    def arm_restore(self, ruleset: str, seconds: float) -> str:
        fd, name = tempfile.mkstemp(prefix="cloison-nft-restore-", suffix=".nft")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp: 0600
            fh.write(full_replacement(ruleset))
        self._files.append(Path(name))
        script = f"sleep {seconds:.1f} && exec nft -f {shlex.quote(name)}"
        proc = subprocess.Popen(
            self._argv("sh", "-c", script),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own group: disarming signals only this timer
        )
        return str(proc.pid)

    def disarm_restore(self, handle: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(handle), signal.SIGTERM)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(int(handle), 0)

    def close(self) -> None:
        for path in self._files:
            path.unlink(missing_ok=True)
        self._files.clear()


class SshNft:
    """nft on a remote Linux host over SSH (netmiko ``linux``)."""

    def __init__(self, target: DeviceTarget) -> None:
        self.target = target
        self.name = target.name
        self._conn: Any = None
        self._tag = secrets.token_hex(4)

    def _send(self, command: str) -> tuple[int, str]:
        if self._conn is None or not self._conn.is_alive():
            self._conn = netmiko_connect(self.target)
            self._conn.remote_conn.resize_pty(width=8192, height=1000)  # see ovs.OvsSession
        try:
            out: str = self._conn.send_command(f"{command} 2>&1; echo __cloison_rc=$?", read_timeout=60)
        except (NetmikoBaseException, ReadTimeout, OSError) as exc:
            raise DeviceUnreachable(self.name, f"session lost: {exc}", "check the host") from None
        match = re.search(r"__cloison_rc=(\d+)", out)
        rc = int(match.group(1)) if match else 255
        return rc, re.sub(r"\n?__cloison_rc=\d+\s*$", "", out)

    def _upload(self, text: str, suffix: str) -> str:
        # SFTP on the same SSH connection: no quoting, no terminal line limits, mode 0600.
        path = f"/run/cloison-nft-{self._tag}.{suffix}"
        self._send(":")  # (re)connects if needed
        try:
            sftp = self._conn.remote_conn_pre.open_sftp()
            try:
                with sftp.open(path, "w") as fh:
                    fh.chmod(0o600)
                    fh.write(text.encode())
            finally:
                sftp.close()
        except (OSError, EOFError) as exc:
            raise DeviceUnreachable(self.name, f"cannot upload {path} over SFTP: {exc}", "enable sftp") from None
        return path

    def _nft(self, args: str) -> str:
        rc, out = self._send(f"nft {args}")
        if rc != 0:
            raise CommandRejected(self.name, f"nft refused: {out.strip()}", "nothing was changed")
        return out

    def list_ruleset(self) -> str:
        out = self._nft("list ruleset")
        return out if out.endswith("\n") else out + "\n"

    def check(self, ruleset: str) -> None:
        self._nft("-c -f " + self._upload(full_replacement(ruleset), "candidate"))

    def load(self, ruleset: str) -> None:
        self._nft("-f " + self._upload(full_replacement(ruleset), "candidate"))

    def arm_restore(self, ruleset: str, seconds: float) -> str:
        path = self._upload(full_replacement(ruleset), "backup")
        rc, out = self._send(f"nohup sh -c 'sleep {seconds:.1f} && exec nft -f {path}' >/dev/null 2>&1 & echo pid=$!")
        match = re.search(r"pid=(\d+)", out)
        if rc != 0 or match is None:
            raise DeviceUnreachable(self.name, "could not start the restore timer", "check the host")
        return match.group(1)

    def disarm_restore(self, handle: str) -> None:
        self._send(f"kill {int(handle)}")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._send(f"rm -f /run/cloison-nft-{self._tag}.*")
            with contextlib.suppress(NetmikoBaseException, OSError, EOFError):
                self._conn.disconnect()
            self._conn = None
