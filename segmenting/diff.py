"""What an inventory change does to the network: the difference between two plans.

``diff_plans(before, after)`` compares two plans (pure, no I/O) and returns a
:class:`PlanDiff` whose sections say which flows open, close or change, which addresses move
(rare, thanks to the allocation lock), which cameras and sites come and go, and how viewing
rights (CSI L252-2) and State sharing (CSI L252-3) change. Renderers turn it into text, a
Markdown merge-request comment or JSON. ``before`` may be ``None`` for a new deployment.

:func:`extract_revision` reads a deployment folder as it was at a git revision into a
temporary folder, through ``git ls-tree``/``git show`` so the working tree is never touched.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from segmenting.commands import flow_end as _end
from segmenting.commands import table
from segmenting.errors import Problem, UsageError
from segmenting.plan import CameraPlan, Flow, Host, Plan, SitePlan, Viewing

MAX_LISTED = 8  # long address lists are cut in text and Markdown; the JSON says how many
MD_FOLD_ROWS = 25  # Markdown sections longer than this are folded in <details>

Row = tuple[str, ...]


@dataclass(frozen=True)
class Section:
    """One kind of change, as a table."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    warn: bool = False  # worth a reviewer's attention even when the plan is valid

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class PlanDiff:
    before_label: str
    after_label: str
    sections: tuple[Section, ...] = ()
    problems: tuple[Problem, ...] = ()  # the new inventory is refused when this is not empty
    notes: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def changed(self) -> bool:
        return any(s.rows for s in self.sections)

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)


# --- formatting helpers ----------------------------------------------------------------------


def _ports(flow: Flow) -> str:
    if not flow.ports:
        return flow.proto
    text = ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in flow.ports)
    return f"{flow.proto}/{text}"


def _cut(items: Sequence[str]) -> str:
    if len(items) <= MAX_LISTED:
        return " ".join(items)
    return " ".join(items[:MAX_LISTED]) + f" … and {len(items) - MAX_LISTED} more"


def _delta(before: Iterable[str], after: Iterable[str]) -> str:
    old, new = set(before), set(after)
    added, removed = sorted(new - old), sorted(old - new)
    parts = []
    if added:
        parts.append(f"+{len(added)}: {_cut(added)}")
    if removed:
        parts.append(f"-{len(removed)}: {_cut(removed)}")
    return "; ".join(parts)


def _flow_row(f: Flow) -> Row:
    service = f.service + (" [window]" if f.window != "always" else "") + (" [tunnel]" if f.tunnel else "")
    return (
        f.id,
        _end(f.src_zone.value, f.src_site, f.src_hosts),
        _end(f.dst_zone.value, f.dst_site, f.dst_hosts),
        _ports(f),
        service,
        " ".join(f.controls),
    )


FLOW_COLUMNS = ("flow", "from", "to", "proto/ports", "service", "controls")
CHANGE_COLUMNS = ("field", "before", "after")

T = TypeVar("T")


def _index(items: Iterable[T], key: Callable[[T], str]) -> dict[str, T]:
    return {key(i): i for i in items}


def _field_changes(
    ident: str, before: Any, after: Any, fields: Sequence[tuple[str, Callable[[Any], Any]]]
) -> list[Row]:
    """One row per field that differs: (id, field, before, after); list-valued fields as +/-."""
    rows: list[Row] = []
    for name, get in fields:
        old, new = get(before), get(after)
        if old == new:
            continue
        if isinstance(old, tuple | list | set | frozenset) and isinstance(new, tuple | list | set | frozenset):
            rows.append((ident, name, f"{len(old)} entries", _delta(map(str, old), map(str, new))))
        else:
            rows.append((ident, name, str(old), str(new)))
    return rows


# --- sections ---------------------------------------------------------------------------------

