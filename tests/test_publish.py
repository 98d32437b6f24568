"""The student edition (`course-grader publish`): what it holds, and that nothing secret is in it.

What counts as secret, read from the course's own files:

* solution bodies: the text between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in
  ``solutions/*/*.py``;
* hidden tests: the text between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` there;
* variant answers: every answer string in ``tests/variants/*.py`` (``WRONG`` and ``CORRECT``);
* the grader: every line of ``autograder/*.py``.

How it is matched: all whitespace is removed from both sides (so re-indenting, re-wrapping or
JSON's line lists do not hide a match). Each secret *line* of at least ``MIN_CHARS`` characters
(without whitespace) is looked for, and each secret *block* as a whole (a solution body, a hidden
block, a variant answer), so an answer made of short lines (``h = a + b`` / ``return h``) is found
too once the block reaches ``MIN_CHARS``. Shorter lines (``return x``) are not checked alone: they
also occur in prose and public code. A secret line or block that also appears in what students are
meant to see (the module scripts without their solution and hidden blocks, and ``course_utils``) is
not secret and is left out. Where it is looked for: every file of the edition, the wheel's members
one by one, and every notebook both as its JSON text and as every string in it (cell sources,
outputs, cell and notebook metadata, keys).
"""
from __future__ import annotations

import importlib.util
import json
import re
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course, CourseError
from autograder.publish import MARKER, build_wheel, publish

ROOT = Path(__file__).resolve().parents[1]
COURSE = Course()
MIN_CHARS = 16
_WS = re.compile(r"\s+")
_SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION", re.S | re.M)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.S | re.M)


def _norm(text: str) -> str:
    return _WS.sub("", text)


def _variant_answers() -> list[str]:
    answers = []
    for path in sorted((ROOT / "tests" / "variants").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"_variants_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for table in (getattr(module, "WRONG", {}), getattr(module, "CORRECT", {})):
            for per_name in table.values():
                answers += [v for v in per_name.values() if isinstance(v, str)]
    return answers


def secrets() -> dict[str, list[str]]:
    """kind -> the blocks of text students must not receive (each block is also split into lines)."""
    scripts = [p.read_text(encoding="utf-8") for p in sorted(COURSE.solutions.glob("*/*.py"))]
    return {
        "solution": [m.group(1) for s in scripts for m in _SOLUTION.finditer(s)],
        "hidden test": [m.group(1) for s in scripts for m in _HIDDEN.finditer(s)],
        "variant answer": _variant_answers(),
        "grader source": [p.read_text(encoding="utf-8") for p in sorted((ROOT / "autograder").glob("*.py"))],
    }


def public_text() -> str:
    """What students are meant to see, normalised: the scripts without solutions and hidden tests,
    course_utils, and the grader's templates of what it writes for students (the install cell, the
    student README and pyproject, a notebook's metadata)."""
    from autograder import publish as publish_module
    from autograder import release as release_module
    from autograder.authoring import build_notebook

    parts = [_HIDDEN.sub("", _SOLUTION.sub("", p.read_text(encoding="utf-8"))) for p in sorted(COURSE.solutions.glob("*/*.py"))]
    parts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "course_utils").glob("*.py"))]
    parts += [release_module.INSTALL_CELL, publish_module.README, publish_module.STUDENT_PYPROJECT,
              json.dumps(build_notebook([]).metadata)]
    return "\n".join(_norm(p) for p in parts)


def needles() -> list[tuple[str, str]]:
    """(kind, normalised text) of every secret line and block worth looking for."""
    public = public_text()
    out, seen = [], set()
    for kind, blocks in secrets().items():
        for block in blocks:
            for piece in [block, *block.splitlines()]:
                n = _norm(piece)
                if len(n) >= MIN_CHARS and n not in seen and n not in public:
                    seen.add(n)
                    out.append((kind, n))
    return out


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in [k, *_strings(v)]]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


def haystacks(edition: Path) -> dict[str, str]:
    """name -> normalised text of every file of the edition (wheel members and notebook strings apart)."""
    out = {}
    for path in sorted(p for p in edition.rglob("*") if p.is_file()):
        rel = path.relative_to(edition).as_posix()
        data = path.read_bytes()
        out[rel] = _norm(data.decode("utf-8", "replace"))
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    out[f"{rel}!{member}"] = _norm(z.read(member).decode("utf-8", "replace"))
        if path.suffix == ".ipynb":
            out[f"{rel} (strings)"] = _norm("\n".join(_strings(json.loads(data))))
    return out


