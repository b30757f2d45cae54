"""The Open vSwitch host adapter: a Linux box over SSH (netmiko ``linux``) running ``ovs-vsctl``.

Its "config" is a list of shell commands (what the OVS renderer emits). Its "running config"
is a canonical dump defined here — one sorted line per bridge, port and mirror with the
attributes that segmentation depends on (datapath type, access tag, trunks, VLAN mode,
interface type, mirror selection and output) — read from the OVSDB tables, so it can be
diffed, compared with a backup, and restored: rollback computes the ``ovs-vsctl`` commands
that take the current state back to the backup state, runs them, and compares the dumps.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from netmiko.exceptions import NetmikoBaseException, ReadTimeout

from segmenting.push import cliconf
from segmenting.push.connect import netmiko_connect
from segmenting.push.errors import CommandRejected, DeviceUnreachable, RollbackFailed
from segmenting.push.targets import DeviceTarget

READ_TIMEOUT = 30.0
WIDE = 8192
_VSCTL = "ovs-vsctl --timeout=20"
_LIST = "ovs-vsctl --timeout=20 --data=bare --format=csv --no-headings --columns="
_DUMP = " ; echo @@cloison@@ ; ".join(
    [
        _LIST + "_uuid,name,datapath_type,ports,mirrors list Bridge",
        _LIST + "_uuid,name,tag,trunks,vlan_mode,protected list Port",
        _LIST + "name,type list Interface",
        _LIST + "name,select_all,select_src_port,select_dst_port,output_port list Mirror",
    ]
)
_ASSIGN = re.compile(r"([A-Za-z_]\w*)=(\S+)")
_RC = re.compile(r"__cloison_rc=(\d+)")
PORT_ATTRS = ("tag", "trunks", "vlan_mode", "protected", "type")
MIRROR_ATTRS = ("select_all", "select_src_port", "select_dst_port", "output_port")


@dataclass
class OvsState:
    bridges: dict[str, str] = field(default_factory=dict)  # name -> datapath_type
    ports: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    mirrors: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def dump(self) -> str:
        lines = [f"bridge {b}" + (f" datapath_type={dt}" if dt else "") for b, dt in self.bridges.items()]
        for (b, p), attrs in self.ports.items():
            lines.append(" ".join([f"port {b} {p}", *(f"{k}={attrs[k]}" for k in PORT_ATTRS if attrs.get(k))]))
        for (b, m), attrs in self.mirrors.items():
            lines.append(" ".join([f"mirror {b} {m}", *(f"{k}={attrs[k]}" for k in MIRROR_ATTRS if attrs.get(k))]))
        return "\n".join(sorted(lines)) + ("\n" if lines else "")

    @classmethod
    def parse_dump(cls, text: str) -> OvsState:
        state = cls()
        for line in text.splitlines():
            kind, bridge, *rest = line.split()
            if kind == "bridge":
                state.bridges[bridge] = rest[0].split("=", 1)[1] if rest else ""
                continue
            name, attrs = rest[0], dict(a.split("=", 1) for a in rest[1:])
            (state.ports if kind == "port" else state.mirrors)[(bridge, name)] = attrs
        return state


def _rows(text: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text.strip())) if row]


def _set(value: str) -> str:
    return ",".join(sorted(value.replace("[", "").replace("]", "").replace(",", " ").split(), key=_natural))


def _natural(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 30, value)


def parse_tables(text: str) -> OvsState:
    """Build the state from the four CSV listings ``_DUMP`` prints."""
    parts = text.replace("\r", "").split("@@cloison@@")
    if len(parts) != 4:
        raise ValueError("unexpected ovs-vsctl output")
    bridges, ports, ifaces, mirrors = (_rows(p) for p in parts)
    itype = {r[0]: r[1] for r in ifaces}
    port_by_uuid = {r[0]: r for r in ports}
    mirror_by_name = {r[0]: r for r in mirrors}
    state = OvsState()
    for uuid_, name, dtype, port_uuids, mirror_uuids in bridges:
        del uuid_, mirror_uuids
        state.bridges[name] = dtype
        for pu in port_uuids.split():
            row = port_by_uuid.get(pu)
            if row is None or row[1] == name:
                continue  # the bridge's own internal port comes with add-br
            attrs = {
                "tag": row[2],
                "trunks": _set(row[3]),
                "vlan_mode": row[4],
                "protected": "true" if row[5] == "true" else "",
                "type": itype.get(row[1], ""),
            }
            state.ports[(name, row[1])] = {k: v for k, v in attrs.items() if v}
    port_name = {r[0]: r[1] for r in ports}
    bridge_of_port = {p: b for (b, p) in state.ports}
    for name, row in mirror_by_name.items():
        attrs = {
            "select_all": row[1] if row[1] == "true" else "",
            "select_src_port": _set(" ".join(port_name.get(u, u) for u in row[2].split())),
            "select_dst_port": _set(" ".join(port_name.get(u, u) for u in row[3].split())),
            "output_port": port_name.get(row[4], row[4]),
        }
        bridge = bridge_of_port.get(attrs["output_port"], "")
        state.mirrors[(bridge, name)] = {k: v for k, v in attrs.items() if v}
    return state


def predict_state(before: OvsState, commands: list[str]) -> tuple[OvsState, list[str]]:
    """Apply the ``ovs-vsctl`` sub-commands this module understands to a copy of ``before``.

    Returns the predicted state and the commands it could not model (reported as not
    verified line by line; their exit status is still checked).
    """
    st = OvsState(dict(before.bridges), {k: dict(v) for k, v in before.ports.items()}, dict(before.mirrors))
    unmodelled: list[str] = []
    env: dict[str, str] = {}
    for command in commands:
        assign = _ASSIGN.fullmatch(command)
        if assign:
            env[assign.group(1)] = " ".join(shlex.split(assign.group(2)))
            continue
        expanded = command
        for name, value in env.items():
            expanded = expanded.replace("${" + name + "}", value).replace("$" + name, value)
        try:
            words = shlex.split(expanded)
        except ValueError:
            unmodelled.append(command)
            continue
        if not words or words[0] != "ovs-vsctl":
            unmodelled.append(command)
            continue
        subs: list[list[str]] = [[]]
        for w in words[1:]:
            if w == "--":
                subs.append([])
            elif not (w.startswith("--") and not subs[-1]):
                subs[-1].append(w)
        for sub in subs:
            if sub and not _model(st, sub):
                unmodelled.append(command)
                break
    return st, unmodelled


def _model(st: OvsState, sub: list[str]) -> bool:
    verb, args = sub[0], sub[1:]
    if verb == "add-br" and len(args) == 1:
        st.bridges.setdefault(args[0], "")
    elif verb == "del-br" and len(args) == 1:
        st.bridges.pop(args[0], None)
        st.ports = {k: v for k, v in st.ports.items() if k[0] != args[0]}
    elif verb == "add-port" and len(args) >= 2:
        attrs = st.ports.setdefault((args[0], args[1]), {})
        for kv in args[2:]:
            key, _, val = kv.partition("=")
            if ":" in key:
                continue  # other_config:… keys are labels, not segmentation state
            if key not in PORT_ATTRS:
                return False
            if key == "protected" and val == "false":
                attrs.pop(key, None)
            else:
                attrs[key] = _set(val) if key == "trunks" else val
    elif verb == "del-port" and args:
        st.ports = {k: v for k, v in st.ports.items() if k[1] != args[-1]}
    elif verb in ("set", "clear") and len(args) >= 3 and args[0] in ("port", "interface", "bridge"):
        table, record = args[0], args[1]
        if table == "bridge" and verb == "clear" and args[2:] == ["mirrors"]:
            st.mirrors = {k: v for k, v in st.mirrors.items() if k[0] != record}
            return True
        for kv in args[2:]:
            key, _, val = kv.partition("=")
            if table == "bridge":
                if key == "datapath_type" and verb == "set":
                    st.bridges[record] = val
                # Other bridge columns (fail_mode, STP, other_config) are not in the dump.
                continue
            if ":" in key:
                continue
            if key not in PORT_ATTRS:
                return False
            for (_b, p), attrs in st.ports.items():
                if p == record:
                    if verb == "clear" or not val or (key == "protected" and val == "false"):
                        attrs.pop(key, None)
                    else:
                        attrs[key] = _set(val) if key == "trunks" else val
    else:
        return False
    return True


def restore_commands(current: OvsState, backup: OvsState) -> list[str]:
    """``ovs-vsctl`` commands that take ``current`` back to ``backup``."""
    cmds: list[str] = []
    for b, name in sorted(set(current.mirrors) - set(backup.mirrors)):
        cmds.append(f"{_VSCTL} -- --id=@m get mirror {name} -- remove bridge {b} mirrors @m")
    for b, p in sorted(set(current.ports) - set(backup.ports)):
        cmds.append(f"{_VSCTL} --if-exists del-port {b} {p}")
    for b in sorted(set(current.bridges) - set(backup.bridges)):
        cmds.append(f"{_VSCTL} --if-exists del-br {b}")
    for b, dt in sorted(backup.bridges.items()):
        if b not in current.bridges:
            cmds.append(f"{_VSCTL} --may-exist add-br {b}")
        if current.bridges.get(b) != dt:
            cmds.append(
                f"{_VSCTL} set bridge {b} datapath_type={dt}" if dt else f"{_VSCTL} clear bridge {b} datapath_type"
            )
    for (b, p), attrs in sorted(backup.ports.items()):
        now = current.ports.get((b, p))
        if now is None:
            cmds.append(f"{_VSCTL} --may-exist add-port {b} {p}")
            now = {}
        for key in PORT_ATTRS:
            if now.get(key) == attrs.get(key):
                continue
            table = "interface" if key == "type" else "port"
            if attrs.get(key):
                cmds.append(f"{_VSCTL} set {table} {p} {key}={_quote(key, attrs[key])}")
            else:
                cmds.append(_unset(table, p, key))
    for (b, name), attrs in sorted(backup.mirrors.items()):
        if current.mirrors.get((b, name)) == attrs:
            continue
        if (b, name) in current.mirrors:
            cmds.append(f"{_VSCTL} -- --id=@m get mirror {name} -- remove bridge {b} mirrors @m")
        parts = [f"{_VSCTL}"]
        refs: list[str] = []
        for key in ("select_src_port", "select_dst_port", "output_port"):
            for port in filter(None, attrs.get(key, "").split(",")):
                if port not in refs:
                    refs.append(port)
                    parts.append(f"-- --id=@p{refs.index(port)} get port {port}")
        fields = [f"name={name}"]
        if attrs.get("select_all"):
            fields.append("select_all=true")
        for key in ("select_src_port", "select_dst_port"):
            if attrs.get(key):
                fields.append(f"{key}=[" + ",".join(f"@p{refs.index(x)}" for x in attrs[key].split(",")) + "]")
        if attrs.get("output_port"):
            fields.append(f"output_port=@p{refs.index(attrs['output_port'])}")
        parts.append("-- --id=@m create mirror " + " ".join(fields))
        parts.append(f"-- add bridge {b} mirrors @m")
        cmds.append(" ".join(parts))
    return cmds


def _unset(table: str, record: str, key: str) -> str:
    if key == "type":
        return f'{_VSCTL} set interface {record} type=""'
    if key == "protected":  # a boolean column: it cannot be cleared, only set false
        return f"{_VSCTL} set port {record} protected=false"
    return f"{_VSCTL} clear {table} {record} {key}"


def _quote(key: str, value: str) -> str:
    return f"[{value}]" if key == "trunks" else shlex.quote(value)


class OvsSession:
    def __init__(self, target: DeviceTarget) -> None:
        self.target = target
        self._conn: Any = None
        self.unmodelled: list[str] = []
        self._predicted: str | None = None

    def connect(self) -> None:
        self._conn = netmiko_connect(self.target)
        # netmiko opens a 511-column terminal; longer command lines come back wrapped and its
        # echo check fails. Renderer lines (a mirror over many ports) can be longer.
        self._conn.remote_conn.resize_pty(width=WIDE, height=1000)
        self._send("stty cols " + str(WIDE))
        rundir = self.target.options.get("ovs_rundir")
        if rundir:
            # ovs-vsctl finds a non-default ovsdb socket through OVS_RUNDIR.
            self._send(f"export OVS_RUNDIR={shlex.quote(rundir)}")

    def _send(self, command: str) -> str:
        if self._conn is None or not self._conn.is_alive():
            self.connect()
        try:
            out: str = self._conn.send_command(command, read_timeout=READ_TIMEOUT)
        except (NetmikoBaseException, ReadTimeout, OSError) as exc:
            raise DeviceUnreachable(self.target.name, f"no answer to {command!r}: {exc}", "check the host") from None
        return out

    def _run(self, command: str) -> None:
        out = self._send(f"{command} 2>&1 ; echo __cloison_rc=$?")
        match = _RC.search(out)
        if match is None or match.group(1) != "0":
            detail = _RC.sub("", out).strip().splitlines()
            raise CommandRejected(
                self.target.name,
                f"{command!r} failed" + (f": {detail[-1]}" if detail else ""),
                "fix the rendered OVS commands",
            )

    def state(self) -> OvsState:
        out = self._send(_DUMP)
        try:
            return parse_tables(out)
        except (ValueError, IndexError):
            raise DeviceUnreachable(
                self.target.name,
                "could not read the OVS database: " + out.strip()[:200],
                "check that ovsdb-server runs (and options.ovs_rundir if not the system one)",
            ) from None

    def running_config(self) -> str:
        return self.state().dump()

    def predict(self, running: str, candidate: str) -> str:
        state, self.unmodelled = predict_state(OvsState.parse_dump(running), self.commands(candidate))
        self._predicted = state.dump()
        return self._predicted

    def commands(self, candidate: str) -> list[str]:
        """One shell command per line. ``set -e``-style lines are left out: they would end the
        interactive session at the first failure, and each line's exit status is checked
        anyway (which is what ``set -e`` is for in the script)."""
        lines = [ln.strip() for ln in candidate.splitlines()]
        return [ln for ln in lines if ln and not ln.startswith("#") and not re.match(r"set -[a-z]+$", ln)]

    def backup(self, push_id: str, running: str) -> None:
        """The backup is the dump the engine keeps; OVS needs nothing on the host."""

    def apply(self, candidate: str) -> None:
        for command in self.commands(candidate):
            self._run(command)

    def missing(self, candidate: str) -> list[str]:
        actual = set(self.running_config().splitlines())
        expected = (self._predicted or "").splitlines()
        return [line for line in expected if line not in actual]

    def save(self) -> None:
        """OVSDB commits each transaction to its database file: nothing more to do."""

    def rollback(self, push_id: str, backup: str) -> None:
        try:
            for command in restore_commands(self.state(), OvsState.parse_dump(backup)):
                self._run(command)
            now = self.running_config()
        except (CommandRejected, DeviceUnreachable) as exc:
            raise RollbackFailed(self.target.name, f"rollback did not complete: {exc}", "restore by hand") from None
        if now != backup:
            raise RollbackFailed(
                self.target.name,
                "OVS state differs from the backup after rollback:\n"
                + cliconf.unified_diff(self.target.name, backup, now),
                "restore it by hand from the backup printed above",
            )

    def discard_backup(self, push_id: str) -> None:
        """Nothing was stored on the host."""

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(NetmikoBaseException, OSError, EOFError):
                self._conn.disconnect()
            self._conn = None
