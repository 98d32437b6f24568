"""The grader against hostile submissions (autograder/audit.py holds each attack and its expected
safe outcome). One batch grades them all side by side, so every case also shows that the others in
the same batch were graded as usual; the figures are checked at the end."""
from __future__ import annotations

import pytest

from autograder.audit import cases, run_audit
from autograder.sandbox import Limits

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def report(tiny_course):
    limits = Limits(cell_timeout=8, deadline=60, memory_mb=2048, threads=1)
    return run_audit(tiny_course, "t_tiny", jobs=2, limits=limits, log=lambda m: None)


@pytest.mark.parametrize("name", [c.name for c in cases()])
def test_attack_gets_its_safe_outcome(report, name):
    result = next(r for r in report.results if r.case.name == name)
    assert result.ok, f"{name}: {result.status} {result.score} {result.flags}: {result.problems}"


def test_batch_never_crashes_nor_overscores(report):
    f = report.figures
    assert f["batch crashes"] == 0
    assert f["false full scores"] == 0
    assert f["scores above what the work earned"] == 0


def test_feedback_leaks_no_hidden_test(report):
    assert report.figures["hidden-test leaks in feedback"] == 0


def test_feedback_holds_no_live_script_or_html(report):
    assert report.figures["live script or HTML in feedback"] == 0


def test_file_names_are_printed_escaped(report):
    assert report.figures["raw control characters printed"] == 0


def test_a_corrupt_zip_entry_fails_only_its_submission(report):
    assert report.figures["corrupt zip entry fails only its submission"] is True


def test_gradebook_keeps_every_other_row(report):
    assert report.figures["lost or altered grades"] == 0


def test_no_process_outlives_its_submission(report):
    assert report.figures["processes left running"] == 0


def test_identical_references_get_identical_full_scores(report):
    refs = [r for r in report.results if r.case.name.startswith("reference_")]
    assert len(refs) >= 3 and len({(r.status, r.score) for r in refs}) == 1


def test_audit_never_writes_to_the_course_gradebook(report, tiny_course):
    from autograder.gradebook import Gradebook

    path = tiny_course.gradebook_path
    students = {r["student"] for r in Gradebook(path).rows()} if path.exists() else set()
    assert not students & {"reference_1", "fork_bomb", "zz-graded-earlier"}
