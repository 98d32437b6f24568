"""Module 5's Vision Transformer beside Module 3's CNN, over several seeds, on the same digits split.

TinyViT, its training loop (train_classifier) and the split (load_digits_split(val_fraction=0.2))
are read from solutions/m5_transformers/m5_transformers.py; DigitsCNN from
solutions/m3_cnn/m3_cnn.py. Both are trained by the same train_classifier (AdamW, one-cycle,
label smoothing, best validation epoch kept) and tested once on the 450 test images.

    COURSE_NUM_THREADS=2 python benchmarks/m5_vit_vs_cnn.py [--seeds 0 1 2] [--cnn-epochs 20]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from m5_common import ROOT, load_module, slow_cell_constants


def digits_cnn(namespace: dict):
    """DigitsCNN, Module 3's reference answer, defined in the m5 namespace (torch, nn, F)."""
    from autograder.authoring import parse_script
    from autograder.examples import solution_text

    cells = {c.grade_id: c for c in parse_script(ROOT / "solutions" / "m3_cnn" / "m3_cnn.py")}
    exec(compile(solution_text(cells["DigitsCNN"].source), "<m3_cnn DigitsCNN>", "exec"), namespace)
    return namespace["DigitsCNN"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cnn-epochs", type=int, default=20)
    args = parser.parse_args()
    m = load_module()
    m["setup"](seed=0)
    c = slow_cell_constants("VIT_EPOCHS")
    DigitsCNN = digits_cnn(m)
    rows = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        vit = m["TinyViT"]()
        m["train_classifier"](vit, c["VIT_EPOCHS"], c["VIT_LR"], seed=seed)
        torch.manual_seed(seed)
        cnn = DigitsCNN()
        m["train_classifier"](cnn, args.cnn_epochs, 5e-3, seed=seed)
        row = (seed, m["accuracy"](vit, m["X_test"], m["y_test"]), m["accuracy"](cnn, m["X_test"], m["y_test"]))
        rows.append(row)
        print("seed {} | test accuracy ViT {:.4f} | CNN {:.4f}".format(*row), flush=True)
    a = np.array(rows)
    print(f"mean over {len(rows)} seeds: ViT {a[:, 1].mean():.4f} (min {a[:, 1].min():.4f}), CNN {a[:, 2].mean():.4f}")


if __name__ == "__main__":
    main()
