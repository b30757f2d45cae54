"""Static checks of the Ansible content: ansible-lint (production profile) and syntax checks.

Fast, no lab needed. ansible-lint runs with the repository's ``.ansible-lint`` (profile
``production``, no rule switched off: the test also refuses a ``skip_list``/``warn_list``);
every playbook must pass ``ansible-playbook --syntax-check``. Every role must declare its
variables in ``meta/argument_specs.yml``, with the role prefix, and say in its README what it
does and does not do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("ANSIBLE_NOCOLOR", "1")
    return env


def test_lint_config_is_production_with_nothing_switched_off() -> None:
    config = yaml.safe_load((ROOT / ".ansible-lint").read_text())
    assert config["profile"] == "production"
    for key in ("skip_list", "warn_list", "enable_list_off", "mock_roles", "mock_modules"):
        assert not config.get(key), f".ansible-lint must not set {key}"


def test_ansible_lint_production_passes() -> None:
    proc = subprocess.run(
        [str(BIN / "ansible-lint"), "--nocolor", "-q"],
        check=False, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]


def test_there_are_playbooks_for_every_scope() -> None:
    names = {p.stem for p in PLAYBOOKS}
    assert {"site", "csu", "sites", "dmz", "maintenance"} <= names


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=[p.name for p in PLAYBOOKS])
def test_playbook_syntax(playbook: Path, tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts: {}\n")
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", str(inventory), str(playbook)],
        check=False, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_role_declares_its_variables_with_its_prefix(role: Path) -> None:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    options = specs["main"].get("options", {})
    defaults_file = role / "defaults" / "main.yml"
    defaults = (yaml.safe_load(defaults_file.read_text()) or {}) if defaults_file.exists() else {}
    for name in list(options) + list(defaults):
        assert name.startswith(f"{role.name}_"), f"{role.name}: variable {name} lacks the role prefix"
    missing = set(defaults) - set(options)
    assert not missing, f"{role.name}: defaults not declared in meta/argument_specs.yml: {sorted(missing)}"
    for name, spec in options.items():
        assert spec.get("description"), f"{role.name}: {name} has no description"
        assert spec.get("type"), f"{role.name}: {name} has no type"


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_role_readme_says_what_it_does_and_does_not(role: Path) -> None:
    text = (role / "README.md").read_text()
    assert "## What it does" in text
    assert "does not do" in text


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_templates_start_with_ansible_managed(role: Path) -> None:
    for tpl in (role / "templates").rglob("*.j2"):
        if tpl.name.endswith(".json.j2"):
            continue  # JSON has no comments; the file is the renderer's output, validated as JSON
        lines = tpl.read_text().splitlines()
        first = lines[1] if lines[0].startswith("#!") else lines[0]  # a script keeps its shebang first
        assert first.startswith(("{{ ansible_managed | comment", "{{ ansible_managed | comment(")), tpl
