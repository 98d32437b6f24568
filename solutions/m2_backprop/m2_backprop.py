# %% markdown
# # Module 2: backpropagation and training
#
# Module 1 built neurons and networks that compute an output from an input. This module teaches
# them to learn. We start with a single derivative measured by nudging a number, grow it into the
# chain rule on a small computation graph, train one neuron (logistic regression), and then
# backpropagate through a whole network, layer by layer, checking every gradient against the
# slope we can measure numerically. The second half is about the loop around the gradient:
# gradient descent and its faster relatives (momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW),
# PyTorch's autograd and training loop, the two bugs everyone makes once, and the tools that keep
# a network trainable and honest: batch and layer normalisation, dropout, weight decay and early
# stopping. It ends with a network that reads handwritten digits with at least 97% accuracy.
#
# Every exercise is a function with a docstring that gives its shapes. Write your code between
# the `# YOUR CODE HERE` line and the end of the cell, run the test cell below it, and read its
# message if it fails: it says what it expected, what it got, and where the two differ.
#
# Conventions used throughout: a batch of examples is stored **one example per row**, so a layer
# computes `X @ W + b` with `X` of shape `(N, D)` and `W` of shape `(D, M)`. This is PyTorch's
# (and NumPy's) natural layout; textbooks that store examples as columns write `W x` instead, and
# their equations appear here transposed.
#
# The handwritten digits come in three parts: we **train** on the training images, watch and
# choose (learning rates, the epoch to keep) on the **validation** images, and touch the **test**
# images once, at the very end, to report how well the final network does on data that played no
# part in any decision. Every curve below says which split it shows.

# %% code
import course_utils  # the student notebook installs it here first where it is missing (course-grader release)
import numpy as np
import torch
import matplotlib.pyplot as plt
from course_utils import check_close, check_equal, check_shape, check_true, setup
from course_utils.plotting import style
style()
device = setup(seed=0)

# %% code
import copy
import time

import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_utils import compare, grad_check, rel_error
from course_utils.checks import from_scratch
from course_utils.data import load_digits_split, make_blobs
from course_utils.plotting import OKABE_ITO, LiveCurves, plot_curves, plot_decision_boundary
from course_utils.widgets import draw_once, dropdown, float_slider, slider_plot

torch.set_default_dtype(torch.float32)
digits = load_digits_split(val_fraction=0.2)
print(f"digits: {len(digits.X_train)} training, {len(digits.X_val)} validation and {len(digits.X_test)} test images "
      "of 8x8 = 64 pixels")

# %% markdown
# ## 1. A derivative is the slope you see when you nudge the input
#
# Take a function $f(a)$ and a point $a$. Move $a$ by a tiny amount $h$ and watch how much $f$
# moves. The ratio of the two movements is the slope, and as $h$ shrinks it becomes the
# derivative:
#
# $$\frac{df}{da} \approx \frac{f(a + h) - f(a)}{h}.$$
#
# For $f(a) = 3a$ the output always moves three times as far as the input, so the slope is 3
# everywhere. For $f(a) = a^2$ the slope depends on where you stand: at $a = 2$ a nudge of 0.001
# moves $f$ from 4 to 4.004001, a slope of about $4 = 2a$. For $a^3$ the slope is $3a^2$ (12 at
# $a = 2$), and for $\ln a$ it is $1/a$ (0.5 at $a = 2$). The table below measures each slope by
# nudging and compares it with the formula.

# %% code
functions = {
    "3a": (lambda a: 3 * a, lambda a: 3.0),
    "a^2": (lambda a: a**2, lambda a: 2 * a),
    "a^3": (lambda a: a**3, lambda a: 3 * a**2),
    "ln a": (lambda a: np.log(a), lambda a: 1 / a),
}
a, h = 2.0, 1e-3
print(f"{'f(a)':<6} {'f(2)':>8} {'f(2 + h)':>10} {'measured slope':>15} {'formula':>8}")
for name, (f, slope) in functions.items():
    print(f"{name:<6} {f(a):>8.4f} {f(a + h):>10.6f} {(f(a + h) - f(a)) / h:>15.4f} {slope(a):>8.4g}")
del f, slope  # the loop's last pair is ln a: left bound, it would answer a later exercise

# %% code tags=demo
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
grid = np.linspace(0.3, 3.5, 200)
for ax, (name, (f, slope)) in zip(axes, functions.items()):
    ax.plot(grid, f(grid), color=OKABE_ITO[0], label=f"f(a) = {name}")
    ax.plot(grid, f(a) + slope(a) * (grid - a), "--", color=OKABE_ITO[1], label=f"tangent, slope {slope(a):.3g}")
    ax.plot([a], [f(a)], "o", color=OKABE_ITO[3])
    ax.set(title=f"f(a) = {name}", xlabel="a", ylabel="f(a)", ylim=(f(grid).min() - 1, f(grid).max() + 1))
    ax.legend(fontsize=8, loc="upper left")
fig.suptitle("The derivative at a = 2 is the slope of the tangent line")
fig.tight_layout()
plt.show()
del f, slope

# %% markdown
# ## 2. Computation graphs and the chain rule
#
# A network computes its loss in small steps. Write each step as a node and you have a
# **computation graph**. Take
#
# $$J(a, b, c) = 3(a + bc), \qquad u = bc, \quad v = a + u, \quad J = 3v.$$
#
# ```
#   b ──┐
#       ├─[ u = b·c ]──┐
#   c ──┘              ├─[ v = a + u ]──[ J = 3v ]── J
#   a ─────────────────┘
# ```
#
# The forward pass goes left to right: with $a = 5, b = 3, c = 2$ we get $u = 6$, $v = 11$,
# $J = 33$. The backward pass goes right to left and asks, at each node, "if this value moved a
# little, how much would $J$ move?" The **chain rule** says that a change passes through a chain
# of steps by multiplying the local slopes. For example, $b$ reaches $J$ only through $u$ and then
# $v$, so
#
# $$\frac{\partial J}{\partial b} = \frac{\partial J}{\partial v}\,\frac{\partial v}{\partial u}\,\frac{\partial u}{\partial b}.$$
#
# Each factor is the slope of one small node, which you can read off its formula.
#
# ### Exercise 1: `graph_grads`
#
# Work out the three local slopes of each path by hand (start at $J$ and walk back: what is
# $\partial J / \partial v$? $\partial v / \partial a$? $\partial u / \partial c$?), multiply them,
# and return the three partial derivatives for any $a, b, c$. You can check a value by nudging:
# change $b$ by 0.001 and see how far $J$ moves.

# %% solution id=graph_grads
def graph_grads(a: float, b: float, c: float) -> tuple[float, float, float]:
    """Partial derivatives of J = 3 * (a + b * c), found by the chain rule.

    Inputs:
        a, b, c: numbers.
    Returns:
        (dJ_da, dJ_db, dJ_dc): three numbers.
    """
    ### BEGIN SOLUTION
    dJ_dv = 3.0
    dJ_da = dJ_dv * 1.0
    dJ_du = dJ_dv * 1.0
    dJ_db = dJ_du * c
    dJ_dc = dJ_du * b
    return dJ_da, dJ_db, dJ_dc
    ### END SOLUTION

# %% tests id=test_graph_grads points=1
grads = graph_grads(5.0, 3.0, 2.0)
check_equal("len(graph_grads(...))", len(grads), 3, hint="return a tuple (dJ_da, dJ_db, dJ_dc)")
check_close("graph_grads(5, 3, 2)", np.array(grads, dtype=float), [3.0, 6.0, 9.0],
            hint="dJ/db = dJ/dv * dv/du * du/db: what is the slope of u = b * c with respect to b?")
print("graph_grads: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(21)
for _ in range(5):
    a0, b0, c0 = rng.standard_normal(3) * 4
    ta, tb, tc = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (a0, b0, c0))
    (3 * (ta + tb * tc)).backward()
    expected = [ta.grad.item(), tb.grad.item(), tc.grad.item()]
    with from_scratch("graph_grads"):
        got = graph_grads(a0, b0, c0)
    check_close("graph_grads(a, b, c)", np.array(got, dtype=float), expected)
### END HIDDEN TESTS

# %% markdown
# **The answer, derived.** Walking back from $J = 3v$: $\partial J / \partial v = 3$; $v = a + u$ passes
# a gradient through unchanged, so $\partial J / \partial a = \partial J / \partial u = 3$; and
# $u = bc$ hands each input the *other* one, so $\partial J / \partial b = 3c$ and
# $\partial J / \partial c = 3b$. At $(5, 3, 2)$ that is $3, 6, 9$: raise $b$ from 3 to 3.001 and $J$
# goes from 33 to 33.006, six times the nudge. Backpropagation is exactly this, done for millions
# of nodes: each node multiplies the gradient arriving from its output by its own local slope and
# passes the product to its inputs.

# %% markdown
# PyTorch builds the same graph as it computes, and walks it backwards when asked. Each result
# remembers the operation that made it (`grad_fn`), and `backward()` applies the chain rule
# through those records, leaving $\partial J/\partial x$ in `x.grad` for every input that was
# created with `requires_grad=True`.

# %% code
ta = torch.tensor(5.0, requires_grad=True)
tb = torch.tensor(3.0, requires_grad=True)
tc = torch.tensor(2.0, requires_grad=True)
J = 3 * (ta + tb * tc)
print("J =", J.item(), "| made by", type(J.grad_fn).__name__,
      "<-", [type(f).__name__ for f, _ in J.grad_fn.next_functions if f is not None])
J.backward()
print("autograd: dJ/da, dJ/db, dJ/dc =", ta.grad.item(), tb.grad.item(), tc.grad.item())

# %% markdown
# ## 3. Gradient checking
#
# An analytic gradient is easy to get subtly wrong (a missing transpose, a factor of $N$). The
# cure is to compare it with the slope measured numerically. The **central difference**
#
# $$\frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}$$
#
# nudges one entry $x_i$ both ways. Its error shrinks like $h^2$, while the one-sided
# $(f(x + h e_i) - f(x)) / h$ only shrinks like $h$: for $f(x) = x^3$ at $x = 2$ with
# $h = 10^{-5}$, the one-sided slope is off by about $3 \cdot 10^{-5} \cdot 2 = 6 \cdot 10^{-5}$,
# the central one by about $10^{-10}$. Making $h$ very small does not help forever: below about
# $10^{-6}$ the subtraction of two nearly equal floating-point numbers loses more digits than the
# formula gains (see the plot after the exercise).
#
# We compare an analytic gradient $g_a$ with a numeric one $g_n$ by the **relative error**
# $\max_i |g_a - g_n| / (|g_a| + |g_n|)$, which does not care about the overall scale. In float64,
# below $10^{-7}$ means correct; around $10^{-4}$ is suspicious (or a ReLU kink was crossed);
# above $10^{-2}$ is wrong. `course_utils.rel_error` and `course_utils.grad_check` compute it.
#
# ### Exercise 2: `numerical_gradient`
#
# Write the central difference for every entry of an array of any shape. The tests use your
# function on its own: calling `course_utils`' own gradient helpers or PyTorch inside it is refused.

# %% solution id=numerical_gradient
def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of a scalar function f at x by central differences, one entry at a time.

    grad[i] = (f(x with x[i] + h) - f(x with x[i] - h)) / (2 h)

    Inputs:
        f: a function that takes an array shaped like x and returns a number.
        x: float64 array of any shape. It must hold the same values when you return.
        h: the nudge.
    Returns:
        grad: float64 array with the shape of x.
    Hint: np.ndindex(x.shape) visits every index of an array of any shape.
    """
    ### BEGIN SOLUTION
    grad = np.zeros(x.shape, dtype=np.float64)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        f_plus = float(f(x))
        x[i] = old - h
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad
    ### END SOLUTION

# %% tests id=test_numerical_gradient points=1
x = np.array([1.0, -2.0, 3.0])
x_before = x.copy()
g = numerical_gradient(lambda v: np.sum(v**3), x)
check_shape("numerical_gradient(f, x)", g, x.shape)
check_close("numerical_gradient of sum(x^3)", g, 3 * x_before**2, rtol=1e-8, atol=1e-8,
            hint="a one-sided difference (f(x+h) - f(x)) / h is off by about 3*h*x here; use both sides")
check_equal("x after numerical_gradient", x, x_before, hint="put every entry of x back after nudging it")
print("numerical_gradient: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(31)
for shape in [(1,), (4,), (3, 2), (2, 3, 2)]:
    x = rng.standard_normal(shape) * 1.5
    x_before = x.copy()
    A = rng.standard_normal(x.size)
    f = lambda v: float(np.sum(v**3) + np.sin(v).ravel() @ A)
    expected = 3 * x_before**2 + (np.cos(x_before).ravel() * A).reshape(shape)
    with from_scratch("numerical_gradient"):
        g = numerical_gradient(f, x)
    check_close("numerical_gradient(f, x)", g, expected, rtol=1e-7, atol=1e-8)
    check_equal("x after numerical_gradient", x, x_before)
# For a cubic the central difference is exactly the derivative plus h^2 (the third derivative, 6, times h^2 / 6):
# with h = 0.5 every number below is exact in binary, so an answer that ignores h is off by 0.25.
x = np.array([1.0, 2.0, -3.0])
with from_scratch("numerical_gradient"):
    g = numerical_gradient(lambda v: float(np.sum(v**3)), x, h=0.5)
check_close("numerical_gradient of sum(x^3) with h=0.5", g, 3 * x**2 + 0.25, rtol=1e-12, atol=1e-12,
            hint="use the h argument: with h = 0.5 the central difference of x^3 is 3x^2 + h^2 = 3x^2 + 0.25")
x = np.array([2.0])
with from_scratch("numerical_gradient"):
    g = numerical_gradient(lambda v: float(v[0] ** 4), x, h=1e-3)
check_close("numerical_gradient uses h", g, [4 * 8 + 4 * 2 * 1e-6], rtol=1e-9, atol=1e-9)
### END HIDDEN TESTS

# %% code tags=demo
hs = np.logspace(-12, -1, 45)
x0 = 2.0
central = [abs((((x0 + h) ** 3) - ((x0 - h) ** 3)) / (2 * h) - 3 * x0**2) for h in hs]
forward = [abs((((x0 + h) ** 3) - x0**3) / h - 3 * x0**2) for h in hs]
fig, ax = plt.subplots(figsize=(5.5, 3.6))
ax.loglog(hs, forward, label="one-sided (f(x+h) - f(x)) / h", color=OKABE_ITO[1])
ax.loglog(hs, central, label="central (f(x+h) - f(x-h)) / 2h", color=OKABE_ITO[0])
ax.set(title="Error of a numeric derivative of $x^3$ at x = 2", xlabel="nudge h", ylabel="absolute error")
ax.legend(fontsize=9)
plt.show()

# %% markdown
# On the right of the plot the formula's error dominates (slope 1 for one-sided, 2 for central);
# on the left, floating-point cancellation does. Around $h = 10^{-5}$ the central difference is
# accurate to about ten digits, which is why it is the default.

# %% markdown
# ## 4. Logistic regression: one neuron that learns
#
# One neuron with a sigmoid output is **logistic regression**. For an example $x$ (a row of $n$
# features) it computes
#
# $$z = x \cdot w + b, \qquad a = \sigma(z) = \frac{1}{1 + e^{-z}},$$
#
# and reads $a$ as the probability that the label $y$ is 1. The **loss** measures how wrong one
# prediction is; for probabilities the right one is the **binary cross-entropy**
#
# $$\mathcal{L}(a, y) = -\big(y \ln a + (1 - y) \ln(1 - a)\big),$$
#
# small when $a$ is close to $y$ and huge when a confident prediction is wrong. The **cost** is the
# average loss over the $m$ training examples, $J(w, b) = \frac{1}{m}\sum_i \mathcal{L}(a^{(i)}, y^{(i)})$;
# it is what we minimise.
#
# The chain rule through the graph $w, b \to z \to a \to \mathcal{L}$ gives
# $\frac{\partial \mathcal{L}}{\partial a} = -\frac{y}{a} + \frac{1-y}{1-a}$ and
# $\frac{\partial a}{\partial z} = a(1 - a)$. Their product simplifies to something remarkably
# clean:
#
# $$dz = \frac{\partial \mathcal{L}}{\partial z} = a - y, \qquad dw = x\, dz, \qquad db = dz.$$
#
# The cost's gradients are the averages of these over the $m$ examples. The first way anyone
# writes that is a Python loop over the examples, adding up each one's loss, $dw$ and $db$. A loop
# spends most of its time in the Python interpreter, not in arithmetic. **Vectorising** means
# writing the same computation as a few operations on whole arrays: stack the examples as rows of
# $X$ (shape $(m, n)$) and the $m$ values of $z$ are one matrix-vector product, $z = Xw + b$ of
# shape $(m,)$. The shapes then tell you how to combine the $m$ values of $dz$ with $X$ into a
# $dw$ of shape $(n,)$.
#
# ### Exercise 3: `logistic_cost_and_grads`
#
# Write the vectorised cost and gradients. (If it helps, write the loop first in a scratch cell and
# compare.) You may assume the test data keep $|z|$ below about 20, so the plain formula for the
# cost does not overflow. (A production version works from $z$ directly with
# `np.logaddexp(0, -z)` to be safe at any scale.)

# %% code
def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), entry by entry."""
    return 1.0 / (1.0 + np.exp(-z))

