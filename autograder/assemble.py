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

import ast
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


def _norm(text: str) -> str:
    """Cell text compared for identity: trailing spaces and blank first/last lines do not count
    (tools that rewrite notebooks, jupytext among them, change those)."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).strip()


def defined_names(text: str) -> list[str]:
    """The names a cell binds at top level, in order: functions, classes, assignments (also inside
    top-level if/try/with/for blocks), imports. Lines of IPython syntax (% ! magics) are ignored; a
    cell that does not parse binds nothing."""
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in text.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        # Deeply nested code (``x = ----...1``) exhausts the parser: such a cell binds nothing we
        # can see, and must not turn a gradable submission into a failed one.
        return []
    out: list[str] = []

    def targets(node) -> None:
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                out.append(n.id)

    def walk(body) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.append(node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    targets(t)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
                out.append(node.target.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                out.extend((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                if isinstance(node, ast.For):
                    targets(node.target)
                for part in ("body", "orelse", "finalbody"):
                    walk(getattr(node, part, []))
                for handler in getattr(node, "handlers", []):
                    walk(handler.body)
    walk(tree.body)
    return out


def _graded_names(solution: str, stub: str | None) -> list[str]:
    """What an answer slot must define: the names both the solution and the student's stub bind
    (helpers of the solution alone are not asked for), imports left out."""
    try:
        tree = ast.parse(solution)
    except SyntaxError:
        return []
    imported = {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    own = [n for n in dict.fromkeys(defined_names(solution)) if n not in imported]
    if stub is not None:
        both = [n for n in own if n in set(defined_names(stub))]
        if both:
            return both
    return [n for n in own if not n.startswith("_")]


def recover_answers(source, release_ids: dict, candidates: list, answers: dict,
                    stub_at: dict[str, int] | None = None) -> tuple[list[str], list[str]]:
    """Fill the answer slots that have no answer (or only the untouched stub) from the submission's
    cells that carry no grade id of the source.

    ``candidates`` are those cells in submission order, each with the grade id of the last known
    cell before it (its anchor). A code slot takes the cells that define its graded names (the
    names its solution and stub bind); when several cells define a name the last one wins, as it
    would when the notebook runs top to bottom. A cell only ever fills a slot whose name it
    defines; a cell defining the names of two slots fills the first and the second keeps its
    definitions (no stub runs over them). A written answer (markdown) is recovered by place: the
    unknown markdown cells right after the cell that precedes its slot. Where the submission still
    holds a slot's untouched stub (``stub_at``: grade id -> number of candidates before it), only
    cells after the stub count: one above it is replaced by the stub when the notebook runs.
    Returns (one line per recovered slot, the slots whose only definitions were above their stub),
    for the submission's flags; ``answers`` (grade id -> cells) is filled in."""
    stub_at = stub_at or {}
    order = [nbg(c).get("grade_id") for c in source.cells]
    pos = {g: i for i, g in enumerate(order) if g}

    def untouched(gid: str) -> bool:
        rc = release_ids.get(gid)
        return gid not in answers or (rc is not None and all(_norm(c.source) == _norm(rc.source) for c in answers[gid]))

    code_slots: dict[str, list[str]] = {}
    written: list[str] = []
    for sc in source.cells:
        meta = nbg(sc)
        gid = meta.get("grade_id")
        if not meta.get("solution") or not untouched(gid):
            continue
        if sc.cell_type == "code":
            stub = release_ids[gid].source if gid in release_ids else None
            names = _graded_names(sc.source, stub)
            if names:
                code_slots[gid] = names
        elif sc.cell_type == "markdown":
            written.append(gid)

    name_slots: dict[str, list[str]] = {}
    for gid, names in code_slots.items():
        for n in names:
            name_slots.setdefault(n, []).append(gid)

    def slot_for(name: str, anchor: str | None) -> str:
        """The slot a definition of ``name`` fills; where two slots ask for one name, the first at or
        after the cell's place (its anchor), else the last."""
        slots = name_slots[name]
        here = pos.get(anchor, -1)
        return next((g for g in slots if pos[g] > here), slots[-1])

    last: dict[tuple[str, str], int] = {}
    count: dict[tuple[str, str], int] = {}
    above: set[str] = set()
    for i, (cell, anchor) in enumerate(candidates):
        if cell.cell_type != "code":
            continue
        for n in dict.fromkeys(defined_names(cell.source)):
            if n in name_slots:
                key = (slot_for(n, anchor), n)
                if i < stub_at.get(key[0], 0):
                    above.add(key[0])
                    continue
                last[key] = i
                count[key] = count.get(key, 0) + 1

    lines: list[str] = []
    unused = [gid for gid in sorted(above, key=pos.get) if not any((gid, n) in last for n in code_slots[gid])]
    taken: dict[int, str] = {}
    for gid in sorted(code_slots, key=pos.get):
        idx = sorted({last[(gid, n)] for n in code_slots[gid] if (gid, n) in last})
        if not idx:
            continue
        note = ", ".join(code_slots[gid])
        twice = [n for n in code_slots[gid] if count.get((gid, n), 0) > 1]
        own = [i for i in idx if i not in taken]
        elsewhere = sorted({taken[i] for i in idx if i in taken})
        if own:
            answers[gid] = [candidates[i][0] for i in own]
            for i in own:
                taken[i] = gid
        else:  # its definitions ran with an earlier slot's cell: the stub must not replace them
            answers[gid] = [nbformat.v4.new_code_cell(f"# recovered: defined in the cell recovered for {elsewhere[0]!r}")]
        line = gid if note == gid else f"{gid} (defines {note})"
        if len(own) > 1:
            line += f" ({len(own)} cells)"
        if elsewhere:
            line += f" (also in the cell recovered for {', '.join(map(repr, elsewhere))})"
        if twice:
            line += f" ({', '.join(twice)} defined more than once: the last definition was used, as Python would)"
        lines.append(line)

    for gid in written:
        i = order.index(gid)
        before = order[i - 1] if i > 0 else None
        cells = [c for c, anchor in candidates if c.cell_type == "markdown" and anchor in (before, gid) and c.source.strip()]
        if cells:
            answers[gid] = cells
            lines.append(f"{gid} (written answer, by its place after {before})")
    return lines, unused


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

    # Grade ids the submission carries in its metadata: cells without one may still be matched to the
    # other cells of the release by their content (a notebook that lost its metadata).
    tagged = {nbg(c).get("grade_id") for c in submission.cells if isinstance(c, dict) and not _malformed(c)}
    by_content: dict[tuple[str, str], list[str]] = {}
    for gid, rc in rel_ids.items():
        if gid not in tagged:
            by_content.setdefault((rc.cell_type, _norm(rc.source)), []).append(gid)

    # Walk the submission: answers by grade id, and extra cells attached to the known cell before them.
    answers: dict[str, list] = {}
    extras: dict[str | None, list] = {}
    candidates: list[tuple[nbformat.NotebookNode, str | None]] = []
    stub_at: dict[str, int] = {}
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
        if gid not in src_ids:
            same = [g for g in by_content.get((cell.get("cell_type"), _norm(cell.source)), []) if g not in seen]
            if same and not nbg(cell).get("grade"):
                gid = same[0]   # a cell of the release, unchanged, that lost its metadata: an anchor
                cell = nbformat.from_dict({**cell, "source": rel_ids[gid].source, "metadata": {"nbgrader": {"grade_id": gid}}})
        if gid in src_ids:
            if gid in seen:
                sc = src_ids[gid]
                if nbg(sc).get("solution") and cell.cell_type in ("code", "markdown"):
                    # A copy of an answer cell (copy/paste keeps nbgrader metadata): the student may
                    # have answered in either copy. A later code copy runs in place, as a cell they
                    # added, so after the first, as when the notebook runs top to bottom; a later
                    # copy of a written answer is part of the written answer.
                    flags.append(f"answer cell {gid!r} appears more than once: every copy was kept, "
                                 "in notebook order")
                    if cell.cell_type == "markdown" and sc.cell_type == "markdown" and gid in answers:
                        answers[gid].append(cell)
                    else:
                        candidates.append((nbformat.from_dict({**cell, "metadata": {}}), last_known))
                else:
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
                    answers[gid] = [cell]
                    stub_at[gid] = len(candidates)
            elif rc is not None and (cell.source != rc.source or cell.cell_type != rc.cell_type):
                kind = "test" if meta.get("grade") else "read-only"
                flags.append(f"{kind} cell {gid!r} was edited: the original was run")
            if meta.get("grade") and nbg(cell).get("points") != meta.get("points") and "points" in nbg(cell):
                flags.append(f"points of {gid!r} were changed in the submission: the source's {meta.get('points')} were used")
            continue
        if gid and nbg(cell).get("grade"):
            flags.append(f"added grade cell {gid!r} ignored (run as an ordinary cell)")
        if cell.cell_type in ("code", "markdown"):
            candidates.append((cell, last_known))

    recovered, unused = recover_answers(source, rel_ids, candidates, answers, stub_at)
    for cell, anchor in candidates:
        if cell.cell_type == "code" and not any(cell is c for cs in answers.values() for c in cs):
            extras.setdefault(anchor, []).append(cell)
    if recovered:
        flags.append("answers recovered without nbgrader metadata, please check: " + ", ".join(recovered))
        seen.update(g for g in answers)
    if unused:
        flags.append("answers defined only above their untouched stub, which replaces them when the notebook runs "
                     "top to bottom, were not used: " + ", ".join(unused))

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
            for text in [c.source for c in answers[gid]] if gid in answers else [stub]:
                add(text, {"role": "answer", "grade_id": gid})
        elif meta.get("solution"):  # a written answer, graded by hand
            # The student's answer, else the released prompt, else nothing: never the source's text,
            # which is the model answer (it would be shown as the student's own).
            text = ("\n\n".join(c.source for c in answers[gid]) if gid in answers
                    else rel_ids[gid].source if gid in rel_ids else "")
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
