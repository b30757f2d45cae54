"""Helpers shared by the renderer tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from segmenting.plan import Plan
from segmenting.render import freeradius
from segmenting.render.secrets import FakeSecrets

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "inventory" / "ingeagglo"
AS_OF = date(2026, 11, 28)
GOLDEN = Path(__file__).parent / "golden"
OVS_SITE = "s-castelroux-1"
UPDATE = os.environ.get("CLOISON_UPDATE_GOLDEN") == "1"


def make_lab_inventory(dest: Path) -> Path:
    shutil.copytree(REFERENCE, dest)
    sites_file = dest / "sites.yml"
    data = yaml.safe_load(sites_file.read_text(encoding="utf-8"))
    for site in data["sites"]:
        if site["id"] == OVS_SITE:
            site["switch"]["platform"] = "ovs"
            site["switch"]["model"] = "Open vSwitch (lab)"
    sites_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return dest


def check_golden(relpath: str, text: str) -> None:
    """Compare ``text`` byte for byte with ``golden/<relpath>``.

    On mismatch (or a missing reference) write ``<relpath>.actual`` beside it and fail; the
    reference is only rewritten when CLOISON_UPDATE_GOLDEN=1 is set explicitly.
    """
    ref = GOLDEN / relpath
    actual = ref.with_name(ref.name + ".actual")
    if UPDATE:
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(text, encoding="utf-8")
        actual.unlink(missing_ok=True)
        return
    expected = ref.read_text(encoding="utf-8") if ref.exists() else None
    if expected == text:
        actual.unlink(missing_ok=True)
        return
    ref.parent.mkdir(parents=True, exist_ok=True)
    actual.write_text(text, encoding="utf-8")
    what = "no reference" if expected is None else "differs from the reference"
    pytest.fail(
        f"{relpath}: {what}; wrote {actual.relative_to(ROOT)} — review it, then "
        f"`mv` it over the reference or run with CLOISON_UPDATE_GOLDEN=1",
        pytrace=False,
    )


def delete_netns(name: str) -> None:
    """Delete a crend- (or ctotp-) namespace we created, after the processes we started in it are gone.

    Only processes inside our own namespace are signalled (they are ours by construction); the
    delete is retried because a daemon still exiting keeps the namespace busy for a moment.
    """
    assert name.startswith(("crend-", "ctotp-"))
    for attempt in range(20):
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGTERM if attempt < 10 else signal.SIGKILL)
        if (
            not pids
            and subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False).returncode == 0
        ):
            return
        time.sleep(0.2)
    subprocess.run(["ip", "netns", "delete", name], check=False)


RADDB_SYSTEM = Path("/etc/freeradius/3.0")


def assemble_raddb(plan: Plan, dest: Path) -> Path:
    """Debian's FreeRADIUS tree with the rendered files overlaid and a throwaway test CA."""
    conf = dest / "raddb"
    shutil.copytree(RADDB_SYSTEM, conf, symlinks=True)
    for link in (conf / "sites-enabled").iterdir():
        link.unlink()
    (conf / "mods-enabled" / "eap").unlink()
    for f in freeradius.render(plan, "csu-radius", FakeSecrets()):
        rel = f.path.removeprefix("freeradius/")
        if rel == "mods-available/eap":
            rel = "mods-enabled/eap"
        if rel == "sites-available/cloison":
            rel = "sites-enabled/cloison"
        target = conf / rel
        target.unlink(missing_ok=True)
        target.write_text(f.text, encoding="utf-8")
    certs = conf / "certs" / "cloison"
    certs.mkdir(parents=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes"]
    ca, key, csr, pem = (str(certs / n) for n in ("ca", "radius.key", "radius.csr", "radius.pem"))
    for argv in (
        ["req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", "/CN=test CA"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=csu-radius"],
        ["x509", "-req", "-in", csr, "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial", "-out", pem],
    ):
        subprocess.run(["openssl", *argv], check=True, capture_output=True)
    # freeradius drops to the freerad user: the throwaway tree must be readable by it.
    for root, dirs, files in os.walk(dest):
        for d in dirs:
            Path(root, d).chmod(0o755)
        for name in files:
            Path(root, name).chmod(0o644)
    dest.chmod(0o755)
    return conf
