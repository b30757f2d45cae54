# ruff: noqa: E501 - the OVS candidate mirrors the renderer: one long command per line
"""The OVS path end to end: netmiko ``linux`` over real SSH to an Open vSwitch host.

The host is a ``cpush-`` network namespace with its own sshd (generated host and client keys)
and its own ovsdb-server + ovs-vswitchd (userspace datapath, private db/socket paths).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cpush_lab import OvsHost, SshHost, ovs_ssh_host

from segmenting.push.engine import PushEngine
from segmenting.push.ovs import OvsSession, OvsState, restore_commands
from segmenting.push.targets import DeviceTarget, PushItem

pytestmark = pytest.mark.lab

# Shaped like segmenting/render/ovs.py's output: a script, one command per line.
CANDIDATE = """\
#!/bin/sh
# Open vSwitch setup of sw-lab (test)
set -eu
BR=cpbr0
ovs-vsctl --may-exist add-br "$BR" -- set bridge "$BR" datapath_type=netdev
ovs-vsctl set bridge "$BR" fail_mode=secure stp_enable=false
ovs-vsctl --may-exist add-port "$BR" cpush-p1 -- set port cpush-p1 vlan_mode=access tag=110 protected=true other_config:cloison-camera=cam-1
ovs-vsctl --may-exist add-port "$BR" cpush-p2 -- set port cpush-p2 vlan_mode=trunk trunks=10,110,999
ovs-vsctl --may-exist add-port "$BR" cpush-p3 -- set port cpush-p3 vlan_mode=access tag=4000
ovs-vsctl clear bridge "$BR" mirrors
ovs-vsctl -- --id=@s1 get port cpush-p1 -- --id=@out get port cpush-p3 -- --id=@m create mirror name=ids select-src-port=@s1 select-dst-port=@s1 output-port=@out -- set bridge "$BR" mirrors=@m
ovs-ofctl add-flow "$BR" 'cookie=0xc105,priority=0,actions=NORMAL'
"""


@pytest.fixture
def ovs_host(tmp_path: Path) -> Iterator[tuple[SshHost, OvsHost]]:
    with ovs_ssh_host(tmp_path) as hosts:
        yield hosts


def item(ssh: SshHost, ovs: OvsHost, candidate: str = CANDIDATE) -> PushItem:
    target = DeviceTarget(
        name="sw-lab",
        host="127.0.0.1",
        port=ssh.port,
        device_type="linux",
        username="root",
        key_file=ssh.client_key,
        options={"ovs_rundir": str(ovs.rundir)},
    )
    return PushItem(target, candidate)


def dump(ssh: SshHost, ovs: OvsHost) -> str:
    session = OvsSession(item(ssh, ovs).target)
    session.connect()
    try:
        return session.running_config()
    finally:
        session.close()


def run(items: list[PushItem], tmp_path: Path, **kw: object):
    return PushEngine(items, run_directory=tmp_path, out=io.StringIO(), progress=False, **kw).run()  # type: ignore[arg-type]


def test_clean_push_to_ovs_over_ssh(ovs_host, tmp_path):
    ssh, ovs = ovs_host
    report = run([item(ssh, ovs)], tmp_path)
    assert report.committed, report.results[0].detail
    state = dump(ssh, ovs)
    assert "port cpbr0 cpush-p1 tag=110 vlan_mode=access protected=true" in state
    assert "port cpbr0 cpush-p2 trunks=10,110,999 vlan_mode=trunk" in state
    assert "mirror cpbr0 ids select_src_port=cpush-p1 select_dst_port=cpush-p1 output_port=cpush-p3" in state
    # The same state seen by ovs-vsctl itself, not through the adapter:
    assert ovs.vsctl("get", "port", "cpush-p1", "tag").strip() == "110"
    assert "+port cpbr0 cpush-p1" in report.results[0].diff


def test_failing_command_midway_rolls_back_ovs(ovs_host, tmp_path):
    ssh, ovs = ovs_host
    ovs.vsctl("add-port", "cpbr0", "cpush-p2", "tag=20")  # something to restore
    before = dump(ssh, ovs)
    bad = CANDIDATE.replace("ovs-vsctl clear bridge", "ovs-vsctl set port cpush-p9 tag=1\novs-vsctl clear bridge")
    report = run([item(ssh, ovs, bad)], tmp_path)
    result = report.results[0]
    assert result.status == "failed, rolled back", result.detail
    assert "sw-lab" in result.detail and "cpush-p9" in result.detail
    assert dump(ssh, ovs) == before
    assert ovs.vsctl("get", "port", "cpush-p2", "tag").strip() == "20"


def test_unconfirmed_ovs_push_rolls_back(ovs_host, tmp_path):
    ssh, ovs = ovs_host
    before = dump(ssh, ovs)
    started = time.monotonic()
    report = run([item(ssh, ovs)], tmp_path, confirm_within=1)
    assert time.monotonic() - started >= 1
    assert report.results[0].status == "rolled back (not confirmed)"
    assert dump(ssh, ovs) == before


def test_ovs_dry_run_changes_nothing(ovs_host, tmp_path):
    ssh, ovs = ovs_host
    before = dump(ssh, ovs)
    report = PushEngine([item(ssh, ovs)], run_directory=tmp_path, dry_run=True, out=io.StringIO(), progress=False).run()
    assert report.results[0].status == "dry-run"
    assert any("would send: ovs-vsctl" in a for a in report.results[0].actions)
    assert dump(ssh, ovs) == before


def test_restore_commands_round_trip():
    cur = OvsState.parse_dump(
        "bridge br0 datapath_type=netdev\nport br0 a tag=10 protected=true\nport br0 b trunks=1,2\n"
    )
    bak = OvsState.parse_dump("bridge br0 datapath_type=netdev\nport br0 a tag=20\nport br0 c vlan_mode=trunk\n")
    cmds = restore_commands(cur, bak)
    assert "ovs-vsctl --timeout=20 --if-exists del-port br0 b" in cmds
    assert "ovs-vsctl --timeout=20 set port a tag=20" in cmds
    assert "ovs-vsctl --timeout=20 set port a protected=false" in cmds
    assert "ovs-vsctl --timeout=20 --may-exist add-port br0 c" in cmds