# %% solution id=logistic_cost_and_grads
def logistic_cost_and_grads(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Cost (mean binary cross-entropy) of logistic regression and its gradients, vectorised.

    Inputs:
        w: weights, shape (n,).
        b: bias, a number.
        X: examples as rows, shape (m, n).
        y: labels in {0, 1}, shape (m,).
    Returns:
        cost: a number, the mean over the m examples of -(y ln a + (1 - y) ln(1 - a)), a = sigmoid(X w + b).
        dw: dcost/dw, shape (n,).
        db: dcost/db, a number.
    Hint: no Python loop is needed: X @ w gives all m values of z at once.
    """
    ### BEGIN SOLUTION
    m = X.shape[0]
    a = sigmoid(X @ w + b)
    cost = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    dz = a - y
    dw = X.T @ dz / m
    db = np.sum(dz) / m
    return float(cost), dw, float(db)
    ### END SOLUTION

# %% tests id=test_logistic_cost_and_grads points=2
w_t = np.array([0.5, -1.0])
X_t = np.array([[1.0, 2.0], [-1.0, 0.5], [3.0, -2.0]])
y_t = np.array([1.0, 0.0, 1.0])
out = logistic_cost_and_grads(w_t, 0.25, X_t, y_t)
check_equal("len(logistic_cost_and_grads(...))", len(out), 3, hint="return (cost, dw, db)")
cost, dw, db = out
check_close("cost", cost, 0.637348517277566, hint="the cost is the MEAN of the per-example losses")
check_shape("dw", dw, (2,), hint="dw has the shape of w: combine X (m, n) with dz (m,) so that m disappears")
check_close("dw", dw, [-0.38901776003542866, -0.44941144279829447],
            hint="dw is the average over the examples of x * dz")
check_close("db", db, -0.1598186434200366, hint="db is the average over the examples of dz")
print("logistic_cost_and_grads: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(41)
for m, n in [(1, 1), (5, 3), (40, 7), (200, 2)]:
    X_h = rng.standard_normal((m, n))
    w_h = rng.standard_normal(n)
    b_h = float(rng.standard_normal())
    y_h = rng.integers(0, 2, m).astype(np.float64)
    tw = torch.tensor(w_h, requires_grad=True)
    tb_ = torch.tensor(b_h, dtype=torch.float64, requires_grad=True)
    z_h = torch.from_numpy(X_h) @ tw + tb_
    loss_h = F.binary_cross_entropy_with_logits(z_h, torch.from_numpy(y_h))
    loss_h.backward()
    with from_scratch("logistic_cost_and_grads"):
        cost, dw, db = logistic_cost_and_grads(w_h, b_h, X_h, y_h)
    check_close("cost", cost, loss_h.item())
    check_close("dw", dw, tw.grad.numpy())
    check_close("db", db, tb_.grad.item())
### END HIDDEN TESTS

# %% markdown
# How much faster is the vectorised version? Here is the loop version, written out now that you
# have written your own, and below both compute the cost and gradients for the 1,078 training
# digits, labelled 1 for "the digit is at least 5". (The timings depend on your machine, so they
# are not the same from run to run.)

# %% code tags=demo
def logistic_cost_and_grads_loop(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray):
    """Binary cross-entropy cost and its gradients, one example at a time (the slow way)."""
    m, n = X.shape
    cost, dw, db = 0.0, np.zeros(n), 0.0
    for i in range(m):
        z = X[i] @ w + b
        a = sigmoid(z)
        cost += -(y[i] * np.log(a) + (1 - y[i]) * np.log(1 - a))
        dz = a - y[i]
        dw += X[i] * dz
        db += dz
    return cost / m, dw / m, db / m


_ = compare("loop vs yours: dw", logistic_cost_and_grads_loop(w_t, 0.25, X_t, y_t)[1], logistic_cost_and_grads(w_t, 0.25, X_t, y_t)[1])

# %% code tags=demo,nbval-ignore-output
X_bin = digits.X_train
y_bin = (digits.y_train >= 5).astype(np.float64)
w0 = np.random.default_rng(0).standard_normal(64) * 0.01


def best_time(fn, repeats: int) -> float:
    """Fastest of `repeats` runs, in seconds (the fastest is the least disturbed by other programs)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


t_loop = best_time(lambda: logistic_cost_and_grads_loop(w0, 0.0, X_bin, y_bin), 5)
t_vec = best_time(lambda: logistic_cost_and_grads(w0, 0.0, X_bin, y_bin), 50)
print(f"looped over {len(X_bin)} examples: {t_loop * 1e3:.2f} ms")
print(f"vectorised:                  {t_vec * 1e3:.3f} ms")
print(f"the vectorised version is {t_loop / t_vec:.0f} times faster")

# %% markdown
# Training is now a loop of two lines: compute the gradients, step downhill. **Gradient descent**
# moves every parameter against its gradient, scaled by the **learning rate** $\alpha$:
#
# $$w \leftarrow w - \alpha\, dw, \qquad b \leftarrow b - \alpha\, db.$$
#
# Here it learns to separate two clouds of points; the shaded regions show its decision.

# %% code tags=demo
X_blob, y_blob = make_blobs(n=200, centers=2, std=1.2, seed=3)
w, b = np.zeros(2), 0.0
costs = []
for step in range(300):
    cost, dw, db = logistic_cost_and_grads(w, b, X_blob, y_blob.astype(np.float64))
    w, b = w - 0.1 * dw, b - 0.1 * db
    costs.append(cost)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
plot_curves({"cost": costs}, xlabel="gradient-descent step", ylabel="mean cross-entropy",
            title="Logistic regression learning", ax=axes[0])
plot_decision_boundary(lambda P: (sigmoid(P @ w + b) > 0.5).astype(int), X_blob, y_blob, ax=axes[1],
                       title=f"Decision after 300 steps (cost {costs[-1]:.4f})")
fig.tight_layout()
plt.show()

# %% markdown
# ## 5. Layers with a forward and a backward pass
#
# A network is a chain of layers. If every layer can do two things, the whole network can be
# differentiated by chaining them:
#
# - `forward(inputs) -> (out, cache)`: compute the output and keep whatever the backward pass
#   will need in `cache`;
# - `backward(dout, cache) -> gradients`: given $\partial L / \partial \text{out}$ (called `dout`),
#   return $\partial L$ with respect to each input.
#
# **Affine layer.** $\text{out} = x W + b$ with $x$ of shape $(N, D)$, $W$ of shape $(D, M)$,
# $b$ of shape $(M,)$; each output entry is $\text{out}_{nm} = \sum_d x_{nd} W_{dm} + b_m$.
#
# | quantity | shape |
# | --- | --- |
# | $x$, $dx$ | $(N, D)$ |
# | $W$, $dW$ | $(D, M)$ |
# | $b$, $db$ | $(M,)$ |
# | out, dout | $(N, M)$ |
#
# To find $dx$, $dW$ and $db$, write $\partial L / \partial W_{dm}$ as a sum over every output entry
# that $W_{dm}$ touches, $\sum_n \text{dout}_{nm}\, \partial \text{out}_{nm} / \partial W_{dm}$, and
# then recognise the sum as a matrix product. Two checks help: each gradient has the shape of the
# thing it is the gradient of (the table), and the bias is added to every row.
#
# To keep the tests of the two halves independent, the cache of `affine_forward` is exactly the
# tuple `(x, w, b)`.
#
# ### Exercise 4: `affine_forward`, `affine_backward`

# %% solution id=affine_forward
def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Fully connected layer: out = x @ w + b.

    Inputs:
        x: inputs, shape (N, D).
        w: weights, shape (D, M).
        b: biases, shape (M,).
    Returns:
        out: shape (N, M).
        cache: the tuple (x, w, b).
    """
    ### BEGIN SOLUTION
    out = x @ w + b
    return out, (x, w, b)
    ### END SOLUTION

# %% tests id=test_affine_forward points=1
x_t = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])
w_t = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
b_t = np.array([0.1, 0.2, 0.3])
out, cache = affine_forward(x_t, w_t, b_t)
check_shape("out", out, (3, 3))
check_close("out", out, [[5.1, 2.2, 0.3], [-1.9, -0.8, -0.2], [4.1, 0.7, -2.45]], hint="out = x @ w + b")
check_true(isinstance(cache, tuple) and len(cache) == 3, "cache should be the tuple (x, w, b)")
print("affine_forward: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(51)
for N, D, M in [(1, 1, 1), (4, 5, 3), (7, 2, 9)]:
    x_h, w_h, b_h = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    expected = F.linear(torch.from_numpy(x_h), torch.from_numpy(w_h.T), torch.from_numpy(b_h)).numpy()
    with from_scratch("affine_forward"):
        out, cache = affine_forward(x_h, w_h, b_h)
    check_close("out", out, expected)
    for got, exp, nm in zip(cache, (x_h, w_h, b_h), ("x", "w", "b")):
        check_close(f"cache {nm}", got, exp)
### END HIDDEN TESTS

# %% solution id=affine_backward
def affine_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of the affine layer.

    Inputs:
        dout: upstream gradient dL/dout, shape (N, M).
        cache: (x, w, b) from affine_forward; x (N, D), w (D, M), b (M,).
    Returns:
        dx: shape (N, D).
        dw: shape (D, M).
        db: shape (M,).
    """
    ### BEGIN SOLUTION
    x, w, b = cache
    dx = dout @ w.T
    dw = x.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
    ### END SOLUTION

# %% tests id=test_affine_backward points=2
rng_t = np.random.default_rng(0)
x_t, w_t, b_t = rng_t.standard_normal((4, 3)), rng_t.standard_normal((3, 5)), rng_t.standard_normal(5)
dout_t = rng_t.standard_normal((4, 5))
dx, dw, db = affine_backward(dout_t, (x_t, w_t, b_t))
check_shape("dx", dx, x_t.shape)
check_shape("dw", dw, w_t.shape, hint="dw has the shape of w: x.T @ dout")
check_shape("db", db, b_t.shape, hint="the bias was added to every row: sum dout over the rows")
grad_check("dx", dx, lambda v: v @ w_t + b_t, x_t, dout_t)
grad_check("dw", dw, lambda v: x_t @ v + b_t, w_t, dout_t)
grad_check("db", db, lambda v: x_t @ w_t + v, b_t, dout_t)
print("affine_backward: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(52)
for N, D, M in [(1, 1, 1), (1, 4, 3), (6, 3, 3), (9, 7, 2)]:
    x_h = torch.tensor(rng.standard_normal((N, D)), requires_grad=True)
    w_h = torch.tensor(rng.standard_normal((D, M)), requires_grad=True)
    b_h = torch.tensor(rng.standard_normal(M), requires_grad=True)
    dout_h = rng.standard_normal((N, M))
    (x_h @ w_h + b_h).backward(torch.from_numpy(dout_h))
    cache_h = (x_h.detach().numpy().copy(), w_h.detach().numpy().copy(), b_h.detach().numpy().copy())
    with from_scratch("affine_backward"):
        dx, dw, db = affine_backward(dout_h, cache_h)
    check_close("dx", dx, x_h.grad.numpy())
    check_close("dw", dw, w_h.grad.numpy())
    check_close("db", db, b_h.grad.numpy())
### END HIDDEN TESTS

# %% markdown
# **The affine gradients, derived.** $\partial \text{out}_{nm} / \partial W_{dm} = x_{nd}$, so
# $dW_{dm} = \sum_n x_{nd}\, \text{dout}_{nm}$, which is $dW = x^\top \text{dout}$; in the same way
# $dx = \text{dout}\, W^\top$, and the bias, added to every row, collects $db = \sum_n \text{dout}_{n,:}$.
# Each has the shape of what it is the gradient of, and there is only one way to multiply the
# available matrices to get that shape: a quick way to remember them.
#
# **ReLU.** $\text{out} = \max(0, x)$ entry by entry. Its local slope is 1 where $x > 0$ and 0
# where $x < 0$, so the backward pass lets the gradient through where the input was positive and
# blocks it elsewhere:
#
# $$dx = \text{dout} \odot [x > 0].$$
#
# (At exactly $x = 0$ the slope is undefined; either choice is fine, PyTorch uses 0.) The cache of
# `relu_forward` is the input `x`.
#
# ### Exercise 5: `relu_forward`, `relu_backward`

# %% solution id=relu_forward
def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit, max(0, x), entry by entry.

    Inputs:
        x: array of any shape.
    Returns:
        out: array with the shape of x.
        cache: x itself.
    """
    ### BEGIN SOLUTION
    return np.maximum(0, x), x
    ### END SOLUTION

# %% tests id=test_relu_forward points=1
x_t = np.array([[-2.0, -0.5, 0.5], [2.0, -1.0, 3.0]])
out, cache = relu_forward(x_t)
check_close("relu out", out, [[0, 0, 0.5], [2.0, 0, 3.0]], hint="negative inputs become 0; the rest pass through")
check_close("relu cache", cache, x_t, hint="the cache is the input x")
print("relu_forward: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(61)
for shape in [(1,), (3, 4), (2, 3, 5)]:
    x_h = rng.standard_normal(shape) * 10
    expected = torch.relu(torch.from_numpy(x_h)).numpy()
    with from_scratch("relu_forward"):
        out, cache = relu_forward(x_h)
    check_close("relu out", out, expected)
    check_close("relu cache", cache, x_h)
### END HIDDEN TESTS

# %% solution id=relu_backward
def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """Backward pass of ReLU.

    Inputs:
        dout: upstream gradient, any shape.
        cache: the input x of relu_forward, same shape as dout.
    Returns:
        dx: gradient with respect to x, same shape.
    """
    ### BEGIN SOLUTION
    x = cache
    return dout * (x > 0)
    ### END SOLUTION

# %% tests id=test_relu_backward points=1
x_t = np.array([[-2.0, -0.5, 0.5], [2.0, -1.0, 3.0]])
dout_t = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
dx = relu_backward(dout_t, x_t)
check_close("relu dx", dx, [[0, 0, 3.0], [4.0, 0, 6.0]], hint="the gradient passes only where x > 0")
print("relu_backward: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(62)
for shape in [(1,), (5, 4), (2, 3, 4)]:
    x_h = torch.tensor(rng.standard_normal(shape) * 3 + 0.01, requires_grad=True)
    dout_h = rng.standard_normal(shape)
    torch.relu(x_h).backward(torch.from_numpy(dout_h))
    x_np = x_h.detach().numpy().copy()
    with from_scratch("relu_backward"):
        dx = relu_backward(dout_h, x_np)
    check_close("relu dx", dx, x_h.grad.numpy())
### END HIDDEN TESTS

# %% markdown
# **Softmax and cross-entropy.** For $C$ classes the last layer outputs $C$ scores per example,
# the *logits* $s$. Softmax turns them into probabilities, and the cross-entropy loss is minus the
# log of the probability given to the correct class $y$, averaged over the batch:
#
# $$p_{nk} = \frac{e^{s_{nk}}}{\sum_j e^{s_{nj}}}, \qquad
# L = -\frac{1}{N}\sum_n \ln p_{n, y_n}, \qquad s, p, \text{dlogits}: (N, C), \quad y: (N,).$$
#
# For the gradient, write the loss of one example as $-s_{n, y_n} + \ln \sum_j e^{s_{nj}}$ and
# differentiate with respect to one logit $s_{nk}$: the first term matters only when $k = y_n$, the
# second for every $k$. Compare the result with logistic regression's $dz$. Do not forget the
# $\frac{1}{N}$ of the mean.
#
# One numerical detail matters: $e^{1000}$ overflows to infinity. Subtracting each row's largest
# logit first changes nothing mathematically (the factor $e^{-\max}$ cancels) and keeps every
# exponent $\le 0$. Computing $\ln p$ as $s - \max - \ln \sum_j e^{s_j - \max}$ avoids $\ln 0$ as well.
#
# ### Exercise 6: `softmax_cross_entropy`

# %% solution id=softmax_cross_entropy
def softmax_cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy loss and its gradient with respect to the logits.

    Inputs:
        logits: scores, shape (N, C).
        y: correct classes, integers in [0, C), shape (N,).
    Returns:
        loss: a number, the mean over the N examples.
        dlogits: dloss/dlogits, shape (N, C).
    Hint: subtract the row maximum before exponentiating.
    """
    ### BEGIN SOLUTION
    N = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(N), y].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(N), y] -= 1
    return float(loss), dlogits / N
    ### END SOLUTION

