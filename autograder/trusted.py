"""The trusted side of grading: test cells run here, never in the student's process.

``TrustedTests`` holds the namespace test cells run in. It is built from the instructor's source:

* the locked cells' ``import`` statements are replayed here (lazily, on first use), and their
  ``def`` and ``class`` statements are executed here, so ``np``, ``torch``, ``check_close``, a
  locked helper such as ``check_optimizer`` are always the grader's own, whatever the student's
  cells rebound;
* every other name a test reads (the student's functions and classes, values computed by locked
  cells such as a trained model or a data split) is fetched from the student process when it is
  read: plain data as a copy, anything else as a handle (``autograder.remote``);
* a name a locked cell binds in any other way (``model = train(...)``) is always fetched;
* each test cell (its visible and hidden part together) gets a fresh namespace on top of that, so
  names it assigns are its own.

A test passes when its code ran to the end without raising. Its printed lines are kept for the
feedback of the visible part; what the student's code printed meanwhile is never kept.
"""
from __future__ import annotations

import ast
import builtins
import io
import time
from dataclasses import dataclass, field

from autograder import remote

BIND_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
MAX_TEST_OUTPUT = 20_000


def python_source(cell_source: str) -> str:
    """IPython syntax (magics, shell escapes) turned into plain Python, as the kernel would run it."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _bound_names(stmt: ast.stmt) -> set[str]:
    names: set[str] = set()
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        for a in stmt.names:
            names.add((a.asname or a.name).split(".")[0])
        return names
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names |= set(node.names)
    return names


class Namespace(dict):
    """Globals of trusted test code: what is missing is an import to replay or a student name."""

    def __init__(self, owner: TrustedTests, *args):
        super().__init__(*args)
        self.owner = owner

    def __missing__(self, name: str):
        owner = self.owner
        if self is not owner.base and dict.__contains__(owner.base, name):
            return dict.__getitem__(owner.base, name)
        stmt = owner.lazy.get(name)
        if stmt is not None:
            for n in _bound_names(stmt):
                if owner.lazy.get(n) is stmt:
                    del owner.lazy[n]
            try:
                exec(compile(ast.Module([stmt], []), "<locked import>", "exec"), owner.base)
            except Exception:  # noqa: BLE001 - the name is then fetched from the student side
                pass
            if dict.__contains__(owner.base, name):
                return dict.__getitem__(owner.base, name)
        if name in builtins.__dict__:
            return builtins.__dict__[name]
        if owner.peer is None:
            raise KeyError(name)
        try:
            return owner.peer.request({"op": "global", "name": name})
        except remote.StudentError as exc:
            if getattr(exc, "remote_type", "") == "NameError" or isinstance(exc, NameError):
                raise KeyError(name) from None
            raise


@dataclass
class PartResult:
    error: tuple[str, str] | None = None     # (type name, message) when the part failed
    output: str = ""


@dataclass
class TestRun:
    grade_id: str
    parts: dict[str, PartResult] = field(default_factory=dict)
    status: str = "ran"                      # ran | timed-out | broken
    message: str = ""


class TrustedTests:
    def __init__(self):
        self.peer: remote.Peer | None = None
        self.lazy: dict[str, ast.stmt] = {}
        self._out: io.StringIO | None = None
        self.base = Namespace(self, {"__builtins__": builtins, "__name__": "__grader_tests__", "print": self._print})

    def _print(self, *args, sep=" ", end="\n", file=None, flush=False):
        if self._out is not None and self._out.tell() < MAX_TEST_OUTPUT:
            self._out.write(sep.join(str(a) for a in args) + end)

    def replay_locked(self, source: str) -> None:
        """Take in a locked cell: replay its imports (lazily), definitions; forget other names."""
        try:
            tree = ast.parse(python_source(source))
        except SyntaxError:
            return
        for stmt in tree.body:
            self._replay(stmt)

    def _replay(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
                return
            for name in _bound_names(stmt):
                self.base.pop(name, None)
                self.lazy[name] = stmt
            return
        if isinstance(stmt, ast.Try):  # the set-up cell's "try: import ... except ImportError: install"
            for s in stmt.body:
                self._replay(s)
            for name in set().union(*(_bound_names(s) for h in stmt.handlers for s in h.body), set()):
                if name not in self.lazy and name not in self.base:
                    self.base.pop(name, None)
            return
        names = _bound_names(stmt)
        for name in names:
            self.base.pop(name, None)
            self.lazy.pop(name, None)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            try:
                exec(compile(ast.Module([stmt], []), "<locked cell>", "exec"), self.base)
            except Exception:  # noqa: BLE001 - its name is fetched from the student side instead
                self.base.pop(stmt.name, None)

    def run_test(self, grade_id: str, parts: list[tuple[str, str]], peer: remote.Peer,
                 deadline: float) -> TestRun:
        """Run a test cell's parts (visible, hidden) in one fresh namespace against ``peer``."""
        result = TestRun(grade_id)
        self.peer = peer
        peer.deadline = deadline
        ns = Namespace(self, self.base)
        try:
            for part, source in parts:
                out = io.StringIO()
                self._out = out
                pr = PartResult()
                result.parts[part] = pr
                try:
                    code = compile(python_source(source), f"<{grade_id} {part}>", "exec")
                    exec(code, ns)
                except remote.TimeLimit as exc:
                    pr.error = ("TimeoutError", str(exc))
                    result.status, result.message = "timed-out", str(exc)
                except remote.ProtocolError as exc:
                    pr.error = ("GraderError", f"the student's process answered wrongly: {exc}")
                    result.status, result.message = "broken", str(exc)
                except BaseException as exc:  # noqa: BLE001 - a failing test is an outcome
                    pr.error = (type(exc).__name__, _text(exc))
                pr.output = out.getvalue()[:MAX_TEST_OUTPUT]
                if result.status != "ran":
                    break
        finally:
            self._out = None
            self.peer = None
            try:
                if not peer.closed:
                    peer.send({"op": "end"}, [])
            except remote.ProtocolError:
                pass
            peer.closed = True
        return result


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:4000]
    except BaseException:  # noqa: BLE001
        return "(no message)"


def now() -> float:
    return time.monotonic()
