"""Errors a user can cause, and the exit codes the CLI maps them to.

A traceback in front of a user is a bug: everything a user can get wrong is raised as a
:class:`CloisonError` subclass whose message names what is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Exit codes, documented in docs/cli.md. Keep them stable: CI pipelines test for them.
EXIT_OK = 0
EXIT_INVALID = 1  # the inventory (or another input) is invalid, or a guardrail is violated
EXIT_USAGE = 2  # bad command line
EXIT_RUNTIME = 3  # an environment or device failure (unreachable host, missing tool, rollback)
EXIT_CHECK_FAILED = 4  # a check ran and found a non-conformity (audit, verify)


class CloisonError(Exception):
    """An error with a message meant for a person; the CLI prints it without a traceback."""

    exit_code = EXIT_RUNTIME


class UsageError(CloisonError):
    exit_code = EXIT_USAGE


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input: where (file, key path, line), what, and how to fix it."""

    file: str
    path: str
    message: str
    fix: str = ""
    line: int | None = None

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.path or '<top>'}: {self.message}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text


class InvalidInventory(CloisonError):
    """The inventory does not validate. Carries every problem found, not just the first."""

    exit_code = EXIT_INVALID

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.path, p.message))
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the inventory:"
        super().__init__("\n".join([head, *(p.render() for p in self.problems)]))
