"""The course on a real GPU: every solution notebook, nbval in lax mode, and a grading batch.

``make gpu-check`` (or ``python scripts/gpu_check.py`` in an environment that has the course and a
CUDA build of torch). On a machine without a usable CUDA GPU it stops at once and says why. Else:

1. runs every solution notebook start to finish on the GPU through nbval's lax mode (every cell
   must run without error; ``COURSE_DEVICE=cuda`` makes ``course_utils.setup()`` fail rather than
   fall back to the CPU), one notebook at a time;
2. meanwhile runs each notebook on this machine's CPU (``COURSE_DEVICE=cpu``, the same
   ``COURSE_NUM_THREADS``) for comparison;
3. grades each module's example submissions (reference, blank, partly wrong) with the real grade
   command, in a scratch copy of the workspace, and checks reference = full marks, blank = 0;
4. prints one line per notebook and a total, and writes the details to ``--out``.

Exit status: 0 when everything passed, 1 when something failed, 3 when there is no GPU.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
NO_GPU = 3


def gpu_or_exit() -> str:
    """A one-line description of the GPU, or exit with NO_GPU and the reason."""
    try:
        import torch
    except ImportError:
        print("gpu-check: torch is not installed in this environment; run `make gpu-check`, which installs it.")
        raise SystemExit(NO_GPU) from None
    if torch.version.cuda is None:
        print(f"gpu-check: torch {torch.__version__} is a CPU-only build, so no GPU can be used. "
              "On a CUDA machine `make gpu-check` installs the CUDA build from PyPI into .venv-gpu/.")
        raise SystemExit(NO_GPU)
    if not torch.cuda.is_available():
        print(f"gpu-check: torch {torch.__version__} (CUDA {torch.version.cuda}) finds no usable GPU on this "
              "machine (no NVIDIA device or driver). Run this on a machine with an NVIDIA GPU.")
        raise SystemExit(NO_GPU)
    props = torch.cuda.get_device_properties(0)
    return (f"{props.name}, {props.total_memory / 2**30:.0f} GiB | torch {torch.__version__} "
            f"(CUDA {torch.version.cuda}) | Python {sys.version.split()[0]}")


def assignments() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb") if p.stem == p.parent.name)


def env_for(device: str, threads: str) -> dict[str, str]:
    env = dict(os.environ, COURSE_DEVICE=device, COURSE_NUM_THREADS=threads, OMP_NUM_THREADS=threads,
               OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads, PYTHONUNBUFFERED="1",
               OMP_WAIT_POLICY="PASSIVE", MKL_WAIT_POLICY="PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("MPLBACKEND", None)  # notebooks draw with the inline backend, as students see them
    return env


def run_nbval_lax(assignment: str, threads: str, out: Path, timeout: int) -> dict:
    """One notebook on the GPU through nbval's lax mode; returns its time and verdict."""
    nb = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    log = out / f"{assignment}-gpu-nbval.log"
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "--nbval-lax",
           "--nbval-cell-timeout", str(timeout), "-q", str(nb)]
    with open(log, "w") as f:
        rc = subprocess.run(cmd, cwd=ROOT, env=env_for("cuda", threads), stdout=f, stderr=subprocess.STDOUT).returncode
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
    return {"seconds": time.perf_counter() - t0, "ok": rc == 0, "summary": tail[0]}


def run_cpu(assignment: str, threads: str, out: Path, timeout: int) -> dict:
    """The same notebook on this machine's CPU with nbclient, for the time beside the GPU's."""
    code = (
        "import sys, time, nbformat\n"
        "from nbclient import NotebookClient\n"
        "nb = nbformat.read(sys.argv[1], as_version=4)\n"
        "t0 = time.perf_counter()\n"
        "NotebookClient(nb, timeout=int(sys.argv[2]), kernel_name='python3', record_timing=True,\n"
        "               resources={'metadata': {'path': sys.argv[3]}}).execute()\n"
        "print(f'SECONDS {time.perf_counter() - t0:.2f}')\n"
        "from datetime import datetime as dt\n"
        "def took(c):\n"
        "    t = c.metadata.get('execution', {})\n"
        "    a, b = t.get('iopub.execute_input'), t.get('shell.execute_reply')\n"
        "    return (dt.fromisoformat(b.replace('Z', '+00:00')) - dt.fromisoformat(a.replace('Z', '+00:00'))).total_seconds() if a and b else 0.0\n"
        "for i, c in sorted(enumerate(nb.cells), key=lambda ic: -took(ic[1]))[:3]:\n"
        "    print(f'SLOWEST cell {i}: {took(c):.1f} s: {c.source.splitlines()[0][:60] if c.source else \"\"}')\n"
    )
    nb = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    log = out / f"{assignment}-cpu.log"
    with open(log, "w") as f:
        rc = subprocess.run([sys.executable, "-c", code, str(nb), str(timeout), str(nb.parent)], cwd=ROOT,
                            env=env_for("cpu", threads), stdout=f, stderr=subprocess.STDOUT).returncode
    text = log.read_text(errors="replace")
    secs = [float(line.split()[1]) for line in text.splitlines() if line.startswith("SECONDS ")]
    slowest = [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("SLOWEST ")]
    return {"seconds": secs[0] if secs else None, "ok": rc == 0 and bool(secs), "slowest": slowest}


