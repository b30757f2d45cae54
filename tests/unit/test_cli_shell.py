"""The CLI shell: exit codes and error handling without tracebacks."""

from __future__ import annotations

import pytest

from segmenting import cli
from segmenting.errors import EXIT_USAGE, InvalidInventory, Problem


def test_help_lists_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "Exit codes" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == EXIT_USAGE


def test_invalid_inventory_lists_every_problem_sorted() -> None:
    err = InvalidInventory(
        [
            Problem("sites.yml", "sites[1].vlans.cameras", "VLAN 5000 is out of range", "use 1-4094"),
            Problem("cameras.yml", "cameras[3].mac", "malformed MAC 'zz'", line=12),
        ]
    )
    text = str(err)
    assert text.startswith("2 problems in the inventory:")
    assert text.index("cameras.yml:12") < text.index("sites.yml")
    assert "fix: use 1-4094" in text
