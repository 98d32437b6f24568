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
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?!\w|\.\d)")
_FRACTION = re.compile(r"\\d?frac\{\s*(\d+(?:\.\d+)?)\s*\}\{\s*(\d+(?:\.\d+)?)\s*\}|(?<![\w./])(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)(?!\w|\.\d)")
_HEADING = re.compile(r"^#{1,2}\s", re.M)  # a section: from a level-1 or level-2 heading to the next one
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
_STOP = frozenset("""a an the of to in on at by for from with and or not no is are be been it its this that these those
    which what who how why when where than then as so if all any each every one two three four some more most less least
    do does did can could would should will may might must you your we our they their them there here about into over
    under only also just very much many same other both either neither after before while set answer choice""".split())


def _numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", "") for m in _NUMBER.finditer(text)}


def _values(text: str) -> set[float]:
    """The numbers a text states, as floats (2,336 and 2336 alike; 1/4, \\frac{1}{4} and 0.25 alike)."""
    found = set()
    for m in _FRACTION.finditer(text):
        num, den = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        if float(den):
            found.add(round(float(num) / float(den), 9))
    for n in _numbers(text):
        try:
            found.add(round(float(n), 9))
        except ValueError:
            pass
    return found


def _significant(v: float) -> bool:
    """Numbers that say something when they appear: not the small integers every text is full of."""
    return not (float(v).is_integer() and abs(v) < 10)


def _plain(text: str) -> str:
    """Markdown and LaTeX reduced to words: commands, $, *, `, braces and &nbsp; become spaces."""
    text = re.sub(r"\\[A-Za-z]+|&nbsp;|[$*`{}_^\\]", " ", text)
    return " ".join(text.split())


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(_plain(text)) if w.lower() not in _STOP}


def _sentences(text: str) -> list[str]:
    """Sentences, clauses after a semicolon, list items and table rows."""
    return [s for s in re.split(r"(?<=[.!?;])\s+|\n\s*\n|\n\s*[-*]\s|\n(?=\s*\|)", text) if s.strip()]


def _technical(word: str) -> bool:
    """A name or term rather than an ordinary word: He, Xavier, ReLU, one-to-many, float16."""
    return any(ch.isupper() or ch.isdigit() or ch == "-" for ch in word)


def _choices(markdown: str) -> tuple[dict[str, str], str]:
    """A question's choices {letter: text}, listed as bullets "- (a) ..." or inline "(a) ... (b) ...",
    and the rest of the cell (the question's stem, without the choices)."""
    bullets = {m.group("letter"): m.group("text") for m in _CHOICE.finditer(markdown)}
    if len(bullets) >= 2:
        return bullets, _CHOICE.sub("", markdown)
    paragraphs = re.split(r"\n\s*\n", markdown)
    for k, para in enumerate(paragraphs):
        parts = re.split(r"\(([a-h])\)\s+", para)
        letters = parts[1::2]
        if len(letters) >= 2 and letters == [chr(ord("a") + i) for i in range(len(letters))]:
            choices = {letter: text.replace("&nbsp;", " ").strip() for letter, text in zip(letters, parts[2::2])}
            return choices, "\n\n".join(paragraphs[:k] + [parts[0]] + paragraphs[k + 1:])
    return {}, markdown


def _section_start(cells, i: int) -> int:
    """Index of the cell that opens the section (level-1 or -2 heading) cell i belongs to."""
    return next((j for j in range(i, -1, -1) if cells[j].cell_type == "markdown" and _HEADING.search(cells[j].source)), 0)


def _after_last_heading(markdown: str) -> str:
    heads = list(_HEADING.finditer(markdown))
    return markdown[heads[-1].start():] if heads else markdown


def _shown_before(cells, start: int, stop: int) -> list[tuple[int, str]]:
    """(cell index, text a student reads) of the cells start..stop-1: markdown, and what code prints."""
    shown = []
    for j in range(start, stop):
        cell = cells[j]
        if cell.cell_type == "markdown" and not _is_solution(cell):
            shown.append((j, cell.source if j != start else _after_last_heading(cell.source)))
        elif cell.cell_type == "code" and not _is_solution(cell):
            shown.append((j, _output_text(cell)))
    return shown


