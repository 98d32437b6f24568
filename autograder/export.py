"""Export the gradebook as CSV. A submission that could not be graded has an empty score and its
status says why; it is never written as 0."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

COLUMNS = ["assignment", "student", "status", "score", "max_score", "manual_max", "reason", "flags", "graded_at"]


def write_csv(rows: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([
                r["assignment"], r["student"], r["status"],
                "" if r["score"] is None else f"{r['score']:g}",
                f"{r['max_score']:g}", f"{r['manual_max']:g}", r["reason"], " | ".join(r["flags"]),
                dt.datetime.fromtimestamp(r["graded_at"], dt.timezone.utc).isoformat(timespec="seconds"),
            ])
