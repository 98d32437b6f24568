"""Build the source notebooks from their scripts, and generate the student versions with nbgrader.

``build``: ``solutions/<id>/<id>.py`` -> ``solutions/<id>/<id>.ipynb``, executed so the source
carries its outputs (that is what nbval later re-checks).
``release``: nbgrader's ``generate_assignment`` -> ``notebooks/<id>/<id>.ipynb`` (solutions
replaced by stubs, hidden tests and outputs removed), then ``strip_student_notebook`` (widget
state from the reference run, outputs, attachments) and ``for_students``: the "Open in Colab"
link, the first cell's install of course_utils from the student edition (``[tool.course]``), and
stubs that say which function to write.
``validate``: nbgrader's checks on a source notebook, read through its Python API, because its
command line exits 0 even when a notebook is invalid.
"""
from __future__ import annotations

import ast
import contextlib
import io
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from traitlets.config import Config, PyFileConfigLoader

from autograder.authoring import build_notebook, parse_script
from autograder.course import COLAB_BADGE, Course, CourseError, StudentEdition

CONFIG_FILE = Path(__file__).with_name("nbgrader_config.py")
KERNEL_ENV = {"COURSE_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2",
              "MKL_NUM_THREADS": "2", "PYTHONHASHSEED": "0",
              "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def nbgrader_config(root: Path) -> Config:
    """The course's nbgrader configuration with ``root`` as the course directory."""
    cfg = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.db_url = "sqlite:///" + str(root / "autograder" / "workspace" / "nbgrader.db")
    return cfg


def build(course: Course, assignment: str, execute: bool = True, timeout: int = 300) -> Path:
    """Write the source notebook from its script; run it in a fresh kernel unless ``execute`` is False."""
    nb = build_notebook(parse_script(course.script(assignment)))
    target = course.source(assignment)
    if execute:
        from jupyter_client.manager import KernelManager
        from nbclient import NotebookClient

        env = {**os.environ, **KERNEL_ENV}
        with tempfile.TemporaryDirectory() as sockets:
            # Local IPC sockets rather than TCP ports: builds running side by side (CI, several
            # worktrees) cannot pick the same port and lose each other's replies.
            km = KernelManager(kernel_name="python3", transport="ipc",
                               connection_file=str(Path(sockets) / "kernel.json"), ip=str(Path(sockets) / "k"))
            from autograder.sandbox_runner import slice_polls

            client = NotebookClient(
                nb, km=km, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(target.parent)}},
                record_timing=False,
                # the grader's guard against a lost zmq wake-up: a build must not hang either
                on_notebook_start=lambda notebook: slice_polls(client.kc),
            )
            client.execute(env=env)
    nbformat.write(nb, target)
    return target


def _quiet_nbgrader():
    for name in ("traitlets", "nbgrader", "GenerateAssignment", "NbGraderAPI"):
        logging.getLogger(name).setLevel(logging.ERROR)