def _output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
        parts.append(out.get("data", {}).get("text/markdown", ""))
    return "".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _states(text: str, right: str, wrong: list[str], stem: str) -> str | None:
    """How ``text`` gives away the right choice ``right`` of a question with ``stem``, or None.

    * a number of the right choice that no wrong choice and the stem have (not 0-9, which every
      text is full of): 2,336 or 1/4 where the choice is 2336 or 0.25;
    * a sentence (or list item, or table row) that names the right choice, and none of the wrong
      ones, by the choice's whole text (8 characters at least) or by a term of it that the wrong
      choices and the stem do not use (a name: "He", "one-to-many"), beside a word of the stem
      that no choice uses (what the question is about): "He / Kaiming, for ReLU"; "one-to-many:
      an image in, a caption out" where the question asks about captions.
    """
    others = set().union(set(), *(_values(w) for w in wrong), _values(stem))
    numbers = {v for v in _values(right) - others if _significant(v)}
    hits = numbers & _values(text)
    if hits:
        return f"the number {sorted(hits)[0]:g}"
    lower = {w.lower() for w in _words(right)}
    wrong_words = {w.lower() for w in set().union(set(), *(_words(w) for w in wrong))}
    stem_words = {w.lower() for w in _words(stem)}
    keys = {w for w in _words(right) if _technical(w) and w.lower() not in wrong_words | stem_words}
    wrong_keys = wrong_words - lower - stem_words
    topic = {w for w in _words(stem) if w.lower() not in lower | wrong_words and (len(w) >= 5 or _technical(w))}
    phrase = _plain(right).lower().strip(" .")
    whole = len(phrase) >= 8 and not any(phrase in _plain(w).lower() for w in wrong)

    def has(sentence: str, word: str) -> bool:
        flags = 0 if any(ch.isupper() for ch in word) else re.I
        return re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", sentence, flags) is not None

    for sentence in _sentences(text):
        plain = _plain(sentence)
        if any(has(plain, w) for w in wrong_keys):
            continue  # it names a wrong choice too: a list of options, not the answer
        about = next((t for t in sorted(topic) if has(plain, t)), None)
        if about and whole and phrase in plain.lower():
            return f"the choice's text beside {about!r} in {plain[:80]!r}"
        key = next((k for k in sorted(keys) if has(plain, k)), None)
        if about and key:
            return f"{key!r} beside {about!r} in {plain[:80]!r}"
    return None


def concept_check_leaks(nb) -> list[str]:
    """Concept checks whose right choice is printed or stated before the question.

    The question is the markdown cell with the choices above the answer's hidden test; the right
    choice is the letter that test expects. It must not be given away (see ``_states``) by

    * the output of any locked cell before the question (as a number: printed tables);
    * the prose or outputs of the question's own section (from the last level-1 or level-2
      heading above it, the question's stem included, its list of choices excluded).
    """
    cells, found = nb.cells, []
    for i, cell in enumerate(cells):
        m = _ANSWER.search(cell.source) if _is_test(cell) else None
        if not m:
            continue
        q = next((j for j in range(i - 1, -1, -1) if cells[j].cell_type == "markdown" and _choices(cells[j].source)[0]), None)
        if q is None:
            found.append(f"{m.group('var')}: no choices found above it (list them as '- (a) ...' or '(a) ... (b) ...')")
            continue
        choices, rest = _choices(cells[q].source)
        letter, var = m.group("letter"), m.group("var")
        right, wrong = choices.get(letter, ""), [t for k, t in choices.items() if k != letter]
        stem = _after_last_heading(rest)
        start = _section_start(cells, q)
        for j in range(start):
            if cells[j].cell_type == "code" and not _is_solution(cells[j]):
                how = _states(_output_text(cells[j]), right, wrong, stem)
                if how and how.startswith("the number"):
                    found.append(f"{var}: cell {j} prints {how}, the right choice ({right!r})")
        for j, text in _shown_before(cells, start, q) + [(q, rest)]:
            how = _states(text, right, wrong, stem if j != q else "")
            if how:
                found.append(f"{var}: cell {j} ({cells[j].cell_type}) states the right choice ({right!r}): {how}")
    return found


