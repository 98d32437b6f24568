"""No locked or demo cell hands a student an answer.

Three checks on every module's executed source notebook (``solutions/<id>/<id>.ipynb``), each
proved on small synthetic notebooks below (one leaking, one clean):

* **copies**: no function or class defined in a locked cell (demo, set-up, or the visible part
  of a test cell) has the same body as a graded solution, compared as ASTs with docstrings and
  type hints dropped and local names renamed in order of appearance (so renaming ``r`` to
  ``radius`` does not hide a copy);
* **substitutes**: running the notebook up to each graded function or class, no callable that a
  locked cell defined before it passes that exercise's test cell (hidden tests included) when
  the answer is simply that callable (``receptive_field = _rf``). This catches working answers
  that are written differently from the solution;
* **concept checks**: the right choice of a multiple-choice question (read from its hidden test)
  is not printed by a locked cell before it, nor stated in the prose between the previous
  exercise and the question.

The module scripts are also valid Python (magics are written the way jupytext writes them).
"""
from __future__ import annotations

import ast
import os
import re
import traceback
from pathlib import Path

import nbformat
import pytest

from autograder.authoring import build_notebook, parse_script, uncomment_magics

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "solutions").glob("*/*.py"))
ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb"))
HIDDEN = "### BEGIN HIDDEN TESTS"
_MAGIC = re.compile(r"^\s*[%!]")
os.environ.setdefault("MPLBACKEND", "Agg")


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_solution(cell) -> bool:
    return cell.cell_type == "code" and bool(_meta(cell).get("solution"))


def _is_test(cell) -> bool:
    return cell.cell_type == "code" and bool(_meta(cell).get("grade")) and not _meta(cell).get("solution")


def _visible(cell) -> str:
    """What a student sees of a locked code cell: all of it, or a test cell up to its hidden block."""
    return cell.source.split(HIDDEN)[0]


def _parse(src: str) -> ast.Module | None:
    src = "\n".join("" if _MAGIC.match(ln) else ln for ln in src.splitlines())
    try:
        return ast.parse(src)
    except SyntaxError:
        return None


# ---------------------------------------------------------------------------------------------
# copies: normalised ASTs