_FLOW_FIELDS: tuple[tuple[str, Callable[[Flow], Any]], ...] = (
    ("proto/ports", _ports),
    ("from zone", lambda f: _end(f.src_zone.value, f.src_site, ())),
    ("to zone", lambda f: _end(f.dst_zone.value, f.dst_site, ())),
    ("from cidrs", lambda f: f.src_cidrs),
    ("to cidrs", lambda f: f.dst_cidrs),
    ("from hosts", lambda f: f.src_hosts),
    ("to hosts", lambda f: f.dst_hosts),
    ("service", lambda f: f.service),
    ("window", lambda f: f.window),
    ("tunnel", lambda f: f.tunnel),
    ("controls", lambda f: " ".join(f.controls)),
    ("purpose", lambda f: f.purpose),
)


def _flow_sections(old: dict[str, Flow], new: dict[str, Flow]) -> list[Section]:
    opened = tuple(_flow_row(new[k]) for k in sorted(new.keys() - old.keys()))
    closed = tuple(_flow_row(old[k]) for k in sorted(old.keys() - new.keys()))
    changed: list[Row] = []
    for k in sorted(old.keys() & new.keys()):
        changed.extend(_field_changes(k, old[k], new[k], _FLOW_FIELDS))
    return [
        Section("flows_opened", "Flows opened", FLOW_COLUMNS, opened),
        Section("flows_closed", "Flows closed", FLOW_COLUMNS, closed),
        Section("flows_changed", "Flows changed", ("flow", *CHANGE_COLUMNS), tuple(changed)),
    ]


def _address_section(old: dict[str, Host], new: dict[str, Host]) -> Section:
    rows = tuple(
        (k, new[k].kind, old[k].ip, new[k].ip) for k in sorted(old.keys() & new.keys()) if old[k].ip != new[k].ip
    )
    return Section("addresses_changed", "Addresses changed", ("host", "kind", "before", "after"), rows, warn=True)


def _host_sections(old: dict[str, Host], new: dict[str, Host]) -> list[Section]:
    # Cameras and site devices have their own sections; these are CSU hosts and State endpoints.
    def keep(h: Host) -> bool:
        return h.kind not in ("camera", "gateway", "switch")

    cols = ("host", "kind", "zone", "address")
    added = tuple((k, new[k].kind, new[k].zone_id, new[k].ip) for k in sorted(new.keys() - old.keys()) if keep(new[k]))
    removed = tuple(
        (k, old[k].kind, old[k].zone_id, old[k].ip) for k in sorted(old.keys() - new.keys()) if keep(old[k])
    )
    return [
        Section("hosts_added", "Hosts added", cols, added),
        Section("hosts_removed", "Hosts removed", cols, removed),
    ]


_CAMERA_FIELDS: tuple[tuple[str, Callable[[CameraPlan], Any]], ...] = (
    ("mac", lambda c: c.mac),
    ("auth", lambda c: c.auth),
    ("identity", lambda c: c.identity),
    ("model", lambda c: c.model),
    ("purposes", lambda c: c.purposes),
    ("vlan", lambda c: c.vlan),
    ("shared with State", lambda c: c.shared_with_state),
)


def _camera_sections(old: dict[str, CameraPlan], new: dict[str, CameraPlan]) -> list[Section]:
    def row(c: CameraPlan) -> Row:
        return (c.id, c.site, c.commune, c.ip, c.auth, " ".join(c.purposes))

    cols = ("camera", "site", "commune", "address", "auth", "purposes")
    added = tuple(row(new[k]) for k in sorted(new.keys() - old.keys()))
    removed = tuple(row(old[k]) for k in sorted(old.keys() - new.keys()))
    moved = tuple(
        (k, f"{old[k].site} port {old[k].port}", f"{new[k].site} port {new[k].port}")
        for k in sorted(old.keys() & new.keys())
        if (old[k].site, old[k].port) != (new[k].site, new[k].port)
    )
    changed: list[Row] = []
    for k in sorted(old.keys() & new.keys()):
        changed.extend(_field_changes(k, old[k], new[k], _CAMERA_FIELDS))
    return [
        Section("cameras_added", "Cameras added", cols, added),
        Section("cameras_removed", "Cameras removed", cols, removed),
        Section("cameras_moved", "Cameras moved", ("camera", "before", "after"), moved),
        Section("cameras_changed", "Cameras changed", ("camera", *CHANGE_COLUMNS), tuple(changed)),
    ]


