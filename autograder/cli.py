"""``course-grader``: one command per instructor step. ``course-grader --help`` lists them."""
from __future__ import annotations

import argparse
import sys
import time

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


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course-grader", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build solutions/<id>/<id>.ipynb from <id>.py and execute it")
    b.add_argument("assignment", nargs="?", default="all", help="assignment id, or 'all' (default)")
    b.add_argument("--no-execute", action="store_true", help="write the notebook without running it")
    b.set_defaults(func=_cmd_build)

    r = sub.add_parser("release", help="generate the student notebooks in notebooks/ with nbgrader")
    r.add_argument("assignment", nargs="?", default="all", help="assignment id, or 'all' (default)")
    r.add_argument("--build", action="store_true", help="rebuild and execute the sources first")
    r.set_defaults(func=_cmd_release)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args, Course())
    except CourseError as exc:
        print(f"course-grader: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("course-grader: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
