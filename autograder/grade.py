"""Grade a batch: intake -> assemble -> sandboxed run -> score -> gradebook, one submission at a time
per worker. One bad submission never stops the batch: whatever happens to it becomes its status.
"""
from __future__ import annotations

import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import intake, sandbox
from autograder.assemble import SourceFacts, assemble, source_facts
from autograder.course import Course, CourseError
from autograder.gradebook import Gradebook
from autograder.scoring import FAILED, Score, score, unreadable


@dataclass
class Outcome:
    student: str
    result: Score


def _load_trusted(course: Course, assignment: str):
    src, rel = course.source(assignment), course.release(assignment)
    for p, step in ((src, "build"), (rel, "release")):
        if not p.exists():
            raise CourseError(f"{p.relative_to(course.root)} is missing: run `course-grader {step} {assignment}`.")
    return nbformat.read(src, as_version=4), nbformat.read(rel, as_version=4)


def max_points(source) -> tuple[float, float]:
    """(autograded points, points graded by hand) of a source notebook."""
    facts = source_facts(source, source)
    return facts.max_score, facts.manual_max


def grade_one(course: Course, assignment: str, sub: intake.Submission, source, release,
              limits: sandbox.Limits, slot: int, mode: str, facts: SourceFacts) -> tuple[Score, str | None]:
    """(score, graded notebook as JSON or None). Nothing is written here: the gradebook row, recorded
    by the caller, is the only record."""
    max_score, manual_max = facts.max_score, facts.manual_max
    if sub.unreadable:
        return unreadable(sub.unreadable, max_score, manual_max, sub.flags), None
    try:
        assembled = assemble(source, release, sub.notebook, facts)
        run = sandbox.run(assembled.notebook, limits, slot, course.jobs, course.workspace, mode)
        result = score(assembled, run, sub.flags)
        graded = None
        if run.notebook is not None:
            run.notebook.metadata["grader"] = {"score": result.to_dict(), "assignment": assignment, "student": sub.student}
            graded = nbformat.writes(run.notebook)
    except Exception as exc:  # a bug of ours must not stop the batch, nor look like a 0
        return Score(FAILED, None, max_score, manual_max, reason=f"grader error: {type(exc).__name__}: {exc}",
                     flags=list(sub.flags)), None
    return result, graded


def _open_book(course: Course, log):
    """nbgrader's gradebook, or None (said once) when it cannot be opened: grading goes on into the
    course's table, and `course-grader sync` mirrors it later."""
    from autograder.nbgrader_book import Book

    try:
        return Book(course)
    except Exception as exc:
        log(f"warning: nbgrader's gradebook cannot be opened ({exc}); grades go to the course's table "
            f"only: run `course-grader sync` once it is back.")
        return None


def grade_batch(course: Course, assignment: str, path: Path, limits: sandbox.Limits, jobs: int = 1,
                log=print, gradebook: Gradebook | None = None, nbgrader: bool = True) -> list[Outcome]:
    """Grade every submission in ``path``. Each result is written to the course's table first (the
    record), then mirrored into nbgrader's gradebook; a failure of the second write is reported and
    repaired by the next sync, and never loses the first."""
    course.check(assignment)
    source, release = _load_trusted(course, assignment)
    gradebook = gradebook or Gradebook(course.gradebook_path)
    mode = sandbox.probe()
    facts = source_facts(source, release)  # the per-batch facts about the source, once
    with tempfile.TemporaryDirectory(prefix="intake-") as scratch:
        batch = intake.load(Path(path), assignment, Path(scratch))
        for line in batch.ignored:
            log(f"ignored: {line}")
        if not batch.submissions:
            raise CourseError(f"no submissions for {assignment} found in {path}: expected <student>/{assignment}.ipynb "
                              f"or <student>.ipynb inside it.")
        for line in sandbox.describe(mode, limits):
            log(line)
        log(f"grading {len(batch.submissions)} submission(s) of {assignment} with {jobs} worker(s), "
            f"{limits.threads} thread(s) each")
        book = _open_book(course, log) if nbgrader else None
        not_mirrored: list[str] = []
        slots = list(range(jobs))
        lock = threading.Lock()
        outcomes: list[Outcome] = []
        t0 = time.perf_counter()

        def work(sub: intake.Submission):
            with lock:
                slot = slots.pop()
            try:
                return grade_one(course, assignment, sub, source, release, limits, slot, mode, facts)
            finally:
                with lock:
                    slots.append(slot)

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(work, s): s for s in batch.submissions}
            for n, fut in enumerate(as_completed(futures), 1):
                sub = futures[fut]
                result, graded = fut.result()
                outcome = Outcome(sub.student, result)
                gradebook.record(assignment, sub.student, result, sub.sha256, graded)
                outcomes.append(outcome)
                if book is not None:
                    try:
                        book.record(gradebook.row(assignment, sub.student),
                                    nbformat.reads(graded, as_version=4) if graded else None)
                    except Exception as exc:  # the course's row is already committed
                        not_mirrored.append(sub.student)
                        log(f"warning: {sub.student} is recorded in the course's table but not in nbgrader's "
                            f"gradebook ({type(exc).__name__}: {exc})")
                r = outcome.result
                shown = "-" if r.score is None else f"{r.score:g}/{r.max_score:g}"
                log(f"[{n}/{len(futures)}] {sub.student}: {r.status} {shown}"
                    + (f" ({r.reason})" if r.reason else "") + f"  {time.perf_counter() - t0:.0f} s")
        if book is not None:
            book.close()
        if not_mirrored or (nbgrader and book is None):
            log(f"nbgrader's gradebook is behind the course's table ({len(not_mirrored) if book else 'all'} "
                f"submission(s)): `course-grader sync {assignment}` (or any export, mark or report) repairs it.")
    return sorted(outcomes, key=lambda o: o.student)


def table(rows: list[dict]) -> str:
    """A plain-text table of gradebook rows: student, status, score, and why."""
    lines = [f"{'student':<20} {'status':<18} {'score':>11}  notes"]
    for r in rows:
        shown = "-" if r["score"] is None else f"{r['score']:g}/{r['max_score']:g}"
        notes = r["reason"] or "; ".join(r["flags"])
        lines.append(f"{r['student']:<20} {r['status']:<18} {shown:>11}  {notes[:110]}")
    return "\n".join(lines)
