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
from autograder.grade import grade_batch
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
        C("patched_numpy_comparisons", "cheat", (GRADED,), "base", build=lambda x: _insert(x.base, patch_np, "start")),
        C("patched_course_checks", "cheat", (GRADED,), "base", build=lambda x: _insert(x.base, patch_checks, "start")),
        C("input_transformer", "cheat", (GRADED,), "le_base", build=lambda x: _insert(x.base, transformer, "start")),
        C("swallowed_exceptions", "cheat", (GRADED,), "base", build=lambda x: _insert(x.base, swallow, "start")),
        C("rebound_check_helpers_as_globals", "cheat", (GRADED,), "base", build=lambda x: _insert(x.base, REBIND, "start")),
        C("print_override_and_pre_run_cell", "cheat", (GRADED,), "base", build=lambda x: _insert(x.base, FORGE, "start")),
        C("kernel_internals_replaced", "cheat", (GRADED,), "le_base", build=lambda x: _insert(x.base, INTERNALS, "start")),
        C("bdbquit_answers_on_blank", "cheat", (GRADED,), "zero", build=lambda x: _all_answers(x, BDBQUIT)),
        C("frame_reading_oracle_on_blank", "cheat", (GRADED,), "zero", build=lambda x: _all_answers(x, ORACLE)),
        C("lying_ndarray_subclass_on_blank", "cheat", (GRADED,), "zero", build=lambda x: _all_answers(x, LYING)),
        C("forged_serve_loop", "cheat", (GRADED,), "le_base", build=lambda x: _insert(x.base, FORGED_SERVE, "start")),
        C("printed_result_marker", "cheat", (GRADED,), "base", build=lambda x: _insert(x.base, MARKER_PRINT, "start")),
        C("symlink_to_the_source", "cheat", (UNREADABLE,), "none", build=_symlink_to_source),
        C("symlinked_student_folder", "cheat", (UNREADABLE,), "none", build=_symlinked_folder),
        C("malformed_metadata", "cheat", (FLAGGED,), "base", True, _malformed_metadata),
        C("giant_error_outputs", "resources", (GRADED, TIMED_OUT), "base", build=lambda x: _insert(x.base, GIANT_ERRORS)),
        # Its wrapper keeps every string it stole, so its memory grows with each call until the
        # kernel's limit makes later calls raise MemoryError (on Module 1: 9 of the base's 29
        # marks). Marks its own code loses are fair; what the case checks is that nothing leaks.
        C("leak_by_frames_base64_and_lines", "snoop", (GRADED,), "le_base", build=lambda x: _insert(x.base, LEAK_WRAP, "start")),
        C("leak_by_update_display", "snoop", (GRADED,), "base", build=lambda x: _insert(x.base, LEAK_DISPLAY, "start")),
        C("script_in_markdown_and_outputs", "snoop", (GRADED,), "base", build=_script_everywhere),
        C("escape_codes_in_file_names", "unreadable", (GRADED,), "full", build=_escape_names),
        C("printed_fake_results", "cheat", (GRADED,), "base", build=lambda x: _insert(x.base, fake_print, "start")),
        C("fake_outputs_in_file", "cheat", (GRADED, FLAGGED), "base", build=_fake_outputs),
        C("edited_test_cell", "cheat", (FLAGGED,), "base", True, _edited_test),
        C("deleted_test_cell", "cheat", (FLAGGED,), "base", True, _deleted_test),
        C("renamed_grade_id", "cheat", (FLAGGED,), "le_base", True, _renamed_answer),
        C("duplicated_grade_cells", "cheat", (FLAGGED,), "base", True, _duplicated),
        C("added_grade_cell", "cheat", (FLAGGED,), "base", True, _added_grade_cell),
        C("edited_points", "cheat", (FLAGGED,), "base", True, _edited_points),
        C("all_metadata_stripped", "unreadable", (FLAGGED,), "base", True, _stripped),
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


