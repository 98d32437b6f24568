"""Gradient checking by central differences.

An analytic gradient is only trusted once it agrees with the slope measured by nudging each input:
``(f(x + h) - f(x - h)) / 2h``. The report names the worst entry, so a bug in one row of a weight
matrix is found in one line::

    dW      | rel error: 4.5e+00 | worst dW[2, 3]: analytic 0.412, numeric -0.118

Relative errors below about 1e-7 in float64 mean the gradient is right; around 1e-4 something
small is off (or a kink such as ReLU's was crossed); above 1e-2 it is wrong.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

__all__ = ["grad_check", "numeric_gradient", "rel_error", "torch_grad_check"]


def rel_error(a: Any, b: Any) -> float:
    """Largest relative error ``|a - b| / max(1e-8, |a| + |b|)`` over all entries."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def numeric_gradient(
    f: Callable[[np.ndarray], Any], x: np.ndarray, dout: np.ndarray | None = None, h: float = 1e-5
) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    Inputs:
        f: a function of ``x``; it may return a scalar or an array.
        x: float64 array of any shape, changed in place while measuring and restored after.
        dout: upstream gradient with the shape of ``f(x)``; ``None`` means ones (plain sum).
        h: the nudge.
    Returns:
        grad: array with the shape of ``x``.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        try:  # restore x even when f raises, so the student's array is not left nudged
            x[i] = old + h
            plus = np.asarray(f(x), dtype=np.float64)
            x[i] = old - h
            minus = np.asarray(f(x), dtype=np.float64)
        finally:
            x[i] = old
        weight = 1.0 if dout is None else dout
        grad[i] = np.sum((plus - minus) * weight) / (2 * h)
        it.iternext()
    return grad


def grad_check(
    name: str,
    analytic: Any,
    f: Callable[[np.ndarray], Any],
    x: np.ndarray,
    dout: np.ndarray | None = None,
    h: float = 1e-5,
    tol: float = 1e-6,
    verbose: bool = True,
) -> float:
    """Compare an analytic gradient with central differences; print one line; return the error.

    Raises ``AssertionError`` naming the worst entry when the relative error exceeds ``tol``.
    """
    numeric = numeric_gradient(f, x, dout, h)
    if analytic is None:
        raise AssertionError(f"{name}: got None. Did the backward function forget to return it?")
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise AssertionError(f"{name}: shape {analytic.shape}, expected {numeric.shape} (the shape of the input).")
    err = np.abs(analytic - numeric) / np.maximum(1e-8, np.abs(analytic) + np.abs(numeric))
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape)) if err.size else ()
    error = float(err.max()) if err.size else 0.0
    where = f"{name}[{', '.join(map(str, worst))}]"
    line = (
        f"{name:<8}| rel error: {error:.1e} | worst {where}: "
        f"analytic {analytic[worst]:.6g}, numeric {numeric[worst]:.6g}"
    )
    if verbose:
        print(line)
    if error > tol:
        hint = ""
        if err.size > 1 and np.allclose(analytic, -numeric, rtol=1e-4, atol=1e-7):
            hint = "\n  Hint: the sign is flipped everywhere: did you subtract in the wrong order?"
        elif np.allclose(analytic, 0):
            hint = "\n  Hint: the analytic gradient is all zeros: is it computed but not returned or accumulated?"
        raise AssertionError(f"gradient check failed: {line} (tolerance {tol:g}){hint}")
    return error


def torch_grad_check(module: Any, *inputs: Any, tol: float = 1e-6) -> bool:
    """Check a PyTorch module's backward against finite differences with ``torch.autograd.gradcheck``.

    A float64 copy of the module is checked, as gradcheck needs, so the caller's module keeps its
    dtype; the inputs are cast to float64 copies with ``requires_grad``.
    """
    import copy

    import torch

    module = copy.deepcopy(module).double()
    xs = tuple(x.detach().double().requires_grad_(True) for x in inputs)
    return bool(torch.autograd.gradcheck(lambda *a: module(*a), xs, eps=1e-6, atol=tol, rtol=1e-4))
