"""Assemble: the notebook that is actually run, built from the trusted source.

Only the student's *answers* come from the submission: the autograded answer cells (by grade id)
and any extra code cells the student added (kept in place, since they may hold helpers). Every
test cell, locked cell and all metadata come from the instructor's source, so edited, deleted,
renamed or added test cells change nothing but a flag. Outputs in the submission are dropped.

Each test cell is split in two, its visible part and its hidden part, so feedback can show the
first and withhold the second. After each test a *canary* runs: it must print a fresh nonce and
then fail with another. If a submission has patched the comparison functions, the course's check
helpers, IPython's input transformers, tracing or exception handling, a canary shows it, and the
test before it earns nothing.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

import nbformat

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


def nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


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
    nonce_out: str
    nonce_err: str


@dataclass
class Assembled:
    notebook: nbformat.NotebookNode
    tests: list[TestSpec]
    manual: dict[str, float]
    flags: list[str] = field(default_factory=list)


def _baseline_cell(token: str) -> str:
    return f"""# grader: baseline of the interpreter's hooks, taken before any student code runs
def _grader_state_{token}():
    import sys
    ip = get_ipython()
    return (len(ip.input_transformers_cleanup), len(ip.input_transformers_post), len(ip.ast_transformers),
            sys.gettrace() is None, ip.custom_exceptions)
_grader_base_{token} = _grader_state_{token}()"""


def _canary_cell(token: str, nonce_out: str, nonce_err: str) -> str:
    return f"""# grader: integrity check; it must print and then fail
def _grader_canary():
    import math, sys
    import numpy as np
    bad = []
    def wrong(name, call):
        try:
            call()
        except AssertionError:
            return
        except Exception:
            return
        bad.append(name)
    if bool(np.allclose(np.zeros(3), np.ones(3))): bad.append("numpy.allclose")
    if bool(np.isclose(0.0, 1.0)): bad.append("numpy.isclose")
    if bool(np.array_equal(np.zeros(2), np.ones(2))): bad.append("numpy.array_equal")
    if bool(math.isclose(0.0, 1.0)): bad.append("math.isclose")
    wrong("numpy.testing.assert_allclose", lambda: np.testing.assert_allclose(0.0, 1.0))
    wrong("numpy.testing.assert_array_equal", lambda: np.testing.assert_array_equal([0], [1]))
    torch = sys.modules.get("torch")
    if torch is not None:
        if bool(torch.allclose(torch.zeros(2), torch.ones(2))): bad.append("torch.allclose")
        wrong("torch.testing.assert_close", lambda: torch.testing.assert_close(torch.zeros(2), torch.ones(2)))
    checks = sys.modules.get("course_utils.checks")
    if checks is not None:
        wrong("course_utils.check_close", lambda: checks.check_close("c", np.zeros(2), np.ones(2)))
        wrong("course_utils.check_equal", lambda: checks.check_equal("c", 1, 2))
        wrong("course_utils.check_true", lambda: checks.check_true(False, "c"))
        wrong("course_utils.check_shape", lambda: checks.check_shape("c", np.zeros(2), (3,)))
    gc = sys.modules.get("course_utils.gradcheck")
    if gc is not None:
        wrong("course_utils.grad_check", lambda: gc.grad_check("c", np.zeros(2), lambda x: (x ** 2).sum(), np.ones(2), verbose=False))
    wrong("assert statement", lambda: exec("assert False"))
    state = _grader_state_{token}()
    if state[:3] != _grader_base_{token}[:3]: bad.append("IPython input/AST transformers")
    if not state[3]: bad.append("sys.settrace")
    if state[4] != _grader_base_{token}[4]: bad.append("IPython custom exception handler")
    return bad
print("{nonce_out}", _grader_canary())
raise AssertionError("{nonce_err}")"""


def assemble(source: nbformat.NotebookNode, release: nbformat.NotebookNode, submission: nbformat.NotebookNode) -> Assembled:
    """Build the notebook to run from the source, taking only answers from the submission."""
    flags: list[str] = []
    src_ids = {nbg(c).get("grade_id"): c for c in source.cells if nbg(c).get("grade_id")}
    rel_ids = {nbg(c).get("grade_id"): c for c in release.cells if nbg(c).get("grade_id")}

    # Walk the submission: answers by grade id, and extra cells attached to the known cell before them.
    answers: dict[str, nbformat.NotebookNode] = {}
    extras: dict[str | None, list] = {}
    last_known: str | None = None
    seen: set[str] = set()
    for cell in submission.cells:
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

    for gid, sc in src_ids.items():
        meta = nbg(sc)
        if gid not in seen and (meta.get("grade") or meta.get("solution")):
            what = "answer" if meta.get("solution") else "test"
            flags.append(f"{what} cell {gid!r} is missing from the submission" + ("" if meta.get("solution") else ": restored"))

    token = secrets.token_hex(4)
    out = nbformat.v4.new_notebook(metadata=source.metadata)
    tests: list[TestSpec] = []
    manual: dict[str, float] = {}

    def add(src: str, role: dict, cell_type: str = "code") -> None:
        cell = nbformat.v4.new_code_cell(src) if cell_type == "code" else nbformat.v4.new_markdown_cell(src)
        cell.metadata = {"grader": role}
        out.cells.append(cell)

    add(_baseline_cell(token), {"role": "baseline"})
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
            manual[gid] = float(meta.get("points", 0))
        elif meta.get("grade") and sc.cell_type == "code":
            visible, hidden = split_hidden(sc.source)
            spec = TestSpec(gid, float(meta.get("points", 0)), bool(hidden.strip()),
                            secrets.token_hex(8), secrets.token_hex(8))
            add(visible or "pass", {"role": "test", "grade_id": gid, "part": "visible"})
            if spec.has_hidden:
                add(hidden, {"role": "test", "grade_id": gid, "part": "hidden"})
            add(_canary_cell(token, spec.nonce_out, spec.nonce_err), {"role": "canary", "grade_id": gid})
            tests.append(spec)
        elif sc.cell_type == "code":
            add(sc.source, {"role": "locked", "grade_id": gid})
        else:
            add(sc.source, {"role": "markdown", "grade_id": gid}, cell_type="markdown")
        for cell in extras.pop(gid, []):
            add(cell.source, {"role": "student-extra", "after": gid})
    return Assembled(out, tests, manual, flags)
