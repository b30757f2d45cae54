"""``python -m segmenting.lab up|down|status|plug``: the lab commands alone.

The same as ``cloison lab …``, without importing the other command groups (handy while one of
them is being worked on, and for the bench).
"""

from __future__ import annotations

import argparse
import sys

from segmenting.errors import CloisonError
from segmenting.lab.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m segmenting.lab")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    args = parser.parse_args(["lab", *(argv if argv is not None else sys.argv[1:])])
    try:
        code: int = args.func(args)
    except CloisonError as exc:
        print(f"cloison: {exc}", file=sys.stderr)
        return exc.exit_code
    return code


if __name__ == "__main__":
    sys.exit(main())
