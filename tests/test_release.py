"""The committed notebooks are exactly what the tools make from the module scripts."""
from __future__ import annotations

import json

import nbformat
import pytest

from autograder.authoring import build_notebook, parse_script
from autograder.course import Course
from autograder.release import release, validate

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


@pytest.mark.notebooks
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_passes_nbgrader_validation(assignment):
    assert validate(COURSE.source(assignment)) == []
