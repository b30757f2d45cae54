"""What every access switch renderer needs, computed once from the plan: the switch's view.

The four platform modules (``cisco_ios``, ``aruba_aoscx``, ``hp_procurve``, ``ovs``) turn this
view into their own syntax; keeping the derivation here means the four agree on which port is a
camera, which is unused, where RADIUS/NTP/syslog are and who may open SSH (DESIGN.md: "nothing
is typed twice").
"""

from __future__ import annotations

from dataclasses import dataclass

from segmenting.plan import CameraPlan, Plan, SitePlan, SwitchPlan
from segmenting.render._util import first_ip, flows_of_site, site_of_device
from segmenting.render.base import RenderError
from segmenting.render.secrets import SecretsProvider


@dataclass(frozen=True)
class CameraPort:
    port: int
    camera: CameraPlan

    @property
    def mab(self) -> bool:
        return self.camera.auth == "mab"


@dataclass(frozen=True)
class SwitchView:
    site: SitePlan
    switch: SwitchPlan
    cameras: tuple[CameraPort, ...]
    vlans: dict[str, int]
    radius: str
    radius_secret: str
    ntp: str
    syslog: str
    admin_sources: tuple[str, ...]  # CIDRs SSH may come from (bastion, maintenance VPN)
    gateway: str  # the site gateway's management address: the switch's default route
    mgmt_prefix: int

    @property
    def id(self) -> str:
        return self.switch.id

    @property
    def camera_vlan(self) -> int:
        return self.vlans["cameras"]

    @property
    def quarantine_vlan(self) -> int:
        return self.vlans["quarantine"]

    @property
    def mgmt_vlan(self) -> int:
        return self.vlans["site_mgmt"]

    @property
    def unused_vlan(self) -> int:
        return self.vlans["unused"]

    @property
    def critical_vlan(self) -> int:
        # RADIUS unreachable: cameras stay in their own VLAN so they keep recording (issue 8).
        return self.vlans["cameras"]

    @property
    def trunk_vlans(self) -> list[int]:
        return sorted({self.mgmt_vlan, self.camera_vlan, self.quarantine_vlan})

    @property
    def camera_port_numbers(self) -> list[int]:
        return [c.port for c in self.cameras]


def radius_key(device: str) -> str:
    """The secrets-provider key of a RADIUS client (the switch, hostapd and FreeRADIUS agree)."""
    return f"radius/{device}"


def switch_devices(plan: Plan, platform: str) -> list[str]:
    return [s.switch.id for s in plan.sites if s.switch.platform == platform]


_CAMS: dict[int, tuple[Plan, dict[str, CameraPlan]]] = {}


def _cameras(plan: Plan) -> dict[str, CameraPlan]:
    hit = _CAMS.get(id(plan))
    if hit is not None and hit[0] is plan:
        return hit[1]
    _CAMS.clear()
    table = {c.id: c for c in plan.cameras}
    _CAMS[id(plan)] = (plan, table)
    return table


def view(plan: Plan, device: str, platform: str, secrets: SecretsProvider) -> SwitchView:
    site = site_of_device(plan, device, "sw-")
    if site.switch.platform != platform:
        raise RenderError(f"{device}: is a {site.switch.platform} switch, not {platform}")
    cams = _cameras(plan)
    ports = tuple(CameraPort(p, cams[c]) for p, c in site.switch.camera_ports)
    for cp in ports:
        if cp.camera.auth not in ("eap-tls", "mab"):
            raise RenderError(f"{cp.camera.id}: unknown authentication {cp.camera.auth!r}")
    admin = sorted(
        {
            c
            for f in flows_of_site(plan, site.id)
            if f.dst_site == site.id and f.service == "ssh" and f.dst_zone.value == "site_mgmt"
            for c in f.src_cidrs
        }
    )
    if not admin:
        raise RenderError(f"{device}: the plan gives no SSH source for {site.id}; the switch would be unmanageable")
    return SwitchView(
        site=site,
        switch=site.switch,
        cameras=ports,
        vlans=dict(site.vlans),
        radius=first_ip(plan, "radius"),
        radius_secret=secrets.get(radius_key(device)),
        ntp=first_ip(plan, "ntp"),
        syslog=first_ip(plan, "collector"),
        admin_sources=tuple(admin),
        gateway=site.gateway.mgmt_ip,
        mgmt_prefix=int(site.subnets["site_mgmt"].split("/")[1]),
    )
