"""The adversarial audit: grade a batch of hostile submissions and measure what went wrong.

Each case is a submission a student could hand in, built from the assignment's own reference
answers, with the outcome a trustworthy grader must give it. ``base`` is the reference with one
answer wrong (it earns ``S`` points, below full marks); most attacks are made on top of it, so an
attack that worked would show as a score above ``S``.

``course-grader audit [assignment]`` prints the figures: cases tried, batch crashes, false full
scores (or any score above what the work earned), hidden-test leaks in feedback, lost or altered
grades, processes left running, and the grading overhead per notebook over plain execution.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from autograder import examples, sandbox
from autograder.assemble import assemble, nbg
from autograder.course import Course, CourseError
from autograder.feedback import LeakError, render, secrets_for
from autograder.grade import autograded_path, grade_batch
from autograder.gradebook import Gradebook
from autograder.scoring import DIED, FLAGGED, GRADED, TIMED_OUT, UNREADABLE

SNOOP = "SNOOP-FOUND"
SENTINEL = "zz-graded-earlier"
OK_STATUSES = (GRADED, FLAGGED)


@dataclass
class Case:
    name: str
    group: str
    statuses: tuple[str, ...]
    score: str                      # full | zero | base | le_base | none
    flagged: bool = False           # must carry a flag
    build: Callable | None = None   # (ctx) -> notebook, or writes files itself and returns None


@dataclass
class Context:
    course: Course
    assignment: str
    reference: nbformat.NotebookNode
    base: nbformat.NotebookNode
    blank: nbformat.NotebookNode
    wrong_id: str
    secret_paths: list[str]
    port: int
    folder: Path = field(default_factory=Path)


def _copy(nb):
    return nbformat.from_dict(json.loads(json.dumps(nb)))


def _insert(nb, code: str, where: str = "end"):
    nb = _copy(nb)
    cell = nbformat.v4.new_code_cell(code)
    if where == "end":
        nb.cells.append(cell)
    else:  # right after the first answer cell, before any test runs
        idx = next(i for i, c in enumerate(nb.cells) if nbg(c).get("solution") and c.cell_type == "code")
        nb.cells.insert(idx + 1, cell)
    return nb


def _test_of(nb, gid):
    return next(c for c in nb.cells if nbg(c).get("grade_id") == f"test_{gid}")


def cases() -> list[Case]:
    C = Case
    snoop = f"""import os, socket
def _snoop():
    found = []
    for p in PATHS:
        try:
            with open(p, 'rb') as f:
                f.read(10)
            found.append(p)
        except OSError:
            pass
        try:
            os.listdir(p); found.append(p)
        except OSError:
            pass
    try:
        socket.create_connection(('127.0.0.1', PORT), timeout=2).close(); found.append('socket')
    except OSError:
        pass
    for f in found:
        print('{SNOOP}:' + f)
_snoop()"""
    fork_bomb = """import os, time
for _ in range(100000):
    try:
        if os.fork() == 0:
            time.sleep(3600)
            os._exit(0)
    except OSError:
        break"""
    daemon = """import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)"""
    patch_np = """import numpy as np, math
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
np.testing.assert_allclose = lambda *a, **k: None
math.isclose = lambda *a, **k: True"""
    patch_checks = """import course_utils, course_utils.checks as _c
for _n in ('check_close', 'check_equal', 'check_true', 'check_shape'):
    setattr(_c, _n, lambda *a, **k: None); setattr(course_utils, _n, lambda *a, **k: None)
