"""The course's grading record: one row per (assignment, student), in SQLite, written only by the
grade command. It is the source of everything the grader itself decides (status, autograded score,
per-test results, the graded notebook); nbgrader's gradebook (``autograder.nbgrader_book``) mirrors
the autograded part for formgrader and holds what people decide (written answers, overrides).

The sandboxed kernel never sees this file (it is outside the sandbox's root). A row is replaced
only by a newer grading of the same submission, inside a transaction, so a crash mid-batch leaves
every other row as it was. Rows whose status is not a grade keep ``score`` NULL, never 0.
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from autograder.course import CourseError
from autograder.scoring import Score

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL,
    max_score REAL NOT NULL,
    manual_max REAL NOT NULL,
    reason TEXT NOT NULL,
    flags TEXT NOT NULL,
    detail TEXT NOT NULL,
    submission_sha256 TEXT NOT NULL,
    graded_at REAL NOT NULL,
    notebook TEXT,
    PRIMARY KEY (assignment, student)
)
"""


class Gradebook:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with closing(self._connect()) as db, db:
                db.execute(SCHEMA)
                cols = {r[1] for r in db.execute("PRAGMA table_info(results)")}
                if "notebook" not in cols:  # a gradebook from before graded notebooks were kept here
                    db.execute("ALTER TABLE results ADD COLUMN notebook TEXT")
        except sqlite3.OperationalError as exc:  # locked by another grader, no permission: not corrupt
            raise CourseError(f"cannot use the gradebook {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:  # junk bytes, a truncated copy: say so in one line
            raise CourseError(f"{self.path} is not a readable gradebook ({exc}); restore it from a backup "
                              "or move it away to start a new one") from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def record(self, assignment: str, student: str, result: Score, sha256: str,
               notebook: str | None = None) -> None:
        """Replace the student's row: score, status, details and the graded notebook (JSON) together,
        so feedback and export can never read a notebook from another grading than the score."""
        detail = {"tests": [t.__dict__ for t in result.tests], "protections": result.protections,
                  "seconds": result.seconds}
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO results (assignment, student, status, score, max_score, manual_max, reason, "
                "flags, detail, submission_sha256, graded_at, notebook) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (assignment, student, result.status, result.score, result.max_score, result.manual_max,
                 result.reason, json.dumps(result.flags), json.dumps(detail), sha256, time.time(), notebook),
            )

    def notebook(self, assignment: str, student: str):
        """The graded notebook of the student's latest grading, or None (not graded, or no run)."""
        import nbformat

        with closing(self._connect()) as db:
            r = db.execute("SELECT notebook FROM results WHERE assignment = ? AND student = ?",
                           (assignment, student)).fetchone()
        return nbformat.reads(r[0], as_version=4) if r and r[0] else None

    def row(self, assignment: str, student: str) -> dict | None:
        rows = [r for r in self.rows(assignment, student) if r["student"] == student]
        return rows[0] if rows else None

    def rows(self, assignment: str | None = None, student: str | None = None) -> list[dict]:
        query = ("SELECT assignment, student, status, score, max_score, manual_max, reason, flags, detail, "
                 "submission_sha256, graded_at, notebook IS NOT NULL AS has_notebook FROM results")
        where, params = [], []
        for col, val in (("assignment", assignment), ("student", student)):
            if val:
                where.append(f"{col} = ?")
                params.append(val)
        query += (" WHERE " + " AND ".join(where)) if where else ""
        query += " ORDER BY assignment, student"
        with closing(self._connect()) as db:
            out = []
            for r in db.execute(query, params):
                d = dict(r)
                d["flags"] = json.loads(d["flags"])
                d["detail"] = json.loads(d["detail"])
                d["has_notebook"] = bool(d["has_notebook"])
                out.append(d)
            return out
