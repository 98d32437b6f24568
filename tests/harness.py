"""Run a notebook's cells in-process, with some answer cells replaced, and report each test cell.

Grading a whole notebook through the real grade command costs a kernel start, and re-runs the
training cells. The variant tests (one wrong or rewritten answer at a time) need neither: they run
the source notebook's cells in one fresh namespace, skipping cells tagged ``slow`` or ``demo``
(training and pictures, which graded fast tests never depend on), and record which test cells
raised. Only our own variant code runs here, so no sandbox is needed; the real grade command is
proved separately on whole submissions (tests/test_grade_e2e.py).

With ``COURSE_VARIANTS_ACROSS=1`` each test cell runs the way the grader runs it: in a trusted
namespace (``autograder.trusted``) that reaches the notebook's names across the boundary of
``autograder.remote`` (copies and handles), served from a thread; so a test that relies on what
the boundary does not carry (mutating a returned parameter, backpropagating through a student
model's output) fails here too.
"""
from __future__ import annotations

import os
import re
import traceback
from functools import cache
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SKIP_TAGS = frozenset({"slow", "demo"})
_MAGIC = re.compile(r"^\s*[%!]")

os.environ.setdefault("MPLBACKEND", "Agg")


def source_path(assignment: str) -> Path:
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def release_path(assignment: str) -> Path:
    return ROOT / "notebooks" / assignment / f"{assignment}.ipynb"


@cache
def _load(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def answer_cells(path: Path) -> dict[str, str]:
    """grade_id -> source of each autograded answer (solution) code cell of a notebook."""
    return {
        _meta(c)["grade_id"]: c.source
        for c in _load(path).cells
        if c.cell_type == "code" and _meta(c).get("solution")
    }


def graded_test_ids(assignment: str, include_slow: bool = False) -> list[str]:
    """The grade ids of the autograded test cells, in order."""
    return [
        _meta(c)["grade_id"]
        for c in _load(source_path(assignment)).cells
        if c.cell_type == "code" and _meta(c).get("grade") and not _meta(c).get("solution")
        and (include_slow or not SKIP_TAGS & set(c.metadata.get("tags", [])))
    ]


def run_cells(
    assignment: str,
    overrides: dict[str, str] | None = None,
    skip_tags: frozenset[str] = SKIP_TAGS,
    answers_from: Path | None = None,
) -> dict[str, str | None]:
    """Execute the source notebook with some answer cells replaced.

    Inputs:
        overrides: grade_id -> new source for that answer cell.
        answers_from: take every answer cell from this notebook first (e.g. the blank release).
    Returns:
        {test grade_id: None if it passed, else the last line of its error}, for the test cells run.
    """
    cells = _load(source_path(assignment)).cells
    answers = dict(answer_cells(answers_from)) if answers_from else {}
    answers.update(overrides or {})
    namespace: dict = {"__name__": "__main__"}
    results: dict[str, str | None] = {}
    across = os.environ.get("COURSE_VARIANTS_ACROSS") == "1"
    if across:
        from autograder.trusted import TrustedTests

        trusted_tests = TrustedTests()
    cwd = os.getcwd()
    os.chdir(source_path(assignment).parent)
    try:
        for i, cell in enumerate(cells):
            if cell.cell_type != "code" or skip_tags & set(cell.metadata.get("tags", [])):
                continue
            meta = _meta(cell)
            gid = meta.get("grade_id")
            src = answers.get(gid, cell.source) if meta.get("solution") else cell.source
            src = "\n".join("" if _MAGIC.match(ln) else ln for ln in src.splitlines())
            if across and meta.get("grade") and not meta.get("solution"):
                results[gid] = _across(trusted_tests, namespace, gid, cell.source)
                continue
            try:
                exec(compile(src, f"<{assignment} cell {i} {gid}>", "exec"), namespace)
                error = None
            except Exception as exc:  # a failing test cell is the expected outcome we record
                error = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
            if meta.get("grade") and not meta.get("solution"):
                results[gid] = error
            elif across and not meta.get("solution"):
                trusted_tests.replay_locked(cell.source)
    finally:
        os.chdir(cwd)
        import matplotlib.pyplot as plt

        plt.close("all")
    return results


def _across(trusted_tests, namespace: dict, gid: str, source: str) -> str | None:
    """Run one test cell as the grader does, against ``namespace`` served from a thread."""
    import socket
    import threading
    import time

    from autograder import remote
    from autograder.assemble import split_hidden

    def serve(sock):
        peer = remote.Peer(sock, trusted=False)
        peer.namespace = namespace
        try:
            while True:
                header, bufs = peer.recv()
                peer.handle(header, bufs)
        except (remote.EndOfSession, remote.Closed):
            pass

    visible, hidden = split_hidden(source)
    a, b = socket.socketpair()
    thread = threading.Thread(target=serve, args=(b,), daemon=True)
    thread.start()
    run = trusted_tests.run_test(gid, [("visible", visible), ("hidden", hidden)], remote.Peer(a, trusted=True),
                                 time.monotonic() + 300)
    thread.join(30)
    a.close()
    b.close()
    errors = [p.error for p in run.parts.values() if p.error]
    return None if not errors else f"{errors[0][0]}: {errors[0][1]}".strip().splitlines()[-1]
