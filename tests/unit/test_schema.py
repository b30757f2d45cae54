"""`cloison schema`: a JSON Schema that accepts the reference files and rejects broken ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from invmut import REFERENCE, run_cli

from segmenting.model import FILES, OPTIONAL_FILES
from segmenting.schema_cmd import combined_schema, dumps, file_schema

VALIDATOR = jsonschema.Draft202012Validator


def _as_json(data: Any) -> Any:
    """What an editor sees: YAML dates become strings (JSON has no date type)."""
    return json.loads(json.dumps(data, default=str))


def _reference(name: str) -> Any:
    return _as_json(yaml.safe_load((REFERENCE / name).read_text(encoding="utf-8")))


PRESENT = [name for name in FILES if (REFERENCE / name).exists()]


def test_schemas_are_valid_json_schema() -> None:
    VALIDATOR.check_schema(combined_schema())
    for name in FILES:
        VALIDATOR.check_schema(file_schema(name))


@pytest.mark.parametrize("name", PRESENT)
def test_reference_files_validate(name: str) -> None:
    data = _reference(name)
    VALIDATOR(file_schema(name), format_checker=VALIDATOR.FORMAT_CHECKER).validate(data)
    VALIDATOR(combined_schema(), format_checker=VALIDATOR.FORMAT_CHECKER).validate(data)


def test_every_required_file_is_in_the_reference() -> None:
    assert set(FILES) - set(PRESENT) <= OPTIONAL_FILES


def _errors(name: str, data: Any) -> list[str]:
    validator = VALIDATOR(file_schema(name), format_checker=VALIDATOR.FORMAT_CHECKER)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.validator}" for e in validator.iter_errors(data))


def test_broken_cameras_file_is_rejected() -> None:
    data = _reference("cameras.yml")
    data["cameras"][0]["mac"] = "zz:zz"
    data["cameras"][1]["port"] = 500
    data["cameras"][2]["auth"] = "password"
    data["cameras"][3]["colour"] = "red"
    del data["cameras"][4]["purposes"]
    data["cameras"][5]["id"] = "Cam 6"
    data["cameras"][6]["ip"] = "10.64.0.300"
    assert _errors("cameras.yml", data) == [
        "cameras/0/mac: pattern",
        "cameras/1/port: maximum",
        "cameras/2/auth: enum",
        "cameras/3: additionalProperties",
        "cameras/4: required",
        "cameras/5/id: pattern",
        "cameras/6/ip: anyOf",  # an address (format ipv4) or null
    ]


def test_key_of_another_file_is_rejected() -> None:
    data = _reference("communes.yml")
    data["retention_days"] = 21
    assert _errors("communes.yml", data) == [": additionalProperties"]
    assert not jsonschema.Draft202012Validator(combined_schema()).is_valid(data)


def test_broken_deployment_file_is_rejected() -> None:
    data = _reference("deployment.yml")
    data["addressing"]["sites_pool"] = "10.64.0.0"
    data["addressing"]["vlans"]["cameras"] = 5000
    data["augmented_analysis"]["biometric_identification"] = True
    del data["csu"]
    assert _errors("deployment.yml", data) == [
        ": required",
        "addressing/sites_pool: pattern",
        "addressing/vlans/cameras: maximum",
        "augmented_analysis/biometric_identification: const",
    ]


def test_cli_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["schema"], capsys)
    assert code == 0
    assert json.loads(out) == combined_schema()

    code, out, _ = run_cli(["schema", "--file", "cameras.yml"], capsys)
    assert code == 0
    assert json.loads(out)["properties"].keys() == {"cameras"}

    code, out, _ = run_cli(["schema", "-o", str(tmp_path / "schema")], capsys)
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "schema").iterdir())
    assert written == sorted(["inventory.schema.json", *(f"{Path(n).stem}.schema.json" for n in FILES)])
    cameras = json.loads((tmp_path / "schema" / "cameras.schema.json").read_text())
    assert cameras == file_schema("cameras.yml")

    code, _, _ = run_cli(["schema", "--file", "state.yml", "-o", str(tmp_path / "state.json")], capsys)
    assert code == 0
    assert json.loads((tmp_path / "state.json").read_text()) == file_schema("state.yml")


def test_cli_unknown_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run_cli(["schema", "--file", "lock.yml"], capsys)
    assert exc.value.code == 2


def test_schema_output_is_stable() -> None:
    assert dumps(combined_schema()) == dumps(combined_schema())