REBIND = """import numpy as np
check_close = check_equal = check_true = check_shape = lambda *a, **k: None
np.allclose = lambda *a, **k: True
import builtins
builtins.AssertionError = type('AssertionError', (Exception,), {})"""
FORGE = """import builtins, sys
_real_print = builtins.print
builtins.print = lambda *a, **k: _real_print('passed')
def _forge(*a, **k):
    _real_print('@@GRADER-RESULT@@ {"status": "completed"}')
get_ipython().events.register('pre_run_cell', _forge)
sys.stdout.write = lambda s: 0"""
INTERNALS = """ip = get_ipython()
ip.showtraceback = lambda *a, **k: None
ip.transform_cell = lambda cell: 'pass\\n'
ip.ast_transformers.append(type('T', (), {'visit': lambda self, node: node})())
import sys
sys.settrace(None)"""
BDBQUIT = "import bdb\nraise bdb.BdbQuit()"
ORACLE = """import sys, numpy as np
class _Oracle:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, *a, **k):
        f = sys._getframe(1)
        while f is not None:
            for k in ('expected', 'e', 'exp', 'want'):
                if k in f.f_locals:
                    return np.asarray(f.f_locals[k])
            f = f.f_back
        return np.zeros(1)
    def __float__(self): return 0.0
    def __int__(self): return 0
    def __len__(self): return 1
return _Oracle()"""
LYING = """import numpy as np
class _Liar(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), bool)
    def __ne__(self, other): return np.zeros(np.shape(other), bool)
    def astype(self, *a, **k): return self
return np.zeros(3).view(_Liar)"""
FORGED_SERVE = """import autograder.remote as _r
def _fake(address, ns):
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect('\\0' + address)
    while True:
        data = s.recv(1 << 16)
        if not data:
            break
        s.sendall(b'\\x00\\x00\\x00\\x0b\\x00\\x00\\x00\\x00{"op":"ok"}')
_r.serve = _fake"""
MARKER_PRINT = """print('@@GRADER-RESULT@@{"result": {"status": "completed"}, "notebook": null}')
import sys
sys.stderr.write('@@GRADER-RESULT@@')"""
GIANT_ERRORS = """for _i in range(3):
    try:
        raise ValueError('E' * 20_000_000)
    except ValueError:
        get_ipython().showtraceback()
raise ValueError('F' * 30_000_000)"""
LEAK_WRAP = """import sys, base64, functools, types
_stolen = []
def _grab():
    f = sys._getframe(2)
    while f is not None:
        for d in (f.f_locals, f.f_globals):
            for k in ('In', '_ih', '_i', '_ii', 'source', 'code'):
                v = d.get(k)
                if v:
                    _stolen.append(str(v))
        try:
            import inspect
            _stolen.append(inspect.getsource(f))
        except Exception:
            pass
        f = f.f_back
    try:
        _stolen.append(str(get_ipython().history_manager.input_hist_raw))
    except Exception:
        pass
    s = '\\n'.join(_stolen)
    print(base64.b64encode(s.encode()).decode())
    for i in range(0, len(s), 8):
        print(s[i:i + 8])
def _wrap_all(*a, **k):
    g = get_ipython().user_ns
    for name, fn in list(g.items()):
        if isinstance(fn, types.FunctionType) and not name.startswith('_') and not getattr(fn, '_w', False):
            def w(*args, _fn=fn, **kw):
                _grab()
                return _fn(*args, **kw)
            w._w = True
            g[name] = w
get_ipython().events.register('post_run_cell', _wrap_all)"""
LEAK_DISPLAY = """from IPython.display import display
import sys, base64
_h = display('nothing yet', display_id=True)
def _leak(*a, **k):
    f = sys._getframe(1)
    text = []
    while f is not None:
        text.append(str(f.f_locals.get('In', '')) + str(f.f_globals.get('_ih', '')))
        f = f.f_back
    s = '\\n'.join(text)
    _h.update({'text/plain': s, 'text/html': '<pre>' + base64.b64encode(s.encode()).decode() + '</pre>'}, raw=True)
get_ipython().events.register('pre_run_cell', _leak)
get_ipython().events.register('post_run_cell', _leak)"""


