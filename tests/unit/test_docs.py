"""The docs cannot drift: every key of the model is in docs/inventory.md, every command in docs/cli.md."""

from __future__ import annotations

import argparse
import inspect
import json
import re
from enum import Enum
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from segmenting import commands, errors, model, schema_cmd

DOCS = Path(__file__).resolve().parents[2] / "docs"
INVENTORY_MD = (DOCS / "inventory.md").read_text(encoding="utf-8")
CLI_MD = (DOCS / "cli.md").read_text(encoding="utf-8")

MODELS = [
    cls
    for _, cls in inspect.getmembers(model, inspect.isclass)
    if issubclass(cls, BaseModel) and cls.__module__ == model.__name__ and cls is not model.Strict
]
ENUMS = [
    cls
    for _, cls in inspect.getmembers(model, inspect.isclass)
    if issubclass(cls, Enum) and cls.__module__ == model.__name__
]


def section_of(markdown: str, model_name: str) -> str:
    """The text under the heading that ends with ``(ModelName)``, up to the next heading."""
    match = re.search(rf"^#+ .*\({model_name}\)\s*$", markdown, flags=re.MULTILINE)
    assert match, f"docs/inventory.md has no heading for ({model_name})"
    rest = markdown[match.end() :]
    following = re.search(r"^#+ ", rest, flags=re.MULTILINE)
    return rest[: following.start()] if following else rest


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_every_model_field_is_documented(cls: type[BaseModel]) -> None:
    section = section_of(INVENTORY_MD, cls.__name__)
    missing = [name for name in cls.model_fields if f"| `{name}` |" not in section]
    assert not missing, f"docs/inventory.md ({cls.__name__}) lacks a row for: {', '.join(missing)}"


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_every_vocabulary_value_is_documented(enum: type[Enum]) -> None:
    missing = [str(m.value) for m in enum if f"`{m.value}`" not in INVENTORY_MD]
    assert not missing, f"docs/inventory.md does not list {enum.__name__} values: {', '.join(missing)}"


def test_every_file_is_documented() -> None:
    for name, keys in model.FILES.items():
        assert f"## {name}" in INVENTORY_MD, name
        for key in keys:
            assert f"| `{key}` | {name} |" in INVENTORY_MD, f"{key} of {name}"


def _parsers() -> dict[str, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    commands.register(sub)
    schema_cmd.register(sub)
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(_parsers()))
def test_every_command_and_option_is_documented(name: str) -> None:
    assert f"## `cloison {name}`" in CLI_MD
    section = CLI_MD.split(f"## `cloison {name}`", 1)[1].split("\n## ", 1)[0]
    for action in _parsers()[name]._actions:
        for option in action.option_strings:
            if option in ("-h", "--help", "--as-of"):
                continue  # --as-of is documented once for every command
            assert f"`{option}" in section, f"{option} of cloison {name}"


def test_exit_codes_are_documented() -> None:
    for name, value in vars(errors).items():
        if name.startswith("EXIT_"):
            assert f"| {value} | `{name}` |" in CLI_MD, name


EXAMPLES = re.findall(r"```yaml\n(.*?)```", INVENTORY_MD, flags=re.DOTALL)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.split(":", 1)[0])
def test_yaml_examples_match_the_schema(example: str) -> None:
    """Each example in docs/inventory.md is a valid file of the kind its first key names."""
    data = json.loads(json.dumps(yaml.safe_load(example), default=str))
    file = model.section_file(next(iter(data)))
    jsonschema.Draft202012Validator(
        schema_cmd.file_schema(file), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)


def test_every_file_has_an_example() -> None:
    firsts = {model.section_file(e.split(":", 1)[0].strip()) for e in EXAMPLES}
    assert firsts == set(model.FILES)
