"""Feedback for students: their notebook as graded, with nothing of the hidden tests in it.

From the executed (autograded) notebook: each hidden part of a test becomes one sentence ("hidden
tests: passed" or "failed"), with no source, output or traceback. Nothing the submission's code
could write once it was being tested reaches the student: outputs of every cell that ran after the
first test began are left out (the test results themselves come from the grader's trusted process),
JavaScript outputs are dropped, and the submission's markdown and HTML are sanitised (bleach).
Every remaining output is still scanned for lines of hidden-test source, and before anything is
written the rendered HTML is scanned once more: a leak stops the write with an error.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

from autograder.assemble import nbg, split_hidden


class LeakError(RuntimeError):
    """Feedback would have contained hidden-test text; nothing was written."""


def secret_lines(source: nbformat.NotebookNode, release: nbformat.NotebookNode) -> set[str]:
    """Lines of hidden tests that appear nowhere in the student's notebook, not even inside a longer
    line (so are secret). Comments and lines under 12 characters are too generic to count."""
    public = "\n".join(c.source for c in release.cells)
    secrets_: set[str] = set()
    for c in source.cells:
        if c.cell_type == "code" and nbg(c).get("grade"):
            _, hidden = split_hidden(c.source)
            for ln in hidden.splitlines():
                s = ln.strip()
                if len(s) >= 12 and s not in public and not s.startswith("#"):
                    secrets_.add(s)
    return secrets_


STUDENT_ROLES = ("answer", "student-extra", "written")


def secrets_for(graded: nbformat.NotebookNode, source: nbformat.NotebookNode,
                release: nbformat.NotebookNode, lines: set[str] | None = None) -> set[str]:
    """The secret lines for one graded notebook: a line the student wrote in their own answers is
    theirs to see (a correct answer can share a line with a hidden test), so it is not withheld."""
    own = "\n".join(c.source for c in graded.cells if c.metadata.get("grader", {}).get("role") in STUDENT_ROLES)
    return {s for s in (secret_lines(source, release) if lines is None else lines) if s not in own}


def _leaks(text: str, secrets_: set[str]) -> bool:
    return any(s in text for s in secrets_)


def _output_text(o) -> str:
    parts = [o.get("text", ""), o.get("ename", ""), o.get("evalue", ""), "\n".join(o.get("traceback", []))]
    for v in (o.get("data") or {}).values():
        if isinstance(v, str):
            parts.append(v)
    return "\n".join(parts)


ACTIVE_MIME = re.compile(r"javascript|ecmascript|jupyter\.widget|vnd\.plotly|bokeh|vega", re.I)
WITHHELD = "*Outputs of cells that ran after testing began are not shown in feedback.*"


SAFE_TAGS = {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
             "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table",
             "tbody", "td", "th", "thead", "tr", "ul"}


def sanitise(text: str) -> str:
    """HTML (or markdown holding HTML) written by a submission, with only inert tags left: no
    script, no event handlers, no images or frames that load anything (bleach)."""
    import bleach

    return bleach.clean(str(text), tags=SAFE_TAGS, attributes={"a": ["title"], "td": ["align"], "th": ["align"]},
                        protocols=[], strip=True)


def clean_output(o):
    """An output without active content (JavaScript, widget views, SVG), its HTML sanitised; None
    if nothing is left."""
    if o.get("output_type") in ("display_data", "execute_result"):
        data = {}
        for k, v in (o.get("data") or {}).items():
            if ACTIVE_MIME.search(k) or k == "image/svg+xml":
                continue
            data[k] = sanitise(v if isinstance(v, str) else "".join(v)) if k in ("text/html", "text/markdown") else v
        if not data:
            return None
        o = nbformat.from_dict({**o, "data": data, "metadata": {}})
    return o


def student_view(graded: nbformat.NotebookNode, secrets_: set[str]) -> nbformat.NotebookNode:
    meta = graded.metadata.get("grader", {})
    score = meta.get("score", {})
    results = {t["grade_id"]: t for t in score.get("tests", [])}
    out = nbformat.v4.new_notebook(metadata={k: v for k, v in graded.metadata.items()
                                             if k in ("kernelspec", "language_info")})
    out.cells.append(nbformat.v4.new_markdown_cell(_summary(meta.get("assignment", ""), meta.get("student", ""), score)))
    testing = False
    for cell in graded.cells:
        role = cell.metadata.get("grader", {})
        kind = role.get("role")
        if kind == "test" and role.get("part") == "hidden":
            t = results.get(role["grade_id"], {})
            verdict = "not run" if t.get("outcome") == "not-run" else ("failed" if t.get("hidden_failed") else "passed")
            out.cells.append(nbformat.v4.new_markdown_cell(f"*Hidden tests for `{role['grade_id']}`: {verdict}.*"))
            continue
        if cell.cell_type == "markdown":
            # a written answer is the student's; the rest is the instructor's source
            new = nbformat.v4.new_markdown_cell(sanitise(cell.source) if kind == "written" else cell.source)
        elif cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source)
            if kind == "test" or not testing:
                # a test's outputs were written by the grader's trusted process; before the first
                # test, the student's code had seen nothing of the tests
                kept = []
                for o in cell.get("outputs", []):
                    o = clean_output(o)
                    if o is None:
                        continue
                    if _leaks(_output_text(o), secrets_):
                        o = nbformat.v4.new_output("stream", name="stderr",
                                                   text="[output withheld by the grader: it contained hidden-test text]\n")
                    kept.append(o)
                new.outputs = kept
            elif cell.get("outputs"):
                if not any(c.cell_type == "markdown" and c.source == WITHHELD for c in out.cells):
                    out.cells.append(nbformat.v4.new_markdown_cell(WITHHELD))
        else:
            continue
        if kind == "test":
            testing = True
            t = results.get(role["grade_id"], {})
            out.cells.append(nbformat.v4.new_markdown_cell(
                f"**`{role['grade_id']}`: {t.get('earned', 0):g} / {t.get('points', 0):g} points ({t.get('outcome', '?')})**"))
        out.cells.append(new)
    return out


def _summary(assignment: str, student: str, score: dict) -> str:
    shown = "no score" if score.get("score") is None else f"{score['score']:g} / {score['max_score']:g}"
    lines = [f"# Feedback: {assignment}", "", f"**Student:** {student}  ", f"**Status:** {score.get('status')}  ",
             f"**Autograded score:** {shown}" + (f" (plus {score['manual_max']:g} points graded by hand)" if score.get("manual_max") else "")]
    if score.get("reason"):
        lines.append(f"\n**Note:** {escape_markdown(score['reason'])}")
    for f in score.get("flags", []):
        lines.append(f"\n- {escape_markdown(f)}")
    lines += ["", "| test | points | result |", "| --- | --- | --- |"]
    for t in score.get("tests", []):
        lines.append(f"| `{t['grade_id']}` | {t['earned']:g} / {t['points']:g} | {t['outcome']} |")
    return "\n".join(lines)


def escape_markdown(text: str) -> str:
    """Text for markdown with no markup of its own (flags quote names from the submission)."""
    return re.sub(r"([\\`*_{}\[\]()#+!|~-])", r"\\\1", html.escape(str(text), quote=False))


def render(graded: nbformat.NotebookNode, out_path: Path, source: nbformat.NotebookNode,
           release: nbformat.NotebookNode, lines: set[str] | None = None) -> Path:
    """Write the HTML feedback for one graded notebook (from the gradebook); raise LeakError rather
    than write a leak."""
    from nbconvert import HTMLExporter

    secrets_ = secrets_for(graded, source, release, lines)
    view = student_view(graded, secrets_)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(view)
    plain = html.unescape(body)
    leaked = [s for s in secrets_ if s in plain]
    if leaked:
        who = graded.metadata.get("grader", {}).get("student", "?")
        raise LeakError(f"feedback for {who} would contain hidden-test text "
                        f"({leaked[0][:40]!r}...); not written")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(body, encoding="utf-8")
    return out_path
