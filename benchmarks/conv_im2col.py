"""Time a NumPy im2col convolution (forward + backward) against PyTorch's CPU conv2d.

The NumPy functions below are copied from the reference solution of Module 3
(solutions/m3_cnn/m3_cnn.py: conv2d_im2col and conv2d_backward) and must stay identical to it.
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


# ---- copied from solutions/m3_cnn/m3_cnn.py (reference answers) ----
def conv2d_im2col(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> tuple[np.ndarray, tuple]:
    """Forward pass of a convolutional layer as one matrix product over all windows (im2col).

    Inputs:
        x: images (N, C, H, W).
        w: filters (F, C, kh, kw).
        b: biases (F,).
        stride: step between kernel positions, the same along both axes.
        pad: zeros added on each of the four sides.
    Returns:
        out: (N, F, H_out, W_out), equal to conv2d_naive's.
        cache: the tuple (x, w, b, stride, pad).
    """
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # windows[n, c, i, j, u, v] = xp[n, c, i*stride + u, j*stride + v]: a view, nothing is copied yet
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out, W_out = windows.shape[2], windows.shape[3]
    # one column per window: rows (c, u, v) match w.reshape(F, -1), columns (n, i, j)
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * kh * kw, N * H_out * W_out)  # the one copy
    out = w.reshape(F_, -1) @ cols + b[:, None]  # (F, N*H_out*W_out)
    out = out.reshape(F_, N, H_out, W_out).transpose(1, 0, 2, 3)
    return out, (x, w, b, stride, pad)


def conv2d_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of a convolutional layer.

    Inputs:
        dout: upstream gradient (N, F, H_out, W_out).
        cache: (x, w, b, stride, pad) as returned by conv2d_naive / conv2d_im2col, with
            x: (N, C, H, W), w: (F, C, kh, kw), b: (F,), stride and pad ints.
    Returns:
        dx: (N, C, H, W), gradient with respect to x.
        dw: (F, C, kh, kw), gradient with respect to w.
        db: (F,), gradient with respect to b.
    """
    x, w, b, stride, pad = cache
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    _, _, H_out, W_out = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :H_out, :W_out]
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * kh * kw, N * H_out * W_out)
    dout_mat = dout.transpose(1, 0, 2, 3).reshape(F_, N * H_out * W_out)
    db = dout_mat.sum(axis=1)
    dw = (dout_mat @ cols.T).reshape(w.shape)
    # col2im: each kernel offset (u, v) sends its gradient back to one strided slice of the padded
    # input; channels first, so that those slices and dcols[:, u, v] line up without a transpose
    dcols = (w.reshape(F_, -1).T @ dout_mat).reshape(C, kh, kw, N, H_out, W_out)
    dxp = np.zeros((C, N) + xp.shape[2:], dtype=dcols.dtype)
    for u in range(kh):
        for v in range(kw):
            dxp[:, :, u:u + stride * H_out:stride, v:v + stride * W_out:stride] += dcols[:, u, v]
    dx = dxp[:, :, pad:pad + H, pad:pad + W].transpose(1, 0, 2, 3)
    return dx, dw, db
# ---- end of the copy ----


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
