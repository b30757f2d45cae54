"""The one table of renderers (Aerleon's ``plugin_supervisor`` shape, STYLE.md).

Each row names a renderer, what runs its output, which devices of a plan it applies to, the
function that renders one device, and where its files land (``OUT/<device>/<path>``). Adding a
platform is one module and one row here.
"""

from __future__ import annotations

from collections.abc import Iterator

from segmenting.plan import Plan
from segmenting.render import (
    aruba_aoscx,
    cisco_ios,
    freeradius,
    hostapd,
    hp_procurve,
    ids_allowlist,
    nftables,
    ovs,
    swanctl,
)
from segmenting.render.base import RenderedFile, Renderer, RenderError
from segmenting.render.secrets import SecretsProvider

RENDERERS: tuple[Renderer, ...] = (
    Renderer("nft-gateway", "nftables", nftables.gateway_devices, nftables.render_gateway, "gw-<site>/nftables.conf"),
    Renderer(
        "nft-gateway-libipsec",
        "nftables (lab, userspace ESP)",
        nftables.libipsec_devices,
        nftables.render_gateway_libipsec,
        "gw-<site>/nftables-libipsec.conf",
    ),
    Renderer("nft-csu", "nftables", nftables.csu_devices, nftables.render_csu, "<firewall>/nftables.conf"),
    Renderer("nft-dmz", "nftables", nftables.dmz_devices, nftables.render_dmz, "<relay>/nftables.conf"),
    Renderer("cisco-ios", "Cisco IOS-XE", cisco_ios.devices, cisco_ios.render, "sw-<site>/config.ios", True),
    Renderer("aruba-aoscx", "AOS-CX 10", aruba_aoscx.devices, aruba_aoscx.render, "sw-<site>/config.aoscx", True),
    Renderer(
        "hp-procurve", "ArubaOS-Switch 16", hp_procurve.devices, hp_procurve.render, "sw-<site>/config.procurve", True
    ),
    Renderer("ovs", "Open vSwitch (lab)", ovs.devices, ovs.render, "sw-<site>/ovs-setup.sh", True),
    Renderer("hostapd", "hostapd 2.10 wired", hostapd.devices, hostapd.render, "sw-<site>/hostapd/*", True),
    Renderer("freeradius", "FreeRADIUS 3.2", freeradius.devices, freeradius.render, "<radius>/freeradius/*", True),
    Renderer(
        "swanctl-site", "strongSwan 5.9", swanctl.site_devices, swanctl.render_site, "gw-<site>/swanctl/swanctl.conf"
    ),
    Renderer("swanctl-csu", "strongSwan 5.9", swanctl.csu_devices, swanctl.render_csu, "<vpn>/swanctl/*", True),
    Renderer(
        "swanctl-site-libipsec",
        "strongSwan 5.9 (lab, userspace ESP)",
        swanctl.site_devices,
        swanctl.render_site_libipsec,
        "gw-<site>/libipsec/swanctl/swanctl.conf",
    ),
    Renderer(
        "swanctl-csu-libipsec",
        "strongSwan 5.9 (lab, userspace ESP)",
        swanctl.csu_devices,
        swanctl.render_csu_libipsec,
        "<vpn>/libipsec/swanctl/*",
        True,
    ),
    Renderer(
        "ids-allowlist",
        "cloison ids",
        ids_allowlist.devices,
        ids_allowlist.render,
        "<ids_collector>/ids-allowlist.json",
    ),
)

BY_NAME: dict[str, Renderer] = {r.name: r for r in RENDERERS}


def get(name: str) -> Renderer:
    try:
        return BY_NAME[name]
    except KeyError:
        raise RenderError(f"no renderer {name!r}; known: {', '.join(BY_NAME)}") from None


def render_all(
    plan: Plan,
    secrets: SecretsProvider,
    only: list[str] | None = None,
    device: str | None = None,
) -> Iterator[tuple[Renderer, RenderedFile]]:
    """Every (renderer, file) of the plan, in registry then device order (deterministic)."""
    selected = [get(n) for n in only] if only else list(RENDERERS)
    matched = False
    for renderer in selected:
        for dev in renderer.devices(plan):
            if device is not None and dev != device:
                continue
            matched = True
            for f in renderer.render(plan, dev, secrets):
                yield renderer, f
    if device is not None and not matched:
        raise RenderError(
            f"no selected renderer applies to device {device!r}\n"
            "    fix: check the id with `cloison plan DIR` (gw-<site>, sw-<site>, CSU host ids)"
        )
