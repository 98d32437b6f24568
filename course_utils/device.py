"""Seeding, torch's thread count, and the choice between CPU and GPU.

Every notebook starts with ``setup()``: it seeds Python, NumPy and torch so reruns print the same
numbers, sets torch's thread count from ``COURSE_NUM_THREADS`` (default 2; the course is timed on
two cores, and two threads per notebook keep parallel grading predictable), and returns the
device: CUDA when a GPU is present, else the CPU. ``COURSE_DEVICE=cpu`` forces the CPU;
``COURSE_DEVICE=cuda`` insists on the GPU and fails at once, with the reason, where there is none.
"""
from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["configure_threads", "get_device", "seed_everything", "setup", "THREADS_ENV"]

THREADS_ENV = "COURSE_NUM_THREADS"
DEFAULT_THREADS = 2


def configure_threads() -> int:
    """Set torch's and the BLAS/OpenMP libraries' threads from ``COURSE_NUM_THREADS`` (default 2).

    NumPy's BLAS matters as much as torch: left unlimited on a busy two-core machine, a small
    matrix loop can run many times slower. Returns the count.
    """
    raw = os.environ.get(THREADS_ENV, str(DEFAULT_THREADS))
    try:
        n = int(raw)
        if n < 1:
            raise ValueError
    except ValueError:
        raise ValueError(f"{THREADS_ENV} must be a positive integer, got {raw!r}") from None
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    try:
        import torch
    except ImportError:
        return n
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy's legacy global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(seed)


def get_device(prefer: str | None = None) -> str:
    """Return ``"cuda"`` when a GPU is available (and not overridden), else ``"cpu"``.

    An explicit CUDA choice (``prefer`` or ``COURSE_DEVICE``) that this machine cannot honour
    raises ``RuntimeError`` saying why, instead of failing later inside a training loop.
    """
    choice = prefer or os.environ.get("COURSE_DEVICE")
    try:
        import torch
    except ImportError:
        torch = None
    if choice:
        if choice.startswith("cuda") and (torch is None or not torch.cuda.is_available()):
            why = ("torch is not installed" if torch is None else
                   f"torch {torch.__version__} is a CPU-only build" if torch.version.cuda is None else
                   f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no usable GPU")
            raise RuntimeError(f"COURSE_DEVICE={choice} asks for the GPU, but {why}. "
                               "Unset COURSE_DEVICE to use the CPU.")
        return choice
    if torch is None:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def setup(seed: int = 0, verbose: bool = True) -> str:
    """Seed everything, set the thread count, and return the device to use."""
    threads = configure_threads()
    seed_everything(seed)
    device = get_device()
    if verbose:
        print(f"device: {device} | torch threads: {threads} | seed: {seed}")
    return device