def _is_written_answer(cell) -> bool:
    return cell.cell_type == "markdown" and bool(_meta(cell).get("solution")) and bool(_meta(cell).get("grade"))


def _shingles(text: str, n: int = 8) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(_plain(text))]
    return {tuple(words[k:k + n]) for k in range(len(words) - n + 1)}


def written_answer_leaks(nb, n: int = 8) -> list[str]:
    """Written answers whose model answer the notebook already says, in its section, before the question:
    any run of ``n`` words of the model answer in the prose or outputs shown before it."""
    cells, found = nb.cells, []
    for i, cell in enumerate(cells):
        if not _is_written_answer(cell):
            continue
        model = _shingles(cell.source, n)
        q = next((j for j in range(i - 1, -1, -1) if cells[j].cell_type == "markdown" and not _is_solution(cells[j])), i)
        for j, text in _shown_before(cells, _section_start(cells, q), i):
            common = model & _shingles(text, n)
            if common:
                found.append(f"{_meta(cell).get('grade_id')}: cell {j} says {' '.join(sorted(common)[0])!r}, from the model answer")
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


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_written_answer_before_its_question(assignment):
    assert written_answer_leaks(_source(assignment)) == []


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


_INLINE_QUESTION = '''### Concept check 4

You build a deep network with ReLU hidden layers. Which initialisation keeps the variance of the
activations roughly constant from layer to layer?

(a) all weights zero &nbsp;&nbsp; (b) $\\mathcal{N}(0, 1)$ &nbsp;&nbsp;
(c) Xavier, $\\mathcal{N}(0, 2/(D_\\text{in} + D_\\text{out}))$ &nbsp;&nbsp; (d) He, $\\mathcal{N}(0, 2/D_\\text{in})$'''
_Q4_SOLUTION = 'q4_answer = None  # "a", "b", "c" or "d"\n### BEGIN SOLUTION\nq4_answer = "d"\n### END SOLUTION\n'
_Q4_TEST = 'assert q4_answer in "abcd"\n### BEGIN HIDDEN TESTS\ncheck_equal("q4_answer", q4_answer, "d")\n### END HIDDEN TESTS\n'


def _section_notebook(*prose: str, heading_between: bool = False) -> nbformat.NotebookNode:
    """A section "## 10. Weight initialisation" with the given prose, an exercise, then Concept check 4."""
    cells = [("markdown", "## 10. Weight initialisation\n\n" + prose[0], {})]
    cells += [("markdown", p, {}) for p in prose[1:]]
    cells += [("markdown", "### Exercise 15: `receptive_field`", {}), ("solution", _RF_SOLUTION, {"id": "receptive_field"}),
              ("tests", _RF_TEST, {"id": "test_receptive_field"})]
    if heading_between:
        cells.append(("markdown", "## 11. Another section\n\nNothing here.", {}))
    cells += [("markdown", _INLINE_QUESTION, {}), ("solution", _Q4_SOLUTION, {"id": "q4"}), ("tests", _Q4_TEST, {"id": "test_q4"})]
    return _nb(*cells)


def test_inline_choices_are_read():
    choices, stem = _choices(_INLINE_QUESTION)
    assert sorted(choices) == ["a", "b", "c", "d"] and choices["d"].startswith("He,")
    assert "ReLU hidden layers" in stem and "Xavier" not in stem


def test_concept_check_leak_catches_the_section_prose_above_an_exercise():
    # Module 1's review: "He / Kaiming (for ReLU ...)" stated before init_params, four cells above the question.
    leak = "* **Xavier / Glorot** (for tanh): $\\mathcal{N}(0, 2/(D_\\text{in} + D_\\text{out}))$.\n" \
           "* **He / Kaiming** (for ReLU, which zeroes half of its inputs; the factor 2 puts it back): $\\mathcal{N}(0, 2/D_\\text{in})$."
    assert concept_check_leaks(_section_notebook(leak))
    # The same schemes without saying which activation needs which: the lesson, not the answer.
    clean = "* **Xavier / Glorot**: $\\mathcal{N}(0, 2/(D_\\text{in} + D_\\text{out}))$.\n" \
            "* **He / Kaiming**: $\\mathcal{N}(0, 2/D_\\text{in})$, twice the fan-in rule.\n\n" \
            "Which activation needs which is Concept check 4: work out $E[h^2]$ for $h = \\mathrm{ReLU}(z)$."
    assert concept_check_leaks(_section_notebook(clean)) == []
    # A list of the options that names the wrong ones too does not single the answer out.
    listed = "Initialisations in use: zero weights, $\\mathcal{N}(0, 1)$, Xavier and He; ReLU networks are the subject here."
    assert concept_check_leaks(_section_notebook(listed)) == []
    # Another section's prose is not the question's.
    assert concept_check_leaks(_section_notebook(leak, heading_between=True)) == []


