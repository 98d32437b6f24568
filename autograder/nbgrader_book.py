"""nbgrader's gradebook: the instructor's record, shared with formgrader and ``nbgrader export``.

Who owns which number (so that no two records can disagree on a score):

* the course's table (``autograder.gradebook``, ``gradebook.db`` in the workspace) is the source of
  everything the *grader* decides: the status, the autograded score of every test, flags, reasons,
  the graded notebook. It is written first, in one transaction per submission;
* nbgrader's gradebook (``db_url``: SQLite in the workspace by default, PostgreSQL for several
  graders) holds a *mirror* of the autograded part (``Grade.auto_score`` per test cell, the status
  in a comment, ``flagged``), and is the only home of what *people* decide: the marks of written
  answers and any score overridden by hand (``Grade.manual_score``, ``Comment.manual_comment``),
  written by formgrader or ``course-grader mark``.

Every total (``course-grader export``, the LMS files, the report, ``nbgrader export`` with the course's
export plugin) is computed by one function, :func:`read_state`, from nbgrader's rows. Before
anything reads them, :func:`sync` compares the mirror with the course's table and rewrites what
differs (the course's table wins for autograded scores and statuses). So a crash between the two
writes (or a mirror edited by hand) is repaired at the next grade, sync, export, mark or report; the
course's record is never lost, because it is written before nbgrader's.

A submission whose status is not a grade (unreadable, failed-to-grade) is mirrored with no
autograded score at all (``auto_score`` NULL, ``needs_manual_grade``), flagged, with the reason in
the comment: its total is empty, never 0, unless a person grades every cell of it by hand.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.assemble import nbg
from autograder.course import Course, CourseError
from autograder.feedback import STUDENT_ROLES, clean_output, escape_markdown, sanitise
from autograder.scoring import GRADED, SCORED

COURSE_ID = "neurons-to-transformers"
STAMP = re.compile(r"\[course-grader graded_at=([0-9.]+) sha256=([0-9a-f]*)\]")


@dataclass
class Structure:
    """An assignment's cells as nbgrader records them (what ``nbgrader generate_assignment`` saves)."""

    assignment: str
    grade_cells: dict[str, tuple[float, str]]          # grade_id -> (points, "code" | "markdown")
    solution_cells: list[str]                          # in notebook order
    source_cells: list[dict] = field(default_factory=list)

    @property
    def status_cell(self) -> str | None:
        """The answer cell whose comment carries the grader's status (the first one)."""
        return self.solution_cells[0] if self.solution_cells else None

    @property
    def written(self) -> list[str]:
        return [g for g, (_, kind) in self.grade_cells.items() if kind == "markdown"]


def structure(source: nbformat.NotebookNode, assignment: str) -> Structure:
    from nbgrader.utils import compute_checksum

    grade, solution, cells = {}, [], []
    for c in source.cells:
        meta = nbg(c)
        gid = meta.get("grade_id")
        if not gid or c.cell_type not in ("code", "markdown"):
            continue
        if meta.get("grade"):
            grade[gid] = (float(meta.get("points", 0) or 0), c.cell_type)
        if meta.get("solution"):
            solution.append(gid)
        cells.append({"name": gid, "cell_type": c.cell_type, "locked": bool(meta.get("locked")),
                      "source": c.source, "checksum": meta.get("checksum") or compute_checksum(c)})
    return Structure(assignment, grade, solution, cells)


def load_structure(course: Course, assignment: str) -> Structure:
    path = course.source(assignment)
    if not path.exists():
        raise CourseError(f"{path} is missing: run `course-grader build {assignment}`.")
    return structure(nbformat.read(path, as_version=4), assignment)


def _retry(fn, *args, **kwargs):
    """nbgrader's update_or_create_* is find-then-add: two graders adding the same student at once
    make one of them fail on the unique key; the second try finds the row."""
    from nbgrader.api import InvalidEntry

    for attempt in range(4):
        try:
            return fn(*args, **kwargs)
        except InvalidEntry:
            if attempt == 3:
                raise
            time.sleep(0.1 * (attempt + 1))


