"""Assemble: the notebook that is actually run, built from the trusted source.

Only the student's *answers* come from the submission: the autograded answer cells (by grade id)
and any extra code cells the student added (kept in place, since they may hold helpers). Every
test cell, locked cell and all metadata come from the instructor's source, so edited, deleted,
renamed or added test cells change nothing but a flag. Outputs in the submission are dropped.

Each test cell is split in two, its visible part and its hidden part, so feedback can show the
first and withhold the second. Test cells never run in the student's kernel: the sandbox runner
executes them in its own trusted process (``autograder.trusted``), which calls the student's
functions across a process boundary and compares there.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import nbformat

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


def nbg(cell) -> dict:
    """A cell's nbgrader metadata; {} when it is missing or malformed (not a dict)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    m = meta.get("nbgrader") if isinstance(meta, dict) else None
    return m if isinstance(m, dict) else {}


def _malformed(cell) -> bool:
    """nbgrader metadata that is not a dict, or a grade id that is not a string."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    m = meta.get("nbgrader") if isinstance(meta, dict) else None
    if m is None:
        return False
    return not isinstance(m, dict) or ("grade_id" in m and not isinstance(m.get("grade_id"), str))


def _points(meta: dict) -> float:
    try:
        return float(meta.get("points", 0))
    except (TypeError, ValueError):
        return 0.0


def split_hidden(source: str) -> tuple[str, str]:
    """Split a test cell's source into (visible part, hidden part)."""
    hidden = "\n".join(m.group(1).rstrip("\n") for m in HIDDEN.finditer(source + "\n"))
    visible = HIDDEN.sub("", source + "\n").rstrip("\n")
    return visible, hidden


@dataclass
class TestSpec:
    grade_id: str
    points: float
    has_hidden: bool


@dataclass
class Assembled:
    notebook: nbformat.NotebookNode
    tests: list[TestSpec]
    manual: dict[str, float]
    flags: list[str] = field(default_factory=list)


@dataclass
class SourceFacts:
    """What a batch needs to know about the trusted source, worked out once per batch."""

    src_ids: dict
    rel_ids: dict
    split: dict            # test grade id -> (visible, hidden)
    max_score: float
    manual_max: float


def source_facts(source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> SourceFacts:
    src_ids = {nbg(c).get("grade_id"): c for c in source.cells if nbg(c).get("grade_id")}
    rel_ids = {nbg(c).get("grade_id"): c for c in release.cells if nbg(c).get("grade_id")}
    split, auto, manual = {}, 0.0, 0.0
    for c in source.cells:
        meta = nbg(c)
        if meta.get("grade") and c.cell_type == "code" and not meta.get("solution"):
            split[meta["grade_id"]] = split_hidden(c.source)
        if meta.get("grade"):
            if c.cell_type == "code":
                auto += _points(meta)
            else:
                manual += _points(meta)
    return SourceFacts(src_ids, rel_ids, split, auto, manual)


def assemble(source: nbformat.NotebookNode, release: nbformat.NotebookNode, submission: nbformat.NotebookNode,
             facts: SourceFacts | None = None) -> Assembled:
    """Build the notebook to run from the source, taking only answers from the submission."""
    flags: list[str] = []
    facts = facts or source_facts(source, release)
    src_ids, rel_ids = facts.src_ids, facts.rel_ids

    # Walk the submission: answers by grade id, and extra cells attached to the known cell before them.
    answers: dict[str, nbformat.NotebookNode] = {}
    extras: dict[str | None, list] = {}
    last_known: str | None = None
    seen: set[str] = set()
    malformed = 0
    for cell in submission.cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), str) \
                or cell.get("cell_type") not in ("code", "markdown", "raw"):
            malformed += 1
            continue
        if _malformed(cell):
            malformed += 1
            cell = nbformat.from_dict({**cell, "metadata": {}})
        gid = nbg(cell).get("grade_id")
        if gid in src_ids:
            if gid in seen:
                flags.append(f"cell {gid!r} appears more than once: the first copy was used")
                continue
            seen.add(gid)
            last_known = gid
            sc, rc = src_ids[gid], rel_ids.get(gid)
            meta = nbg(sc)
            if meta.get("solution"):
                if cell.cell_type != sc.cell_type:
                    flags.append(f"answer cell {gid!r} changed type to {cell.cell_type}: its answer was not used")
                else:
                    answers[gid] = cell
            elif rc is not None and (cell.source != rc.source or cell.cell_type != rc.cell_type):
                kind = "test" if meta.get("grade") else "read-only"
                flags.append(f"{kind} cell {gid!r} was edited: the original was run")
            if meta.get("grade") and nbg(cell).get("points") != meta.get("points") and "points" in nbg(cell):
                flags.append(f"points of {gid!r} were changed in the submission: the source's {meta.get('points')} were used")
            continue
        if gid and nbg(cell).get("grade"):
            flags.append(f"added grade cell {gid!r} ignored (run as an ordinary cell)")
        if cell.cell_type == "code":
            extras.setdefault(last_known, []).append(cell)

    if malformed:
        flags.append(f"{malformed} cell(s) had malformed nbgrader metadata: treated as cells the student added")
    for gid, sc in src_ids.items():
        meta = nbg(sc)
        if gid not in seen and (meta.get("grade") or meta.get("solution")):
            what = "answer" if meta.get("solution") else "test"
            flags.append(f"{what} cell {gid!r} is missing from the submission" + ("" if meta.get("solution") else ": restored"))

    out = nbformat.v4.new_notebook(metadata=source.metadata)
    tests: list[TestSpec] = []
    manual: dict[str, float] = {}

    def add(src: str, role: dict, cell_type: str = "code") -> None:
        cell = nbformat.v4.new_code_cell(src) if cell_type == "code" else nbformat.v4.new_markdown_cell(src)
        cell.metadata = {"grader": role}
        out.cells.append(cell)

    for cell in extras.pop(None, []):
        add(cell.source, {"role": "student-extra"})
    for sc in source.cells:
        meta = nbg(sc)
        gid = meta.get("grade_id")
        if meta.get("solution") and sc.cell_type == "code":
            stub = rel_ids[gid].source if gid in rel_ids else "raise NotImplementedError()"
            text = answers[gid].source if gid in answers else stub
            add(text, {"role": "answer", "grade_id": gid})
        elif meta.get("solution"):  # a written answer, graded by hand
            text = answers[gid].source if gid in answers else (rel_ids.get(gid) or sc).source
            add(text, {"role": "written", "grade_id": gid, "points": meta.get("points", 0)}, cell_type="markdown")
            manual[gid] = _points(meta)
        elif meta.get("grade") and sc.cell_type == "code":
            visible, hidden = facts.split.get(gid) or split_hidden(sc.source)
            spec = TestSpec(gid, _points(meta), bool(hidden.strip()))
            add(visible or "pass", {"role": "test", "grade_id": gid, "part": "visible"})
            if spec.has_hidden:
                add(hidden, {"role": "test", "grade_id": gid, "part": "hidden"})
            tests.append(spec)
        elif sc.cell_type == "code":
            add(sc.source, {"role": "locked", "grade_id": gid})
        else:
            add(sc.source, {"role": "markdown", "grade_id": gid}, cell_type="markdown")
        for cell in extras.pop(gid, []):
            add(cell.source, {"role": "student-extra", "after": gid})
    return Assembled(out, tests, manual, flags)
