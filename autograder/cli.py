"""``course-grader``: one command per instructor step. ``course-grader --help`` lists them."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from autograder.course import Course, CourseError


def _cmd_build(args: argparse.Namespace, course: Course) -> int:
    from autograder.release import build

    for a in course.resolve(args.assignment):
        t0 = time.perf_counter()
        path = build(course, a, execute=not args.no_execute)
        print(f"built {path.relative_to(course.root)} in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_release(args: argparse.Namespace, course: Course) -> int:
    from autograder.release import build, release

    for a in course.resolve(args.assignment):
        if args.build:
            build(course, a)
        path = release(course, a)
        print(f"released {path.relative_to(course.root)}")
    return 0


def _cmd_publish(args: argparse.Namespace, course: Course) -> int:
    from autograder.publish import publish

    t0 = time.perf_counter()
    files = publish(course, Path(args.dir), course.resolve(args.assignment) if args.assignment else None)
    for f in files:
        print(f"  {f.as_posix()}")
    print(f"wrote the student edition to {Path(args.dir).resolve()} ({len(files)} files) in {time.perf_counter() - t0:.1f} s; "
          f"publish it at {course.edition.repository}")
    return 0


def _limits(args: argparse.Namespace):
    from autograder.release import nbgrader_config
    from autograder.sandbox import Limits

    cfg = nbgrader_config(Path(__file__).resolve().parents[1])
    cell_timeout = args.cell_timeout or int(cfg.Execute.timeout)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if args.jobs > cores:
        raise CourseError(f"--jobs {args.jobs} is more than the {cores} cores here: workers would compete for them "
                          f"and grades would depend on the load. Use --jobs {cores} or fewer.")
    # threads per worker x workers <= cores: the grade never depends on oversubscribed cores
    threads = max(1, min(int(os.environ.get("COURSE_NUM_THREADS", "2")), cores // args.jobs))
    return Limits(cell_timeout=cell_timeout, deadline=args.deadline, memory_mb=args.memory_mb, threads=threads)


def _cmd_grade(args: argparse.Namespace, course: Course) -> int:
    from autograder.grade import grade_batch, table
    from autograder.gradebook import Gradebook

    if args.jobs < 1:
        raise CourseError("--jobs must be at least 1")
    assignment = course.check(args.assignment)
    t0 = time.perf_counter()
    outcomes = grade_batch(course, assignment, Path(args.submissions), _limits(args), jobs=args.jobs)
    rows = [r for r in Gradebook(course.gradebook_path).rows(assignment)
            if r["student"] in {o.student for o in outcomes}]
    print()
    print(table(rows))
    failed = [r for r in rows if r["score"] is None]
    print(f"\n{len(rows)} graded in {time.perf_counter() - t0:.1f} s; {len(failed)} could not be graded"
          + (" (see notes above; they have no score, not 0)" if failed else ""))
    return 0


def _cmd_status(args: argparse.Namespace, course: Course) -> int:
    from autograder.grade import table
    from autograder.gradebook import Gradebook

    assignment = course.check(args.assignment) if args.assignment else None
    rows = Gradebook(course.gradebook_path).rows(assignment)
    if args.failed:
        rows = [r for r in rows if r["score"] is None or r["status"] != "graded"]
    if not rows:
        print("nothing graded yet" if not args.failed else "no failed or flagged submissions")
        return 0
    for a in sorted({r["assignment"] for r in rows}):
        print(f"== {a}")
        print(table([r for r in rows if r["assignment"] == a]))
    return 0


def _cmd_feedback(args: argparse.Namespace, course: Course) -> int:
    import nbformat

    from autograder.feedback import LeakError, render, secret_lines
    from autograder.gradebook import Gradebook

    assignment = course.check(args.assignment)
    book = Gradebook(course.gradebook_path)
    rows = {r["student"]: r for r in book.rows(assignment)}
    students = [args.student] if args.student else sorted(s for s, r in rows.items() if r["has_notebook"])
    if not rows:
        raise CourseError(f"nothing graded for {assignment} yet: run `course-grader grade {assignment} <submissions>`.")
    source = nbformat.read(course.source(assignment), as_version=4)
    release = nbformat.read(course.release(assignment), as_version=4)
    out_dir = Path(args.out) if args.out else course.feedback_dir(assignment)
    problems = 0
    lines = secret_lines(source, release)  # once for the batch
    for student in students:
        graded = book.notebook(assignment, student)
        if graded is None:
            print(f"{student}: no graded notebook (was it graded? unreadable ones have none)")
            problems += 1
            continue
        try:
            path = render(graded, out_dir / f"{student}.html", source, release, lines)
            print(f"{student}: {path}")
        except LeakError as exc:
            print(f"{student}: NOT WRITTEN: {exc}")
            problems += 1
    return 1 if problems and args.student else 0


def _synced(course: Course, assignments: list[str]) -> tuple[list[dict], dict]:
    """Course rows and nbgrader's state (after a sync) for these assignments."""
    from autograder.nbgrader_book import synced_state

    rows, states = [], {}
    for a in assignments:
        state, arows = synced_state(course, a, log=lambda m: print(m, file=sys.stderr))
        rows += arows
        states.update({(a, s): v for s, v in state.items()})
    return rows, states


