"""The student notebooks in an environment like Colab's, and every widget with ipywidgets 7 and 8.

The Colab-like check (marked ``notebooks``: it runs in `make test`'s notebook stage):

1. a fresh virtual environment (a real one: no system site-packages) holding Colab's preinstalled
   versions of the student dependencies and of the kernel (``requirements/colab.txt``, which says
   where they come from: ipywidgets 7.7.1, IPython 7.34, matplotlib 3.10.0, numpy 2.1.3...), cached
   under ``~/.cache/neurons-to-transformers/colab-venv/<hash of the requirements and Python>`` so reruns start at once;
2. in it, the first cell of a student notebook where course_utils is missing and pip cannot reach
   anything: it must print what failed and what to do, with no traceback;
3. the student wheel, built by ``course-grader publish``, installed with ``--no-index --no-deps``;
   ``pip check`` then proves Colab's versions satisfy everything the wheel asks for (so installing it
   in Colab changes nothing else);
4. every student notebook with the reference answers filled in (the solution cells of the source
   notebooks, markers removed), run with nbclient in that environment's kernel, skipping only cells
   tagged ``slow`` (training: the time budget); no cell may raise, and every widget it displays
   must be in the widget state with its whole tree, figures drawn and progress bars finished.

ipywidgets 8: the source notebooks are executed by ``course-grader build`` with the course's
ipywidgets 8 and keep nbclient's widget state, so the same widget check runs on them (fast).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course

ROOT = Path(__file__).resolve().parents[1]
COURSE = Course()
REQUIREMENTS = ROOT / "requirements" / "colab.txt"
sys.path.insert(0, str(Path(__file__).parent))
from colab_run import widget_report  # noqa: E402


def _venv_dir() -> Path:
    """Outside the checkout (``COURSE_CACHE_DIR``, default ``~/.cache/neurons-to-transformers``), so a
    fresh clone on the same machine reuses it; rebuilt whenever the requirements or Python change."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.version.encode()).hexdigest()[:12]
    cache = os.environ.get("COURSE_CACHE_DIR") or Path.home() / ".cache" / "neurons-to-transformers"
    return Path(cache) / "colab-venv" / key


def _torch_args() -> list[str]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from torch_choice import choose

    what, args = choose()
    print(what)
    return args


@pytest.fixture(scope="module")
def colab_python() -> Path:
    venv = _venv_dir()
    python = venv / "bin" / "python"
    stamp = venv / ".complete"
    if not stamp.exists():
        import shutil

        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        out = subprocess.run([str(python), "-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check",
                              "-r", str(REQUIREMENTS), *_torch_args()], capture_output=True, text=True)
        assert out.returncode == 0, f"could not build the Colab-like environment:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        stamp.write_text("")
    return python


PROBE = [
    # a figure widget as the notebooks build them, shown the way they show it
    """import matplotlib.pyplot as plt
from IPython.display import display
from course_utils.widgets import float_slider, slider_plot

def draw(a):
    print(f"drawn with a={a}")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, a])
    ax.set_title(f"a = {a}")

box = slider_plot(draw, a=float_slider("a", 1.0, 0.0, 2.0))
display(box)""",
    # a student moves the slider
    "box.children[0].children[0].value = 1.5",
    # a widget built on an exercise still blank
    """def tanh(z):
    raise NotImplementedError("implement tanh above, then run this test")

def draw_blank(a):
    tanh(a)
    plt.subplots()

blank = slider_plot(draw_blank, a=float_slider("a", 1.0, 0.0, 2.0))
display(blank)""",
]


def probe_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(src) for src in PROBE]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def run_notebooks(python: Path, paths: list[Path], cwd: Path, skip_tag: str | None = None) -> dict:
    from autograder.release import KERNEL_ENV

    report = cwd / "report.json"
    # idle OpenMP threads sleep, as `make` sets it (without it one cell of Module 2 took 188 s at load 14)
    env = {"OMP_WAIT_POLICY": "PASSIVE", "MKL_WAIT_POLICY": "PASSIVE", **os.environ, **KERNEL_ENV, "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(python), str(Path(__file__).with_name("colab_run.py")), str(report),
                          *(["--skip-tag", skip_tag] if skip_tag else []), *map(str, paths)],
                         capture_output=True, text=True, env=env, cwd=cwd)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(report.read_text())


def probe_problems(probe: Path) -> list[str]:
    """The probe notebook as executed: the figure drawn at once with the defaults and again after the
    slider moved; the blank exercise named, with no traceback."""
    nb = nbformat.read(probe.with_suffix(".out.ipynb"), as_version=4)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    outputs = [m["state"].get("outputs", []) for m in state.values() if m.get("model_name") == "OutputModel"]
    problems = [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(nb.cells)
                for o in c.outputs if o.get("output_type") == "error"]
    texts = ["".join(o.get("text", "") for o in outs) for outs in outputs]
    figure = [outs for outs, t in zip(outputs, texts) if "drawn with" in t]
    if not figure or "drawn with a=1.5" not in "".join(o.get("text", "") for o in figure[0]) \
            or not any("image/png" in o.get("data", {}) for o in figure[0]):
        problems.append(f"the slider_plot figure was not drawn, or not redrawn when the slider moved: {texts}")
    if not any("Implement `tanh` above to see this." in t for t in texts):
        problems.append(f"the widget on a blank exercise did not say which exercise to write: {texts}")
    if any(o.get("output_type") == "error" or "Traceback" in o.get("text", "") for outs in outputs for o in outs):
        problems.append("a widget drew a traceback")
    return problems


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True, text=True)


