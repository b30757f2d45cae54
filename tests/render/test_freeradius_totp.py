"""The maintainers' second factor in a real FreeRADIUS: EAP-GTC carrying a TOTP code (RFC 6238),
from the VPN concentrator only.

The rendered tree runs in a throwaway namespace (ctotp-…) whose loopback carries the
concentrator's and a switch's addresses; radclient plays the concentrator's ``eap-radius``
round: EAP-Response/Identity, then the EAP-Response/GTC with the code (RFC 3748 §5.6) and the
State of the challenge. The code is computed by :func:`segmenting.totp.code` from the seed the
renderer wrote, so this also checks that our RFC 6238 matches ``rlm_totp``'s.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from crender_helpers import assemble_raddb, delete_netns

from segmenting import totp
from segmenting.plan import Plan
from segmenting.render import freeradius
from segmenting.render._switch import radius_key
from segmenting.render._util import hosts_of_kind
from segmenting.render.secrets import FakeSecrets, totp_key

pytestmark = pytest.mark.skipif(
    shutil.which("freeradius") is None or shutil.which("radclient") is None, reason="freeradius 3.x not installed"
)


@dataclass
class Radius:
    ns: str
    vpn: str  # the concentrator's address: requests sent to it leave from it
    switch: str


@pytest.fixture(scope="module")
def radius(plan: Plan) -> Iterator[Radius]:
    dest = Path(tempfile.mkdtemp(prefix="ctotp-radius-"))  # not pytest's 0700 tmp: freerad reads it
    ns = f"ctotp-{uuid.uuid4().hex[:8]}"
    proc: subprocess.Popen[str] | None = None
    try:
        raddb = assemble_raddb(plan, dest)
        subprocess.run(["ip", "netns", "add", ns], check=True)
        vpn = hosts_of_kind(plan, "vpn")[0].ip
        switch = plan.sites[0].switch.mgmt_ip
        for argv in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{vpn}/32", "dev", "lo"],
                     ["ip", "addr", "add", f"{switch}/32", "dev", "lo"]):  # fmt: skip
            subprocess.run(["ip", "netns", "exec", ns, *argv], check=True)
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "freeradius", "-f", "-l", "stdout", "-d", str(raddb)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        time.sleep(1.0)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        yield Radius(ns, vpn, switch)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        delete_netns(ns)
        shutil.rmtree(dest, ignore_errors=True)


def _eap(code: int, ident: int, typ: int, data: bytes) -> str:
    return "0x" + (bytes([code, ident]) + (5 + len(data)).to_bytes(2, "big") + bytes([typ]) + data).hex()


def _radclient(r: Radius, client: str, secret: str, attrs: dict[str, str]) -> str:
    text = "".join(f"{k} = {v}\n" for k, v in attrs.items()) + "Message-Authenticator = 0x00\n"
    res = subprocess.run(
        ["ip", "netns", "exec", r.ns, "radclient", "-x", "-r", "1", "-t", "3", f"{client}:1812", "auth", secret],
        input=text, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return res.stdout + res.stderr


def gtc_login(r: Radius, user: str, otp: str, client: str | None = None) -> str:
    """The concentrator's eap-radius round for ``user`` answering ``otp``: the final reply's dump."""
    client = client or r.vpn
    secret = FakeSecrets().get(radius_key("csu-vpn" if client == r.vpn else "any"))
    base = {"User-Name": f'"{user}"', "NAS-IP-Address": client}
    first = _radclient(r, client, secret, {**base, "EAP-Message": _eap(2, 1, 1, user.encode())})
    if "Access-Challenge" not in first:
        return first
    state = re.search(r"State = (0x[0-9a-f]+)", first)
    request = re.search(r"EAP-Message = 0x01([0-9a-f]{2})[0-9a-f]{4}06", first)
    assert state and request, f"not an EAP-GTC challenge:\n{first}"
    answer = _eap(2, int(request.group(1), 16), 6, otp.encode())
    return first + _radclient(r, client, secret, {**base, "EAP-Message": answer, "State": state.group(1)})


def _seed(user: str) -> str:
    return FakeSecrets().get(totp_key(user))


def _now_code(seed: str) -> str:
    """The current code, with time left to be checked in the same 30 s step (rlm_totp 3.2.1
    accepts the current step only)."""
    if totp.seconds_left(time.time()) < 5:
        time.sleep(totp.seconds_left(time.time()) + 0.1)
    return totp.code(seed, time.time())


def test_the_maintainers_current_code_is_accepted(plan: Plan, radius: Radius) -> None:
    for m in plan.maintainers:
        out = gtc_login(radius, m.id, _now_code(_seed(m.id)))
        assert "Received Access-Accept" in out, out
        assert "EAP-Message = 0x03" in out.split("Received Access-Accept")[1], "no EAP-Success in the Accept"


def test_a_wrong_code_is_rejected(plan: Plan, radius: Radius) -> None:
    user = plan.maintainers[0].id
    good = _now_code(_seed(user))
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    stale = totp.code(_seed(user), time.time() - 3 * totp.STEP_S)
    for otp in {wrong, stale} - {good}:
        out = gtc_login(radius, user, otp)
        assert "Received Access-Reject" in out and "Received Access-Accept" not in out, out


def test_another_maintainers_code_is_rejected(plan: Plan, radius: Radius) -> None:
    assert len(plan.maintainers) >= 2, "the reference plan names two maintainers"
    alice, bob = plan.maintainers[0].id, plan.maintainers[1].id
    bobs = _now_code(_seed(bob))
    assert bobs != totp.code(_seed(alice), time.time())
    out = gtc_login(radius, alice, bobs)
    assert "Received Access-Reject" in out and "Received Access-Accept" not in out, out


def test_someone_not_in_the_plan_gets_no_challenge(radius: Radius) -> None:
    out = gtc_login(radius, "mnt-nobody", "000000")
    assert "Access-Challenge" not in out and "Received Access-Reject" in out, out
    assert "not a maintainer of the plan" in out


def test_a_switch_cannot_ask_for_a_maintainers_code(plan: Plan, radius: Radius) -> None:
    """The same request from a switch: the cameras' EAP-TLS-only module answers, not GTC+TOTP."""
    sw = next(s.switch for s in plan.sites if s.switch.mgmt_ip == radius.switch)
    user = plan.maintainers[0].id
    secret = FakeSecrets().get(radius_key(sw.id))
    attrs = {"User-Name": f'"{user}"', "NAS-IP-Address": radius.switch, "EAP-Message": _eap(2, 1, 1, user.encode())}
    out = _radclient(radius, radius.switch, secret, attrs)
    assert "Received Access-" in out, out
    assert not re.search(r"EAP-Message = 0x01[0-9a-f]{6}06", out), f"a switch was offered EAP-GTC:\n{out}"


