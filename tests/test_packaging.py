"""The three descriptions of the environment agree: pyproject (ranges for users), environment.yml
(conda, mirrors it) and requirements/ci.txt (exact pins CI installs, torch's CPU build); and the two
installs stay apart: the student's (`dependencies`: only what the notebooks import) and the
instructor's (the `instructor` extra: the grader's stack)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _split(deps: list[str]) -> dict[str, str]:
    """name -> specifier of each requirement (markers and comments are not used here)."""
    return {re.split(r"[<>=!~ ]", d, maxsplit=1)[0].lower(): d[len(re.split(r"[<>=!~ ]", d, maxsplit=1)[0]):] for d in deps}


def _pyproject_deps() -> dict[str, str]:
    extras = PROJECT["optional-dependencies"]
    return _split(PROJECT["dependencies"] + extras["instructor"] + extras["test"])


def _conda_deps() -> dict[str, str]:
    out = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        m = re.match(r"^\s+- ([A-Za-z0-9_.-]+)([<>=!~].*)?$", line)
        if m and m.group(1) not in ("python", "pip"):
            out[m.group(1).lower()] = m.group(2) or ""
    return out


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "ci.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_environment_yml_mirrors_pyproject():
    py = _pyproject_deps()
    conda = _conda_deps()
    expected = {CONDA_NAMES.get(k, k): v for k, v in py.items()}
    assert conda == expected


def test_ci_pins_every_dependency_exactly():
    pins = _pins()
    missing = [d for d in _pyproject_deps() if d.replace("_", "-") not in pins]
    assert not missing, f"not pinned in requirements/ci.txt: {missing}"


def test_ci_takes_torchs_cpu_build_from_disk():
    assert _pins()["torch"] == "2.13.0"


def test_pins_satisfy_the_ranges():
    from packaging.specifiers import SpecifierSet

    pins = _pins()
    for name, spec in _pyproject_deps().items():
        version = pins[name.replace("_", "-")]
        assert version in SpecifierSet(spec), f"{name}=={version} is outside {spec}"


# ---------------------------------------------------------------------------------------------
# the student's install and the instructor's

STUDENT = _split(PROJECT["dependencies"])
# the grader's stack (cloudpickle and psutil are not here: joblib and IPython pull them in)
INSTRUCTOR_ONLY = ("nbgrader", "jupyterlab", "notebook", "nbclassic", "nbconvert", "nbclient", "jupyter-server",
                   "bleach", "pytest", "ruff")


def _imported_distributions() -> set[str]:
    """The distributions whose modules the module scripts and course_utils import (not the standard
    library, not course_utils itself, not IPython/ipykernel, which every Jupyter brings)."""
    import ast
    import sys
    from importlib import metadata

    owners = metadata.packages_distributions()
    found = set()
    for path in [*ROOT.glob("solutions/*/*.py"), *ROOT.glob("course_utils/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("course_utils", "IPython", "ipykernel", "matplotlib_inline"):
                    continue
                found |= {d.lower() for d in owners.get(top, [top])}
    return found


def test_student_install_is_what_the_notebooks_import():
    """Exactly the distributions the notebooks and course_utils import, no more, no fewer, plus what
    torch.onnx's exporter imports itself (Module 6 calls it)."""
    assert set(STUDENT) == _imported_distributions() | {"onnx", "onnxscript"}


def test_student_install_pulls_no_instructor_tools():
    """No nbgrader (so no Formgrader or Create Assignment menus in the student's JupyterLab), no JupyterLab
    (Colab and a student's own Jupyter bring theirs), nothing the grader needs: in the declared
    dependencies nor in what they pull in this environment."""
    assert not set(STUDENT) & set(INSTRUCTOR_ONLY)
    closure = _closure(STUDENT)
    assert not closure & {n.replace("-", "_") for n in INSTRUCTOR_ONLY}, sorted(closure)


