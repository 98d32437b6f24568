"""Submissions that lost their nbgrader metadata (VS Code, cells deleted and recreated, a round trip
through a tool that drops cell metadata) still grade: assembly recognises answer cells by the
names they define and unchanged release cells by their content, and flags the submission.

The assembly cases run on the real Module 1 source and release without executing anything; one
real `course-grader grade` run of a metadata-stripped reference checks the whole path."""
from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from autograder.assemble import _norm, assemble, defined_names, nbg
from autograder.course import Course
from autograder.examples import reference, solution_text

COURSE = Course()
A = "m1_neurons"
FLAG = "answers recovered without nbgrader metadata"


@pytest.fixture(scope="module")
def m1():
    source = nbformat.read(COURSE.source(A), as_version=4)
    release = nbformat.read(COURSE.release(A), as_version=4)
    return source, release, reference(COURSE, A)


def copy(nb):
    return nbformat.from_dict(json.loads(json.dumps(nb)))


def stripped(nb):
    """Every cell's metadata removed, as a tool that does not know nbgrader leaves it."""
    nb = copy(nb)
    for c in nb.cells:
        c.metadata = {}
    return nb


def jupytext_like(nb):
    """A round trip through a text format: no cell metadata, no outputs, and the whitespace such
    tools rewrite (a trailing newline, trailing spaces, a blank line before the text)."""
    nb = stripped(nb)
    for c in nb.cells:
        c.source = "\n" + "\n".join(line + "  " for line in c.source.splitlines()) + "\n"
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    return nb


def cells(result):
    """(role, grade id, source) of every cell of an assembled notebook."""
    return [(c.metadata["grader"]["role"], c.metadata["grader"].get("grade_id"), c.source) for c in result.notebook.cells]


def same_text(rows):
    return [(role, gid, "\n".join(line.rstrip() for line in text.strip().splitlines())) for role, gid, text in rows]


def answer_of(result, gid):
    return [c.source for c in result.notebook.cells if c.metadata["grader"].get("role") == "answer"
            and c.metadata["grader"].get("grade_id") == gid]


def idx(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if nbg(c).get("grade_id") == gid)


def sol(source, gid):
    return solution_text(source.cells[idx(source, gid)].source)


def recovery_flag(result) -> str:
    found = [f for f in result.flags if f.startswith(FLAG)]
    assert len(found) == 1, result.flags
    return found[0]


@pytest.mark.parametrize("damage", [stripped, jupytext_like], ids=["all_metadata_stripped", "jupytext_like_round_trip"])
def test_a_notebook_without_metadata_assembles_like_the_reference(m1, damage):
    source, release, ref = m1
    want = assemble(source, release, ref)
    got = assemble(source, release, damage(ref))
    assert same_text(cells(got)) == same_text(cells(want))   # answers keep the student's own whitespace
    assert [t.grade_id for t in got.tests] == [t.grade_id for t in want.tests]
    flag = recovery_flag(got)
    assert flag == got.flags[0] and len(got.flags) == 1, got.flags   # no "missing" or "edited" flags beside it
    for gid in ("neuron", "sigmoid", "train_xor", "q_xor_why"):
        assert gid in flag
    assert "q1 (defines q1_answer)" not in flag and "q1_answer" in flag


def test_a_blank_without_metadata_is_the_blank_and_not_flagged(m1):
    source, release, _ = m1
    got = assemble(source, release, stripped(release))
    assert cells(got) == cells(assemble(source, release, release)) and got.flags == []


def test_cells_recreated_without_metadata(m1):
    """Two answer cells deleted and written again in new cells (no metadata); the rest intact."""
    source, release, ref = m1
    nb = copy(ref)
    for gid in ("sigmoid", "q2_answer"):
        i = idx(nb, gid)
        nb.cells[i] = nbformat.v4.new_code_cell(nb.cells[i].source)
    got = assemble(source, release, nb)
    assert cells(got) == cells(assemble(source, release, ref))
    flag = recovery_flag(got)
    assert "sigmoid" in flag and "q2_answer" in flag and "tanh" not in flag


def test_new_cell_below_an_untouched_stub_replaces_the_stub(m1):
    """The stub left as released (metadata kept) and the answer written in a new cell under it."""
    source, release, _ = m1
    nb = copy(release)
    nb.cells.insert(idx(nb, "relu") + 1, nbformat.v4.new_code_cell(sol(source, "relu")))
    got = assemble(source, release, nb)
    assert answer_of(got, "relu") == [sol(source, "relu")]
    assert "relu" in recovery_flag(got)