def _cmd_export(args: argparse.Namespace, course: Course) -> int:
    from autograder.export import WRITERS, write_csv
    from autograder.gradebook import Gradebook

    assignment = course.check(args.assignment) if args.assignment else None
    graded = sorted({r["assignment"] for r in Gradebook(course.gradebook_path).rows(assignment)})
    try:
        rows, states = _synced(course, graded)
    except CourseError as exc:
        if args.format != "csv":
            raise
        # nbgrader's gradebook is out of reach: the course's own record still exports (no marks, no totals)
        print(f"warning: {exc}; the CSV has the autograded scores only (written, to_mark and total empty)",
              file=sys.stderr)
        rows, states = Gradebook(course.gradebook_path).rows(assignment), {}
    out = Path(args.out or ("grades.csv" if args.format == "csv" else f"grades-{args.format}.csv"))
    if args.format == "csv":
        write_csv(rows, out, states)
        print(f"wrote {len(rows)} rows to {out}")
    else:
        WRITERS[args.format](rows, out, states)
        print(f"wrote {len({r['student'] for r in rows})} students x {len(graded)} assignment(s) "
              f"for {args.format} to {out}")
    return 0


def _cmd_sync(args: argparse.Namespace, course: Course) -> int:
    from autograder.gradebook import Gradebook
    from autograder.nbgrader_book import Book

    assignment = course.check(args.assignment) if args.assignment else None
    rows = Gradebook(course.gradebook_path).rows(assignment)
    with Book(course) as book:
        rep = book.sync(rows)
    from autograder.nbgrader_book import _safe

    print(f"nbgrader gradebook {_safe(course.nbgrader_db_url)}: {len(rows)} submission(s) checked, "
          f"{len(rep.mirrored)} updated, {len(rep.newer_elsewhere)} newer there (kept), {len(rep.failed)} failed")
    for line in rep.failed:
        print(f"  failed: {line}")
    return 1 if rep.failed else 0


def _cmd_mark(args: argparse.Namespace, course: Course) -> int:
    from autograder.gradebook import Gradebook
    from autograder.nbgrader_book import Book

    assignment = course.check(args.assignment)
    rows = Gradebook(course.gradebook_path).rows(assignment)
    with Book(course) as book:
        rep = book.sync(rows)
        for line in rep.failed:  # as synced_state reports them: the mark is given all the same
            print(f"nbgrader gradebook not updated: {line}", file=sys.stderr)
        st = book.mark(assignment, args.student, args.grade_id, args.points, args.comment)
    total = "no total (not graded: see `course-grader status`)" if st.total is None else f"total {st.total:g}"
    print(f"{assignment} {args.student} {args.grade_id}: {args.points:g} points"
          + (" with a comment" if args.comment is not None else "")
          + f"; {total}" + (f"; {st.to_mark} written answer(s) still to mark" if st.to_mark else ""))
    return 0


def _cmd_report(args: argparse.Namespace, course: Course) -> int:
    from autograder.report import build_report

    assignment = course.check(args.assignment)
    report = build_report(course, assignment)
    print(report.text())
    path = report.write_html(Path(args.out) if args.out else course.workspace / "reports" / f"{assignment}.html")
    print(f"\nHTML report: {path}")
    return 0


def _cmd_demo(args: argparse.Namespace, course: Course) -> int:
    from autograder.examples import write_examples
    from autograder.release import release

    root = ["--root", str(course.root), "--workspace", str(course.workspace)]
    if course.db_url:
        root += ["--db-url", course.db_url]

    assignments = course.resolve(args.assignment)
    demo = course.demo
    for a in assignments:
        release(course, a, out_root=demo / "released")
        paths = write_examples(course, a, demo / "submissions" / a)
        print(f"example submissions for {a}: {', '.join(paths)}")
        rc = main([*root, "grade", a, str(demo / "submissions" / a), "--jobs", str(args.jobs)])
        if rc:
            return rc
        main([*root, "feedback", a])
        main([*root, "report", a, "--out", str(demo / "reports" / f"{a}.html")])
    return main([*root, "export", "--out", str(demo / "grades.csv")])