_SITE_FIELDS: tuple[tuple[str, Callable[[SitePlan], Any]], ...] = (
    ("commune", lambda s: s.commune),
    ("transport", lambda s: s.transport),
    ("tunnelled", lambda s: s.tunnelled),
    ("block", lambda s: s.block),
    ("subnets", lambda s: tuple(f"{k}={v}" for k, v in sorted(s.subnets.items()))),
    ("vlans", lambda s: tuple(f"{k}={v}" for k, v in sorted(s.vlans.items()))),
    ("switch", lambda s: f"{s.switch.platform} {s.switch.model} ({s.switch.ports} ports)"),
    ("wan address", lambda s: s.gateway.wan_ip),
    ("IDS sensor", lambda s: s.ids_sensor),
    ("maintainers", lambda s: s.maintainers),
)


def _site_sections(old: dict[str, SitePlan], new: dict[str, SitePlan]) -> list[Section]:
    def row(s: SitePlan) -> Row:
        transport = s.transport + (" (ikev2)" if s.tunnelled else "")
        return (s.id, s.commune, transport, s.block, s.switch.platform, str(len(s.cameras)))

    cols = ("site", "commune", "transport", "block", "switch", "cameras")
    changed: list[Row] = []
    for k in sorted(old.keys() & new.keys()):
        changed.extend(_field_changes(k, old[k], new[k], _SITE_FIELDS))
    return [
        Section("sites_added", "Sites added", cols, tuple(row(new[k]) for k in sorted(new.keys() - old.keys()))),
        Section("sites_removed", "Sites removed", cols, tuple(row(old[k]) for k in sorted(old.keys() - new.keys()))),
        Section("sites_changed", "Sites changed", ("site", *CHANGE_COLUMNS), tuple(changed)),
    ]


def _viewing_section(old: dict[str, Viewing], new: dict[str, Viewing]) -> Section:
    rows: list[Row] = []
    for k in sorted(new.keys() - old.keys()):
        v = new[k]
        rows.append((k, v.agent, "granted", "", f"{','.join(v.communes)} until {v.expires}"))
    for k in sorted(old.keys() - new.keys()):
        v = old[k]
        rows.append((k, v.agent, "revoked", f"{','.join(v.communes)} until {v.expires}", ""))
    for k in sorted(old.keys() & new.keys()):
        a, b = old[k], new[k]
        if a.agent != b.agent:
            rows.append((k, b.agent, "agent", a.agent, b.agent))
        if a.communes != b.communes:
            rows.append((k, b.agent, "communes", ",".join(a.communes), _delta(a.communes, b.communes)))
        if a.expires != b.expires:
            rows.append((k, b.agent, "expires", a.expires, b.expires))
    return Section(
        "viewing_changed",
        "Viewing rights changed (CSI L252-2)",
        ("workstation", "agent", "change", "before", "after"),
        tuple(rows),
        warn=True,
    )