def test_a_new_cell_above_an_untouched_stub_loses_to_the_stub(m1):
    """As when the notebook runs top to bottom, the stub below redefines the function: the answer
    above it is not used, and a flag says so."""
    source, release, _ = m1
    nb = stripped(release)
    nb.cells.insert(idx(release, "relu"), nbformat.v4.new_code_cell(sol(source, "relu")))
    got = assemble(source, release, nb)
    assert answer_of(got, "relu") == [release.cells[idx(release, "relu")].source]
    assert not any(f.startswith(FLAG) for f in got.flags)
    assert any("above their untouched stub" in f and f.endswith(": relu") for f in got.flags), got.flags


def test_cells_reordered(m1):
    """Answer cells moved: sigmoid's below tanh's, relu's to the very end; each fills its own slot."""
    source, release, ref = m1
    nb = stripped(ref)
    sig = nb.cells.pop(idx(ref, "sigmoid"))
    nb.cells.insert(idx(ref, "tanh"), sig)      # now after tanh's answer (indices shifted by the pop)
    relu = nb.cells.pop(next(i for i, c in enumerate(nb.cells) if c.source == ref.cells[idx(ref, "relu")].source))
    nb.cells.append(relu)
    got = assemble(source, release, nb)
    assert cells(got) == cells(assemble(source, release, ref))
    recovery_flag(got)


def test_a_cell_split_in_two(m1):
    """A helper in one cell, the graded function in the next: the function fills the slot and the
    helper runs just before it, as an added cell."""
    source, release, ref = m1
    nb = stripped(ref)
    i = idx(ref, "sigmoid")
    helper = "def _exp_neg(z):\n    return np.exp(-z)"
    fn = "def sigmoid(z):\n    return 1.0 / (1.0 + _exp_neg(z))"
    nb.cells[i:i + 1] = [nbformat.v4.new_code_cell(helper), nbformat.v4.new_code_cell(fn)]
    got = assemble(source, release, nb)
    assert answer_of(got, "sigmoid") == [fn]
    c = cells(got)
    slot = next(k for k, x in enumerate(c) if x[:2] == ("answer", "sigmoid"))
    assert c[slot - 1] == ("student-extra", None, helper)
    assert [x for x in c if x[0] == "student-extra"] == [c[slot - 1]]
    assert "sigmoid" in recovery_flag(got)


def test_one_cell_defining_two_graded_functions(m1):
    """sigmoid and tanh in one cell: it fills sigmoid's slot, and tanh's slot runs no stub over its
    tanh (the definition made with sigmoid stands)."""
    source, release, ref = m1
    nb = stripped(ref)
    both = sol(source, "sigmoid") + "\n\n\n" + sol(source, "tanh")
    nb.cells[idx(ref, "sigmoid")] = nbformat.v4.new_code_cell(both)
    del nb.cells[idx(ref, "tanh")]
    got = assemble(source, release, nb)
    assert answer_of(got, "sigmoid") == [both]
    (tanh_slot,) = answer_of(got, "tanh")
    assert "NotImplementedError" not in tanh_slot and defined_names(tanh_slot) == []
    assert "also in the cell recovered for 'sigmoid'" in recovery_flag(got)


@pytest.mark.parametrize("last_is_right", [True, False])
def test_duplicates_the_last_definition_wins(m1, last_is_right):
    """Two cells define sigmoid: the later one is the answer, as when the notebook runs top to bottom."""
    source, release, ref = m1
    nb = stripped(ref)
    right, wrong = sol(source, "sigmoid"), "def sigmoid(z):\n    return z"
    first, second = (wrong, right) if last_is_right else (right, wrong)
    i = idx(ref, "sigmoid")
    nb.cells[i:i + 1] = [nbformat.v4.new_code_cell(first), nbformat.v4.new_code_cell(second)]
    got = assemble(source, release, nb)
    assert answer_of(got, "sigmoid") == [second]
    assert ("student-extra", None, first) in cells(got)   # the earlier one still runs where it was, before the slot
    assert "sigmoid defined more than once: the last definition was used" in recovery_flag(got)


