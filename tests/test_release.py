"""The committed notebooks are exactly what the tools make from the module scripts."""
from __future__ import annotations

import json

import nbformat
import pytest

from autograder.authoring import build_notebook, parse_script
from autograder.course import Course
from autograder.release import release, strip_student_notebook, validate

COURSE = Course()
ASSIGNMENTS = COURSE.assignments()


def _strip(nb):
    """Cells as nbgrader sees them: type, source, metadata; outputs and counts aside."""
    return [(c.cell_type, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]


def test_there_are_modules():
    assert ASSIGNMENTS and ASSIGNMENTS[0].startswith("m1_")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_matches_its_script(assignment):
    built = build_notebook(parse_script(COURSE.script(assignment)))
    committed = nbformat.read(COURSE.source(assignment), as_version=4)
    assert _strip(committed) == _strip(built), f"run `course-grader build {assignment}`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_is_committed_executed(assignment):
    nb = nbformat.read(COURSE.source(assignment), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"run `course-grader build {assignment}` (it executes)"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_is_what_nbgrader_generates(assignment, tmp_path):
    fresh = release(COURSE, assignment, out_root=tmp_path)
    a = nbformat.read(fresh, as_version=4)
    b = nbformat.read(COURSE.release(assignment), as_version=4)
    assert nbformat.writes(a) == nbformat.writes(b), f"run `course-grader release {assignment}`"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_has_no_solutions_or_hidden_tests(assignment):
    text = COURSE.release(assignment).read_text()
    assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text
    nb = nbformat.read(COURSE.release(assignment), as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")


LEAKS = ("application/vnd.jupyter.widget-state+json", "application/vnd.jupyter.widget-view+json",
         "image/png", "image/jpeg", "image/svg+xml", "data:image/")


def leaks_in_student_notebook(nb: nbformat.NotebookNode) -> list[str]:
    """What a student notebook must not carry: widget state, outputs, images (empty: clean)."""
    problems = []
    if "widgets" in nb.metadata:
        problems.append("notebook metadata holds ipywidgets state ('widgets')")
    for i, c in enumerate(nb.cells):
        if "widgets" in c.get("metadata", {}):
            problems.append(f"cell {i}: metadata holds widget state")
        if c.get("attachments"):
            problems.append(f"cell {i}: has attachments")
        if c.cell_type == "code" and c.get("outputs"):
            problems.append(f"cell {i}: has outputs")
    text = nbformat.writes(nb)
    problems += [f"the file contains {m!r}" for m in LEAKS if m in text]
    return problems


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_has_no_widget_state_or_images(assignment):
    nb = nbformat.read(COURSE.release(assignment), as_version=4)
    assert leaks_in_student_notebook(nb) == [], f"run `course-grader release {assignment}`"


def test_leak_check_catches_widget_state_and_images():
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    assert leaks_in_student_notebook(nb) == []
    leaky = nbformat.from_dict(json.loads(nbformat.writes(nb)))
    leaky.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    assert leaks_in_student_notebook(leaky)
    leaky = nbformat.from_dict(json.loads(nbformat.writes(nb)))
    leaky.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    assert leaks_in_student_notebook(leaky)


def test_release_strips_widget_state():
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"a": {}}}}
    cell = nbformat.v4.new_code_cell("x = 1", execution_count=3)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})]
    nb.cells.append(cell)
    assert leaks_in_student_notebook(strip_student_notebook(nb)) == []


@pytest.mark.notebooks
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_passes_nbgrader_validation(assignment):
    assert validate(COURSE.source(assignment)) == []