def test_seeds_are_in_a_0640_file_and_base32(plan: Plan) -> None:
    files = {f.path: f for f in freeradius.render(plan, "csu-radius", FakeSecrets())}
    users = files["freeradius/mods-config/files/totp"]
    assert users.mode == 0o640
    for m in plan.maintainers:
        seed = _seed(m.id)
        assert len(totp.decode_secret(seed)) == totp.SECRET_BYTES
        assert f'"{m.id}"\tPacket-Src-IP-Address == ' in users.text and seed in users.text
    others = "".join(f.text for p, f in files.items() if p != users.path)
    assert not any(_seed(m.id) in others for m in plan.maintainers), "a seed outside the 0640 file"


def test_a_seed_that_is_not_base32_fails_closed(plan: Plan) -> None:
    class Typo(FakeSecrets):
        def get(self, key: str) -> str:
            return "not-base32!" if key.startswith("totp/") else super().get(key)

    with pytest.raises(freeradius.RenderError, match=r"totp/.*base32"):
        freeradius.render(plan, "csu-radius", Typo())


def test_each_step_of_the_roles_write_order_passes_the_check(plan: Plan) -> None:
    """roles/radius writes the files one by one in the renderer's order (those of mode 0640
    first), each validated by ``freeradius -C`` with the files before it in place: from a
    server without the second factor, every step must pass (the server and the eap_totp module
    need each other)."""
    dest = Path(tempfile.mkdtemp(prefix="ctotp-order-"))
    try:
        raddb = assemble_raddb(dataclasses.replace(plan, maintainers=()), dest)
        assert not (raddb / "mods-enabled" / "cloison-totp").exists()
        files = freeradius.render(plan, "csu-radius", FakeSecrets())
        ordered = [f for f in files if f.mode == 0o640] + [f for f in files if f.mode != 0o640]
        for f in ordered:
            rel = f.path.removeprefix("freeradius/")
            # where assemble_raddb puts them (the live tree links these two names)
            rel = {"mods-available/eap": "mods-enabled/eap", "sites-available/cloison": "sites-enabled/cloison"}.get(
                rel, rel
            )
            target = raddb / rel
            target.unlink(missing_ok=True)
            target.write_text(f.text, encoding="utf-8")
            target.chmod(0o644)
            res = subprocess.run(["freeradius", "-XC", "-d", str(raddb)], capture_output=True, text=True, check=False)
            assert res.returncode == 0, f"after {rel}:\n{res.stdout[-2000:]}{res.stderr[-1000:]}"
    finally:
        shutil.rmtree(dest, ignore_errors=True)
