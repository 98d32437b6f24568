"""One training run of Module 5's GPT or LSTM with options the notebook does not use, to tune the
GPT against the LSTM (benchmarks/README.md, "Tuning the GPT for the same time").

The loop is the notebook's train_lm (AdamW, warm-up then cosine decay, gradient clipping) for a
fixed number of steps, on the notebook's data and batches; it prints one JSON line with the
options, the loss on the whole validation text and the seconds of training.

    COURSE_NUM_THREADS=1 python benchmarks/m5_lm_tuning.py --model gpt --layers 1 --steps 1200
    COURSE_NUM_THREADS=1 python benchmarks/m5_lm_tuning.py --model lstm --steps 1200 --lr 2e-2
    COURSE_NUM_THREADS=2 python benchmarks/m5_lm_tuning.py --model gpt --layers 1 --batch 16 --seconds 8.6

With --seconds, the run lasts that many seconds of training time instead of a number of steps
(the schedule follows the clock, as the notebook's train_lm does with seconds=).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from m5_common import load_module


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["gpt", "lstm"], default="gpt")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--seconds", type=float, help="train for this many seconds of training time instead of --steps")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--beta2", type=float, default=0.99)
    p.add_argument("--warmup", type=float, default=0.05, help="fraction of the run")
    p.add_argument("--final", type=float, default=0.1, help="last learning rate, as a fraction of lr")
    p.add_argument("--tie", action="store_true", help="GPT: the read-out shares the token embedding")
    p.add_argument("--emb-std", type=float, default=0.0, help="GPT: draw both embeddings from N(0, std^2) (0: PyTorch's N(0, 1))")
    p.add_argument("--positions", choices=["learned", "sinusoidal", "none"], default="learned",
                   help="GPT: learned position embeddings (the notebook's), or frozen sinusoidal ones, or none")
    p.add_argument("--tok-std", type=float, default=0.0, help="GPT: draw the token embedding from N(0, std^2)")
    p.add_argument("--context", type=int, default=0, help="window length for training and validation (0: the notebook's)")
    p.add_argument("--fused", action="store_true", help="AdamW(fused=True)")
    p.add_argument("--bf16", action="store_true", help="forward pass under torch.autocast('cpu', dtype=torch.bfloat16)")
    p.add_argument("--profile", action="store_true", help="print PyTorch's profiler table for steps 10 to 29 (to stderr)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    with contextlib.redirect_stdout(io.StringIO()):
        m = load_module()
    V = m["VOCAB"]
    T = a.context or m["CONTEXT"]
    torch.manual_seed(a.seed)
    if a.model == "gpt":
        model = m["TinyGPT"](V, a.d_model, a.heads, a.layers, T)
        with torch.no_grad():
            if a.positions != "learned":
                pe = m["sinusoidal_positional_encoding"](T, a.d_model) if a.positions == "sinusoidal" else torch.zeros(T, a.d_model)
                model.pos_emb.weight.copy_(pe)
                model.pos_emb.weight.requires_grad_(False)
            if a.tok_std:
                model.tok_emb.weight.normal_(0, a.tok_std)
        if a.emb_std:
            with torch.no_grad():
                model.tok_emb.weight.normal_(0, a.emb_std)
                model.pos_emb.weight.normal_(0, a.emb_std)
        if a.tie:
            model.head.weight = model.tok_emb.weight
    else:
        model = m["CharLSTM"](V)
    model.to(m["device"]).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, a.beta2), weight_decay=a.weight_decay, fused=a.fused or None)
    gen = torch.Generator().manual_seed(a.seed)
    clock, k = 0.0, 0
    while (clock < a.seconds) if a.seconds else (k < a.steps):
        progress = clock / a.seconds if a.seconds else k / a.steps
        t0 = time.perf_counter()
        for group in opt.param_groups:
            warm = min(1.0, progress / a.warmup) if a.warmup else 1.0
            group["lr"] = a.lr * warm * (a.final + (1 - a.final) / 2 * (1 + math.cos(math.pi * progress)))
        if a.profile and k == 10:
            prof = torch.profiler.profile()
            prof.__enter__()
        x, y = m["get_batch"](m["train_ids"], gen, batch=a.batch, T=T)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        clock += time.perf_counter() - t0
        k += 1
        if a.profile and k == 30:
            prof.__exit__(None, None, None)
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15), file=sys.stderr)
    a.steps = k
    val = m["held_out_loss"](model, m["val_ids"], T=T)
    print(json.dumps({**vars(a), "val": round(val, 4), "seconds": round(clock, 1), "ms_per_step": round(1000 * clock / a.steps, 2)}), flush=True)


if __name__ == "__main__":
    main()
