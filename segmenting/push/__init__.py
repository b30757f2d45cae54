"""Push configuration to devices safely: back up, diff, apply, verify, confirm or roll back.

Side effects live behind small typed adapters, each with a dry-run (nornir's connection
plugins are the model): :mod:`.session` (the switch session Protocol), :mod:`.netmiko_cli`
(Cisco IOS, Aruba AOS-CX, ArubaOS-Switch), :mod:`.ovs` (an Open vSwitch host over SSH),
:mod:`.nft` (nftables rulesets), :mod:`.links` (pyroute2). :mod:`.engine` drives many switches
with commit-confirmed semantics (Junos ``commit confirmed``): a change that is not confirmed
in time, or that fails anywhere, is rolled back everywhere. See docs/push.md.
"""
