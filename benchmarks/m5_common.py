"""Load Module 5's reference code from its script, so the m5 benchmarks run exactly what the
notebook teaches (solutions/m5_transformers/m5_transformers.py): every answer (the reference
solution) and every locked cell that is neither training (``slow``) nor a picture (``demo``)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "solutions" / "m5_transformers" / "m5_transformers.py"
_MAGIC = re.compile(r"^\s*[%!]")


def load_module(verbose: bool = False) -> dict:
    """Run the module's answers and fast locked cells in a fresh namespace and return it."""
    sys.path.insert(0, str(ROOT))
    import matplotlib

    matplotlib.use("Agg")
    from autograder.authoring import parse_script
    from autograder.examples import solution_text

    namespace: dict = {"__name__": "m5_benchmark"}
    for cell in parse_script(SCRIPT):
        if cell.kind == "solution":
            source = solution_text(cell.source)
        elif cell.kind == "code" and not {"slow", "demo"} & set(cell.tags):
            source = cell.source
        else:
            continue
        source = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
        exec(compile(source, f"<m5 {cell.grade_id or 'code'} line {cell.line}>", "exec"), namespace)
    return namespace


def slow_cell_constants(prefix: str) -> dict:
    """Run the first line of the slow cell whose source starts with ``prefix`` (its constants)."""
    from autograder.authoring import parse_script

    for cell in parse_script(SCRIPT):
        if cell.source.startswith(prefix):
            scope: dict = {}
            exec(cell.source.splitlines()[0], scope)
            return {k: v for k, v in scope.items() if not k.startswith("__")}
    raise LookupError(f"no cell of {SCRIPT.name} starts with {prefix!r}")