def _state_section(old: Plan | None, new: Plan | None) -> Section:
    rows: list[Row] = []
    if old is not None and new is not None:
        a, b = old.state, new.state
        if a.shared_communes != b.shared_communes:
            rows.append(("shared communes", ",".join(a.shared_communes), _delta(a.shared_communes, b.shared_communes)))
        if a.shared_cameras != b.shared_cameras:
            rows.append(("shared cameras", str(len(a.shared_cameras)), _delta(a.shared_cameras, b.shared_cameras)))
        endpoints_a = [f"{i} {s} {c}" for i, s, c in a.endpoints]
        endpoints_b = [f"{i} {s} {c}" for i, s, c in b.endpoints]
        if endpoints_a != endpoints_b:
            rows.append(("endpoints", _cut(endpoints_a), _delta(endpoints_a, endpoints_b)))
        for name, x, y in (
            ("State retention (days)", a.retention_days, b.retention_days),
            ("relay port", a.relay_port, b.relay_port),
            ("relay public address", a.relay_public, b.relay_public),
            ("convention", a.reference, b.reference),
            ("recording retention (days)", old.retention_days, new.retention_days),
            ("augmented analysis", old.augmented_analysis, new.augmented_analysis),
        ):
            if x != y:
                rows.append((name, str(x), str(y)))
    title = "State sharing and legal settings changed (CSI L252-3, L252-5)"
    return Section("state_changed", title, ("item", "before", "after"), tuple(rows), warn=True)


def diff_plans(
    before: Plan | None,
    after: Plan | None,
    *,
    before_label: str = "before",
    after_label: str = "after",
    problems: Sequence[Problem] = (),
    notes: Sequence[str] = (),
) -> PlanDiff:
    """Compare two plans. ``None`` stands for "no plan" (a new deployment, or an invalid one)."""

    def idx(plan: Plan | None, attr: str) -> dict[str, Any]:
        if plan is None:
            return {}
        return _index(getattr(plan, attr), lambda x: str(x.workstation if attr == "viewing" else x.id))

    sections: list[Section] = []
    if after is not None:
        sections += _flow_sections(idx(before, "flows"), idx(after, "flows"))
        sections.append(_address_section(idx(before, "hosts"), idx(after, "hosts")))
        sections += _camera_sections(idx(before, "cameras"), idx(after, "cameras"))
        sections += _site_sections(idx(before, "sites"), idx(after, "sites"))
        sections += _host_sections(idx(before, "hosts"), idx(after, "hosts"))
        sections.append(_viewing_section(idx(before, "viewing"), idx(after, "viewing")))
        sections.append(_state_section(before, after))
    return PlanDiff(before_label, after_label, tuple(sections), tuple(problems), tuple(notes))


# --- rendering --------------------------------------------------------------------------------

_SUMMARY_KEYS = (
    ("flows_opened", "flow opened", "flows opened"),
    ("flows_closed", "flow closed", "flows closed"),
    ("flows_changed", "flow change", "flow changes"),
    ("addresses_changed", "address moved", "addresses moved"),
    ("cameras_added", "camera added", "cameras added"),
    ("cameras_removed", "camera removed", "cameras removed"),
    ("cameras_moved", "camera moved", "cameras moved"),
    ("cameras_changed", "camera change", "camera changes"),
    ("sites_added", "site added", "sites added"),
    ("sites_removed", "site removed", "sites removed"),
    ("sites_changed", "site change", "site changes"),
    ("hosts_added", "host added", "hosts added"),
    ("hosts_removed", "host removed", "hosts removed"),
    ("viewing_changed", "viewing-right change", "viewing-right changes"),
    ("state_changed", "State/legal change", "State/legal changes"),
)


def summary(d: PlanDiff) -> str:
    if not d.valid:
        n = len(d.problems)
        return f"REFUSED: {n} problem{'s' if n != 1 else ''} in the new inventory"
    counts = {s.key: len(s.rows) for s in d.sections}
    # Flow changes are counted per flow, not per changed field.
    if "flows_changed" in counts:
        counts["flows_changed"] = len({r[0] for r in d.section("flows_changed").rows})
    parts = []
    for key, one, many in _SUMMARY_KEYS:
        n = counts.get(key, 0)
        if n:
            parts.append(f"{n} {one if n == 1 else many}")
    return "OK: " + (", ".join(parts) if parts else "no change to the plan")


