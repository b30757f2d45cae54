"""Installed software (ANSSI BP-028 R58, R59): nothing an appliance does not need, signed sources only."""

from __future__ import annotations

import pytest
from conformance_helpers import prefetch, run

pytestmark = pytest.mark.lab

FORBIDDEN = (
    "telnet", "inetutils-telnet", "telnetd", "rsh-client", "rsh-server", "ftp", "tnftp", "vsftpd", "tftp", "tftpd-hpa",
    "talk", "nis", "xinetd", "avahi-daemon", "cups", "rpcbind", "nfs-kernel-server", "gcc",
)  # fmt: skip

DPKG_FORBIDDEN = "dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n' " + " ".join(FORBIDDEN) + " 2>/dev/null"
DPKG_COUNT = "dpkg-query -W -f '.' | wc -c"
APT_SOURCES = "grep -rhsv '^#' /etc/apt/sources.list /etc/apt/sources.list.d/ | grep -v '^$'"
APT_INSECURE = "apt-config dump | grep -iE 'AllowInsecure|AllowUnauthenticated|AllowDowngradeToInsecure'"
prefetch(DPKG_FORBIDDEN, DPKG_COUNT, APT_SOURCES, APT_INSECURE)


@pytest.mark.control("ANSSI-BP028-R58")
def test_no_unneeded_packages(node, host, evidence) -> None:
    _, out = run(host, DPKG_FORBIDDEN)
    installed = sorted(line.split()[0] for line in out.splitlines() if line.split()[1:2] == ["ii"])
    _, count = run(host, DPKG_COUNT)
    evidence(f"{count} packages installed; of the forbidden list: {installed or 'none'}")
    assert not installed, f"packages an appliance does not need: {', '.join(installed)}"


@pytest.mark.control("ANSSI-BP028-R59")
def test_package_sources_verified(node, host, evidence) -> None:
    _, sources = run(host, APT_SOURCES)
    _, insecure = run(host, APT_INSECURE)
    evidence(f"apt sources:\n{sources or '<none>'}\napt insecure options: {insecure or 'none'}")
    assert "trusted=yes" not in sources.replace(" ", ""), "an apt source skips signature checks (trusted=yes)"
    assert '"true"' not in insecure.lower(), f"apt accepts unsigned repositories: {insecure}"
