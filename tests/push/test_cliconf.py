"""The pure config-text helpers: normalise, predict, verify, send-only-what-is-missing, invert."""

from __future__ import annotations

from segmenting.push import cliconf

RUNNING = """\
Building configuration...
!
hostname sw-old
!
vlan 10
 name mgmt
!
interface Gi1/0/1
 switchport access vlan 10
 shutdown
!
ip http server
end
"""

CANDIDATE = """\
hostname sw-new
vlan 10
 name mgmt
vlan 110
 name cameras
interface Gi1/0/1
 switchport access vlan 110
 no shutdown
no ip http server
"""


def test_normalize_drops_noise_and_procurve_exits():
    assert cliconf.normalize('vlan 10\n   name "x"\n   exit\n!\nend\n') == ["vlan 10", ' name "x"']


def test_predict_then_verify_round_trip():
    predicted = cliconf.predict(cliconf.canonical(RUNNING), CANDIDATE)
    assert "hostname sw-new" in predicted and "hostname sw-old" not in predicted
    assert "ip http server" not in predicted and " shutdown" not in predicted
    assert cliconf.missing_lines(predicted, CANDIDATE) == []
    assert "vlan 110" in cliconf.missing_lines(RUNNING, CANDIDATE)


def test_delta_sends_only_what_is_missing():
    sent = cliconf.delta(cliconf.canonical(RUNNING), CANDIDATE)
    assert "vlan 10" not in sent and " name mgmt" not in sent
    assert sent[:1] == ["hostname sw-new"]
    assert sent[3:6] == ["interface Gi1/0/1", " switchport access vlan 110", " no shutdown"]
    assert sent[-1] == "no ip http server"


def test_inverse_returns_to_the_backup():
    backup = cliconf.canonical(RUNNING)
    after = cliconf.predict(backup, CANDIDATE)
    commands = cliconf.inverse(after, backup)
    assert "no vlan 110" in commands and "hostname sw-old" in commands and "ip http server" in commands
    # Applying the inverse with the same model gives the backup back.
    restored = cliconf.predict(after, "\n".join(c for c in commands if c != "exit"))
    assert set(cliconf.normalize(restored)) == set(cliconf.normalize(backup))
