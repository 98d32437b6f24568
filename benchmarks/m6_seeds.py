"""Module 6's claims over several seeds: the GAN's classifier-judged quality and the compression table.

Runs the module's own code (the cells of solutions/m6_practice/m6_practice.py, reference answers
included, pictures and tests left out) once per seed, with every ``torch.manual_seed(k)`` of the
script shifted to ``torch.manual_seed(k + 10 * seed)``, and prints per seed and as the mean:

* the digits classifier's validation accuracy and its confidence on shuffled-pixel images;
* the share of 1,000 GAN samples it recognises with confidence above 0.9, and the smallest share
  of any predicted class (the notebook's test asks for at least 0.4 and 0.005);
* every row of the compression table (validation accuracy).

    COURSE_NUM_THREADS=1 python benchmarks/m6_seeds.py --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from autograder.authoring import parse_script  # noqa: E402
from autograder.examples import solution_text  # noqa: E402

STOP_AFTER = "compression_table ="  # the data-parallel and export cells are not needed here


def run_seed(seed: int) -> dict:
    import matplotlib.pyplot as plt
    import numpy as np

    cells = parse_script(ROOT / "solutions" / "m6_practice" / "m6_practice.py")
    namespace: dict = {"__name__": "__main__"}
    for cell in cells:
        if cell.kind in ("markdown", "answer", "tests") or "demo" in cell.tags:
            continue
        src = solution_text(cell.source) if cell.kind == "solution" else cell.source
        src = "\n".join("" if re.match(r"^\s*[%!]", line) else line for line in src.splitlines())
        src = re.sub(r"manual_seed\((\d+)\)", lambda m: f"manual_seed({int(m.group(1)) + 10 * seed})", src)
        exec(compile(src, f"<m6_practice {cell.grade_id or cell.line}>", "exec"), namespace)
        plt.close("all")
        if STOP_AFTER in src:
            break
    ns = namespace
    return {
        "classifier val acc": ns["evaluate"](ns["classifier"], ns["X_val"], ns["y_val"])[1],
        "shuffled-pixel confidence": float(ns["judge_baseline"]["shuffled pixels"].mean()),
        "GAN share confident": float((ns["gan_confidence"] > 0.9).mean()),
        "GAN smallest class share": float(ns["gan_class_share"].min()),
        **{f"table: {k}": v[1] for k, v in ns["compression_table"].items()},
        "_np": np,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    results = []
    for seed in args.seeds:
        t0 = time.perf_counter()
        r = run_seed(seed)
        r.pop("_np")
        results.append(r)
        print(f"seed {seed} done in {time.perf_counter() - t0:.0f} s", flush=True)
    keys = list(results[0])
    width = max(len(k) for k in keys)
    print(f"{'':<{width}}" + "".join(f"{'seed ' + str(s):>10}" for s in args.seeds) + f"{'mean':>10}")
    for k in keys:
        vals = [r[k] for r in results]
        print(f"{k:<{width}}" + "".join(f"{v:>10.4f}" for v in vals) + f"{sum(vals) / len(vals):>10.4f}")


if __name__ == "__main__":
    main()
