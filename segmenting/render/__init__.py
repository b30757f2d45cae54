"""Renderers: the plan in, the exact text each device runs out (issue 8, DESIGN.md "Data flow").

One module per target (``nftables``, ``cisco_ios``, ``aruba_aoscx``, ``hp_procurve``, ``ovs``,
``freeradius``, ``hostapd``, ``swanctl``, ``ids_allowlist``), all listed in one table,
:data:`segmenting.render.registry.RENDERERS` (the shape of Aerleon's plugin supervisor). Every
renderer is pure: a :class:`~segmenting.plan.Plan`, a device id and, where a device needs shared
secrets, a :class:`~segmenting.render.secrets.SecretsProvider` in; file names and text out. A
feature a platform cannot express raises :class:`~segmenting.render.base.UnsupportedFeature`
instead of emitting a weaker configuration.
"""

from __future__ import annotations

from segmenting.render.base import RenderError, UnsupportedFeature

__all__ = ["RenderError", "UnsupportedFeature"]
