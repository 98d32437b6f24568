"""The instructor's record (issue 12): grades in nbgrader's gradebook (formgrader, nbgrader export),
written answers marked by hand, exports for Canvas and Moodle, the class report, and PostgreSQL for
several graders. One small batch of the tiny fixture course is graded once for the module (a real
grading run, ~30 s); everything else reads it."""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.course import Course
from autograder.examples import write_examples
from autograder.gradebook import Gradebook

pytestmark = pytest.mark.notebooks
REPO = Path(__file__).resolve().parents[1]
SECRETS = ("hidden-secret-alpha", "hidden-secret-beta", "hidden-secret-gamma")


def _fresh_course(tiny_course: Course, dest: Path) -> Course:
    root = dest / "course"
    shutil.copytree(tiny_course.root, root, ignore=shutil.ignore_patterns("workspace"))
    return Course(root)


def _batch(course: Course, dest: Path) -> Path:
    subs = dest / "subs"
    write_examples(course, "t_tiny", subs)
    (subs / "carol").mkdir()
    (subs / "carol" / "t_tiny.ipynb").write_text('{"cells": [}')
    return subs


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def graded(tiny_course, tmp_path_factory):
    """reference (6/6), blank (0), partly_wrong (1/6) and carol (unreadable), graded with 2 workers."""
    tmp = tmp_path_factory.mktemp("graded")
    course = _fresh_course(tiny_course, tmp)
    subs = _batch(course, tmp)
    assert main(["--root", str(course.root), "grade", "t_tiny", str(subs), "--jobs", "2"]) == 0
    return course


def _nbgrader_rows(course: Course) -> dict:
    from nbgrader.api import Gradebook as NbGradebook

    from autograder.nbgrader_book import COURSE_ID, read_state

    with NbGradebook(course.nbgrader_db_url, course_id=COURSE_ID) as gb:
        return read_state(gb, "t_tiny")


def test_every_grade_is_in_nbgrader_and_agrees_with_the_course_record(graded):
    rows = {r["student"]: r for r in Gradebook(graded.gradebook_path).rows("t_tiny")}
    state = _nbgrader_rows(graded)
    assert set(state) == set(rows) == {"reference", "blank", "partly_wrong", "carol"}
    for student, row in rows.items():
        st = state[student]
        if row["score"] is None:
            # not a grade: no autograded score at all, flagged, the reason in the comment; never 0
            assert all(g["auto"] is None for g in st.grades.values()), st.grades
            assert st.flagged and st.total is None
            comment = st.comments["double"][0]
            assert "unreadable" in comment and "not a 0" in comment and "not valid JSON" in comment
            continue
        for t in row["detail"]["tests"]:
            assert st.grades[t["grade_id"]]["auto"] == t["earned"], (student, t)
        assert sum(g["auto"] for g in st.grades.values() if g["kind"] == "code") == row["score"]
        assert st.grades["why_relu"]["auto"] is None and st.grades["why_relu"]["needs"]  # for a person to mark
    assert state["reference"].total == 6 and state["partly_wrong"].total == 1


