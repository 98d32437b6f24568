"""Example submissions made from the course's own files, for the demo and the end-to-end tests.

* ``reference``: the student notebook with every answer filled in from the source's solutions;
* ``blank``: the student notebook as released;
* ``partly_wrong``: the reference with two answers replaced by realistic mistakes, taken from
  ``tests/variants/<id>.py`` (the same mistakes the test suite proves are caught).

They are generated, not committed, so they can never drift from the notebooks.
"""
from __future__ import annotations

import importlib.util
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


def wrong_answers(course: Course, assignment: str, n: int = 2) -> dict[str, str]:
    path = course.root / "tests" / "variants" / f"{assignment}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"variants_{assignment}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    picked = {}
    for gid, variants in getattr(mod, "WRONG", {}).items():
        if gid not in getattr(mod, "FAILS", {}):
            picked[gid] = next(iter(variants.values()))
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
