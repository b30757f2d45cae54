"""Fixtures of the renderer tests: the reference plan, a lab variant with an OVS site, goldens.

The reference deployment (inventory/ingeagglo) has no Open vSwitch site, so ``lab_plan`` is the
same inventory with one cellular site (s-castelroux-1) switched to the lab's OVS: its two
cameras are one EAP-TLS and one MAB camera, which exercises hostapd and the MAB workaround.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
from crender_helpers import AS_OF, REFERENCE, delete_netns, make_lab_inventory

from segmenting.api import load_plan
from segmenting.plan import Plan
from segmenting.render.secrets import FakeSecrets


@pytest.fixture(scope="session")
def plan() -> Plan:
    return load_plan(REFERENCE, AS_OF)


@pytest.fixture(scope="session")
def lab_plan(tmp_path_factory: pytest.TempPathFactory) -> Plan:
    return load_plan(make_lab_inventory(tmp_path_factory.mktemp("lab") / "ingeagglo-lab"), AS_OF)


@pytest.fixture()
def fake() -> FakeSecrets:
    return FakeSecrets()


@pytest.fixture(scope="session")
def netns() -> Iterator[str]:
    """A throwaway network namespace (prefix crend-) so nft never touches the host's ruleset."""
    name = f"crend-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        delete_netns(name)
