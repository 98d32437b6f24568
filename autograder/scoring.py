"""Scoring: points from the executed notebook, judged against the trusted source.

A test earns its points when its visible and hidden parts ran to the end without an error in the
grader's trusted process (the sandbox runner reports each part's outcome; nothing the student's
kernel printed is read). Points come from the source's metadata, never from the submission. Tests after a timeout or a dead kernel did
not run and earn nothing; the status says where the run stopped.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from autograder.assemble import Assembled
from autograder.sandbox import RunResult

GRADED, FLAGGED = "graded", "graded-with-flags"
TIMED_OUT, DIED = "timed-out", "kernel-died"
UNREADABLE, FAILED = "unreadable", "failed-to-grade"
# Statuses whose score is a real grade (possibly partial); the others have no score at all.
SCORED = (GRADED, FLAGGED, TIMED_OUT, DIED)


@dataclass
class TestResult:
    grade_id: str
    points: float
    earned: float
    outcome: str            # passed | failed | not-run | tampered
    visible_error: str | None = None
    hidden_failed: bool = False


@dataclass
class Score:
    status: str
    score: float | None
    max_score: float
    manual_max: float
    reason: str = ""
    flags: list[str] = field(default_factory=list)
    tests: list[TestResult] = field(default_factory=list)
    protections: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def describe_cell(assembled: Assembled, index: int | None) -> str:
    if index is None:
        return "before the first cell"
    role = assembled.notebook.cells[index].metadata.get("grader", {})
    gid = role.get("grade_id")
    what = {"answer": f"answer {gid!r}", "test": f"test {gid!r}",
            "student-extra": "a cell the student added", "locked": f"read-only cell {gid!r}"}.get(role.get("role"), "a cell")
    return f"cell {index} ({what})"


def score(assembled: Assembled, run: RunResult, intake_flags: list[str]) -> Score:
    max_score = sum(t.points for t in assembled.tests)
    manual_max = sum(assembled.manual.values())
    flags = list(intake_flags) + list(assembled.flags)
    if run.status == "sandbox-error" or run.notebook is None:
        return Score(FAILED, None, max_score, manual_max, reason=run.message or "no result", flags=flags,
                     protections=run.protections, seconds=run.seconds)
    tests: list[TestResult] = []
    for spec in assembled.tests:
        rec = run.tests.get(spec.grade_id)
        if not rec or not rec.get("ran"):
            tests.append(TestResult(spec.grade_id, spec.points, 0.0, "not-run"))
            continue
        vis_err, hid_err = rec.get("visible"), rec.get("hidden")
        passed = vis_err is None and hid_err is None
        tests.append(TestResult(spec.grade_id, spec.points, spec.points if passed else 0.0,
                                "passed" if passed else "failed",
                                visible_error=None if vis_err is None else str(vis_err)[:500],
                                hidden_failed=hid_err is not None))
    earned = sum(t.earned for t in tests)
    if run.status == "timed-out":
        status, reason = TIMED_OUT, f"{run.message} at {describe_cell(assembled, run.cell)}"
    elif run.status == "kernel-died":
        status, reason = DIED, f"{run.message} at {describe_cell(assembled, run.cell)}"
    else:
        status, reason = (FLAGGED if flags else GRADED), ""
    return Score(status, earned, max_score, manual_max, reason=reason, flags=flags, tests=tests,
                 protections=run.protections, seconds=run.seconds)


def unreadable(reason: str, max_score: float, manual_max: float, flags: list[str]) -> Score:
    return Score(UNREADABLE, None, max_score, manual_max, reason=reason, flags=list(flags))