# %% tests id=test_softmax_cross_entropy points=2
logits_t = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
y_t = np.array([0, 2])
loss, dlogits = softmax_cross_entropy(logits_t, y_t)
p_t = np.exp(logits_t) / np.exp(logits_t).sum(axis=1, keepdims=True)
check_close("loss", loss, -np.mean(np.log(p_t[[0, 1], [0, 2]])), hint="the loss is the MEAN over the batch")
check_shape("dlogits", dlogits, logits_t.shape)
grad_check("dlogits", dlogits, lambda s: softmax_cross_entropy(s, y_t)[0], logits_t.copy())
loss_big, _ = softmax_cross_entropy(logits_t * 1000, y_t)
check_true(np.isfinite(loss_big), f"loss for logits around 1000 is {loss_big}",
           hint="subtract each row's maximum logit before np.exp")
print("softmax_cross_entropy: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(71)
for N, C, scale in [(1, 2, 1.0), (5, 3, 1.0), (8, 10, 5.0), (4, 6, 800.0)]:
    s_h = torch.tensor(rng.standard_normal((N, C)) * scale, requires_grad=True)
    y_h = rng.integers(0, C, N)
    ref = F.cross_entropy(s_h, torch.from_numpy(y_h))
    ref.backward()
    s_np = s_h.detach().numpy().copy()
    with from_scratch("softmax_cross_entropy"):
        loss, dlogits = softmax_cross_entropy(s_np, y_h)
    check_close("loss", loss, ref.item())
    check_close("dlogits", dlogits, s_h.grad.numpy())
### END HIDDEN TESTS

# %% markdown
# **The softmax gradient, derived.** $\partial \ln \sum_j e^{s_{nj}} / \partial s_{nk} = p_{nk}$ and
# $\partial s_{n, y_n} / \partial s_{nk} = [k = y_n]$, so
#
# $$\frac{\partial L}{\partial s_{nk}} = \frac{1}{N}\big(p_{nk} - [k = y_n]\big):$$
#
# the same "prediction minus target" as logistic regression's $dz = a - y$.

# %% markdown
# ## 6. Backpropagation through a multilayer network
#
# Stack the layers: $z^{(1)} = X W^{(1)} + b^{(1)}$, $h = \text{ReLU}(z^{(1)})$,
# $s = h W^{(2)} + b^{(2)}$, loss $= \text{softmax-CE}(s, y)$. Backpropagation runs the backward
# functions in the opposite order, each consuming the gradient the next layer produced.
#
# Call $\delta^{(l)} = \partial L / \partial z^{(l)}$ the error signal at layer $l$'s
# pre-activation. For the last layer it is $\delta^{(L)} = (p - Y)/N$ (softmax minus one-hot).
# Going one layer down multiplies by the transposed weights and by the activation's slope. In the
# column convention of many textbooks this is
#
# $$\delta^{(l)} = \big(W^{(l+1)}\big)^\top \delta^{(l+1)} \odot f'\big(z^{(l)}\big).$$
#
# With our rows-are-examples convention ($z = h W$, $W$ of shape fan-in by fan-out) the same rule
# reads $\delta^{(l)} = \big(\delta^{(l+1)} (W^{(l+1)})^\top\big) \odot f'(z^{(l)})$, one row per
# example, and the weight gradients are $dW^{(l)} = (h^{(l-1)})^\top \delta^{(l)}$,
# $db^{(l)} = \sum_n \delta^{(l)}_{n,:}$.
#
# ```
#  X ─[affine W1,b1]─ z1 ─[ReLU]─ h ─[affine W2,b2]─ s ─[softmax CE]─ loss
#  dX ←──────────── δ1 ←──────── dh ←────────────── δ2 ←──────────── 1
# ```
#
# ### Exercise 7: `two_layer_net_loss`

# %% solution id=two_layer_net_loss
def two_layer_net_loss(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """Loss and gradients of affine - ReLU - affine - softmax cross-entropy.

    Inputs:
        params: {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}.
        X: inputs, shape (N, D).
        y: classes, integers in [0, C), shape (N,).
    Returns:
        loss: mean cross-entropy over the batch, a number.
        grads: a dict with the same keys and shapes as params.
    You may call the layer functions above, or write the few lines out directly.
    """
    ### BEGIN SOLUTION
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    z1 = X @ W1 + b1
    h = np.maximum(0, z1)
    s = h @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(N), y].mean()
    delta2 = np.exp(log_p)
    delta2[np.arange(N), y] -= 1
    delta2 /= N
    delta1 = (delta2 @ W2.T) * (z1 > 0)
    grads = {"W1": X.T @ delta1, "b1": delta1.sum(axis=0), "W2": h.T @ delta2, "b2": delta2.sum(axis=0)}
    return float(loss), grads
    ### END SOLUTION

# %% tests id=test_two_layer_net_loss points=3
rng_t = np.random.default_rng(1)
params_t = {"W1": rng_t.standard_normal((4, 6)) * 0.5, "b1": rng_t.standard_normal(6) * 0.1,
            "W2": rng_t.standard_normal((6, 3)) * 0.5, "b2": rng_t.standard_normal(3) * 0.1}
X_t, y_t = rng_t.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])
loss, grads = two_layer_net_loss(params_t, X_t, y_t)
check_true(isinstance(grads, dict) and set(grads) == set(params_t),
           f"grads should be a dict with keys {sorted(params_t)}, got {grads if not isinstance(grads, dict) else sorted(grads)}")
for name in params_t:
    check_shape(f"grads[{name!r}]", grads[name], params_t[name].shape)
    def loss_of(v, name=name):
        return two_layer_net_loss({**params_t, name: v}, X_t, y_t)[0]
    grad_check(name, grads[name], loss_of, params_t[name].copy())
print("two_layer_net_loss: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(81)
for N, D, H, C in [(1, 3, 4, 2), (10, 5, 7, 4), (32, 8, 16, 10)]:
    p_h = {"W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
           "W2": rng.standard_normal((H, C)), "b2": rng.standard_normal(C)}
    X_h, y_h = rng.standard_normal((N, D)), rng.integers(0, C, N)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in p_h.items()}
    ref = F.cross_entropy(torch.relu(torch.from_numpy(X_h) @ tp["W1"] + tp["b1"]) @ tp["W2"] + tp["b2"], torch.from_numpy(y_h))
    ref.backward()
    p_np = {k: v.copy() for k, v in p_h.items()}
    with from_scratch("two_layer_net_loss"):
        loss, grads = two_layer_net_loss(p_np, X_h, y_h)
    check_close("loss", loss, ref.item())
    for k in p_h:
        check_close(f"grads[{k!r}]", grads[k], tp[k].grad.numpy())
### END HIDDEN TESTS

# %% markdown
# With the gradients right, plain gradient descent trains this network on the digits. Every step
# uses all 1,078 training images; the accuracy in the title is measured on the validation images.

# %% code tags=demo
rng_demo = np.random.default_rng(0)
net = {"W1": rng_demo.standard_normal((64, 64)) * np.sqrt(2 / 64), "b1": np.zeros(64),
       "W2": rng_demo.standard_normal((64, 10)) * np.sqrt(2 / 64), "b2": np.zeros(10)}
losses = []
for step in tqdm(range(150), desc="gradient descent"):
    loss, grads = two_layer_net_loss(net, digits.X_train, digits.y_train)
    for k in net:
        net[k] -= 0.5 * grads[k]
    losses.append(loss)
scores = np.maximum(0, digits.X_val @ net["W1"] + net["b1"]) @ net["W2"] + net["b2"]
acc = np.mean(scores.argmax(axis=1) == digits.y_val)
plot_curves({"training loss": losses}, xlabel="step", ylabel="cross-entropy (training set)",
            title=f"Two-layer NumPy network: validation accuracy {acc:.1%}", logy=True)
plt.show()

# %% markdown
# ## 7. Gradient descent: full batch, stochastic, mini-batch
#
# The cost is an average over the training set, $J(\theta) = \frac{1}{m}\sum_i \mathcal{L}_i(\theta)$,
# and so is its gradient. There are three ways to spend that average:
#
# - **(Full-batch) gradient descent** computes the exact gradient over all $m$ examples for every
#   step: accurate, but one step costs a whole pass over the data.
# - **Stochastic gradient descent (SGD)** takes one example per step: $m$ cheap, noisy steps per
#   pass. The noise is unbiased (its average is the true gradient), and it even helps to escape
#   flat regions and sharp minima, but one example cannot use a vector processor well.
# - **Mini-batch gradient descent** averages over $B$ examples (typically 32 to 512), the
#   compromise everyone uses. The gradient's noise shrinks like $1/\sqrt{B}$, and a batch fills the
#   hardware. In deep learning "SGD" almost always means this.
#
# One pass over the training set is an **epoch**. Each epoch visits every example exactly once,
# in a fresh random order, so that the batches are not the same every time (and not sorted by
# class, as data files often are). When $B$ does not divide $m$, the last batch is smaller.
#
# ### Exercise 8: `minibatches`

