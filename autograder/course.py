"""Where things are: the course's paths and its list of assignments, derived from the layout.

``solutions/<id>/<id>.ipynb`` is an assignment's nbgrader source (built from ``<id>.py``);
``notebooks/<id>/<id>.ipynb`` is its generated student version; ``autograder/workspace/`` (never
committed) holds submissions, the gradebook and feedback.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


class CourseError(Exception):
    """A problem the user can fix; the message says how. The CLI prints it as one line."""


def _course_table(text: str) -> dict:
    """pyproject's ``[tool.course]`` table (tomllib; on Python 3.10 its ``key = "string"`` lines)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        m = re.search(r"^\[tool\.course\][ \t]*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
        pairs = re.findall(r'^([A-Za-z0-9_-]+)[ \t]*=[ \t]*"([^"]*)"', m.group(1), re.M) if m else []
        return dict(pairs)
    return tomllib.loads(text).get("tool", {}).get("course", {})


@dataclass(frozen=True)
class StudentEdition:
    """Where the student edition (``course-grader publish``) is published: the one place the student
    notebooks' install cell and "Open in Colab" links are made from (``[tool.course]`` in the
    course's pyproject.toml). Never the instructor's repository: it holds the solutions."""

    repository: str            # https://github.com/<owner>/<name> of the student edition
    ref: str = "main"          # its branch or tag
    package: str | None = None  # a pip requirement on a package index, used instead of the repository
    distribution: str = "n2t-course-utils"  # the name of the student wheel (course_utils alone)

    @property
    def github(self) -> tuple[str, str] | None:
        m = re.match(r"^https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$", self.repository)
        return (m.group(1), m.group(2)) if m else None

    @property
    def requirement(self) -> str:
        """What the notebooks' first cell gives pip."""
        if self.package:
            return self.package
        return f"{self.distribution} @ git+{self.repository.rstrip('/').removesuffix('.git')}.git@{self.ref}"

    def colab_url(self, assignment: str) -> str | None:
        if self.github is None:
            return None
        owner, name = self.github
        return f"https://colab.research.google.com/github/{owner}/{name}/blob/{self.ref}/notebooks/{assignment}/{assignment}.ipynb"

    @classmethod
    def from_pyproject(cls, path: Path) -> StudentEdition:
        try:
            table = _course_table(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CourseError(f"cannot read the course's settings in {path}: {exc}") from exc
        if not table.get("student-repository"):
            raise CourseError(f"{path} has no [tool.course] student-repository: set where the student edition is published.")
        edition = cls(repository=table["student-repository"], ref=table.get("student-ref", "main"),
                      package=table.get("student-package") or None,
                      distribution=table.get("student-distribution", "n2t-course-utils"))
        if edition.github is None and not edition.package:
            raise CourseError(f"[tool.course] student-repository in {path} must be https://github.com/<owner>/<name> "
                              "(Colab opens notebooks from GitHub), or set student-package.")
        return edition


@dataclass(frozen=True)
class Course:
    root: Path = ROOT
    workspace_dir: Path | None = None  # another grading workspace (the audit uses a scratch one)
    db_url: str | None = None  # nbgrader's gradebook (``--db-url``); None: COURSE_DB_URL, else SQLite in the workspace

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def workspace(self) -> Path:
        return self.workspace_dir or self.root / "autograder" / "workspace"

    @property
    def gradebook_path(self) -> Path:
        """The gradebook: the one record of every grade (graded notebooks included)."""
        return self.workspace / "gradebook.db"

    @property
    def nbgrader_db_url(self) -> str:
        """nbgrader's gradebook (the instructor's record, formgrader's database). ``--db-url`` first;
        then the environment variable COURSE_DB_URL (which autograder/nbgrader_config.py reads too,
        so nbgrader's own commands see the same database), only for the course's own workspace: a
        scratch workspace (the audit's) never writes into a shared gradebook; else SQLite beside
        the course's table."""
        if self.db_url:
            return self.db_url
        if self.workspace_dir is None and os.environ.get("COURSE_DB_URL"):
            return os.environ["COURSE_DB_URL"]
        return "sqlite:///" + str(self.workspace / "nbgrader.db")

    @property
    def autograded(self) -> Path:
        """Graded notebooks in nbgrader's layout (<student>/<assignment>/<assignment>.ipynb), for formgrader."""
        return self.workspace / "autograded"

    @property
    def jobs(self) -> Path:
        """Scratch folders of running sandboxes (hidden from every kernel)."""
        return self.workspace / "jobs"

    @property
    def demo(self) -> Path:
        return self.workspace / "demo"

    @property
    def edition(self) -> StudentEdition:
        """The student edition's settings: the course's own pyproject.toml, else this repository's."""
        own = self.root / "pyproject.toml"
        return StudentEdition.from_pyproject(own if own.exists() else ROOT / "pyproject.toml")

    def feedback_dir(self, assignment: str) -> Path:
        return self.workspace / "feedback" / assignment

    def assignments(self) -> list[str]:
        """Assignment ids in syllabus order (their names start with m1_, m2_, ...)."""
        return sorted(p.parent.name for p in self.solutions.glob("*/*.py") if p.stem == p.parent.name)

    def check(self, assignment: str) -> str:
        known = self.assignments()
        if assignment not in known:
            close = [a for a in known if a.split("_")[0] == assignment.split("_")[0]]
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            raise CourseError(
                f"no assignment {assignment!r}.{suggestion} Known assignments: {', '.join(known) or 'none'}."
            )
        return assignment

    def resolve(self, assignment: str | None) -> list[str]:
        """One assignment (checked) or, for None/'all', every assignment."""
        if assignment in (None, "all"):
            return self.assignments()
        return [self.check(assignment)]

    def script(self, assignment: str) -> Path:
        return self.solutions / assignment / f"{assignment}.py"

    def source(self, assignment: str) -> Path:
        return self.solutions / assignment / f"{assignment}.ipynb"

    def release(self, assignment: str) -> Path:
        return self.notebooks / assignment / f"{assignment}.ipynb"
