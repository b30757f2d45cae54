"""Same plan, same bytes; secrets come from the provider and never sit in the repository."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from pathlib import Path

import pytest
from ansible.constants import DEFAULT_VAULT_ID_MATCH
from ansible.parsing.vault import VaultLib, VaultSecret
from crender_helpers import AS_OF, REFERENCE, ROOT

from segmenting import totp
from segmenting.api import load_plan
from segmenting.plan import Plan, plan_digest, plan_to_dict, plan_to_json
from segmenting.render import ids_allowlist
from segmenting.render.registry import render_all
from segmenting.render.secrets import FakeSecrets, GeneratedSecrets, SecretsError, VaultSecrets, totp_key


def _digest(plan: Plan, secrets: object) -> str:
    h = hashlib.sha256()
    for _r, f in render_all(plan, secrets):  # type: ignore[arg-type]
        h.update(f"{f.device}/{f.path}:{f.mode}\n".encode())
        h.update(f.text.encode())
    return h.hexdigest()


def test_rendering_is_deterministic(plan: Plan) -> None:
    again = load_plan(REFERENCE, AS_OF)  # a separate plan object: no shared cache
    assert _digest(plan, FakeSecrets()) == _digest(again, FakeSecrets())


def test_canonical_json_matches_json_dumps(plan: Plan, lab_plan: Plan) -> None:
    """The fast writer (segmenting.canonical) is byte-identical to the json.dumps reference form."""
    for p in (plan, lab_plan):
        assert plan_to_json(p) == json.dumps(plan_to_dict(p), indent=1, sort_keys=True, default=str) + "\n"


def test_generated_secrets_are_random_private_and_stable(plan: Plan, tmp_path: Path) -> None:
    path = tmp_path / "out" / ".secrets" / "secrets.json"
    first = GeneratedSecrets(path)
    one = _digest(plan, first)
    first.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    values = json.loads(path.read_text())
    # every switch, the VPN concentrator, and each maintainer's TOTP seed (base32, 160 bits)
    assert len(values) == len(plan.sites) + 1 + len(plan.maintainers)
    assert all(len(totp.decode_secret(values[totp_key(m.id)])) == totp.SECRET_BYTES for m in plan.maintainers)
    assert all(len(v) >= 32 and not v.startswith("TEST-ONLY") for v in values.values())
    assert len(set(values.values())) == len(values), "one secret per client"
    reread = GeneratedSecrets(path)
    assert _digest(plan, reread) == one and reread.created == 0
    other = GeneratedSecrets(tmp_path / "other.json")
    assert _digest(plan, other) != one


def test_world_readable_secrets_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{}")
    path.chmod(0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        GeneratedSecrets(path)


def test_vault_secrets(tmp_path: Path) -> None:
    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(b"pw"))])
    path = tmp_path / "vault.yml"
    path.write_bytes(vault.encrypt("radius/sw-s-x-1: s3cret-from-vault\n"))
    assert VaultSecrets(path, password="pw").get("radius/sw-s-x-1") == "s3cret-from-vault"
    with pytest.raises(SecretsError, match="no secret for"):
        VaultSecrets(path, password="pw").get("radius/other")
    clear = tmp_path / "clear.yml"
    clear.write_text("radius/x: y\n")
    with pytest.raises(SecretsError, match="not an ansible-vault file"):
        VaultSecrets(clear, password="pw")


_SECRET_LINE = re.compile(
    r"(?:secret = |^ key |key plaintext |key \"|shared_secret=|secret = \")\"?(?P<value>[^\"\s]+)"
)


def test_goldens_hold_only_fake_secrets() -> None:
    seen = 0
    for path in (ROOT / "tests" / "render" / "golden").rglob("*"):
        if not path.is_file() or path.suffix == ".actual":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            m = _SECRET_LINE.search(line)
            if m:
                seen += 1
                assert m.group("value").startswith("TEST-ONLY-"), f"{path.name}: {line}"
    assert seen > 10, "the pattern must find the secrets it guards"


def test_plan_digest_in_allowlist_is_the_plans(plan: Plan) -> None:
    assert ids_allowlist.document(plan)["plan_digest"] == plan_digest(plan)
