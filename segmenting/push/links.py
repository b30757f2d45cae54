"""Interfaces, bridges and addresses on Linux appliances, through pyroute2 (netlink).

A typed, idempotent adapter for the lab and the roles: ``ensure_*`` changes only what
differs and returns what it did; with ``dry_run=True`` it reads the current state and
returns what it *would* do without sending a single change over netlink.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from segmenting.push.errors import DeviceError


class LinkError(DeviceError):
    pass


@dataclass
class Links:
    """One network namespace's links (``netns=None``: this process's namespace)."""

    netns: str | None = None
    dry_run: bool = False
    actions: list[str] = field(default_factory=list)
    _ipr: Any = None

    def __enter__(self) -> Links:
        try:
            self._ipr = IPRoute(netns=self.netns) if self.netns else IPRoute()
        except (OSError, NetlinkError) as exc:
            raise LinkError(self.where, f"cannot open netlink: {exc}", "check the namespace") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    @property
    def where(self) -> str:
        return f"netns {self.netns}" if self.netns else "this host"

    def _do(self, what: str, *args: Any, **kw: Any) -> None:
        self.actions.append(("would " if self.dry_run else "") + what)
        if self.dry_run:
            return
        method, *rest = args
        try:
            getattr(self._ipr, method)(*rest, **kw)
        except NetlinkError as exc:
            raise LinkError(self.where, f"{what}: {exc.args[-1] if exc.args else exc}", "check the names") from None

    def index(self, name: str) -> int | None:
        found: list[int] = list(self._ipr.link_lookup(ifname=name))
        return found[0] if found else None

    def _need(self, name: str) -> int:
        idx = self.index(name)
        if idx is None:
            if self.dry_run:
                return -1  # created by an earlier would-be action
            raise LinkError(self.where, f"no link named {name}", "create it first")
        return idx

    def ensure_bridge(self, name: str) -> None:
        if self.index(name) is None:
            self._do(f"create bridge {name}", "link", "add", ifname=name, kind="bridge")

    def ensure_veth(self, name: str, peer: str) -> None:
        if self.index(name) is None:
            self._do(f"create veth {name} <-> {peer}", "link", "add", ifname=name, kind="veth", peer=peer)

    def ensure_master(self, name: str, bridge: str) -> None:
        idx, br = self._need(name), self._need(bridge)
        if idx >= 0 and br >= 0 and self._ipr.get_links(idx)[0].get("master") == br:
            return
        self._do(f"attach {name} to {bridge}", "link", "set", index=idx, master=br)

    def ensure_up(self, name: str) -> None:
        idx = self._need(name)
        if idx >= 0 and self._ipr.get_links(idx)[0].get("state") == "up":
            return
        self._do(f"set {name} up", "link", "set", index=idx, state="up")

    def addresses(self, name: str) -> set[str]:
        idx = self._need(name)
        if idx < 0:
            return set()
        return {f"{a.get('address')}/{a['prefixlen']}" for a in self._ipr.get_addr(index=idx)}

    def ensure_address(self, name: str, cidr: str) -> None:
        iface = ipaddress.ip_interface(cidr)
        if str(iface) in self.addresses(name):
            return
        self._do(
            f"add {iface} to {name}",
            "addr",
            "add",
            index=self._need(name),
            address=str(iface.ip),
            prefixlen=iface.network.prefixlen,
        )

    def remove(self, name: str) -> None:
        idx = self.index(name)
        if idx is not None:
            self._do(f"delete {name}", "link", "del", index=idx)