check_close = check_equal = check_true = check_shape = lambda *a, **k: None"""
    transformer = "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"
    swallow = "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"
    fake_print = "print('All tests passed! Score: 100/100')"
    return [
        C("reference_1", "correct", (GRADED,), "full", build=lambda x: x.reference),
        C("reference_2", "correct", (GRADED,), "full", build=lambda x: x.reference),
        C("reference_3", "correct", (GRADED,), "full", build=lambda x: x.reference),
        C("reference_with_warnings", "correct", (GRADED,), "full", build=lambda x: _insert(
            x.reference, "import sys, warnings\nprint('a harmless note', file=sys.stderr)\nwarnings.warn('harmless')", "start")),
        C("blank", "correct", (GRADED,), "zero", build=lambda x: x.blank),
        C("one_wrong_answer", "broken", (GRADED,), "base", build=lambda x: x.base),
        C("infinite_loop", "resources", (TIMED_OUT,), "base", build=lambda x: _insert(x.base, "while True:\n    pass")),
        C("loop_ignoring_sigint", "resources", (TIMED_OUT,), "base", build=lambda x: _insert(
            x.base, "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")),
        C("long_sleep", "resources", (TIMED_OUT,), "base", build=lambda x: _insert(x.base, "import time\ntime.sleep(10**6)")),
        C("memory_bomb", "resources", (GRADED, DIED), "base", build=lambda x: _insert(
            x.base, "chunks = []\nwhile True:\n    chunks.append(bytearray(10**8))")),
        C("fork_bomb", "resources", (GRADED, DIED, TIMED_OUT), "le_base", build=lambda x: _insert(x.base, fork_bomb)),
        C("background_daemon", "resources", (GRADED,), "base", build=lambda x: _insert(x.base, daemon, "start")),
        C("huge_output", "resources", (GRADED, TIMED_OUT), "base", build=lambda x: _insert(
            x.base, "for i in range(200000):\n    print('x' * 1000)")),
        C("fill_the_disk", "resources", (GRADED,), "base", build=lambda x: _insert(
            x.base, "with open('big.bin', 'wb') as f:\n    while True:\n        f.write(b'0' * 2**20)")),
        C("os_exit", "kill", (DIED,), "base", build=lambda x: _insert(x.base, "import os\nos._exit(0)")),
        C("kill_own_kernel", "kill", (DIED,), "base", build=lambda x: _insert(x.base, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")),
        C("segfault", "kill", (DIED,), "base", build=lambda x: _insert(x.base, "import ctypes\nctypes.string_at(0)")),
        C("patched_numpy_comparisons", "cheat", (FLAGGED,), "le_base", True, lambda x: _insert(x.base, patch_np, "start")),
        C("patched_course_checks", "cheat", (FLAGGED,), "le_base", True, lambda x: _insert(x.base, patch_checks, "start")),
        C("input_transformer", "cheat", (FLAGGED,), "le_base", True, lambda x: _insert(x.base, transformer, "start")),
        C("swallowed_exceptions", "cheat", (FLAGGED,), "le_base", True, lambda x: _insert(x.base, swallow, "start")),
        C("printed_fake_results", "cheat", (GRADED,), "base", build=lambda x: _insert(x.base, fake_print, "start")),
        C("fake_outputs_in_file", "cheat", (GRADED, FLAGGED), "base", build=_fake_outputs),
        C("edited_test_cell", "cheat", (FLAGGED,), "base", True, _edited_test),
        C("deleted_test_cell", "cheat", (FLAGGED,), "base", True, _deleted_test),
        C("renamed_grade_id", "cheat", (FLAGGED,), "le_base", True, _renamed_answer),
        C("duplicated_grade_cells", "cheat", (FLAGGED,), "base", True, _duplicated),
        C("added_grade_cell", "cheat", (FLAGGED,), "base", True, _added_grade_cell),
        C("edited_points", "cheat", (FLAGGED,), "base", True, _edited_points),
        C("prints_hidden_tests_from_history", "snoop", (GRADED,), "base", build=lambda x: _insert(
            x.base, "print(In)\nprint(_ih)\nraise RuntimeError(str(In))")),
        C("snooping_files_and_network", "snoop", (GRADED,), "full", build=lambda x: _insert(
            x.reference, snoop.replace("PATHS", repr(x.secret_paths)).replace("PORT", str(x.port)), "start")),
        C("module_shadowing_file", "snoop", (GRADED,), "full", build=_shadowing),
        C("invalid_json", "unreadable", (UNREADABLE,), "none", build=_invalid_json),
        C("not_a_notebook", "unreadable", (UNREADABLE,), "none", build=lambda x: _raw(x, b"[1, 2, 3]")),
        C("old_notebook_format", "unreadable", (FLAGGED,), "full", True, _old_format),
        C("huge_notebook", "unreadable", (UNREADABLE,), "none", build=_huge),
        C("renamed_notebook", "unreadable", (FLAGGED,), "full", True, _renamed_file),
    ]


def _fake_outputs(x):
    nb = _copy(x.base)
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code":
            c.execution_count = i + 1
            c.outputs = [nbformat.v4.new_output("stream", name="stdout", text="passed\n")]
    return nb


def _edited_test(x):
    nb = _copy(x.base)
    _test_of(nb, x.wrong_id).source = "pass"
    return nb


def _deleted_test(x):
    nb = _copy(x.base)
    nb.cells.remove(_test_of(nb, x.wrong_id))
    return nb


def _renamed_answer(x):
    nb = _copy(x.base)
    for c in nb.cells:
        if nbg(c).get("grade_id") == x.wrong_id:
            c.metadata["nbgrader"]["grade_id"] = "renamed_" + x.wrong_id
    return nb


def _duplicated(x):
    nb = _copy(x.base)
    t = _test_of(nb, x.wrong_id)
    nb.cells.insert(nb.cells.index(t), _copy(nbformat.v4.new_notebook(cells=[t])).cells[0])
    return nb


def _added_grade_cell(x):
    nb = _copy(x.base)
    cell = nbformat.v4.new_code_cell("assert True")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test_bonus", "locked": True, "points": 100,
                                 "schema_version": 3, "solution": False, "task": False}
    nb.cells.append(cell)
    return nb


def _edited_points(x):
    nb = _copy(x.base)
    for c in nb.cells:
        if nbg(c).get("grade"):
            c.metadata["nbgrader"]["points"] = 100
    return nb


def _raw(x, data: bytes):
    return ("raw", data)


def _invalid_json(x):
    text = nbformat.writes(x.reference)
    return ("raw", text[: len(text) // 2].encode())


def _old_format(x):
    v3 = nbformat.convert(_copy(x.reference), 3)
    return ("raw", nbformat.writes(v3, version=3).encode())


def _huge(x):
    nb = _copy(x.reference)
    nb.cells[0].attachments = {"pad.png": {"image/png": "A" * (25 * 1024 * 1024)}} if nb.cells[0].cell_type == "markdown" else {}
    nb.cells.append(nbformat.v4.new_markdown_cell("padding"))
    nb.cells[-1].attachments = {"pad.png": {"image/png": "A" * (25 * 1024 * 1024)}}
    return ("raw", nbformat.writes(nb).encode())


def _shadowing(x):
    return ("files", {f"{x.assignment}.ipynb": nbformat.writes(x.reference).encode(),
                      "numpy.py": b"raise SystemExit('shadowed numpy')\n",
                      "course_utils.py": b"raise SystemExit('shadowed course_utils')\n"})


def _renamed_file(x):
    return ("files", {f"Copy of {x.assignment} (1).ipynb": nbformat.writes(x.reference).encode()})


@dataclass
class CaseResult:
    case: Case
    status: str | None
    score: float | None
    flags: list[str]
    ok: bool
    problems: list[str]


@dataclass
class AuditReport:
    results: list[CaseResult]
    figures: dict
    protections: list[str]

    def render(self) -> str:
        lines = ["case                            group       status              score  verdict"]
        for r in self.results:
            shown = "-" if r.score is None else f"{r.score:g}"
            lines.append(f"{r.case.name:<31} {r.case.group:<11} {str(r.status):<19} {shown:>5}  "
                         + ("ok" if r.ok else "PROBLEM: " + "; ".join(r.problems)))
        lines.append("")
        lines += [f"{k}: {v}" for k, v in self.figures.items()]
        lines += ["", *self.protections]
        return "\n".join(lines)


def _listener() -> tuple[threading.Event, socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.5)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                conn.close()
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    return stop, srv, srv.getsockname()[1]


def _sandbox_processes() -> int:
    """Processes still running as one of the sandbox uids."""
    import psutil

    n = 0
    for p in psutil.process_iter(["uids"]):
        try:
            if p.info["uids"] and sandbox.BASE_UID <= p.info["uids"].real < sandbox.BASE_UID + 64:
                n += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return n


def run_audit(course: Course, assignment: str, jobs: int = 2, limits: sandbox.Limits | None = None,
              repeat: bool = False, log=print) -> AuditReport:
    course.check(assignment)
    limits = limits or sandbox.Limits(cell_timeout=20, deadline=90, memory_mb=2048, threads=1 if jobs > 1 else 2)
    source = nbformat.read(course.source(assignment), as_version=4)
    release = nbformat.read(course.release(assignment), as_version=4)
    reference = examples.reference(course, assignment)
    wrong = examples.wrong_answers(course, assignment, n=1)
    if not wrong:
        raise CourseError(f"the audit needs a wrong answer for {assignment} in tests/variants/{assignment}.py (WRONG).")
    wrong_id = next(iter(wrong))
    base = examples.with_answers(reference, wrong)
    tmp = Path(tempfile.mkdtemp(prefix="audit-"))
    # The audit grades into a scratch workspace: the course's real gradebook is never touched.
    course = Course(course.root, workspace_dir=tmp / "workspace")
    gradebook = Gradebook(course.workspace / "gradebook.db")
    stop, srv, port = _listener()
    try:
        folder = tmp / "submissions"
        folder.mkdir()
        secret = [str(course.source(assignment)), str(course.solutions), str(course.workspace / "gradebook.db"),
                  str(folder), str(course.root / "tests")]
        ctx = Context(course, assignment, reference, base, release, wrong_id, secret, port, folder)
        all_cases = cases()
        for case in all_cases:
            made = case.build(ctx)
            target = folder / case.name
            target.mkdir()
            if isinstance(made, tuple) and made[0] == "raw":
                (target / f"{assignment}.ipynb").write_bytes(made[1])
            elif isinstance(made, tuple) and made[0] == "files":
                for name, data in made[1].items():
                    (target / name).write_bytes(data)
            else:
                nbformat.write(made, target / f"{assignment}.ipynb")
        # A row graded earlier: it must come through the batch untouched.
        from autograder.scoring import Score

        gradebook.record(assignment, SENTINEL, Score(GRADED, 1.0, 1.0, 0.0), "sentinel")
        before = {r["student"]: r for r in gradebook.rows()}
        ref_score = _plain_reference_time(source, release, reference, limits)
        t0 = time.perf_counter()
        crashes = 0
        try:
            outcomes = grade_batch(course, assignment, folder, limits, jobs=jobs, log=log)
        except Exception as exc:  # counted, not hidden
            crashes, outcomes = 1, []
            log(f"batch crashed: {type(exc).__name__}: {exc}")
        batch_seconds = time.perf_counter() - t0
        leftover = _sandbox_processes()
        rows = {r["student"]: r for r in gradebook.rows(assignment)}
        names = {c.name for c in all_cases}
        after = {r["student"]: r for r in gradebook.rows()}
        altered = sum(after.get(k) != v for k, v in before.items() if k not in names)
        strangers = sorted(set(after) - names - set(before))
        full = sum(float(nbg(c).get("points", 0)) for c in source.cells if nbg(c).get("grade") and c.cell_type == "code")
        base_score = full - float(next(nbg(c)["points"] for c in source.cells if nbg(c).get("grade_id") == f"test_{wrong_id}"))
        results, false_full, above, lost = [], 0, 0, 0
        for case in all_cases:
            r = rows.get(case.name)
            if r is None:
                lost += 1
                results.append(CaseResult(case, None, None, [], False, ["no gradebook row"]))
                continue
            problems = []
            if r["status"] not in case.statuses:
                problems.append(f"status {r['status']}, expected {'/'.join(case.statuses)}")
            s = r["score"]
            expect = {"full": full, "zero": 0.0, "base": base_score}.get(case.score)
            if case.score == "none" and s is not None:
                problems.append(f"has a score ({s}) but could not be graded")
            if case.score == "le_base" and (s is None or s > base_score):
                problems.append(f"score {s} above the {base_score} the work earned")
            if expect is not None and s != expect:
                problems.append(f"score {s}, expected {expect}")
            if case.score != "full" and s is not None and s >= full:
                false_full += 1
            if s is not None and case.score in ("base", "le_base") and s > base_score:
                above += 1
            if case.flagged and not r["flags"]:
                problems.append("not flagged")
            graded_nb = autograded_path(course, assignment, case.name)
            if graded_nb.exists() and _printed(graded_nb, SNOOP):
                problems.append("snooping reached a private file or the network")
            results.append(CaseResult(case, r["status"], s, r["flags"], not problems, problems))
        leaks = _leaks(course, assignment, source, release, [c.name for c in all_cases], tmp)
        repeat_diff = None
        if repeat and not crashes:
            before = {k: (v["status"], v["score"]) for k, v in rows.items()}
            grade_batch(course, assignment, folder, limits, jobs=jobs, log=lambda m: None)
            after = {r["student"]: (r["status"], r["score"]) for r in gradebook.rows(assignment)}
            repeat_diff = sorted(k for k in before if before[k] != after.get(k))
        graded = [r for r in results if r.status in (GRADED, FLAGGED)]
        per_nb = batch_seconds / max(1, len(all_cases))
        figures = {
            "cases tried": len(all_cases),
            "cases with the expected outcome": sum(r.ok for r in results),
            "batch crashes": crashes,
            "false full scores": false_full,
            "scores above what the work earned": above,
            "hidden-test leaks in feedback": leaks,
            "lost or altered grades": lost + altered + len(strangers),
            "processes left running": leftover,
            "regrading changed": "not run" if repeat_diff is None else (repeat_diff or "nothing"),
            "plain execution of the reference (s)": round(ref_score, 2),
            "batch wall time (s)": round(batch_seconds, 1),
            "wall time per submission (s)": round(per_nb, 2),
            "graded submissions": len(graded),
        }
        protections = sandbox.describe(sandbox.probe(), limits)
        return AuditReport(results, figures, protections)
    finally:
        stop.set()
        srv.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _printed(path: Path, marker: str) -> bool:
    """Whether any output (not source) of a graded notebook contains ``marker``."""
    nb = nbformat.read(path, as_version=4)
    return any(marker in json.dumps(o) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _plain_reference_time(source, release, reference, limits) -> float:
    """Seconds to run the assembled reference in an ordinary local kernel (no sandbox)."""
    from nbclient import NotebookClient

    nb = assemble(source, release, reference).notebook
    t0 = time.perf_counter()
    env = {**os.environ, "COURSE_NUM_THREADS": str(limits.threads)}
    with tempfile.TemporaryDirectory() as d:
        NotebookClient(nb, timeout=limits.cell_timeout, allow_errors=True, kernel_name="python3",
                       resources={"metadata": {"path": d}}).execute(env=env)
    return time.perf_counter() - t0


def _leaks(course, assignment, source, release, students, tmp) -> int:
    leaks = 0
    for s in students:
        graded = autograded_path(course, assignment, s)
        if not graded.exists():
            continue
        secrets_ = secrets_for(nbformat.read(graded, as_version=4), source, release)
        try:
            html = render(graded, tmp / "fb" / f"{s}.html", source, release).read_text()
        except LeakError:
            continue  # refused to write: not a leak, the guard worked
        if any(sec in html for sec in secrets_):
            leaks += 1
    return leaks
