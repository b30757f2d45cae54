"""Fixtures for the push tests: simulated CLI switches (fakenos) and a real OVS host over SSH."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cpush_fakeswitch import USERNAME, FakeSwitch

from segmenting.push.targets import DeviceTarget, PushItem

PASSWORD_ENV = "CPUSH_TEST_SWITCH_PASSWORD"

CANDIDATES = {
    "cisco_ios": """\
vlan 10
 name cameras
vlan 20
 name quarantine
interface GigabitEthernet1/0/1
 switchport mode access
 switchport access vlan 10
 spanning-tree bpduguard enable
ip ssh version 2
no ip http server
""",
    "aruba_aoscx": """\
vlan 10
    name cameras
vlan 20
    name quarantine
interface 1/1/1
    vlan access 10
    spanning-tree bpdu-guard
ssh server vrf default
""",
    "hp_procurve": """\
vlan 10
   name "cameras"
   untagged 1-4
   exit
vlan 20
   name "quarantine"
   exit
spanning-tree 1-4 bpdu-protection
no telnet-server
""",
}

# A line each candidate contains after the VLANs: rejecting it fails the push mid-way.
MIDWAY = {
    "cisco_ios": "spanning-tree bpduguard",
    "aruba_aoscx": "spanning-tree bpdu-guard",
    "hp_procurve": "bpdu-protection",
}


@pytest.fixture
def switch_password(monkeypatch: pytest.MonkeyPatch) -> str:
    password = "cpush-" + "x" * 8
    monkeypatch.setenv(PASSWORD_ENV, password)
    return password


@pytest.fixture
def fake_switch(switch_password: str) -> Iterator[Callable[..., FakeSwitch]]:
    started: list[FakeSwitch] = []

    def make(name: str, device_type: str, reject: str | None = None) -> FakeSwitch:
        sw = FakeSwitch(name, device_type, switch_password, reject=reject).start()
        started.append(sw)
        return sw

    yield make
    for sw in started:
        sw.stop()


def target_for(sw: FakeSwitch, **kw: object) -> DeviceTarget:
    fields: dict[str, object] = {
        "name": sw.name,
        "host": "127.0.0.1",
        "port": sw.port,
        "device_type": sw.device_type,
        "username": USERNAME,
        "password_env": PASSWORD_ENV,
    }
    return DeviceTarget(**{**fields, **kw})  # type: ignore[arg-type]


def item_for(sw: FakeSwitch, candidate: str | None = None) -> PushItem:
    return PushItem(target_for(sw), CANDIDATES[sw.device_type] if candidate is None else candidate)
