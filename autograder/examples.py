"""Example submissions made from the course's own files, for the demo and the end-to-end tests.

* ``reference``: the student notebook with every answer filled in from the source's solutions;
* ``blank``: the student notebook as released;
* ``partly_wrong``: the reference with two answers made wrong: the first two graded functions
  return a result that is off (numbers nudged), generated here from the reference, so grading
  never reads the test suite's files.

They are generated, not committed, so they can never drift from the notebooks.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from autograder.assemble import nbg
from autograder.course import Course

_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.M)


def solution_text(source_cell_text: str) -> str:
    """A solution cell as a student would have written it: the nbgrader markers removed."""
    return _MARKERS.sub("", source_cell_text)


def with_answers(release: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(release)
    for cell in nb.cells:
        gid = nbg(cell).get("grade_id")
        if nbg(cell).get("solution") and gid in answers:
            cell.source = answers[gid]
    return nb


def reference(course: Course, assignment: str) -> nbformat.NotebookNode:
    source = nbformat.read(course.source(assignment), as_version=4)
    release = nbformat.read(course.release(assignment), as_version=4)
    answers = {nbg(c)["grade_id"]: solution_text(c.source) for c in source.cells if nbg(c).get("solution")}
    return with_answers(release, answers)


_NUDGE = """

_reference_{name} = {name}


def _nudged(value):
    import numpy as _np
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, _np.ndarray) and value.dtype.kind in "iuf":
        return value + 1
    if isinstance(value, _np.ndarray) and value.dtype.kind == "b":
        return ~value
    if hasattr(value, "detach") and hasattr(value, "is_floating_point"):  # a torch tensor
        import torch as _torch
        return ~value if value.dtype == _torch.bool else value + 1
    if isinstance(value, (tuple, list)):
        return type(value)(_nudged(v) for v in value)
    return value


def {name}(*args, **kwargs):
    return _nudged(_reference_{name}(*args, **kwargs))
"""


def wrong_answers(course: Course, assignment: str, n: int = 2) -> dict[str, str]:
    """grade_id -> a wrong answer for the first ``n`` answer cells that define a function: the
    reference, wrapped so that every number it returns is off by one."""
    source = nbformat.read(course.source(assignment), as_version=4)
    picked: dict[str, str] = {}
    for c in source.cells:
        meta = nbg(c)
        if not (meta.get("solution") and c.cell_type == "code"):
            continue
        text = solution_text(c.source)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        fns = [s.name for s in tree.body if isinstance(s, ast.FunctionDef)]
        if fns != [meta.get("grade_id")]:
            continue
        picked[meta["grade_id"]] = text + _NUDGE.format(name=fns[0])
        if len(picked) == n:
            break
    return picked


def write_examples(course: Course, assignment: str, dest: Path) -> dict[str, Path]:
    """Write reference, blank and partly_wrong submissions as ``dest/<name>/<assignment>.ipynb``."""
    release = nbformat.read(course.release(assignment), as_version=4)
    ref = reference(course, assignment)
    made = {"reference": ref, "blank": release}
    wrong = wrong_answers(course, assignment)
    if wrong:
        made["partly_wrong"] = with_answers(ref, wrong)
    paths = {}
    for name, nb in made.items():
        p = dest / name / f"{assignment}.ipynb"
        p.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, p)
        paths[name] = p
    return paths
