"""A stateful switch CLI simulator on top of fakenos, for the netmiko push tests and bench.

fakenos serves each platform's SSH login and prompts but answers from a fixed table: it
refuses ``configure terminal`` and keeps no state. This module plugs a shell into fakenos's
paramiko server that keeps a small hierarchical running config (top-level lines and
``interface``/``vlan`` blocks), enters and leaves config mode, applies lines, rejects any line
matching a chosen pattern the way each platform does, answers ``show running-config`` from
what was applied, saves (``write memory``), and keeps named snapshots for the on-device
rollback mechanisms: IOS ``configure replace`` from a flash archive, AOS-CX checkpoints.

It is a simulator, not the vendors' parsers: it proves the adapters' dialogue, error
detection, read-back and rollback logic, not that a real switch accepts a given line.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import paramiko
from fakenos.core.nos import Nos
from fakenos.plugins.servers import ssh_server_paramiko
from fakenos.plugins.servers.ssh_server_paramiko import ParamikoSshServer
from fakenos.plugins.shell.cmd_shell import CMDShell

USERNAME = "cloison"

# Lines that open a sub-mode in all three dialects (the subset the renderers emit).
CONTEXT_WORDS = ("interface", "vlan", "line", "router", "radius-server host", "aaa group")
# Top-level commands that hold one value: a new one replaces the old one.
SINGLE_VALUED = ("hostname", "ip domain-name", "ip domain name", "timesync", "clock timezone")


def _fast_channel_to_shell_tap(channel_stdio: Any, shell_stdin: Any, replied: Any, run: Any) -> None:
    """fakenos's own tap reads, echoes and sleeps 10 ms per byte: one SSH packet each way per
    character, minutes for a 300-line config. Same dialogue, a chunk at a time: echo what
    arrived, hand each complete line to the shell, wait for its answer before the next."""
    channel = channel_stdio.channel
    # A timeout, so that the loop sees the server stopping instead of blocking in recv().
    channel.settimeout(0.2)
    buffer = b""
    while run.is_set():
        try:
            chunk = channel.recv(4096)
        except TimeoutError:
            continue
        except (OSError, EOFError):
            break
        if not chunk:
            break
        # netmiko's is_alive() sends NUL; a terminal does not echo it.
        chunk = chunk.replace(b"\x00", b"")
        while chunk:
            replied.wait(10)
            if not channel.active:
                return
            ends = [i for i in (chunk.find(b"\r"), chunk.find(b"\n")) if i >= 0]
            if not ends:
                channel_stdio.write(chunk)
                buffer += chunk
                break
            cut = min(ends)
            piece, end, chunk = chunk[:cut], chunk[cut : cut + 1], chunk[cut + 1 :]
            try:
                channel_stdio.write(piece + b"\r\n")
            except (OSError, EOFError):
                return
            line = (buffer + piece + end).decode("utf-8", "replace")
            buffer = b""
            replied.clear()
            shell_stdin.write(line)


class _BlockingTapIO(ssh_server_paramiko.TapIO):  # type: ignore[misc]
    """fakenos's TapIO polls every 10 ms for a line, in both directions of every command.
    Same contract, woken by a condition."""

    def __init__(self, run_srv: threading.Event, initial_value: str = "", newline: str = "\n") -> None:
        super().__init__(run_srv, initial_value, newline)
        self._ready = threading.Condition()

    def readline(self) -> str | None:  # type: ignore[override]
        with self._ready:
            while self.run_srv.is_set():
                if self.lines:
                    line: str = self.lines.pop(-1)
                    return line
                self._ready.wait(0.05)
        return None

    def write(self, value: str) -> int:  # type: ignore[override]
        with self._ready:
            self.lines.insert(0, value)
            self._ready.notify_all()
        return len(value)


ssh_server_paramiko.channel_to_shell_tap = _fast_channel_to_shell_tap
ssh_server_paramiko.TapIO = _BlockingTapIO


@dataclass
class Dialect:
    name: str
    indent: str
    config_cmds: tuple[str, ...]
    save_cmds: tuple[str, ...]
    error: str
    intro: str
    separators: bool = False  # IOS prints "!" between sections
    exit_lines: bool = False  # ProCurve prints "exit" at the end of each block


DIALECTS = {
    "cisco_ios": Dialect(
        "cisco_ios",
        " ",
        ("configure terminal",),
        ("write mem", "write memory", "copy running-config startup-config"),
        "% Invalid input detected at '^' marker.",
        "",
        separators=True,
    ),
    "aruba_aoscx": Dialect(
        "aruba_aoscx",
        "    ",
        ("configure term", "configure terminal", "config"),
        ("write memory", "copy running-config startup-config"),
        "Invalid input: {word}",
        "",
    ),
    "hp_procurve": Dialect(
        "hp_procurve",
        "   ",
        ("configure terminal", "configure", "config"),
        ("write memory",),
        "Invalid input: {word}",
        "HP J9773A 2530-24G-PoE+ Switch\r\nSoftware revision YA.16.11\r\n\r\n"
        "(C) Copyright 2024 Hewlett Packard Enterprise Development LP\r\n",
        exit_lines=True,
    ),
}


@dataclass
class Block:
    header: str
    children: list[str] = field(default_factory=list)


@dataclass
class SwitchState:
    """What the simulated switch holds. Shared by every SSH session to it."""

    dialect: Dialect
    hostname: str
    reject: re.Pattern[str] | None = None
    running: list[Block] = field(default_factory=list)
    startup: list[Block] = field(default_factory=list)
    snapshots: dict[str, list[Block]] = field(default_factory=dict)
    saves: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.running:
            self.running = [Block(f"hostname {self.hostname}")]
        self.startup = _copy(self.running)

    def render(self) -> str:
        d = self.dialect
        out: list[str] = []
        if d.name == "cisco_ios":
            out += ["Building configuration...", "", "Current configuration : 0 bytes", "!"]
        for block in self.running:
            out.append(block.header)
            out += [d.indent + child for child in block.children]
            if block.children and d.exit_lines:
                out.append(d.indent + "exit")
            if d.separators:
                out.append("!")
        if d.name == "cisco_ios":
            out.append("end")
        return "\n".join(out)

    def config_lines(self) -> list[str]:
        """The running config as flat text lines (header, then indented children)."""
        lines: list[str] = []
        for block in self.running:
            lines.append(block.header)
            lines += [" " + c for c in block.children]
        return lines


def _copy(blocks: list[Block]) -> list[Block]:
    return [Block(b.header, list(b.children)) for b in blocks]


def _key(line: str) -> str:
    for word in SINGLE_VALUED:
        if line == word or line.startswith(word + " "):
            return word
    return line


class SwitchShell(CMDShell):
    """A CMDShell whose every line goes to the switch state instead of fakenos's table."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: SwitchState = self.nos.device
        self.mode = "exec"  # exec | config
        self.context: Block | None = None
        self.pending_logout = False
        self.indented = False
        self._set_prompt()

    def _set_prompt(self) -> None:
        name = self.state.hostname
        if self.mode == "exec":
            self.prompt = f"{name}#"
        elif self.context is None:
            self.prompt = f"{name}(config)#"
        elif self.context.header.startswith("vlan"):
            self.prompt = f"{name}(config-vlan)#"
        elif self.context.header.startswith(CONTEXT_WORDS):
            self.prompt = f"{name}(config-if)#"
        else:
            self.prompt = f"{name}(config)#"

    def precmd(self, line: str) -> str:
        # cmd.Cmd strips the line before dispatching; the indentation says whether a line
        # belongs to the open block (indented) or falls back to global config (IOS behaviour).
        self.indented = line[:1] in (" ", "\t")
        return line

    def do_help(self, arg: str) -> None:
        self.writeline("")

    def stop(self) -> None:
        # fakenos stops a shell by typing "exit", which in config mode (or at ProCurve's
        # logout question) would not end it: make the next line end the session, whatever it is.
        self.stopping = True
        super().stop()

    def default(self, line: str) -> bool:
        if getattr(self, "stopping", False):
            return True
        line = line.strip()
        with self.state.lock:
            out = self._handle(line)
        if out is True:
            return True
        self._set_prompt()
        if out:
            self.writeline(out)
        return False

    # -- exec mode --------------------------------------------------------------------------
    def _handle(self, line: str) -> str | bool:
        if self.pending_logout:
            self.pending_logout = False
            return line.lower().startswith("y") or ""
        if self.mode == "config":
            return self._config(line)
        st = self.state
        d = st.dialect
        if line in ("terminal length 0", "terminal width 511", "no page", "enable", ""):
            return ""
        if line in ("show running-config", "show run"):
            return st.render()
        if line in d.config_cmds:
            self.mode, self.context = "config", None
            return ""
        if line in d.save_cmds:
            st.startup = _copy(st.running)
            st.saves += 1
            return "[OK]" if d.name == "cisco_ios" else ""
        if line == "logout" and d.name == "hp_procurve":
            self.pending_logout = True
            return "Do you want to log out [y/n]? "
        if line in ("exit", "logout", "quit"):
            return True
        m = re.fullmatch(r"copy running-config (?:flash:|checkpoint )(\S+)", line)
        if m:
            st.snapshots[m.group(1)] = _copy(st.running)
            return "Copy completed successfully." if d.name != "cisco_ios" else "0 bytes copied"
        m = re.fullmatch(r"configure replace flash:(\S+) force", line)
        if m and d.name == "cisco_ios":
            return self._restore(m.group(1), "Rollback Done")
        m = re.fullmatch(r"copy checkpoint (\S+) running-config", line)
        if m and d.name == "aruba_aoscx":
            return self._restore(m.group(1), "Configuration changes will take time to process.")
        m = re.fullmatch(r"(?:delete flash:|erase checkpoint )(\S+)", line)
        if m:
            self.state.snapshots.pop(m.group(1), None)
            return ""
        return self._error(line)

    def _restore(self, name: str, ok: str) -> str:
        snap = self.state.snapshots.get(name)
        if snap is None:
            return f"% Error opening {name} (No such file or directory)"
        self.state.running = _copy(snap)
        return ok

    def _error(self, line: str) -> str:
        word = line.split(maxsplit=1)[0] if line.split() else line
        return self.state.dialect.error.format(word=word)

    # -- config mode ------------------------------------------------------------------------
    def _config(self, line: str) -> str | bool:
        st = self.state
        if line == "end":
            self.mode, self.context = "exec", None
            return ""
        if line == "exit":
            if self.context is None:
                self.mode = "exec"
            self.context = None
            return ""
        if not line or line.startswith("!"):
            return ""
        if st.reject is not None and st.reject.search(line):
            return self._error(line)
        negate = line.startswith("no ")
        body = line[3:] if negate else line
        if self.indented:
            # An indented line belongs to the block opened by the last top-level line.
            if self.context is None:
                return self._error(line)
            children = self.context.children
            if negate:
                if body in children:
                    children.remove(body)
                elif line not in children:
                    # Keep explicit "no X" lines a platform prints (e.g. "no ip address").
                    children.append(line)
            else:
                if ("no " + body) in children:
                    children.remove("no " + body)
                if body not in children:
                    children.append(body)
            return ""
        self.context = None
        if negate:
            st.running = [b for b in st.running if b.header != body and _key(b.header) != _key(body)]
            return ""
        key = _key(body)
        for block in st.running:
            if block.header == body or _key(block.header) == key != body:
                block.header = body
                self.context = block
                return ""
        self.context = Block(body)
        st.running.append(self.context)
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _ListeningServer(ParamikoSshServer):  # type: ignore[misc]
    """fakenos calls listen() in its accept thread: a client connecting right after start()
    can be refused. Listening at bind time closes that race."""

    def _bind_sockets(self) -> None:
        super()._bind_sockets()
        self._socket.listen(64)

    def _listen(self) -> None:
        # fakenos starts each connection on a non-daemon thread; one whose client connected but
        # never opened a channel waits in paramiko's Transport.accept() with no timeout, and the
        # interpreter then waits for it forever at exit (a whole CI run hung on one). Same loop,
        # daemon threads: stop() still joins them within its deadline.
        listener = self._socket
        if listener is None:
            return
        while self._is_running.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break  # stop() closed the socket
            worker = threading.Thread(
                target=self.connection_function,
                args=(client, self._is_running),
                daemon=True,
                name=f"fakeswitch-{self.port}",
            )
            worker.start()
            self._connection_threads.append(worker)

    def connection_function(self, client: socket.socket, is_running: threading.Event) -> None:
        # Each echoed byte and prompt is a tiny write: without TCP_NODELAY, Nagle and delayed
        # ACKs add ~40 ms to every command.
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_function(client, is_running)