def test_a_cell_never_fills_a_slot_of_another_name(m1):
    """A blank without metadata where one cell defines relu correctly and another cell defines only
    a helper named like nothing graded: only relu's slot is filled; every other slot keeps its stub,
    and a renamed function (sigmoid written as `sigmoid_v2`) fills nothing."""
    source, release, _ = m1
    blank = assemble(source, release, release)
    nb = stripped(release)
    nb.cells.insert(idx(release, "sigmoid"), nbformat.v4.new_code_cell("def sigmoid_v2(z):\n    return 1 / (1 + np.exp(-z))"))
    nb.cells.append(nbformat.v4.new_code_cell(sol(source, "relu")))
    got = assemble(source, release, nb)
    for (role, gid, text), (brole, bgid, btext) in zip([x for x in cells(got) if x[0] != "student-extra"], cells(blank)):
        assert (role, gid) == (brole, bgid)
        assert text == (sol(source, "relu") if (role, gid) == ("answer", "relu") else btext)
    assert recovery_flag(got).endswith(": relu")


def test_test_and_locked_cells_always_come_from_the_source(m1):
    """Without metadata, an edited copy of a test or locked cell is only ever an added cell: the
    source's test runs; a cell defining a graded name is only ever an answer, never a test."""
    source, release, ref = m1
    nb = stripped(ref)
    t = idx(ref, "test_sigmoid")
    nb.cells[t].source = "pass  # the test, emptied"
    k = idx(ref, "cell-027")
    nb.cells[k].source = "def sigmoid(z):\n    return z  # a locked cell turned into a second answer"
    got = assemble(source, release, nb)
    want = assemble(source, release, ref)
    real = [x for x in cells(got) if x[0] not in ("student-extra", "answer")]
    assert real == [x for x in cells(want) if x[0] not in ("student-extra", "answer")]
    assert ("student-extra", None, "pass  # the test, emptied") in cells(got)
    # The later definition in the (edited) locked cell's place wins, and it is an answer, not run as locked.
    assert answer_of(got, "sigmoid") == ["def sigmoid(z):\n    return z  # a locked cell turned into a second answer"]
    assert "sigmoid defined more than once" in recovery_flag(got)
    for role, gid, text in cells(got):
        if role in ("test", "locked"):
            assert text in source.cells[idx(source, gid)].source


def test_defined_names():
    assert defined_names("import numpy as np\nx, (y, z) = 1, (2, 3)\nclass A: pass\n%time f = 1\n"
                         "def f():\n    inner = 1\ntry:\n    g = 2\nexcept Exception:\n    h = 3") == \
        ["np", "x", "y", "z", "A", "f", "g", "h"]
    assert defined_names("def broken(:") == []


@pytest.mark.notebooks
def test_a_stripped_reference_grades_full_with_the_flag(tmp_path, m1):
    """One real grade run: Module 1's reference with every cell's metadata removed gets full marks,
    status graded-with-flags, and the recovery flag."""
    from autograder.cli import main
    from autograder.gradebook import Gradebook

    source, _, ref = m1
    root = tmp_path / "course"
    for part in ("solutions", "notebooks"):
        shutil.copytree(getattr(COURSE, part) / A, root / part / A)
    subs = tmp_path / "subs" / "stripped"
    subs.mkdir(parents=True)
    nbformat.write(stripped(ref), subs / f"{A}.ipynb")
    assert main(["--root", str(root), "grade", A, str(tmp_path / "subs"), "--jobs", "1"]) == 0
    (row,) = Gradebook(Course(root).gradebook_path).rows(A)
    full = sum(float(nbg(c)["points"]) for c in source.cells if nbg(c).get("grade") and c.cell_type == "code")
    assert row["status"] == "graded-with-flags" and row["score"] == full, row
    assert any(f.startswith(FLAG) for f in row["flags"]), row["flags"]


def test_a_pasted_copy_of_the_stub_above_the_answer_does_not_hide_the_answer(m1):
    """Copy/paste keeps nbgrader metadata: the released stub pasted above the real answer cell gives
    two cells with one grade id. The answer below must still run after the stub (as the notebook
    runs top to bottom), not be dropped; a flag says what happened."""
    source, release, ref = m1
    nb = copy(ref)
    stub = copy(release).cells[idx(release, "sigmoid")]
    stub.id = "pasted-stub"   # Jupyter gives a pasted cell a new id, and keeps its metadata
    nb.cells.insert(idx(ref, "sigmoid"), stub)
    got = assemble(source, release, nb)
    answer = ref.cells[idx(ref, "sigmoid")].source
    c = cells(got)
    runs = [k for k, (role, _, text) in enumerate(c) if text == answer and role in ("answer", "student-extra")]
    stub = release.cells[idx(release, "sigmoid")].source
    test = next(k for k, x in enumerate(c) if x[:2] == ("test", "test_sigmoid"))
    assert runs and runs[-1] < test, c                       # the real answer is the last sigmoid before its test
    assert all(k < runs[-1] for k, x in enumerate(c) if x[2] == stub)
    assert any("'sigmoid' appears more than once" in f for f in got.flags), got.flags


