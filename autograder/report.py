"""The class report: how a whole class did on one assignment, from what the grader recorded.

Score distribution, the pass rate of every test, the most frequent failure messages with how many
students hit each, the submissions that could not be graded (and why), and the time each
submission took; as plain text for the terminal and as one self-contained HTML page (matplotlib
figures embedded as PNG).

Failure messages come only from the course's record: the message of a test's *visible* part
(which students see in their own notebook), "hidden tests failed" for a hidden part (never its
text), "not run" for a test after a time-out or a dead kernel. Any message that still contains a
line of hidden-test source (``feedback.secret_lines``) is withheld.
"""
from __future__ import annotations

import base64
import html
import io
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import Course, CourseError
from autograder.intake import shown

WITHHELD = "[message withheld: it quotes hidden-test text]"
NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def message_key(text: str) -> str:
    """A failure message with its numbers masked, so the same mistake with other values counts once.
    The message comes from student code (an exception's text): control characters are escaped so
    no terminal escape code reaches the instructor's terminal."""
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return shown(NUMBER.sub("#", first))[:160]   # masked first: the escapes shown() writes keep their digits


@dataclass
class Report:
    assignment: str
    rows: list[dict]
    totals: dict = field(default_factory=dict)      # student -> total incl. written marks (nbgrader), or None
    secrets: set = field(default_factory=set)

    # ---- figures -------------------------------------------------------------------------------
    @property
    def scored(self) -> list[dict]:
        return [r for r in self.rows if r["score"] is not None]

    @property
    def max_score(self) -> float:
        return max((r["max_score"] for r in self.rows), default=0.0)

    def pass_rates(self) -> list[tuple[str, float, int, int, int]]:
        """(test, points, passed, failed, not run) over the submissions that have a score."""
        order: list[str] = []
        counts: dict[str, Counter] = defaultdict(Counter)
        points: dict[str, float] = {}
        for r in self.scored:
            for t in r["detail"].get("tests", []):
                if t["grade_id"] not in points:
                    order.append(t["grade_id"])
                    points[t["grade_id"]] = t["points"]
                counts[t["grade_id"]][t["outcome"]] += 1
        return [(g, points[g], counts[g]["passed"], counts[g]["failed"] + counts[g]["tampered"], counts[g]["not-run"])
                for g in order]

    def _safe(self, text: str) -> str:
        if any(s in text for s in self.secrets):
            return WITHHELD
        return text

    @staticmethod
    def _unanswered(t: dict) -> bool:
        return (t.get("visible_error") or "").lstrip().startswith("NotImplementedError")

    def unanswered(self) -> list[tuple[str, int]]:
        """(test, students) whose answer was left as the stub (NotImplementedError)."""
        c = Counter(t["grade_id"] for r in self.scored for t in r["detail"].get("tests", [])
                    if t["outcome"] != "passed" and self._unanswered(t))
        return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))

    def _messages(self):
        """(student, test, message as the report shows it, the unmasked text it quotes or None) for
        every failed test; answers left as the stub are counted apart (``unanswered``)."""
        for r in self.scored:
            for t in r["detail"].get("tests", []):
                if t["outcome"] == "passed" or self._unanswered(t):
                    continue
                quoted = None
                if t["outcome"] == "not-run":
                    msg = "not run (the notebook stopped earlier: " + r["status"] + ")"
                elif t.get("visible_error"):
                    # Hidden lines are looked for in the raw text: masking numbers first hides them.
                    msg = message_key(self._safe(t["visible_error"]))
                    quoted = None if msg == WITHHELD else t["visible_error"]
                elif t.get("hidden_failed"):
                    msg = "hidden tests failed (visible checks passed)"
                else:
                    msg = t["outcome"]
                yield r["student"], t["grade_id"], msg, quoted

    def failures(self, top: int = 10) -> list[tuple[str, str, int, list[str]]]:
        """(test, message, students, some of them) for the most frequent failure messages; answers
        left as the stub are counted apart (``unanswered``)."""
        hits: dict[tuple[str, str], set] = defaultdict(set)
        for student, grade_id, msg, _ in self._messages():
            hits[(grade_id, msg)].add(student)
        ranked = sorted(hits.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return [(g, m, len(s), sorted(s)[:5]) for (g, m), s in ranked[:top]]

    def not_graded(self) -> list[dict]:
        return [r for r in self.rows if r["score"] is None]

    def seconds(self) -> list[float]:
        return [float(r["detail"].get("seconds") or 0.0) for r in self.rows if r["score"] is not None]

    # ---- text ----------------------------------------------------------------------------------
    def text(self) -> str:
        out = [f"Class report: {self.assignment}", "=" * (14 + len(self.assignment))]
        statuses = Counter(r["status"] for r in self.rows)
        out.append(f"{len(self.rows)} submission(s): " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
        scores = [r["score"] for r in self.scored]
        if scores:
            out.append(f"autograded score (of {self.max_score:g}): mean {statistics.mean(scores):.4g}, "
                       f"median {statistics.median(scores):.4g}, min {min(scores):g}, max {max(scores):g}")
            out.append("distribution: " + "  ".join(f"{lo:g}-{hi:g}: {n}" for lo, hi, n in self.bins(scores)))
        totals = [t for t in self.totals.values() if t is not None]
        manual = max((r["manual_max"] for r in self.rows), default=0.0)
        if manual:
            out.append(f"with written answers (of {self.max_score + manual:g}, answers not yet marked count 0): "
                       + (f"mean {statistics.mean(totals):.4g}" if totals else "no totals yet"))
        out += ["", "Pass rate per test (over submissions with a score):",
                f"  {'test':<28} {'points':>6} {'passed':>7} {'failed':>7} {'not run':>8}  rate"]
        for g, pts, ok, bad, nr in self.pass_rates():
            n = ok + bad + nr
            out.append(f"  {g:<28} {pts:>6g} {ok:>7} {bad:>7} {nr:>8}  {ok / n:.0%}" if n else f"  {g:<28}")
        fails = self.failures()
        out += ["", "Most frequent failures (students who hit each):"]
        out += [f"  {n:>3} x {g}: {m}" for g, m, n, _ in fails] or ["  none"]
        blank = self.unanswered()
        if blank:
            out += ["", "Left unanswered (the stub raised NotImplementedError), students per test:",
                    "  " + ", ".join(f"{g} {n}" for g, n in blank)]
        ng = self.not_graded()
        out += ["", f"Could not be graded ({len(ng)}; no score, not 0):"]
        out += [f"  {r['student']}: {r['status']}: {shown(str(r['reason']))}" for r in ng] or ["  none"]
        secs = self.seconds()
        if secs:
            out += ["", f"Time per submission (wall seconds of the sandboxed run): mean {statistics.mean(secs):.3g}, "
                        f"median {statistics.median(secs):.3g}, max {max(secs):.3g} "
                        f"({max(self.scored, key=lambda r: r['detail'].get('seconds') or 0)['student']})"]
        return "\n".join(out)

    def bins(self, scores: list[float], n: int = 5) -> list[tuple[float, float, int]]:
        top = self.max_score or max(scores) or 1.0
        edges = [top * i / n for i in range(n + 1)]
        counts = [0] * n
        for s in scores:
            counts[min(n - 1, int(s / top * n)) if top else 0] += 1
        return [(round(edges[i], 3), round(edges[i + 1], 3), counts[i]) for i in range(n)]

    # ---- HTML ----------------------------------------------------------------------------------
    def figures(self) -> dict[str, str]:
        """name -> PNG as base64 (matplotlib, Agg)."""
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt

        figs = {}

        def png(fig) -> str:
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
            plt.close(fig)
            return base64.b64encode(buf.getvalue()).decode("ascii")

        scores = [r["score"] for r in self.scored]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(scores, bins=min(20, max(5, len(set(scores)))), range=(0, self.max_score or 1), color="#4472c4")
        ax.set_xlabel(f"autograded score (of {self.max_score:g})")
        ax.set_ylabel("students")
        ax.set_title(f"{self.assignment}: score distribution ({len(scores)} graded)")
        figs["scores"] = png(fig)

        rates = self.pass_rates()
        fig, ax = plt.subplots(figsize=(6, 0.35 * max(3, len(rates)) + 1))
        names = [g for g, *_ in rates][::-1]
        vals = [ok / max(1, ok + bad + nr) for _, _, ok, bad, nr in rates][::-1]
        ax.barh(names, vals, color="#70ad47")
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of graded submissions that passed")
        ax.set_title("pass rate per test")
        figs["pass_rates"] = png(fig)

        secs = self.seconds()
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(secs, bins=min(20, max(5, len(secs))), color="#ed7d31")
        ax.set_xlabel("seconds per submission")
        ax.set_ylabel("submissions")
        ax.set_title("time per submission")
        figs["seconds"] = png(fig)
        return figs

    def html(self) -> str:
        e = html.escape
        figs = self.figures()
        parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report: {e(self.assignment)}</title>",
                 "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
                 "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}pre{background:#f6f6f6;padding:1em}</style>",
                 "</head><body>", f"<h1>Class report: {e(self.assignment)}</h1>",
                 f"<pre>{e(self.text())}</pre>"]
        for name, title in (("scores", "Score distribution"), ("pass_rates", "Pass rate per test"),
                            ("seconds", "Time per submission")):
            parts.append(f"<h2>{title}</h2><img alt='{e(title)}' src='data:image/png;base64,{figs[name]}'>")
        parts.append("<h2>Most frequent failures</h2><table><tr><th>students</th><th>test</th><th>message</th>"
                     "<th>some of them</th></tr>")
        for g, m, n, who in self.failures(top=25):
            parts.append(f"<tr><td>{n}</td><td>{e(g)}</td><td>{e(m)}</td><td>{e(', '.join(who))}</td></tr>")
        parts.append("</table><h2>Could not be graded</h2><table><tr><th>student</th><th>status</th><th>why</th></tr>")
        for r in self.not_graded():
            parts.append(f"<tr><td>{e(r['student'])}</td><td>{e(r['status'])}</td><td>{e(r['reason'])}</td></tr>")
        parts.append("</table></body></html>")
        return "\n".join(parts)

    def write_html(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = self.html()
        # The same last check as feedback's, on the page and on the unmasked messages it quotes (a
        # hidden line with digits would not match its masked copy in the page).
        plain = html.unescape(text) + "\n" + "\n".join(q for *_, q in self._messages() if q)
        if any(s in plain for s in self.secrets):
            raise CourseError(f"the report for {self.assignment} would quote hidden-test text; not written")
        path.write_text(text, encoding="utf-8")
        return path


def build_report(course: Course, assignment: str, totals: bool = True) -> Report:
    from autograder.feedback import secret_lines
    from autograder.gradebook import Gradebook

    rows = Gradebook(course.gradebook_path).rows(assignment)
    if not rows:
        raise CourseError(f"nothing graded for {assignment} yet: run `course-grader grade {assignment} <submissions>`.")
    source = nbformat.read(course.source(assignment), as_version=4)
    release = nbformat.read(course.release(assignment), as_version=4)
    report = Report(assignment, rows, secrets=secret_lines(source, release))
    if totals:
        from autograder.nbgrader_book import synced_state

        state, _ = synced_state(course, assignment)
        # this report's students only: a shared gradebook also holds other graders' students
        mine = {r["student"] for r in rows}
        report.totals = {s: v.total for s, v in state.items() if s in mine}
    return report
