"""Video-protection rules (CSI L252-3, L252-5; arrêté du 3 août 2007 art. 2; décret 2023-1102 logging).

Retention of recordings (a systemd timer deleting what is older than the authorised period,
at most 30 days), the recorder's journal, and the State relay: only the convention's endpoints,
only the shared communes' cameras, every consultation logged.
"""

from __future__ import annotations

import re
from ipaddress import ip_address, ip_network

import pytest
from conformance_helpers import run

pytestmark = pytest.mark.lab

LEGAL_MAX_DAYS = 30
DAYS = re.compile(r"(?:-mtime\s+\+?|--days[= ]|RETENTION_DAYS=|--max-age[= ])(\d+)", re.IGNORECASE)
MINUTES = re.compile(r"-mmin\s+\+?(\d+)")
CONSULT_TOOL = "/usr/local/sbin/cloison-video"


def retention_days(unit_text: str) -> list[float]:
    """Retention periods (days) found in a purge unit: ``find -mtime +N``, ``-mmin +N``, ``--days N``."""
    exec_lines = "\n".join(line for line in unit_text.splitlines() if line.strip().startswith("ExecStart"))
    return [float(d) for d in DAYS.findall(exec_lines)] + [int(m) / 1440 for m in MINUTES.findall(exec_lines)]


@pytest.mark.runs_on("recorder")
@pytest.mark.control("CSI-L252-5")
def test_retention_timer(node, host, plan, evidence) -> None:
    _, timers = run(host, "systemctl list-timers --all --no-legend --plain | grep -iE 'retention|purge|expire'")
    names = re.findall(r"(\S+\.timer)", timers)
    evidence(f"retention timers: {timers or 'none'}")
    assert names, "no retention timer: recordings are never deleted"
    _, active = run(host, f"systemctl is-active {names[0]}")
    service = names[0].replace(".timer", ".service")
    _, unit = run(host, f"systemctl cat {service}")
    days = retention_days(unit)
    evidence(f"{names[0]}: {active}; {service} retention value(s) in days: {days}; authorised: {plan.retention_days}")
    assert active == "active", f"{names[0]} is {active}"
    assert days, f"cannot find the retention period in {service}"
    limit = min(LEGAL_MAX_DAYS, plan.retention_days)
    assert max(days) <= limit, f"recordings kept {max(days)} days; at most {limit} (CSI L252-5, authorisation)"


@pytest.mark.runs_on("recorder")
@pytest.mark.control("CSI-R252-11")
def test_register_of_destruction_and_consultation(node, host, evidence) -> None:
    """Every deletion is printed to the journal, every consultation goes through a tool that journals it."""
    _, unit = run(host, "systemctl cat cloison-retention.service 2>/dev/null || true")
    _, tool = run(host, f"stat -c '%a %U' {CONSULT_TOOL} && grep -c 'logger' {CONSULT_TOOL}")
    evidence(
        f"purge unit ExecStart: {[x for x in unit.splitlines() if x.startswith('ExecStart')]}; {CONSULT_TOOL}: {tool}"
    )
    assert re.search(r"ExecStart=.*-print", unit), "deleted recordings are not written to the journal"
    parts = tool.split()
    assert len(parts) >= 3 and parts[1] == "root" and not int(parts[0], 8) & 0o002, f"{CONSULT_TOOL} missing or open"
    assert int(parts[2]) >= 1, f"{CONSULT_TOOL} does not journal consultations"


@pytest.mark.runs_on("recorder")
@pytest.mark.control("ANSSI-BP028-R64")
def test_recording_runs_unprivileged(node, host, evidence) -> None:
    listing = "systemctl list-units 'cloison-record@*' --type=service --state=active --no-legend --plain"
    _, units = run(host, listing)
    names = re.findall(r"(\S+\.service)", units)
    assert names, "no recording unit is active"
    _, props = run(host, f"systemctl show {names[0]} -p User -p DynamicUser -p NoNewPrivileges -p ProtectSystem")
    evidence(f"{len(names)} recording units; {names[0]}: {' '.join(props.split())}")
    values = dict(line.split("=", 1) for line in props.splitlines() if "=" in line)
    assert values.get("User", "") not in ("", "root") or values.get("DynamicUser") == "yes", "recording runs as root"
    assert values.get("NoNewPrivileges") == "yes", "recording may gain privileges"


@pytest.mark.runs_on("recorder")
@pytest.mark.control("ARR-2007-A2")
def test_recorder_journal(node, host, evidence) -> None:
    _, units = run(
        host, "systemctl list-units --type=service --state=active --no-legend --plain | grep -iE 'record|vms'"
    )
    names = re.findall(r"(\S+\.service)", units)
    evidence(f"recording services: {units or 'none'}")
    assert names, "no recording service is running"
    _, journal = run(host, f"journalctl -u {names[0]} -n 3 --no-pager -o short-iso")
    evidence(f"last journal lines of {names[0]}:\n{journal}")
    assert journal and "No entries" not in journal, f"{names[0]} leaves no journal of its actions"


def _nginx_stream(host) -> str:
    rc, out = run(host, "nginx -T 2>/dev/null")
    assert rc == 0 and "stream" in out, "no nginx stream relay configuration (nginx -T)"
    return "\n".join(line.split("#", 1)[0] for line in out.splitlines())


@pytest.mark.runs_on("relay")
@pytest.mark.control("CSI-L252-3")
def test_relay_limited_to_convention(node, host, plan, evidence) -> None:
    conf = _nginx_stream(host)
    allows = re.findall(r"\ballow\s+([\d./]+)\s*;", conf)
    # upstreams: `server`/`proxy_pass` targets or the entries of a `map` (SNI name -> camera), loopback sinks aside
    upstreams = [ip for ip in re.findall(r"\b(\d+\.\d+\.\d+\.\d+):\d+\s*;", conf) if not ip.startswith("127.")]
    state = [ip_network(cidr, strict=False) for _, _, cidr in plan.state.endpoints]
    shared = {c.ip for c in plan.cameras if c.shared_with_state}
    evidence(f"allow {allows}; deny all: {'deny all' in conf}; {len(upstreams)} upstream cameras; "
             f"{len(shared)} cameras shared by convention {plan.state.reference}")  # fmt: skip
    assert allows and "deny all" in re.sub(r"\s+", " ", conf), "the relay does not restrict who connects"
    outside = [a for a in allows if not any(ip_network(a, strict=False).subnet_of(s) for s in state)]
    assert not outside, f"the relay admits sources outside the State convention: {outside}"
    unshared = sorted({u for u in upstreams if ip_address(u) and u not in shared})
    assert upstreams, "the relay forwards to no camera"
    assert not unshared, f"the relay exposes cameras the convention does not share: {unshared[:5]}"


@pytest.mark.runs_on("relay")
@pytest.mark.control("DEC-2023-1102-LOG")
def test_relay_logs_each_consultation(node, host, evidence) -> None:
    conf = _nginx_stream(host)
    logs = re.findall(r"access_log\s+([^;]+);", conf)
    formats = re.findall(r"log_format\s+\S+\s+([^;]+);", conf, re.DOTALL)
    evidence(f"access_log {logs}; log formats: {[f[:200] for f in formats]}")
    assert logs and not any(entry.strip() == "off" for entry in logs), "State consultations are not logged"
    assert any("$remote_addr" in f and "$time" in f for f in formats), "the log does not say who and when"