@pytest.mark.notebooks
def test_student_notebooks_run_in_a_colab_like_environment(colab_python, tmp_path):
    from dataclasses import replace

    from autograder.examples import reference
    from autograder.publish import publish
    from autograder.release import install_cell

    # the environment is a real one, and holds Colab's versions
    base = subprocess.run([str(colab_python), "-c", "import sys; print(sys.prefix != sys.base_prefix)"],
                          capture_output=True, text=True)
    assert base.stdout.strip() == "True"
    assert "include-system-site-packages = false" in (colab_python.parent.parent / "pyvenv.cfg").read_text()
    versions = subprocess.run([str(colab_python), "-c", "import ipywidgets, IPython; print(ipywidgets.__version__, IPython.__version__)"],
                              capture_output=True, text=True).stdout.split()
    assert versions == ["7.7.1", "7.34.0"], versions

    # 2. no course_utils and no network: the first cell says what failed and what to do
    _pip(colab_python, "uninstall", "-y", COURSE.edition.distribution)
    cell = install_cell(replace(COURSE.edition, package="n2t-course-utils-not-on-any-index==0.0.1"))
    driver = tmp_path / "first_cell.py"
    driver.write_text(f"from IPython.core.interactiveshell import InteractiveShell\n"
                      f"r = InteractiveShell.instance(colors='NoColor').run_cell({cell!r})\n"
                      f"print('FAILED:' + type(r.error_in_exec).__name__ if r.error_in_exec else 'SUCCESS')\n")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path), "PIP_CONFIG_FILE": os.devnull}
    out = subprocess.run([str(colab_python), str(driver)], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    said = out.stdout + out.stderr
    assert "FAILED:CourseUtilsNotInstalled" in said and "What to do" in said, said
    assert "Traceback" not in said and 'File "' not in said, said

    # 3. the student wheel, offline, without its dependencies: Colab's versions must satisfy them
    edition = tmp_path / "edition"
    publish(COURSE, edition)
    wheel = next((edition / "dist").glob("*.whl"))
    installed = _pip(colab_python, "install", "--no-index", "--no-deps", "--force-reinstall", str(wheel))
    assert installed.returncode == 0, installed.stderr
    check = _pip(colab_python, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert _pip(colab_python, "show", "nbgrader").returncode != 0

    # 4. every student notebook, reference answers filled in, in the Colab-like kernel; and the probe
    paths = []
    for a in COURSE.assignments():
        p = tmp_path / "run" / a / f"{a}.ipynb"
        p.parent.mkdir(parents=True)
        nbformat.write(reference(COURSE, a), p)
        paths.append(p)
    probe = probe_notebook(tmp_path / "run" / "probe" / "probe.ipynb")
    results = run_notebooks(colab_python, [*paths, probe], tmp_path, skip_tag="slow")
    assert results["ipywidgets"] == "7.7.1"
    problems = probe_problems(probe)
    for nb in results["notebooks"][:-1]:
        name = Path(nb["notebook"]).stem
        print(f"{name}: {nb['cells_run']} cells in {nb['seconds']} s ({nb['cells_skipped']} slow skipped); widgets {nb['widgets']}; "
              f"slowest {nb['slowest_cells']}")
        problems += [f"{name}: {e}" for e in nb["errors"] + nb["widgets"]["problems"]]
        if nb["first_cell_output"].strip() != "device: cpu | torch threads: 2 | seed: 0":
            problems.append(f"{name}: the first cell printed {nb['first_cell_output']!r} where course_utils was installed")
    figures = sum(nb["widgets"]["figure"] for nb in results["notebooks"][:-1])
    assert figures >= 6, results
    assert problems == [], "\n".join(problems)


def test_slider_plot_draws_and_redraws_with_ipywidgets_8(tmp_path):
    """The probe in this environment's kernel (the course's ipywidgets 8)."""
    import ipywidgets

    assert ipywidgets.__version__.startswith("8.")
    probe = probe_notebook(tmp_path / "probe" / "probe.ipynb")
    results = run_notebooks(Path(sys.executable), [probe], tmp_path)
    assert results["ipywidgets"].startswith("8.")
    assert probe_problems(probe) == []


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_every_widget_drew_with_ipywidgets_8_in_the_source_build(assignment):
    """The source notebooks were executed by `course-grader build` with the course's ipywidgets 8;
    nbclient kept every widget's state: each must be complete, figures drawn, bars finished."""
    nb = nbformat.read(COURSE.source(assignment), as_version=4)
    report = widget_report(nb)
    assert report["problems"] == []
    demo_cells = [c for c in nb.cells if c.cell_type == "code" and "widgets" in c.source and "demo" in c.metadata.get("tags", [])]
    assert report["figure"] >= min(1, len(demo_cells))


def test_the_colab_venv_is_cached_outside_the_checkout():
    assert ROOT not in _venv_dir().parents
