"""Publish: write the student edition, everything students need and nothing they must not see.

``course-grader publish DIR`` writes::

    DIR/README.md                 for students: JupyterLab or Colab, the tests, how to submit
    DIR/LICENSE
    DIR/pyproject.toml            the student distribution: course_utils alone, the student dependencies
    DIR/course_utils/             its source
    DIR/dist/<wheel>              course_utils built as a wheel, offline (pip wheel --no-build-isolation)
    DIR/notebooks/<id>/<id>.ipynb the student notebooks, generated afresh as `course-grader release` does

DIR is meant to be its own repository (``[tool.course] student-repository``): the student notebooks'
first cell installs ``course_utils`` from it, their "Open in Colab" links open its copies. Each run
rewrites DIR entirely except ``.git``, so a file removed from the course disappears from the edition.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.course import ROOT, Course, CourseError, StudentEdition

MARKER = ".student-edition"
STUDENT_PYPROJECT = '''# The student edition's distribution: course_utils alone, with only what the notebooks import.
# Written by `course-grader publish` from the course's pyproject.toml; edit that one, not this.
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
description = "course_utils: the checks, data, plots and widgets the Neurons to Transformers notebooks import."
readme = "README.md"
requires-python = "{requires_python}"
license = "{license}"
license-files = ["LICENSE"]
dependencies = [
{dependencies}
]

[tool.setuptools]
packages = ["course_utils"]
'''


def _project(course: Course) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise CourseError("publishing reads pyproject.toml, which needs Python 3.11 or later, "
                              "or `pip install tomli` on Python 3.10") from None
    path = course.root / "pyproject.toml"
    return tomllib.loads((path if path.exists() else ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def student_pyproject(course: Course, edition: StudentEdition) -> str:
    """The student distribution's pyproject.toml: the course's `dependencies`, `course_utils` as the one package."""
    project = _project(course)
    return STUDENT_PYPROJECT.format(
        name=edition.distribution, version=project["version"], requires_python=project.get("requires-python", ">=3.10"),
        license=project.get("license", "MIT"),
        dependencies="\n".join(f'    "{d}",' for d in project["dependencies"]))


def student_readme(course: Course, edition: StudentEdition, assignments: list[str], wheel: str) -> str:
    rows = "\n".join(
        f"| {i} | [`{a}`](notebooks/{a}/{a}.ipynb) | "
        + (f"[Open in Colab]({edition.colab_url(a)})" if edition.colab_url(a) else "") + " |"
        for i, a in enumerate(assignments, 1))
    return README.format(rows=rows, wheel=wheel, requirement=edition.requirement, repository=edition.repository)


README = """# Neurons to Transformers: the notebooks

Six notebooks that take you from one artificial neuron to a working transformer. In each you write
the important pieces yourself (a function or a class per exercise), and a test under every exercise
tells you at once whether it works, and if not, what it expected, what it got and a hint.

| module | notebook | Colab |
| --- | --- | --- |
{rows}

## Open a notebook

**In Colab.** Click "Open in Colab" above (or the badge at the top of a notebook), then
*File > Save a copy in Drive* so your work is kept. Run the first code cell: it installs the
course's helper package, `course_utils`, into the runtime (once per runtime, about a minute), from
this repository:

    {requirement}

It does nothing where `course_utils` is already installed, and if it cannot install it (no
internet) it says what failed and what to do. Nothing else in the course needs the internet: the
data are generated or come with scikit-learn. A GPU runtime is optional: every notebook runs on a
CPU in a couple of minutes, and uses a GPU when it finds one.

**In JupyterLab, on your computer.** With Python 3.10 or later, in this folder:

    python -m venv .venv && source .venv/bin/activate     # Windows: .venv\\Scripts\\activate
    pip install torch --index-url https://download.pytorch.org/whl/cpu   # Linux without an NVIDIA GPU only
    pip install {wheel} jupyterlab
    jupyter lab notebooks/

The second line matters on Linux: there a plain `pip install torch` takes the build for NVIDIA GPUs,
several gigabytes; PyTorch's CPU build is a few hundred megabytes (on macOS and Windows the plain
install is the CPU build already). `pip install .` installs the same package as the wheel. This
install holds only what the notebooks need, none of the grading tools, so your JupyterLab shows no
grading menus (no *Formgrader*, no *Create Assignment* toolbar): you do not need them.

## Work through a notebook

Run the cells from the top. Each exercise is a function (or a class) whose signature and docstring
are written for you; replace the line

    raise NotImplementedError("implement sigmoid above, then run this test")

with your code, and run the test cell under it. Until you do, that test stops with exactly that
message. A passing test prints one line; a failing one says what it expected, what came back, where
they first differ, and gives a hint. Concept checks ask you to set a variable such as
`q1_answer = "b"`; written answers go in the markdown cells marked `YOUR ANSWER HERE`. Some demo
cells (pictures, sliders) use your functions: they say "Implement `x` above to see this" until you
have.

**The visible tests are not the whole grade.** When your work is graded, hidden tests check more:
other shapes, random inputs, edge cases (a batch of one, large values), and that a from-scratch
exercise does not hand the work to PyTorch. Make your code right for every input its docstring
allows, not just for the example in the test.

**Validate before you hand in.** If your course runs JupyterHub with nbgrader, the notebook toolbar
has a *Validate* button: it restarts the kernel, runs the whole notebook from the top and lists any
test that fails or cell that raises. It does not show your grade or run the hidden tests. Anywhere
else, do the same with *Kernel > Restart Kernel and Run All Cells* (Colab: *Runtime > Restart
session and run all*) and check that every test cell printed its line.