# %% solution id=minibatches
def minibatches(X: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split (X, y) into shuffled mini-batches that together cover every example exactly once.

    Inputs:
        X: examples, shape (N, ...).
        y: labels, shape (N, ...); row i of y belongs to row i of X.
        batch_size: B, the number of examples per batch.
        rng: a NumPy random Generator; draw the shuffle from it (rng.permutation) so runs repeat.
    Returns:
        batches: a list of (X_batch, y_batch) pairs, each of B rows except the last, which holds
            the remaining N mod B rows when B does not divide N.
    """
    ### BEGIN SOLUTION
    order = rng.permutation(len(X))
    return [(X[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(X), batch_size)]
    ### END SOLUTION

# %% tests id=test_minibatches points=2
X_t = np.arange(20, dtype=np.float64).reshape(10, 2)
y_t = np.arange(10)
batches = list(minibatches(X_t, y_t, 4, np.random.default_rng(0)))
check_equal("batch sizes", [len(yb) for _, yb in batches], [4, 4, 2],
            hint="10 examples in batches of 4: two full batches and one of 2")
seen = np.concatenate([yb for _, yb in batches])
check_equal("labels seen in one epoch (sorted)", np.sort(seen), y_t, hint="every example exactly once")
for Xb, yb in batches:
    check_equal("X rows match their labels", Xb[:, 0], 2 * yb, hint="shuffle X and y with the same order")
check_true(not np.array_equal(seen, y_t), "the examples came out in their original order",
           hint="shuffle with rng.permutation(N)")
print("minibatches: visible test passed")
### BEGIN HIDDEN TESTS
for N, B, seed in [(1, 1, 1), (7, 7, 2), (7, 10, 3), (100, 32, 4), (64, 8, 5), (257, 16, 6)]:
    X_h = np.arange(N * 3, dtype=np.float64).reshape(N, 3)
    y_h = np.arange(N)
    with from_scratch("minibatches"):
        batches = list(minibatches(X_h, y_h, B, np.random.default_rng(seed)))
    sizes = [len(yb) for _, yb in batches]
    expected = [B] * (N // B) + ([N % B] if N % B else [])
    check_equal("batch sizes", sizes, expected)
    seen = np.concatenate([yb for _, yb in batches])
    check_equal("labels seen (sorted)", np.sort(seen), y_h)
    for Xb, yb in batches:
        check_equal("X rows match labels", Xb, X_h[yb])
    if N >= 64:
        check_true(not np.array_equal(seen, y_h), "not shuffled")
        again = np.concatenate([yb for _, yb in minibatches(X_h, y_h, B, np.random.default_rng(seed))])
        check_equal("same seed, same order", again, seen)
        other = np.concatenate([yb for _, yb in minibatches(X_h, y_h, B, np.random.default_rng(seed + 100))])
        check_true(not np.array_equal(other, seen), "the order must come from rng")
        gen = np.random.default_rng(seed)
        e1 = np.concatenate([yb for _, yb in minibatches(X_h, y_h, B, gen)])
        e2 = np.concatenate([yb for _, yb in minibatches(X_h, y_h, B, gen)])
        check_true(not np.array_equal(e1, e2), "two epochs with the same generator should differ")
### END HIDDEN TESTS

# %% markdown
# ### The learning rate and the batch size
#
# The learning rate is the most important knob. Too small and training crawls; a bit larger and
# it is fast; too large and each step overshoots the valley it was meant to descend: the loss
# jumps around, gets stuck high when ReLU units are knocked into their flat region, or explodes.
# The batch size trades noise against cost: with small batches the loss curve is noisy but each
# epoch makes many updates; with the full batch every update is exact but an epoch makes only one.
# Per *epoch*, small batches usually win; per *update*, large ones do. (A common rule of thumb:
# when you multiply the batch size by $k$, multiply the learning rate by about $k$ for SGD, or
# $\sqrt{k}$ for Adam, up to a limit.)
#
# Below, the two-layer network from section 6 (written in PyTorch) trains with plain mini-batch
# SGD for 15 epochs.

# %% code tags=demo
Xtr_t = torch.tensor(digits.X_train, dtype=torch.float32)
ytr_t = torch.tensor(digits.y_train)


def sgd_run(lr: float, batch_size: int, epochs: int = 15, seed: int = 0) -> tuple[list[float], list[float]]:
    """Train a 64-64-10 ReLU network with mini-batch SGD; return the loss per epoch and per update."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    rng = np.random.default_rng(seed)
    per_epoch, per_update = [], []
    for _ in range(epochs):
        for Xb, yb in minibatches(digits.X_train, digits.y_train, batch_size, rng):
            loss = F.cross_entropy(model(torch.tensor(Xb, dtype=torch.float32)), torch.tensor(yb))
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
            per_update.append(loss.item())
        with torch.no_grad():
            per_epoch.append(min(F.cross_entropy(model(Xtr_t), ytr_t).item(), 10.0))
    return per_epoch, per_update


fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for k, lr in enumerate([0.003, 0.03, 0.3, 3.0]):
    curve, _ = sgd_run(lr, 32)
    axes[0].plot(range(1, 16), curve, color=OKABE_ITO[k], label=f"lr = {lr:g}")
axes[0].set(title="Learning rate (batch 32)", xlabel="epoch", ylabel="training loss (capped at 10)", yscale="log")
for k, bs in enumerate([8, 64, len(digits.X_train)]):
    curve, updates = sgd_run(0.05, bs)
    axes[1].plot(range(1, 16), curve, color=OKABE_ITO[k], label=f"batch {bs}")
    axes[2].plot(np.arange(1, len(updates) + 1), updates, color=OKABE_ITO[k], alpha=0.7, label=f"batch {bs}")
axes[1].set(title="Batch size, per epoch (lr 0.05)", xlabel="epoch", ylabel="training loss", yscale="log")
axes[2].set(title="Batch size, per update", xlabel="update", ylabel="mini-batch loss", xscale="log", yscale="log")
for ax in axes:
    ax.legend(fontsize=9)
fig.tight_layout()
plt.show()

# %% markdown
# ## 8. Optimisers: better steps from the same gradients
#
# Plain gradient descent has two weaknesses. In a long narrow valley (an *ill-conditioned* loss,
# steep across and shallow along) the gradient points mostly across the valley: steps zig-zag
# between the walls while progress along the floor is slow. And one learning rate must suit every
# parameter, although their gradients may differ in scale by orders of magnitude. Each optimiser
# below fixes one or both. All of them take the gradient $g$ of the current mini-batch and keep a
# little state between steps.
#
# Your implementations follow PyTorch's `torch.optim` conventions exactly; the tests run the real
# `torch.optim` optimiser on the same gradients and compare step by step. Every function has the
# form
#
# ```python
# w_new = something_step(w, dw, state, lr=..., ...)
# ```
#
# where `state` is a dict that starts empty (`{}`) and that your function fills and updates in
# place (for example `state["v"]`), so the next call can continue where this one stopped. The
# function **returns** the updated parameters; you may build a new array or update `w` in place
# and return it. The learning rate may change from one call to the next (a schedule), so keep it
# out of the state. Do not modify `dw`.
#
# **SGD** is the baseline: $w \leftarrow w - \alpha g$.

# %% code
def torch_optimizer_trace(make_optimizer, w0: np.ndarray, grads: list[np.ndarray], lrs: list[float]) -> list[np.ndarray]:
    """Run a torch.optim optimiser on a float64 copy of w0; step k uses gradient grads[k] and
    learning rate lrs[k]. Returns the parameters after each step."""
    p = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt = make_optimizer([p])
    trace = []
    for g, lr in zip(grads, lrs):
        opt.param_groups[0]["lr"] = lr
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        trace.append(p.detach().numpy().copy())
    return trace


def check_optimizer(name: str, step_fn, make_optimizer, w0: np.ndarray, grads: list[np.ndarray],
                    lrs: list[float], hint: str | None = None, **hyper) -> None:
    """Apply step_fn on the same gradients and learning rates as torch_optimizer_trace; compare every step.

    The student's steps run from scratch (NumPy only), and every gradient array handed to step_fn
    must still hold its values after all the steps: a state that keeps a reference to an earlier
    dw and updates it in place would change the caller's gradient.
    """
    expected = torch_optimizer_trace(make_optimizer, w0, grads, lrs)
    w, state = w0.copy(), {}
    passed = []
    for k, (g, lr) in enumerate(zip(grads, lrs)):
        g_copy = g.copy()
        passed.append(g_copy)
        with from_scratch(name):
            w = step_fn(w, g_copy, state, lr=lr, **hyper)
        check_true(w is not None, f"{name}: step {k + 1} returned None", hint="return the updated parameters")
        check_close(f"{name}: w after step {k + 1} (lr {lr:g})", w, expected[k], hint=hint)
        for j, (g_passed, g_orig) in enumerate(zip(passed, grads)):
            check_equal(f"{name}: the dw of step {j + 1}, after step {k + 1}", g_passed, g_orig,
                        hint="do not modify dw in place, now or later: keep copies (not references) of dw in state")


rng_opt = np.random.default_rng(7)
w0_t = np.array([1.0, -2.0, 0.5])
grads_t = [rng_opt.standard_normal(3) for _ in range(4)]
lrs_t = [0.1, 0.1, 0.05, 0.02]

# %% markdown
# ### Exercise 9: `sgd_step`

# %% solution id=sgd_step
def sgd_step(w: np.ndarray, dw: np.ndarray, state: dict, lr: float = 0.01) -> np.ndarray:
    """One step of plain gradient descent, w - lr * dw (torch.optim.SGD with no momentum).

    Inputs:
        w: parameters, any shape.
        dw: gradient of the loss, shape of w.
        state: a dict (unused by SGD; here so that every optimiser has the same signature).
        lr: learning rate.
    Returns:
        w_new: the updated parameters, shape of w.
    """
    ### BEGIN SOLUTION
    return w - lr * dw
    ### END SOLUTION

# %% tests id=test_sgd_step points=1
check_optimizer("sgd_step", sgd_step, lambda p: torch.optim.SGD(p, lr=0.1), w0_t, grads_t, lrs_t,
                hint="step against the gradient: w - lr * dw")
print("sgd_step: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(91)
for shape in [(1,), (4, 3)]:
    w0_h = rng.standard_normal(shape)
    g_h = [rng.standard_normal(shape) * 3 for _ in range(5)]
    lr_h = list(rng.uniform(0.001, 0.5, 5))
    check_optimizer("sgd_step", sgd_step, lambda p: torch.optim.SGD(p, lr=0.1), w0_h, g_h, lr_h)
### END HIDDEN TESTS

# %% markdown
# ### Momentum
#
# A ball rolling down the valley gathers speed along the floor, where successive gradients agree,
# while the back-and-forth components across the valley cancel out. **Momentum** keeps a
# velocity $v$ that accumulates past gradients with decay $\mu$ (typically 0.9):
#
# $$v \leftarrow \mu v + g, \qquad w \leftarrow w - \alpha v. \qquad \text{(PyTorch's form; } v = g \text{ on the first step)}$$
#
# Many courses write the **exponential moving average (EMA) form** instead,
# $v \leftarrow \beta v + (1 - \beta) g$, $w \leftarrow w - \alpha v$. Here $v$ is a weighted
# average of recent gradients (the weights $(1-\beta)\beta^k$ sum to 1), so it has the scale of one
# gradient, whereas PyTorch's $v$ is about $1/(1 - \mu)$ times larger (ten times for 0.9). With a
# constant learning rate the two forms take identical steps when $\alpha_\text{PyTorch} =
# (1-\beta)\,\alpha_\text{EMA}$; they differ only in what the number called "learning rate" means.
# A third form, $v \leftarrow \mu v - \alpha g$, $w \leftarrow w + v$, bakes the learning rate into
# the velocity, and so behaves differently as soon as the learning rate changes during training.
# Implement PyTorch's form.
#
# ### Exercise 10: `momentum_step`

# %% solution id=momentum_step
def momentum_step(w: np.ndarray, dw: np.ndarray, state: dict, lr: float = 0.01, mu: float = 0.9) -> np.ndarray:
    """One step of SGD with momentum, PyTorch's form (torch.optim.SGD(momentum=mu)).

    v = mu * v + dw   (v starts at 0, so v = dw after the first step)
    w = w - lr * v

    Inputs:
        w: parameters, any shape.
        dw: gradient, shape of w.
        state: dict, empty before the first step; keep the velocity in it.
        lr: learning rate.
        mu: momentum coefficient.
    Returns:
        w_new: the updated parameters.
    """
    ### BEGIN SOLUTION
    v = state.get("v", np.zeros_like(w))
    v = mu * v + dw
    state["v"] = v
    return w - lr * v
    ### END SOLUTION

# %% tests id=test_momentum_step points=1
check_optimizer("momentum_step", momentum_step, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                w0_t, grads_t, lrs_t, mu=0.9, hint="v = mu * v + dw, then w - lr * v (the learning rate is not inside v)")
print("momentum_step: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(92)
for shape, mu in [((1,), 0.5), ((3, 4), 0.9), ((6,), 0.99)]:
    w0_h = rng.standard_normal(shape)
    g_h = [rng.standard_normal(shape) for _ in range(6)]
    lr_h = list(rng.uniform(0.01, 0.3, 6))
    check_optimizer("momentum_step", momentum_step, lambda p: torch.optim.SGD(p, lr=0.1, momentum=mu),
                    w0_h, g_h, lr_h, mu=mu)
### END HIDDEN TESTS

# %% markdown
# ### Nesterov momentum
#
# Momentum will carry the parameters to roughly $w - \alpha\mu v$ no matter what; **Nesterov's
# accelerated gradient** corrects course by looking at the gradient from there rather than from
# here, which damps oscillations. PyTorch uses an equivalent rearrangement that needs only the
# current gradient:
#
# $$v \leftarrow \mu v + g, \qquad w \leftarrow w - \alpha\,(g + \mu v).$$
#
# ### Exercise 11: `nesterov_step`

# %% solution id=nesterov_step
def nesterov_step(w: np.ndarray, dw: np.ndarray, state: dict, lr: float = 0.01, mu: float = 0.9) -> np.ndarray:
    """One step of Nesterov momentum (torch.optim.SGD(momentum=mu, nesterov=True)).

    v = mu * v + dw    (v starts at 0)
    w = w - lr * (dw + mu * v)

    Inputs:
        w, dw: parameters and gradient, same shape.
        state: dict, empty before the first step.
        lr: learning rate.
        mu: momentum coefficient.
    Returns:
        w_new: the updated parameters.
    """
    ### BEGIN SOLUTION
    v = mu * state.get("v", np.zeros_like(w)) + dw
    state["v"] = v
    return w - lr * (dw + mu * v)
    ### END SOLUTION

# %% tests id=test_nesterov_step points=1
check_optimizer("nesterov_step", nesterov_step, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                w0_t, grads_t, lrs_t, mu=0.9, hint="update v first, then step by dw + mu * v")
print("nesterov_step: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(93)
for shape, mu in [((1,), 0.5), ((3, 4), 0.9), ((6,), 0.99)]:
    w0_h = rng.standard_normal(shape)
    g_h = [rng.standard_normal(shape) for _ in range(6)]
    lr_h = list(rng.uniform(0.01, 0.3, 6))
    check_optimizer("nesterov_step", nesterov_step,
                    lambda p: torch.optim.SGD(p, lr=0.1, momentum=mu, nesterov=True), w0_h, g_h, lr_h, mu=mu)
### END HIDDEN TESTS

# %% markdown
# ### AdaGrad
#
# **AdaGrad** gives every parameter its own learning rate: it divides the step by the square root
# of the sum of all that parameter's squared gradients so far. Parameters with large or frequent
# gradients slow down; rarely updated ones keep large steps (useful for sparse features such as
# word counts). All operations are entry by entry:
#
# $$G \leftarrow G + g^2, \qquad w \leftarrow w - \alpha\,\frac{g}{\sqrt{G} + \epsilon}.$$
#
# Because $G$ only grows, the effective learning rate decays forever, which eventually stalls
# training of deep networks.
#
# ### Exercise 12: `adagrad_step`

# %% solution id=adagrad_step
def adagrad_step(w: np.ndarray, dw: np.ndarray, state: dict, lr: float = 0.01, eps: float = 1e-10) -> np.ndarray:
    """One step of AdaGrad (torch.optim.Adagrad with its defaults otherwise).

    G = G + dw**2          (G starts at 0)
    w = w - lr * dw / (sqrt(G) + eps)

    Inputs:
        w, dw: parameters and gradient, same shape.
        state: dict, empty before the first step.
        lr: learning rate.
        eps: added to the denominator, outside the square root.
    Returns:
        w_new: the updated parameters.
    """
    ### BEGIN SOLUTION
    G = state.get("G", np.zeros_like(w)) + dw**2
    state["G"] = G
    return w - lr * dw / (np.sqrt(G) + eps)
    ### END SOLUTION

# %% tests id=test_adagrad_step points=1
check_optimizer("adagrad_step", adagrad_step, lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-10),
                w0_t, grads_t, lrs_t, eps=1e-10, hint="G accumulates the squared gradients of every step")
print("adagrad_step: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(94)
for shape, eps in [((1,), 1e-10), ((3, 4), 1e-10), ((5,), 0.1)]:
    w0_h = rng.standard_normal(shape)
    g_h = [rng.standard_normal(shape) * s for s in (1.0, 0.01, 5.0, 1.0, 0.1, 2.0)]
    lr_h = list(rng.uniform(0.01, 0.5, 6))
    check_optimizer("adagrad_step", adagrad_step, lambda p: torch.optim.Adagrad(p, lr=0.1, eps=eps),
                    w0_h, g_h, lr_h, eps=eps)
### END HIDDEN TESTS

# %% markdown
# ### RMSProp
#
# **RMSProp** fixes AdaGrad's decay by replacing the sum with an exponential moving average of the
# squared gradients, so the denominator tracks the *recent* gradient scale:
#
# $$s \leftarrow \alpha s + (1 - \alpha) g^2, \qquad w \leftarrow w - \eta\,\frac{g}{\sqrt{s} + \epsilon}.$$
#
# PyTorch calls the decay `alpha` (default 0.99) and the learning rate `lr`; note that $\epsilon$
# sits outside the square root.
#
# ### Exercise 13: `rmsprop_step`

# %% solution id=rmsprop_step
def rmsprop_step(w: np.ndarray, dw: np.ndarray, state: dict, lr: float = 0.01, alpha: float = 0.99,
                 eps: float = 1e-8) -> np.ndarray:
    """One step of RMSProp (torch.optim.RMSprop, not centred, no momentum).

    s = alpha * s + (1 - alpha) * dw**2     (s starts at 0)
    w = w - lr * dw / (sqrt(s) + eps)

    Inputs:
        w, dw: parameters and gradient, same shape.
        state: dict, empty before the first step.
        lr: learning rate.
        alpha: decay of the moving average of squared gradients.
        eps: added to the denominator, outside the square root.
    Returns:
        w_new: the updated parameters.
    """
    ### BEGIN SOLUTION
    s = alpha * state.get("s", np.zeros_like(w)) + (1 - alpha) * dw**2
    state["s"] = s
    return w - lr * dw / (np.sqrt(s) + eps)
    ### END SOLUTION

# %% tests id=test_rmsprop_step points=1
check_optimizer("rmsprop_step", rmsprop_step, lambda p: torch.optim.RMSprop(p, lr=0.1, alpha=0.9, eps=1e-8),
                w0_t, grads_t, lrs_t, alpha=0.9, eps=1e-8, hint="s = alpha * s + (1 - alpha) * dw**2")
print("rmsprop_step: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(95)
for shape, alpha, eps in [((1,), 0.99, 1e-8), ((3, 4), 0.9, 1e-8), ((5,), 0.5, 0.3)]:
    w0_h = rng.standard_normal(shape)
    g_h = [rng.standard_normal(shape) * s for s in (1.0, 0.01, 5.0, 1.0, 0.1, 2.0)]
    lr_h = list(rng.uniform(0.001, 0.1, 6))
    check_optimizer("rmsprop_step", rmsprop_step, lambda p: torch.optim.RMSprop(p, lr=0.1, alpha=alpha, eps=eps),
                    w0_h, g_h, lr_h, alpha=alpha, eps=eps)
### END HIDDEN TESTS

# %% markdown
# ### Adam
#
# **Adam** combines the two ideas: an EMA of the gradients (momentum, $m$) and an EMA of their
# squares (RMSProp, $v$):
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2.$$
#
# Both start at zero, so for the first steps they are biased towards zero: after one step
# $m = (1 - \beta_1) g$, a tenth of the gradient for $\beta_1 = 0.9$. Dividing by the total weight
# the average has received so far removes the bias (**bias correction**), with $t$ the step number
# counting from 1:
#
# $$\hat m = \frac{m}{1 - \beta_1^t}, \qquad \hat v = \frac{v}{1 - \beta_2^t}, \qquad
# w \leftarrow w - \alpha\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}.$$
#
# The step is roughly $\alpha$ times the sign of a consistent gradient, whatever the gradient's
# scale, which makes Adam's default $\alpha = 10^{-3}$ work across many problems.
#
# ### Exercise 14: `adam_step`

# %% solution id=adam_step
def adam_step(w: np.ndarray, dw: np.ndarray, state: dict, lr: float = 1e-3, beta1: float = 0.9,
              beta2: float = 0.999, eps: float = 1e-8) -> np.ndarray:
    """One step of Adam with bias correction (torch.optim.Adam).

    t = t + 1                       (t starts at 0: the first step has t = 1)
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)
    w = w - lr * m_hat / (sqrt(v_hat) + eps)

    Inputs:
        w, dw: parameters and gradient, same shape.
        state: dict, empty before the first step; keep t, m and v in it.
        lr, beta1, beta2, eps: as in torch.optim.Adam.
    Returns:
        w_new: the updated parameters.
    """
    ### BEGIN SOLUTION
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    state.update(t=t, m=m, v=v)
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps)
    ### END SOLUTION

# %% tests id=test_adam_step points=2
check_optimizer("adam_step", adam_step, lambda p: torch.optim.Adam(p, lr=0.1), w0_t, grads_t, lrs_t,
                hint="the first step moves each entry by about lr against the sign of its gradient; "
                     "divide m and v by (1 - beta**t) with t counted from 1")
print("adam_step: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(96)
for shape, b1, b2, eps in [((1,), 0.9, 0.999, 1e-8), ((3, 4), 0.8, 0.99, 1e-8), ((5,), 0.5, 0.9, 0.05)]:
    w0_h = rng.standard_normal(shape)
    g_h = [rng.standard_normal(shape) * s for s in (1.0, 0.01, 5.0, 1.0, 0.1, 2.0)]
    lr_h = list(rng.uniform(0.001, 0.1, 6))
    check_optimizer("adam_step", adam_step, lambda p: torch.optim.Adam(p, lr=0.1, betas=(b1, b2), eps=eps),
                    w0_h, g_h, lr_h, beta1=b1, beta2=b2, eps=eps)
### END HIDDEN TESTS

# %% markdown
# ### Weight decay, and why AdamW exists
#
# **Weight decay** pulls every weight towards zero a little at each step, which keeps the network
# from relying on a few huge weights and usually improves generalisation. There are two ways to
# get it:
#
# - **L2 regularisation** adds $\frac{\lambda}{2}\lVert w\rVert^2$ to the loss, so the gradient
#   becomes $g + \lambda w$. For plain SGD, $w - \alpha(g + \lambda w) = (1 - \alpha\lambda)w - \alpha g$:
#   the weights shrink by a fixed factor each step. Decay and L2 are the same thing there.
# - With Adam they are not. The $\lambda w$ term goes through Adam's division by $\sqrt{\hat v}$,
#   so weights with large gradients are barely decayed and those with small gradients are decayed
#   hard; the regulariser no longer does what it says.
#
# **AdamW** (Loshchilov and Hutter, 2019) *decouples* the decay from the gradient: shrink the weights
# directly, then take the ordinary Adam step computed from $g$ alone. With $w$ the weights before
# the step,
#
# $$w \leftarrow w - \alpha\lambda\, w - \alpha\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}.$$
#
# It is the default optimiser for transformers.
#
# ### Exercise 15: `adamw_step`

# %% solution id=adamw_step
def adamw_step(w: np.ndarray, dw: np.ndarray, state: dict, lr: float = 1e-3, beta1: float = 0.9,
               beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-2) -> np.ndarray:
    """One step of AdamW, Adam with decoupled weight decay (torch.optim.AdamW).

    Adam's t, m, v, m_hat, v_hat exactly as in adam_step, computed from dw alone; then
    w = w - lr * weight_decay * w - lr * m_hat / (sqrt(v_hat) + eps)     (w on the right: before the step)

    Inputs:
        w, dw: parameters and gradient, same shape.
        state: dict, empty before the first step.
        lr, beta1, beta2, eps, weight_decay: as in torch.optim.AdamW.
    Returns:
        w_new: the updated parameters.
    """
    ### BEGIN SOLUTION
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", np.zeros_like(w)) + (1 - beta1) * dw
    v = beta2 * state.get("v", np.zeros_like(w)) + (1 - beta2) * dw**2
    state.update(t=t, m=m, v=v)
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    w = w * (1 - lr * weight_decay)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps)
    ### END SOLUTION

# %% tests id=test_adamw_step points=2
check_optimizer("adamw_step", adamw_step, lambda p: torch.optim.AdamW(p, lr=0.1, weight_decay=0.1),
                w0_t, grads_t, lrs_t, weight_decay=0.1,
                hint="shrink w by lr * weight_decay * w directly; do not add weight_decay * w to the gradient")
print("adamw_step: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(97)
for shape, b1, b2, eps, wd in [((1,), 0.9, 0.999, 1e-8, 0.01), ((3, 4), 0.8, 0.99, 1e-8, 0.5), ((5,), 0.5, 0.9, 0.05, 0.2)]:
    w0_h = rng.standard_normal(shape) * 3
    g_h = [rng.standard_normal(shape) * s for s in (1.0, 0.01, 5.0, 1.0, 0.1, 2.0)]
    lr_h = list(rng.uniform(0.01, 0.2, 6))
    check_optimizer("adamw_step", adamw_step,
                    lambda p: torch.optim.AdamW(p, lr=0.1, betas=(b1, b2), eps=eps, weight_decay=wd),
                    w0_h, g_h, lr_h, beta1=b1, beta2=b2, eps=eps, weight_decay=wd)
### END HIDDEN TESTS

# %% markdown
# ### The optimiser race
#
# Here all seven optimisers start from the same point on a 2-D loss surface and take 300 steps
# with the same learning rate. (The race uses `torch.optim`, so it works whether or not your
# functions above are finished.) Things to try:
#
# - **Ill-conditioned bowl** $f = 0.05x^2 + 2.5y^2$: SGD crawls along the flat $x$ direction;
#   raise the learning rate until it zig-zags across $y$, then until it diverges (past
#   $\alpha = 2/5$). Momentum and Adam go further at the same rate.
# - **Rosenbrock** $f = (1 - x)^2 + 10(y - x^2)^2$: a curved valley; the minimum is at (1, 1).
# - **Saddle** $f = \frac{1}{2}x^2 - \frac{1}{2}y^2 + \frac{1}{4}y^4$: from near the ridge, plain
#   SGD needs many steps to notice the escape direction, while the adaptive methods normalise the
#   tiny $y$-gradient and leave quickly.
#
# The momentum slider sets $\mu$ for momentum and Nesterov and $\beta_1$ for Adam and AdamW
# (AdamW uses weight decay 0.1). A run that overflows stops, and the figure says where.

# %% code tags=demo,nbval-ignore-output
SURFACES = {
    "ill-conditioned bowl": (lambda x, y: 0.05 * x**2 + 2.5 * y**2, (-4.5, 1.5), (-5, 5, -2, 2), (0.0, 0.0)),
    "Rosenbrock": (lambda x, y: (1 - x) ** 2 + 10 * (y - x**2) ** 2, (-1.5, 2.5), (-2, 2, -1, 3.5), (1.0, 1.0)),
    "saddle": (lambda x, y: 0.5 * x**2 - 0.5 * y**2 + 0.25 * y**4, (2.0, 0.05), (-2.5, 2.5, -1.8, 1.8), (0.0, 1.0)),
}


def race_optimizers(lr: float, mu: float) -> dict:
    """The seven optimisers of this section, as torch.optim constructors."""
    return {
        "SGD": lambda p: torch.optim.SGD(p, lr=lr),
        "momentum": lambda p: torch.optim.SGD(p, lr=lr, momentum=mu),
        "Nesterov": lambda p: torch.optim.SGD(p, lr=lr, momentum=mu, nesterov=True) if mu > 0 else torch.optim.SGD(p, lr=lr),
        "AdaGrad": lambda p: torch.optim.Adagrad(p, lr=lr),
        "RMSProp": lambda p: torch.optim.RMSprop(p, lr=lr),
        "Adam": lambda p: torch.optim.Adam(p, lr=lr, betas=(mu, 0.999)),
        "AdamW": lambda p: torch.optim.AdamW(p, lr=lr, betas=(mu, 0.999), weight_decay=0.1),
    }


def run_race(f, start, make_opt, steps: int = 300, limit: float = 1e6):
    """Path and losses of one optimiser; stops at the first non-finite or huge value."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = make_opt([p])
    path, losses, diverged = [p.detach().numpy().copy()], [f(*p).item()], None
    for step in range(steps):
        opt.zero_grad()
        loss = f(p[0], p[1])
        loss.backward()
        opt.step()
        value = f(*p.detach()).item()
        if not np.isfinite(value) or abs(value) > limit or not torch.isfinite(p).all():
            diverged = step + 1
            break
        path.append(p.detach().numpy().copy())
        losses.append(value)
    return np.array(path), np.array(losses), diverged


def draw_race(surface: str, log10_lr: float, momentum: float) -> None:
    f, start, (x0, x1, y0, y1), best = SURFACES[surface]
    lr = 10.0**log10_lr
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.3))
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    gz = f(gx, gy)
    f_min = f(*best)
    ax.contour(gx, gy, gz - f_min, levels=np.geomspace(1e-3, gz.max() - f_min, 25), cmap="Greys", linewidths=0.6)
    ax.plot(*best, "*", color="k", markersize=12, label="minimum")
    notes = []
    for k, (name, make_opt) in enumerate(race_optimizers(lr, momentum).items()):
        path, losses, diverged = run_race(f, start, make_opt)
        label = name + (f" (diverged at step {diverged})" if diverged else "")
        ax.plot(path[:, 0], path[:, 1], "-", color=OKABE_ITO[k], lw=1.5, label=label)
        ax2.plot(np.arange(len(losses)), np.maximum(losses - f_min, 1e-16), color=OKABE_ITO[k], label=name)
        if diverged:
            notes.append(f"{name} diverged at step {diverged}")
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y",
           title=f"{surface}: 300 steps, lr = {lr:.3g}, momentum/beta1 = {momentum:.2f}")
    ax.legend(fontsize=7, loc="lower right")
    if notes:
        ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=8, color=OKABE_ITO[3],
                bbox=dict(facecolor="white", alpha=0.85, edgecolor=OKABE_ITO[3]))
    ax2.set(yscale="log", xlabel="step", ylabel="f - f(minimum)", title="Loss along the way")
    fig.tight_layout()


slider_plot(draw_race,
            surface=dropdown("surface", list(SURFACES)),
            log10_lr=float_slider("log10 learning rate", -2.0, -4.0, 0.5, 0.1),
            momentum=float_slider("momentum / beta1", 0.9, 0.0, 0.99, 0.01))

# %% code tags=demo
# The race's default view as a plain figure (it stays where the widget cannot run).
draw_once(draw_race, surface="ill-conditioned bowl", log10_lr=-2.0, momentum=0.9)

# %% markdown
# ## 9. Training in PyTorch
#
# Everything so far has PyTorch counterparts, and from here on we use them:
#
# - a **tensor** is an n-dimensional array (like NumPy's) that can live on a GPU (`.to(device)`)
#   and can record the operations applied to it;
# - **autograd**: every operation on tensors that require gradients adds a node to a graph;
#   `loss.backward()` walks that graph backwards, exactly as in sections 2 and 6, and **adds** the
#   result to each parameter's `.grad`;
# - an **optimiser** (`torch.optim.SGD`, `Adam`, `AdamW`, ...) holds the parameters and their
#   state; `optimizer.step()` applies one update from the `.grad` fields, and
#   `optimizer.zero_grad()` clears them;
# - `model.train()` and `model.eval()` switch layers that behave differently during training
#   (dropout, batch norm) between their two modes;
# - inside `with torch.no_grad():` no graph is recorded: faster, less memory, for evaluation.
#
# Note the word *adds*. Gradients accumulate across `backward()` calls, which is useful (summing
# the gradients of several small batches to imitate a large one) and the source of the most
# common bug in PyTorch: forgetting to clear them. Watch `.grad` grow:

# %% code
w_demo = torch.tensor([1.0, 2.0], requires_grad=True)
for k in range(3):
    loss_demo = (w_demo**2).sum()  # gradient 2w = [2, 4] every time
    loss_demo.backward()
    print(f"after backward() number {k + 1}: w.grad = {w_demo.grad.tolist()}")
w_demo.grad = None  # what zero_grad() does (by default it sets .grad to None)
print("graph of the last loss:", type(loss_demo.grad_fn).__name__, "<-", type(loss_demo.grad_fn.next_functions[0][0]).__name__)

# %% markdown
# One epoch of training is the loop you have already written by hand, in five lines per batch:
#
# ```
# for each batch (xb, yb):
#     move xb, yb to the device
#     clear the old gradients               optimizer.zero_grad()
#     forward: the loss on this batch       loss = loss_fn(model(xb), yb)
#     backward: gradients of that loss      loss.backward()
#     update the parameters                 optimizer.step()
# ```
#
# Call `model.train()` before the loop. `loss_fn` returns the *mean* loss of a batch; to report
# the mean over all the samples of the epoch, weight each batch's loss by its size (the last batch
# may be smaller) and use `loss.item()` to get a plain number that no longer holds on to the graph.
#
# ### Exercise 16: `train_one_epoch`

# %% solution id=train_one_epoch
def train_one_epoch(model: nn.Module, loader, optimizer: torch.optim.Optimizer, loss_fn, device) -> float:
    """Train model for one pass over loader.

    Inputs:
        model: a torch.nn.Module, already on device.
        loader: an iterable of (xb, yb) batches of tensors, e.g. a DataLoader.
        optimizer: a torch.optim optimiser over model's parameters.
        loss_fn: loss_fn(model(xb), yb) returns the mean loss of a batch (a scalar tensor).
        device: where to move each batch ("cpu" or "cuda").
    Returns:
        mean_loss: the average loss per sample over the epoch, as a Python float (each batch's
            mean loss weighted by its number of samples, as computed before its update).
    """
    ### BEGIN SOLUTION
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count
    ### END SOLUTION

# %% tests id=test_train_one_epoch points=3
class GradRecordingSGD(torch.optim.SGD):
    """SGD that remembers the gradients it was given at every step."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.seen = []

    def step(self, closure=None):
        loss = None
        if closure is not None:  # optimizer.step(closure) computes the gradients inside the closure
            with torch.enable_grad():
                loss = closure()
        self.seen.append([p.grad.detach().clone() for g in self.param_groups for p in g["params"]])
        super().step()
        return loss


torch.manual_seed(0)
X_small = torch.randn(40, 3, dtype=torch.float64)
y_small = (X_small[:, 0] + X_small[:, 1] > 0).long()
small_batches = [(X_small[i:i + 16], y_small[i:i + 16]) for i in range(0, 40, 16)]
model_t = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
# With lr = 0 the parameters never move, so each step must see exactly its own batch's gradient.
opt_t = GradRecordingSGD(model_t.parameters(), lr=0.0)
train_one_epoch(model_t, small_batches, opt_t, nn.CrossEntropyLoss(), "cpu")
check_equal("number of optimizer steps", len(opt_t.seen), 3, hint="one optimizer.step() per batch")
for k, (xb, yb) in enumerate(small_batches):
    model_t.zero_grad()
    F.cross_entropy(model_t(xb), yb).backward()
    for got, p in zip(opt_t.seen[k], model_t.parameters()):
        check_close(f"gradient at step {k + 1}", got, p.grad,
                    hint="gradients add up across backward() calls: call optimizer.zero_grad() for every batch")
opt_t = torch.optim.SGD(model_t.parameters(), lr=0.5)
epoch_losses = [train_one_epoch(model_t, small_batches, opt_t, nn.CrossEntropyLoss(), "cpu") for _ in range(5)]
check_true(all(isinstance(v, float) for v in epoch_losses), f"expected Python floats, got {epoch_losses}",
           hint="use loss.item()")
check_true(epoch_losses[-1] < epoch_losses[0], f"the loss did not decrease over 5 epochs: {epoch_losses}")
print("train_one_epoch: visible test passed; losses", [round(v, 4) for v in epoch_losses])
### BEGIN HIDDEN TESTS
class ModeProbe(nn.Module):
    """Identity layer that records the training flag and grad mode at each forward."""

    def __init__(self):
        super().__init__()
        self.log = []

    def forward(self, x):
        self.log.append((self.training, torch.is_grad_enabled()))
        return x


def reference_epoch(model, loader, optimizer, loss_fn):
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count


for seed, n, bs, make_opt in [(1, 50, 16, lambda p: torch.optim.SGD(p, lr=0.3)),
                              (2, 33, 33, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
                              (3, 70, 8, lambda p: torch.optim.Adam(p, lr=0.01))]:
    torch.manual_seed(seed)
    X_h = torch.randn(n, 4, dtype=torch.float64)
    y_h = torch.randint(0, 3, (n,))
    loader_h = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X_h, y_h), batch_size=bs, shuffle=False)
    probe = ModeProbe()
    model_h = nn.Sequential(nn.Linear(4, 6), probe, nn.ReLU(), nn.Linear(6, 3)).double()
    model_ref = copy.deepcopy(model_h)
    model_h.eval()
    opt_h, opt_ref = make_opt(model_h.parameters()), make_opt(model_ref.parameters())
    for epoch in range(2):
        got = train_one_epoch(model_h, loader_h, opt_h, nn.CrossEntropyLoss(), "cpu")
        exp = reference_epoch(model_ref, loader_h, opt_ref, nn.CrossEntropyLoss())
        check_close(f"mean loss of epoch {epoch + 1}", got, exp, rtol=1e-9, atol=1e-12)
        for (name, p_got), p_exp in zip(model_h.named_parameters(), model_ref.parameters()):
            check_close(f"parameter {name} after epoch {epoch + 1}", p_got.detach(), p_exp.detach(), rtol=1e-9, atol=1e-12)
        model_h.eval()
    check_true(len(probe.log) > 0 and all(training for training, _ in probe.log),
               "the model ran in eval mode during training: call model.train()")
from course_utils.spies import check_batches_moved

check_batches_moved("train_one_epoch",
                    lambda m, loader, loss_fn, dev: train_one_epoch(m, loader, torch.optim.SGD(m.parameters(), lr=0.1), loss_fn, dev), 3)
### END HIDDEN TESTS

# %% markdown
# Evaluation is the same loop without the update, in eval mode and without building a graph:
# `model.eval()` and `with torch.no_grad():`. Besides the mean loss, report the **accuracy**, the
# fraction of samples whose largest logit is at the correct class. Leave the model in eval mode:
# the next `train_one_epoch` switches it back.
#
# ### Exercise 17: `evaluate`

# %% solution id=evaluate
def evaluate(model: nn.Module, loader, loss_fn, device) -> tuple[float, float]:
    """Mean loss and accuracy of model over loader, in eval mode and without gradients.

    Inputs:
        model: a torch.nn.Module on device that outputs logits of shape (B, C).
        loader: an iterable of (xb, yb) batches; yb holds class indices.
        loss_fn: loss_fn(logits, yb) returns the mean loss of a batch.
        device: where to move each batch.
    Returns:
        (mean_loss, accuracy): the average loss per sample and the fraction of samples whose
            argmax logit equals the label, both Python floats.
    The model is left in eval mode (model.training is False afterwards; train_one_epoch switches it
    back with model.train()), and its parameters and buffers are unchanged.
    """
    ### BEGIN SOLUTION
    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            total += loss_fn(logits, yb).item() * len(xb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
            count += len(xb)
    return total / count, correct / count
    ### END SOLUTION

# %% tests id=test_evaluate points=2
torch.manual_seed(1)
X_small = torch.randn(30, 5, dtype=torch.float64)
y_small = torch.randint(0, 3, (30,))
small_batches = [(X_small[i:i + 8], y_small[i:i + 8]) for i in range(0, 30, 8)]
model_t = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)).double()
model_t.train()
result_1 = evaluate(model_t, small_batches, nn.CrossEntropyLoss(), "cpu")
result_2 = evaluate(model_t, small_batches, nn.CrossEntropyLoss(), "cpu")
check_equal("len(evaluate(...))", len(result_1), 2, hint="return (mean_loss, accuracy)")
check_close("two evaluations of a dropout model", np.array(result_2), np.array(result_1),
            hint="dropout is random in training mode: call model.eval() before evaluating")
model_t.eval()
with torch.no_grad():
    logits_t = model_t(X_small)
check_close("mean loss", result_1[0], F.cross_entropy(logits_t, y_small).item(),
            hint="weight each batch's mean loss by its size; the last batch here has 6 samples, not 8")
check_close("accuracy", result_1[1], (logits_t.argmax(1) == y_small).double().mean().item(),
            hint="accuracy is a fraction between 0 and 1")
print(f"evaluate: visible test passed; loss {result_1[0]:.4f}, accuracy {result_1[1]:.4f}")
### BEGIN HIDDEN TESTS
class ModeProbe(nn.Module):
    def __init__(self):
        super().__init__()
        self.log = []

    def forward(self, x):
        self.log.append((self.training, torch.is_grad_enabled()))
        return x


for seed, n, bs, C in [(4, 1, 1, 2), (5, 45, 10, 4), (6, 64, 64, 10)]:
    torch.manual_seed(seed)
    X_h = torch.randn(n, 6, dtype=torch.float64)
    y_h = torch.randint(0, C, (n,))
    loader_h = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X_h, y_h), batch_size=bs)
    probe = ModeProbe()
    model_h = nn.Sequential(nn.Linear(6, 12), probe, nn.BatchNorm1d(12), nn.Dropout(0.3), nn.Linear(12, C)).double()
    model_h.train()
    with torch.no_grad():
        model_h(torch.randn(8, 6, dtype=torch.float64))  # give batch norm some running statistics
    probe.log.clear()
    state_before = copy.deepcopy(model_h.state_dict())
    loss_h, acc_h = evaluate(model_h, loader_h, nn.CrossEntropyLoss(), "cpu")
    check_true(len(probe.log) > 0 and not any(tr for tr, _ in probe.log), "evaluate ran the model in training mode")
    check_true(not any(gr for _, gr in probe.log), "evaluate built a graph: use torch.no_grad()")
    for k, v in model_h.state_dict().items():
        check_close(f"state {k} after evaluate", v, state_before[k])
    model_h.eval()
    with torch.no_grad():
        logits_h = model_h(X_h)
    check_close("mean loss", loss_h, F.cross_entropy(logits_h, y_h).item(), rtol=1e-9, atol=1e-12)
    check_close("accuracy", acc_h, (logits_h.argmax(1) == y_h).double().mean().item())
    check_true(isinstance(loss_h, float) and isinstance(acc_h, float), "evaluate should return Python floats")
model_h.train()
evaluate(model_h, loader_h, nn.CrossEntropyLoss(), "cpu")
check_true(not model_h.training and not any(m.training for m in model_h.modules()),
           "after evaluate the model should be left in eval mode, as the docstring says",
           hint="call model.eval() at the start and do not switch back to train mode")
from course_utils.spies import check_batches_moved

check_batches_moved("evaluate", lambda m, loader, loss_fn, dev: evaluate(m, loader, loss_fn, dev), 3)
### END HIDDEN TESTS

# %% markdown
# ### Two tools for a stable loop: gradient clipping and a learning-rate schedule
#
# **Gradient clipping.** An unlucky batch, or a steep cliff in the loss surface, can produce a
# huge gradient and one step that throws away hours of training. `clip_grad_norm_(params, c)`
# computes the norm of all the gradients together and, if it exceeds $c$, rescales them to norm
# $c$: the direction is kept, the step length is capped. Call it between `backward()` and
# `step()`. It returns the norm before clipping, which is worth logging.

# %% code
layer = nn.Linear(4, 1)
layer(torch.full((2, 4), 100.0)).sum().backward()
norm_before = torch.nn.utils.clip_grad_norm_(layer.parameters(), max_norm=1.0)
norm_after = torch.sqrt(sum((p.grad**2).sum() for p in layer.parameters()))
print(f"gradient norm before clipping {norm_before.item():.4g}, after {norm_after.item():.4g}")

# %% markdown
# **Learning-rate schedules.** Early in training large steps make fast progress; near a minimum
# they bounce around it. A schedule lowers the learning rate over time. **Cosine annealing** is a
# smooth favourite: over $T$ epochs,
#
# $$\alpha_t = \alpha_\text{min} + \tfrac{1}{2}(\alpha_0 - \alpha_\text{min})\big(1 + \cos(\pi t / T)\big).$$
#
# In PyTorch a scheduler wraps the optimiser, and `scheduler.step()` is called once per epoch,
# after the optimiser's steps.

# %% code tags=demo
opt_demo = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
sched_demo = torch.optim.lr_scheduler.CosineAnnealingLR(opt_demo, T_max=50, eta_min=0.001)
lrs_demo = []
for epoch in range(50):
    lrs_demo.append(opt_demo.param_groups[0]["lr"])
    opt_demo.step()
    sched_demo.step()
plot_curves({"cosine annealing, T = 50": lrs_demo}, xlabel="epoch", ylabel="learning rate",
            title="Cosine annealing from 0.1 to 0.001")
plt.show()

# %% markdown
# ### The classic bugs, demonstrated
#
# **Forgetting `zero_grad()`.** Then every `backward()` adds to the gradients of all earlier
# batches, so the step taken at batch $k$ is the sum of $k$ gradients. The steps keep growing
# through the epoch, and training wanders off or blows up instead of settling.

# %% code tags=demo
train_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.tensor(digits.X_train, dtype=torch.float32), torch.tensor(digits.y_train)),
    batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))


