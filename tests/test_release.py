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
def test_source_notebook_passes_nbgrader_validation():
    """nbgrader's own validator accepts the course's source format (it re-executes the notebook,
    hidden tests included). One module proves the format; that every module's cells, hidden tests
    included, run and print what they printed is nbval's job (`make nbval`), which runs them all."""
    assert validate(COURSE.source("m1_neurons")) == []


# ---------------------------------------------------------------------------------------------
# what release adds for students: the Colab link, the install cell, stubs that say what to do

EDITION = COURSE.edition


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_notebook_installs_course_utils_from_the_student_edition(assignment):
    from autograder.release import colab_link, install_cell

    nb = nbformat.read(COURSE.release(assignment), as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert install_cell(EDITION) in first_code.source
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    assert first_md.source.startswith(colab_link(EDITION, assignment))
    assert EDITION.colab_url(assignment).endswith(f"/notebooks/{assignment}/{assignment}.ipynb")
    # the only place anything is installed from is the student edition
    text = nbformat.writes(nb)
    assert text.count("git+") == text.count(EDITION.requirement) == 1


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_answers_name_the_function_to_write(assignment):
    import ast

    nb = nbformat.read(COURSE.release(assignment), as_version=4)
    for c in nb.cells:
        if c.cell_type != "code" or not c.metadata.get("nbgrader", {}).get("solution"):
            continue
        for node in ast.walk(ast.parse(c.source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for r in [n for n in ast.walk(node) if isinstance(n, ast.Raise)]:
                    if isinstance(r.exc, ast.Call) and getattr(r.exc.func, "id", "") == "NotImplementedError":
                        msg = ast.literal_eval(r.exc.args[0]) if r.exc.args else ""
                        assert msg.startswith("implement ") and msg.endswith(" above, then run this test"), c.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_nbgrader_checksums_match_the_released_cells(assignment):
    """The cells release changed after nbgrader carry checksums nbgrader's validator accepts."""
    from nbgrader.utils import compute_checksum

    nb = nbformat.read(COURSE.release(assignment), as_version=4)
    bad = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
           if "checksum" in c.metadata.get("nbgrader", {}) and compute_checksum(c) != c.metadata["nbgrader"]["checksum"]]
    assert bad == []


def test_stub_names_functions_and_methods_and_leaves_top_level_stubs():
    from autograder.release import named_stubs

    src = ("class Net:\n    def __init__(self):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n\n"
           "def f(x):\n    raise NotImplementedError()\n\nq1_answer = None\n# YOUR CODE HERE\nraise NotImplementedError()")
    out = named_stubs(src)
    assert 'raise NotImplementedError("implement Net.__init__ above, then run this test")' in out
    assert 'raise NotImplementedError("implement f above, then run this test")' in out
    assert out.endswith("\nraise NotImplementedError()")


def test_install_cell_without_network_says_what_failed_and_what_to_do(tmp_path):
    """Where course_utils does not import and pip cannot reach anything, the first cell prints one clear
    message (what failed, what pip said, what to do) and no traceback."""
    import os
    import subprocess
    import sys
    from dataclasses import replace

    from autograder.release import install_cell

    cell = install_cell(replace(EDITION, package="n2t-course-utils-not-on-any-index==0.0.1"))
    driver = tmp_path / "driver.py"
    driver.write_text(f"""
import importlib.abc, sys
class NoCourseUtils(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "course_utils":
            raise ModuleNotFoundError("No module named 'course_utils'", name="course_utils")
sys.meta_path.insert(0, NoCourseUtils())
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance(colors="NoColor")
result = shell.run_cell({cell!r})
print("SUCCESS" if result.success else "FAILED:" + type(result.error_in_exec).__name__)
""")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path), "PIP_CONFIG_FILE": os.devnull}
    out = subprocess.run([sys.executable, str(driver)], capture_output=True, text=True, env=env, timeout=300)
    text = out.stdout + out.stderr
    assert "FAILED:CourseUtilsNotInstalled" in text, text
    assert "Could not install course_utils" in text and "What to do" in text and "n2t-course-utils-not-on-any-index" in text
    assert "Traceback" not in text and "File \"" not in text, text
