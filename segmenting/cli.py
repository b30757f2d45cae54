"""The ``cloison`` command line.

Each command group lives in its own module exposing ``register(subparsers)``; this module only
lists them (one registry, like netmiko's driver table) and turns :class:`CloisonError` into a
clear message and a documented exit code (see docs/cli.md), never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from segmenting import __version__
from segmenting.errors import EXIT_USAGE, CloisonError

# Modules that add sub-commands. Each defines ``register(sub: argparse._SubParsersAction)`` and
# sets ``func`` on its parsers: ``func(args) -> int`` (the exit code).
COMMAND_MODULES: tuple[str, ...] = (
    "segmenting.commands",
    "segmenting.schema_cmd",
    "ids.cli",
    "segmenting.diff_cmd",
    "segmenting.graph_cmd",
    "segmenting.image.cli",
    "segmenting.render.cli",
    "segmenting.lab.cli",
    "segmenting.conformance.cli",
    "segmenting.push.cli",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloison",
        description="Build, push, verify and watch a segmented municipal video-protection network.",
        epilog="Exit codes: 0 ok, 1 invalid input or guardrail violation, 2 usage, "
        "3 runtime/device failure, 4 a check found a non-conformity.",
    )
    parser.add_argument("--version", action="version", version=f"cloison {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except CloisonError as exc:
        print(f"cloison: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cloison: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `cloison plan | head`: the reader left; not an error worth a traceback.
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
