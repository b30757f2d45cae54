"""Digest of everything a role's run on a host depends on, computed on the controller.

``lookup('cloison_role_inputs', 'radius', controller_files=[...])`` hashes: the role's own tree
(tasks, templates, files, defaults, vars, handlers, meta), the project's code that renders for
the roles (the ``segmenting`` package, library/, filter_plugins/, inventory_plugins/, this
folder), the deployment folder (the plan), the inventory sources, the host's name and groups, the
value of every option of the role's argument spec (after templating; an option that names an
existing file on the controller adds the file's content), the few facts the roles read, and the
controller files the role copies (``controller_files`` globs, e.g. its certificates). The
``cloison_converged`` module compares it with the digest recorded by the last converge: any
difference runs the whole role.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: cloison_role_inputs
short_description: Digest of a role's inputs for one host
description:
  - One hex SHA-256 over the role's tree, the project's rendering code, the deployment, the
    inventory sources, the host's groups, the role's option values and the given controller files.
options:
  _terms:
    description: The role's name.
    required: true
  controller_files:
    description: Globs of controller files the role copies to the host.
    type: list
    elements: str
    default: []
"""

RETURN = r"""
_raw:
  description: One hex digest.
  type: list
  elements: str
"""

ROOT = Path(__file__).resolve().parents[1]
# The code the roles' filters, modules and inventory run: a change in any of it may change
# what a role renders.
CODE_DIRS = ("segmenting", "ids", "library", "filter_plugins", "inventory_plugins", "lookup_plugins")
FACTS = ("virtualization_type", "virtualization_role", "distribution_release")
_TREES: dict[str, str] = {}


def tree_digest(path: Path) -> str:
    """Names and contents of every file under ``path`` (``__pycache__`` left out), cached per run."""
    key = str(path)
    if key not in _TREES:
        digest = hashlib.sha256()
        if path.is_file():
            digest.update(path.read_bytes())
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")):
                    continue
                full = Path(dirpath) / name
                digest.update(str(full.relative_to(path)).encode() + b"\0")
                digest.update(full.read_bytes() if full.is_file() else b"?")
        _TREES[key] = digest.hexdigest()
    return _TREES[key]


def files_digest(patterns: list[str]) -> dict[str, str]:
    """Content digest of each controller file the globs name (not cached: these may be issued during the run)."""
    out: dict[str, str] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]  # noqa: PTH207 (absolute)
        for name in matches or [pattern]:
            path = Path(name)
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"
    return out


def option_names(role_dir: Path) -> list[str]:
    specs = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text()) or {}
    return sorted((specs.get("argument_specs", {}).get("main", {}).get("options") or {}).keys())


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        if len(terms) != 1:
            raise AnsibleError(f"cloison_role_inputs takes one role name, got {terms!r}")
        role = str(terms[0])
        role_dir = ROOT / "roles" / role
        if not (role_dir / "meta" / "argument_specs.yml").is_file():
            raise AnsibleError(f"cloison_role_inputs: no role {role!r} with an argument spec under {ROOT / 'roles'}")
        variables = variables or {}

        def value(expression: str) -> Any:
            if expression.split(".", 1)[0] not in variables:
                return None
            return self._templar.resolve_variable_expression(expression)

        options: dict[str, Any] = {}
        for name in option_names(role_dir):
            got = value(name)
            options[name] = got
            if isinstance(got, str) and got.startswith("/") and Path(got).is_file():
                options[f"{name}:content"] = hashlib.sha256(Path(got).read_bytes()).hexdigest()
        facts = value("ansible_facts") or {}
        deployment = value("cloison_deployment")
        sources = value("ansible_inventory_sources") or []
        doc = {
            "role": role,
            "role_tree": tree_digest(role_dir),
            "code": {d: tree_digest(ROOT / d) for d in CODE_DIRS},
            "ansible_cfg": tree_digest(ROOT / "ansible.cfg"),
            "deployment": tree_digest(Path(str(deployment))) if deployment else None,
            "inventory": {str(s): tree_digest(Path(str(s))) for s in sources},
            "host": value("inventory_hostname"),
            "groups": sorted(value("group_names") or []),
            "facts": {k: facts.get(k) for k in FACTS},
            "options": options,
            "controller_files": files_digest([str(p) for p in self.get_option("controller_files")]),
        }
        text = json.dumps(doc, sort_keys=True, default=str)
        return [hashlib.sha256(text.encode()).hexdigest()]
