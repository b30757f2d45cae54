"""Units: Community ID v1 vectors, allowlist loading and errors, rate limiting, BPF, response."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from idsite import CAM_IPS, RECORDER, allowlist_doc, write_allowlist

from ids import allowlist
from ids.alerts import RateLimiter
from ids.bpf import media_exclusion
from ids.community_id import community_id_v1
from ids.engine import packed
from ids.response import NftSetQuarantine, QuarantineSink


def _ip(s: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in s else socket.AF_INET, s)


# Published example values of the Community ID spec (corelight/community-id-spec baseline,
# also used by Zeek's community_id_v1 tests).
@pytest.mark.parametrize(
    ("src", "dst", "proto", "sport", "dport", "seed", "expected"),
    [
        ("1.2.3.4", "5.6.7.8", 6, 1122, 3344, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
        ("5.6.7.8", "1.2.3.4", 6, 3344, 1122, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="),
        ("1.2.3.4", "5.6.7.8", 17, 1122, 3344, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="),
        ("1.2.3.4", "5.6.7.8", 1, 8, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
        ("5.6.7.8", "1.2.3.4", 1, 0, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="),
        (
            "fe80:1:203:405:607:809:a0b:c0d",
            "fe80:1011:1213:1415:1617:1819:1a1b:1c1d",
            58,
            128,
            0,
            0,
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=",
        ),
        ("1.2.3.4", "5.6.7.8", 6, 1122, 3344, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="),
        ("1.2.3.4", "5.6.7.8", 17, 1122, 3344, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="),
        ("1.2.3.4", "5.6.7.8", 1, 8, 0, 1, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="),
        ("1.2.3.4", "5.6.7.8", 46, 0, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="),
    ],
)
def test_community_id_published_vectors(
    src: str, dst: str, proto: int, sport: int, dport: int, seed: int, expected: str
) -> None:
    assert community_id_v1(_ip(src), _ip(dst), proto, sport, dport, seed) == expected


def test_allowlist_lookups(tmp_path: Path) -> None:
    al = allowlist.load(write_allowlist(tmp_path))
    cam = packed(CAM_IPS[0])
    zone = al.zone_of(cam)
    assert zone is not None and zone.id == "s-ing-01:cameras"
    inet = al.zone_of(packed("8.8.8.8"))
    assert inet is not None and inet.zone == "internet"
    rule = al.allowed(6, packed(RECORDER), cam, 554)
    assert rule is not None and rule.id == "F-rec-rtsp"
    assert al.allowed(6, packed(RECORDER), cam, 555) is None
    assert al.allowed(6, cam, packed(RECORDER), 554) is None
    assert al.host_by_ip[cam].kind == "camera"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "format: expected 'cloison-ids-allowlist'"),
        (lambda d: d.update(version=2), "version: version 2 is not supported"),
        (lambda d: d["zones"][0].update(subnets=["10.64.0.0/33"]), "zones[0].subnets"),
        (lambda d: d["flows"][0].update(proto="sctp"), "flows[0].proto: unknown protocol"),
        (lambda d: d["hosts"][0].update(mac="zz:zz"), "hosts[0].mac: malformed MAC"),
        (lambda d: d["zones"].append(dict(d["zones"][0])), "duplicate zone id"),
        (lambda d: d["flows"][0].pop("src"), "malformed entry"),
    ],
)
def test_invalid_allowlist_names_file_and_problem(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    doc = allowlist_doc()
    mutate(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(allowlist.AllowlistError) as exc:
        allowlist.load(path)
    assert str(path) in str(exc.value) and message in str(exc.value)
    assert "docs/ids-allowlist.md" in str(exc.value)


def test_missing_and_non_json_allowlist(tmp_path: Path) -> None:
    with pytest.raises(allowlist.AllowlistError, match=r"nope\.json: <top>: file not found"):
        allowlist.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  'zones': }")
    with pytest.raises(allowlist.AllowlistError, match=r"bad\.json: line 2: invalid JSON"):
        allowlist.load(bad)


def test_rate_limiter_repeats_and_bursts() -> None:
    rl = RateLimiter(window=60, burst=3)
    assert rl.allow(1, b"a", b"b", 0.0)
    assert not rl.allow(1, b"a", b"b", 10.0)  # same pair within the window
    assert rl.allow(1, b"a", b"b", 61.0)  # the window passed
    assert rl.allow(1, b"c", b"b", 61.5)
    assert rl.allow(1, b"d", b"b", 62.0)
    assert not rl.allow(1, b"e", b"b", 62.5)  # burst of 3 per signature per window
    assert rl.allow(2, b"e", b"b", 62.5)  # other signatures have their own budget
    assert rl.suppressed == 2


def test_bpf_expression_compiles_and_keeps_rtcp(tmp_path: Path) -> None:
    from scapy.arch.common import compile_filter  # noqa: PLC0415

    al = allowlist.load(write_allowlist(tmp_path))
    expr = media_exclusion(al)
    assert expr is not None and "portrange 50000-59999" in expr and "udp[3] & 1 = 0" in expr
    prog = compile_filter(expr, linktype=1)
    assert prog.bf_len > 5


def test_quarantine_is_dry_run_and_spares_planned_hosts() -> None:
    ran: list[list[str]] = []
    q = NftSetQuarantine(runner=lambda cmd: ran.append(list(cmd)) or 0)
    sink = QuarantineSink(q, protected={RECORDER})
    eve = {"src_ip": "10.64.0.66", "alert": {"severity": 1, "signature": "x"}}
    sink(eve)
    sink(eve)  # once per address
    sink({"src_ip": RECORDER, "alert": {"severity": 1, "signature": "x"}})
    sink({"src_ip": "10.64.0.67", "alert": {"severity": 2, "signature": "x"}})
    assert ran == []  # dry-run by default
    assert q.commands == [["nft", "add", "element", "inet", "cloison", "quarantine_v4", "{", "10.64.0.66", "}"]]
    real = NftSetQuarantine(dry_run=False, runner=lambda cmd: ran.append(list(cmd)) or 0)
    real.quarantine("2001:db8::6", "test")
    assert ran == [["nft", "add", "element", "inet", "cloison", "quarantine_v6", "{", "2001:db8::6", "}"]]