def _all_answers(x, body: str):
    """The blank notebook with every function answer replaced by ``body``."""
    import ast as _ast

    nb = _copy(x.blank)
    for c in nb.cells:
        if nbg(c).get("solution") and c.cell_type == "code":
            ref = next((r for r in x.reference.cells if nbg(r).get("grade_id") == nbg(c).get("grade_id")), None)
            try:
                tree = _ast.parse(ref.source)
            except (SyntaxError, AttributeError):
                continue
            fn = next((n for n in tree.body if isinstance(n, _ast.FunctionDef)), None)
            if fn is None:
                continue
            c.source = f"def {fn.name}(*args, **kwargs):\n" + "\n".join("    " + ln for ln in body.splitlines())
    return nb


def _symlink_to_source(x):
    return ("link", {f"{x.assignment}.ipynb": str(x.course.source(x.assignment))})


def _symlinked_folder(x):
    return ("dirlink", str(x.course.source(x.assignment).parent))


def _malformed_metadata(x):
    nb = _copy(x.base)
    a = nbformat.v4.new_code_cell("x_extra = 1")
    a.metadata["nbgrader"] = "not a dict"
    b = nbformat.v4.new_code_cell("y_extra = 2")
    b.metadata["nbgrader"] = {"grade": True, "grade_id": ["a", "list"], "points": "lots"}
    nb.cells[1:1] = [a, b]
    return nb


def _script_everywhere(x):
    nb = _insert(x.base, "from IPython.display import HTML, Javascript, display\n"
                 "display(HTML('<script>alert(\"XSS-OUT\")</script><img src=x onerror=alert(\"XSS-IMG\")>'))\n"
                 "display(Javascript('alert(\"XSS-JS\")'))", "start")
    for c in nb.cells:
        if nbg(c).get("solution") and c.cell_type == "markdown":
            c.source = '<script>alert("XSS-MD")</script><img src=x onerror=alert("XSS-MD-IMG")>'
    return nb


def _escape_names(x):
    return ("files", {f"{x.assignment}.ipynb": nbformat.writes(x.reference).encode(),
                      "\x1b[2J\x1b[31mnotes.txt": b"hello", "bell\x07.txt": b"ring"})


XSS = ("XSS-OUT", "XSS-IMG", "XSS-JS", "XSS-MD")


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


def _stripped(x):
    """Every cell's metadata removed (an editor or converter that drops it): answers are recovered
    by the names they define, and the one wrong answer still loses its points."""
    nb = _copy(x.base)
    for c in nb.cells:
        c.metadata = {}
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


