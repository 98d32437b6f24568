"""Diagnostic checks for the visible tests.

A failed check raises ``AssertionError`` with a message a student can act on: what was expected,
what came back, where the two first differ, the size of the difference, and a hint. Visible test
cells call these instead of a bare ``assert``, so that a wrong answer reads as a diagnosis::

    check_close("sigmoid(z)", got, expected, hint="sigmoid(z) = 1 / (1 + exp(-z))")

Tolerances default to float64 rounding (``rtol=1e-7``, ``atol=1e-9``); a check that compares
against a float32 reference says so by passing looser ones.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, NoReturn

import numpy as np

__all__ = [
    "DelegationError",
    "check_array",
    "check_close",
    "check_equal",
    "check_shape",
    "check_true",
    "compare",
    "forbidding",
    "from_scratch",
    "gradients",
]


def _as_numpy(x: Any) -> np.ndarray:
    """Turn numbers, lists, NumPy arrays and torch tensors into a NumPy array (float64 if real)."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor; torch stays optional here
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _fmt(v: Any) -> str:
    if isinstance(v, np.generic):  # show np.int64(3) as 3, the way the student wrote it
        v = v.item()
    if isinstance(v, float):
        return f"{float(v):.6g}"
    return repr(v)


def _fail(name: str, lines: list[str], hint: str | None) -> NoReturn:
    message = f"{name}: " + "\n  ".join(lines)
    if hint:
        message += f"\n  Hint: {hint}"
    raise AssertionError(message)


def check_true(condition: bool, message: str, hint: str | None = None) -> None:
    """Fail with ``message`` (and ``hint``) unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message + (f"\n  Hint: {hint}" if hint else ""))


def check_shape(name: str, got: Any, expected_shape: tuple[int, ...], hint: str | None = None) -> None:
    """Check that ``got`` is array-like with exactly ``expected_shape``."""
    if got is None:
        _fail(name, ["got None. Did the function forget to `return` its result?"], hint)
    shape = tuple(_as_numpy(got).shape)
    if shape != tuple(expected_shape):
        _fail(name, [f"shape {shape}, expected {tuple(expected_shape)}."], hint)


def check_array(name: str, got: Any, hint: str | None = None) -> np.ndarray:
    """Check that ``got`` is a NumPy array (not None, not a list) and return it."""
    if got is None:
        _fail(name, ["got None. Did the function forget to `return` its result?"], hint)
    if not isinstance(got, np.ndarray):
        _fail(name, [f"expected a NumPy array, got {type(got).__name__}."], hint)
    return got


def check_equal(name: str, got: Any, expected: Any, hint: str | None = None) -> None:
    """Exact equality for integers, strings, booleans, tuples and integer arrays."""
    if isinstance(expected, (np.ndarray, list, tuple)) and not isinstance(expected, str):
        g, e = _as_numpy(got), _as_numpy(expected)
        if g.shape != e.shape:
            _fail(name, [f"shape {g.shape}, expected {e.shape}.", f"got {got!r}", f"expected {expected!r}"], hint)
        diff = np.argwhere(g != e)
        if diff.size:
            idx = tuple(int(i) for i in diff[0])
            _fail(
                name,
                [
                    f"{len(diff)} of {e.size} entries differ; first at index {idx}: "
                    f"got {_fmt(g[idx])}, expected {_fmt(e[idx])}.",
                ],
                hint,
            )
        return
    if got != expected:
        _fail(name, [f"got {got!r}, expected {expected!r}."], hint)


def check_close(
    name: str,
    got: Any,
    expected: Any,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    hint: str | None = None,
) -> None:
    """Check that ``got`` matches ``expected`` entry by entry within ``atol + rtol * |expected|``.

    On failure the message gives the shapes, the number of entries off, the first index where they
    differ with both values, and the largest absolute difference. NaN or infinity in ``got`` is
    reported as such, because it usually means an overflow (a missing max-subtraction, say).
    """
    if got is None:
        _fail(name, ["got None. Did the function forget to `return` its result?"], hint)
    try:
        g = _as_numpy(got).astype(np.float64)
    except (TypeError, ValueError):  # strings, ragged lists, objects
        _fail(name, [f"could not read the result as numbers: {got!r}"], hint)
    e = _as_numpy(expected).astype(np.float64)
    if g.shape != e.shape:
        lines = [f"shape {g.shape}, expected {e.shape}."]
        if g.size == e.size:
            lines.append("Same number of entries: a transpose or reshape is missing or extra.")
        _fail(name, lines, hint)
    bad_finite = ~np.isfinite(g) & np.isfinite(e)
    if bad_finite.any():
        idx = tuple(int(i) for i in np.argwhere(bad_finite)[0])
        _fail(
            name,
            [
                f"{int(bad_finite.sum())} entries are nan or inf where finite values were expected; "
                f"first at index {idx}: got {_fmt(g[idx])}, expected {_fmt(e[idx])}.",
                "nan/inf usually comes from exp() overflowing or log(0).",
            ],
            hint,
        )
    with np.errstate(invalid="ignore"):
        ok = np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        bad = np.argwhere(~ok)
        idx = tuple(int(i) for i in bad[0])
        with np.errstate(invalid="ignore"):
            diff = np.abs(g - e)
        max_diff = float(np.nanmax(diff)) if diff.size else 0.0
        where = f" at index {idx}" if g.ndim else ""
        lines = [
            f"{len(bad)} of {max(e.size, 1)} entries differ; first{where}: "
            f"got {_fmt(g[idx])}, expected {_fmt(e[idx])}.",
            f"max abs diff {max_diff:.3g} (tolerance atol={atol:g}, rtol={rtol:g}).",
        ]
        if e.size > 1 and np.allclose(g, -e, rtol=rtol, atol=atol):
            lines.append("Every entry has the opposite sign: is a subtraction the wrong way round?")
        elif e.size > 1 and g.ndim == 2 and g.shape[0] == g.shape[1] and np.allclose(g, e.T, rtol=rtol, atol=atol):
            lines.append("The result equals the expected one transposed.")
        _fail(name, lines, hint)


def compare(name: str, got: Any, expected: Any, rtol: float = 1e-7, atol: float = 1e-9) -> bool:
    """Print one line comparing two arrays, the way Karpathy's ``cmp`` does, and return ``close``.

    ``dW1        | exact: False | close: True  | max abs diff: 3.1e-09``
    """
    g, e = _as_numpy(got).astype(np.float64), _as_numpy(expected).astype(np.float64)
    if g.shape != e.shape:
        print(f"{name:<12} | shape {g.shape} vs expected {e.shape}")
        return False
    exact = bool(np.array_equal(g, e))
    close = bool(np.allclose(g, e, rtol=rtol, atol=atol))
    max_diff = float(np.max(np.abs(g - e))) if g.size else 0.0
    print(f"{name:<12} | exact: {exact!s:<5} | close: {close!s:<5} | max abs diff: {max_diff:.1e}")
    return close



class DelegationError(AssertionError):
    """A from-scratch exercise called PyTorch or one of the course's reference helpers."""


