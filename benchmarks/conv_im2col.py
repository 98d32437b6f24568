"""Time a NumPy im2col convolution (forward + backward) against PyTorch's CPU conv2d.

The NumPy functions are Module 3's reference answers, read from solutions/m3_cnn/m3_cnn.py
(conv2d_im2col and conv2d_backward), so the benchmark times exactly what the notebook teaches.
Problem size: N=64 images of C=8 channels, 16x16 pixels, F=16 filters of 3x3, stride 1, pad 1.
Both sides get the same number of threads, from COURSE_NUM_THREADS (default 2).

    python benchmarks/conv_im2col.py [--repeats 30] [--dtype float32]
"""
from __future__ import annotations

import argparse
import os

THREADS = os.environ.get("COURSE_NUM_THREADS", "2")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, THREADS)  # NumPy's BLAS reads these at import time

import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402


def _reference_answers(*names: str) -> dict:
    """Load Module 3's reference answers from its script, so the benchmark always times exactly
    what the notebook teaches (solutions/m3_cnn/m3_cnn.py)."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from autograder.authoring import parse_script
    from autograder.examples import solution_text

    cells = {c.grade_id: c for c in parse_script(root / "solutions" / "m3_cnn" / "m3_cnn.py")}
    namespace = {"np": np, "sliding_window_view": sliding_window_view}
    for name in names:
        exec(compile(solution_text(cells[name].source), f"<m3_cnn {name}>", "exec"), namespace)
    return {name: namespace[name] for name in names}


_answers = _reference_answers("conv2d_im2col", "conv2d_backward")
conv2d_im2col, conv2d_backward = _answers["conv2d_im2col"], _answers["conv2d_backward"]


def median_ms(fns: list, repeats: int) -> list[float]:
    """Median wall time in ms of each function, timed in alternation so both see the same load."""
    for fn in fns:
        fn()  # warm up (allocations, thread pools)
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [1e3 * float(np.median(ts)) for ts in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args()
    torch.set_num_threads(int(THREADS))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8, 16, 16)).astype(args.dtype)
    w = rng.standard_normal((16, 8, 3, 3)).astype(args.dtype)
    b = rng.standard_normal(16).astype(args.dtype)
    dout = rng.standard_normal((64, 16, 16, 16)).astype(args.dtype)

    # Correctness first: the timing means nothing if the two disagree.
    xt, wt, bt = (torch.from_numpy(a).double().requires_grad_(True) for a in (x, w, b))
    ref = F.conv2d(xt, wt, bt, stride=1, padding=1)
    ref.backward(torch.from_numpy(dout).double())
    out, cache = conv2d_im2col(x, w, b, 1, 1)
    grads = conv2d_backward(dout, cache)
    tol = 1e-3 if args.dtype == "float32" else 1e-9
    for name, got, exp in [("out", out, ref), ("dx", grads[0], xt.grad), ("dw", grads[1], wt.grad), ("db", grads[2], bt.grad)]:
        err = np.max(np.abs(got - exp.detach().numpy())) / (1 + np.max(np.abs(exp.detach().numpy())))
        assert err < tol, f"{name} disagrees with PyTorch (relative error {err:.1e})"

    def numpy_step() -> None:
        out, cache = conv2d_im2col(x, w, b, 1, 1)
        conv2d_backward(dout, cache)

    xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    dout_t = torch.from_numpy(dout)

    def torch_step() -> None:
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, stride=1, padding=1).backward(dout_t)

    t_np, t_torch = median_ms([numpy_step, torch_step], args.repeats)
    print(f"threads: {THREADS} | dtype: {args.dtype} | N=64, C=8, 16x16, F=16, 3x3, stride 1, pad 1")
    print(f"NumPy im2col forward+backward: {t_np:.2f} ms (median of {args.repeats})")
    print(f"PyTorch conv2d forward+backward: {t_torch:.2f} ms (median of {args.repeats})")
    print(f"ratio NumPy / PyTorch: {t_np / t_torch:.2f}x")


if __name__ == "__main__":
    main()
