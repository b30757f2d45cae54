"""``cloison push firewall`` on real nftables in a ``cpush-`` network namespace.

The management probe is real: the SSH banner of an sshd inside the namespace, reached from the
controller through a forwarder. A ruleset that cuts SSH must be undone by itself, leaving
``nft list ruleset`` byte for byte what it was.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cpush_lab import Netns, Procs, SshHost, run

from segmenting.push.errors import CommandRejected, PushFailed
from segmenting.push.firewall import BannerProbe, FirewallPush
from segmenting.push.nft import LocalNft, SshNft
from segmenting.push.targets import DeviceTarget

pytestmark = pytest.mark.lab

BASE = """\
table inet cpush_filter {
	set admins {
		type ipv4_addr
		elements = { 127.0.0.1, 10.0.4.10 }
	}

	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" ip saddr @admins tcp dport 22 accept comment "ssh from admins"
		counter drop
	}
}
"""

# Keeps running sessions, refuses new SSH connections: the typical lock-out mistake.
LOCKOUT = """\
table inet cpush_filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		tcp dport 22 drop
	}
}
"""

GOOD = """\
table inet cpush_filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" tcp dport 22 accept comment "ssh"
		counter drop
	}
}
"""


@pytest.fixture
def fw_host(tmp_path: Path) -> Iterator[tuple[Netns, SshHost]]:
    procs = Procs()
    ns = Netns.create("fw")
    try:
        ssh = SshHost(ns, tmp_path / "ssh", procs).start()
        run("ip", "netns", "exec", ns.name, "nft", "-f", "-", input=BASE)
        yield ns, ssh
    finally:
        procs.stop()
        ns.delete()


def ruleset(ns: Netns) -> str:
    return ns.exec("nft", "list", "ruleset").stdout


def test_probe_failure_restores_the_ruleset_byte_for_byte(fw_host, tmp_path):
    ns, ssh = fw_host
    before = ruleset(ns)
    probe = BannerProbe("127.0.0.1", ssh.port, timeout=1)
    assert probe()
    push = FirewallPush(LocalNft(ns.name), LOCKOUT, probe=probe, run_directory=tmp_path, out=io.StringIO())
    with pytest.raises(PushFailed, match=r"management probe failed.*restored"):
        push.run()
    assert ruleset(ns) == before
    assert probe()


def test_good_ruleset_is_committed(fw_host, tmp_path):
    ns, ssh = fw_host
    result = FirewallPush(
        LocalNft(ns.name), GOOD, probe=BannerProbe("127.0.0.1", ssh.port), run_directory=tmp_path
    ).run()
    assert result.status == "committed"
    assert 'comment "ssh"' in ruleset(ns) and "@admins" not in ruleset(ns)
    time.sleep(0.2)
    assert 'comment "ssh"' in ruleset(ns), "the disarmed restore timer must not fire"


def test_unconfirmed_ruleset_is_restored(fw_host, tmp_path):
    ns, ssh = fw_host
    before = ruleset(ns)
    result = FirewallPush(
        LocalNft(ns.name),
        GOOD,
        probe=BannerProbe("127.0.0.1", ssh.port),
        confirm_within=1,
        run_directory=tmp_path,
        out=io.StringIO(),
    ).run()
    assert result.status == "restored"
    assert ruleset(ns) == before


def test_host_side_timer_restores_without_the_controller(fw_host):
    ns, _ssh = fw_host
    before = ruleset(ns)
    host = LocalNft(ns.name)
    host.arm_restore(before, 1.0)
    host.load(LOCKOUT)
    assert ruleset(ns) != before
    deadline = time.monotonic() + 10
    while ruleset(ns) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    host.close()
    assert ruleset(ns) == before


def test_dry_run_and_invalid_ruleset_change_nothing(fw_host, tmp_path):
    ns, _ssh = fw_host
    before = ruleset(ns)
    result = FirewallPush(LocalNft(ns.name), GOOD, dry_run=True, run_directory=tmp_path).run()
    assert result.status == "dry-run" and '+\t\tiif "lo" tcp dport 22 accept comment "ssh"' in result.diff
    with pytest.raises(CommandRejected, match="nft refused"):
        FirewallPush(LocalNft(ns.name), "table inet x { chain c { bogus } }", run_directory=tmp_path).run()
    assert ruleset(ns) == before
    assert not list(tmp_path.glob("push-*.json"))


def test_over_ssh_probe_failure_restores(fw_host, tmp_path):
    ns, ssh = fw_host
    before = ruleset(ns)
    target = DeviceTarget(
        name="fw-ssh", host="127.0.0.1", port=ssh.port, device_type="linux", username="root", key_file=ssh.client_key
    )
    push = FirewallPush(
        SshNft(target), LOCKOUT, probe=BannerProbe("127.0.0.1", ssh.port, timeout=1), run_directory=tmp_path
    )
    with pytest.raises(PushFailed, match="fw-ssh: management probe failed"):
        push.run()
    assert ruleset(ns) == before
    assert not ns.exec("sh", "-c", "ls /run/cloison-nft-* 2>/dev/null", check=False).stdout
