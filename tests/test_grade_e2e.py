"""End to end through the real grade command, on every module: the reference gets full marks, the
blank gets 0, a submission with two wrong answers loses exactly those answers' points; the CSV and
the feedback follow. Plus, on the tiny fixture: regrading is stable and parallel grading agrees."""
from __future__ import annotations

import csv
import importlib.util

import nbformat
import pytest

from autograder.assemble import nbg
from autograder.cli import main
from autograder.course import Course
from autograder.examples import wrong_answers, write_examples
from autograder.feedback import secret_lines, secrets_for
from autograder.gradebook import Gradebook

pytestmark = pytest.mark.notebooks
COURSE = Course()


def points(course: Course, assignment: str) -> dict[str, float]:
    nb = nbformat.read(course.source(assignment), as_version=4)
    return {nbg(c)["grade_id"]: float(nbg(c)["points"]) for c in nb.cells
            if nbg(c).get("grade") and c.cell_type == "code"}


def grade_examples(course: Course, assignment: str, tmp_path, jobs: int = 1) -> dict[str, dict]:
    write_examples(course, assignment, tmp_path / "subs")
    assert main(["--root", str(course.root), "grade", assignment, str(tmp_path / "subs"), "--jobs", str(jobs)]) == 0
    return {r["student"]: r for r in Gradebook(course.gradebook_path).rows(assignment)}


def _declared_fails(course: Course, assignment: str) -> dict[str, list[str]]:
    path = course.root / "tests" / "variants" / f"{assignment}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"variants_{assignment}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, "FAILS", {})


def check_examples(course: Course, assignment: str, rows: dict[str, dict], tmp_path) -> None:
    pts = points(course, assignment)
    full = sum(pts.values())
    assert rows["reference"]["status"] == "graded", rows["reference"]
    assert rows["reference"]["score"] == full
    assert rows["blank"]["status"] == "graded" and rows["blank"]["score"] == 0
    wrong = wrong_answers(course, assignment)
    # A wrong answer fails its own test, and may fail the tests that its variants file says build
    # on it (FAILS); never any other, and the score loses exactly the points of what failed.
    may_fail = set()
    for gid in wrong:
        may_fail |= set(_declared_fails(course, assignment).get(gid, [f"test_{gid}"]))
    failed = {t["grade_id"] for t in rows["partly_wrong"]["detail"]["tests"] if t["outcome"] != "passed"}
    assert {f"test_{gid}" for gid in wrong} <= failed <= may_fail, rows["partly_wrong"]["detail"]["tests"]
    assert rows["partly_wrong"]["score"] == full - sum(pts[t] for t in failed), rows["partly_wrong"]["detail"]["tests"]

    out = tmp_path / "grades.csv"
    assert main(["--root", str(course.root), "export", "--assignment", assignment, "--out", str(out)]) == 0
    csv_rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert float(csv_rows["reference"]["score"]) == full and float(csv_rows["blank"]["score"]) == 0

    assert main(["--root", str(course.root), "feedback", assignment, "--out", str(tmp_path / "fb")]) == 0
    source = nbformat.read(course.source(assignment), as_version=4)
    release = nbformat.read(course.release(assignment), as_version=4)
    assert secret_lines(source, release), "the module has no hidden tests?"
    for name in ("reference", "blank", "partly_wrong"):
        graded = Gradebook(course.gradebook_path).notebook(assignment, name)
        secrets_ = secrets_for(graded, source, release)
        html = (tmp_path / "fb" / f"{name}.html").read_text()
        assert not [s for s in secrets_ if s in html]


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_module_grades_reference_blank_and_partly_wrong(assignment, tmp_path):
    # two workers, as instructors grade: one thread each, so the grades must not change with them
    rows = grade_examples(COURSE, assignment, tmp_path, jobs=2)
    check_examples(COURSE, assignment, rows, tmp_path)


def test_tiny_course_regrading_and_parallel_agree(tiny_course, tmp_path):
    first = grade_examples(tiny_course, "t_tiny", tmp_path / "a", jobs=1)
    check_examples(tiny_course, "t_tiny", first, tmp_path / "a")
    again = grade_examples(tiny_course, "t_tiny", tmp_path / "b", jobs=2)
    for name in ("reference", "blank", "partly_wrong"):
        assert (again[name]["status"], again[name]["score"]) == (first[name]["status"], first[name]["score"])


def test_failed_to_grade_is_never_a_zero(tiny_course, tmp_path):
    folder = tmp_path / "subs" / "carol"
    folder.mkdir(parents=True)
    (folder / "t_tiny.ipynb").write_text('{"cells": [}')
    assert main(["--root", str(tiny_course.root), "grade", "t_tiny", str(tmp_path / "subs")]) == 0
    out = tmp_path / "g.csv"
    main(["--root", str(tiny_course.root), "export", "--assignment", "t_tiny", "--out", str(out)])
    row = next(r for r in csv.DictReader(out.open()) if r["student"] == "carol")
    assert row["status"] == "unreadable" and row["score"] == "" and "not valid JSON" in row["reason"]


def test_a_busy_machine_does_not_change_the_grade(tiny_course, tmp_path):
    """Limits are on the CPU time the submission used: with every core kept busy by other
    processes, the reference still gets full marks, graded with tight (CPU) limits."""
    import os
    import subprocess
    import sys

    from autograder.grade import grade_batch
    from autograder.sandbox import Limits

    write_examples(tiny_course, "t_tiny", tmp_path / "subs")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * len(os.sched_getaffinity(0)))]
    try:
        outs = grade_batch(tiny_course, "t_tiny", tmp_path / "subs", Limits(cell_timeout=10, deadline=60, threads=1),
                           log=lambda m: None)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    got = {o.student: (o.result.status, o.result.score) for o in outs}
    assert got["reference"] == ("graded", 6.0), got
    assert got["blank"] == ("graded", 0.0), got


def test_a_grader_that_cannot_run_the_set_up_cell_fails_to_grade(tmp_path):
    """When the course's own set-up cell fails before any answer ran (course_utils or a dependency
    missing where the kernel runs), the submission is reported as failed to grade, with what to
    do, never as a 0."""
    import shutil
    from pathlib import Path

    from autograder.grade import grade_batch
    from autograder.release import build, release
    from autograder.sandbox import Limits

    root = tmp_path / "course"
    shutil.copytree(Path(__file__).parent / "fixtures" / "tiny_course", root)
    script = root / "solutions" / "t_tiny" / "t_tiny.py"
    script.write_text(script.read_text().replace("import torch\n", "import torch\nimport a_module_the_grader_lacks\n", 1))
    course = Course(root)
    build(course, "t_tiny", execute=False)
    release(course, "t_tiny")
    write_examples(course, "t_tiny", tmp_path / "subs")
    outs = grade_batch(course, "t_tiny", tmp_path / "subs", Limits(cell_timeout=30, deadline=120, threads=1), log=lambda m: None)
    for o in outs:
        assert o.result.status == "failed-to-grade", (o.student, o.result)
        assert o.result.score is None
        assert "a_module_the_grader_lacks" in o.result.reason and "pip install" in o.result.reason, o.result.reason
