"""CycloneDX 1.5 SBOM of an appliance image: every Debian package and Python distribution.

Read from the image's own files (``var/lib/dpkg/status`` and ``*.dist-info/METADATA``), never
from the build host, so the SBOM describes what ships. Package URLs follow the purl spec
(``pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12``, ``pkg:pypi/NAME@VERSION``).
Output is deterministic: components sorted, serial number derived from the content.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

SPEC_VERSION = "1.5"


@dataclass(frozen=True, order=True)
class Component:
    kind: str  # "deb" or "pypi"
    name: str
    version: str
    arch: str = ""
    licence: str = ""

    @property
    def purl(self) -> str:
        if self.kind == "deb":
            qualifiers = f"?arch={self.arch}&distro=debian-12" if self.arch else "?distro=debian-12"
            return f"pkg:deb/debian/{quote(self.name)}@{quote(self.version, safe='')}{qualifiers}"
        return f"pkg:pypi/{quote(self.name.lower().replace('_', '-'))}@{quote(self.version, safe='')}"


def _stanzas(text: str) -> Iterator[dict[str, str]]:
    """RFC 822-style stanzas of a dpkg status file (continuation lines folded away)."""
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t"):
                continue  # continuation of the previous field (Description, Conffiles…)
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if fields:
            yield fields


def debian_packages(status_text: str) -> list[Component]:
    """Installed packages from a dpkg status file (``Status: install ok installed`` only)."""
    out = []
    for st in _stanzas(status_text):
        if st.get("Status", "").split()[-1:] != ["installed"] or "Package" not in st:
            continue
        out.append(Component("deb", st["Package"], st.get("Version", ""), st.get("Architecture", "")))
    return sorted(out)


_META_RE = re.compile(r"^(Name|Version|License): (.*)$", re.MULTILINE)


def python_distributions(roots: Iterable[Path]) -> list[Component]:
    """Python distributions found as ``*.dist-info`` under the given site-packages folders."""
    found: set[Component] = set()
    for root in roots:
        if not root.is_dir():
            continue
        for meta in root.glob("*.dist-info/METADATA"):
            fields = dict(_META_RE.findall(meta.read_text(encoding="utf-8", errors="replace")))
            if "Name" in fields and "Version" in fields:
                found.add(Component("pypi", fields["Name"], fields["Version"], licence=fields.get("License", "")[:80]))
    return sorted(found)


def site_packages(rootfs: Path) -> list[Path]:
    """Where Python distributions live in a Debian 12 image (system and /opt venvs)."""
    roots = [rootfs / "usr/lib/python3/dist-packages"]
    roots += sorted(rootfs.glob("usr/local/lib/python3*/dist-packages"))
    roots += sorted(rootfs.glob("opt/*/lib/python3*/site-packages"))
    return roots


def sbom(image_name: str, version: str, components: Iterable[Component], timestamp: str) -> dict[str, Any]:
    comps = sorted(set(components))
    body = [
        {
            "type": "library" if c.kind == "pypi" else "application",
            "bom-ref": c.purl,
            "name": c.name,
            "version": c.version,
            "purl": c.purl,
            **({"licenses": [{"license": {"name": c.licence}}]} if c.licence else {}),
        }
        for c in comps
    ]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        # A content-derived serial keeps two builds of the same image byte-identical.
        "serialNumber": f"urn:uuid:{uuid.UUID(bytes=digest[:16], version=5)}",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "name": "cloison", "version": version}]},
            "component": {"type": "operating-system", "name": image_name, "version": version},
        },
        "components": body,
    }


def sbom_for_rootfs(rootfs: Path, image_name: str, version: str, timestamp: str) -> dict[str, Any]:
    status = rootfs / "var/lib/dpkg/status"
    debs = debian_packages(status.read_text(encoding="utf-8", errors="replace")) if status.exists() else []
    return sbom(image_name, version, [*debs, *python_distributions(site_packages(rootfs))], timestamp)
