"""The pyroute2 adapter against a real ``cpush-`` namespace, and its dry-run."""

from __future__ import annotations

import json

import pytest
from cpush_lab import Netns

from segmenting.push.links import LinkError, Links

pytestmark = pytest.mark.lab


@pytest.fixture
def ns():
    n = Netns.create("links")
    yield n
    n.delete()


def ip_json(ns: Netns, *args: str):
    return json.loads(ns.exec("ip", "-j", *args).stdout)


def build(links: Links) -> None:
    links.ensure_bridge("cpush-br0")
    links.ensure_veth("cpush-v0", "cpush-v1")
    links.ensure_master("cpush-v0", "cpush-br0")
    for name in ("cpush-br0", "cpush-v0", "cpush-v1"):
        links.ensure_up(name)
    links.ensure_address("cpush-br0", "10.77.0.1/24")


def test_dry_run_reads_but_changes_nothing(ns):
    with Links(ns.name, dry_run=True) as links:
        build(links)
    assert "would create bridge cpush-br0" in links.actions
    assert "would add 10.77.0.1/24 to cpush-br0" in links.actions
    assert [i["ifname"] for i in ip_json(ns, "link")] == ["lo"]


def test_build_is_real_and_idempotent(ns):
    with Links(ns.name) as links:
        build(links)
    by_name = {i["ifname"]: i for i in ip_json(ns, "link")}
    assert by_name["cpush-v0"]["master"] == "cpush-br0"
    addrs = ip_json(ns, "addr", "show", "dev", "cpush-br0")[0]["addr_info"]
    assert {"10.77.0.1/24"} <= {f"{a['local']}/{a['prefixlen']}" for a in addrs}
    with Links(ns.name) as again:
        build(again)
    assert again.actions == []


def test_missing_link_is_a_named_error(ns):
    with Links(ns.name) as links, pytest.raises(LinkError, match="no link named cpush-nope"):
        links.ensure_up("cpush-nope")