## Hand in

Hand in the notebook file itself, `<module>.ipynb` with its name unchanged (Colab: *File >
Download > Download .ipynb*), the way your instructor asks (upload, or your course's JupyterHub
*Submit*). Keep the cells as they are: answer in the answer cells, do not delete, split, merge or
reorder cells, and do not edit the test cells (the grader uses its own copies of the tests and
flags a notebook whose cells changed). Add cells of your own if you like.

## What is here

| path | what |
| --- | --- |
| `notebooks/<module>/<module>.ipynb` | the six notebooks |
| `course_utils/` | the helper package the notebooks import: checks, data, plots, widgets |
| `{wheel}` | the same package, built (`pip install` it for JupyterLab on your computer) |
| `pyproject.toml` | how the package is built; `pip install .` works too |
| `LICENSE` | MIT |

Source: {repository}
"""


def _writable(target: Path) -> list[Path]:
    """What ``target`` holds besides ``.git``, refusing a file or a non-empty folder publish did not write."""
    if target.exists() and not target.is_dir():
        raise CourseError(f"{target} is a file: give a folder for the student edition.")
    entries = [p for p in target.iterdir() if p.name != ".git"] if target.exists() else []
    if entries and not (target / MARKER).exists():
        raise CourseError(f"{target} is not empty and was not written by `course-grader publish`: "
                          f"give an empty folder (or a clone of the student edition).")
    return entries


def _clear(target: Path) -> None:
    """Empty ``target`` (keeping ``.git``), refusing a non-empty folder publish did not write."""
    entries = _writable(target)
    target.mkdir(parents=True, exist_ok=True)
    for p in entries:
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def build_wheel(project_dir: Path, dest: Path, log: bool = False):
    """Build a wheel of ``project_dir`` offline with this environment's setuptools (the instructor
    install has it) into ``dest``; returns its path (and pip's output when ``log``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
             "--disable-pip-version-check", "--wheel-dir", tmp, str(project_dir)],
            capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if out.returncode != 0 or len(wheels) != 1:
            tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-15:])
            raise CourseError(f"building the student wheel failed (is setuptools >= 77 installed? "
                              f"`pip install -e '.[instructor]'` brings it):\n{tail}")
        dest.mkdir(parents=True, exist_ok=True)
        wheel = Path(shutil.copy(wheels[0], dest / wheels[0].name))
    return (wheel, out.stdout + out.stderr) if log else wheel


def published(course: Course, target: Path) -> list[str]:
    """The course's assignments whose notebook an earlier run wrote into ``target``."""
    if not (target / MARKER).exists():
        return []
    return [a for a in course.assignments() if (target / "notebooks" / a / f"{a}.ipynb").exists()]


def publish(course: Course, target: Path, assignments: list[str] | None = None) -> list[Path]:
    """Write the student edition into ``target``; returns the files written (relative to it).

    Without ``assignments``, every assignment of the course. With them, those and the ones an
    earlier run already published there (releasing a module a week keeps the earlier weeks). Each
    notebook is generated afresh from its source, so the edition never carries a stale Colab link,
    install line or a hand-run copy of ``notebooks/``."""
    from autograder.release import release

    edition = course.edition
    target = Path(target).resolve()
    if target == course.root or course.root in target.parents:
        raise CourseError(f"{target} is inside the course repository: the student edition goes in a folder of its own.")
    _writable(target)  # refuse before the minutes of generating, not after
    if assignments:
        wanted = set(assignments) | set(published(course, target))
        assignments = [a for a in course.assignments() if a in wanted]
    else:
        assignments = course.assignments()
    fresh = Path(tempfile.mkdtemp(prefix="edition-"))
    try:
        notebooks = {a: release(course, a, out_root=fresh) for a in assignments}
        _write(course, edition, target, notebooks)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    return sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file() and ".git" not in p.relative_to(target).parts)


def _write(course: Course, edition: StudentEdition, target: Path, notebooks: dict[str, Path]) -> None:
    _clear(target)
    (target / MARKER).write_text("Written by `course-grader publish`: every run rewrites this folder (except .git).\n")
    licence = course.root / "LICENSE"
    shutil.copy(licence if licence.exists() else ROOT / "LICENSE", target / "LICENSE")
    (target / "pyproject.toml").write_text(student_pyproject(course, edition))
    utils = course.root / "course_utils" if (course.root / "course_utils").is_dir() else ROOT / "course_utils"
    (target / "course_utils").mkdir()
    for src in sorted(utils.glob("*.py")):
        shutil.copy(src, target / "course_utils" / src.name)
    for a, generated in notebooks.items():
        dest = target / "notebooks" / a / f"{a}.ipynb"
        dest.parent.mkdir(parents=True)
        # read and written again: the notebook as `course-grader release` makes it, in nbformat's canonical form
        nbformat.write(nbformat.read(generated, as_version=4), dest)
    wheel_name = f"dist/{edition.distribution.replace('-', '_')}-{_project(course)['version']}-py3-none-any.whl"
    (target / "README.md").write_text(student_readme(course, edition, list(notebooks), wheel_name))
    wheel = build_wheel(target, target / "dist")
    if wheel.relative_to(target).as_posix() != wheel_name:
        raise CourseError(f"the wheel came out as {wheel.name}, not {wheel_name}")
    # what building leaves beside the sources
    for leftover in [target / "build", *target.glob("*.egg-info")]:
        shutil.rmtree(leftover, ignore_errors=True)