def test_a_pasted_copy_of_a_written_answer_keeps_the_student_text(m1):
    source, release, ref = m1
    nb = copy(ref)
    i = idx(ref, "q_xor_why")
    mine = "My own words: one line cannot separate XOR."
    nb.cells[i].source = mine
    prompt = copy(release).cells[idx(release, "q_xor_why")]
    prompt.id = "pasted-prompt"
    nb.cells.insert(i, prompt)
    got = assemble(source, release, nb)
    (written,) = [t for role, gid, t in cells(got) if role == "written" and gid == "q_xor_why"]
    assert mine in written
    assert any("'q_xor_why' appears more than once" in f for f in got.flags), got.flags


def test_a_written_answer_missing_from_the_release_is_never_the_model_answer(m1):
    """A written question added to the source after release: the submission has no cell for it.
    The assembled written answer must be empty, not the source's model answer (which feedback would
    show to the student and the marker would read as the student's own)."""
    source, release, ref = m1
    rel, nb = copy(release), copy(ref)
    del rel.cells[idx(rel, "q_xor_why")]
    del nb.cells[idx(nb, "q_xor_why")]
    got = assemble(source, rel, nb)
    model = _norm(source.cells[idx(source, "q_xor_why")].source)
    (written,) = [t for role, gid, t in cells(got) if role == "written" and gid == "q_xor_why"]
    assert model and model not in _norm(written) and written == ""
    assert any("'q_xor_why' is missing" in f for f in got.flags), got.flags


def test_a_deeply_nested_added_cell_binds_nothing_and_assembles(m1):
    """`x = ----...1` exhausts Python's parser (MemoryError or RecursionError, not SyntaxError):
    such a cell added to the reference must not stop assembly (a failed-to-grade full marks)."""
    deep = "x = " + "-" * 200000 + "1"
    assert defined_names(deep) == []
    source, release, ref = m1
    nb = copy(ref)
    nb.cells.insert(idx(ref, "sigmoid") + 1, nbformat.v4.new_code_cell(deep))
    got = assemble(source, release, nb)
    assert ("student-extra", "sigmoid", deep) in [(r, c.metadata["grader"].get("after"), t) for (r, _, t), c
                                                   in zip(cells(got), got.notebook.cells)]
    assert answer_of(got, "sigmoid") == [ref.cells[idx(ref, "sigmoid")].source]


@pytest.mark.notebooks
def test_tiny_course_pasted_stub_and_deeply_nested_cell_grade_full(tmp_path, tiny_course):
    """One real grade run on the tiny course: the reference with the released stub of an answer
    pasted above the real answer cell (same metadata), and the reference with a cell the parser
    cannot nest that deep, both get full marks (they were 4/6 and failed-to-grade)."""
    from autograder.cli import main
    from autograder.gradebook import Gradebook

    ref = reference(tiny_course, "t_tiny")
    release = nbformat.read(tiny_course.release("t_tiny"), as_version=4)
    i = next(k for k, c in enumerate(ref.cells) if nbg(c).get("solution") and c.cell_type == "code")
    gid = nbg(ref.cells[i])["grade_id"]
    pasted, deep = copy(ref), copy(ref)
    stub = copy(release).cells[idx(release, gid)]
    stub.id = "pasted-stub"   # Jupyter gives a pasted cell a new id, and keeps its metadata
    pasted.cells.insert(i, stub)
    deep.cells.insert(i + 1, nbformat.v4.new_code_cell("x = " + "-" * 200000 + "1"))
    for name, nb in (("pasted", pasted), ("deep", deep)):
        (tmp_path / "subs" / name).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "subs" / name / "t_tiny.ipynb")
    ws = tmp_path / "ws"
    assert main(["--root", str(tiny_course.root), "--workspace", str(ws), "grade", "t_tiny",
                 str(tmp_path / "subs"), "--jobs", "1"]) == 0
    rows = {r["student"]: r for r in Gradebook(ws / "gradebook.db").rows("t_tiny")}
    for name in ("pasted", "deep"):
        assert rows[name]["score"] == rows[name]["max_score"] > 0, rows[name]
    assert any(f"{gid!r} appears more than once" in f for f in rows["pasted"]["flags"]), rows["pasted"]["flags"]