def _sandbox_processes(scratch: Path | None = None) -> int:
    """Processes still running as one of the sandbox uids, or started for this audit's batch; a
    kernel of another grading run on the machine (its runner's settings live elsewhere) is not
    counted."""
    import psutil

    def runner_elsewhere(p) -> bool:
        try:
            for a in p.parents():
                cmd = " ".join(a.cmdline())
                if "sandbox_runner.py" in cmd:
                    return scratch is not None and str(scratch) not in cmd
        except psutil.Error:
            pass
        return False

    n = 0
    for p in psutil.process_iter(["uids", "cmdline"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            ours = scratch is not None and str(scratch) in cmd
            sandboxed = p.info["uids"] and sandbox.BASE_UID <= p.info["uids"].real < sandbox.BASE_UID + sandbox.UID_RANGE
            if ours or (sandboxed and not runner_elsewhere(p)):
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
    gradebook = Gradebook(course.gradebook_path)
    stop, srv, port = _listener()
    try:
        folder = tmp / "submissions"
        folder.mkdir()
        secret = [str(course.source(assignment)), str(course.solutions), str(course.gradebook_path),
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
            elif isinstance(made, tuple) and made[0] == "link":
                for name, dest in made[1].items():
                    (target / name).symlink_to(dest)
            elif isinstance(made, tuple) and made[0] == "dirlink":
                target.rmdir()
                target.symlink_to(made[1], target_is_directory=True)
            else:
                nbformat.write(made, target / f"{assignment}.ipynb")
        # A row graded earlier: it must come through the batch untouched.
        from autograder.scoring import Score

        gradebook.record(assignment, SENTINEL, Score(GRADED, 1.0, 1.0, 0.0), "sentinel")
        before = {r["student"]: r for r in gradebook.rows()}
        ref_score = _plain_reference_time(source, release, reference, limits)
        t0 = time.perf_counter()
        crashes = 0
        logged: list[str] = []

        def log_both(m):
            logged.append(str(m))
            log(m)

        try:
            grade_batch(course, assignment, folder, limits, jobs=jobs, log=log_both)
        except Exception as exc:  # counted, not hidden
            crashes = 1
            log(f"batch crashed: {type(exc).__name__}: {exc}")
        batch_seconds = time.perf_counter() - t0
        leftover = _sandbox_processes(tmp)
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
            graded_nb = gradebook.notebook(assignment, case.name)
            if graded_nb is not None and _printed(graded_nb, SNOOP):
                problems.append("snooping reached a private file or the network")
            size = len(nbformat.writes(graded_nb)) if graded_nb is not None else 0
            if size > (limits.max_output_mb + 4) * 1024 * 1024:
                problems.append(f"graded notebook of {size / 1e6:.0f} MB: over the output cap")
            results.append(CaseResult(case, r["status"], s, r["flags"], not problems, problems))
        leaks, active = _leaks(course, assignment, source, release, [c.name for c in all_cases], tmp)
        raw_control = sum(any(ch in line for ch in ("\x1b", "\x07")) for line in logged)
        zip_ok = _corrupt_zip_entry(course, assignment, reference, tmp)
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
            "live script or HTML in feedback": active,
            "raw control characters printed": raw_control,
            "corrupt zip entry fails only its submission": zip_ok,
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


def _printed(nb, marker: str) -> bool:
    """Whether any output (not source) of a graded notebook contains ``marker``."""
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


def _secret_forms(secret: str) -> list[str]:
    """The ways an attack in the audit encodes what it stole: as is, base64, 8-character lines."""
    import base64

    return [secret, base64.b64encode(secret.encode()).decode()[:16]]


def _leaks(course, assignment, source, release, students, tmp) -> tuple[int, int]:
    """(feedback files holding hidden-test text in any of the attacks' encodings, feedback files
    with live script or HTML that a submission wrote)."""
    import re

    leaks = active = 0
    book = Gradebook(course.gradebook_path)
    for s in students:
        graded = book.notebook(assignment, s)
        if graded is None:
            continue
        secrets_ = secrets_for(graded, source, release)
        try:
            html = render(graded, tmp / "fb" / f"{s}.html", source, release).read_text()
        except LeakError:
            continue  # refused to write: not a leak, the guard worked
        flat = re.sub(r"\s+", "", html)
        if any(form in html or re.sub(r"\s+", "", form) in flat for sec in secrets_
               for form in _secret_forms(sec) if len(form) >= 12):
            leaks += 1
        # live markup only: a script holding an attack's marker, or a real tag with an event handler
        # (the submission's source, shown as escaped text, does not count)
        if re.search(r"<script[^>]*>[^<]*XSS|<[a-zA-Z][^>]*\son[a-z]+\s*=\s*[\"']?alert", html, re.I):
            active += 1
    return leaks, active


def _corrupt_zip_entry(course, assignment, reference, tmp) -> bool:
    """A zip with one good submission and one whose entry fails its CRC: intake reads the first and
    marks only the second unreadable (it used to end the whole grade command)."""
    import zipfile

    from autograder import intake

    z = tmp / "crc.zip"
    good = nbformat.writes(reference).encode()
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"alice/{assignment}.ipynb", good)
        zf.writestr(f"bob/{assignment}.ipynb", good)
    data = bytearray(z.read_bytes())
    second = data.find(good, data.find(good) + len(good))
    data[second + len(good) // 2] ^= 0xFF  # flip a byte inside bob's data: its CRC no longer matches
    z.write_bytes(bytes(data))
    scratch = tmp / "crc"
    scratch.mkdir()
    try:
        batch = intake.load(z, assignment, scratch)
    except Exception:  # noqa: BLE001 - a crash is the failure this measures
        return False
    subs = {sb.student: sb for sb in batch.submissions}
    return (set(subs) == {"alice", "bob"} and subs["alice"].unreadable is None
            and subs["bob"].unreadable is not None and "corrupt" in subs["bob"].unreadable)
