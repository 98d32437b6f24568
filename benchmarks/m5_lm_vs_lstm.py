"""Module 5's claim about its language model, over several seeds: TinyGPT trained for the
notebook's fixed number of steps, and the LSTM (the notebook's CharLSTM) trained for the same
number of seconds, both with the notebook's train_lm, judged on the validation and test text.
With --same-steps, a third run trains the LSTM for the GPT's number of steps too (the same
batches, the same schedule), which separates what each model learns per step from how fast it
runs here.
With --budgets S [S ...], each model instead trains for S seconds of training time (both with the
notebook's settings), for every budget and seed, and is judged on the validation text: how the gap
between the two changes when training is longer than the notebook can afford.

Everything (models, data, training loop, step count, learning rates) is read from
solutions/m5_transformers/m5_transformers.py, so the benchmark measures what the notebook runs.
Threads from COURSE_NUM_THREADS (default 2), as in the notebook.

    COURSE_NUM_THREADS=2 python benchmarks/m5_lm_vs_lstm.py [--seeds 0 1 2] [--same-steps]
    COURSE_NUM_THREADS=2 python benchmarks/m5_lm_vs_lstm.py --budgets 9 25 60 [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from m5_common import load_module, slow_cell_constants


def seeded(m: dict, model: str, seed: int):
    """The notebook's TinyGPT (d_model 64, 4 heads, 2 layers) or CharLSTM, initialised from ``seed``."""
    torch.manual_seed(seed)
    if model == "gpt":
        return m["TinyGPT"](m["VOCAB"], d_model=64, n_heads=4, n_layers=2, context=m["CONTEXT"])
    return m["CharLSTM"](m["VOCAB"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--same-steps", action="store_true", help="also train the LSTM for the GPT's number of steps")
    parser.add_argument("--budgets", type=float, nargs="+", metavar="S", help="train both models for S seconds each instead")
    args = parser.parse_args()
    m = load_module()
    m["setup"](seed=0)
    c = slow_cell_constants("GPT_STEPS")
    if args.budgets:
        budgets(m, c, args.budgets, args.seeds)
        return
    rows = []
    for seed in args.seeds:
        gpt = seeded(m, "gpt", seed)
        g = m["train_lm"](gpt, m["train_ids"], c["GPT_LR"], steps=c["GPT_STEPS"], seed=seed, desc="TinyGPT")
        lstm = seeded(m, "lstm", seed)
        r = m["train_lm"](lstm, m["train_ids"], c["LSTM_LR"], seconds=g["seconds"], seed=seed, desc="LSTM")
        row = (seed, g["steps"], r["steps"], g["seconds"],
               m["held_out_loss"](gpt, m["val_ids"]), m["held_out_loss"](lstm, m["val_ids"]),
               m["held_out_loss"](gpt, m["test_ids"]), m["held_out_loss"](lstm, m["test_ids"]))
        line = "seed {} | steps GPT {} LSTM {} in {:.1f} s | val GPT {:.3f} LSTM {:.3f} | test GPT {:.3f} LSTM {:.3f}".format(*row)
        if args.same_steps:
            lstm_steps = seeded(m, "lstm", seed)
            s = m["train_lm"](lstm_steps, m["train_ids"], c["LSTM_LR"], steps=g["steps"], seed=seed, desc="LSTM, same steps")
            row = row + (m["held_out_loss"](lstm_steps, m["val_ids"]), m["held_out_loss"](lstm_steps, m["test_ids"]), s["seconds"])
            line += " | LSTM for {} steps: val {:.3f} test {:.3f} in {:.1f} s".format(g["steps"], *row[-3:])
        rows.append(row)
        print(line, flush=True)
    a = np.array(rows)
    print(f"mean over {len(rows)} seeds | {a[:, 3].mean():.1f} s each | val GPT {a[:, 4].mean():.3f} LSTM {a[:, 5].mean():.3f} "
          f"| test GPT {a[:, 6].mean():.3f} LSTM {a[:, 7].mean():.3f}")
    if args.same_steps:
        print(f"same {c['GPT_STEPS']} steps | val GPT {a[:, 4].mean():.3f} LSTM {a[:, 8].mean():.3f} "
              f"| test GPT {a[:, 6].mean():.3f} LSTM {a[:, 9].mean():.3f} | seconds GPT {a[:, 3].mean():.1f} LSTM {a[:, 10].mean():.1f}")
    better = "GPT" if a[:, 6].mean() < a[:, 7].mean() else "LSTM"
    print(f"lower mean test loss at equal training time: {better}; GPT below 1.7 on every seed: {bool((a[:, 6] <= 1.7).all())}")


def budgets(m: dict, c: dict, seconds: list[float], seeds: list[int]) -> None:
    """Both models trained for each budget of seconds, per seed; validation loss, and the mean gap."""
    print("budget s | seed | GPT steps | LSTM steps | val GPT | val LSTM | GPT - LSTM", flush=True)
    for budget in seconds:
        gaps = []
        for seed in seeds:
            gpt = seeded(m, "gpt", seed)
            g = m["train_lm"](gpt, m["train_ids"], c["GPT_LR"], seconds=budget, seed=seed, desc="TinyGPT")
            lstm = seeded(m, "lstm", seed)
            r = m["train_lm"](lstm, m["train_ids"], c["LSTM_LR"], seconds=budget, seed=seed, desc="LSTM")
            vg, vl = m["held_out_loss"](gpt, m["val_ids"]), m["held_out_loss"](lstm, m["val_ids"])
            gaps.append((vg, vl))
            print(f"{budget:8.0f} | {seed:4d} | {g['steps']:9d} | {r['steps']:10d} | {vg:7.3f} | {vl:8.3f} | {vg - vl:+.3f}", flush=True)
        a = np.array(gaps)
        print(f"{budget:8.0f} | mean |           |            | {a[:, 0].mean():7.3f} | {a[:, 1].mean():8.3f} | "
              f"{(a[:, 0] - a[:, 1]).mean():+.3f} (GPT ahead on {int((a[:, 0] < a[:, 1]).sum())} of {len(a)} seeds)", flush=True)


if __name__ == "__main__":
    main()