def test_formgrader_lists_and_renders_every_submission(graded):
    """nbgrader's own API (formgrader's backend) sees every graded submission, and formgrader's page
    for one renders from the autograded notebook with the written answer's grade box, and no
    hidden-test text."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    from autograder.release import nbgrader_config

    cfg = nbgrader_config(graded.root)
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    subs = {s["student"]: s for s in api.get_submissions("t_tiny")}
    assert set(subs) == {"reference", "blank", "partly_wrong", "carol"}
    assert all(s["autograded"] for s in subs.values())
    nbs = {s["student"]: s for s in api.get_notebook_submissions("t_tiny", "t_tiny")}
    assert set(nbs) == set(subs) and nbs["carol"]["flagged"]

    html_cfg = Config()
    html_cfg.HTMLExporter.template_name = "formgrade"
    html_cfg.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    path = graded.autograded / "partly_wrong" / "t_tiny" / "t_tiny.ipynb"
    page, _ = HTMLExporter(config=html_cfg).from_filename(str(path), resources={
        "assignment_id": "t_tiny", "notebook_id": "t_tiny", "submission_id": nbs["partly_wrong"]["id"], "index": 0,
        "total": 4, "base_url": "", "student": "partly_wrong", "last_name": None, "first_name": None,
        "notebook_path": "x"})
    assert 'id="why_relu"' in page and 'id="test_relu"' in page
    assert not [s for s in SECRETS if s in page]
    for student in subs:
        text = (graded.autograded / student / "t_tiny" / "t_tiny.ipynb").read_text()
        assert not [s for s in SECRETS if s in text], student


def test_marks_by_hand_reach_both_exports_which_agree(graded, capsys, tmp_path):
    code, out, err = run(capsys, "--root", graded.root, "mark", "t_tiny", "reference", "why_relu", "1.5",
                         "--comment", "Right idea; say why gradients do not vanish.")
    assert code == 0, err
    assert "total 7.5" in out
    assert run(capsys, "--root", graded.root, "mark", "t_tiny", "partly_wrong", "why_relu", "2")[0] == 0

    ours = tmp_path / "ours.csv"
    assert run(capsys, "--root", graded.root, "export", "--out", ours)[0] == 0
    mine = {r["student"]: r for r in csv.DictReader(ours.open())}
    assert mine["reference"]["total"] == "7.5" and mine["reference"]["written"] == "1.5"
    assert mine["reference"]["score"] == "6" and mine["reference"]["to_mark"] == "0"
    assert mine["partly_wrong"]["total"] == "3" and mine["blank"]["total"] == "0" and mine["blank"]["to_mark"] == "1"
    assert mine["carol"]["total"] == "" and mine["carol"]["score"] == "" and mine["carol"]["status"] == "unreadable"

    # nbgrader's own command, with the course's configuration (its export plugin), on the same gradebook
    theirs = tmp_path / "nbgrader.csv"
    proc = subprocess.run([str(Path(sys.executable).with_name("nbgrader")), "export",
                           f"--CourseDirectory.root={graded.root}", f"--CourseDirectory.db_url={graded.nbgrader_db_url}",
                           f"--to={theirs}"], cwd=REPO / "autograder", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "CourseCsvExportPlugin" in proc.stderr
    nb = {r["student_id"]: r for r in csv.DictReader(theirs.open())}
    assert set(nb) == set(mine)
    for student, r in mine.items():
        want = r["total"]
        got = nb[student]["score"]
        assert (float(got) if got else None) == (float(want) if want else None), (student, got, want)
    assert nb["carol"]["raw_score"] == "" and nb["carol"]["status"] == "not graded"
    assert nb["blank"]["status"] == "to mark: 1"

    state = _nbgrader_rows(graded)
    assert state["reference"].comments["why_relu"][1].startswith("Right idea")


@pytest.mark.parametrize("argv, words", [
    (["reference", "why_relu", "2.5"], ["outside 0..2"]),
    (["reference", "why_relu", "-1"], ["outside 0..2"]),
    (["zed", "why_relu", "1"], ["no submission of t_tiny by 'zed'", "reference"]),
    (["reference", "why_not", "1"], ["no graded cell 'why_not'", "why_relu"]),
    (["reference", "test_relu", "1"], ["is autograded", "why_relu"]),
])
def test_mark_refuses_with_one_clear_line(graded, capsys, argv, words):
    code, _, err = run(capsys, "--root", graded.root, "mark", "t_tiny", *argv)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("course-grader: error:"), err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_the_course_record_wins_and_marks_survive(graded, capsys, tmp_path):
    """An autograded score changed in nbgrader's gradebook (by hand, or a half-done write) is put
    back from the course's record at the next sync; a mark given by a person is kept."""
    from nbgrader.api import Gradebook as NbGradebook

    from autograder.nbgrader_book import COURSE_ID

    with NbGradebook(graded.nbgrader_db_url, course_id=COURSE_ID) as gb:
        gb.find_grade("test_relu", "t_tiny", "t_tiny", "reference").auto_score = 0.0
        gb.find_grade("why_relu", "t_tiny", "t_tiny", "blank").manual_score = 1.0
        gb.find_grade("why_relu", "t_tiny", "t_tiny", "blank").needs_manual_grade = False
        gb.db.commit()
    code, out, _ = run(capsys, "--root", graded.root, "sync", "t_tiny")
    assert code == 0 and "1 updated" in out, out
    state = _nbgrader_rows(graded)
    assert state["reference"].grades["test_relu"]["auto"] == 3.0
    assert state["blank"].grades["why_relu"]["manual"] == 1.0 and state["blank"].total == 1.0


