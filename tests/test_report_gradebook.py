"""The class report and the course's gradebook against hostile or damaged input: a failure message
that quotes a hidden-test line with digits, terminal escape codes in an exception's message raised
by student code, and a gradebook.db that is not a database. No grading run: synthetic rows."""
from __future__ import annotations

import pytest

from autograder.cli import main
from autograder.course import CourseError
from autograder.report import Report

HIDDEN = "assert abs(sigmoid(3.0) - 0.9526) < 1e-4"


def row(student: str, error: str) -> dict:
    test = {"grade_id": "test_sigmoid", "points": 2.0, "outcome": "failed", "visible_error": error,
            "hidden_failed": False}
    return {"assignment": "a", "student": student, "status": "graded", "score": 0.0, "max_score": 2.0,
            "manual_max": 0.0, "reason": "", "flags": [], "detail": {"tests": [test], "seconds": 1.0}}


def test_a_message_quoting_a_hidden_line_with_digits_is_withheld(tmp_path):
    """The hidden line is looked for before numbers are masked: masked first, it never matched."""
    report = Report("a", [row("ann", f"AssertionError: {HIDDEN}\n  more"), row("bob", "ValueError: shape 3")],
                    secrets={HIDDEN})
    text = report.text()
    masked = "assert abs(sigmoid(#) - #) < #"
    assert HIDDEN not in text and masked not in text
    assert "message withheld" in text and "ValueError: shape #" in text
    page = report.write_html(tmp_path / "r.html").read_text()
    assert HIDDEN not in page and masked not in page and "message withheld" in page


def test_the_last_check_of_the_html_report_sees_through_masked_numbers(tmp_path, monkeypatch):
    """If the message filter ever let a hidden line through, the last check before writing the page
    must still stop it, though the page only holds its number-masked copy."""
    report = Report("a", [row("ann", f"AssertionError: {HIDDEN}")], secrets={HIDDEN})
    monkeypatch.setattr(Report, "_safe", lambda self, text: text)
    with pytest.raises(CourseError, match="would quote hidden-test text"):
        report.write_html(tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_escape_codes_in_a_student_exception_do_not_reach_the_terminal(tmp_path):
    report = Report("a", [row("ann", "RuntimeError: \x1b[H\x1b[Jall tests passed\x07")])
    text = report.text()
    assert not [c for c in text if not c.isprintable() and c != "\n"], repr(text)
    assert "RuntimeError: \\x1b[H\\x1b[Jall tests passed\\x07" in text
    assert "\x1b" not in report.html()


@pytest.mark.parametrize("command", [["status"], ["export", "--out", "grades.csv"]])
def test_a_corrupt_gradebook_is_one_clear_line(tmp_path, capsys, monkeypatch, command):
    (tmp_path / "gradebook.db").write_bytes(b"this is not SQLite, just junk bytes\n" * 200)
    monkeypatch.chdir(tmp_path)
    code = main(["--workspace", str(tmp_path), *command])
    out, err = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "is not a readable gradebook" in lines[0] and "gradebook.db" in lines[0], err
