"""Build the source notebooks from their scripts, and generate the student versions with nbgrader.

``build``: ``solutions/<id>/<id>.py`` -> ``solutions/<id>/<id>.ipynb``, executed so the source
carries its outputs (that is what nbval later re-checks).
``release``: nbgrader's ``generate_assignment`` -> ``notebooks/<id>/<id>.ipynb`` (solutions
replaced by stubs, hidden tests and outputs removed), then ``strip_student_notebook`` (widget
state from the reference run, outputs, attachments).
``validate``: nbgrader's checks on a source notebook, read through its Python API, because its
command line exits 0 even when a notebook is invalid.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from traitlets.config import Config, PyFileConfigLoader

from autograder.authoring import build_notebook, parse_script
from autograder.course import Course, CourseError

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
            client = NotebookClient(
                nb, km=km, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(target.parent)}},
                record_timing=False,
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