def _commit(gb) -> None:
    """Commit nbgrader's session, or roll it back so that the session stays usable, and re-raise."""
    try:
        gb.db.commit()
    except Exception:
        gb.db.rollback()
        raise


def open_gradebook(url: str):
    """nbgrader's ``Gradebook`` at ``url``, with a one-line error when it cannot be reached."""
    from nbgrader.api import Gradebook

    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    # A new database is stamped with the version reported by the `alembic` script beside this
    # Python: make sure it is found even when the environment is not activated.
    bindir = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    if bindir not in path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path
    try:
        for attempt in range(5):
            try:
                return Gradebook(url, course_id=COURSE_ID)
            except Exception as exc:  # noqa: BLE001
                # Two graders opening a new PostgreSQL database at once both create its tables; the
                # loser's CREATE fails on a unique index (IntegrityError). The tables exist then:
                # opening again finds them.
                if attempt == 4 or type(exc).__name__ not in ("IntegrityError", "ProgrammingError"):
                    raise
                time.sleep(0.2 * (attempt + 1))
    except ModuleNotFoundError as exc:
        raise CourseError(f"nbgrader's gradebook at {_safe(url)} needs the Python driver {exc.name!r}: "
                          f"install the course with its `postgres` extra (pip install -e '.[postgres]').") from exc
    except Exception as exc:  # sqlalchemy's OperationalError and friends: say where, not a traceback
        raise CourseError(f"cannot open nbgrader's gradebook at {_safe(url)}: {type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc


def _safe(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def ensure_assignment(gb, st: Structure) -> None:
    """The assignment, its notebook and its cells, as nbgrader's generate_assignment saves them."""
    a = st.assignment
    _retry(gb.update_or_create_assignment, a)
    _retry(gb.update_or_create_notebook, a, a)
    remove_stale_cells(gb, st)
    for name, (points, kind) in st.grade_cells.items():
        _retry(gb.update_or_create_grade_cell, name, a, a, max_score=points, cell_type=kind)
    for name in st.solution_cells:
        _retry(gb.update_or_create_solution_cell, name, a, a)
    for c in st.source_cells:
        _retry(gb.update_or_create_source_cell, c["name"], a, a, cell_type=c["cell_type"], locked=c["locked"],
               source=c["source"], checksum=c["checksum"])


def remove_stale_cells(gb, st: Structure) -> None:
    """Remove the graded and answer cells that are no longer in the source (renamed or removed since
    the assignment was last built), with the grades and comments of every submission on them: a
    stale graded cell has no autograded score in a newer grading (its total would be empty) and
    keeps its old score in an older one (more than the maximum). A mark given by a person on one is
    never deleted: refuse instead, saying which cells."""
    a = st.assignment
    nb = gb.find_notebook(a, a)
    stale = [c for c in nb.grade_cells if c.name not in st.grade_cells] + \
            [c for c in nb.solution_cells if c.name not in st.solution_cells]
    if not stale:
        return
    marked = sorted({c.name for c in stale
                     if any(g.manual_score is not None for g in (c.grades or []))
                     or any((m.manual_comment or "").strip() for m in (c.comments or []))})
    if marked:
        raise CourseError(
            f"{a}: cell(s) {', '.join(repr(n) for n in marked)} are no longer in the source but hold marks or "
            f"comments given by a person in nbgrader's gradebook; nothing was changed. Restore their grade_id in "
            f"solutions/{a}/{a}.py and rebuild, or note those marks and clear them in formgrader first (then give "
            f"them again on the new cells).")
    for c in stale:
        for x in list(c.grades or []) + list(c.comments or []):
            gb.db.delete(x)
        gb.db.delete(c)
    _commit(gb)


def status_text(row: dict) -> str:
    """What the instructor reads in formgrader about the grading (the first answer's comment)."""
    lines = [f"course-grader: {row['status']}" + (f" ({row['reason']})" if row["reason"] else "")]
    if row["score"] is None:
        lines.append("No autograded score: this is not a 0. Regrade it, or grade every cell by hand.")
    failed = [t["grade_id"] for t in row["detail"].get("tests", []) if t["outcome"] != "passed"]
    if failed and row["score"] is not None:
        lines.append("Tests not passed: " + ", ".join(failed))
    lines += [f"flag: {f}" for f in row["flags"]]
    lines.append(f"[course-grader graded_at={row['graded_at']!r} sha256={row['submission_sha256'][:16]}]")
    return "\n".join(lines)


def earned_by_cell(row: dict, st: Structure) -> dict[str, float]:
    """The points of each test of ``row``, by grade cell of the current source. A row graded before
    graded cells were renamed names the old cells: its tests the source no longer has are paired, in
    notebook order, with the source's cells it has no result for, when there are as many of each and
    their points agree (a rename), so that its total stays the course's score; otherwise those cells
    get 0 (a test added since it was graded) and the removed tests count no more."""
    tests = row["detail"].get("tests", [])
    earned = {t["grade_id"]: float(t["earned"]) for t in tests}
    gone = [t for t in tests if t["grade_id"] not in st.grade_cells]
    new = [n for n, (_, kind) in st.grade_cells.items() if kind == "code" and n not in earned]
    if gone and len(gone) == len(new) and all(float(t["points"]) == st.grade_cells[n][0] for t, n in zip(gone, new)):
        earned.update({n: float(t["earned"]) for t, n in zip(gone, new)})
    return earned


def expected(row: dict, st: Structure) -> dict:
    """What the mirror of one course row must hold: autograded scores, flag, status comment."""
    earned = earned_by_cell(row, st)
    scored = row["status"] in SCORED
    auto = {name: (earned.get(name, 0.0) if scored else None)
            for name, (_, kind) in st.grade_cells.items() if kind == "code"}
    return {"auto": auto, "flagged": row["status"] != GRADED, "comment": status_text(row)}


@dataclass
class SubmissionState:
    """One submission as nbgrader's gradebook holds it, and the totals every export uses."""

    student: str
    grades: dict = field(default_factory=dict)       # grade_id -> dict(auto, manual, extra, max, kind, needs)
    comments: dict = field(default_factory=dict)     # grade_id -> (auto_comment, manual_comment)
    flagged: bool = False

    @staticmethod
    def _score(g: dict) -> float | None:
        extra = g["extra"] or 0.0
        if g["manual"] is not None:
            return g["manual"] + extra
        if g["auto"] is not None:
            return g["auto"] + extra
        return None

    @property
    def is_grade(self) -> bool:
        """Every autograded cell has a score (from the grader or a person): otherwise there is no
        total at all (the grader could not grade it), never a 0."""
        return all(self._score(g) is not None for g in self.grades.values() if g["kind"] == "code")

    @property
    def total(self) -> float | None:
        """nbgrader's score (autograded or overridden + written answers marked so far; an answer
        still to mark counts 0, as in nbgrader), or None when it is not a grade."""
        if not self.is_grade:
            return None
        return sum(self._score(g) or 0.0 for g in self.grades.values())

    @property
    def written(self) -> float | None:
        marked = [self._score(g) for g in self.grades.values() if g["kind"] == "markdown" and g["manual"] is not None]
        return sum(marked) if marked else None

    @property
    def to_mark(self) -> int:
        return sum(1 for g in self.grades.values() if g["kind"] == "markdown" and g["manual"] is None)

    @property
    def stamp(self) -> tuple[float, str] | None:
        for auto, _ in self.comments.values():
            m = STAMP.search(auto or "")
            if m:
                return float(m.group(1)), m.group(2)
        return None

    def matches(self, want: dict, st: Structure) -> bool:
        # The flag is not compared: a person may have removed it in formgrader (their decision);
        # mirror() sets it again only for a new grading.
        if st.status_cell and (self.comments.get(st.status_cell) or (None, None))[0] != want["comment"]:
            return False
        return all(name in self.grades and self.grades[name]["auto"] == score for name, score in want["auto"].items()) \
            and all(name in self.grades for name in st.grade_cells)


def read_state(gb, assignment: str) -> dict[str, SubmissionState]:
    """Every submission of ``assignment`` in nbgrader's gradebook, read with two queries."""
    from nbgrader.api import (Assignment, Comment, Grade, GradeCell, SolutionCell, SubmittedAssignment,
                              SubmittedNotebook)

    out: dict[str, SubmissionState] = {}
    subs = (gb.db.query(SubmittedAssignment.student_id, SubmittedNotebook.flagged)
            .join(SubmittedNotebook, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
            .filter(Assignment.name == assignment))
    for student, flagged in subs:
        out[student] = SubmissionState(student, flagged=bool(flagged))
    grades = (gb.db.query(SubmittedAssignment.student_id, GradeCell.name, GradeCell.cell_type, GradeCell.max_score,
                          Grade.auto_score, Grade.manual_score, Grade.extra_credit, Grade.needs_manual_grade)
              .join(SubmittedNotebook, SubmittedNotebook.id == Grade.notebook_id)
              .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
              .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
              .join(GradeCell, GradeCell.id == Grade.cell_id)
              .filter(Assignment.name == assignment))
    for student, name, kind, mx, auto, manual, extra, needs in grades:
        out.setdefault(student, SubmissionState(student)).grades[name] = {
            "auto": auto, "manual": manual, "extra": extra, "max": mx, "kind": kind, "needs": needs}
    comments = (gb.db.query(SubmittedAssignment.student_id, SolutionCell.name, Comment.auto_comment, Comment.manual_comment)
                .join(SubmittedNotebook, SubmittedNotebook.id == Comment.notebook_id)
                .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                .join(SolutionCell, SolutionCell.id == Comment.cell_id)
                .filter(Assignment.name == assignment))
    for student, name, auto, manual in comments:
        out.setdefault(student, SubmissionState(student)).comments[name] = (auto, manual)
    return out


def mirror(gb, row: dict, st: Structure) -> None:
    """Write one course row into nbgrader's gradebook (student, submission, per-cell autograded
    scores, flag, status comment), in one commit. Marks given by people are left as they are."""
    from nbgrader.api import Comment, Grade, InvalidEntry, MissingEntry, SubmittedNotebook

    a, s = row["assignment"], row["student"]
    want = expected(row, st)
    _retry(gb.update_or_create_student, s)
    try:
        sub = gb.find_submission(a, s)
    except MissingEntry:
        try:
            with warnings.catch_warnings():  # nbgrader's add_submission builds objects SQLAlchemy warns about
                warnings.simplefilter("ignore")
                sub = gb.add_submission(a, s)
        except InvalidEntry:  # another grader added it meanwhile
            sub = gb.find_submission(a, s)
    nbs = [n for n in sub.notebooks if n.name == a]
    if nbs:
        snb = nbs[0]
    else:
        snb = SubmittedNotebook(notebook=gb.find_notebook(a, a), assignment=sub)
        gb.db.add(snb)
    grades = {g.name: g for g in snb.grades}
    for name in st.grade_cells:  # cells added to the assignment after this submission was first mirrored
        if name not in grades:
            grades[name] = Grade(cell_id=gb.find_grade_cell(name, a, a).id, notebook=snb)
            gb.db.add(grades[name])
    comments = {c.name: c for c in snb.comments}
    for name in st.solution_cells:
        if name not in comments:
            comments[name] = Comment(cell_id=gb.find_solution_cell(name, a, a).id, notebook=snb)
            gb.db.add(comments[name])
    for name, (_, kind) in st.grade_cells.items():
        g = grades[name]
        g.auto_score = want["auto"].get(name) if kind == "code" else None
        g.needs_manual_grade = g.auto_score is None and g.manual_score is None
    # Flag a new grading only (its stamp differs from the one mirrored before): a flag a person
    # removed in formgrader stays removed when the same grading is mirrored again.
    old = STAMP.search((comments[st.status_cell].auto_comment or "") if st.status_cell else "")
    if want["flagged"] and (old is None or old.groups() != STAMP.search(want["comment"]).groups()):
        snb.flagged = True
    if st.status_cell:
        comments[st.status_cell].auto_comment = want["comment"]
    _commit(gb)


def write_formgrader_notebook(course: Course, row: dict, graded, source: nbformat.NotebookNode) -> Path:
    """The graded notebook in nbgrader's layout, where formgrader looks for it
    (``<workspace>/autograded/<student>/<assignment>/<assignment>.ipynb``): every graded cell with the
    source's nbgrader metadata, the grader's status on top. A test cell holds its visible part and
    one line saying how its hidden part went: no hidden-test text is ever in this file (nor its
    outputs), so no feedback made from it (nbgrader's included) can leak one."""
    a, s = row["assignment"], row["student"]
    src = {nbg(c).get("grade_id"): c for c in source.cells if nbg(c).get("grade_id")}
    tests = {t["grade_id"]: t for t in row["detail"].get("tests", [])}
    out = nbformat.v4.new_notebook(metadata={k: v for k, v in source.metadata.items() if k in ("kernelspec", "language_info")})
    # Formgrader renders this notebook in the instructor's logged-in Jupyter: what comes from the
    # submission (outputs, written answers, names quoted in flags) is made inert as in feedback.
    out.cells.append(nbformat.v4.new_markdown_cell("**Autograder:** " + escape_markdown(status_text(row)).replace("\n", "  \n")))
    for cell in (graded.cells if graded is not None else []):
        role = cell.metadata.get("grader", {})
        kind, gid = role.get("role"), role.get("grade_id")
        if kind == "test" and role.get("part") == "hidden":
            t = tests.get(gid, {})
            verdict = "not run" if t.get("outcome") == "not-run" else ("failed" if t.get("hidden_failed") else "passed")
            if out.cells and out.cells[-1].cell_type == "code":
                out.cells[-1].source += f"\n# hidden tests: {verdict} (their source is in solutions/, not here)"
            continue
        if cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(sanitise(cell.source) if kind in STUDENT_ROLES else cell.source)
        else:
            new = nbformat.v4.new_code_cell(cell.source)
            new.outputs = [o for o in map(clean_output, cell.get("outputs", [])) if o is not None]
            new.execution_count = cell.get("execution_count")
        if gid in src and kind != "student-extra":
            new.metadata["nbgrader"] = dict(nbg(src[gid]))
        out.cells.append(new)
    path = course.autograded / s / a / f"{a}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    # whole or not at all: formgrader never reads half a notebook
    fd, tmp = tempfile.mkstemp(prefix=f".{a}.", suffix=".ipynb.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(out, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass
class SyncReport:
    mirrored: list[str] = field(default_factory=list)
    newer_elsewhere: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Book:
    """nbgrader's gradebook for one course, opened once for a batch or a command."""

    def __init__(self, course: Course):
        self.course = course
        self.url = course.nbgrader_db_url
        self.gb = open_gradebook(self.url)
        self._structures: dict[str, Structure] = {}
        self._sources: dict[str, nbformat.NotebookNode] = {}

    def close(self) -> None:
        self.gb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def structure(self, assignment: str) -> Structure:
        if assignment not in self._structures:
            st = load_structure(self.course, assignment)
            ensure_assignment(self.gb, st)
            self._structures[assignment] = st
        return self._structures[assignment]

    def record(self, row: dict, graded=None) -> None:
        """Mirror one course row (just written by the grader) and write its formgrader notebook.

        The notebook is written first: if that fails, nbgrader's gradebook still holds the old state,
        so the next sync sees the difference and does both again (a sync skips a submission whose
        mirror matches and whose notebook exists)."""
        st = self.structure(row["assignment"])
        a = row["assignment"]
        if a not in self._sources:
            self._sources[a] = nbformat.read(self.course.source(a), as_version=4)
        write_formgrader_notebook(self.course, row, graded, self._sources[a])
        mirror(self.gb, row, st)

    def sync(self, rows: list[dict]) -> SyncReport:
        """Bring the mirror in line with the course's rows; the course's table wins, except over a
        newer grading of the same submission recorded by another grader (shared gradebook)."""
        from autograder.gradebook import Gradebook

        report = SyncReport()
        book = Gradebook(self.course.gradebook_path)
        for a in sorted({r["assignment"] for r in rows}):
            st = self.structure(a)
            state = read_state(self.gb, a)
            for row in (r for r in rows if r["assignment"] == a):
                have = state.get(row["student"])
                if have is not None:
                    stamp = have.stamp
                    if stamp and stamp[0] > row["graded_at"] + 1e-6:
                        report.newer_elsewhere.append(f"{a}/{row['student']}")
                        continue
                    if have.matches(expected(row, st), st) and \
                            (self.course.autograded / row["student"] / a / f"{a}.ipynb").exists():
                        continue
                try:
                    self.record(row, book.notebook(a, row["student"]))
                    report.mirrored.append(f"{a}/{row['student']}")
                except Exception as exc:
                    report.failed.append(f"{a}/{row['student']}: {type(exc).__name__}: {exc}")
        return report

    def state(self, assignment: str) -> dict[str, SubmissionState]:
        return read_state(self.gb, assignment)

    def mark(self, assignment: str, student: str, grade_id: str, points: float, comment: str | None = None) -> SubmissionState:
        """Give a written answer its points (and optionally a comment), as formgrader does."""
        st = self.structure(assignment)
        state = read_state(self.gb, assignment)
        if student not in state:
            known = ", ".join(sorted(state)[:20]) or "none yet"
            raise CourseError(f"no submission of {assignment} by {student!r} in the gradebook "
                              f"(graded students: {known}).")
        if grade_id not in st.grade_cells:
            raise CourseError(f"{assignment} has no graded cell {grade_id!r}; written answers to mark: "
                              f"{', '.join(st.written) or 'none'}.")
        mx, kind = st.grade_cells[grade_id]
        if kind != "markdown":
            raise CourseError(f"{grade_id!r} is autograded, not a written answer; written answers to mark: "
                              f"{', '.join(st.written) or 'none'}. (Formgrader can override an autograded score.)")
        if not (0 <= points <= mx):
            raise CourseError(f"{points:g} points is outside 0..{mx:g}, the most {grade_id!r} is worth.")
        grade = self.gb.find_grade(grade_id, assignment, assignment, student)
        grade.manual_score = float(points)
        grade.needs_manual_grade = False
        if comment is not None:
            self.gb.find_comment(grade_id, assignment, assignment, student).manual_comment = comment
        self.gb.db.commit()
        return read_state(self.gb, assignment)[student]


def synced_state(course: Course, assignment: str, log=print) -> tuple[dict[str, SubmissionState], list[dict]]:
    """The course rows of ``assignment`` and nbgrader's state for them, after a sync."""
    from autograder.gradebook import Gradebook

    rows = Gradebook(course.gradebook_path).rows(assignment)
    with Book(course) as book:
        rep = book.sync(rows) if rows else SyncReport()
        for line in rep.failed:
            log(f"nbgrader gradebook not updated: {line}")
        for line in rep.newer_elsewhere:
            log(f"note: {line} has a newer grading in the shared gradebook (another grader's); kept")
        return book.state(assignment), rows