def render_text(d: PlanDiff) -> str:
    out = io.StringIO()
    out.write(f"cloison diff: {d.before_label} -> {d.after_label}\n{summary(d)}\n")
    for note in d.notes:
        out.write(f"note: {note}\n")
    if d.problems:
        out.write("\nProblems\n")
        for p in d.problems:
            out.write(p.render() + "\n")
    for s in d.sections:
        if s.rows:
            out.write(f"\n{s.title}{' (review!)' if s.warn else ''}\n")
            table([list(r) for r in s.rows], list(s.columns), out)
    return out.getvalue()


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def render_markdown(d: PlanDiff) -> str:
    lines = [
        f"### cloison diff: `{d.before_label}` → `{d.after_label}`",
        "",
        f"**{summary(d)}**",
        "",
    ]
    lines += [f"> note: {n}" for n in d.notes]
    if d.notes:
        lines.append("")
    if d.problems:
        lines += ["#### Problems (the change is refused)", "", "```text"]
        lines += [p.render() for p in d.problems]
        lines += ["```", ""]
    for s in d.sections:
        if not s.rows:
            continue
        lines += [f"#### {s.title}" + (" ⚠" if s.warn else ""), ""]
        folded = len(s.rows) > MD_FOLD_ROWS
        if folded:  # a new deployment lists hundreds of rows: keep the comment scannable
            lines += [f"<details><summary>{len(s.rows)} rows</summary>", ""]
        lines.append("| " + " | ".join(s.columns) + " |")
        lines.append("|" + "---|" * len(s.columns))
        lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in s.rows]
        lines.append("")
        if folded:
            lines += ["</details>", ""]
    return "\n".join(lines).rstrip() + "\n"


def render_json(d: PlanDiff) -> str:
    data = {
        "before": d.before_label,
        "after": d.after_label,
        "valid": d.valid,
        "changed": d.changed,
        "summary": summary(d),
        "problems": [
            {"file": p.file, "path": p.path, "message": p.message, "fix": p.fix, "line": p.line} for p in d.problems
        ],
        "notes": list(d.notes),
        "sections": {s.key: s.records() for s in d.sections},
    }
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[PlanDiff], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}


# --- git --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extracted:
    folder: Path | None  # None: the deployment folder did not exist at that revision
    commit: str
    files: tuple[str, ...] = field(default=())


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError:
        raise UsageError("git is not installed: use --against-dir to compare two folders") from None


def extract_revision(folder: Path, rev: str, dest: Path) -> Extracted:
    """Write the files of ``folder`` as of git revision ``rev`` into ``dest`` (read-only on the repo)."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if top.returncode != 0:
        raise UsageError(f"{folder} is not inside a git repository: use --against-dir to compare two folders")
    root = Path(top.stdout.decode().strip()).resolve()
    commit = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    if commit.returncode != 0:
        raise UsageError(f"{rev!r} is not a commit in {root}: check the revision (e.g. origin/main, HEAD~1)")
    sha = commit.stdout.decode().strip()
    rel = folder.relative_to(root).as_posix()
    listing = _git(["ls-tree", "-r", "-z", "--name-only", sha, "--", rel or "."], root)
    if listing.returncode != 0:
        raise UsageError(f"git ls-tree failed: {listing.stderr.decode().strip()}")
    names = [n for n in listing.stdout.decode().split("\0") if n]
    if not names:
        return Extracted(None, sha)
    dest.mkdir(parents=True, exist_ok=True)
    prefix = f"{rel}/" if rel else ""
    written = []
    for name in names:
        inner = name[len(prefix) :]
        # Only the deployment's own files matter; sub-folders (group_vars, lab, ...) are copied too
        # so that the folder is the same as it was.
        blob = _git(["show", f"{sha}:{name}"], root)
        if blob.returncode != 0:
            raise UsageError(f"git show {sha}:{name} failed: {blob.stderr.decode().strip()}")
        target = dest / inner
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob.stdout)
        written.append(inner)
    return Extracted(dest, sha, tuple(written))


__all__ = [
    "RENDERERS",
    "Extracted",
    "PlanDiff",
    "Section",
    "diff_plans",
    "extract_revision",
    "render_json",
    "render_markdown",
    "render_text",
    "summary",
]