@dataclass
class FakeSwitch:
    """One simulated switch: a fakenos paramiko SSH server on 127.0.0.1 bound to a state."""

    name: str
    device_type: str
    password: str
    reject: str | None = None
    port: int = 0
    state: SwitchState = field(init=False)
    server: ParamikoSshServer = field(init=False)

    def __post_init__(self) -> None:
        dialect = DIALECTS[self.device_type]
        self.state = SwitchState(dialect, self.name, re.compile(self.reject) if self.reject else None)
        nos = Nos(name=self.device_type, commands={}, initial_prompt="{base_prompt}#")
        nos.device = self.state
        self.port = self.port or free_port()
        self.server = _ListeningServer(
            shell=SwitchShell,
            nos=nos,
            nos_inventory_config={},
            port=self.port,
            username=USERNAME,
            password=self.password,
            shell_configuration={"base_prompt": self.name, "intro": dialect.intro},
            watchdog_interval=0.2,
        )

    def start(self) -> FakeSwitch:
        self.server.start()  # binds before returning: no need to probe the port
        return self

    def stop(self) -> None:
        self.server.stop()

    def running_text(self) -> str:
        with self.state.lock:
            return "\n".join(self.state.config_lines())


__all__ = ["DIALECTS", "USERNAME", "FakeSwitch", "SwitchState", "paramiko"]