def test_student_ranges_take_ipywidgets_7_and_8_and_colabs_versions():
    from packaging.specifiers import SpecifierSet

    assert "7.7.1" in SpecifierSet(STUDENT["ipywidgets"]) and "8.1.9" in SpecifierSet(STUDENT["ipywidgets"])
    colab = _colab_pins()
    for name, spec in STUDENT.items():
        assert colab[name] in SpecifierSet(spec), f"Colab's {name}=={colab[name]} is outside {spec}"


def test_licence_is_an_spdx_string_with_its_file():
    assert PROJECT["license"] == "MIT" and (ROOT / PROJECT["license-files"][0]).is_file()


def _colab_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "colab.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version.split("+")[0]
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _closure(names) -> set[str]:
    """Every distribution the given ones pull in, as installed here (extras and markers that do not
    apply here are left out), normalised names."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [_norm(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for r in requires:
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_norm(req.name))
    return seen


def _import_names(dists: set[str]) -> set[str]:
    from importlib import metadata

    return {mod for mod, owners in metadata.packages_distributions().items() if any(_norm(o) in dists for o in owners)}


def test_course_utils_imports_only_the_student_install():
    """Every module of course_utils, imported in a fresh interpreter in which every package the student
    install does not bring (nbgrader, JupyterLab, the grader...) refuses to import."""
    import subprocess
    import sys

    allowed = _import_names(_closure(STUDENT))
    everything = _import_names(_closure(_pyproject_deps()) | {"neurons_to_transformers"}) | {"autograder"}
    blocked = sorted(everything - allowed - set(sys.stdlib_module_names) - {"course_utils"})
    assert "nbgrader" in blocked and "autograder" in blocked and "numpy" not in blocked
    modules = sorted(p.stem for p in (ROOT / "course_utils").glob("*.py") if p.stem != "__init__")
    code = f"""
import importlib, importlib.abc, sys
BLOCKED = set({blocked!r})
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is not part of the student install")
sys.meta_path.insert(0, Block())
import course_utils
for m in {modules!r}:
    importlib.import_module("course_utils." + m)
print("imported", len({modules!r}), "modules")
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "MPLBACKEND": "Agg"})
    assert out.returncode == 0, out.stderr[-3000:]


# ---------------------------------------------------------------------------------------------
# make install: which torch build (scripts/torch_choice.py)

def _torch_choice():
    import importlib.util

    spec = importlib.util.spec_from_file_location("torch_choice", ROOT / "scripts" / "torch_choice.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_install_takes_torchs_cpu_build_without_a_gpu(monkeypatch, tmp_path):
    tc = _torch_choice()
    monkeypatch.delenv("TORCH_BUILD", raising=False)
    monkeypatch.setattr(tc, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(tc.platform, "system", lambda: "Linux")
    monkeypatch.setattr(tc, "find_links", lambda: [tmp_path])
    what, args = tc.choose()
    assert args == ["--extra-index-url", tc.CPU_INDEX] and "CPU build" in what
    (tmp_path / f"torch-{tc.pinned_torch()}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    what, args = tc.choose()
    assert args == [] and "from this machine" in what
    monkeypatch.setattr(tc, "has_nvidia_gpu", lambda: True)
    what, args = tc.choose()
    assert args == [] and "CUDA" in what
    monkeypatch.setattr(tc, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(tc.platform, "system", lambda: "Darwin")
    assert tc.choose()[1] == []


def test_make_install_shows_progress_and_asks_for_the_instructor_install():
    text = (ROOT / "Makefile").read_text()
    step = text[text.index("$(STAMP):"):text.index("touch $(STAMP)")]
    long_step = [ln for ln in step.splitlines() if "-c requirements/ci.txt" in ln][0]
    assert " -q" not in long_step and "--progress-bar on" in long_step
    assert '".[instructor,test]"' in step and "scripts/torch_choice.py" in step
