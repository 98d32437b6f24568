"""The gradebook: one row per (assignment, student), in SQLite, written only by the grade command.

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
    PRIMARY KEY (assignment, student)
)
"""


class Gradebook:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def record(self, assignment: str, student: str, result: Score, sha256: str) -> None:
        detail = {"tests": [t.__dict__ for t in result.tests], "protections": result.protections,
                  "seconds": result.seconds}
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (assignment, student, result.status, result.score, result.max_score, result.manual_max,
                 result.reason, json.dumps(result.flags), json.dumps(detail), sha256, time.time()),
            )

    def rows(self, assignment: str | None = None) -> list[dict]:
        query = "SELECT * FROM results" + (" WHERE assignment = ?" if assignment else "") + " ORDER BY assignment, student"
        with closing(self._connect()) as db:
            out = []
            for r in db.execute(query, (assignment,) if assignment else ()):
                d = dict(r)
                d["flags"] = json.loads(d["flags"])
                d["detail"] = json.loads(d["detail"])
                out.append(d)
            return out
