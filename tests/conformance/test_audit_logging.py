"""Logging and time (ANSSI BP-028 R71/R73, hygiene 36, PA-022 R47, CNIL fiche 16).

Persistent journal, audit rules loaded, clock synchronised from the plan's NTP server, logs
forwarded over TLS to the plan's collector.
"""

from __future__ import annotations

import re

import pytest
from conformance_helpers import listeners, prefetch, run

from segmenting.plan import P_SYSLOG_TLS

pytestmark = pytest.mark.lab

AUDIT_WATCHES = ("/etc/shadow", "/etc/sudoers", "/etc/ssh/sshd_config")
SIX_MONTHS_S = 182 * 86400


JOURNAL_STORAGE = "systemd-analyze cat-config systemd/journald.conf | grep -E '^Storage=' | tail -1"
JOURNAL_DIRS = "ls -d /var/log/journal/*/ 2>/dev/null"
JOURNAL_RETENTION = "systemd-analyze cat-config systemd/journald.conf | grep -E '^MaxRetentionSec=' | tail -1"
AUDITCTL = "auditctl -l"
TIME_SOURCES = (
    "grep -rhsE '^(server|pool|NTP=|FallbackNTP=)' /etc/chrony /etc/systemd/timesyncd.conf "
    "/etc/systemd/timesyncd.conf.d /etc/ntpsec /etc/ntp.conf"
)
TIME_ACTIVE = "systemctl is-active chrony.service systemd-timesyncd.service ntpsec.service 2>/dev/null"
SYSLOG_CONF = "/etc/rsyslog.conf /etc/rsyslog.d /etc/syslog-ng /etc/systemd/journal-upload.conf"
FORWARDING = f"grep -rhsE '^[^#]*(target|port|destination|URL=|@@)' {SYSLOG_CONF} /etc/systemd/journal-upload.conf.d"
FORWARD_TLS = f"grep -rhsiE 'StreamDriver|gtls|ossl|tls\\(|ServerCertificateFile' {SYSLOG_CONF}"
FORWARDER_ACTIVE = "systemctl is-active rsyslog.service syslog-ng.service systemd-journal-upload.service 2>/dev/null"
prefetch(JOURNAL_STORAGE, JOURNAL_DIRS, JOURNAL_RETENTION, AUDITCTL, TIME_SOURCES, TIME_ACTIVE, FORWARDING, FORWARD_TLS,
         FORWARDER_ACTIVE)  # fmt: skip


def _ip_of_kind(plan, kind: str) -> str:
    return next(h.ip for h in plan.hosts if h.kind == kind)


@pytest.mark.control("ANSSI-BP028-R71")
def test_journal_persistent(node, host, evidence) -> None:
    _, storage = run(host, JOURNAL_STORAGE)
    _, dirs = run(host, JOURNAL_DIRS)
    evidence(f"{storage or 'Storage=<default auto>'}; journal dirs: {dirs or 'none'}")
    assert storage in ("Storage=persistent", "Storage=auto", "") and dirs, "the journal is not kept on disk"


@pytest.mark.control("CNIL-F16")
def test_journal_kept_six_months(node, host, evidence) -> None:
    _, out = run(host, JOURNAL_RETENTION)
    evidence(out or "MaxRetentionSec not set (kept until the size cap)")
    value = out.partition("=")[2].strip()
    units = {"year": 31536000, "month": 2629800, "week": 604800, "day": 86400, "d": 86400, "h": 3600, "s": 1}
    match = re.fullmatch(r"(\d+)\s*([a-z]*)", value)
    seconds = int(match.group(1)) * units.get(match.group(2) or "s", 1) if match else None
    assert not value or (seconds is not None and (seconds == 0 or seconds >= SIX_MONTHS_S)), (
        f"journal retention {value} is shorter than the 6 months CNIL recommends"
    )


@pytest.mark.control("ANSSI-BP028-R73")
def test_audit_rules_loaded(node, host, evidence) -> None:
    rc, out = run(host, AUDITCTL)
    evidence(f"auditctl -l (rc {rc}):\n{out[:1500]}")
    assert rc == 0 and "No rules" not in out, f"no audit rules loaded: {out[:200]}"
    missing = [w for w in AUDIT_WATCHES if w not in out]
    assert not missing, f"audit rules do not watch {', '.join(missing)}"


@pytest.mark.control("ANSSI-HYG-36")
def test_time_synchronised_from_plan(node, host, plan, evidence) -> None:
    ntp = _ip_of_kind(plan, "ntp")
    if "ntp" in node.kinds:
        socks = listeners(host)
        serving = [f"{p} {a}:{port} ({proc})" for p, a, port, proc in socks if p == "udp" and port == 123]
        evidence(f"NTP server for the plan: {serving or 'not listening'}")
        assert serving, "the plan's NTP host does not serve time on udp/123"
        return
    _, conf = run(host, TIME_SOURCES)
    _, active = run(host, TIME_ACTIVE)
    evidence(f"time sources: {conf or 'none'}; services (chrony, timesyncd, ntpsec): {' '.join(active.split())}")
    assert ntp in conf, f"the clock is not synchronised from the plan's NTP server {ntp}"
    assert "active" in active.split(), "no time synchronisation service is running"


@pytest.mark.runs_on("collector")
@pytest.mark.control("ANSSI-PA022-R46")
def test_collector_receives_over_tls(node, host, evidence) -> None:
    socks = listeners(host)
    receiving = [f"{a}:{port} ({proc})" for p, a, port, proc in socks if p == "tcp" and port == P_SYSLOG_TLS]
    plain = [f"{p} {a}:{port}" for p, a, port, _ in socks if port == 514 and p in ("tcp", "udp")]
    evidence(f"{P_SYSLOG_TLS}/tcp: {receiving or 'not listening'}; clear-text syslog 514: {plain or 'none'}")
    assert receiving, f"the collector does not receive logs on {P_SYSLOG_TLS}/tcp"
    assert not plain, f"the collector also accepts clear-text syslog: {plain}"


@pytest.mark.control("ANSSI-PA022-R47", "CNIL-F16")
def test_logs_forwarded_over_tls(node, host, plan, evidence) -> None:
    collector = _ip_of_kind(plan, "collector")
    if "collector" in node.kinds:
        socks = listeners(host)
        receiving = [f"{a}:{port} ({proc})" for p, a, port, proc in socks if p == "tcp" and port == P_SYSLOG_TLS]
        evidence(f"collector listening on {P_SYSLOG_TLS}/tcp: {receiving or 'no'}")
        assert receiving, f"the collector does not receive logs on {P_SYSLOG_TLS}/tcp"
        return
    _, conf = run(host, FORWARDING)
    _, tls = run(host, FORWARD_TLS)
    _, active = run(host, FORWARDER_ACTIVE)
    evidence(f"forwarding to {collector}: {conf or 'none'}\nTLS settings: {tls or 'none'}\nservices: {active.split()}")
    assert collector in conf and str(P_SYSLOG_TLS) in conf, f"logs are not forwarded to {collector}:{P_SYSLOG_TLS}"
    assert tls, "log forwarding is not encrypted (no TLS stream driver)"
    assert "active" in active.split(), "no log forwarder is running"