_GUARDS: list[tuple[str, list[str]]] = []  # (exercise name, calls refused) of each open block
_FORBIDS: list[tuple[str, list[str]]] = []  # (exercise name, "module:qualname" of each function) of forbidding()


def _record_refusal(calls: list[str], what: str, message: str) -> NoReturn:
    """Refuse a call inside a guarded block: remember it in the block's ``calls``, then raise."""
    calls.append(what)
    raise DelegationError(message)


@contextlib.contextmanager
def _refusals(name: str, why: str) -> Iterator[list[str]]:
    """The list in which a guarded block (from_scratch, forbidding) records the calls it refused.

    A refusal raises inside the student's code, which may catch it and carry on; so when the block
    ends normally with a refusal recorded, it fails here, naming the first one.
    """
    calls: list[str] = []
    yield calls
    if calls:
        raise DelegationError(f"{name} called {calls[0]} (and caught the error). {why}")


def _refuse(what: str) -> NoReturn:
    name, calls = _GUARDS[-1]
    _record_refusal(calls, what, f"{name} called {what}. This exercise is written from scratch in NumPy: PyTorch and the "
                    "course's reference helpers are what the tests compare against, not parts of the answer.")


def _refusing_code(qualname: str):  # noqa: ANN202
    # Code with no free variables, so it can stand in any function's __code__ (pre-bound names too).
    src = f"def stub(*args, **kwargs):\n    __import__('course_utils.checks', fromlist=['_refuse'])._refuse({qualname!r})\n"
    scope: dict[str, Any] = {}
    exec(src, scope)  # noqa: S102 - fixed text built from our own function names
    return scope["stub"].__code__


@contextlib.contextmanager
def from_scratch(name: str) -> Iterator[None]:
    """Run a from-scratch exercise with PyTorch and the course's reference helpers switched off.

    Inside the block every PyTorch function and tensor method raises ``DelegationError``, and so do
    ``course_utils.gradcheck``'s ``numeric_gradient``, ``grad_check`` and ``torch_grad_check``
    (however they were imported). Tests call the student's function inside the block and compute
    their references outside it::

        with from_scratch("conv2d_naive"):
            out, _ = conv2d_naive(x, w, b, stride=1, pad=1)
        check_close("conv2d_naive(...)", out, F.conv2d(...).numpy())

    A refused call that the student's code catches and swallows still fails when the block ends.
    """
    from course_utils import gradcheck

    helpers = [gradcheck.numeric_gradient, gradcheck.grad_check, gradcheck.torch_grad_check]
    saved = [(f, f.__code__) for f in helpers]
    with _refusals(name, "This exercise is written from scratch in NumPy: PyTorch and the course's reference "
                   "helpers are not parts of the answer.") as calls:
        _GUARDS.append((name, calls))
        stack = contextlib.ExitStack()
        try:
            for f in helpers:
                f.__code__ = _refusing_code(f"course_utils.gradcheck.{f.__name__}")
            try:
                from torch.overrides import TorchFunctionMode
            except ImportError:  # torch is optional for NumPy-only use
                pass
            else:

                class _NoTorch(TorchFunctionMode):
                    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
                        label = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
                        module = getattr(func, "__module__", None)
                        _refuse(f"{module}.{label}" if module and not label.startswith(module) else f"torch {label}")

                stack.enter_context(_NoTorch())
            with stack:
                yield
        finally:
            for f, code in saved:
                f.__code__ = code
            _GUARDS.pop()