def bug_demo(zero_grad: bool, epochs: int = 6) -> list[float]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(epochs):
        for xb, yb in train_loader:
            if zero_grad:
                opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(min(loss.item(), 20.0))
    return losses


plot_curves({"with zero_grad()": bug_demo(True), "without zero_grad()": bug_demo(False)},
            xlabel="update (batch of 64)", ylabel="batch loss (capped at 20)", logy=True,
            title="Same model, data and learning rate; only zero_grad() differs")
plt.show()

# %% markdown
# **Evaluating in training mode.** Dropout (section 11) switches off random units while training.
# If you forget `model.eval()`, evaluation does the same, so the "accuracy" of one fixed model
# changes every time you measure it, and is lower than it should be. Batch norm in training mode
# would, in addition, normalise each test batch by its own statistics.

# %% code tags=demo
torch.manual_seed(0)
drop_model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
opt_drop = torch.optim.Adam(drop_model.parameters(), lr=3e-3)
for _ in range(10):
    drop_model.train()
    for xb, yb in train_loader:
        opt_drop.zero_grad()
        F.cross_entropy(drop_model(xb), yb).backward()
        opt_drop.step()
X_val_t = torch.tensor(digits.X_val, dtype=torch.float32)
y_val_t = torch.tensor(digits.y_val)
with torch.no_grad():
    drop_model.train()
    train_mode = [(drop_model(X_val_t).argmax(1) == y_val_t).float().mean().item() for _ in range(3)]
    drop_model.eval()
    eval_mode = [(drop_model(X_val_t).argmax(1) == y_val_t).float().mean().item() for _ in range(3)]
