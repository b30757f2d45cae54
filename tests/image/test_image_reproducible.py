"""Issue 7: builds are reproducible as far as Debian 12 allows, and the rest is named.

The edge-gateway image is built a second time, from scratch except for the shared .deb cache,
with the same signing key, and compared with the session's first build member by member
(type, mode, owner, size, content hash, link target, time, extended attributes) and artefact
by artefact. Every differing file must have a known cause the image tolerates
(segmenting.image.reproducible.CAUSES), and there may be at most MAX_DIFFERING of them: the
figure measured once the build was fixed (bench/image.md), with a little room.
"""

from __future__ import annotations

import pytest
from image_builds import Built

from segmenting.image.reproducible import compare_builds

pytestmark = [pytest.mark.lab, pytest.mark.slow]

MAX_DIFFERING = 3  # measured: 0 (bench/image.md)


def test_two_builds_differ_only_by_known_tolerated_causes(built: Built, rebuilt: Built) -> None:
    report = compare_builds(built.folder, rebuilt.folder)
    text = "\n".join(report.lines())
    print(text)
    print(f"build times: {built.seconds:.0f} s and {rebuilt.seconds:.0f} s")
    assert not report.packages_changed, f"the host's apt lists changed between the builds (apt-get update):\n{text}"
    assert not report.untolerated, text
    assert len(report.differences) <= MAX_DIFFERING, text
    sbom_a, sbom_b = report.artefacts["sbom.cdx.json"]
    assert sbom_a == sbom_b
    # When the trees match, every artefact (tar, squashfs, SBOM, manifest, signature) does too.
    assert report.identical == (not report.differences), text
