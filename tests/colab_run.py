"""Run notebooks in *this* Python's kernel and report what happened, as JSON (tests/test_colab.py).

Runs inside the Colab-like virtual environment, so it uses only what Colab has: nbformat, nbclient
and the kernel. For each notebook: every cell not tagged ``skip_tag`` runs in order (errors stop
nothing, they are reported), then each widget the notebook displayed is looked up in the widget
state nbclient keeps: its model must exist, and each ``Output`` widget must hold a drawn figure.
The executed notebook is written beside the input as ``<name>.out.ipynb``.

    python colab_run.py REPORT.json [--skip-tag slow] NOTEBOOK...
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import nbformat
from nbclient import NotebookClient

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"


def widget_report(nb, skipped: bool = False) -> dict:
    """Each widget the notebook displayed, found in nbclient's widget state with its whole tree of
    models: a figure widget (one holding an ``Output``) must have drawn a figure and no error, a
    progress bar (tqdm) must have reached its end. Where cells were skipped, a figure widget may
    instead show the notebook's own "... to see this" line for a prerequisite that did not run."""
    state = nb.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    views = [(i, o["data"][VIEW]["model_id"]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
             for o in c.get("outputs", []) if VIEW in o.get("data", {})]
    problems, waiting, counts = [], [], {"figure": 0, "progress": 0, "other": 0}
    for i, model_id in views:
        tree, todo, missing = [], [model_id], []
        while todo:
            ref = todo.pop()
            if ref not in state:
                missing.append(ref)
                continue
            tree.append(state[ref])
            todo += _refs(json.dumps(state[ref].get("state", {})))
        if missing:
            problems.append(f"cell {i}: widget {model_id}: models missing: {missing}")
            continue
        outputs = [m for m in tree if m.get("model_name") == "OutputModel"]
        bars = [m for m in tree if m.get("model_name") in ("FloatProgressModel", "IntProgressModel")]
        if outputs:
            counts["figure"] += 1
            for out in outputs:
                items = out.get("state", {}).get("outputs", [])
                text = "".join(o.get("text", "") for o in items)
                if any(o.get("output_type") == "error" for o in items):
                    problems.append(f"cell {i}: widget {model_id} drew an error: {json.dumps(items)[:300]}")
                elif any("image/png" in o.get("data", {}) for o in items):
                    pass
                elif "to see this" in text and skipped:
                    # the notebook's own line for a prerequisite not run: here a skipped (slow) cell
                    waiting.append(f"cell {i}: {text.strip()[:120]}")
                else:
                    problems.append(f"cell {i}: widget {model_id} drew no figure: {json.dumps(items)[:300]}")
        elif bars:
            counts["progress"] += 1
            for bar in bars:
                st = bar.get("state", {})
                if st.get("bar_style") == "danger" or st.get("value") != st.get("max"):
                    problems.append(f"cell {i}: progress bar {model_id} stopped at {st.get('value')} of {st.get('max')}")
        else:
            counts["other"] += 1
    return {"views": len(views), **counts, "problems": problems, "waiting_for_skipped_cells": waiting}


def _slowest(nb, n: int = 3) -> list[str]:
    from datetime import datetime

    timed = []
    for i, c in enumerate(nb.cells):
        ex = c.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            t = (datetime.fromisoformat(ex["shell.execute_reply"].replace("Z", "+00:00"))
                 - datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00"))).total_seconds()
            timed.append((t, f"cell {i} ({t:.1f} s): {c.source.splitlines()[0][:60] if c.source else ''}"))
    return [text for _, text in sorted(timed, reverse=True)[:n]]


def _refs(text: str) -> list[str]:
    out, key = [], "IPY_MODEL_"
    start = text.find(key)
    while start != -1:
        end = start + len(key)
        while end < len(text) and (text[end].isalnum()):
            end += 1
        out.append(text[start + len(key):end])
        start = text.find(key, end)
    return out


def _slice_polls(kc) -> None:
    """The grader's fix for waits that miss their wake-up (autograder/sandbox_runner.py:
    slice_polls), loaded from its file: this script runs in an environment without the grader."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "autograder" / "sandbox_runner.py"
    spec = importlib.util.spec_from_file_location("_sandbox_runner", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.slice_polls(kc)


def run(path: str, skip_tag: str | None, timeout: int) -> dict:
    nb = nbformat.read(path, as_version=4)
    def skip(c) -> bool:
        return bool(skip_tag) and skip_tag in c.metadata.get("tags", [])

    skipped = [c for c in nb.cells if skip(c)]
    nb.cells = [c for c in nb.cells if not skip(c)]
    import tempfile
    from pathlib import Path

    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory() as sockets:
        # Local IPC sockets, not TCP ports: kernels started side by side elsewhere on the machine
        # cannot take this kernel's ports between their choice and their binding (a run hung so).
        km = KernelManager(kernel_name="python3", transport="ipc", connection_file=str(Path(sockets) / "kernel.json"),
                           ip=str(Path(sockets) / "k"))
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3", allow_errors=True,
                                store_widget_state=True, record_timing=True,
                                on_notebook_start=lambda notebook: _slice_polls(client.kc))
        t0 = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - t0
    nbformat.write(nb, path.removesuffix(".ipynb") + ".out.ipynb")
    errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue', '')[:300]}" for i, c in enumerate(nb.cells)
              if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    first_code = next((c for c in nb.cells if c.cell_type == "code"), None)
    first_out = "".join(o.get("text", "") for o in (first_code.get("outputs", []) if first_code else []))
    return {"notebook": path, "seconds": round(seconds, 1), "slowest_cells": _slowest(nb), "cells_run": sum(c.cell_type == "code" for c in nb.cells),
            "cells_skipped": len(skipped), "errors": errors, "widgets": widget_report(nb, bool(skipped)), "first_cell_output": first_out}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("report")
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--skip-tag", default=None)
    p.add_argument("--timeout", type=int, default=600)
    args = p.parse_args()
    import ipywidgets

    results = {"ipywidgets": ipywidgets.__version__, "python": sys.version.split()[0], "notebooks": []}
    for path in args.notebooks:
        results["notebooks"].append(run(path, args.skip_tag, args.timeout))
        with open(args.report, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
