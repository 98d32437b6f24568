"""``nbgrader export`` for this course: nbgrader's CSV, with the course's rule that a submission the
grader could not grade has an empty score, never 0.

nbgrader's own CsvExportPlugin writes ``submission.score``, in which a cell with no score counts 0,
and writes 0 for a student with no submission. autograder/nbgrader_config.py makes this plugin
nbgrader's exporter (``c.ExportApp.plugin_class``), so ``nbgrader export`` run with the course's
configuration gives the same totals as ``course-grader export``: both come from
``autograder.nbgrader_book.read_state``. Columns are nbgrader's, plus ``status``.
"""
from __future__ import annotations

import csv

from nbgrader.plugins.export import CsvExportPlugin

from autograder.nbgrader_book import read_state

KEYS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email", "raw_score",
        "late_submission_penalty", "score", "max_score", "status"]


def _fmt(value) -> str:
    return "" if value is None else str(value)


class CourseCsvExportPlugin(CsvExportPlugin):
    """nbgrader's CSV columns; no score (empty) where the autograder gave none, with the reason in
    ``status``: ``no submission``, ``not graded`` (the grader's status is in formgrader's comment),
    ``to mark: N`` (written answers not marked yet count 0, as in nbgrader), or ``graded``."""

    def export(self, gradebook) -> None:
        dest = self.to or "grades.csv"
        students_wanted = {str(s) for s in self.student}
        assignments_wanted = {str(a) for a in self.assignment}
        self.log.info("Exporting grades to %s", dest)
        with open(dest, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(KEYS)
            for assignment in gradebook.assignments:
                if assignments_wanted and assignment.name not in assignments_wanted:
                    continue
                state = read_state(gradebook, assignment.name)
                for student in gradebook.students:
                    if students_wanted and student.id not in students_wanted:
                        continue
                    row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                           "last_name": student.last_name, "first_name": student.first_name,
                           "email": student.email, "max_score": assignment.max_score}
                    sub = state.get(student.id)
                    if sub is None:
                        row.update(timestamp=None, raw_score=None, late_submission_penalty=None, score=None,
                                   status="no submission")
                    else:
                        found = gradebook.find_submission(assignment.name, student.id)
                        penalty = found.late_submission_penalty or 0.0
                        total = sub.total
                        row.update(timestamp=found.timestamp, raw_score=total, late_submission_penalty=penalty,
                                   score=None if total is None else max(0.0, total - penalty),
                                   status="not graded" if total is None else
                                   (f"to mark: {sub.to_mark}" if sub.to_mark else "graded"))
                    w.writerow([_fmt(row[k]) for k in KEYS])
