"""Execution time of each solution notebook, start to finish, in a fresh kernel.

    COURSE_NUM_THREADS=2 python benchmarks/notebooks.py [assignment ...]

The course's budget is 90 s per notebook (60 s for Module 1) and 5 minutes in all, on 2 CPU
cores. Nothing is written: the notebooks are executed in memory.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from autograder.course import Course  # noqa: E402
from autograder.release import KERNEL_ENV  # noqa: E402
from autograder.sandbox_runner import slice_polls  # noqa: E402


def main() -> None:
    course = Course()
    names = sys.argv[1:] or course.assignments()
    env = {**os.environ, **KERNEL_ENV, "COURSE_NUM_THREADS": os.environ.get("COURSE_NUM_THREADS", "2")}
    total = 0.0
    for a in names:
        nb = nbformat.read(course.source(course.check(a)), as_version=4)
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": d}},
                                    on_notebook_start=lambda notebook: slice_polls(client.kc))
            client.execute(env=env)
            dt = time.perf_counter() - t0
        total += dt
        print(f"{a:<16} {dt:6.1f} s")
    print(f"{'total':<16} {total:6.1f} s  (threads: {env['COURSE_NUM_THREADS']}, cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