class _Rename(ast.NodeTransformer):
    """Rename parameters and names bound inside a function to v0, v1, ... in order of appearance."""

    def __init__(self, local: set[str]):
        self.local, self.names = local, {}

    def _new(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.local:
            node.id = self._new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg, node.annotation = self._new(node.arg), None
        return node


def _locals(fn: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    names |= {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    return names


def normalised(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The body of ``fn`` without docstring and hints, with its local names renamed canonically."""
    fn = ast.parse(ast.unparse(fn)).body[0]  # a private copy
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    fn.returns = None
    renamer = _Rename(_locals(fn))
    renamer.visit(fn.args)
    body = [renamer.visit(stmt) for stmt in body]
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
    return ast.dump(ast.arguments(**{k: getattr(fn.args, k) for k in fn.args._fields})) + "|" + "".join(ast.dump(s) for s in body)


def _class_key(cls: ast.ClassDef) -> str:
    return "|".join(sorted(normalised(f) for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))))


def solution_definitions(nb) -> dict[str, str]:
    """normalised key -> graded name, for every top-level function and class of the answer cells."""
    keys = {}
    for cell in nb.cells:
        tree = _parse(cell.source) if _is_solution(cell) else None
        for node in tree.body if tree else []:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                keys[normalised(node)] = node.name
            elif isinstance(node, ast.ClassDef):
                keys[_class_key(node)] = node.name
    return keys


def copies_in_locked_cells(nb) -> list[str]:
    """Locked definitions whose body is a graded solution's (up to names, docstrings and hints)."""
    solutions = solution_definitions(nb)
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or _is_solution(cell):
            continue
        tree = _parse(_visible(cell))
        for node in ast.walk(tree) if tree else []:
            key = None
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = normalised(node)
            elif isinstance(node, ast.ClassDef):
                key = _class_key(node)
            if key is not None and key in solutions:
                found.append(f"cell {i}: {node.name} is a copy of the solution {solutions[key]}")
    return found


# ---------------------------------------------------------------------------------------------
# substitutes: run the notebook, try each earlier locked callable as the answer


def _graded_names(cell) -> list[str]:
    tree = _parse(cell.source)
    return [n.name for n in (tree.body if tree else []) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]


def _run(src: str, namespace: dict, label: str) -> str | None:
    src = "\n".join("" if _MAGIC.match(ln) else ln for ln in src.splitlines())
    try:
        exec(compile(src, label, "exec"), namespace)  # noqa: S102 - the course's own notebooks
    except Exception as exc:  # a failing cell is an outcome we record
        return "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]
    return None


def _accepts_like(candidate, graded) -> bool:
    """Whether ``candidate`` can be called the way the graded callable's required arguments are."""
    import inspect

    try:
        want = [p for p in inspect.signature(graded).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        inspect.signature(candidate).bind(*range(len(want)))
    except (TypeError, ValueError):
        return False
    return True


def substitutes_in_locked_cells(nb, workdir: Path, skip_tags: frozenset[str] = frozenset({"slow"})) -> list[str]:
    """Locked callables that pass a graded test when they stand in for its answer."""
    import matplotlib.pyplot as plt

    namespace: dict = {"__name__": "__main__"}
    locked_callables: dict[str, object] = {}
    found = []
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        cells = nb.cells
        for i, cell in enumerate(cells):
            if cell.cell_type != "code" or skip_tags & set(cell.metadata.get("tags", [])):
                continue
            if _is_solution(cell):
                test = next((c for c in cells[i + 1:] if _is_test(c)), None)
                names = _graded_names(cell)
                if test is not None and names:
                    _run(cell.source, probe := dict(namespace), f"<probe {i}>")  # the real answer, to read its signature
                    for name in names:
                        for cname, candidate in locked_callables.items():
                            if name not in probe or not _accepts_like(candidate, probe[name]):
                                continue
                            trial = dict(namespace)
                            trial[name] = candidate
                            if _run(test.source, trial, f"<trial {name}={cname}>") is None:
                                found.append(f"{cname} (a locked cell) passes {_meta(test).get('grade_id')} as {name}")
                    plt.close("all")
                _run(cell.source, namespace, f"<cell {i}>")
                continue
            before = {k: v for k, v in namespace.items()}
            _run(cell.source, namespace, f"<cell {i}>")
            if not _is_test(cell):
                for k, v in namespace.items():
                    fresh = before.get(k) is not v
                    if fresh and callable(v) and getattr(v, "__module__", None) in (None, "__main__") \
                            and not k.startswith("__"):
                        locked_callables[k] = v
        plt.close("all")
    finally:
        os.chdir(cwd)
    return found


# ---------------------------------------------------------------------------------------------
# concept checks

_ANSWER = re.compile(r"""check_equal\(\s*["'](?P<var>q\w*_answer)["']\s*,\s*(?P=var)\s*,\s*["'](?P<letter>[a-z])["']""")
_CHOICE = re.compile(r"^\s*[-*]\s*\((?P<letter>[a-z])\)\s*(?P<text>.+?)\s*$", re.M)
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w.])")


def _numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", "") for m in _NUMBER.finditer(text)}


def _output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
        parts.append(out.get("data", {}).get("text/markdown", ""))
    return "".join(p if isinstance(p, str) else "".join(p) for p in parts)


def concept_check_leaks(nb) -> list[str]:
    """Concept checks whose right choice is printed or stated before the question."""
    cells, found = nb.cells, []
    for i, cell in enumerate(cells):
        m = _ANSWER.search(cell.source) if _is_test(cell) else None
        if not m:
            continue
        # the question: the markdown cell above the answer cell that lists the choices
        q = next((j for j in range(i - 1, -1, -1) if cells[j].cell_type == "markdown" and _CHOICE.search(cells[j].source)), None)
        if q is None:
            continue
        choices = {c.group("letter"): c.group("text") for c in _CHOICE.finditer(cells[q].source)}
        right = choices.get(m.group("letter"), "")
        wrong_numbers = set().union(*(_numbers(t) for k, t in choices.items() if k != m.group("letter")))
        distinctive = {n for n in _numbers(right) - wrong_numbers if len(n.lstrip("-").replace(".", "")) >= 2}
        window_start = max((j for j in range(q) if _is_test(cells[j])), default=-1) + 1
        for j in range(q):
            cell_j = cells[j]
            if cell_j.cell_type == "code" and not _is_solution(cell_j):
                hits = distinctive & _numbers(_output_text(cell_j))
                if hits:
                    found.append(f"{m.group('var')}: cell {j} prints {sorted(hits)}, the right choice ({right!r})")
            if j >= window_start and cell_j.cell_type == "markdown":
                hits = distinctive & _numbers(cell_j.source)
                phrase = right.lower().strip(" .`*")
                stated = not distinctive and len(phrase) >= 8 and phrase in " ".join(cell_j.source.lower().split())
                if hits or stated:
                    found.append(f"{m.group('var')}: the prose of cell {j} states the right choice ({right!r})")
    return found


# ---------------------------------------------------------------------------------------------
# the course's modules


def _source(assignment: str):
    return nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_module_script_is_valid_python(script):
    compile(script.read_text(encoding="utf-8"), str(script), "exec")


def test_commented_magics_become_magics():
    src = 'try:\n    import x\nexcept ImportError:\n    # %pip install -q "x"\n    import x\n# !ls\n# a comment, 50% of it\n'
    out = uncomment_magics(src)
    assert '    %pip install -q "x"' in out.splitlines() and "!ls" in out.splitlines()
    assert "# a comment, 50% of it" in out


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_module_first_code_cell_imports_course_utils(script):
    """`course-grader release` puts the student edition's install of course_utils in place of this line
    (autograder.release.for_students); the scripts name no place to install from."""
    nb = build_notebook(parse_script(script))
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert re.search(r"^import course_utils\b", first.source, re.M), "the first code cell starts with `import course_utils`"
    text = script.read_text(encoding="utf-8")
    assert "pip install" not in text and "git+" not in text, "install locations live in [tool.course] only"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_locked_cell_copies_a_solution(assignment):
    assert copies_in_locked_cells(_source(assignment)) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_locked_callable_passes_a_graded_test(assignment):
    nb = _source(assignment)
    assert substitutes_in_locked_cells(nb, ROOT / "solutions" / assignment) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_concept_check_answer_before_its_question(assignment):
    assert concept_check_leaks(_source(assignment)) == []


# ---------------------------------------------------------------------------------------------
# the checks themselves, on synthetic notebooks


def _nb(*cells: tuple[str, str, dict]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    for kind, src, extra in cells:
        cell = nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
        meta = {"schema_version": 3, "locked": kind != "solution", "solution": kind == "solution", "grade": kind == "tests"}
        if "id" in extra:
            meta["grade_id"] = extra["id"]
        cell.metadata["nbgrader"] = meta
        if "output" in extra:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=extra["output"])]
        nb.cells.append(cell)
    return nb


_RF_SOLUTION = '''def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Receptive field of a stack of (kernel, stride) layers."""
    ### BEGIN SOLUTION
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r
    ### END SOLUTION
'''
_RF_TEST = '''assert receptive_field([(3, 1), (3, 1)]) == 5
### BEGIN HIDDEN TESTS
assert receptive_field([]) == 1
assert receptive_field([(11, 4), (3, 2), (5, 1)]) == 51
### END HIDDEN TESTS
'''


def _rf_notebook(demo: str) -> nbformat.NotebookNode:
    return _nb(("code", demo, {}), ("markdown", "### Exercise 1: `receptive_field`", {}),
               ("solution", _RF_SOLUTION, {"id": "receptive_field"}), ("tests", _RF_TEST, {"id": "test_receptive_field"}))


_RENAMED_COPY = '''def _field(stack):
    size, step = 1, 1
    for kernel, stride in stack:
        size += (kernel - 1) * step
        step *= stride
    return size
print([_field([(3, 1)] * d) for d in range(3)])
'''
_REWRITTEN = '''def _rf(layers):
    r, jump = 1, 1
    for k, s in layers:
        r, jump = r + (k - 1) * jump, jump * s
    return r
'''
_CLEAN_DEMO = '''def draw(depths):
    return [1 + 2 * d for d in depths]  # 3x3 stride-1 stacks only: not the general recursion
print(draw(range(3)))
'''


def test_copy_check_catches_a_renamed_copy_and_passes_a_clean_demo():
    assert copies_in_locked_cells(_rf_notebook(_RENAMED_COPY))
    assert copies_in_locked_cells(_rf_notebook(_CLEAN_DEMO)) == []


def test_substitute_check_catches_a_rewritten_working_answer(tmp_path):
    assert copies_in_locked_cells(_rf_notebook(_REWRITTEN)) == []  # not a copy of the solution's AST...
    assert substitutes_in_locked_cells(_rf_notebook(_REWRITTEN), tmp_path)  # ...but it answers the exercise
    assert substitutes_in_locked_cells(_rf_notebook(_CLEAN_DEMO), tmp_path) == []


_QUESTION = '''### Concept check 1

How many weights has a depthwise-separable 3x3 layer from 32 to 64 channels?

- (a) 18432
- (b) 2336
- (c) 2048
- (d) 288'''
_Q_SOLUTION = 'q1_answer = None  # "a", "b", "c" or "d"\n### BEGIN SOLUTION\nq1_answer = "b"\n### END SOLUTION\n'
_Q_TEST = 'assert q1_answer in "abcd"\n### BEGIN HIDDEN TESTS\ncheck_equal("q1_answer", q1_answer, "b")\n### END HIDDEN TESTS\n'


def _question_notebook(demo_output: str, prose: str) -> nbformat.NotebookNode:
    return _nb(("markdown", prose, {}), ("code", "print(table)", {"output": demo_output}), ("markdown", _QUESTION, {}),
               ("solution", _Q_SOLUTION, {"id": "q1"}), ("tests", _Q_TEST, {"id": "test_q1"}))


def test_concept_check_leak_catches_a_printed_or_stated_answer():
    clean = _question_notebook("standard 3x3    (1, 64, 16, 16)    18432\n", "A separable layer has two parts.")
    assert concept_check_leaks(clean) == []
    printed = _question_notebook("standard 3x3    18432\ndepthwise-separable 3x3    2336\n", "A separable layer has two parts.")
    assert concept_check_leaks(printed)
    stated = _question_notebook("", "So the separable layer has 2,336 weights.")
    assert concept_check_leaks(stated)
