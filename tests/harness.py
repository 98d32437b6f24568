"""Run a notebook's cells in-process, with some answer cells replaced, and report each test cell.

Grading a whole notebook through the real grade command costs a kernel start, and re-runs the
training cells. The variant tests (one wrong or rewritten answer at a time) need neither: they run
the source notebook's cells in one fresh namespace, skipping cells tagged ``slow`` or ``demo``
(training and pictures, which graded fast tests never depend on), and record which test cells
raised. Only our own variant code runs here, so no sandbox is needed; the real grade command is
proved separately on whole submissions (tests/test_grade_e2e.py).
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
            try:
                exec(compile(src, f"<{assignment} cell {i} {gid}>", "exec"), namespace)
                error = None
            except Exception as exc:  # a failing test cell is the expected outcome we record
                error = "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
            if meta.get("grade") and not meta.get("solution"):
                results[gid] = error
    finally:
        os.chdir(cwd)
        import matplotlib.pyplot as plt

        plt.close("all")
    return results
