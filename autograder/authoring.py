"""Build an nbgrader source notebook from a readable percent-format script.

Each module is written as ``solutions/<id>/<id>.py``: plain Python that diffs and reviews well,
split into cells by ``# %%`` lines. The header of each cell says what nbgrader should make of it::

    # %% markdown                      prose; each line starts with "# " (stripped)
    # %% code tags=demo                a locked code cell (setup, demos, plots)
    # %% solution id=sigmoid           an answer cell; ### BEGIN/END SOLUTION inside
    # %% tests id=test_sigmoid points=1  a test cell; ### BEGIN/END HIDDEN TESTS inside
    # %% answer id=q_xor points=2      a written answer (markdown) graded by hand

``tags=`` takes comma-separated cell tags: ``slow`` (trains, or needs a cell that trains),
``demo`` (illustration only: defines nothing a graded test uses) and nbval's own
``nbval-ignore-output``. ``build_notebook`` turns the script into the notebook; ``execute`` runs
it so the committed source carries its outputs.

IPython magics are written commented out, the way jupytext writes them, so the script stays valid
Python (it compiles, and linters read it)::

    # %pip install -q "some-package"     in the script
    %pip install -q "some-package"       in the notebook

Only line magics (``# %name ...``) and shell escapes (``# !command``) in code cells are
uncommented; ``# %%`` always starts a cell, so cell magics cannot be written this way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import CourseError

__all__ = ["Cell", "build_notebook", "parse_script", "script_for", "KINDS"]

KINDS = ("markdown", "code", "solution", "tests", "answer")
_HEADER = re.compile(r"^# %%(?P<rest>.*)$")
_GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
# "# %pip install x" -> "%pip install x"; "# !ls" -> "!ls" (jupytext's commented magics)
_COMMENTED_MAGIC = re.compile(r"^(?P<indent>\s*)# (?P<magic>%[A-Za-z]\w*(?:\s.*)?|![^!].*)$")


class AuthoringError(CourseError):
    """A source script that cannot become a valid nbgrader notebook; the message says where."""


@dataclass
class Cell:
    kind: str
    source: str
    line: int
    grade_id: str | None = None
    points: float | None = None
    tags: list[str] = field(default_factory=list)


def _parse_header(rest: str, path: Path, line: int) -> tuple[str, dict[str, str]]:
    words = rest.split()
    kind = words[0] if words else "code"
    if kind.startswith("["):  # jupytext spelling: "# %% [markdown]"
        kind = kind.strip("[]")
    if kind not in KINDS:
        raise AuthoringError(f"{path}:{line}: unknown cell kind {kind!r}; use one of {', '.join(KINDS)}")
    options: dict[str, str] = {}
    for word in words[1:]:
        if "=" not in word:
            raise AuthoringError(f"{path}:{line}: expected key=value in the cell header, got {word!r}")
        key, value = word.split("=", 1)
        options[key] = value
    return kind, options


def _markdown_body(lines: list[str]) -> str:
    out = []
    for ln in lines:
        if ln.startswith("# "):
            out.append(ln[2:])
        elif ln.rstrip() == "#":
            out.append("")
        else:
            out.append(ln)
    return "\n".join(out).strip("\n")


def uncomment_magics(source: str) -> str:
    """Turn jupytext's commented magics (``# %pip ...``, ``# !cmd``) back into IPython syntax."""
    return "\n".join(_COMMENTED_MAGIC.sub(r"\g<indent>\g<magic>", ln) for ln in source.split("\n"))


def parse_script(path: Path) -> list[Cell]:
    """Split a percent-format script into cells and check the nbgrader conventions."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    cells: list[Cell] = []
    current: tuple[str, dict[str, str], int] | None = None
    body: list[str] = []

    def flush() -> None:
        if current is None:
            return
        kind, opts, line = current
        if kind in ("markdown", "answer"):
            source = _markdown_body(body)
        else:
            source = uncomment_magics("\n".join(body).strip("\n"))
        points = float(opts["points"]) if "points" in opts else None
        tags = [t for t in opts.get("tags", "").split(",") if t]
        cells.append(Cell(kind, source, line, opts.get("id"), points, tags))

    for lineno, ln in enumerate(text.splitlines(), 1):
        m = _HEADER.match(ln)
        if m:
            flush()
            kind, opts = _parse_header(m.group("rest"), path, lineno)
            current, body = (kind, opts, lineno), []
        elif current is not None:
            body.append(ln)
    flush()
    _validate(cells, path)
    return cells


def _validate(cells: list[Cell], path: Path) -> None:
    seen: set[str] = set()
    for c in cells:
        where = f"{path}:{c.line}"
        if c.kind in ("solution", "tests", "answer"):
            if not c.grade_id or not _GRADE_ID.match(c.grade_id):
                raise AuthoringError(f"{where}: a {c.kind} cell needs id=<letters, digits, _ or ->")
            if c.grade_id in seen:
                raise AuthoringError(f"{where}: duplicate id {c.grade_id!r}")
            seen.add(c.grade_id)
        if c.kind in ("tests", "answer") and (c.points is None or c.points <= 0):
            raise AuthoringError(f"{where}: a {c.kind} cell needs points=<positive number>")
        if c.kind == "solution" and "### BEGIN SOLUTION" not in c.source:
            raise AuthoringError(f"{where}: solution cell {c.grade_id!r} has no ### BEGIN SOLUTION block")
        if c.kind == "tests" and c.grade_id and not c.grade_id.startswith("test_"):
            raise AuthoringError(f"{where}: test cell ids start with 'test_' (got {c.grade_id!r})")


def _nbgrader_meta(c: Cell, auto_id: str) -> dict:
    base = {"schema_version": 3, "task": False}
    if c.kind == "solution":
        return {**base, "grade": False, "grade_id": c.grade_id, "locked": False, "solution": True}
    if c.kind == "tests":
        return {**base, "grade": True, "grade_id": c.grade_id, "locked": True, "points": c.points, "solution": False}
    if c.kind == "answer":
        return {**base, "grade": True, "grade_id": c.grade_id, "locked": False, "points": c.points, "solution": True}
    return {**base, "grade": False, "grade_id": c.grade_id or auto_id, "locked": True, "solution": False}


def build_notebook(cells: list[Cell]) -> nbformat.NotebookNode:
    """Make the nbgrader source notebook (no outputs) from parsed cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    for i, c in enumerate(cells):
        auto_id = f"cell-{i:03d}"
        if c.kind in ("markdown", "answer"):
            cell = nbformat.v4.new_markdown_cell(c.source)
        else:
            cell = nbformat.v4.new_code_cell(c.source)
        cell.id = c.grade_id or auto_id
        cell.metadata = {"nbgrader": _nbgrader_meta(c, auto_id)}
        if c.tags:
            cell.metadata["tags"] = list(c.tags)
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def script_for(notebook_path: Path) -> Path:
    """The percent-format script a source notebook is built from (``<id>.py`` beside it)."""
    return Path(notebook_path).with_suffix(".py")