def test_a_crash_writing_nbgrader_loses_nothing(tiny_course, tmp_path, monkeypatch, capsys):
    """nbgrader's gradebook fails during the batch: the course's table has every grade, the grade
    command says so, and the next export writes them into nbgrader's gradebook."""
    import autograder.nbgrader_book as nb

    course = _fresh_course(tiny_course, tmp_path)
    subs = tmp_path / "subs"
    for who in ("dave", "erin"):  # unreadable: graded at once, no kernel
        (subs / who).mkdir(parents=True)
        (subs / who / "t_tiny.ipynb").write_text("not json")

    def broken(gb, row, st):
        raise RuntimeError("database went away")

    monkeypatch.setattr(nb, "mirror", broken)
    code, out, _ = run(capsys, "--root", course.root, "grade", "t_tiny", subs)
    assert code == 0
    assert "recorded in the course's table but not in nbgrader's gradebook" in out and "course-grader sync" in out
    assert {r["student"] for r in Gradebook(course.gradebook_path).rows("t_tiny")} == {"dave", "erin"}
    monkeypatch.undo()
    assert run(capsys, "--root", course.root, "export", "--out", tmp_path / "g.csv")[0] == 0
    state = _nbgrader_rows(course)
    assert set(state) == {"dave", "erin"} and all(s.total is None and s.flagged for s in state.values())