def leaks(edition: Path, found_needles: list[tuple[str, str]] | None = None) -> list[str]:
    hay = haystacks(edition)
    problems = [f"{name}: a grader file in the student edition" for name in hay
                if "autograder" in name.split("!")[0].split("/") or "nbgrader_config" in name]
    for kind, needle in found_needles if found_needles is not None else needles():
        for name, text in hay.items():
            if needle in text:
                problems.append(f"{name}: holds a {kind} ({needle[:60]!r})")
                break
    return problems


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    target = tmp_path_factory.mktemp("edition") / "student"
    publish(COURSE, target)
    return target


@pytest.fixture(scope="module")
def secret_needles():
    return needles()


def test_edition_holds_what_students_need(edition):
    files = {p.relative_to(edition).as_posix() for p in edition.rglob("*") if p.is_file()}
    assert {"README.md", "LICENSE", "pyproject.toml", "course_utils/__init__.py", MARKER} <= files
    assert {f"notebooks/{a}/{a}.ipynb" for a in COURSE.assignments()} <= files
    wheels = [f for f in files if f.startswith("dist/") and f.endswith(".whl")]
    assert len(wheels) == 1
    with zipfile.ZipFile(edition / wheels[0]) as z:
        top = {n.split("/")[0] for n in z.namelist()}
    assert top == {"course_utils", wheels[0].split("/")[1].split("-")[0] + "-0.1.0.dist-info"}, top
    extra = files - {"README.md", "LICENSE", "pyproject.toml", MARKER, *wheels} \
        - {f for f in files if f.startswith(("course_utils/", "notebooks/"))}
    assert not extra, f"unexpected files in the student edition: {sorted(extra)}"


def test_edition_notebooks_are_the_released_ones(edition):
    for a in COURSE.assignments():
        published = nbformat.read(edition / "notebooks" / a / f"{a}.ipynb", as_version=4)
        assert nbformat.writes(published) == nbformat.writes(nbformat.read(COURSE.release(a), as_version=4))


def test_edition_leaks_no_solution_hidden_test_variant_or_grader(edition, secret_needles):
    kinds = {k for k, _ in secret_needles}
    assert kinds == {"solution", "hidden test", "variant answer", "grader source"}, kinds
    assert len(secret_needles) > 1000  # the check has something to look for
    assert leaks(edition, secret_needles) == []


def test_leak_check_finds_secrets_wherever_they_hide(edition, secret_needles, tmp_path):
    """A solution line in a notebook's metadata, a hidden-test block in a cell output, a variant answer
    inside the wheel, and a grader file: each is found."""
    import shutil

    copy = tmp_path / "leaky"
    shutil.copytree(edition, copy)
    sol = next(b for b in secrets()["solution"] if len(_norm(b)) > 60 and _norm(b) not in public_text())
    hidden = next(b for b in secrets()["hidden test"] if len(_norm(b)) > 60)
    variant = next(v for v in _variant_answers() if len(_norm(v)) > 60 and _norm(v) not in public_text())
    nb_path = copy / "notebooks" / COURSE.assignments()[0] / f"{COURSE.assignments()[0]}.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata["stash"] = sol
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=hidden)]
    nbformat.write(nb, nb_path)
    wheel = next((copy / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel, "a") as z:
        z.writestr("course_utils/extra.py", "    " + variant.replace("\n", "\n    "), compress_type=zipfile.ZIP_DEFLATED)
    (copy / "course_utils" / "x.py").write_text((ROOT / "autograder" / "assemble.py").read_text())
    (copy / "autograder").mkdir()
    (copy / "autograder" / "__init__.py").write_text("")
    found = leaks(copy, secret_needles)
    for what in ("a solution", "a hidden test", "a variant answer", "a grader source", "a grader file"):
        assert any(what in p for p in found), (what, found)
    assert any(p.startswith("notebooks/") and "solution" in p for p in found)
    assert any("!course_utils/extra.py" in p for p in found)


def test_student_pyproject_is_course_utils_with_the_student_dependencies(edition):
    import tomllib

    student = tomllib.loads((edition / "pyproject.toml").read_text())
    course = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert student["tool"]["setuptools"]["packages"] == ["course_utils"]
    assert student["project"]["dependencies"] == course["dependencies"]
    assert student["project"]["name"] == COURSE.edition.distribution
    assert student["project"]["license"] == "MIT" and "optional-dependencies" not in student["project"]
    assert not any(d.startswith(("nbgrader", "jupyterlab", "notebook")) for d in student["project"]["dependencies"])


def test_student_readme_says_how_to_open_validate_and_submit(edition):
    text = (edition / "README.md").read_text()
    for needed in ("Colab", "JupyterLab", "Validate", "hidden tests", "Hand in", "Formgrader",
                   "download.pytorch.org/whl/cpu", COURSE.edition.requirement):
        assert needed in text, needed
    for a in COURSE.assignments():
        assert COURSE.edition.colab_url(a) in text


def test_wheels_build_without_warnings(edition, tmp_path):
    """The student wheel and the course's own (the instructor's install) build without a packaging
    warning (no deprecated licence table)."""
    import shutil

    _, log = build_wheel(edition, tmp_path / "student", log=True)
    assert "warning" not in log.lower(), log
    course = tmp_path / "course"
    course.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, course / name)
    for pkg in ("course_utils", "autograder"):
        shutil.copytree(ROOT / pkg, course / pkg, ignore=shutil.ignore_patterns("__pycache__", "workspace"))
    wheel, log = build_wheel(course, tmp_path / "instructor", log=True)
    assert "warning" not in log.lower(), log
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in meta and "Provides-Extra: instructor" in meta


