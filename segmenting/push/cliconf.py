"""Indented switch CLI configurations as data: normalise, predict, verify, invert.

IOS, AOS-CX and ArubaOS-Switch all print their running config as top-level lines and
blocks (``interface …``, ``vlan …``) whose lines are indented. That shared shape is enough to
show what a push will change, to check after applying that every intended line is there, and
to compute the commands that take a device back to its backup when it has no on-device
rollback (ArubaOS-Switch). Pure functions; no I/O.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

# Top-level commands holding a single value: setting one replaces the previous value, so the
# prediction of the new running config must not show both.
SINGLE_VALUED = ("hostname", "ip domain-name", "ip domain name", "clock timezone", "timesync")
# Lines a platform prints around the config that are not configuration.
_NOISE_PREFIXES = ("Building configuration", "Current configuration", "Running configuration")


@dataclass
class Block:
    header: str
    children: list[str] = field(default_factory=list)


def normalize(text: str) -> list[str]:
    """Lines that carry configuration, indentation reduced to one space for children."""
    out: list[str] = []
    for raw in text.replace("\r", "").split("\n"):
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped.startswith(("!", "#", ";")):
            continue
        if stripped.startswith(_NOISE_PREFIXES):
            continue
        indented = line[0] in " \t"
        if stripped == "exit" and indented:
            continue  # ProCurve closes each block with an indented "exit"
        if stripped == "end" and not indented:
            continue
        out.append(" " + stripped if indented else stripped)
    return out


def parse(text: str) -> list[Block]:
    blocks: list[Block] = []
    for line in normalize(text):
        if line.startswith(" ") and blocks:
            blocks[-1].children.append(line[1:])
        else:
            blocks.append(Block(line.lstrip()))
    return blocks


def dump(blocks: list[Block]) -> str:
    lines: list[str] = []
    for b in blocks:
        lines.append(b.header)
        lines += [" " + c for c in b.children]
    return "\n".join(lines) + ("\n" if lines else "")


def canonical(text: str) -> str:
    """The comparable form of a config text (what "identical to the backup" means)."""
    return dump(parse(text))


def _key(line: str) -> str:
    for word in SINGLE_VALUED:
        if line == word or line.startswith(word + " "):
            return word
    return line


def _find(blocks: list[Block], header: str) -> Block | None:
    return next((b for b in blocks if b.header == header), None)


def predict(running: str, candidate: str) -> str:
    """The running config once the candidate lines are applied (for the diff shown)."""
    blocks = [Block(b.header, list(b.children)) for b in parse(running)]
    for cand in parse(candidate):
        if cand.header.startswith("no ") and not cand.children:
            body = cand.header[3:]
            blocks = [b for b in blocks if b.header != body and _key(b.header) != _key(body)]
            continue
        block = _find(blocks, cand.header)
        if block is None:
            same = next((b for b in blocks if _key(b.header) == _key(cand.header) != cand.header), None)
            if same is not None and not cand.children:
                same.header = cand.header
                continue
            block = Block(cand.header)
            blocks.append(block)
        for child in cand.children:
            if child.startswith("no "):
                if child[3:] in block.children:
                    block.children.remove(child[3:])
            elif child not in block.children:
                if "no " + child in block.children:
                    block.children.remove("no " + child)
                block.children.append(child)
    return dump(blocks)


def unified_diff(device: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"{device} (running)",
        tofile=f"{device} (candidate)",
    )
    return "".join(lines)


def missing_lines(running: str, candidate: str) -> list[str]:
    """Intended lines the running config does not show; ``no X`` means X must be absent."""
    blocks = parse(running)
    missing: list[str] = []
    for cand in parse(candidate):
        if cand.header.startswith("no ") and not cand.children:
            if _find(blocks, cand.header[3:]) is not None:
                missing.append(cand.header)
            continue
        block = _find(blocks, cand.header)
        if block is None:
            missing.append(cand.header)
            missing += [f"{cand.header} / {c}" for c in cand.children]
            continue
        for child in cand.children:
            present = (
                child[3:] not in block.children or child in block.children
                if child.startswith("no ")
                else child in block.children
            )
            if not present:
                missing.append(f"{cand.header} / {child}")
    return missing


def _negate(line: str) -> str:
    return line[3:] if line.startswith("no ") else "no " + line


def inverse(current: str, backup: str) -> list[str]:
    """Commands (in config mode) that turn ``current`` back into ``backup``.

    Removals first, in reverse order (a VLAN is removed after the ports that use it), then
    the backup's lines that are missing, in the backup's order.
    """
    cur, bak = parse(current), parse(backup)
    removals: list[str] = []
    additions: list[str] = []
    for block in reversed(cur):
        old = _find(bak, block.header)
        if old is None:
            if not any(_key(b.header) == _key(block.header) for b in bak) or block.children:
                removals.append(_negate(block.header))
            continue
        extra = [c for c in block.children if c not in old.children]
        if extra:
            removals.append(block.header)
            removals += [" " + _negate(c) for c in reversed(extra)]
            removals.append("exit")
    for block in bak:
        now = _find(cur, block.header)
        if now is None:
            additions.append(block.header)
            additions += [" " + c for c in block.children]
            if block.children:
                additions.append("exit")
            continue
        lost = [c for c in block.children if c not in now.children]
        if lost:
            additions.append(block.header)
            additions += [" " + c for c in lost]
            additions.append("exit")
    return removals + additions


def delta(running: str, candidate: str) -> list[str]:
    """The candidate lines the running config lacks, each under its block header.

    Sending only these leaves the device in the same end state (every candidate line present)
    while touching nothing that is already right: fewer lines to refuse, faster pushes.
    """
    blocks = parse(running)
    out: list[str] = []
    for cand in parse(candidate):
        if cand.header.startswith("no ") and not cand.children:
            if _find(blocks, cand.header[3:]) is not None:
                out.append(cand.header)
            continue
        block = _find(blocks, cand.header)
        have = block.children if block is not None else []
        lacking = [
            c for c in cand.children if (c[3:] in have and c not in have if c.startswith("no ") else c not in have)
        ]
        if block is None or lacking:
            out.append(cand.header)
            out += [" " + c for c in lacking]
    return out