def release(course: Course, assignment: str, out_root: Path | None = None) -> Path:
    """Generate the student notebook with nbgrader into ``notebooks/`` (or under ``out_root``)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    src = course.source(assignment)
    if not src.exists():
        raise CourseError(f"{src} does not exist: run `course-grader build {assignment}` first.")
    with tempfile.TemporaryDirectory() as tmp:
        # nbgrader works on a whole course directory; give it a scratch one holding only this source.
        tmp_root = Path(tmp)
        (tmp_root / "solutions" / assignment).mkdir(parents=True)
        shutil.copy(src, tmp_root / "solutions" / assignment / src.name)
        (tmp_root / "autograder" / "workspace").mkdir(parents=True)
        cfg = nbgrader_config(tmp_root)
        _quiet_nbgrader()
        coursedir = CourseDirectory(config=cfg)
        api = NbGraderAPI(coursedir=coursedir, config=cfg)
        log = io.StringIO()
        # nbgrader creates its database by running the `alembic` script that sits beside this
        # Python; make sure it is found even when the environment is not activated.
        bindir = os.path.dirname(sys.executable)
        path = os.environ.get("PATH", "")
        if bindir not in path.split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + path
        with contextlib.redirect_stderr(log):
            result = api.generate_assignment(assignment, force=True)
        if not result.get("success"):
            raise CourseError(f"nbgrader could not generate {assignment}: {result.get('error') or log.getvalue()}")
        produced = tmp_root / "notebooks" / assignment / src.name
        dest_root = out_root or course.root
        dest = dest_root / "notebooks" / assignment / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        nb = strip_student_notebook(nbformat.read(produced, as_version=4))
        nb = for_students(nb, course.edition, assignment)
        nbformat.write(nb, dest)
    return dest


WIDGET_MIMES = ("application/vnd.jupyter.widget-state+json", "application/vnd.jupyter.widget-view+json")


def strip_student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove everything the reference run left behind that a student must not receive.

    ipywidgets store the state of every widget (including the figures drawn into ``Output``
    widgets: reference images, titles that may quote an answer) in the notebook's metadata under
    ``widgets``; nbgrader keeps it. Outputs and execution counts go too, whatever nbgrader did.
    """
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("widgets", None)
        cell.pop("attachments", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


# ---------------------------------------------------------------------------------------------
# what the student notebook gets on top of nbgrader's output

_IMPORT_LINE = re.compile(r"^import course_utils\b[^\n]*$", re.M)
_STUB = re.compile(r"^(?P<indent>[ \t]*)raise NotImplementedError\(\)[ \t]*$")

INSTALL_CELL = '''# course_utils, the course's helpers, is installed here where it does not import yet (Colab, a
# fresh environment): once per runtime, from the course's student edition. Elsewhere nothing happens.
try:
    import course_utils
except ImportError:
    import subprocess, sys
    _requirement = {requirement!r}
    print("Installing course_utils from the course's student edition (once per runtime)...")
    _pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", _requirement],
                          capture_output=True, text=True)
    if _pip.returncode != 0:
        class CourseUtilsNotInstalled(Exception):
            def _render_traceback_(self):  # IPython shows this message alone, not a traceback
                return [str(self)]
        _said = [line for line in (_pip.stderr + _pip.stdout).splitlines() if line.strip()][-3:]
        raise CourseUtilsNotInstalled(
            "Could not install course_utils, the course's helper package, so this notebook cannot run yet.\\n"
            f"pip install {{_requirement!r}} said:\\n    " + "\\n    ".join(_said) + "\\n"
            "What to do: this cell needs the internet once per runtime. Check the connection (in Colab: "
            "Runtime > Disconnect and delete runtime) and run this cell again. Without internet, install "
            "the wheel from the student edition's dist/ folder (pip install <that file>) and restart the kernel.")
    import course_utils
    print("course_utils installed.")'''


def install_cell(edition: StudentEdition) -> str:
    """The code that replaces a module's ``import course_utils`` line in the student notebook."""
    return INSTALL_CELL.format(requirement=edition.requirement)


def colab_link(edition: StudentEdition, assignment: str) -> str | None:
    url = edition.colab_url(assignment)
    return f"[![Open In Colab]({COLAB_BADGE})]({url})" if url else None


def _stub_messages(source: str) -> dict[int, str]:
    """line number -> the function or method (``Class.method``) whose body is nbgrader's bare stub."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    found: dict[int, str] = {}

    def visit(node: ast.AST, names: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, [*names, child.name])
                continue
            if (isinstance(child, ast.Raise) and isinstance(child.exc, ast.Call) and not child.exc.args
                    and isinstance(child.exc.func, ast.Name) and child.exc.func.id == "NotImplementedError"
                    and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))):
                found[child.lineno] = ".".join(names)
            visit(child, names)

    visit(tree, [])
    return found


def named_stubs(source: str) -> str:
    """Each bare ``raise NotImplementedError()`` inside a function says which one to write. Stubs outside
    a function (concept checks, variables) stay as nbgrader writes them."""
    names = _stub_messages(source)
    lines = source.split("\n")
    for lineno, name in names.items():
        m = _STUB.match(lines[lineno - 1])
        if m:
            lines[lineno - 1] = f'{m.group("indent")}raise NotImplementedError("implement {name} above, then run this test")'
    return "\n".join(lines)


def _rechecksum(cell) -> None:
    meta = cell.metadata.get("nbgrader", {})
    if "checksum" in meta:
        from nbgrader.utils import compute_checksum

        meta["checksum"] = compute_checksum(cell)


def for_students(nb: nbformat.NotebookNode, edition: StudentEdition, assignment: str) -> nbformat.NotebookNode:
    """The student notebook's additions, made at release so the module scripts stay as they are:

    * an "Open in Colab" link at the top of the first markdown cell, to the student edition's copy;
    * in the first code cell, ``import course_utils`` becomes the install from the student edition
      (``[tool.course]``), which does nothing where course_utils imports already;
    * nbgrader's stub ``raise NotImplementedError()`` inside a function names it.

    nbgrader's checksums of the changed cells are computed again, so its validator sees them unchanged.
    """
    link = colab_link(edition, assignment)
    first_md = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if link and first_md is not None and link not in first_md.source:
        first_md.source = f"{link}\n\n{first_md.source}"
        _rechecksum(first_md)
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    if first_code is not None and _IMPORT_LINE.search(first_code.source):
        block = install_cell(edition)
        first_code.source = _IMPORT_LINE.sub(lambda m: block, first_code.source, count=1)
        _rechecksum(first_code)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            new = named_stubs(cell.source)
            if new != cell.source:
                cell.source = new
                _rechecksum(cell)
    return nb


def validate(path: Path) -> list[str]:
    """Problems nbgrader's validator finds in a source notebook run as-is (empty: valid)."""
    from nbgrader.validator import Validator

    validator = Validator(config=Config({"Validator": {"validate_all": True}}))
    with contextlib.redirect_stdout(io.StringIO()):
        results = validator.validate(str(path))
    problems = []
    for f in results.get("failed", []):
        problems.append(f"test cell failed: {f.get('source', '')[:80]!r}: {f.get('error', '')[-300:]}")
    for c in results.get("changed", []):
        problems.append(f"locked cell changed: {c.get('source', '')[:80]!r}")
    for m in results.get("mismatch", []):
        problems.append(f"cell type changed: {m.get('source', '')[:80]!r}")
    if results.get("type_changed"):
        problems.append("cell types changed")
    return problems
