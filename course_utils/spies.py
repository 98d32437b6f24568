"""Test doubles that let a test on a CPU-only machine see whether a training loop moves its batches.

On a machine without a GPU, ``xb.to(device)`` changes nothing visible, so a loop that forgets it
passes every numeric test and then fails on the first GPU. The tests hand the loop a loader of
``DeviceSpy`` batches: a spy records every ``.to(...)`` called on it and turns into a plain tensor
there, so a model or loss that still receives a spy got a batch that was never moved.

Where a grader runs the student's loop in another process, the spies, the model and the loss go
there by value and come back with their counters; the verdict is taken here, by
``check_batches_moved``.
"""
from __future__ import annotations

import secrets
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch._C import DisableTorchFunctionSubclass

MOVES: dict[str, list[str]] = {}   # tag -> devices the spies of one check were moved to, in this process


class DeviceSpy(torch.Tensor):
    """A CPU tensor that records where it is moved (under its ``tag``); ``.to`` returns a plain tensor."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN206
        kwargs = kwargs or {}
        with DisableTorchFunctionSubclass():
            out = func(*args, **kwargs)
            if func is torch.Tensor.to and isinstance(args[0], DeviceSpy):
                tag = getattr(args[0], "tag", "")
                dev = args[1] if len(args) > 1 else kwargs.get("device")
                MOVES.setdefault(tag, []).append(str(dev))
                if isinstance(out, DeviceSpy):
                    out = out.as_subclass(torch.Tensor)
        return out


def spy(t: torch.Tensor, tag: str) -> DeviceSpy:
    s = t.as_subclass(DeviceSpy)
    s.tag = tag
    return s


def plain(t: Any) -> Any:
    return t.as_subclass(torch.Tensor) if isinstance(t, DeviceSpy) else t


class SpyModel(nn.Module):
    """A linear model that counts the batches it received without their having been moved."""

    def __init__(self, d_in: int, c: int, tag: str):
        super().__init__()
        self.lin = nn.Linear(d_in, c).double()
        self.tag, self.unmoved, self.calls, self.moves = tag, 0, 0, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.unmoved += isinstance(x, DeviceSpy)
        self.moves = list(MOVES.get(self.tag, []))
        return self.lin(plain(x))


class SpyLoss(nn.Module):
    """Cross-entropy that counts the label batches it received without their having been moved."""

    def __init__(self, tag: str):
        super().__init__()
        self.tag, self.unmoved, self.calls, self.moves = tag, 0, 0, []

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.unmoved += isinstance(y, DeviceSpy)
        self.moves = list(MOVES.get(self.tag, []))
        return F.cross_entropy(plain(logits), plain(y))


def check_batches_moved(fn_name: str, run: Callable[..., Any], n_batches: int = 3) -> None:
    """``run(model, loader, loss_fn, device)`` calls the student's loop once over ``n_batches`` batches;
    every input and label batch must go through ``.to(device)`` with the device it was given."""
    from course_utils.checks import check_equal, check_true

    tag = secrets.token_hex(8)
    gen = torch.Generator().manual_seed(0)
    n = 4 * n_batches - 2
    X = torch.randn(n, 4, dtype=torch.float64, generator=gen)
    y = torch.randint(0, 3, (n,), generator=gen)
    loader = [(spy(X[i:i + 4], tag), spy(y[i:i + 4], tag)) for i in range(0, n, 4)]
    model, loss = SpyModel(4, 3, tag), SpyLoss(tag)
    device = torch.device("cpu", 0)  # the same CPU, spelled so that a hard-coded "cpu" shows
    run(model, loader, loss, device)
    check_equal(f"{fn_name}: batches the model received", model.calls, n_batches,
                hint="run the model once on every batch of the loader")
    check_equal(f"{fn_name}: batches of inputs the model received without .to(device)", model.unmoved, 0,
                hint="move each batch to the device first: xb, yb = xb.to(device), yb.to(device)")
    check_equal(f"{fn_name}: batches of labels the loss received without .to(device)", loss.unmoved, 0,
                hint="move the labels too: yb.to(device)")
    moves = max(model.moves, loss.moves, key=len)
    check_true(len(moves) >= 2 * n_batches and all(m == str(device) for m in moves),
               f"{fn_name}: the batches were moved to {sorted(set(moves))}, expected the device argument ({device})",
               hint="use the device argument: xb.to(device), not a device written into the function")