@contextlib.contextmanager
def forbidding(name: str, *functions: Any) -> Iterator[None]:
    """Run an exercise that may use PyTorch, except the few functions its tests compare against.

    Where an exercise is written with torch tensor operations but must not hand the whole job to
    the library (attention without ``F.scaled_dot_product_attention``, patches without
    ``F.unfold``), tests call the student's code inside this block::

        with forbidding("scaled_dot_product_attention", F.scaled_dot_product_attention):
            out, weights = scaled_dot_product_attention(Q, K, V)

    A call to any of ``functions`` (compared by identity, as PyTorch dispatches them) raises
    ``DelegationError``; one that the student's code catches and swallows still fails when the
    block ends. Everything else in torch works as usual.
    """
    from torch.overrides import TorchFunctionMode

    banned = set(functions)
    with _refusals(name, "That function is what the tests compare against, not part of the answer.") as calls:
        # Where a grader runs the student's code in another process, it repeats this block there.
        _FORBIDS.append((name, [f"{getattr(f, '__module__', '')}:{getattr(f, '__qualname__', '')}" for f in functions]))

        class _Refuse(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
                if func in banned:
                    label = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
                    _record_refusal(calls, label, f"{name} called {label}. This exercise asks you to write that computation "
                                    f"yourself; {label} is what the tests compare your answer against.")
                return func(*args, **(kwargs or {}))

        try:
            with _Refuse():
                yield
        finally:
            _FORBIDS.pop()


def gradients(fn: Any, *args: Any, grad_output: Any = None, **kwargs: Any) -> tuple[Any, list[Any], dict[str, Any]]:
    """Call ``fn(*args, **kwargs)`` and backpropagate from its output; return what came out.

    Returns ``(output, input_grads, param_grads)``: the output, detached (for a tuple or list, its
    first element, which is the one backpropagated); for each positional argument, its ``.grad``
    (``None`` when it is not a tensor that requires grad, or when no gradient reached it); and, when
    ``fn`` is an ``nn.Module`` (or one of its methods), ``{parameter name: .grad or None}``.
    ``grad_output`` is the gradient fed to ``backward`` (default: ones, i.e. the gradient of the
    output's sum). Gradients left from earlier calls are cleared first.

    Tests use it to check that an answer is differentiable and that its gradients are right::

        out, (g_logits, _), _ = gradients(masked_cross_entropy, logits.requires_grad_(), targets)
        check_close("gradient of the loss", g_logits, reference_grad)

    Where a grader runs the answer in another process, the backward pass runs there, beside the
    autograd graph, and only these values come back; the comparison stays with the test.
    """
    remote = getattr(type(fn), "_remote_gradients", None)
    if remote is not None:
        return remote(fn, args, kwargs, grad_output)
    return _local_gradients(fn, args, kwargs, grad_output)


def _local_gradients(fn: Any, args: Any, kwargs: Any, grad_output: Any) -> tuple[Any, list[Any], dict[str, Any]]:
    import torch

    owner = fn if isinstance(fn, torch.nn.Module) else getattr(fn, "__self__", None)
    params = dict(owner.named_parameters()) if isinstance(owner, torch.nn.Module) else {}
    for p in params.values():
        p.grad = None
    for a in args:
        if isinstance(a, torch.Tensor) and a.is_leaf:
            a.grad = None
    with torch.enable_grad():
        out = fn(*args, **kwargs)
        first = out[0] if isinstance(out, (tuple, list)) and len(out) else out
        if isinstance(first, torch.Tensor) and first.requires_grad:
            g = torch.ones_like(first) if grad_output is None else torch.as_tensor(grad_output).to(first)
            first.backward(g)

    def grad(t: Any) -> Any:
        return t.grad.detach().clone() if isinstance(t, torch.Tensor) and t.grad is not None else None

    return (first.detach() if isinstance(first, torch.Tensor) else first,
            [grad(a) for a in args], {n: grad(p) for n, p in params.items()})
