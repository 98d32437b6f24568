"""Measure the three claims Module 3 makes about training, each as a mean over seeds.

    python benchmarks/m3_lessons.py canvas     # CNN vs MLP, 8x8 digits at random places on a 16x16 canvas
    python benchmarks/m3_lessons.py finetune   # fine-tuning vs from scratch, canvas digits 5-9 from few labels
    python benchmarks/m3_lessons.py depth      # plain vs residual stacks of growing depth
    python benchmarks/m3_lessons.py all [--jobs 8]

The models, data and schedules are the ones the notebook's locked cells use (section 9's canvas
experiment, section 11's depth experiment, section 13's transfer experiment): keep the two in step.
Runs are independent, so ``--jobs`` spreads them over processes (one torch thread each); the
figures do not depend on it. Printed: every run, then mean and standard deviation per setting.
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from course_utils.data import load_digits_split  # noqa: E402

CANVAS = 16


def digits_tensors(val_fraction: float = 0.2):
    d = load_digits_split(val_fraction=val_fraction)
    t = lambda X: torch.tensor(d.images(X), dtype=torch.float32)  # noqa: E731
    return (t(d.X_train), torch.tensor(d.y_train)), (t(d.X_val), torch.tensor(d.y_val)), (t(d.X_test), torch.tensor(d.y_test))


# ------------------------------------------------------------------ the notebook's code, mirrored


def place_on_canvas(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Each (1, 8, 8) image pasted at its own random position of a blank size x size canvas."""
    N, C, h, w = images.shape
    out = torch.zeros(N, C, size, size)
    offsets = torch.randint(0, size - h + 1, (N, 2), generator=generator)
    for n, (r, c) in enumerate(offsets.tolist()):
        out[n, :, r:r + h, c:c + w] = images[n]
    return out


def canvas_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def canvas_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(CANVAS * CANVAS, 256), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10),
    )


