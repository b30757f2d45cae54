"""Detection (ANSSI PG-075 R44, NIS2 21(2)(b)): the IDS sensor runs on each site gateway with the allowlist."""

from __future__ import annotations

import re

import pytest
from conformance_helpers import prefetch, run

pytestmark = pytest.mark.lab

IDS_ACTIVE = "systemctl is-active cloison-ids.service"
IDS_UNIT = "systemctl cat cloison-ids.service 2>/dev/null"
prefetch(IDS_ACTIVE, IDS_UNIT)


@pytest.mark.runs_on("gateway")
@pytest.mark.control("ANSSI-PG075-R44")
def test_ids_sensor_running(node, host, plan, evidence) -> None:
    site = plan.site(node.site) if node.site else None
    if site is not None and not site.ids_sensor:
        evidence(f"{node.name}: the plan puts no IDS sensor on site {site.id}")
        return
    _, active = run(host, IDS_ACTIVE)
    _, unit = run(host, IDS_UNIT)
    allowlist = re.findall(r"(\S+allowlist\S*\.json)", unit)
    evidence(f"cloison-ids.service: {active}; allowlist: {allowlist or 'not named in the unit'}")
    assert active == "active", f"the IDS sensor is {active}"
    assert allowlist, "the sensor does not load the plan's allowlist"