print("validation accuracy measured 3 times in train mode:", [round(a, 4) for a in train_mode])
print("validation accuracy measured 3 times in eval mode: ", [round(a, 4) for a in eval_mode])

# %% markdown
# ## 10. Batch normalisation and layer normalisation
#
# Each layer's input distribution shifts as the layers below it learn. **Batch normalisation**
# (Ioffe and Szegedy, 2015) re-standardises every feature over the mini-batch, then lets the
# network choose the scale and shift it wants through two learned vectors $\gamma$ and $\beta$.
# For a batch $x$ of shape $(N, D)$, per feature $j$:
#
# $$\mu_j = \frac{1}{N}\sum_n x_{nj}, \qquad \sigma_j^2 = \frac{1}{N}\sum_n (x_{nj} - \mu_j)^2, \qquad
# \hat x_{nj} = \frac{x_{nj} - \mu_j}{\sqrt{\sigma_j^2 + \epsilon}}, \qquad y_{nj} = \gamma_j \hat x_{nj} + \beta_j.$$
#
# It makes deep networks train faster and tolerate larger learning rates.
#
# **Training versus inference.** At test time a prediction must not depend on which other
# examples share its batch (and the batch may be a single image). So during training the layer
# also keeps **running averages** of the mean and variance, and at inference it normalises with
# those instead:
#
# $$\text{running\_mean} \leftarrow (1 - m)\,\text{running\_mean} + m\,\mu, \qquad
# \text{running\_var} \leftarrow (1 - m)\,\text{running\_var} + m\,\tfrac{N}{N - 1}\sigma^2,$$
#
# with momentum $m = 0.1$ in PyTorch (this "momentum" is the weight of the *new* value, the
# opposite of the optimisers' convention). Note the factor $N/(N-1)$: PyTorch normalises the batch
# with the biased variance but stores the unbiased one in `running_var`. The running statistics
# start at mean 0 and variance 1.
#
# **Where to put it.** The original paper places batch norm between the affine layer and the
# nonlinearity (`Linear -> BatchNorm -> ReLU`), reasoning that the pre-activations are the more
# Gaussian quantity; the affine layer's bias then becomes redundant, since $\beta$ does its job.
# Many practitioners report that normalising after the activation works as well or better, and
# "pre-activation" residual networks put `BatchNorm -> ReLU` before each weight layer. There is
# no settled answer; before the activation remains the common default, and what matters more is
# using it consistently. Likewise the paper's explanation ("internal covariate shift") is
# disputed: later work (Santurkar et al., 2018) attributes the benefit mainly to a smoother loss
# surface.
#
# In training mode the cache is exactly the tuple `(x_hat, gamma, std)`: `x_hat` of shape
# $(N, D)$, `gamma` $(D,)$ and `std` $= \sqrt{\sigma^2 + \epsilon}$ of shape $(D,)$. The tests check
# it, and the backward test builds its own from these three, so the two halves are graded apart.
#
# ### Exercise 18: `batchnorm_forward`

# %% solution id=batchnorm_forward
def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, state: dict, train: bool,
                      momentum: float = 0.1, eps: float = 1e-5) -> tuple[np.ndarray, tuple | None]:
    """Batch normalisation over the batch dimension, as torch.nn.BatchNorm1d.

    Inputs:
        x: inputs, shape (N, D).
        gamma, beta: learned scale and shift, shape (D,).
        state: dict with "running_mean" and "running_var", shape (D,) each. In training mode
            update both (replace the entries or modify the arrays in place); in eval mode leave them.
        train: True for training mode (batch statistics), False for inference (running statistics).
        momentum: weight of the new batch statistics in the running averages.
        eps: added to the variance before the square root.
    Returns:
        out: shape (N, D).
        cache: in training mode the tuple (x_hat, gamma, std), std = sqrt(batch var + eps) of
            shape (D,); in eval mode anything (None is fine).
    """
    ### BEGIN SOLUTION
    if train:
        N = x.shape[0]
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mean) / std
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var * N / (N - 1)
        return gamma * x_hat + beta, (x_hat, gamma, std)
    x_hat = (x - state["running_mean"]) / np.sqrt(state["running_var"] + eps)
    return gamma * x_hat + beta, None
    ### END SOLUTION

# %% tests id=test_batchnorm_forward points=3
def torch_batchnorm(D, gamma, beta):
    bn = nn.BatchNorm1d(D).double()
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
    return bn


rng_t = np.random.default_rng(3)
gamma_t, beta_t = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
bn_t = torch_batchnorm(3, gamma_t, beta_t)
state_t = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
for step in range(2):
    x_t = rng_t.standard_normal((5, 3)) * 3 + 1
    out, _ = batchnorm_forward(x_t, gamma_t, beta_t, state_t, train=True)
    bn_t.train()
    check_close(f"train-mode out, batch {step + 1}", out, bn_t(torch.from_numpy(x_t)).detach(),
                hint="normalise with the batch mean and the biased batch variance (np.var)")
    check_close(f"running_mean after batch {step + 1}", state_t["running_mean"], bn_t.running_mean,
                hint="running_mean = (1 - momentum) * running_mean + momentum * batch mean")
    check_close(f"running_var after batch {step + 1}", state_t["running_var"], bn_t.running_var,
                hint="running_var stores the UNBIASED batch variance, var * N / (N - 1)")
x_t = rng_t.standard_normal((4, 3))
out, _ = batchnorm_forward(x_t, gamma_t, beta_t, state_t, train=False)
bn_t.eval()
check_close("eval-mode out", out, bn_t(torch.from_numpy(x_t)).detach(),
            hint="at inference, normalise with running_mean and running_var, not the batch's statistics")
