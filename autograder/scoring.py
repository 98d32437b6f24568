"""Scoring: points from the executed notebook, judged against the trusted source.

A test earns its points when its visible and hidden parts ran without an error *and* the canary
after it printed its nonce with no tampering found and then failed with its own nonce. Points come
from the source's metadata, never from the submission. Tests after a timeout or a dead kernel did
not run and earn nothing; the status says where the run stopped.
"""
from __future__ import annotations

import ast
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


def _error(outputs) -> tuple[str, str] | None:
    for o in outputs:
        if o.get("output_type") == "error":
            return o.get("ename", ""), o.get("evalue", "")
    return None


def _canary_verdict(cell, spec) -> str | None:
    """None if the canary behaved; otherwise what it showed."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")
    err = _error(cell.outputs)
    prefix = spec.nonce_out + " "
    line = next((ln for ln in text.splitlines() if ln.startswith(prefix)), None)
    if line is None:
        return "the integrity check's output never appeared (cells rewritten or output hijacked)"
    try:
        bad = ast.literal_eval(line[len(prefix):])
    except (ValueError, SyntaxError):
        return "the integrity check's output was altered"
    if bad:
        return "patched: " + ", ".join(bad)
    if err is None or err[0] != "AssertionError" or err[1] != spec.nonce_err:
        return "errors are being suppressed or rewritten (a failing check did not fail)"
    return None


def describe_cell(assembled: Assembled, index: int | None) -> str:
    if index is None:
        return "before the first cell"
    role = assembled.notebook.cells[index].metadata.get("grader", {})
    gid = role.get("grade_id")
    what = {"answer": f"answer {gid!r}", "test": f"test {gid!r}", "canary": f"the check after {gid!r}",
            "student-extra": "a cell the student added", "locked": f"read-only cell {gid!r}",
            "baseline": "the grader's first cell"}.get(role.get("role"), "a cell")
    return f"cell {index} ({what})"


def score(assembled: Assembled, run: RunResult, intake_flags: list[str]) -> Score:
    max_score = sum(t.points for t in assembled.tests)
    manual_max = sum(assembled.manual.values())
    flags = list(intake_flags) + list(assembled.flags)
    if run.status == "sandbox-error" or run.notebook is None:
        return Score(FAILED, None, max_score, manual_max, reason=run.message or "no result", flags=flags,
                     protections=run.protections, seconds=run.seconds)
    cells = run.notebook.cells
    ran_upto = len(cells) if run.cell is None else run.cell  # cells at index >= run.cell did not complete
    by_test: dict[str, dict[str, int]] = {}
    for i, cell in enumerate(cells):
        role = cell.metadata.get("grader", {})
        if role.get("role") in ("test", "canary"):
            by_test.setdefault(role["grade_id"], {})[role.get("part", "canary")] = i
    tests: list[TestResult] = []
    tampered: list[str] = []
    for spec in assembled.tests:
        idx = by_test[spec.grade_id]
        last = max(idx.values())
        if last >= ran_upto:
            tests.append(TestResult(spec.grade_id, spec.points, 0.0, "not-run"))
            continue
        vis_err = _error(cells[idx["visible"]].outputs)
        hid_err = _error(cells[idx["hidden"]].outputs) if "hidden" in idx else None
        verdict = _canary_verdict(cells[idx["canary"]], spec)
        if verdict:
            tampered.append(f"{spec.grade_id}: {verdict}")
            tests.append(TestResult(spec.grade_id, spec.points, 0.0, "tampered",
                                    visible_error=None if vis_err is None else f"{vis_err[0]}: {vis_err[1]}"))
            continue
        passed = vis_err is None and hid_err is None
        tests.append(TestResult(spec.grade_id, spec.points, spec.points if passed else 0.0,
                                "passed" if passed else "failed",
                                visible_error=None if vis_err is None else f"{vis_err[0]}: {vis_err[1]}"[:500],
                                hidden_failed=hid_err is not None))
    if tampered:
        flags.append("tampering detected, those tests earn nothing: " + "; ".join(tampered[:3])
                     + (f" (and {len(tampered) - 3} more)" if len(tampered) > 3 else ""))
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