def kernel_device(workspace: Path, assignment: str) -> str:
    """What ``setup()`` printed in the graded reference notebook ("device: cuda | ..."), if found."""
    from autograder.gradebook import Gradebook

    nb = Gradebook(workspace / "gradebook.db").notebook(assignment, "reference")
    for cell in (nb.cells if nb is not None else []):
        for out in cell.get("outputs", []):
            for line in str(out.get("text", "")).splitlines():
                if line.startswith("device: "):
                    return line.split("|")[0].strip()
    return "device not found in the graded notebook"


def grade_examples(names: list[str], out: Path, jobs: int) -> dict[str, dict]:
    """Grade each module's example submissions into a scratch workspace; return the scores."""
    from autograder.course import Course
    from autograder.examples import write_examples

    scratch = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    grader = [sys.executable, "-m", "autograder", "--workspace", str(scratch / "workspace")]
    env = env_for("", "1")
    env.pop("COURSE_DEVICE")  # grading picks its device as it would for an instructor
    results: dict[str, dict] = {}
    for a in names:
        subs = scratch / "submissions" / a
        write_examples(Course(), a, subs)
        t0 = time.perf_counter()
        with open(out / f"{a}-grading.log", "w") as f:
            subprocess.run([*grader, "grade", a, str(subs), "--jobs", str(jobs)], cwd=ROOT, env=env,
                           stdout=f, stderr=subprocess.STDOUT)
        results[a] = {"seconds": time.perf_counter() - t0}
    csv_path = out / "grades.csv"
    subprocess.run([*grader, "export", "--out", str(csv_path)], cwd=ROOT, env=env, capture_output=True)
    rows = list(csv.DictReader(open(csv_path))) if csv_path.exists() else []
    for a in names:
        results[a]["kernel_device"] = kernel_device(scratch / "workspace", a)
        mine = {r["student"]: r for r in rows if r["assignment"] == a}
        ref, blank, wrong = mine.get("reference"), mine.get("blank"), mine.get("partly_wrong")
        full = ref is not None and ref["score"] != "" and float(ref["score"]) == float(ref["max_score"])
        zero = blank is not None and blank["score"] != "" and float(blank["score"]) == 0
        lost = wrong is None or (wrong["score"] != "" and float(wrong["score"]) < float(wrong["max_score"]))
        results[a].update(ok=full and zero and lost, scores={
            k: (f"{r['score'] or '-'}/{r['max_score']} {r['status']}" if r else "missing")
            for k, r in (("reference", ref), ("blank", blank), ("partly_wrong", wrong))})
    shutil.rmtree(scratch, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("assignments", nargs="*", help="only these modules (default: every solution notebook)")
    p.add_argument("--out", default=str(ROOT / "gpu-check"), help="folder for logs and grades.csv")
    p.add_argument("--threads", default=os.environ.get("COURSE_NUM_THREADS", "2"), help="torch threads")
    p.add_argument("--cell-timeout", type=int, default=300)
    p.add_argument("--jobs", type=int, default=2, help="grading workers")
    p.add_argument("--no-cpu", action="store_true", help="skip the CPU comparison runs")
    p.add_argument("--no-grading", action="store_true", help="skip grading the example submissions")
    args = p.parse_args(argv)
    gpu = gpu_or_exit()
    names = args.assignments or assignments()
    unknown = sorted(set(names) - set(assignments()))
    if unknown:
        print(f"gpu-check: no solution notebook for {', '.join(unknown)}; known: {', '.join(assignments())}")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"gpu-check: {gpu}")
    t_start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        cpu = {} if args.no_cpu else {a: pool.submit(run_cpu, a, args.threads, out, args.cell_timeout) for a in names}
        gpu_runs = {}
        for a in names:  # one GPU notebook at a time; the CPU runs go on beside them
            gpu_runs[a] = run_nbval_lax(a, args.threads, out, args.cell_timeout)
            print(f"  {a}: GPU nbval-lax {'pass' if gpu_runs[a]['ok'] else 'FAIL'} in {gpu_runs[a]['seconds']:.1f} s",
                  flush=True)
        cpu_runs = {a: f.result() for a, f in cpu.items()}
    grading = {} if args.no_grading else grade_examples(names, out, args.jobs)
    print(f"\n{'module':<18} {'GPU s':>7} {'CPU s':>7}  nbval-lax  grading (reference | blank | partly wrong)")
    ok_all = True
    for a in names:
        g, c, gr = gpu_runs[a], cpu_runs.get(a), grading.get(a)
        cpu_s = "-" if not c else (f"{c['seconds']:.1f}" if c["ok"] else "FAIL")
        grade_txt = "-" if not gr else ("pass " if gr["ok"] else "FAIL ") + " | ".join(gr["scores"].values()) + (
            f" ({gr['kernel_device']}, {gr['seconds']:.0f} s)")
        ok = g["ok"] and (not c or c["ok"]) and (not gr or gr["ok"])
        ok_all &= ok
        print(f"{a:<18} {g['seconds']:>7.1f} {cpu_s:>7}  {'pass' if g['ok'] else 'FAIL':<9}  {grade_txt}")
    total_gpu = sum(g["seconds"] for g in gpu_runs.values())
    total_cpu = sum(c["seconds"] or 0 for c in cpu_runs.values())
    print(f"{'total':<18} {total_gpu:>7.1f} {total_cpu if cpu_runs else 0:>7.1f}  "
          f"wall {time.perf_counter() - t_start:.0f} s  -> {'PASS' if ok_all else 'FAIL'} (logs in {out})")
    (out / "summary.json").write_text(json.dumps(
        {"gpu": gpu, "gpu_runs": gpu_runs, "cpu_runs": cpu_runs, "grading": grading}, indent=1, default=str))
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