def fit(model: nn.Module, X, y, Xv=None, yv=None, epochs: int = 10, lr: float = 1e-3, batch_size: int = 64,
        seed: int = 0) -> nn.Module:
    """The notebook's `train`: Adam with a one-cycle schedule over the parameters that require
    gradients; with a validation set, the weights of the epoch with the lowest validation loss."""
    import copy

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    steps = epochs * ((len(X) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    best_loss, best_state = float("inf"), None
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if Xv is not None:
            model.eval()
            with torch.no_grad():
                val_loss = F.cross_entropy(model(Xv), yv).item()
            if val_loss < best_loss:
                best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    return model


def accuracy(model: nn.Module, X, y) -> float:
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(1) == y).float().mean().item()


# ------------------------------------------------------------------ canvas: CNN vs MLP


def run_canvas(seed: int, epochs: int = 30) -> dict:
    torch.set_num_threads(1)
    (X, y), (Xv, yv), (Xt, yt) = digits_tensors()
    gen = torch.Generator().manual_seed(100 + seed)
    X, Xv, Xt = (place_on_canvas(a, CANVAS, gen) for a in (X, Xv, Xt))  # seed 0: the notebook's canvases
    out = {"seed": seed}
    for name, make in (("cnn", canvas_cnn), ("mlp", canvas_mlp)):
        torch.manual_seed(seed)
        t0 = time.perf_counter()
        model = fit(make(), X, y, Xv, yv, epochs=epochs, lr=5e-3, seed=seed)
        out[name] = accuracy(model, Xt, yt)
        out[name + "_params"] = sum(p.numel() for p in model.parameters())
        out[name + "_s"] = time.perf_counter() - t0
    return out


# ------------------------------------------------------------------ fine-tuning vs scratch


class TransferNet(nn.Module):
    """The fixed network of the transfer experiment: features (three conv blocks, a global max
    pool over positions) and classifier (linear)."""

    def __init__(self, n_classes: int = 5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(64, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


@functools.cache
def canvas_splits():
    """Train, validation and test digits on 16x16 canvases, placed once (generator seed 100, in that order)."""
    (X, y), (Xv, yv), (Xt, yt) = digits_tensors()
    gen = torch.Generator().manual_seed(100)
    return [(place_on_canvas(a, CANVAS, gen), b) for a, b in ((X, y), (Xv, yv), (Xt, yt))]


@functools.cache
def pretrain(seed: int = 0):
    (X, y), (Xv, yv), _ = canvas_splits()
    src, srcv = torch.isin(y, torch.tensor(SOURCE)), torch.isin(yv, torch.tensor(SOURCE))
    torch.manual_seed(seed)
    return fit(TransferNet(5), X[src], y[src], Xv[srcv], yv[srcv], epochs=15, lr=5e-3, seed=seed)


def few_shot(draw: int, k: int):
    (X, y), _, (Xt, yt) = canvas_splits()
    rng = np.random.default_rng(draw)
    idx = np.concatenate([rng.choice(np.flatnonzero(y.numpy() == c), k, replace=False) for c in TARGET])
    tt = torch.isin(yt, torch.tensor(TARGET))
    return (X[idx], y[idx] - 5), (Xt[tt], yt[tt] - 5)


def transfer_runs(pretrained: nn.Module, draw: int, k: int, steps: int = 60) -> dict:
    """Frozen features + new classifier, then all layers at lr/10; and the same two stages from scratch.
    Few labels: a fixed number of full-batch steps, no validation-based selection."""
    import copy

    (Xf, yf), (Xt, yt) = few_shot(draw, k)
    torch.manual_seed(draw)
    tuned = copy.deepcopy(pretrained)
    tuned.classifier = nn.Linear(64, 5)
    for p in tuned.features.parameters():
        p.requires_grad = False
    fit(tuned, Xf, yf, epochs=steps, lr=1e-2, batch_size=len(Xf), seed=draw)
    frozen = accuracy(tuned, Xt, yt)
    for p in tuned.parameters():
        p.requires_grad = True
    fit(tuned, Xf, yf, epochs=steps, lr=1e-3, batch_size=len(Xf), seed=draw)
    fine = accuracy(tuned, Xt, yt)
    torch.manual_seed(draw)
    scratch = TransferNet(5)
    fit(scratch, Xf, yf, epochs=steps, lr=1e-2, batch_size=len(Xf), seed=draw)
    fit(scratch, Xf, yf, epochs=steps, lr=1e-3, batch_size=len(Xf), seed=draw)
    return {"draw": draw, "k": k, "frozen": frozen, "fine": fine, "scratch": accuracy(scratch, Xt, yt)}


def run_finetune(args: tuple[int, int]) -> dict:
    torch.set_num_threads(1)
    draw, k = args
    return transfer_runs(pretrain(0), draw, k)


# ------------------------------------------------------------------ depth: plain vs residual


class Block(nn.Module):
    """conv-bn-relu-conv-bn, plus the input when residual, then ReLU (ResNet's basic block)."""

    def __init__(self, c: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + x if self.residual else out)


def depth_net(blocks: int, residual: bool, c: int = 16) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
                         *[Block(c, residual) for _ in range(blocks)],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))


def run_depth(args: tuple[int, int, bool], epochs: int = 4) -> dict:
    torch.set_num_threads(1)
    seed, blocks, residual = args
    (X, y), (Xv, yv), _ = digits_tensors()
    torch.manual_seed(seed)
    model = depth_net(blocks, residual)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        perm, total = torch.randperm(len(X), generator=gen), 0.0
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
    return {"seed": seed, "blocks": blocks, "residual": residual, "train_loss": total / len(X),
            "val_acc": accuracy(model, Xv, yv), "s": time.perf_counter() - t0}


# ------------------------------------------------------------------ main


def _summary(label: str, values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{label}: mean {statistics.mean(values):.4f} (sd {sd:.4f}) over {len(values)}: " + ", ".join(f"{v:.4f}" for v in values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["canvas", "finetune", "depth", "all"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--k", type=int, nargs="+", default=[5])
    ap.add_argument("--blocks", type=int, nargs="+", default=[1, 4, 10])
    args = ap.parse_args()
    with ProcessPoolExecutor(args.jobs) as pool:
        if args.what in ("canvas", "all"):
            runs = list(pool.map(run_canvas, range(args.seeds)))
            for r in runs:
                print("canvas", {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()})
            print(_summary(f"canvas {CANVAS}x{CANVAS} CNN test accuracy", [r["cnn"] for r in runs]))
            print(_summary(f"canvas {CANVAS}x{CANVAS} MLP test accuracy", [r["mlp"] for r in runs]))
        if args.what in ("finetune", "all"):
            jobs = [(d, k) for k in args.k for d in range(args.seeds)]
            runs = list(pool.map(run_finetune, jobs))
            for k in args.k:
                rk = [r for r in runs if r["k"] == k]
                for r in rk:
                    print("finetune", {a: round(v, 4) if isinstance(v, float) else v for a, v in r.items()})
                for key in ("frozen", "fine", "scratch"):
                    print(_summary(f"k={k} {key}", [r[key] for r in rk]))
                print(f"k={k} fine-tuned beats scratch on {sum(r['fine'] > r['scratch'] for r in rk)} of {len(rk)} draws")
        if args.what in ("depth", "all"):
            jobs = [(s, b, res) for b in args.blocks for res in (False, True) for s in range(args.seeds)]
            runs = list(pool.map(run_depth, jobs))
            for b in args.blocks:
                for res in (False, True):
                    rr = [r for r in runs if r["blocks"] == b and r["residual"] == res]
                    name = f"{b} blocks ({2 * b + 1} conv layers) {'residual' if res else 'plain'}"
                    print(_summary(name + " train loss", [r["train_loss"] for r in rr]))
                    print(_summary(name + " val accuracy", [r["val_acc"] for r in rr]))


if __name__ == "__main__":
    main()