def test_lms_exports(graded, capsys, tmp_path):
    canvas, moodle = tmp_path / "canvas.csv", tmp_path / "moodle.csv"
    assert run(capsys, "--root", graded.root, "export", "--format", "canvas", "--out", canvas)[0] == 0
    assert run(capsys, "--root", graded.root, "export", "--format", "moodle", "--out", moodle)[0] == 0
    rows = list(csv.reader(canvas.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "t_tiny"]
    assert rows[1][0] == "Points Possible" and rows[1][5] == "8"
    by = {r[3]: r[5] for r in rows[2:]}
    assert by["carol"] == "" and by["blank"] in ("0", "1") and float(by["reference"]) >= 6
    m = {r["Username"]: r for r in csv.DictReader(moodle.open())}
    assert m["carol"]["t_tiny"] == "" and "unreadable" in m["carol"]["t_tiny feedback"]
    assert float(m["reference"]["t_tiny"]) == float(by["reference"])


def test_class_report(graded, capsys):
    code, out, err = run(capsys, "--root", graded.root, "report", "t_tiny")
    assert code == 0, err
    assert "4 submission(s): 3 graded, 1 unreadable" in out
    assert "test_relu" in out and "33%" in out
    assert "carol: unreadable: not valid JSON" in out
    assert "Time per submission" in out
    assert not [s for s in SECRETS if s in out]
    path = Path(out.strip().splitlines()[-1].split("HTML report: ")[1])
    page = path.read_text()
    assert page.count("data:image/png;base64,") == 3 and "<script" not in page and "src='http" not in page
    assert not [s for s in SECRETS if s in page]


# ---- several graders, one gradebook: a real PostgreSQL server --------------------------------------

def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


@pytest.fixture
def postgres():
    """A PostgreSQL server of its own in a temporary folder, on a free port, stopped afterwards."""
    import pwd
    import socket
    import tempfile

    bindir = _pg_bin()
    if bindir is None or not (bindir / "pg_ctl").exists():
        reason = "PostgreSQL's binaries (Debian package `postgresql`: initdb, pg_ctl) are not installed"
        if os.environ.get("COURSE_REQUIRE_POSTGRES"):
            pytest.fail(reason + " and COURSE_REQUIRE_POSTGRES is set")
        pytest.skip(reason)
    user = None
    if os.geteuid() == 0:  # the server refuses to run as root: as Debian's `postgres` user
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no `postgres` user to run the server as")
    base = Path(tempfile.mkdtemp(prefix="course-pg-", dir="/tmp"))
    if user:
        os.chown(base, user.pw_uid, user.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kw = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    data = base / "data"
    subprocess.run([bindir / "initdb", "-D", data, "-U", "grader", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, cwd=base, **kw)
    subprocess.run([bindir / "pg_ctl", "-D", data, "-l", base / "log", "-w", "-t", "60", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True, cwd=base, **kw)
    try:
        yield f"postgresql://grader@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"], capture_output=True, cwd=base, **kw)
        shutil.rmtree(base, ignore_errors=True)


def test_two_workers_grade_into_postgresql_and_formgrader_reads_it(postgres, tiny_course, tmp_path, capsys):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.release import nbgrader_config

    course = _fresh_course(tiny_course, tmp_path)
    subs = _batch(course, tmp_path)
    code, out, err = run(capsys, "--root", course.root, "--db-url", postgres, "grade", "t_tiny", subs, "--jobs", "2")
    assert code == 0, err
    assert "not in nbgrader's gradebook" not in out and "cannot be opened" not in out, out
    assert not (course.workspace / "nbgrader.db").exists()  # nothing went to the SQLite default

    cfg = nbgrader_config(course.root)
    cfg.CourseDirectory.db_url = postgres
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    with api.gradebook as gb:
        dicts = {d["student"]: d for d in gb.submission_dicts("t_tiny")}
        nbs = {d["student"]: d for d in gb.notebook_submission_dicts("t_tiny", "t_tiny")}
    assert set(dicts) == set(nbs) == {"reference", "blank", "partly_wrong", "carol"}
    assert dicts["reference"]["score"] == 6 and dicts["partly_wrong"]["score"] == 1
    assert nbs["carol"]["flagged"] and dicts["carol"]["needs_manual_grade"]
    assert {s["student"] for s in api.get_notebook_submissions("t_tiny", "t_tiny")} == set(dicts)

    # a second grader marks a written answer in the same gradebook; the export sees it
    assert run(capsys, "--root", course.root, "--db-url", postgres, "mark", "t_tiny", "reference", "why_relu", "2")[0] == 0
    out_csv = tmp_path / "g.csv"
    assert run(capsys, "--root", course.root, "--db-url", postgres, "export", "--out", out_csv)[0] == 0
    got = {r["student"]: r["total"] for r in csv.DictReader(out_csv.open())}
    assert got == {"reference": "8", "blank": "0", "partly_wrong": "1", "carol": ""}

    # two graders, each with their own course record, write into a new shared gradebook at the same
    # time (both create the assignment, its cells and students at once): nothing is lost
    import sqlite3

    import psycopg

    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("CREATE DATABASE shared")
    shared = postgres.rsplit("/", 1)[0] + "/shared"
    other = tmp_path / "grader_b"
    other.mkdir()
    shutil.copy(course.gradebook_path, other / "gradebook.db")
    with sqlite3.connect(other / "gradebook.db") as db:
        db.execute("UPDATE results SET student = student || '_b'")
    procs = [subprocess.Popen([sys.executable, "-m", "autograder", "--root", str(course.root), *ws, "--db-url", shared,
                               "sync", "t_tiny"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for ws in ([], ["--workspace", str(other)])]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    from nbgrader.api import Gradebook as NbGradebook

    from autograder.nbgrader_book import COURSE_ID, read_state

    with NbGradebook(shared, course_id=COURSE_ID) as gb:
        both = read_state(gb, "t_tiny")
    assert set(both) == {s for s in got} | {f"{s}_b" for s in got}
    assert both["reference_b"].grades["test_relu"]["auto"] == 3.0 and both["carol_b"].total is None


def test_export_without_nbgrader_still_writes_the_course_record(graded, capsys, tmp_path):
    away = "postgresql://grader:pw@127.0.0.1:1/none"
    out = tmp_path / "g.csv"
    code, _, err = run(capsys, "--root", graded.root, "--db-url", away, "export", "--out", out)
    assert code == 0 and "autograded scores only" in err and "pw" not in err
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["reference"]["score"] == "6" and rows["reference"]["total"] == "" and rows["carol"]["score"] == ""
    code, _, err = run(capsys, "--root", graded.root, "--db-url", away, "export", "--format", "canvas", "--out", out)
    assert code == 2 and err.startswith("course-grader: error: cannot open nbgrader's gradebook") and ":***@" in err


@pytest.mark.parametrize("given, env, workspace, expect", [
    ("postgresql://a/b", "postgresql://env/x", None, "postgresql://a/b"),
    (None, "postgresql://env/x", None, "postgresql://env/x"),
    (None, "postgresql://env/x", "scratch", "sqlite:///"),   # an audit's scratch workspace never shares
    (None, None, None, "sqlite:///"),
])
def test_where_nbgrader_gradebook_is(monkeypatch, tmp_path, given, env, workspace, expect):
    if env:
        monkeypatch.setenv("COURSE_DB_URL", env)
    else:
        monkeypatch.delenv("COURSE_DB_URL", raising=False)
    course = Course(tmp_path, workspace_dir=tmp_path / workspace if workspace else None, db_url=given)
    assert course.nbgrader_db_url.startswith(expect)
    if expect == "sqlite:///":
        assert course.nbgrader_db_url == "sqlite:///" + str(course.workspace / "nbgrader.db")


# ---- regressions from the review of nbgrader_book ---------------------------------------------------

def test_a_renamed_graded_cell_leaves_no_stale_cell_in_nbgrader(tiny_course, tmp_path, capsys):
    """A graded cell renamed in the source (rebuilt, released) is removed from nbgrader's gradebook:
    the totals of a student graded before the rename and of one graded after are their course scores
    (the stale cell made one total empty and the other more than the maximum)."""
    from autograder.examples import reference
    from autograder.release import build, release

    course = _fresh_course(tiny_course, tmp_path)
    subs = tmp_path / "subs"
    (subs / "before").mkdir(parents=True)
    nbformat.write(reference(course, "t_tiny"), subs / "before" / "t_tiny.ipynb")
    assert run(capsys, "--root", course.root, "grade", "t_tiny", subs)[0] == 0
    shutil.rmtree(subs)

    script = course.root / "solutions" / "t_tiny" / "t_tiny.py"
    script.write_text(script.read_text().replace("id=test_count_positive", "id=test_count_pos"))
    build(course, "t_tiny")
    release(course, "t_tiny")
    (subs / "after").mkdir(parents=True)
    nbformat.write(reference(course, "t_tiny"), subs / "after" / "t_tiny.ipynb")
    assert run(capsys, "--root", course.root, "grade", "t_tiny", subs)[0] == 0

    out = tmp_path / "g.csv"
    code, _, err = run(capsys, "--root", course.root, "export", "--out", out)
    assert code == 0, err
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert {s: (r["score"], r["total"]) for s, r in rows.items()} == {"before": ("6", "6"), "after": ("6", "6")}
    state = _nbgrader_rows(course)
    assert all("test_count_positive" not in s.grades for s in state.values())


def _formgrade_page(course: Course, student: str) -> str:
    """The page formgrader renders for one submission (its `formgrade` template, as in
    test_formgrader_lists_and_renders_every_submission)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    cfg = Config()
    cfg.HTMLExporter.template_name = "formgrade"
    cfg.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    path = course.autograded / student / "t_tiny" / "t_tiny.ipynb"
    page, _ = HTMLExporter(config=cfg).from_filename(str(path), resources={
        "assignment_id": "t_tiny", "notebook_id": "t_tiny", "submission_id": "x", "index": 0, "total": 1,
        "base_url": "", "student": student, "last_name": None, "first_name": None, "notebook_path": "x"})
    return page


def test_formgrader_notebook_carries_no_active_content_from_the_submission(tiny_course, tmp_path, capsys):
    """Formgrader shows the graded notebook in the instructor's logged-in Jupyter: the student's
    JavaScript and HTML outputs, written answers and names quoted in flags are made inert there, as
    in the student's feedback."""
    from autograder.assemble import nbg
    from autograder.examples import reference

    course = _fresh_course(tiny_course, tmp_path)
    nb = reference(course, "t_tiny")
    for cell in nb.cells:
        gid = nbg(cell).get("grade_id")
        if gid == "double":
            cell.source = ("from IPython.display import HTML, Javascript, display\n"
                           "display(Javascript(\"alert('student-js')\"))\n"
                           "display(HTML(\"<img src=x onerror=alert(1)><a href='javascript:alert(2)'>x</a>"
                           "<script>alert(3)</script>\"))\n" + cell.source)
        elif gid == "why_relu":
            cell.source = "<script>alert(4)</script> ReLU <img src=x onerror=alert(5)>"
    extra = nbformat.v4.new_code_cell("pass")
    extra.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": False, "points": 0,
                                  "grade_id": "<script>alert(6)</script><img src=x onerror=alert(7)>"}
    nb.cells.append(extra)
    subs = tmp_path / "subs"
    (subs / "mallory").mkdir(parents=True)
    nbformat.write(nb, subs / "mallory" / "t_tiny.ipynb")
    assert run(capsys, "--root", course.root, "grade", "t_tiny", subs)[0] == 0
    row = Gradebook(course.gradebook_path).rows("t_tiny")[0]
    assert row["score"] == 6 and any("added grade cell" in f for f in row["flags"]), row

    from bs4 import BeautifulSoup

    page = _formgrade_page(course, "mallory")
    assert "ReLU" in page and "added grade cell" in page   # the content is there, made inert
    soup = BeautifulSoup(page, "html.parser")
    assert not [s for s in soup.find_all("script") if "alert" in s.get_text()]
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            value = " ".join(value) if isinstance(value, list) else str(value)
            assert not (attr.startswith("on") and "alert" in value), tag
            assert "javascript:" not in value.lower(), tag
    assert not soup.find_all(["img", "iframe", "object", "embed"], src="x")


def test_sync_keeps_a_flag_removed_in_formgrader_until_a_new_grading(tiny_course, tmp_path, capsys):
    """A person who unflags a submission in formgrader has decided: a sync (export, mark, report)
    does not flag it again; a new grading of it does."""
    from nbgrader.api import Gradebook as NbGradebook

    from autograder.nbgrader_book import COURSE_ID

    course = _fresh_course(tiny_course, tmp_path)
    subs = tmp_path / "subs"
    (subs / "dave").mkdir(parents=True)
    (subs / "dave" / "t_tiny.ipynb").write_text("not json")   # unreadable: flagged, graded without a kernel
    assert run(capsys, "--root", course.root, "grade", "t_tiny", subs)[0] == 0
    assert _nbgrader_rows(course)["dave"].flagged

    with NbGradebook(course.nbgrader_db_url, course_id=COURSE_ID) as gb:   # formgrader's toggle
        gb.find_submission_notebook("t_tiny", "t_tiny", "dave").flagged = False
        gb.db.commit()
    assert run(capsys, "--root", course.root, "sync", "t_tiny")[0] == 0
    assert run(capsys, "--root", course.root, "export", "--out", tmp_path / "g.csv")[0] == 0
    assert not _nbgrader_rows(course)["dave"].flagged

    (subs / "dave" / "t_tiny.ipynb").write_text("still not json")
    assert run(capsys, "--root", course.root, "grade", "t_tiny", subs)[0] == 0
    assert _nbgrader_rows(course)["dave"].flagged


def _copy_of(graded: Course, tmp_path: Path) -> Course:
    """The graded fixture course with its workspace (both gradebooks), to change without touching it."""
    shutil.copytree(graded.root, tmp_path / "course")
    return Course(tmp_path / "course")


def test_a_failed_formgrader_notebook_write_is_repaired_at_the_next_sync(graded, tmp_path, monkeypatch, capsys):
    """The formgrader notebook is written whole (a temporary file renamed) and before nbgrader's
    gradebook commits: a write that fails leaves the old mirror, so the next sync writes both."""
    import sqlite3

    course = _copy_of(graded, tmp_path)
    with sqlite3.connect(course.gradebook_path) as db:   # a newer grading of reference in the course's table
        db.execute("UPDATE results SET graded_at = graded_at + 1 WHERE student = 'reference'")
    new = Gradebook(course.gradebook_path).rows("t_tiny")
    stamp = repr(next(r["graded_at"] for r in new if r["student"] == "reference"))
    path = course.autograded / "reference" / "t_tiny" / "t_tiny.ipynb"

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(nbformat, "write", broken)
    code, out, _ = run(capsys, "--root", course.root, "sync", "t_tiny")
    assert code == 1 and "disk full" in out, out
    monkeypatch.undo()
    assert stamp not in path.read_text() and not list(path.parent.glob("*.tmp"))
    code, out, _ = run(capsys, "--root", course.root, "sync", "t_tiny")
    assert code == 0 and "1 updated" in out, out
    assert stamp in path.read_text()


def test_mark_says_when_the_sync_before_it_failed(graded, tmp_path, monkeypatch, capsys):
    import autograder.nbgrader_book as nb
    from nbgrader.api import Gradebook as NbGradebook

    course = _copy_of(graded, tmp_path)
    with NbGradebook(course.nbgrader_db_url, course_id=nb.COURSE_ID) as gb:   # drift: sync rewrites it
        gb.find_grade("test_relu", "t_tiny", "t_tiny", "reference").auto_score = 0.0
        gb.db.commit()

    def broken(gb, row, st):
        raise RuntimeError("database went away")

    monkeypatch.setattr(nb, "mirror", broken)
    code, _, err = run(capsys, "--root", course.root, "mark", "t_tiny", "blank", "why_relu", "1")
    assert code == 0
    assert "nbgrader gradebook not updated: t_tiny/reference: RuntimeError: database went away" in err, err


def test_report_mean_counts_only_its_own_students(graded, tmp_path):
    """In a shared gradebook, another grader's students are not in this report's class mean."""
    import warnings

    from nbgrader.api import Gradebook as NbGradebook

    from autograder.nbgrader_book import COURSE_ID, load_structure
    from autograder.report import build_report

    course = _copy_of(graded, tmp_path)
    with NbGradebook(course.nbgrader_db_url, course_id=COURSE_ID) as gb:   # another grader's student, 8/8
        gb.add_student("zoe_elsewhere")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gb.add_submission("t_tiny", "zoe_elsewhere")
        for name, (points, kind) in load_structure(course, "t_tiny").grade_cells.items():
            g = gb.find_grade(name, "t_tiny", "t_tiny", "zoe_elsewhere")
            g.auto_score, g.manual_score = (points, None) if kind == "code" else (None, points)
        gb.db.commit()
    report = build_report(course, "t_tiny")
    assert set(report.totals) == {"reference", "blank", "partly_wrong", "carol"}
    assert "zoe_elsewhere" not in report.text()


def test_a_stale_cell_with_a_persons_mark_is_not_deleted(graded, tmp_path):
    """A graded cell gone from the source but marked by a person: one clear line, nothing deleted."""
    import dataclasses

    from nbgrader.api import Gradebook as NbGradebook

    from autograder.course import CourseError
    from autograder.nbgrader_book import COURSE_ID, ensure_assignment, load_structure

    course = _copy_of(graded, tmp_path)
    st = load_structure(course, "t_tiny")
    gone = dataclasses.replace(st, grade_cells={k: v for k, v in st.grade_cells.items() if k != "why_relu"},
                               solution_cells=[c for c in st.solution_cells if c != "why_relu"])
    with NbGradebook(course.nbgrader_db_url, course_id=COURSE_ID) as gb:
        gb.find_grade("why_relu", "t_tiny", "t_tiny", "blank").manual_score = 1.0
        gb.db.commit()
        with pytest.raises(CourseError) as err:
            ensure_assignment(gb, gone)
        assert "'why_relu'" in str(err.value) and "\n" not in str(err.value)
        assert gb.find_grade("why_relu", "t_tiny", "t_tiny", "blank").manual_score == 1.0
        for student in _nbgrader_rows(course):   # (earlier tests in this module mark why_relu too)
            gb.find_grade("why_relu", "t_tiny", "t_tiny", student).manual_score = None
            gb.find_comment("why_relu", "t_tiny", "t_tiny", student).manual_comment = None
        gb.db.commit()
        ensure_assignment(gb, gone)   # no person's mark on it: removed with its grades and comments
    assert all("why_relu" not in s.grades and "why_relu" not in s.comments for s in _nbgrader_rows(course).values())
