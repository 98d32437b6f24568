"""Export grades as CSV: the course's own file (one row per submission, with its status), and the
files Canvas and Moodle gradebooks import (one row per student, one column per assignment).

Totals come from nbgrader's gradebook after a sync (``autograder.nbgrader_book``): autograded score
(or a score overridden by hand) plus the written answers marked so far. A submission that could not
be graded has an empty score and total, and its status says why; it is never written as 0.
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

COLUMNS = ["assignment", "student", "status", "score", "max_score", "manual_max", "reason", "flags", "graded_at",
           "written", "to_mark", "total"]
FORMATS = ("csv", "canvas", "moodle")


def _num(x) -> str:
    return "" if x is None else f"{x:g}"


def write_csv(rows: list[dict], out: Path, states: dict | None = None) -> None:
    """``states``: (assignment, student) -> nbgrader_book.SubmissionState (written, to_mark, total)."""
    states = states or {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            st = states.get((r["assignment"], r["student"]))
            w.writerow([
                r["assignment"], r["student"], r["status"],
                _num(r["score"]), f"{r['max_score']:g}", f"{r['manual_max']:g}", r["reason"], " | ".join(r["flags"]),
                dt.datetime.fromtimestamp(r["graded_at"], dt.timezone.utc).isoformat(timespec="seconds"),
                _num(st.written) if st else "", str(st.to_mark) if st else "",
                _num(st.total) if st else "",
            ])


def _grid(rows: list[dict], states: dict):
    assignments = sorted({r["assignment"] for r in rows})
    students = sorted({r["student"] for r in rows})
    possible = {}
    for r in rows:
        possible[r["assignment"]] = r["max_score"] + r["manual_max"]
    by = {(r["assignment"], r["student"]): r for r in rows}
    return assignments, students, possible, by


def _total(states: dict, key) -> float | None:
    st = states.get(key)
    return None if st is None else st.total


def write_canvas(rows: list[dict], out: Path, states: dict) -> None:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one column
    per assignment, and a "Points Possible" row. The course's student id (the submission folder's
    name) goes in SIS Login ID, which Canvas matches students by; ID and SIS User ID stay empty.
    A submission with no grade has an empty cell."""
    assignments, students, possible, by = _grid(rows, states)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *assignments])
        w.writerow(["Points Possible", "", "", "", "", *[_num(possible[a]) for a in assignments]])
        for s in students:
            w.writerow([s, "", "", s, "", *[_num(_total(states, (a, s))) for a in assignments]])


def write_moodle(rows: list[dict], out: Path, states: dict) -> None:
    """Moodle's "Import grades from CSV": a user identifier column (Username), then for each
    assignment a grade column and a feedback column (map it to "Feedback for ..."); a submission with
    no grade has an empty grade and its status as feedback."""
    assignments, students, possible, by = _grid(rows, states)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        header = ["Username"]
        for a in assignments:
            header += [a, f"{a} feedback"]
        w.writerow(header)
        for s in students:
            line = [s]
            for a in assignments:
                r, st = by.get((a, s)), states.get((a, s))
                total = None if st is None else st.total
                if r is None:
                    note = ""
                elif total is None:
                    note = f"not graded: {r['status']}" + (f" ({r['reason']})" if r["reason"] else "")
                elif st.to_mark:
                    note = f"{st.to_mark} written answer(s) still to mark (counted 0 so far)"
                else:
                    note = ""
                line += [_num(total), note]
            w.writerow(line)


WRITERS = {"canvas": write_canvas, "moodle": write_moodle}