def test_publish_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(CourseError, match="not empty"):
        publish(COURSE, tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    with pytest.raises(CourseError, match="inside the course"):
        publish(COURSE, ROOT / "build" / "edition")


def test_publish_again_rewrites_the_edition_and_keeps_git(tmp_path):
    target = tmp_path / "student"
    publish(COURSE, target, [COURSE.assignments()[0]])
    (target / ".git").mkdir()
    (target / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (target / "stale.txt").write_text("from an older edition")
    publish(COURSE, target, [COURSE.assignments()[0]])
    assert not (target / "stale.txt").exists() and (target / ".git" / "HEAD").exists()


def test_publish_command_lists_the_edition(tmp_path, capsys):
    from autograder.cli import main

    assert main(["publish", str(tmp_path / "student"), "--assignment", COURSE.assignments()[0]]) == 0
    out = capsys.readouterr().out
    assert "dist/n2t_course_utils-0.1.0-py3-none-any.whl" in out and "README.md" in out
    assert COURSE.edition.repository in out


def test_publish_generates_each_notebook_afresh(tmp_path, monkeypatch):
    """The edition's notebooks come from the sources and the current [tool.course] settings, never
    from notebooks/ (which may be stale or hand-run): publish must not even read it."""
    from autograder.course import StudentEdition

    a = COURSE.assignments()[0]
    before = COURSE.edition
    monkeypatch.setattr(Course, "release", lambda self, a: (_ for _ in ()).throw(AssertionError("publish read notebooks/")))
    moved = StudentEdition(repository="https://github.com/new-owner/new-edition")
    monkeypatch.setattr(Course, "edition", property(lambda self: moved))
    publish(COURSE, tmp_path / "student", [a])
    text = (tmp_path / "student" / "notebooks" / a / f"{a}.ipynb").read_text()
    assert moved.colab_url(a) in text and moved.requirement in text
    assert before.requirement not in text and (before.colab_url(a) is None or before.colab_url(a) not in text)
    nb = nbformat.reads(text, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_publishing_one_module_keeps_the_ones_published_before(tmp_path):
    """Releasing a module a week: `publish DIR --assignment m2` keeps m1 in the edition and its README."""
    first, second = COURSE.assignments()[:2]
    target = tmp_path / "student"
    publish(COURSE, target, [first])
    publish(COURSE, target, [second])
    for a in (first, second):
        assert (target / "notebooks" / a / f"{a}.ipynb").exists()
        assert f"notebooks/{a}/{a}.ipynb" in (target / "README.md").read_text()


def test_publish_refuses_before_generating(tmp_path, monkeypatch):
    import autograder.release

    (tmp_path / "precious.txt").write_text("keep me")
    monkeypatch.setattr(autograder.release, "release", lambda *a, **k: pytest.fail("generated before refusing"))
    with pytest.raises(CourseError, match="not empty"):
        publish(COURSE, tmp_path)