check_close("running_mean after eval", state_t["running_mean"], bn_t.running_mean, hint="eval mode must not update the state")
print("batchnorm_forward: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(101)
for N, D, mom, eps in [(2, 1, 0.1, 1e-5), (16, 7, 0.1, 1e-5), (9, 4, 0.3, 1e-3)]:
    g_h, b_h = rng.standard_normal(D), rng.standard_normal(D)
    bn_h = nn.BatchNorm1d(D, momentum=mom, eps=eps).double()
    with torch.no_grad():
        bn_h.weight.copy_(torch.from_numpy(g_h))
        bn_h.bias.copy_(torch.from_numpy(b_h))
    st = {"running_mean": np.zeros(D), "running_var": np.ones(D)}
    for step in range(4):
        x_h = rng.standard_normal((N, D)) * rng.uniform(0.5, 5) + rng.uniform(-3, 3)
        std_ref = np.sqrt(x_h.var(axis=0) + eps)
        x_hat_ref = (x_h - x_h.mean(axis=0)) / std_ref
        with from_scratch("batchnorm_forward"):
            out, cache = batchnorm_forward(x_h, g_h, b_h, st, True, momentum=mom, eps=eps)
        bn_h.train()
        check_close("train out", out, bn_h(torch.from_numpy(x_h)).detach())
        check_true(isinstance(cache, tuple) and len(cache) == 3,
                   f"the training-mode cache should be the tuple (x_hat, gamma, std), got {type(cache).__name__}"
                   + (f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else ""))
        check_close("cache x_hat", cache[0], x_hat_ref, rtol=1e-7, atol=1e-9)
        check_close("cache gamma", cache[1], g_h)
        check_close("cache std = sqrt(batch var + eps)", cache[2], std_ref,
                    hint="std is the square root of the biased batch variance plus eps, shape (D,)")
        check_close("running_mean", st["running_mean"], bn_h.running_mean)
        check_close("running_var", st["running_var"], bn_h.running_var)
        x_e = rng.standard_normal((3, D)) * 2
        with from_scratch("batchnorm_forward"):
            out, _ = batchnorm_forward(x_e, g_h, b_h, st, False, momentum=mom, eps=eps)
        bn_h.eval()
        check_close("eval out", out, bn_h(torch.from_numpy(x_e)).detach())
        check_close("running_mean unchanged by eval", st["running_mean"], bn_h.running_mean)
    x_one = rng.standard_normal((1, D))
    out, _ = batchnorm_forward(x_one, g_h, b_h, st, False, momentum=mom, eps=eps)
    check_close("eval out for a batch of one", out, bn_h(torch.from_numpy(x_one)).detach())
### END HIDDEN TESTS

# %% markdown
# **The backward pass.** Now derive $dx$, $d\gamma$ and $d\beta$ from `dout` $= \partial L / \partial y$,
# shape $(N, D)$. Each feature $j$ is separate, so think of one column. The graph is
#
# ```
#  x ──┬──────────────────────────┐
#      ├─[ μ = mean(x) ]──────────┤
#      └─[ σ² = mean((x − μ)²) ]──┴─[ x̂ = (x − μ) / sqrt(σ² + ε) ]─[ y = γ x̂ + β ]─ L
# ```
#
# $d\beta$ and $d\gamma$ come straight from the last node. For $dx$, remember that $\mu$ and
# $\sigma^2$ depend on *every* example of the batch, so each $x_n$ reaches $L$ along three paths:
# directly through $\hat x_n$, through $\mu$, and through $\sigma^2$. Go backwards one node at a
# time (first $d\hat x$, then $d\sigma^2$, then $d\mu$, then $dx$) and sum the three paths; if you
# like, simplify the result using only $\hat x$, $\gamma$ and `std`, which is all the cache holds.
#
# ### Exercise 19: `batchnorm_backward`

# %% solution id=batchnorm_backward
def batchnorm_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of training-mode batch normalisation.

    Inputs:
        dout: upstream gradient, shape (N, D).
        cache: (x_hat, gamma, std) from batchnorm_forward with train=True; x_hat (N, D),
            gamma (D,), std (D,).
    Returns:
        dx: shape (N, D).
        dgamma: shape (D,).
        dbeta: shape (D,).
    """
    ### BEGIN SOLUTION
    x_hat, gamma, std = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = (N * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0)) / (N * std)
    return dx, dgamma, dbeta
    ### END SOLUTION

# %% tests id=test_batchnorm_backward points=3
def bn_reference(x, gamma, beta, eps=1e-5):
    """Training-mode batch norm with torch, for the reference gradients and the cache."""
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    out = F.batch_norm(xt, None, None, gt, bt, training=True, eps=eps)
    std = np.sqrt(x.var(axis=0) + eps)
    return out, (xt, gt, bt), ((x - x.mean(axis=0)) / std, gamma.copy(), std)


rng_t = np.random.default_rng(4)
x_t = rng_t.standard_normal((6, 3)) * 2 + 1
gamma_t, beta_t = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
dout_t = rng_t.standard_normal((6, 3))
out_ref, (xt, gt, bt), cache_t = bn_reference(x_t, gamma_t, beta_t)
out_ref.backward(torch.from_numpy(dout_t))
dx, dgamma, dbeta = batchnorm_backward(dout_t, cache_t)
check_close("dbeta", dbeta, bt.grad, hint="dbeta sums dout over the batch")
check_close("dgamma", dgamma, gt.grad, hint="dgamma sums dout * x_hat over the batch")
check_close("dx", dx, xt.grad, hint="the batch mean and variance depend on every x: dx has three terms")
print("batchnorm_backward: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(102)
for N, D in [(2, 1), (10, 5), (32, 8)]:
    x_h = rng.standard_normal((N, D)) * rng.uniform(0.1, 10) + rng.uniform(-5, 5)
    g_h, b_h = rng.standard_normal(D), rng.standard_normal(D)
    dout_h = rng.standard_normal((N, D))
    out_ref, (xt, gt, bt), cache_h = bn_reference(x_h, g_h, b_h)
    out_ref.backward(torch.from_numpy(dout_h))
    with from_scratch("batchnorm_backward"):
        dx, dgamma, dbeta = batchnorm_backward(dout_h, cache_h)
    check_close("dx", dx, xt.grad, rtol=1e-6, atol=1e-9)
    check_close("dgamma", dgamma, gt.grad)
    check_close("dbeta", dbeta, bt.grad)
### END HIDDEN TESTS

# %% markdown
# **The batch-norm gradients, derived.** With $d\hat x = \text{dout} \odot \gamma$, the three paths
# add up and simplify to
#
# $$d\beta = \sum_n \text{dout}_n, \qquad d\gamma = \sum_n \text{dout}_n \odot \hat x_n, \qquad
# dx = \frac{1}{N \sqrt{\sigma^2 + \epsilon}}\Big(N\, d\hat x - \sum_n d\hat x_n - \hat x \odot \sum_n d\hat x_n \odot \hat x_n\Big).$$
#
# The second term is the path through $\mu$ (shifting every input moves the mean with it), the
# third the path through $\sigma^2$. If the gradient were passed straight through $\hat x$ only,
# $dx = d\hat x / \sqrt{\sigma^2 + \epsilon}$, the network would not know that the batch statistics
# move when $x$ does.

# %% markdown
# **Layer normalisation** (Ba, Kiros and Hinton, 2016) normalises each *example* over its own
# features instead of each feature over the batch: the same equations with the sums running over
# $j$ rather than $n$. It needs no batch statistics at all, so it behaves identically in training
# and inference, works with a batch of one and with sequences of varying length, and is the
# normalisation used in transformers (Module 5). The check below compares the one-line formula
# with `nn.LayerNorm`.

# %% code
x_ln = torch.randn(4, 6, dtype=torch.float64)
ln = nn.LayerNorm(6, elementwise_affine=False).double()
manual = (x_ln - x_ln.mean(dim=1, keepdim=True)) / torch.sqrt(x_ln.var(dim=1, unbiased=False, keepdim=True) + 1e-5)
compare("layer norm", manual, ln(x_ln))
ln.eval()
_ = compare("eval mode", ln(x_ln), manual)

# %% markdown
# ## 11. Regularisation: dropout, weight decay, early stopping
#
# A network with enough parameters can memorise its training set; regularisation makes it prefer
# solutions that generalise.
#
# **Dropout** (Srivastava et al., 2014) switches off each unit with probability $p$ at every
# training step, so no unit can rely on a particular other one being present; it is like training
# a large ensemble of thinned networks that share weights. At inference all units are on. To keep
# the expected activation the same in both modes, **inverted dropout** scales the surviving units
# by $1/(1-p)$ during training, so inference needs no change at all:
#
# $$\text{mask}_{i} = \frac{[u_i \ge p]}{1 - p},\ u_i \sim \mathcal{U}(0, 1), \qquad
# \text{out} = x \odot \text{mask} \quad \text{(training)}, \qquad \text{out} = x \quad \text{(inference)}.$$
#
# Here $p$ is the probability of *dropping* a unit, as in `nn.Dropout(p)`.
#
# ### Exercise 20: `dropout_forward`

# %% solution id=dropout_forward
def dropout_forward(x: np.ndarray, p: float, train: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverted dropout.

    Inputs:
        x: inputs, any shape.
        p: probability of dropping each entry, 0 <= p < 1.
        train: True to drop (training), False to pass x through unchanged (inference).
        rng: NumPy random Generator to draw the mask from (e.g. rng.random(x.shape)).
    Returns:
        out: shape of x; in training, each entry is 0 with probability p and x / (1 - p) otherwise.
        mask: float array with the shape of x and out = x * mask in training, every entry 0.0 or
            1 / (1 - p) (not a boolean array); None at inference.
    """
    ### BEGIN SOLUTION
    if not train:
        return x, None
    mask = (rng.random(x.shape) >= p) / (1 - p)
    return x * mask, mask
    ### END SOLUTION

# %% tests id=test_dropout_forward points=2
x_t = np.ones((200, 500))
out, mask = dropout_forward(x_t, 0.3, True, np.random.default_rng(0))
check_shape("out", out, x_t.shape)
values = np.unique(np.round(out, 12))
check_true(len(values) == 2 and values[0] == 0 and np.isclose(values[1], 1 / 0.7),
           f"with x = 1 and p = 0.3 the outputs should be 0 or 1/0.7 = 1.4286, got values {values[:5]}",
           hint="inverted dropout scales the kept units by 1 / (1 - p)")
dropped = np.mean(out == 0)
check_true(abs(dropped - 0.3) < 0.01, f"fraction dropped {dropped:.4f}, expected about 0.3",
           hint="p is the probability of DROPPING a unit")
check_true(abs(out.mean() - 1) < 0.01, f"mean of out {out.mean():.4f}, expected about 1 (the mean of x)")
out_eval, _ = dropout_forward(x_t * 2.5, 0.3, False, np.random.default_rng(0))
check_close("out at inference", out_eval, x_t * 2.5, hint="at inference dropout does nothing")
print(f"dropout_forward: visible test passed; dropped fraction {dropped:.4f}")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(111)
for p in [0.0, 0.1, 0.5, 0.8]:
    x_h = rng.standard_normal((400, 300))
    with from_scratch("dropout_forward"):
        out, mask = dropout_forward(x_h.copy(), p, True, np.random.default_rng(5))
    kept = out != 0
    check_close("kept entries", out[kept], x_h[kept] / (1 - p))
    check_true(isinstance(mask, np.ndarray) and mask.shape == x_h.shape and np.issubdtype(mask.dtype, np.floating),
               f"p={p}: the mask should be a float array of shape {x_h.shape}, got "
               f"{type(mask).__name__} {getattr(mask, 'dtype', '')} {getattr(mask, 'shape', '')}",
               hint="the mask holds 0.0 or 1 / (1 - p), so that out = x * mask")
    check_true(bool(np.all(np.isclose(mask, 0.0, rtol=0, atol=0) | np.isclose(mask, 1 / (1 - p), rtol=1e-12, atol=0))),
               f"p={p}: mask values {np.unique(mask)[:4]}, expected only 0 and 1/(1-p) = {1 / (1 - p):.6g}",
               hint="inverted dropout's mask is 0 for a dropped entry and 1 / (1 - p) for a kept one")
    check_close("out = x * mask", out, x_h * mask)
    check_true(abs(np.mean(~kept) - p) < 0.01, f"p={p}: fraction dropped {np.mean(~kept):.4f}")
    out2, _ = dropout_forward(x_h.copy(), p, True, np.random.default_rng(5))
    check_close("same rng seed gives the same mask", out2, out)
    out3, _ = dropout_forward(x_h.copy(), p, True, np.random.default_rng(6))
    if p > 0:
        check_true(not np.array_equal(out3, out), "the mask must be drawn from rng")
    out_e, _ = dropout_forward(x_h.copy(), p, False, np.random.default_rng(5))
    check_close("inference", out_e, x_h)
x_1 = np.array([[3.0]])
out_1, _ = dropout_forward(x_1, 0.5, True, np.random.default_rng(0))
check_true(out_1[0, 0] in (0.0, 6.0), f"single entry: got {out_1[0, 0]}, expected 0 or 6")
### END HIDDEN TESTS

# %% markdown
# **Weight decay** was the subject of section 8: add $\lambda w$ to the gradient for SGD, or use
# AdamW's decoupled form for Adam. Typical values are $10^{-4}$ to $10^{-1}$.
#
# **Early stopping.** As training goes on, the training loss keeps falling, but the loss on data
# the network has not seen (a *validation* set carved out of the training data) eventually turns
# upwards: the network has begun to memorise. Early stopping watches the validation loss and stops
# when it has not improved for `patience` epochs in a row, keeping the best model seen. An
# improvement means a loss lower than the best so far by more than `min_delta`.
#
# Example with `patience=2`: validation losses 1.0, 0.8, 0.9, 0.85 give `step()` results
# False, False, False, True. (0.9 is the first epoch without improvement over 0.8, 0.85 the
# second, so the fourth call says stop.) With `min_delta` $> 0$ a loss that is lower than `best`,
# but not by more than `min_delta`, does not count: it is a bad epoch, and `best` stays the loss of
# the last improvement, so that many tiny gains in a row cannot postpone stopping for ever.
#
# ### Exercise 21: `EarlyStopping`

# %% solution id=EarlyStopping
class EarlyStopping:
    """Decide when to stop training from the validation loss.

    Usage:
        stopper = EarlyStopping(patience=5)
        for epoch in ...:
            ...
            if stopper.step(val_loss):
                break
    Attributes:
        best: the validation loss of the last improvement (float("inf") before the first step);
            with min_delta = 0 that is the lowest loss seen so far.
        bad_epochs: an int, how many steps in a row have not improved on best (0 before the first
            step and after every improvement).
    """

    def __init__(self, patience: int, min_delta: float = 0.0):
        """patience: steps without improvement after which step() returns True.
        min_delta: a loss counts as an improvement only if it is below best - min_delta."""
        ### BEGIN SOLUTION
        self.patience = patience
        self.min_delta = min_delta
        self.best = float("inf")
        self.bad_epochs = 0
        ### END SOLUTION

    def step(self, val_loss: float) -> bool:
        """Record one epoch's validation loss; return True when training should stop."""
        ### BEGIN SOLUTION
        if val_loss < self.best - self.min_delta:
            self.best = val_loss
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience
        ### END SOLUTION

# %% tests id=test_EarlyStopping points=2
stopper = EarlyStopping(patience=2)
check_true(stopper.best == float("inf"), f"best before any step should be inf, got {stopper.best}")
decisions = [stopper.step(v) for v in [1.0, 0.8, 0.9, 0.85]]
check_equal("step() results for 1.0, 0.8, 0.9, 0.85", decisions, [False, False, False, True],
            hint="stop after `patience` steps in a row without improvement, not one later")
check_close("best", stopper.best, 0.8)
print("EarlyStopping: visible test passed")
### BEGIN HIDDEN TESTS
def reference_stops(losses, patience, min_delta):
    best, bad, out, bads = float("inf"), 0, [], []
    for v in losses:
        if v < best - min_delta:
            best, bad = v, 0
        else:
            bad += 1
        out.append(bad >= patience)
        bads.append(bad)
    return out, best, bads


# Every loss and min_delta below is a multiple of 1/64, so best - min_delta is exact in binary and
# `loss < best - min_delta` and `best - loss > min_delta` agree, on the boundary too.
rng = np.random.default_rng(121)
cases = [([0.5, 0.5, 0.5], 1, 0.0), ([3.0, 2.0, 1.0, 0.5], 1, 0.0), ([1.0, 0.75, 0.625, 0.5], 2, 0.25),
         ([1.0, 0.75, 0.75, 0.5], 2, 0.25), ([2.0, 1.5, 1.25, 1.0, 0.875], 3, 0.5),
         ([1.0, 1.25, 0.875, 1.125, 1.0, 0.9375, 0.96875], 3, 0.0)]
for _ in range(6):
    n = int(rng.integers(3, 15))
    walk = np.round((1 + np.cumsum(rng.normal(0, 0.1, n))) * 64) / 64
    cases.append(([float(v) for v in walk], int(rng.integers(1, 5)), float(rng.choice([0.0, 0.03125]))))
for losses, patience, min_delta in cases:
    exp_stops, _, exp_bads = reference_stops(losses, patience, min_delta)
    st = EarlyStopping(patience, min_delta=min_delta)
    check_true(hasattr(st, "bad_epochs"), "EarlyStopping needs a bad_epochs attribute (see the docstring)",
               hint="set self.bad_epochs = 0 in __init__")
    check_equal("bad_epochs before the first step", st.bad_epochs, 0)
    # compare up to and including the first stop: what happens after that is not specified
    upto = exp_stops.index(True) + 1 if True in exp_stops else len(losses)
    got, bads = [], []
    for v in losses[:upto]:
        got.append(st.step(v))
        bads.append(st.bad_epochs)
    label = f"{losses[:upto]} (patience {patience}, min_delta {min_delta})"
    check_equal(f"step() results for {label}", got, exp_stops[:upto])
    check_equal(f"bad_epochs after each step for {label}", bads, exp_bads[:upto])
    check_true(all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) for b in bads),
               f"bad_epochs should be an int (a count), got {[type(b).__name__ for b in bads][:3]}")
    check_close(f"best after {label}", st.best, reference_stops(losses[:upto], patience, min_delta)[1],
                hint="best is the loss of the last improvement: a loss that is lower but not by more than "
                     "min_delta does not replace it")