_Q1_QUESTION = '''### Concept check 1

What is the largest value the sigmoid's derivative $\\sigma'(z)$ takes, over all real $z$?

(a) 1 &nbsp;&nbsp; (b) 0.5 &nbsp;&nbsp; (c) 0.25 &nbsp;&nbsp; (d) it grows without bound'''


def test_concept_check_leak_catches_a_number_in_the_section_prose():
    def notebook(prose: str) -> nbformat.NotebookNode:
        return _nb(("markdown", "## 3. Activation functions\n\n" + prose, {}), ("markdown", _Q1_QUESTION, {}),
                   ("solution", _Q_SOLUTION.replace('"b"', '"c"'), {"id": "q1"}),
                   ("tests", _Q_TEST.replace('"b")', '"c")'), {"id": "test_q1"}))

    assert concept_check_leaks(notebook("The sigmoid's derivative is at most $0.25$ (at $z = 0$)."))
    assert concept_check_leaks(notebook("The sigmoid's slope never exceeds $\\frac{1}{4}$."))
    assert concept_check_leaks(notebook("The sigmoid's slope never exceeds 1/4."))
    assert concept_check_leaks(notebook("The sigmoid saturates: its slope is tiny for large $|z|$.")) == []


def test_concept_check_leak_catches_the_choice_text_in_a_sentence():
    question = ("### Concept check 1\n\nA model writes a caption for a photograph. Which pattern is it?\n\n"
                "(a) one-to-one &nbsp;&nbsp; (b) one-to-many &nbsp;&nbsp; (c) many-to-one &nbsp;&nbsp; (d) many-to-many")

    def notebook(prose: str) -> nbformat.NotebookNode:
        return _nb(("markdown", "## 1. Sequences\n\n" + prose, {}), ("markdown", question, {}),
                   ("solution", _Q_SOLUTION, {"id": "q1"}), ("tests", _Q_TEST, {"id": "test_q1"}))

    assert concept_check_leaks(notebook("- **one-to-many**: one input, a sequence out (an image in, a caption out);\n"
                                        "- **many-to-one**: a sequence in, one output."))
    assert concept_check_leaks(notebook("- **one-to-many**: one input, a sequence out (music from a prompt);\n"
                                        "- **many-to-one**: a sequence in, one output (a review's sentiment).")) == []
    assert concept_check_leaks(notebook("The four patterns are one-to-one, one-to-many, many-to-one and many-to-many.")) == []


_WRITTEN = '''### Written answer 1

Why can no single perceptron compute XOR?'''
_MODEL_ANSWER = ("A perceptron's decision boundary is one straight line, and no straight line puts both of XOR's "
                 "ones on one side and both zeros on the other.")


def _written_notebook(prose: str) -> nbformat.NotebookNode:
    nb = _nb(("markdown", "## 5. Linear separability\n\n" + prose, {}), ("markdown", _WRITTEN, {}), ("markdown", _MODEL_ANSWER, {}))
    nb.cells[-1].metadata["nbgrader"].update({"solution": True, "grade": True, "locked": False, "grade_id": "q_xor_why", "points": 2})
    return nb


def test_written_answer_leak_catches_the_model_answer_in_the_prose_above():
    assert written_answer_leaks(_written_notebook("Remember: no straight line puts both of XOR's ones on one side."))
    assert written_answer_leaks(_written_notebook("XOR is not linearly separable; draw its four points and try.")) == []
