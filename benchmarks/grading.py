"""Grading throughput: --jobs 1 against --jobs 2, and the sandbox's overhead over plain execution.

    python benchmarks/grading.py [assignment] [--copies 8]

Grades ``copies`` copies of the reference submission with one worker, then with two, into a
throw-away gradebook, and prints the wall times and the speed-up. Also times one plain execution
of the assembled reference in an ordinary kernel against one sandboxed run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder import examples, sandbox  # noqa: E402
from autograder.assemble import assemble  # noqa: E402
from autograder.course import Course  # noqa: E402
from autograder.grade import grade_batch  # noqa: E402
from autograder.gradebook import Gradebook  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("assignment", nargs="?", default="m1_neurons")
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--root", default=None, help="course folder (default: this repository)")
    args = ap.parse_args()
    course = Course(Path(args.root).resolve()) if args.root else Course()
    a = course.check(args.assignment)
    ref = examples.reference(course, a)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        for i in range(args.copies):
            p = tmp / "subs" / f"student{i:02d}" / f"{a}.ipynb"
            p.parent.mkdir(parents=True)
            nbformat.write(ref, p)
        threads = int(os.environ.get("COURSE_NUM_THREADS", "2"))
        times = {}
        # The grade command gives each worker one torch thread when --jobs > 1; a single worker keeps
        # COURSE_NUM_THREADS. Both single-worker settings are timed, so the speed-up is shown both ways.
        print(f"load average (1, 5, 15 min) at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for jobs, t in ((1, threads), (1, 1), (2, 1)):
            limits = sandbox.Limits(threads=t)
            book = Gradebook(tmp / f"gb{jobs}-{t}.db")
            t0 = time.perf_counter()
            outs = grade_batch(course, a, tmp / "subs", limits, jobs=jobs, log=lambda m: None, gradebook=book)
            times[jobs, t] = time.perf_counter() - t0
            scores = {(o.result.status, o.result.score) for o in outs}
            print(f"jobs={jobs}, torch threads per worker {t}: {times[jobs, t]:.1f} s for "
                  f"{args.copies} submissions, {times[jobs, t] / args.copies:.2f} s each; outcomes {sorted(scores)}")
        print(f"speed-up, 2 workers over 1 (one thread per worker): {times[1, 1] / times[2, 1]:.2f}x")
        print(f"speed-up, 2 workers over 1 worker with {threads} threads: {times[1, threads] / times[2, 1]:.2f}x")

        source = nbformat.read(course.source(a), as_version=4)
        release = nbformat.read(course.release(a), as_version=4)
        nb = assemble(source, release, ref).notebook
        from nbclient import NotebookClient

        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            NotebookClient(nbformat.from_dict(nb), timeout=600, allow_errors=True, kernel_name="python3",
                           resources={"metadata": {"path": d}}).execute()
        plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        sandbox.run(nb, sandbox.Limits(threads=threads), 0, tmp / "ws" / "jobs", tmp / "ws")
        boxed = time.perf_counter() - t0
        print(f"plain execution {plain:.2f} s, sandboxed {boxed:.2f} s: overhead {boxed - plain:+.2f} s "
              f"({(boxed / plain - 1) * 100:+.0f}%) [isolation: {sandbox.probe()}]")
        print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
              f"{len(os.sched_getaffinity(0))} cores")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