### END HIDDEN TESTS

# %% markdown
# Here early stopping watches a network that is bound to overfit: a wide network, no
# regularisation, and only 150 training images. The validation loss (on the 269 validation
# images) bottoms out early and climbs while the training loss keeps falling; the dashed line marks
# where `EarlyStopping(patience=10)` stops. Stopping is only half of it: the weights at the stop are
# ten epochs past their best, so we keep a copy of the weights at every improvement and **restore**
# that copy at the end.

# %% code tags=demo
torch.manual_seed(0)
X_few = torch.tensor(digits.X_train[:150], dtype=torch.float32)
y_few = torch.tensor(digits.y_train[:150])
X_val = torch.tensor(digits.X_val, dtype=torch.float32)
y_val = torch.tensor(digits.y_val)
over_model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
opt_over = torch.optim.Adam(over_model.parameters(), lr=1e-3)
stopper = EarlyStopping(patience=10)
history, best_state, stop_epoch = {"training loss": [], "validation loss": []}, None, None
for epoch in range(150):
    over_model.train()
    opt_over.zero_grad()
    loss = F.cross_entropy(over_model(X_few), y_few)
    loss.backward()
    opt_over.step()
    over_model.eval()
    with torch.no_grad():
        val_loss = F.cross_entropy(over_model(X_val), y_val).item()
    history["training loss"].append(loss.item())
    history["validation loss"].append(val_loss)
    if stop_epoch is None:  # keep training after the stop only to show the curves going on
        if stopper.step(val_loss):
            stop_epoch = epoch + 1
        elif stopper.bad_epochs == 0:  # an improvement: keep a copy of these weights
            best_state, best_epoch = copy.deepcopy(over_model.state_dict()), epoch + 1
ax = plot_curves(history, xlabel="epoch (one full-batch step each)", ylabel="cross-entropy", logy=True,
                 title="Overfitting, and where early stopping steps in (training set and validation set)")
if stop_epoch:
    ax.axvline(stop_epoch, ls="--", color=OKABE_ITO[3], label=f"stop (epoch {stop_epoch})")
    ax.axvline(best_epoch, ls=":", color=OKABE_ITO[2], label=f"best, restored (epoch {best_epoch})")
    ax.legend()
plt.show()
over_model.load_state_dict(best_state)  # restore the weights of the best epoch, not the last ones
over_model.eval()
with torch.no_grad():
    restored_loss = F.cross_entropy(over_model(X_val), y_val).item()
print(f"stopped at epoch {stop_epoch}; restored the weights of epoch {best_epoch}: "
      f"validation loss {restored_loss:.4f} (best seen {stopper.best:.4f})")

# %% markdown
# ## 12. Putting it together: a network for the handwritten digits
#
# Time to use everything: build a multilayer network for the 8x8 digits (64 inputs, 10 classes)
# that reaches **at least 97% test accuracy**. The training cell below is fixed: AdamW with weight
# decay, a cosine learning-rate schedule, your `train_one_epoch` and `evaluate`, a progress bar and
# live curves of the training and validation losses. It keeps the weights of the epoch with the
# lowest validation loss, and only then measures the test set, once. It also uses *label
# smoothing* (`label_smoothing=0.1`): the target mixes the one-hot vector with the uniform one,
# $0.9 \cdot \text{one-hot} + 0.1 \cdot \tfrac{1}{10}$, so it puts $0.91$ on the correct class and
# $0.01$ on each of the nine others. That discourages overconfident logits; the reported loss is
# therefore never near 0. Your part is the architecture.
#
# The model must output **logits**, raw scores: no softmax at the end. `nn.CrossEntropyLoss`
# applies log-softmax itself, and a softmax before it squashes the scores into $[0, 1]$ and
# slows learning down.
#
# A good start: two hidden layers of a few hundred units, each `Linear -> BatchNorm1d -> ReLU`.
# Dropout is optional. More layers than three are not needed for 64 pixels.
#
# ### Exercise 22: `make_digits_model`

# %% solution id=make_digits_model
def make_digits_model() -> nn.Module:
    """A multilayer network for the digits: input (B, 64) float32, output logits (B, 10).

    Returns:
        model: a torch.nn.Module with at least two nn.Linear layers (a hidden layer) and at most
            about a million parameters, so that training takes seconds.
    """
    ### BEGIN SOLUTION
    return nn.Sequential(
        nn.Linear(64, 256), nn.BatchNorm1d(256), nn.ReLU(),
        nn.Linear(256, 128), nn.BatchNorm1d(128), nn.ReLU(),
        nn.Linear(128, 10),
    )
    ### END SOLUTION

# %% tests id=test_make_digits_model points=1
torch.manual_seed(0)
candidate = make_digits_model()
check_true(isinstance(candidate, nn.Module), f"make_digits_model() returned {type(candidate).__name__}, not an nn.Module")
candidate.eval()
with torch.no_grad():
    logits_c = candidate(torch.rand(5, 64))
check_shape("model output for 5 images", logits_c, (5, 10))
n_linear = sum(isinstance(m, nn.Linear) for m in candidate.modules())
check_true(n_linear >= 2, f"the model has {n_linear} nn.Linear layer(s)", hint="a multilayer network needs a hidden layer")
n_params = sum(p.numel() for p in candidate.parameters())
check_true(n_params <= 1_100_000, f"the model has {n_params:,} parameters; keep it under about a million")
rows_are_probabilities = bool(((logits_c >= 0) & (logits_c <= 1)).all()) and torch.allclose(
    logits_c.sum(dim=1), torch.ones(5), atol=1e-4)
check_true(not rows_are_probabilities,
           "every output row is in [0, 1] and sums to 1: the model returns probabilities, not logits",
           hint="remove the final softmax; nn.CrossEntropyLoss takes raw scores (logits)")
print(f"make_digits_model: visible test passed ({n_linear} linear layers, {n_params:,} parameters)")

# %% markdown
# ### Two sanity checks before a long run
#
# Before spending minutes (or days) training, spend seconds on two checks that catch most broken
# set-ups:
#
# 1. **The loss at initialisation.** A freshly initialised classifier has no idea yet, so its
#    softmax should be close to uniform over the $C$ classes. What cross-entropy does a uniform
#    prediction give? If the measured initial loss is far above that number, the initial logits are
#    too large (a bad initialisation, unnormalised inputs, or a softmax applied twice).
# 2. **Overfit a tiny batch.** A network with tens of thousands of parameters must be able to
#    memorise 20 examples, even with random labels, driving the loss to nearly 0. If it cannot,
#    something is broken in the model, the loss or the update, and no amount of training on the
#    full data set will fix it.
#
# ### Exercise 23: `expected_initial_loss`, `overfit_small_batch`

# %% solution id=expected_initial_loss
def expected_initial_loss(num_classes: int) -> float:
    """The cross-entropy of a prediction that gives every one of the C classes the same probability.

    Inputs:
        num_classes: C >= 2.
    Returns:
        loss: a Python float, the same whatever the correct class is.
    """
    ### BEGIN SOLUTION
    return float(np.log(num_classes))
    ### END SOLUTION

# %% tests id=test_expected_initial_loss points=1
got = expected_initial_loss(10)
check_true(isinstance(got, float), f"expected a Python float, got {type(got).__name__}", hint="wrap the result in float(...)")
check_close("expected_initial_loss(10)", got, F.cross_entropy(torch.zeros(1, 10, dtype=torch.float64), torch.tensor([3])).item(),
            hint="with probability 1/C on the correct class, the loss is -ln(1/C)")
print(f"expected_initial_loss: visible test passed ({got:.4f} for 10 classes)")
### BEGIN HIDDEN TESTS
for C in [2, 3, 7, 1000]:
    expected = F.cross_entropy(torch.zeros(2, C, dtype=torch.float64), torch.tensor([0, C - 1])).item()
    with from_scratch("expected_initial_loss"):
        got = expected_initial_loss(C)
    check_close(f"expected_initial_loss({C})", got, expected)
### END HIDDEN TESTS

# %% solution id=overfit_small_batch
def overfit_small_batch(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int = 200, lr: float = 1e-2) -> list[float]:
    """Train model on one small batch until it memorises it: the second sanity check.

    Recipe: model.train(); optimizer = torch.optim.Adam(model.parameters(), lr=lr); then `steps`
    times: zero the gradients, loss = F.cross_entropy(model(X), y), backward, step.

    Inputs:
        model: a torch.nn.Module that maps X (N, D) to logits (N, C), on the same device as X.
        X: inputs (N, D); y: class indices (N,).
        steps: number of full-batch Adam steps.
        lr: Adam's learning rate.
    Returns:
        losses: a list of `steps` Python floats, the loss on (X, y) computed before each step.
    """
    ### BEGIN SOLUTION
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
    ### END SOLUTION

# %% tests id=test_overfit_small_batch points=2
def reference_overfit(model, X, y, steps, lr):
    """The docstring's recipe, run on a copy of the model (the test's own reference)."""
    model = copy.deepcopy(model)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


torch.manual_seed(0)
X_tiny = torch.randn(20, 8, dtype=torch.float64)
y_tiny = torch.randint(0, 4, (20,))  # random labels: only memorising can fit them
model_tiny = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 4)).double()
with torch.no_grad():
    initial = F.cross_entropy(model_tiny(X_tiny), y_tiny).item()
expected_losses = reference_overfit(model_tiny, X_tiny, y_tiny, 60, 3e-2)
losses_tiny = overfit_small_batch(model_tiny, X_tiny, y_tiny, steps=60, lr=3e-2)
check_equal("len(losses)", len(losses_tiny), 60, hint="one loss per step")
check_true(all(isinstance(v, float) for v in losses_tiny), "the losses should be Python floats", hint="use loss.item()")
check_close("losses[0], the loss before the first step", losses_tiny[0], initial, rtol=1e-9, atol=1e-12,
            hint="record each loss before the optimizer step that follows it")
check_true(losses_tiny[-1] < 0.05, f"after 60 steps the loss on 20 examples is {losses_tiny[-1]:.4f}, expected below 0.05",
           hint="zero the gradients, compute the loss, backward(), optimizer.step(): every step")
check_close("the losses of all 60 steps", losses_tiny, expected_losses, rtol=1e-6, atol=1e-9,
            hint="follow the recipe in the docstring: Adam with the given lr, one full-batch step per iteration")
print(f"overfit_small_batch: visible test passed; loss {losses_tiny[0]:.4f} -> {losses_tiny[-1]:.2e}")
### BEGIN HIDDEN TESTS
for seed, n, d, c, steps, lr in [(1, 12, 5, 3, 30, 5e-2), (2, 32, 10, 10, 40, 3e-2)]:
    torch.manual_seed(seed)
    X_h = torch.randn(n, d, dtype=torch.float64)
    y_h = torch.randint(0, c, (n,))
    model_h = nn.Sequential(nn.Linear(d, 32), nn.Tanh(), nn.Linear(32, c)).double()
    model_h.eval()  # the function must switch to training mode itself
    expected_h = reference_overfit(model_h, X_h, y_h, steps, lr)
    got_h = overfit_small_batch(model_h, X_h, y_h, steps=steps, lr=lr)
    check_equal("len(losses)", len(got_h), steps)
    check_close(f"losses (N={n}, C={c}, {steps} steps, lr={lr})", got_h, expected_h, rtol=1e-6, atol=1e-9)
### END HIDDEN TESTS

# %% markdown
# Both checks on the digits network you designed: its loss before any training, next to the
# uniform guess's, and 32 training images memorised in a few seconds.

# %% code tags=demo
torch.manual_seed(0)
check_model = make_digits_model().to(device)
X_check = torch.tensor(digits.X_train[:32], dtype=torch.float32, device=device)
y_check = torch.tensor(digits.y_train[:32], device=device)
with torch.no_grad():
    start_loss = F.cross_entropy(check_model(X_check), y_check).item()
print(f"initial loss {start_loss:.4f}; a uniform guess over 10 classes gives {expected_initial_loss(10):.4f}")
tiny_losses = overfit_small_batch(check_model, X_check, y_check, steps=100, lr=1e-2)
print(f"32 training images after 100 steps: loss {tiny_losses[-1]:.4f} (near 0: the model can learn)")

# %% code tags=slow
torch.manual_seed(0)
train_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.tensor(digits.X_train, dtype=torch.float32), torch.tensor(digits.y_train)),
    batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
val_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.tensor(digits.X_val, dtype=torch.float32), torch.tensor(digits.y_val)),
    batch_size=256)
digits_model = make_digits_model().to(device)
EPOCHS = 40
optimizer = torch.optim.AdamW(digits_model.parameters(), lr=3e-3, weight_decay=1e-2)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=EPOCHS)
loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
live = LiveCurves(title="Digits network: training and validation sets", ylabel="cross-entropy (label smoothing 0.1)", every=5)
best_val, best_epoch, best_state = float("inf"), None, None
for epoch in tqdm(range(EPOCHS), desc="epochs"):
    train_loss = train_one_epoch(digits_model, train_loader, optimizer, loss_fn, device)
    val_loss, val_acc = evaluate(digits_model, val_loader, loss_fn, device)
    scheduler.step()
    live.update({"training loss": train_loss, "validation loss": val_loss})
    if val_loss < best_val:  # model selection on the validation set
        best_val, best_epoch, best_state = val_loss, epoch + 1, copy.deepcopy(digits_model.state_dict())
live.close()
digits_model.load_state_dict(best_state)
best_val_loss, best_val_acc = evaluate(digits_model, val_loader, loss_fn, device)
print(f"kept epoch {best_epoch} of {EPOCHS}: validation loss {best_val_loss:.4f}, validation accuracy {best_val_acc:.4f}")

# %% markdown
# All choices are made. Now, and only now, the test set: one measurement of the network we keep.

# %% code tags=slow
test_loader = torch.utils.data.DataLoader(
    torch.utils.data.TensorDataset(torch.tensor(digits.X_test, dtype=torch.float32), torch.tensor(digits.y_test)),
    batch_size=256)
test_loss, test_acc = evaluate(digits_model, test_loader, loss_fn, device)
print(f"test set ({len(digits.X_test)} images, used once): loss {test_loss:.4f}, accuracy {test_acc:.4f}")

# %% tests id=test_digits_accuracy points=3 tags=slow
digits_model.eval()
with torch.no_grad():
    param = next(digits_model.parameters())
    logits_d = digits_model(torch.tensor(digits.X_test, dtype=param.dtype, device=param.device))
rows_are_probabilities = bool(((logits_d >= 0) & (logits_d <= 1)).all()) and torch.allclose(
    logits_d.sum(dim=1), torch.ones(len(logits_d), device=logits_d.device, dtype=logits_d.dtype), atol=1e-4)
check_true(not rows_are_probabilities,
           "every output row is in [0, 1] and sums to 1: the model returns probabilities, not logits",
           hint="remove the final softmax; nn.CrossEntropyLoss takes raw scores (logits)")
accuracy = (logits_d.argmax(dim=1).cpu().numpy() == digits.y_test).mean()
check_true(accuracy >= 0.97, f"test accuracy {accuracy:.4f}, below the 0.97 required",
           hint="widen the hidden layers, add BatchNorm1d before each ReLU, and check train_one_epoch")
print(f"digits network: test accuracy {accuracy:.4f}")

# %% markdown
# ## Summary
#
# - A derivative is the slope seen by nudging; the chain rule multiplies local slopes along a
#   computation graph, and backpropagation applies it from the loss back to every parameter.
# - For a sigmoid (or softmax) output with cross-entropy, the error signal is simply
#   prediction minus target; below it, $\delta^{(l)} = (\delta^{(l+1)} W^{(l+1)\top}) \odot f'(z^{(l)})$.
# - Central differences and the relative error tell you whether a gradient is right.
# - Mini-batch gradient descent is the workhorse; momentum and Nesterov smooth its path, AdaGrad
#   and RMSProp adapt its step per parameter, Adam does both with bias correction, and AdamW
#   decouples weight decay from the adaptive step.
# - In PyTorch the loop is `zero_grad`, forward, `backward`, `step`, in `train()` mode; evaluation
#   runs in `eval()` mode under `no_grad()`. Forget either and the bugs are silent.
# - Batch norm uses batch statistics while training and running averages at inference; layer norm
#   needs neither. Dropout, weight decay and early stopping keep a network from memorising.
#
# Module 3 puts these tools to work on images, with layers that share their weights across space:
# convolutional networks.
