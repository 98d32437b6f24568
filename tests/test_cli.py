"""Bad input to the grade command gets one clear line that says what to do, never a traceback."""
from __future__ import annotations

import zipfile

import pytest

from autograder.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *words: str):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("course-grader: error:"), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_missing_submissions_folder(capsys, tiny_course, tmp_path):
    code, _, err = run(capsys, "--root", str(tiny_course.root), "grade", "t_tiny", str(tmp_path / "nope"))
    assert code == 2
    assert_one_line_error(err, "does not exist", "folder (or .zip)")


def test_unknown_assignment_suggests_the_close_one(capsys, tiny_course, tmp_path):
    code, _, err = run(capsys, "--root", str(tiny_course.root), "grade", "t_tinny", str(tmp_path))
    assert code == 2
    assert_one_line_error(err, "no assignment 't_tinny'", "Did you mean 't_tiny'?")


def test_assignment_that_does_not_exist(capsys, tiny_course, tmp_path):
    code, _, err = run(capsys, "--root", str(tiny_course.root), "release", "m9_nothing")
    assert code == 2
    assert_one_line_error(err, "no assignment 'm9_nothing'", "Known assignments: t_tiny")


def test_not_a_course_folder(capsys, tmp_path):
    code, _, err = run(capsys, "--root", str(tmp_path), "status")
    assert code == 2
    assert_one_line_error(err, "is not a course folder")


def test_corrupt_zip(capsys, tiny_course, tmp_path):
    bad = tmp_path / "subs.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    code, _, err = run(capsys, "--root", str(tiny_course.root), "grade", "t_tiny", str(bad))
    assert code == 2
    assert_one_line_error(err, "not a valid zip file")


def test_empty_folder_says_what_layout_is_expected(capsys, tiny_course, tmp_path):
    code, _, err = run(capsys, "--root", str(tiny_course.root), "grade", "t_tiny", str(tmp_path))
    assert code == 2
    assert_one_line_error(err, "no submissions", "<student>/t_tiny.ipynb")


def test_malformed_module_script(capsys, tiny_course):
    script = tiny_course.script("t_tiny")
    good = script.read_text()
    try:
        script.write_text(good.replace("# %% solution id=relu", "# %% solutoin id=relu"))
        code, _, err = run(capsys, "--root", str(tiny_course.root), "build", "t_tiny", "--no-execute")
    finally:
        script.write_text(good)
    assert code == 2
    assert_one_line_error(err, "t_tiny.py:", "unknown cell kind 'solutoin'")


def test_feedback_before_grading(capsys, tmp_path, tiny_course):
    import shutil

    root = tmp_path / "fresh"
    shutil.copytree(tiny_course.root, root, ignore=shutil.ignore_patterns("workspace"))
    code, _, err = run(capsys, "--root", str(root), "feedback", "t_tiny")
    assert code == 2
    assert_one_line_error(err, "nothing graded", "course-grader grade t_tiny")


@pytest.mark.notebooks
def test_zip_with_stray_files_grades_the_rest(capsys, tiny_course, tmp_path):
    from autograder.examples import write_examples

    paths = write_examples(tiny_course, "t_tiny", tmp_path / "made")
    z = tmp_path / "batch.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(paths["reference"], "export/alice/t_tiny.ipynb")
        zf.writestr("export/__MACOSX/._alice", b"junk")
        zf.writestr("export/readme.txt", "hello")
        zf.writestr("export/bob/t_tiny.ipynb", "{not json")
        zf.writestr("../escape.ipynb", "{}")
    code, out, err = run(capsys, "--root", str(tiny_course.root), "grade", "t_tiny", str(z))
    assert code == 0, err
    assert "ignored: readme.txt: not a notebook" in out
    rows = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith(("alice ", "bob "))}
    assert "graded" in rows["alice"] and "6/6" in rows["alice"]
    assert "unreadable" in rows["bob"] and "not valid JSON" in rows["bob"]


def _crc_zip(tmp_path, good: bytes):
    z = tmp_path / "crc.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("alice/t_tiny.ipynb", good)
        zf.writestr("bob/t_tiny.ipynb", good)
    data = bytearray(z.read_bytes())
    second = data.find(good, data.find(good) + len(good))
    data[second + len(good) // 2] ^= 0xFF
    z.write_bytes(bytes(data))
    return z


def test_corrupt_zip_entry_fails_only_its_submission(tmp_path):
    from autograder import intake

    good = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    batch = intake.load(_crc_zip(tmp_path, good), "t_tiny", tmp_path / "x")
    subs = {s.student: s for s in batch.submissions}
    assert subs["alice"].unreadable is None
    assert "corrupt" in subs["bob"].unreadable


def test_links_are_refused_with_a_reason(tmp_path):
    from autograder import intake

    secret = tmp_path / "secret.ipynb"
    secret.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    root = tmp_path / "subs"
    (root / "carol").mkdir(parents=True)
    (root / "carol" / "t_tiny.ipynb").symlink_to(secret)
    (root / "dave").symlink_to(tmp_path, target_is_directory=True)
    (root / "erin.ipynb").symlink_to(secret)
    batch = intake.load(root, "t_tiny", tmp_path / "x")
    subs = {s.student: s for s in batch.submissions}
    for name in ("carol", "dave", "erin"):
        assert subs[name].notebook is None and "link" in subs[name].unreadable, subs[name]


def test_file_names_are_printed_escaped(tmp_path):
    from autograder import intake

    root = tmp_path / "subs"
    (root / "frank").mkdir(parents=True)
    (root / "frank" / "t_tiny.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    (root / "frank" / "\x1b[2Jnotes.txt").write_text("hi")
    batch = intake.load(root, "t_tiny", tmp_path / "x")
    assert batch.ignored and all("\x1b" not in line for line in batch.ignored), batch.ignored
    assert any("\\x1b[2Jnotes.txt" in line for line in batch.ignored)


def test_more_workers_than_cores_is_refused(capsys, tiny_course, tmp_path):
    import os

    cores = len(os.sched_getaffinity(0))
    code, _, err = run(capsys, "--root", str(tiny_course.root), "grade", "t_tiny", str(tmp_path), "--jobs", str(cores + 1))
    assert code == 2
    assert_one_line_error(err, "more than the", "cores")
