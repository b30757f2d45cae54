"""segmenting.synth: the committed reference is exactly what it generates, and it scales validly."""

from __future__ import annotations

from collections import Counter

from invmut import AS_OF, REFERENCE

from segmenting import synth
from segmenting.allocate import Lock
from segmenting.loader import parse, read_folder
from segmenting.plan import build_plan
from segmenting.validate import check


def test_reference_folder_is_the_generated_reference() -> None:
    raw, _ = read_folder(REFERENCE)
    assert raw == synth.generate()


def test_larger_synthetic_deployment_is_valid() -> None:
    """60 communes, 3,000 cameras: big communes need more than five sites, on 48-port switches."""
    files = synth.generate(communes=60, cameras=3000)
    inventory = parse(files)
    assert check(inventory, AS_OF) == []
    plan = build_plan(inventory, Lock())
    assert len(plan.cameras) == 3000
    assert len({c.insee for c in inventory.communes}) == 60
    per_site = Counter(c.site for c in plan.cameras)
    for site in plan.sites:
        assert 2 <= per_site[site.id] <= site.switch.ports - 2, site.id
    assert max(Counter(s.commune for s in plan.sites).values()) > len(synth.SITE_NAMES)


def test_insee_codes_stay_five_characters_at_a_thousand_communes() -> None:
    codes = [synth._insee(i) for i in range(1000)]
    assert len(set(codes)) == 1000
    assert all(len(code) == 5 for code in codes)
    assert codes[0] == "99001"
