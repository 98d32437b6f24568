"""Data-parallel training on several CPU processes with ``torch.distributed`` (gloo backend).

A notebook cannot hand a function it defined to processes it starts (``spawn`` pickles functions
by module and name, and a notebook is no module), so the worker code lives here. Module 6 calls
``train_data_parallel`` with the *source text* of the student's ``average_gradients``: each worker
builds the same small network from the same initial weights, computes the gradient of the mean
loss on its own equal share of every batch, gathers every worker's gradients with
``dist.all_gather``, and replaces its own by ``average_gradients(grads_per_worker)`` before an SGD
step. (Real data-parallel training, ``torch.nn.parallel.DistributedDataParallel``, computes the same
mean with one ``dist.all_reduce`` per gradient bucket, which never holds every worker's copy at
once; gathering keeps the student's function a plain function of plain tensors.) The workers meet
on a free TCP port of the loopback interface chosen at run time; every wait is bounded by a timeout,
and the workers pass a barrier before the process group is destroyed.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import socket
import textwrap
import time
from datetime import timedelta

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["free_port", "make_mlp", "sgd_reference", "train_data_parallel"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_mlp(sizes: list[int]) -> nn.Sequential:
    """``Linear(sizes[0], sizes[1]), ReLU, ..., Linear(sizes[-2], sizes[-1])`` in float64."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _batches(n: int, batch_size: int, steps: int, seed: int) -> list[torch.Tensor]:
    """The same sequence of batch indices in every process (a seeded generator, no shared state)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(n, generator=g)[:batch_size] for _ in range(steps)]


def sgd_reference(sizes: list[int], state: dict, X: torch.Tensor, y: torch.Tensor, steps: int, lr: float,
                  batch_size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """One process, whole batches: the parameters that data-parallel training must reproduce."""
    model = make_mlp(sizes)
    model.load_state_dict(state)
    for idx in _batches(len(X), batch_size, steps, seed):
        model.zero_grad()
        F.cross_entropy(model(X[idx]), y[idx]).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(rank: int, world_size: int, port: int, source: str, name: str, sizes: list[int], state: dict,
            X, y, steps: int, lr: float, batch_size: int, seed: int,
            timeout: float, results: mp.Queue) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)  # two workers on two cores; more threads would only fight
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"  # the grading sandbox has only the loopback interface
    try:
        namespace: dict = {"torch": torch, "nn": nn, "F": F}
        exec(compile(textwrap.dedent(source), f"<{name} from the notebook>", "exec"), namespace)
        average = namespace[name]
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world_size, timeout=timedelta(seconds=timeout))
        model = make_mlp(sizes)
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        share = batch_size // world_size
        for idx in _batches(len(X), batch_size, steps, seed):
            mine = idx[rank * share:(rank + 1) * share]  # worker r's equal share of the batch
            model.zero_grad()
            F.cross_entropy(model(X[mine]), y[mine]).backward()
            grads_per_worker: list[list[torch.Tensor]] = [[] for _ in range(world_size)]
            for p in model.parameters():
                copies = [torch.empty_like(p.grad) for _ in range(world_size)]
                dist.all_gather(copies, p.grad)
                for r in range(world_size):
                    grads_per_worker[r].append(copies[r])
            averaged = average(grads_per_worker)
            with torch.no_grad():
                for p, g in zip(model.parameters(), averaged):
                    p -= lr * torch.as_tensor(g, dtype=p.dtype).reshape(p.shape)
        dist.barrier()  # nobody leaves while another still needs the group
        results.put((rank, {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}, None))
        dist.destroy_process_group()
    except Exception as exc:  # report instead of dying silently; the parent raises it
        results.put((rank, None, f"{type(exc).__name__}: {exc}"))


def train_data_parallel(average_source: str, sizes: list[int], state: dict, X: torch.Tensor, y: torch.Tensor,
                        steps: int, lr: float, batch_size: int, world_size: int = 2, seed: int = 0,
                        timeout: float = 60.0, name: str = "average_gradients") -> list[dict[str, torch.Tensor]]:
    """Train ``make_mlp(sizes)`` from ``state`` with SGD on ``world_size`` processes.

    Inputs:
        average_source: source text of a function ``name(grads_per_worker) -> grads`` (it may use
            ``torch``; it must not need anything else from the notebook).
        sizes, state: the network's layer sizes and initial ``state_dict`` (float64).
        X: (N, D) float64 inputs, y: (N,) int64 labels.
        steps, lr, batch_size: SGD settings; ``batch_size`` must divide by ``world_size``.
        timeout: seconds any one wait (start-up, a collective, a result) may take.
    Returns:
        the final ``state_dict`` of every worker, in rank order.
    """
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} must be a multiple of world_size {world_size}")
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = free_port()
    # NumPy arrays, not tensors, cross the process boundary: torch would share a tensor's memory
    # through a file descriptor that dies with the process that sent it
    arrays = {k: v.detach().cpu().numpy().copy() for k, v in state.items()}
    X_np, y_np = X.detach().cpu().numpy().copy(), y.detach().cpu().numpy().copy()
    procs = [ctx.Process(target=_worker, args=(r, world_size, port, average_source, name, sizes, arrays, X_np, y_np,
                                               steps, lr, batch_size, seed, timeout, results), daemon=True)
             for r in range(world_size)]
    for p in procs:
        p.start()
    got: dict[int, dict] = {}
    errors: list[str] = []
    deadline = time.monotonic() + timeout + 30
    try:
        while len(got) < world_size and not errors:
            try:
                rank, params, error = results.get(timeout=0.5)
            except queue.Empty:
                dead = [r for r, p in enumerate(procs) if p.exitcode not in (None, 0)]
                if dead:
                    errors.append(f"worker {dead[0]} exited with code {procs[dead[0]].exitcode} before reporting")
                elif time.monotonic() > deadline:
                    errors.append(f"no result within {timeout + 30:.0f} s")
                continue
            if error:
                errors.append(f"worker {rank}: {error}")  # the others would only wait for it: stop
            else:
                got[rank] = params
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    if errors or len(got) != world_size:
        raise RuntimeError("data-parallel training failed: " + "; ".join(errors or ["a worker did not report"]))
    return [{k: torch.from_numpy(v) for k, v in got[r].items()} for r in range(world_size)]
