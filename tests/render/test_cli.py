"""``cloison render``: every device's files, a summary table, secrets generated privately."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest
from ansible.constants import DEFAULT_VAULT_ID_MATCH
from ansible.parsing.vault import VaultLib, VaultSecret
from crender_helpers import REFERENCE

from segmenting import totp
from segmenting.cli import main
from segmenting.plan import Plan


def test_render_writes_every_device(plan: Plan, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["render", str(REFERENCE), "-o", str(out), "--as-of", "2026-11-28"]) == 0
    text = capsys.readouterr().out
    assert "renderer" in text and "bytes" in text and "total" in text
    assert "new secret(s) generated into" in text and "0600" in text
    for site in plan.sites:
        assert (out / site.gateway.id / "nftables.conf").is_file()
        assert any((out / site.switch.id).iterdir())
    for dev, path in (
        ("csu-fw", "nftables.conf"),
        ("csu-relay", "nftables.conf"),
        ("csu-radius", "freeradius/clients.conf"),
        ("csu-vpn", "swanctl/swanctl.conf"),
        ("csu-ids", "ids-allowlist.json"),
    ):
        assert (out / dev / path).is_file(), f"{dev}/{path}"
    secrets = out / ".secrets" / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    # Secrets go to the devices' files, never to the terminal; switch configs are private files.
    first_secret = next(iter(__import__("json").loads(secrets.read_text()).values()))
    assert first_secret not in text
    cfg = next((out / "sw-s-ingeville-1").glob("config.*"))
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    # Rendering again reuses the secrets: same bytes.
    before = (out / "csu-radius" / "freeradius" / "clients.conf").read_text()
    assert main(["render", str(REFERENCE), "-o", str(out), "--as-of", "2026-11-28"]) == 0
    assert "secrets: read from" in capsys.readouterr().out
    assert (out / "csu-radius" / "freeradius" / "clients.conf").read_text() == before


def test_render_only_and_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o"
    args = [
        "render",
        str(REFERENCE),
        "-o",
        str(out),
        "--as-of",
        "2026-11-28",
        "--only",
        "cisco-ios",
        "--device",
        "sw-s-ingeville-1",
    ]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split()[:4] == ["cisco-ios", "1", "1", lines[2].split()[3]]
    assert sorted(p.name for p in out.iterdir()) == [".secrets", "sw-s-ingeville-1"]


def test_render_unknown_device_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(REFERENCE), "-o", str(tmp_path), "--as-of", "2026-11-28", "--device", "sw-nowhere"]) == 1
    assert "no selected renderer applies" in capsys.readouterr().err


def test_generated_secrets_never_land_in_a_tracked_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    args = ["render", str(REFERENCE), "--as-of", "2026-11-28", "--only", "freeradius"]
    assert main([*args, "-o", str(repo / "configs")]) == 2
    assert "would sit in a git work tree" in capsys.readouterr().err
    assert not (repo / "configs").exists()
    (repo / ".gitignore").write_text("configs/\n")
    assert main([*args, "-o", str(repo / "configs")]) == 0


def test_render_with_a_vault(plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(b"vault-pw"))])
    keys = [f"radius/{s.switch.id}" for s in plan.sites] + ["radius/csu-vpn"]
    body = "".join(f"{k}: from-vault-{i:03d}-xxxxxxxxxxxxxxxx\n" for i, k in enumerate(keys))
    seeds = {m.id: totp.new_secret() for m in plan.maintainers}  # TOTP seeds: base32, else refused
    body += "".join(f"totp/{m}: {seed}\n" for m, seed in seeds.items())
    (tmp_path / "vault.yml").write_bytes(vault.encrypt(body))
    (tmp_path / "pw").write_text("vault-pw\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "pw"))
    out = tmp_path / "out"
    args = ["render", str(REFERENCE), "-o", str(out), "--as-of", "2026-11-28", "--secrets", str(tmp_path / "vault.yml")]
    assert main(args) == 0
    clients = (out / "csu-radius" / "freeradius" / "clients.conf").read_text()
    assert clients.count("from-vault-") == len(keys)
    users = (out / "csu-radius" / "freeradius" / "mods-config" / "files" / "totp").read_text()
    assert all(f'"{m}"\t' in users and seed in users for m, seed in seeds.items())
    assert not (out / ".secrets").exists(), "with a vault nothing is generated"