def _cmd_audit(args: argparse.Namespace, course: Course) -> int:
    from autograder.audit import run_audit

    report = run_audit(course, course.check(args.assignment), jobs=args.jobs, repeat=args.repeat,
                       log=(print if args.verbose else (lambda m: None)))
    print(report.render())
    bad = [r for r in report.results if not r.ok]
    return 1 if bad or report.figures["batch crashes"] else 0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course-grader", description=__doc__)
    p.add_argument("--root", default=None, help="course folder (default: this repository)")
    p.add_argument("--workspace", default=None,
                   help="grading workspace: gradebook, graded notebooks, feedback (default <root>/autograder/workspace)")
    p.add_argument("--db-url", default=None,
                   help="nbgrader's gradebook, e.g. postgresql://user:pw@host/db (default: $COURSE_DB_URL, "
                        "else sqlite in the workspace)")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build solutions/<id>/<id>.ipynb from <id>.py and execute it")
    b.add_argument("assignment", nargs="?", default="all", help="assignment id, or 'all' (default)")
    b.add_argument("--no-execute", action="store_true", help="write the notebook without running it")
    b.set_defaults(func=_cmd_build)

    r = sub.add_parser("release", help="generate the student notebooks in notebooks/ with nbgrader")
    r.add_argument("assignment", nargs="?", default="all", help="assignment id, or 'all' (default)")
    r.add_argument("--build", action="store_true", help="rebuild and execute the sources first")
    r.set_defaults(func=_cmd_release)
    pu = sub.add_parser("publish", help="write the student edition (notebooks, course_utils and its wheel, README) into DIR")
    pu.add_argument("dir", help="folder for the student edition (empty, or one publish wrote before)")
    pu.add_argument("--assignment", help="only this assignment (default: all)")
    pu.set_defaults(func=_cmd_publish)

    g = sub.add_parser("grade", help="autograde a folder or .zip of submissions with the hidden tests")
    g.add_argument("assignment", help="assignment id, e.g. m1_neurons")
    g.add_argument("submissions", help="folder of <student>/<id>.ipynb (or <student>.ipynb), or a .zip of one")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at once (one torch thread each)")
    g.add_argument("--deadline", type=int, default=600, help="CPU seconds for a whole notebook (default 600)")
    g.add_argument("--cell-timeout", type=int, default=None, help="CPU seconds for one cell (default: nbgrader_config)")
    g.add_argument("--memory-mb", type=int, default=4096, help="memory for one kernel (default 4096)")
    g.set_defaults(func=_cmd_grade)

    st = sub.add_parser("status", help="show the gradebook: each submission's status, score and why")
    st.add_argument("assignment", nargs="?", help="only this assignment")
    st.add_argument("--failed", action="store_true", help="only submissions that failed to grade or were flagged")
    st.set_defaults(func=_cmd_status)

    f = sub.add_parser("feedback", help="write HTML feedback (no hidden tests) for graded submissions")
    f.add_argument("assignment")
    f.add_argument("--student", help="only this student")
    f.add_argument("--out", help="folder for the HTML files (default autograder/workspace/feedback/<id>)")
    f.set_defaults(func=_cmd_feedback)

    e = sub.add_parser("export", help="export the gradebook as CSV (the course's, or Canvas's or Moodle's import)")
    e.add_argument("--assignment", help="only this assignment")
    e.add_argument("--format", choices=("csv", "canvas", "moodle"), default="csv",
                   help="csv: one row per submission with its status (default); canvas, moodle: their gradebook import")
    e.add_argument("--out", default=None, help="CSV file to write (default grades.csv, grades-<format>.csv)")
    e.set_defaults(func=_cmd_export)

    sy = sub.add_parser("sync", help="bring nbgrader's gradebook (formgrader's) in line with the course's record")
    sy.add_argument("assignment", nargs="?", help="only this assignment")
    sy.set_defaults(func=_cmd_sync)

    m = sub.add_parser("mark", help="give a written answer its points by hand (as formgrader does)")
    m.add_argument("assignment")
    m.add_argument("student")
    m.add_argument("grade_id", help="the written answer's grade id, e.g. why_relu")
    m.add_argument("points", type=float)
    m.add_argument("--comment", default=None, help="a comment for the student on this answer")
    m.set_defaults(func=_cmd_mark)

    rp = sub.add_parser("report", help="class report: scores, pass rate per test, frequent failures, time")
    rp.add_argument("assignment")
    rp.add_argument("--out", default=None, help="HTML file (default <workspace>/reports/<id>.html)")
    rp.set_defaults(func=_cmd_report)

    au = sub.add_parser("audit", help="grade hostile submissions (attacks on the grader) and report the figures")
    au.add_argument("assignment", nargs="?", default="m1_neurons")
    au.add_argument("--jobs", type=int, default=2)
    au.add_argument("--repeat", action="store_true", help="grade the batch twice and compare")
    au.add_argument("--verbose", action="store_true", help="show the grade command's progress")
    au.set_defaults(func=_cmd_audit)

    d = sub.add_parser("demo", help="release, grade example submissions, print the table, export CSV")
    d.add_argument("assignment", nargs="?", default="all")
    d.add_argument("--jobs", type=int, default=1)
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        root = Path(args.root).resolve() if args.root else None
        if root is not None and not (root / "solutions").is_dir():
            raise CourseError(f"{root} is not a course folder (it has no solutions/ folder).")
        workspace = Path(args.workspace).resolve() if args.workspace else None
        return args.func(args, Course(root or Course().root, workspace_dir=workspace, db_url=args.db_url))
    except CourseError as exc:
        print(f"course-grader: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        print(f"course-grader: error: missing dependency {exc.name!r}: install the course with "
              f"`make install` (or pip install -c requirements/ci.txt -e '.[instructor,test]').", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"course-grader: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("course-grader: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
