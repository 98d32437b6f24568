# %% markdown
# # Module 4: recurrent networks
#
# Text, speech, prices and heartbeats arrive one step at a time, and what a step means depends on
# the steps before it. A *recurrent* network reads such a sequence the way you read this sentence:
# one element at a time, carrying a summary of everything so far in a hidden state that it updates
# at every step with the same weights.
#
# In this notebook you will
#
# 1. write one recurrent step, a whole forward pass, and backpropagation through time in NumPy;
# 2. measure vanishing and exploding gradients, and write gradient clipping;
# 3. write the LSTM and GRU steps and check them against PyTorch's cells;
# 4. mask the loss of padded batches, and see bidirectional RNNs, packing and sequence-to-sequence
#    models at work;
# 5. train a character-level language model on Python's documentation and sample from it, a
#    sequence classifier, and a forecaster of a real neuron's membrane potential, each against a
#    baseline;
# 6. see why attention has largely replaced recurrence, and where recurrence still serves.
#
# Sequences are always batch-first: a batch `x` has shape `(N, T, D)`: N sequences, T time steps,
# D features per step.

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

import ipywidgets as widgets
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_utils import from_scratch, grad_check
from course_utils.data import load_digits_split, load_membrane_potential, load_text_corpus, series_blocks, split_text
from course_utils.plotting import OKABE_ITO
from course_utils.widgets import float_slider, slider_plot

# %% markdown
# ## 1. Sequences and recurrence
#
# A feed-forward network maps one input to one output. With sequences there are four patterns:
#
# - **one-to-one**: no sequence at all (an image classifier);
# - **one-to-many**: one input, a sequence out (an image in, a caption out; a prompt for music);
# - **many-to-one**: a sequence in, one output (the sentiment of a review; the digit drawn row by row);
# - **many-to-many**: a sequence in, a sequence out, either aligned (a label or a forecast for every
#   step) or not (translation, where an *encoder* reads the sentence and a *decoder* writes another
#   of a different length).
#
# A recurrent network covers all four with one idea: a hidden state $h_t$ that summarises
# $x_1, \dots, x_t$, updated by the same function at every step:
#
# $$ h_t = f(x_t, h_{t-1}), \qquad \hat y_t = g(h_t). $$
#
# Because the weights are shared across steps, the network handles sequences of any length with a
# fixed number of parameters, the way a convolution handles images of any size.

# %% code tags=demo
def draw_patterns() -> None:
    """Boxes for inputs (bottom), hidden states (middle) and outputs (top) of the four patterns."""
    patterns = {
        "one-to-one": ([0], [0], [0]),
        "one-to-many": ([0], [0, 1, 2, 3], [0, 1, 2, 3]),
        "many-to-one": ([0, 1, 2, 3], [0, 1, 2, 3], [3]),
        "many-to-many": ([0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3]),
    }
    fig, axes = plt.subplots(1, 4, figsize=(12, 3))
    for ax, (name, (xs, hs, ys)) in zip(axes, patterns.items()):
        for t in xs:
            ax.add_patch(plt.Rectangle((t - 0.3, -0.3), 0.6, 0.6, color=OKABE_ITO[0]))
            ax.annotate("", (t, 0.7), (t, 0.3), arrowprops=dict(arrowstyle="->"))
        for t in hs:
            ax.add_patch(plt.Rectangle((t - 0.3, 0.7), 0.6, 0.6, color=OKABE_ITO[2]))
            if t > hs[0]:
                ax.annotate("", (t - 0.3, 1.0), (t - 0.7, 1.0), arrowprops=dict(arrowstyle="->"))
        for t in ys:
            ax.add_patch(plt.Rectangle((t - 0.3, 1.7), 0.6, 0.6, color=OKABE_ITO[1]))
            ax.annotate("", (t, 1.7), (t, 1.3), arrowprops=dict(arrowstyle="->"))
        ax.set(xlim=(-0.6, 3.6), ylim=(-0.5, 2.5), title=name, xticks=[], yticks=[])
        ax.grid(False)
    axes[0].set_yticks([0, 1, 2], ["input $x_t$", "hidden $h_t$", "output $y_t$"])
    fig.suptitle("Four ways to use a recurrent network (time runs left to right; blue in, green state, orange out)")
    fig.tight_layout()
    plt.show()


draw_patterns()

# %% markdown
# ### Concept check 1
#
# A model is told which digit to draw (one label, 0 to 9) and draws it stroke by stroke, one pen
# movement per step. Which pattern is it?
#
# (a) one-to-one &nbsp;&nbsp; (b) one-to-many &nbsp;&nbsp; (c) many-to-one &nbsp;&nbsp; (d) many-to-many
#
# Set `q1_answer` to `"a"`, `"b"`, `"c"` or `"d"`.

# %% solution id=q1_answer
q1_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q1_answer = "b"
### END SOLUTION

# %% tests id=test_q1_answer points=1
check_true(q1_answer in ("a", "b", "c", "d"), f"q1_answer is {q1_answer!r}; set it to one of 'a', 'b', 'c', 'd' (a string).")
print("q1_answer: a valid choice (graded when you submit)")
### BEGIN HIDDEN TESTS
check_equal("q1_answer", q1_answer, "b")
### END HIDDEN TESTS

# %% markdown
# ## 2. One recurrent step
#
# The plain ("vanilla", or Elman) RNN updates its state with one affine map of the input and the
# previous state, squashed by tanh:
#
# $$ h_t = \tanh\!\left(x_t W_x + h_{t-1} W_h + b\right). $$
#
# | name | shape | meaning |
# | --- | --- | --- |
# | `x_t` | `(N, D)` | the inputs of step t, one row per sequence |
# | `h_prev` | `(N, H)` | the previous hidden states $h_{t-1}$ |
# | `Wx` | `(D, H)` | input-to-hidden weights |
# | `Wh` | `(H, H)` | hidden-to-hidden (recurrent) weights |
# | `b` | `(H,)` | bias |
# | `h_next` | `(N, H)` | the new hidden states $h_t$ |
#
# As in modules 2 and 3, each forward function returns `(out, cache)`: the output, and what the
# backward pass will need.
#
# ### Exercise 1: `rnn_step`
#
# Implement one step in NumPy and return `(h_next, cache)` with
# `cache = (x_t, h_prev, Wx, Wh, b, h_next)`. Hint: one line for `h_next`; `np.tanh` works entry by
# entry.

# %% solution id=rnn_step
def rnn_step(x_t: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """One step of a vanilla RNN: h_next = tanh(x_t @ Wx + h_prev @ Wh + b).

    Inputs:
        x_t: (N, D) inputs of this step.
        h_prev: (N, H) previous hidden states.
        Wx: (D, H) input-to-hidden weights.
        Wh: (H, H) hidden-to-hidden weights.
        b: (H,) bias.
    Returns:
        h_next: (N, H) new hidden states.
        cache: the tuple (x_t, h_prev, Wx, Wh, b, h_next).
    """
    ### BEGIN SOLUTION
    h_next = np.tanh(x_t @ Wx + h_prev @ Wh + b)
    return h_next, (x_t, h_prev, Wx, Wh, b, h_next)
    ### END SOLUTION


# %% tests id=test_rnn_step points=1
_x = np.array([[1.0, 2.0]])
_h = np.array([[0.5, -0.5, 0.0]])
_Wx = np.array([[0.1, 0.0, -0.2], [0.0, 0.3, 0.1]])
_Wh = np.eye(3)
_b = np.array([0.0, 0.1, 0.0])
_h_next, _cache = rnn_step(_x, _h, _Wx, _Wh, _b)
check_close("rnn_step(x, h, Wx, Wh, b)", _h_next, np.tanh([[0.6, 0.2, 0.0]]),
            hint="a = x @ Wx + h_prev @ Wh + b = [0.6, 0.2, 0.0]; h_next = tanh(a), applied once")
check_true(isinstance(_cache, tuple) and len(_cache) == 6, "rnn_step: cache must be the tuple (x_t, h_prev, Wx, Wh, b, h_next)")
print("rnn_step: visible test passed")
### BEGIN HIDDEN TESTS
def _cell_ref(x_t, h_prev, Wx, Wh, b):
    cell = nn.RNNCell(Wx.shape[0], Wx.shape[1], dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(Wx.T.copy()))
        cell.weight_hh.copy_(torch.from_numpy(Wh.T.copy()))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.zero_()
        return cell(torch.from_numpy(x_t), torch.from_numpy(h_prev)).numpy()


_rng = np.random.default_rng(41)
for _N, _D, _H, _scale in [(1, 1, 1, 1.0), (4, 3, 5, 1.0), (7, 10, 2, 0.3), (1, 6, 8, 1.0), (3, 4, 4, 30.0)]:
    _x, _h = _rng.standard_normal((_N, _D)) * _scale, np.tanh(_rng.standard_normal((_N, _H)))
    _Wx, _Wh, _b = _rng.standard_normal((_D, _H)), _rng.standard_normal((_H, _H)), _rng.standard_normal(_H)
    _expected = _cell_ref(_x, _h, _Wx, _Wh, _b)
    with from_scratch("rnn_step"):
        _got, _cache = rnn_step(_x.copy(), _h.copy(), _Wx.copy(), _Wh.copy(), _b.copy())
    check_close(f"rnn_step with N={_N}, D={_D}, H={_H}", _got, _expected)
    check_close("rnn_step: cache[5] (h_next)", _cache[5], _expected)
_got, _ = rnn_step(np.zeros((2, 3)), np.zeros((2, 4)), np.ones((3, 4)), np.ones((4, 4)), np.zeros(4))
check_close("rnn_step on zeros", _got, np.zeros((2, 4)))
### END HIDDEN TESTS

# %% markdown
# ## 3. A whole sequence
#
# Run the step for $t = 0, 1, \dots, T-1$, feeding each new state into the next step, starting from
# a given $h_{-1} = h_0$ (usually zeros). The same `Wx`, `Wh`, `b` serve every step.
#
# ### Exercise 2: `rnn_forward`
#
# Return every hidden state, `h` of shape `(N, T, H)` with `h[:, t]` $= h_t$, and
# `cache = (x, h0, Wx, Wh, b, h)`. A loop over time is the right tool here: step $t$ needs step
# $t-1$. (You may call your `rnn_step`.)

# %% solution id=rnn_forward
def rnn_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """A vanilla RNN over a whole batch of sequences.

    Inputs:
        x: (N, T, D) input sequences.
        h0: (N, H) initial hidden states.
        Wx: (D, H), Wh: (H, H), b: (H,) as in rnn_step.
    Returns:
        h: (N, T, H) hidden states; h[:, t] = tanh(x[:, t] @ Wx + h[:, t-1] @ Wh + b), with h0 before t = 0.
        cache: the tuple (x, h0, Wx, Wh, b, h).
    """
    ### BEGIN SOLUTION
    N, T, _ = x.shape
    h = np.zeros((N, T, Wh.shape[0]), dtype=np.result_type(x, Wx))
    h_t = h0
    for t in range(T):
        h_t = np.tanh(x[:, t] @ Wx + h_t @ Wh + b)
        h[:, t] = h_t
    return h, (x, h0, Wx, Wh, b, h)
    ### END SOLUTION


# %% tests id=test_rnn_forward points=2
_x = np.array([[[1.0], [0.0], [0.0]]])  # one sequence, three steps, one feature
_h, _cache = rnn_forward(_x, np.zeros((1, 1)), np.array([[1.0]]), np.array([[2.0]]), np.zeros(1))
_h1 = np.tanh(1.0)
check_close("rnn_forward: h for x = (1, 0, 0), Wx = 1, Wh = 2", _h[0, :, 0], [_h1, np.tanh(2 * _h1), np.tanh(2 * np.tanh(2 * _h1))],
            hint="after step 0 the input is 0, so h_t = tanh(2 h_{t-1}): each step must use the state of the step before")
check_shape("rnn_forward: h", _h, (1, 3, 1))
print("rnn_forward: visible test passed")
### BEGIN HIDDEN TESTS
def _rnn_ref(x, h0, Wx, Wh, b):
    rnn = nn.RNN(Wx.shape[0], Wx.shape[1], batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(Wx.T.copy()))
        rnn.weight_hh_l0.copy_(torch.from_numpy(Wh.T.copy()))
        rnn.bias_ih_l0.copy_(torch.from_numpy(b))
        rnn.bias_hh_l0.zero_()
        return rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])[0].numpy()


_rng = np.random.default_rng(42)
for _N, _T, _D, _H in [(1, 1, 1, 1), (2, 5, 3, 4), (1, 12, 2, 6), (5, 1, 4, 3), (3, 20, 5, 7)]:
    _x, _h0 = _rng.standard_normal((_N, _T, _D)), _rng.standard_normal((_N, _H)) * 0.5
    _Wx, _Wh, _b = _rng.standard_normal((_D, _H)), _rng.standard_normal((_H, _H)) * 0.5, _rng.standard_normal(_H)
    _expected = _rnn_ref(_x, _h0, _Wx, _Wh, _b)
    with from_scratch("rnn_forward"):
        _got, _cache = rnn_forward(_x.copy(), _h0.copy(), _Wx.copy(), _Wh.copy(), _b.copy())
    check_close(f"rnn_forward with N={_N}, T={_T}, D={_D}, H={_H}", _got, _expected)
    check_true(isinstance(_cache, tuple) and len(_cache) == 6, "rnn_forward: cache must be the tuple (x, h0, Wx, Wh, b, h)")
    check_close("rnn_forward: cache[5] (h)", _cache[5], _expected)
### END HIDDEN TESTS

# %% markdown
# ## 4. Backpropagation through time
#
# Unroll the loop and a recurrent network is an ordinary feed-forward network, $T$ layers deep, whose
# layers all share the same weights. Backpropagation through that unrolled graph is called
# *backpropagation through time* (BPTT). Here is the forward computation, step by step, with its
# shapes:
#
# $$ a_t = x_t W_x + h_{t-1} W_h + b \quad (N, H), \qquad h_t = \tanh(a_t) \quad (N, H),
#    \qquad t = 0, \dots, T-1,\; h_{-1} = h_0. $$
#
# Some loss $L$ reads the hidden states; the backward function receives `dh` of shape `(N, T, H)`,
# with `dh[:, t]` $= \partial L / \partial h_t$ *as far as $L$ reads $h_t$ directly*. It must return
#
# | gradient | shape |
# | --- | --- |
# | `dx` $= \partial L / \partial x$ | `(N, T, D)` |
# | `dh0` $= \partial L / \partial h_0$ | `(N, H)` |
# | `dWx`, `dWh`, `db` | `(D, H)`, `(H, H)`, `(H,)` |
#
# Derive the gradients yourself, on paper first. Three questions will guide you:
#
# 1. Through which paths does $h_t$ influence $L$? (Look at where $h_t$ appears on the right-hand
#    side of the equations.) What does that mean for the total gradient that reaches $h_t$?
# 2. In which order must you visit the steps so that this total is known when you need it?
# 3. `Wx`, `Wh` and `b` are used at every step. What does the chain rule say about a parameter used
#    $T$ times? (Module 2's `affine_backward` answers one step of it.)
#
# ### Exercise 3: `rnn_backward`
#
# Implement it in NumPy from the cache `(x, h0, Wx, Wh, b, h)` that `rnn_forward` returns (the test
# builds that tuple itself, so this exercise does not depend on your forward). Hint: the derivative of
# tanh is written with its output, as in module 1; `h[:, t]` is in the cache.

# %% solution id=rnn_backward
def rnn_backward(dh: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for a vanilla RNN.

    Inputs:
        dh: (N, T, H) upstream gradients, dh[:, t] = dL/dh_t where L reads h_t directly.
        cache: (x, h0, Wx, Wh, b, h) as returned by rnn_forward, with
            x: (N, T, D), h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,), h: (N, T, H).
    Returns:
        dx: (N, T, D), dh0: (N, H), dWx: (D, H), dWh: (H, H), db: (H,).
    """
    ### BEGIN SOLUTION
    x, h0, Wx, Wh, b, h = cache
    N, T, _ = x.shape
    dx = np.zeros_like(x, dtype=np.result_type(x, dh))
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh_next = np.zeros_like(h0, dtype=dh.dtype)  # gradient arriving at h_t from step t + 1
    for t in reversed(range(T)):
        da = (dh[:, t] + dh_next) * (1 - h[:, t] ** 2)
        h_prev = h[:, t - 1] if t > 0 else h0
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh_next = da @ Wh.T
    return dx, dh_next, dWx, dWh, db
    ### END SOLUTION


# %% tests id=test_rnn_backward points=3
def _rnn_torch(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PyTorch's RNN on NumPy arrays: the reference forward for the numeric gradients."""
    rnn = nn.RNN(Wx.shape[0], Wx.shape[1], batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for p, v in [(rnn.weight_ih_l0, Wx.T), (rnn.weight_hh_l0, Wh.T), (rnn.bias_ih_l0, b), (rnn.bias_hh_l0, 0 * b)]:
            p.copy_(torch.from_numpy(np.ascontiguousarray(v)))
        return rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])[0].numpy()


_rng = np.random.default_rng(3)
_x, _h0 = _rng.standard_normal((2, 4, 3)), _rng.standard_normal((2, 5)) * 0.5
_Wx, _Wh, _b = _rng.standard_normal((3, 5)) * 0.5, _rng.standard_normal((5, 5)) * 0.5, _rng.standard_normal(5) * 0.1
_h = _rnn_torch(_x, _h0, _Wx, _Wh, _b)
_dh = _rng.standard_normal(_h.shape)
_grads = rnn_backward(_dh, (_x, _h0, _Wx, _Wh, _b, _h))
check_true(isinstance(_grads, tuple) and len(_grads) == 5, "rnn_backward must return the tuple (dx, dh0, dWx, dWh, db)")
_dx, _dh0, _dWx, _dWh, _db = _grads
grad_check("dx", _dx, lambda v: _rnn_torch(v, _h0, _Wx, _Wh, _b), _x.copy(), _dh)
grad_check("dh0", _dh0, lambda v: _rnn_torch(_x, v, _Wx, _Wh, _b), _h0.copy(), _dh)
grad_check("dWx", _dWx, lambda v: _rnn_torch(_x, _h0, v, _Wh, _b), _Wx.copy(), _dh)
grad_check("dWh", _dWh, lambda v: _rnn_torch(_x, _h0, _Wx, v, _b), _Wh.copy(), _dh)
grad_check("db", _db, lambda v: _rnn_torch(_x, _h0, _Wx, _Wh, v), _b.copy(), _dh)
print("rnn_backward: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(43)
for _N, _T, _D, _H in [(1, 1, 1, 1), (2, 1, 3, 4), (1, 6, 2, 3), (3, 9, 4, 5), (4, 15, 3, 6), (1, 25, 2, 2)]:
    _xt = torch.from_numpy(_rng.standard_normal((_N, _T, _D))).requires_grad_(True)
    _h0t = torch.from_numpy(_rng.standard_normal((_N, _H)) * 0.5).requires_grad_(True)
    _rnn = nn.RNN(_D, _H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        _rnn.weight_hh_l0.mul_(2.0)  # make the recurrence matter over many steps
        _rnn.bias_hh_l0.zero_()
    _h = _rnn(_xt, _h0t[None])[0]
    _dh = torch.from_numpy(_rng.standard_normal((_N, _T, _H)))
    _h.backward(_dh)
    _cache = (_xt.detach().numpy().copy(), _h0t.detach().numpy().copy(), _rnn.weight_ih_l0.detach().numpy().T.copy(),
              _rnn.weight_hh_l0.detach().numpy().T.copy(), _rnn.bias_ih_l0.detach().numpy().copy(), _h.detach().numpy().copy())
    _dh_np = _dh.numpy().copy()
    with from_scratch("rnn_backward"):
        _grads = rnn_backward(_dh_np, _cache)
    check_true(isinstance(_grads, tuple) and len(_grads) == 5, "rnn_backward must return the tuple (dx, dh0, dWx, dWh, db)")
    _expected = (_xt.grad, _h0t.grad, _rnn.weight_ih_l0.grad.T, _rnn.weight_hh_l0.grad.T, _rnn.bias_ih_l0.grad)
    for _name, _got, _exp in zip(("dx", "dh0", "dWx", "dWh", "db"), _grads, _expected):
        check_close(f"{_name} for N={_N}, T={_T}, D={_D}, H={_H}", _got, _exp.numpy(),
                    hint="the gradient reaching h_t is dh[:, t] plus what flows back from step t + 1")
# only the last state read by the loss: every earlier gradient comes through the recurrence
_dh = np.zeros((2, 5, 3)); _dh[:, -1] = 1.0
_xt = torch.from_numpy(_rng.standard_normal((2, 5, 2))).requires_grad_(True)
_rnn = nn.RNN(2, 3, batch_first=True, dtype=torch.float64)
_h0 = torch.zeros(1, 2, 3, dtype=torch.float64)
_h = _rnn(_xt, _h0)[0]
_h.backward(torch.from_numpy(_dh))
_cache = (_xt.detach().numpy().copy(), np.zeros((2, 3)), _rnn.weight_ih_l0.detach().numpy().T.copy(),
          _rnn.weight_hh_l0.detach().numpy().T.copy(), (_rnn.bias_ih_l0 + _rnn.bias_hh_l0).detach().numpy().copy(), _h.detach().numpy().copy())
with from_scratch("rnn_backward"):
    _dx = rnn_backward(_dh.copy(), _cache)[0]
check_close("dx when only h_{T-1} is read", _dx, _xt.grad.numpy(), hint="gradients must flow back through every step, not stop after one")
### END HIDDEN TESTS

# %% markdown
# ### The formulas, for reference
#
# Now that your backward pass agrees with central differences and with autograd, here is the
# derivation it encodes. $h_t$ reaches the loss directly (through `dh[:, t]`) and through $h_{t+1}$,
# so walk the steps backwards, carrying the second part as `dh_next` (zero beyond the last step):
#
# $$ \delta_t = \frac{\partial L}{\partial a_t} = \big(\texttt{dh}_t + \texttt{dh\_next}\big) \odot (1 - h_t^2), $$
#
# $$ \texttt{dx}_t = \delta_t W_x^\top, \qquad \texttt{dh\_next} \leftarrow \delta_t W_h^\top, $$
#
# $$ \texttt{dW}_x \mathrel{+}= x_t^\top \delta_t, \qquad \texttt{dW}_h \mathrel{+}= h_{t-1}^\top \delta_t,
#    \qquad \texttt{db} \mathrel{+}= \textstyle\sum_n \delta_t, $$
#
# and after step 0, `dh0` is the last `dh_next`. The weight gradients *accumulate* over the steps
# because the same weights serve every step. Notice the repeated product in
# `dh_next`: the gradient that reaches step $t - k$ has been multiplied by
# $W_h^\top$ and a diagonal of $(1 - h^2) \le 1$ $k$ times. That product is the subject of the next
# section.
#
# (Truncated BPTT, used for long sequences, runs this loop over windows of a few dozen steps and
# carries only the hidden state, not its gradient, from one window to the next. The language model
# below trains that way.)
#
# ## 5. Vanishing and exploding gradients, measured
#
# How much does the loss at the end of a sequence care about the state $k$ steps earlier? Measure
# $\lVert \partial L / \partial h_{T-k} \rVert$ directly: run a network for 80 steps on random
# inputs, let $L$ read only the last state, and ask autograd for the gradient with respect to every
# earlier state. We compare three networks of 32 units with PyTorch's default initialisation:
#
# - a vanilla tanh RNN;
# - the same with its recurrent weights scaled up (a ReLU RNN, so nothing saturates);
# - an LSTM (section 7), with its forget-gate bias set to 2 as is common practice.

# %% code tags=demo
def state_gradient_norms(cell: nn.Module, T: int = 80, lstm: bool = False, seed: int = 0) -> np.ndarray:
    """||dL/dh_t|| for t = 0..T-1, where L = sum of the last hidden state, inputs N(0, 1), batch of 16."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(T, 16, cell.input_size, generator=gen)
    h = torch.zeros(16, cell.hidden_size)
    c = torch.zeros(16, cell.hidden_size)
    states = []
    for t in range(T):
        if lstm:
            h, c = cell(x[t], (h, c))
        else:
            h = cell(x[t], h)
        h.retain_grad()
        states.append(h)
    states[-1].sum().backward()
    return np.array([s.grad.norm().item() for s in states])


torch.manual_seed(0)
_tanh = nn.RNNCell(8, 32)
_relu = nn.RNNCell(8, 32, nonlinearity="relu")
with torch.no_grad():
    _relu.weight_hh.copy_(2.0 * torch.linalg.qr(torch.randn(32, 32))[0])  # an orthogonal matrix, scaled by 2
_lstm = nn.LSTMCell(8, 32)
with torch.no_grad():
    _lstm.bias_ih[32:64].fill_(2.0)  # forget gate (PyTorch's order: input, forget, cell, output)
    _lstm.bias_hh[32:64].zero_()
_norms = {"vanilla RNN (tanh)": state_gradient_norms(_tanh), "ReLU RNN, recurrent weights x2": state_gradient_norms(_relu),
          "LSTM, forget bias 2": state_gradient_norms(_lstm, lstm=True)}
fig, ax = plt.subplots(figsize=(7, 3.8))
for _k, (_name, _n) in enumerate(_norms.items()):
    ax.semilogy(np.arange(len(_n))[::-1], _n, color=OKABE_ITO[_k], label=_name)
ax.set(title="How far back does the gradient reach? (L reads only the last state)",
       xlabel="k: steps before the end", ylabel="||dL / dh_(T-k)|| (log scale)")
ax.legend()
plt.show()
for _name, _n in _norms.items():
    print(f"{_name:<34} gradient 40 steps back / at the end: {_n[-41] / _n[-1]:.3g}")

# %% markdown
# The tanh RNN's gradient shrinks geometrically: each step multiplies it by $W_h^\top$ and by
# tanh's slope, which is at most 1, so after a few dozen steps the loss is blind to what happened
# earlier. The network cannot learn long-range dependencies because it never receives a signal
# about them: this is the **vanishing gradient**. Make the recurrent weights large enough and remove
# the saturation, and the same product grows geometrically instead: the **exploding gradient**, which
# turns one training step into a jump to nonsense (or to `nan`). The LSTM's cell state is updated
# *additively*, $c_t = f_t \odot c_{t-1} + \dots$, so its gradient is scaled by the forget gate, not
# pushed through a squashing function at every step; with forget gates near 1 it travels much further.
#
# ## 6. Gradient clipping
#
# Exploding gradients have a cheap cure: before each update, measure the *global* norm of all the
# gradients together, as if they were one long vector,
#
# $$ \lVert g \rVert = \sqrt{\textstyle\sum_k \lVert g_k \rVert^2}, $$
#
# and if it exceeds `max_norm`, scale every gradient by the same factor $\texttt{max\_norm} / \lVert g \rVert$.
# The update keeps its direction and only its length is capped. (PyTorch's `clip_grad_norm_` adds
# $10^{-6}$ to the norm in that factor, to be safe from dividing by zero; the tests accept either.)
#
# ### Exercise 4: `clip_by_global_norm`
#
# Implement it in NumPy. Return new arrays (or the same ones scaled, if they are untouched) and the
# norm measured *before* clipping. Gradients whose global norm is at most `max_norm` come back
# unchanged.

# %% solution id=clip_by_global_norm
def clip_by_global_norm(grads: list[np.ndarray], max_norm: float) -> tuple[list[np.ndarray], float]:
    """Scale a list of gradients so that their global norm is at most max_norm.

    Inputs:
        grads: list of arrays of any shapes.
        max_norm: the largest global norm allowed, > 0.
    Returns:
        clipped: list of arrays with the shapes of grads; each grads[k] * min(1, max_norm / norm).
        norm: the global norm sqrt(sum_k sum(grads[k] ** 2)) before clipping, a float.
    """
    ### BEGIN SOLUTION
    norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return [g * scale for g in grads], norm
    ### END SOLUTION


# %% tests id=test_clip_by_global_norm points=2
_g = [np.array([3.0, 0.0]), np.array([[0.0], [4.0]])]  # global norm 5
_clipped, _norm = clip_by_global_norm(_g, 1.0)
check_close("clip_by_global_norm(...) norm", _norm, 5.0, hint="the norm of all entries of all arrays together: sqrt(9 + 16)")
check_close("clip_by_global_norm(...)[0][0]", _clipped[0], [0.6, 0.0], rtol=1e-5,
            hint="every array is scaled by the same factor max_norm / norm = 0.2, not by its own norm")
check_close("clip_by_global_norm(...)[0][1]", _clipped[1], [[0.0], [0.8]], rtol=1e-5)
_clipped, _ = clip_by_global_norm(_g, 10.0)
check_close("clip_by_global_norm(..., max_norm=10)[0][1]", _clipped[1], _g[1], hint="below the threshold the gradients stay as they are")
print("clip_by_global_norm: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(44)
for _shapes, _max_norm, _scale in [([(3,), (2, 4)], 1.0, 1.0), ([(5, 5)], 0.5, 3.0), ([(1,), (1,), (1,)], 2.0, 1.0),
                                   ([(4, 3, 2), (7,), (2, 2)], 100.0, 1.0), ([(6,), (3, 3)], 1e-3, 1e3), ([(2, 3)], 1.0, 0.01)]:
    _g = [_rng.standard_normal(s) * _scale for s in _shapes]
    _params = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in _shapes]
    for _p, _gk in zip(_params, _g):
        _p.grad = torch.from_numpy(_gk.copy())
    _expected_norm = torch.nn.utils.clip_grad_norm_(_params, _max_norm).item()
    with from_scratch("clip_by_global_norm"):
        _clipped, _norm = clip_by_global_norm([g.copy() for g in _g], _max_norm)
    check_close(f"clip_by_global_norm norm for shapes {_shapes}", _norm, _expected_norm)
    check_true(len(_clipped) == len(_g), f"clip_by_global_norm returned {len(_clipped)} arrays for {len(_g)} gradients")
    for _k, (_c, _p) in enumerate(zip(_clipped, _params)):
        check_close(f"clip_by_global_norm gradient {_k} for shapes {_shapes}, max_norm={_max_norm}", _c, _p.grad.numpy(), rtol=1e-5, atol=1e-12)
    if _expected_norm <= _max_norm:
        for _c, _gk in zip(_clipped, _g):
            check_close("clip_by_global_norm below the threshold", _c, _gk)
# exactly at the threshold (norm 2 = max_norm): nothing is clipped
_clipped, _norm = clip_by_global_norm([np.array([2.0]), np.array([0.0, 0.0])], 2.0)
check_close("clip_by_global_norm at norm == max_norm", _clipped[0], [2.0], rtol=1e-6)
_clipped, _norm = clip_by_global_norm([np.zeros(3)], 1.0)
check_close("clip_by_global_norm of zero gradients", _clipped[0], np.zeros(3))
check_close("clip_by_global_norm norm of zero gradients", _norm, 0.0)
### END HIDDEN TESTS

# %% markdown
# ### Clipping rescues a diverging run
#
# The ReLU RNN of section 5 (recurrent weights an orthogonal matrix times 2) learns to output the
# running mean of its inputs, over sequences of 30 steps, with plain SGD at the same learning rate
# twice: once as it is, once with PyTorch's `clip_grad_norm_` (the function you just wrote) at
# `max_norm = 1`. The loss is the mean squared error over the 30 steps.

# %% code
def train_running_mean(clip: float | None, steps: int = 100, lr: float = 0.01, seed: int = 0, T: int = 30) -> tuple[list[float], list[float]]:
    """Train a ReLU RNN to output the running mean; return the loss and the gradient norm per step."""
    torch.manual_seed(seed)
    rnn = nn.RNN(1, 32, nonlinearity="relu", batch_first=True)
    head = nn.Linear(32, 1)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(2.0 * torch.linalg.qr(torch.randn(32, 32))[0])
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses, norms = [], []
    for _ in range(steps):
        x = torch.randn(32, T, 1, generator=gen)
        target = x.cumsum(dim=1) / torch.arange(1, T + 1).reshape(1, T, 1)
        loss = F.mse_loss(head(rnn(x)[0]), target)
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, clip if clip is not None else float("inf"))
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
        if not np.isfinite(losses[-1]):
            break
    return losses, norms

# %% code tags=demo
_runs = {"no clipping": train_running_mean(None), "clip_grad_norm_ at 1": train_running_mean(1.0)}
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for _k, (_name, (_losses, _norms)) in enumerate(_runs.items()):
    axes[0].semilogy(np.arange(1, len(_losses) + 1), _losses, color=OKABE_ITO[_k], label=_name)
    axes[1].semilogy(np.arange(1, len(_norms) + 1), _norms, color=OKABE_ITO[_k], label=_name)
axes[0].set(title="Training loss (running mean of 30 steps)", xlabel="SGD step", ylabel="MSE (log scale)")
axes[1].set(title="Gradient norm before clipping", xlabel="SGD step", ylabel="global norm (log scale)")
axes[0].legend()
fig.tight_layout()
plt.show()
for _name, (_losses, _) in _runs.items():
    _end = _losses[-1]
    print(f"{_name:<22} steps run: {len(_losses):>3} | last loss: {_end:.4g}" if np.isfinite(_end) else
          f"{_name:<22} diverged at step {len(_losses)} (loss {_end})")

# %% markdown
# Without clipping, the first step meets a gradient with a norm in the tens of thousands; SGD jumps
# far from where it was and the loss overflows to `nan` within a few steps. With clipping the run
# starts from the same place, but every step is at most `lr * max_norm` long; the recurrent weights
# shrink to a workable size and the loss goes down. Clipping cures explosions but not vanishing: scaling a tiny gradient down does
# nothing for it. For that we need a different architecture.
#
# ## 7. The LSTM
#
# The long short-term memory cell (Hochreiter and Schmidhuber, 1997) keeps two states: a hidden
# state $h_t$ (what the cell shows the next layer) and a **cell state** $c_t$ (its memory). Four
# *gates*, each a layer of the input and the previous hidden state, decide what happens to the
# memory:
#
# $$ \begin{aligned}
# i_t &= \sigma(z_i) && \text{input gate: how much of the candidate to write} \\
# f_t &= \sigma(z_f) && \text{forget gate: how much of the old memory to keep} \\
# g_t &= \tanh(z_g) && \text{candidate values to write} \\
# o_t &= \sigma(z_o) && \text{output gate: how much of the memory to show} \\
# c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
# h_t &= o_t \odot \tanh(c_t)
# \end{aligned} $$
#
# where $z = [x_t, h_{t-1}]\, W + b$ is one affine map of the input and the previous state put side
# by side, of width $4H$, cut into four blocks of $H$ columns. **PyTorch's order of the blocks is
# $i, f, g, o$** (input, forget, cell candidate, output); we use the same, so that weights copy
# across: `nn.LSTMCell`'s `weight_ih` is `W[:D].T`, its `weight_hh` is `W[D:].T`, and its two biases
# add up to `b`.
#
# With $f_t = 1$ and $i_t = 0$ the memory is copied unchanged, for as many steps as needed: the
# additive update is the gradient highway measured in section 5.
#
# ### Exercise 5: `lstm_step`
#
# Implement one LSTM step in NumPy. Hint: `np.concatenate([x_t, h_prev], axis=1) @ W + b`, then
# slice the four blocks; write the sigmoid yourself.

# %% solution id=lstm_step
def lstm_step(x_t: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One LSTM step, gates in PyTorch's order (input, forget, cell candidate, output).

    Inputs:
        x_t: (N, D) inputs.
        h_prev: (N, H) previous hidden states.
        c_prev: (N, H) previous cell states.
        W: (D + H, 4H) weights; rows for [x_t, h_prev], columns in blocks i, f, g, o.
        b: (4H,) bias, blocks in the same order.
    Returns:
        h_next: (N, H) = o * tanh(c_next).
        c_next: (N, H) = f * c_prev + i * g.
    """
    ### BEGIN SOLUTION
    H = h_prev.shape[1]
    z = np.concatenate([x_t, h_prev], axis=1) @ W + b
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i, f, g, o = sig(z[:, :H]), sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sig(z[:, 3 * H:])
    c_next = f * c_prev + i * g
    return o * np.tanh(c_next), c_next
    ### END SOLUTION


# %% tests id=test_lstm_step points=2
def _lstm_torch(x_t, h_prev, c_prev, W, b):
    """nn.LSTMCell with the weights copied across: the reference for lstm_step."""
    D, H = x_t.shape[1], h_prev.shape[1]
    cell = nn.LSTMCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(W[:D].T.copy()))
        cell.weight_hh.copy_(torch.from_numpy(W[D:].T.copy()))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.zero_()
        h, c = cell(torch.from_numpy(x_t), (torch.from_numpy(h_prev), torch.from_numpy(c_prev)))
    return h.numpy(), c.numpy()


_rng = np.random.default_rng(5)
_x, _h, _c = _rng.standard_normal((2, 3)), _rng.standard_normal((2, 4)), _rng.standard_normal((2, 4))
_W, _b = _rng.standard_normal((7, 16)), _rng.standard_normal(16)
_out = lstm_step(_x, _h, _c, _W, _b)
check_true(isinstance(_out, tuple) and len(_out) == 2, "lstm_step must return the pair (h_next, c_next)")
_h_exp, _c_exp = _lstm_torch(_x, _h, _c, _W, _b)
check_close("lstm_step: c_next", _out[1], _c_exp, hint="c_next = f * c_prev + i * g with the blocks in the order i, f, g, o")
check_close("lstm_step: h_next", _out[0], _h_exp, hint="h_next = o * tanh(c_next)")
print("lstm_step: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(45)
for _N, _D, _H in [(1, 1, 1), (3, 2, 5), (5, 7, 3), (1, 4, 8), (8, 3, 2)]:
    _x, _h, _c = _rng.standard_normal((_N, _D)), _rng.standard_normal((_N, _H)), _rng.standard_normal((_N, _H)) * 2
    _W, _b = _rng.standard_normal((_D + _H, 4 * _H)), _rng.standard_normal(4 * _H)
    _h_exp, _c_exp = _lstm_torch(_x, _h, _c, _W, _b)
    with from_scratch("lstm_step"):
        _out = lstm_step(_x.copy(), _h.copy(), _c.copy(), _W.copy(), _b.copy())
    check_true(isinstance(_out, tuple) and len(_out) == 2, "lstm_step must return the pair (h_next, c_next)")
    check_close(f"lstm_step c_next for N={_N}, D={_D}, H={_H}", _out[1], _c_exp)
    check_close(f"lstm_step h_next for N={_N}, D={_D}, H={_H}", _out[0], _h_exp)
### END HIDDEN TESTS

# %% markdown
# ## 8. The GRU
#
# The gated recurrent unit (Cho et al., 2014) merges the cell and hidden states and uses two gates:
# a **reset** gate $r$ (how much of the previous state to use when proposing a new one) and an
# **update** gate $z$ (how much of the previous state to keep). In PyTorch's convention, with the
# three blocks in the order $r, z, n$:
#
# $$ \begin{aligned}
# r_t &= \sigma\big(x_t W_x^{(r)} + b_x^{(r)} + h_{t-1} W_h^{(r)} + b_h^{(r)}\big) \\
# z_t &= \sigma\big(x_t W_x^{(z)} + b_x^{(z)} + h_{t-1} W_h^{(z)} + b_h^{(z)}\big) \\
# n_t &= \tanh\big(x_t W_x^{(n)} + b_x^{(n)} + r_t \odot (h_{t-1} W_h^{(n)} + b_h^{(n)})\big) \\
# h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
# \end{aligned} $$
#
# Two details matter for matching PyTorch: the reset gate multiplies the *whole* recurrent term of
# the candidate, its bias $b_h^{(n)}$ included (that is why there are two biases), and $z_t$ is the
# share of the **old** state that is kept. (The original paper and some libraries swap the roles of
# $z$ and $1 - z$.) `nn.GRUCell`'s `weight_ih` is `Wx.T`, `weight_hh` is `Wh.T`, `bias_ih` is `bx`
# and `bias_hh` is `bh`.
#
# ### Exercise 6: `gru_step`
#
# Implement one GRU step in NumPy, gates in the order r, z, n.

# %% solution id=gru_step
def gru_step(x_t: np.ndarray, h_prev: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, bx: np.ndarray, bh: np.ndarray) -> np.ndarray:
    """One GRU step, gates in PyTorch's order (reset r, update z, candidate n).

    Inputs:
        x_t: (N, D) inputs.
        h_prev: (N, H) previous hidden states.
        Wx: (D, 3H) input weights, columns in blocks r, z, n.
        Wh: (H, 3H) recurrent weights, same blocks.
        bx: (3H,) input bias; bh: (3H,) recurrent bias.
    Returns:
        h_next: (N, H) = (1 - z) * n + z * h_prev.
    """
    ### BEGIN SOLUTION
    H = h_prev.shape[1]
    gx, gh = x_t @ Wx + bx, h_prev @ Wh + bh
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    r = sig(gx[:, :H] + gh[:, :H])
    z = sig(gx[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1 - z) * n + z * h_prev
    ### END SOLUTION


# %% tests id=test_gru_step points=2
def _gru_torch(x_t, h_prev, Wx, Wh, bx, bh):
    """nn.GRUCell with the weights copied across: the reference for gru_step."""
    cell = nn.GRUCell(x_t.shape[1], h_prev.shape[1], dtype=torch.float64)
    with torch.no_grad():
        for p, v in [(cell.weight_ih, Wx.T), (cell.weight_hh, Wh.T), (cell.bias_ih, bx), (cell.bias_hh, bh)]:
            p.copy_(torch.from_numpy(np.ascontiguousarray(v)))
        return cell(torch.from_numpy(x_t), torch.from_numpy(h_prev)).numpy()


_rng = np.random.default_rng(6)
_x, _h = _rng.standard_normal((2, 3)), _rng.standard_normal((2, 4))
_Wx, _Wh, _bx, _bh = _rng.standard_normal((3, 12)), _rng.standard_normal((4, 12)), _rng.standard_normal(12), _rng.standard_normal(12)
check_close("gru_step(x, h, Wx, Wh, bx, bh)", gru_step(_x, _h, _Wx, _Wh, _bx, _bh), _gru_torch(_x, _h, _Wx, _Wh, _bx, _bh),
            hint="h_next = (1 - z) * n + z * h_prev: z keeps the old state; r multiplies (h_prev @ Wh_n + bh_n)")
print("gru_step: visible test passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(46)
for _N, _D, _H in [(1, 1, 1), (3, 2, 5), (5, 7, 3), (1, 4, 8), (8, 3, 2)]:
    _x, _h = _rng.standard_normal((_N, _D)), _rng.standard_normal((_N, _H))
    _Wx, _Wh = _rng.standard_normal((_D, 3 * _H)), _rng.standard_normal((_H, 3 * _H))
    _bx, _bh = _rng.standard_normal(3 * _H), _rng.standard_normal(3 * _H)
    _expected = _gru_torch(_x, _h, _Wx, _Wh, _bx, _bh)
    with from_scratch("gru_step"):
        _got = gru_step(_x.copy(), _h.copy(), _Wx.copy(), _Wh.copy(), _bx.copy(), _bh.copy())
    check_close(f"gru_step for N={_N}, D={_D}, H={_H}", _got, _expected)
### END HIDDEN TESTS

# %% markdown
# **LSTM or GRU?** The GRU has three blocks of weights to the LSTM's four, so it is about 25% smaller
# and faster, and on many tasks it does as well. The LSTM's separate memory and output gate give it
# a little more control, and on long sequences or large data sets it is often slightly better (it is
# also the better-studied default). In practice: try the GRU when data or compute are scarce, the
# LSTM otherwise, and let the validation set decide. Both beat the vanilla RNN on anything that needs
# memory beyond a few steps.
#
# ### Concept check 2
#
# At some step an LSTM's forget gate is exactly 1 and its input gate exactly 0, in every unit. What
# happens to the cell state at that step?
#
# (a) it is reset to zero &nbsp;&nbsp; (b) it is copied unchanged &nbsp;&nbsp;
# (c) it is replaced by the candidate $g_t$ &nbsp;&nbsp; (d) it is multiplied by the output gate
#
# Set `q2_answer` to `"a"`, `"b"`, `"c"` or `"d"`.

# %% solution id=q2_answer
q2_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q2_answer = "b"
### END SOLUTION

# %% tests id=test_q2_answer points=1
check_true(q2_answer in ("a", "b", "c", "d"), f"q2_answer is {q2_answer!r}; set it to one of 'a', 'b', 'c', 'd' (a string).")
print("q2_answer: a valid choice (graded when you submit)")
### BEGIN HIDDEN TESTS
check_equal("q2_answer", q2_answer, "b")
### END HIDDEN TESTS

# %% markdown
# ## 9. Bidirectional RNNs
#
# A recurrent layer that reads left to right knows, at step $t$, only the past. For tasks where the
# whole sequence is available (tagging the words of a sentence, classifying a recording), a second
# layer can read right to left, and the two hidden states are concatenated at each step:
# $h_t = [\overrightarrow{h}_t, \overleftarrow{h}_t]$, of size $2H$. In PyTorch that is
# `nn.GRU(..., bidirectional=True)`. The cell below changes only the **last** input of a sequence and
# shows which outputs change.

# %% code tags=demo
torch.manual_seed(0)
_bi = nn.GRU(1, 4, batch_first=True, bidirectional=True)
_x = torch.randn(1, 8, 1)
_x2 = _x.clone()
_x2[0, -1] += 1.0  # change only the last step
with torch.no_grad():
    _change = (_bi(_x2)[0] - _bi(_x)[0]).abs()[0]  # (T, 2H)
print(f"output shape: {tuple(_bi(_x)[0].shape)} = (N, T, 2H)")
print("step:                     " + " ".join(f"{t:>6}" for t in range(8)))
print("change, forward half:     " + " ".join(f"{v:6.3f}" for v in _change[:, :4].sum(1).tolist()))
print("change, backward half:    " + " ".join(f"{v:6.3f}" for v in _change[:, 4:].sum(1).tolist()))

# %% markdown
# The forward half does not move before the last step (it has not seen it yet); the backward half
# moves everywhere, because it read the last step first. The price: a bidirectional layer needs the
# whole sequence before it can emit anything, so it cannot run on a live stream (section 16).
#
# ## 10. Padding and masking the loss
#
# Sequences in a batch rarely have the same length. To stack them into one `(N, T)` tensor, the
# short ones are **padded** at the end up to the longest, and the true lengths are kept aside. The
# padding is not data: whatever the network predicts there must not count in the loss, and the mean
# must be over the real positions only. With $m_{n,t} = 1$ where $t < \text{length}_n$ and 0 on the
# padding,
#
# $$ L = \frac{\sum_{n,t} m_{n,t}\, \ell_{n,t}}{\sum_{n,t} m_{n,t}}, \qquad
#    \ell_{n,t} = -\log \operatorname{softmax}(\text{logits}_{n,t})_{\text{target}_{n,t}}. $$
#
# ### Exercise 7: `masked_cross_entropy`
#
# Implement it in PyTorch (it must stay differentiable). Hint: `torch.arange(T)[None, :] < lengths[:, None]`
# builds the mask; `F.cross_entropy(..., reduction="none")` gives $\ell$ for every position. The
# targets on the padding can be any class index.

# %% solution id=masked_cross_entropy
def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the real (unpadded) positions of a padded batch.

    Inputs:
        logits: (N, T, V) scores.
        targets: (N, T) integer class indices; entries at t >= lengths[n] are padding (any value).
        lengths: (N,) integer lengths, each in 1..T.
    Returns:
        loss: a scalar tensor, the mean of -log softmax(logits[n, t])[targets[n, t]] over t < lengths[n].
    """
    ### BEGIN SOLUTION
    N, T, V = logits.shape
    mask = torch.arange(T, device=logits.device)[None, :] < lengths.to(logits.device)[:, None]
    losses = F.cross_entropy(logits.reshape(N * T, V), targets.reshape(N * T), reduction="none").reshape(N, T)
    return (losses * mask).sum() / mask.sum()
    ### END SOLUTION


# %% tests id=test_masked_cross_entropy points=2
_logits = torch.zeros(2, 3, 4, dtype=torch.float64)
_logits[0, 0, 1] = 10.0  # sequence 0, step 0: confident and right
_targets = torch.tensor([[1, 2, 3], [0, 0, 0]])
_loss = masked_cross_entropy(_logits, _targets, torch.tensor([1, 2]))
_expected = (F.cross_entropy(_logits[0, 0], _targets[0, 0]) + 2 * np.log(4)) / 3
check_close("masked_cross_entropy, lengths (1, 2)", _loss.item(), _expected.item(),
            hint="3 real positions: (0, 0), (1, 0), (1, 1). Sum their losses and divide by 3, not by N*T = 6")
print("masked_cross_entropy: visible test passed")
### BEGIN HIDDEN TESTS
from course_utils import gradients

_gen = torch.Generator().manual_seed(47)
for _N, _T, _V in [(1, 1, 2), (3, 5, 4), (4, 9, 7), (1, 6, 3), (6, 4, 10)]:
    _logits = (torch.randn(_N, _T, _V, generator=_gen, dtype=torch.float64) * 3).requires_grad_(True)
    _targets = torch.randint(0, _V, (_N, _T), generator=_gen)
    _lengths = torch.randint(1, _T + 1, (_N,), generator=_gen)
    _lengths[0] = _T
    _mask = torch.arange(_T)[None, :] < _lengths[:, None]
    _expected = F.cross_entropy(_logits.detach()[_mask], _targets[_mask])
    _loss = masked_cross_entropy(_logits, _targets.clone(), _lengths.clone())
    check_true(torch.is_tensor(_loss) and _loss.dim() == 0, "masked_cross_entropy must return a 0-dim tensor, "
               f"got {type(_loss).__name__}", hint="no .item(): the training loop calls .backward() on it")
    check_close(f"masked_cross_entropy N={_N}, T={_T}, V={_V}, lengths={_lengths.tolist()}", _loss.item(), _expected.item())
    # the gradient: the padding gets none, the real positions get the plain cross-entropy's
    _logits_g = _logits.detach().clone().requires_grad_(True)
    F.cross_entropy(_logits_g[_mask], _targets[_mask]).backward()
    _, (_g, _, _), _ = gradients(masked_cross_entropy, _logits.detach().clone().requires_grad_(True), _targets.clone(), _lengths.clone())
    check_true(_g is not None, "masked_cross_entropy: the loss must stay differentiable (no .item() or NumPy inside)")
    check_close("gradient of masked_cross_entropy on the padding", _g[~_mask], torch.zeros_like(_g[~_mask]),
                hint="padding must contribute nothing, not even through the gradient")
    check_close("gradient of masked_cross_entropy", _g, _logits_g.grad)
    _logits2 = _logits.detach().clone()
    _logits2[~_mask] = 1e3 * torch.randn_like(_logits2[~_mask])
    check_close("masked_cross_entropy with garbage on the padding", masked_cross_entropy(_logits2, _targets, _lengths).item(), _expected.item())
### END HIDDEN TESTS

# %% markdown
# ### Packing: not even running the network on the padding
#
# Masking the loss fixes the *loss*. But a recurrent layer run over a padded batch also keeps
# updating the short sequences' hidden states on the padding, so their *final* state (the one a
# many-to-one classifier reads) has digested some zeros. PyTorch's
# `nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)` packs the
# batch so that each sequence stops at its own length; the final state `h_n` is then the state
# after each sequence's last real step, and it also saves the computation.

# %% code tags=demo
torch.manual_seed(0)
_gru = nn.GRU(2, 3, batch_first=True)
_seqs = [torch.randn(L, 2) for L in (5, 2, 3)]
_padded = nn.utils.rnn.pad_sequence(_seqs, batch_first=True)  # (3, 5, 2), zeros after each length
_lengths = torch.tensor([len(s) for s in _seqs])
with torch.no_grad():
    _alone = torch.stack([_gru(s[None])[1][0, 0] for s in _seqs])  # each sequence on its own
    _h_padded = _gru(_padded)[1][0]
    _packed = nn.utils.rnn.pack_padded_sequence(_padded, _lengths, batch_first=True, enforce_sorted=False)
    _h_packed = _gru(_packed)[1][0]
print(f"padded batch {tuple(_padded.shape)}, lengths {_lengths.tolist()}")
for _n in range(3):
    print(f"sequence {_n} (length {_lengths[_n]}): |h_n(padded) - h_n(alone)| = {(_h_padded[_n] - _alone[_n]).abs().max():.3g}, "
          f"|h_n(packed) - h_n(alone)| = {(_h_packed[_n] - _alone[_n]).abs().max():.3g}")

# %% markdown
# The longest sequence is unaffected either way; the two short ones get the wrong final state unless
# the batch is packed.
#
# ## 11. A character-level language model
#
# A language model gives the probability of the next symbol given all previous ones,
# $p(x_{t+1} \mid x_1, \dots, x_t)$. At the level of characters the vocabulary is tiny (here the 95
# printable ASCII characters and the newline), and the model has to learn spelling, words, syntax
# and layout from scratch. Our text is Python's own reference documentation (it ships with every
# Python, in `pydoc_data.topics`): English prose full of code examples. It is cut into contiguous
# pieces: 80% to train on, 10% for validation (to watch and select the model), 10% for a final test.
#
# The loss is the cross-entropy of the next character, in **nats per character** (natural log);
# divide by $\ln 2$ for bits. A model that guessed uniformly among 96 characters would score
# $\ln 96 \approx 4.56$.
#
# **Baseline: a bigram model.** Count, in the training text, how often each character follows each
# other one, and predict with those frequencies (plus a small count $\alpha$ for pairs never seen,
# chosen on the validation text). It knows one character of context; an RNN's state can carry many.

# %% code
VOCAB = ["\n"] + [chr(i) for i in range(32, 127)]
STOI = {ch: i for i, ch in enumerate(VOCAB)}


def encode(text: str) -> torch.Tensor:
    """A string as a (len(text),) tensor of vocabulary indices."""
    return torch.tensor([STOI[ch] for ch in text], dtype=torch.long)


def decode(ids) -> str:
    """Vocabulary indices (a list or a tensor) back to a string."""
    return "".join(VOCAB[int(i)] for i in ids)


corpus = load_text_corpus()
train_text, val_text, test_text = split_text(corpus, val_fraction=0.1, test_fraction=0.1)
train_ids, val_ids, test_ids = encode(train_text), encode(val_text), encode(test_text)
print(f"{len(corpus)} characters: train {len(train_text)}, validation {len(val_text)}, test {len(test_text)}")
print(repr(train_text[20000:20200]))


def bigram_nats(train: torch.Tensor, held_out: torch.Tensor, alpha: float) -> float:
    """Cross-entropy (nats per character) on held_out of add-alpha bigram counts from train."""
    V = len(VOCAB)
    counts = np.full((V, V), alpha)
    np.add.at(counts, (train[:-1].numpy(), train[1:].numpy()), 1.0)
    probs = counts / counts.sum(axis=1, keepdims=True)
    return float(-np.log(probs[held_out[:-1].numpy(), held_out[1:].numpy()]).mean())


for _alpha in (0.01, 0.1, 1.0):
    print(f"bigram, alpha = {_alpha:<4}: validation {bigram_nats(train_ids, val_ids, _alpha):.4f} nats/char")
BIGRAM_ALPHA = 0.1
bigram_val = bigram_nats(train_ids, val_ids, BIGRAM_ALPHA)
print(f"chosen alpha = {BIGRAM_ALPHA}: the baseline to beat is {bigram_val:.4f} nats/char on validation")

# %% markdown
# ### Exercise 8: `CharLM`
#
# Build the model: an embedding of each character (`nn.Embedding(vocab_size, embed_dim)`), one LSTM
# layer (`nn.LSTM(embed_dim, hidden_size, batch_first=True)`), and a linear layer from the hidden
# state to one score per character. Use these attribute names, which the gate viewer below reads:
# `self.embed`, `self.rnn`, `self.head`.
#
# `forward(x, state)` takes a batch of index sequences and an optional LSTM state (`None` means
# zeros), and returns the scores for the *next* character at every step together with the new state,
# so that a long text can be fed in pieces: feeding `x[:, :k]` and then `x[:, k:]` with the state
# returned by the first call must give the same scores as feeding `x` at once.

# %% solution id=CharLM
class CharLM(nn.Module):
    """Embedding, one LSTM layer, and a linear head: next-character scores at every step.

    Inputs (forward):
        x: (N, T) long tensor of vocabulary indices.
        state: None, or the (h, c) pair returned by a previous call, each (1, N, hidden_size).
    Returns (forward):
        logits: (N, T, vocab_size) scores for the character after each position.
        state: the LSTM's (h, c) after the last step.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_size: int = 128):
        super().__init__()
        ### BEGIN SOLUTION
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, tuple]:
        ### BEGIN SOLUTION
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state
        ### END SOLUTION


# %% tests id=test_CharLM points=1
torch.manual_seed(0)
_lm = CharLM(len(VOCAB), embed_dim=8, hidden_size=16).eval()
_x = torch.randint(0, len(VOCAB), (3, 10))
_out = _lm(_x)
check_true(isinstance(_out, tuple) and len(_out) == 2, "CharLM.forward must return the pair (logits, state)")
check_shape("CharLM(...)(x)[0] for x of shape (3, 10)", _out[0], (3, 10, len(VOCAB)), hint="one score per vocabulary entry at every step")
with torch.no_grad():
    _full = _lm(_x)[0]
    _first, _state = _lm(_x[:, :4])
    _second = _lm(_x[:, 4:], _state)[0]
check_close("CharLM: logits of x fed in two pieces", torch.cat([_first, _second], dim=1), _full, rtol=1e-5, atol=1e-6,
            hint="pass `state` on to the LSTM (self.rnn(embedded, state)) and return the state it gives back")
print("CharLM: visible tests passed")
### BEGIN HIDDEN TESTS
_sd = _lm.state_dict()
check_true("rnn.weight_ih_l0" in _sd and tuple(_sd["rnn.weight_ih_l0"].shape) == (4 * 16, 8),
           "CharLM: self.rnn must be one nn.LSTM(embed_dim, hidden_size, batch_first=True) layer")
check_true("embed.weight" in _sd and tuple(_sd["embed.weight"].shape) == (len(VOCAB), 8), "CharLM: self.embed must be nn.Embedding(vocab_size, embed_dim)")
check_true(not any(k.startswith("rnn.") and k.endswith("_l1") for k in _sd), "CharLM: one LSTM layer is enough (the gate viewer reads layer 0)")
torch.manual_seed(1)
_lm = CharLM(5, embed_dim=3, hidden_size=7).eval()
_x = torch.randint(0, 5, (1, 13))
with torch.no_grad():
    _full = _lm(_x)[0]
    _pieces, _state = [], None
    for _t in range(13):
        _lo, _state = _lm(_x[:, _t:_t + 1], _state)
        _pieces.append(_lo)
check_shape("CharLM(5, 3, 7)(x)[0]", _full, (1, 13, 5))
check_close("CharLM fed one character at a time", torch.cat(_pieces, dim=1), _full, rtol=1e-5, atol=1e-6)
_x = torch.randint(0, 5, (4, 6))
_x2 = _x.clone(); _x2[:, 3] = (_x2[:, 3] + 1) % 5
with torch.no_grad():
    _d = (_lm(_x2)[0] - _lm(_x)[0]).abs().sum(dim=(0, 2))
check_true(bool((_d[:3] == 0).all()) and bool((_d[3:] > 0).all()),
           "CharLM: the scores at step t must depend on x[:, :t+1] only, and on all of it (a causal, one-directional LSTM)")
### END HIDDEN TESTS

# %% markdown
# ### Training with truncated BPTT
#
# Each step draws 32 random windows of 64 characters from the training text; the model reads each
# window and is scored on predicting every next character (the targets are the window shifted by
# one). Gradients therefore flow back at most 64 steps: truncated BPTT. Adam with a one-cycle
# learning-rate schedule and gradient clipping at norm 1. Every 50 steps we measure the loss on the
# whole validation text and keep the best model seen; the validation curve is what we watch.

# %% code tags=slow
LM_STEPS, LM_BATCH, LM_WINDOW = 300, 32, 64


def lm_nats(model: nn.Module, ids: torch.Tensor, rows: int = 32) -> float:
    """Cross-entropy (nats per character) of next-character prediction over a whole text.

    The text is cut into `rows` contiguous pieces that are read in parallel, each from a zero state.
    """
    model.eval()
    L = (len(ids) - 1) // rows
    x = ids[: rows * L].reshape(rows, L).to(device)
    y = ids[1: rows * L + 1].reshape(rows, L).to(device)
    with torch.no_grad():
        logits = model(x)[0]
    model.train()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()


torch.manual_seed(0)
model = CharLM(len(VOCAB)).to(device)
_opt = torch.optim.Adam(model.parameters(), lr=1e-2)
_sched = torch.optim.lr_scheduler.OneCycleLR(_opt, max_lr=1e-2, total_steps=LM_STEPS, pct_start=0.1)
_gen = torch.Generator().manual_seed(0)
lm_history = {"step": [], "train": [], "val": []}
_best, _running = (float("inf"), None), []
for _step in tqdm(range(1, LM_STEPS + 1), desc="CharLM steps"):
    _starts = torch.randint(0, len(train_ids) - LM_WINDOW - 1, (LM_BATCH,), generator=_gen)
    _chunk = train_ids[_starts[:, None] + torch.arange(LM_WINDOW + 1)].to(device)
    _logits = model(_chunk[:, :-1])[0]
    _loss = F.cross_entropy(_logits.reshape(-1, len(VOCAB)), _chunk[:, 1:].reshape(-1))
    _opt.zero_grad()
    _loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    _opt.step()
    _sched.step()
    _running.append(_loss.item())
    if _step % 50 == 0:
        _val = lm_nats(model, val_ids)
        lm_history["step"].append(_step); lm_history["train"].append(np.mean(_running)); lm_history["val"].append(_val)
        _running = []
        if _val < _best[0]:
            _best = (_val, copy.deepcopy(model.state_dict()))
model.load_state_dict(_best[1])
model.eval()
lm_val = lm_nats(model, val_ids)
fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.plot(lm_history["step"], lm_history["train"], "o-", label="CharLM, training windows (mean of 50 steps)")
ax.plot(lm_history["step"], lm_history["val"], "s-", label="CharLM, validation text")
ax.axhline(bigram_val, color=OKABE_ITO[3], ls="--", label=f"bigram baseline, validation ({bigram_val:.3f})")
ax.axhline(1.9, color="0.5", ls=":", label="target: 1.9")
ax.set(title="Character-level LSTM on Python's documentation", xlabel="training step", ylabel="cross-entropy (nats/char)", ylim=(1.2, 3.2))
ax.legend(fontsize=9)
plt.show()
print(f"CharLM (best of the checkpoints): {lm_val:.3f} nats/char on validation | bigram: {bigram_val:.3f}")

# %% tests id=test_charlm_loss points=2 tags=slow
# The claim of the notebook: on the validation text, the trained CharLM scores at most 1.9 nats per
# character, and less than the add-0.1 bigram model. Both are measured here from scratch.
def _nats_on(m, ids: torch.Tensor, rows: int = 32) -> float:
    L = (len(ids) - 1) // rows
    m.eval()
    with torch.no_grad():
        _lo = m(ids[: rows * L].reshape(rows, L).to(device))[0]
    return F.cross_entropy(_lo.reshape(rows * L, -1).cpu(), ids[1: rows * L + 1]).item()


_val_ids = encode(split_text(load_text_corpus(), 0.1, 0.1)[1])
_train_ids = encode(split_text(load_text_corpus(), 0.1, 0.1)[0])
_counts = np.full((len(VOCAB), len(VOCAB)), 0.1)
np.add.at(_counts, (_train_ids[:-1].numpy(), _train_ids[1:].numpy()), 1.0)
_bigram = float(-np.log((_counts / _counts.sum(1, keepdims=True))[_val_ids[:-1].numpy(), _val_ids[1:].numpy()]).mean())
_nats = _nats_on(model, _val_ids)
check_true(_nats <= 1.9, f"the language model scores {_nats:.4f} nats/char on the validation text; at most 1.9 is needed",
           hint="check CharLM and train for the steps given")
check_true(_nats < _bigram, f"the language model ({_nats:.4f}) does not beat the bigram baseline ({_bigram:.4f})")
print(f"CharLM: {_nats:.3f} nats/char on validation, bigram {_bigram:.3f}")

# %% markdown
# ### Sampling, and temperature
#
# To generate text, feed a prompt, turn the scores for the next character into probabilities, draw
# one character, feed it back in, and repeat. The **temperature** $\tau$ divides the scores before
# the softmax:
#
# $$ p_i = \frac{\exp(\ell_i / \tau)}{\sum_j \exp(\ell_j / \tau)}. $$
#
# $\tau = 1$ samples from the model as trained; $\tau < 1$ sharpens the distribution towards the most
# likely characters (safer, more repetitive text); $\tau > 1$ flattens it (more surprising, more
# mistakes). As $\tau \to 0$ sampling becomes picking the maximum.
#
# ### Exercise 9: `sample`
#
# Generate `n` characters after `prompt`. Feed the prompt once, then one character at a time,
# passing the state returned by each call to the next (that is what a recurrent model is for: no
# need to re-read the text). Draw with `torch.multinomial(probs, 1)` so that `torch.manual_seed`
# makes samples reproducible. Use `encode`, `decode` and `VOCAB` from above; put inputs on the
# model's device (`next(model.parameters()).device`); switch the model to `eval()` and use
# `torch.no_grad()`.

# %% solution id=sample
def sample(model: nn.Module, prompt: str, n: int, temperature: float = 1.0) -> str:
    """Continue `prompt` with `n` characters drawn from a character-level model.

    Inputs:
        model: called as model(x, state) with x a (1, T) long tensor, returning (logits (1, T, V), state).
        prompt: a non-empty string of characters from VOCAB.
        n: the number of characters to generate.
        temperature: > 0; the scores are divided by it before the softmax.
    Returns:
        text: the n generated characters (a string of length n, without the prompt).
    """
    ### BEGIN SOLUTION
    model.eval()
    dev = next(model.parameters()).device
    out = []
    with torch.no_grad():
        logits, state = model(encode(prompt)[None].to(dev))
        for _ in range(n):
            probs = torch.softmax(logits[0, -1] / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1)
            out.append(int(nxt))
            logits, state = model(nxt[None], state)
    return decode(out)
    ### END SOLUTION


# %% tests id=test_sample points=2
class _NextLetter(nn.Module):
    """A trusted toy model: after character k it is sure (score 50) the next is character k + 1."""

    def __init__(self, n_vocab: int):
        super().__init__()
        self.n_vocab = n_vocab  # kept on the model: a grader may run it in another process
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x, state=None):
        return 50.0 * F.one_hot((x + 1) % self.n_vocab, self.n_vocab).float(), state


torch.manual_seed(0)
_text = sample(_NextLetter(len(VOCAB)), "a", 5, temperature=1.0)
check_true(isinstance(_text, str), f"sample must return a string, got {type(_text).__name__}")
check_equal("sample(next-letter model, 'a', 5)", _text, "bcdef",
            hint="the scores of the LAST position give the next character; feed each drawn character back in")
print("sample: visible test passed")
### BEGIN HIDDEN TESTS
class _Counter(nn.Module):
    """Its state counts the characters read so far; it is sure the next character is VOCAB[count + 10]."""

    def __init__(self, n_vocab: int):
        super().__init__()
        self.n_vocab = n_vocab
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x, state=None):
        seen = 0 if state is None else int(state)
        pos = seen + 1 + torch.arange(x.shape[1])  # characters read up to and including each position
        logits = 50.0 * F.one_hot((pos + 10) % self.n_vocab, self.n_vocab).float()[None].expand(x.shape[0], -1, -1)
        return logits, torch.tensor(seen + x.shape[1])


torch.manual_seed(0)
_text = sample(_Counter(len(VOCAB)), "xyz", 6, temperature=0.7)
check_equal("sample(counting model, 'xyz', 6)", _text, decode([(k + 10) % len(VOCAB) for k in range(3, 9)]),
            hint="the model must see the whole history: pass the state returned by each call on to the next")
check_equal("sample(..., n=0)", sample(_NextLetter(len(VOCAB)), "q", 0), "")


class _Fixed(nn.Module):
    """Trusted toy model with fixed scores log(1), log(2), log(3), log(4) on four characters."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.scores = torch.full((len(VOCAB),), -1e9)
        self.scores[STOI["a"]], self.scores[STOI["b"]], self.scores[STOI["c"]], self.scores[STOI["d"]] = 0.0, np.log(2), np.log(3), np.log(4)

    def forward(self, x, state=None):
        return self.scores.expand(x.shape[0], x.shape[1], -1), state


for _tau in (1.0, 0.5, 2.0):
    torch.manual_seed(1)
    _text = sample(_Fixed(), "a", 2000, temperature=_tau)
    check_equal(f"len(sample(..., n=2000, temperature={_tau}))", len(_text), 2000)
    _p = np.array([1.0, 2.0, 3.0, 4.0]) ** (1 / _tau)
    _p /= _p.sum()
    _freq = np.array([_text.count(ch) for ch in "abcd"]) / 2000
    _tol = 5 * np.sqrt(_p * (1 - _p) / 2000)  # five standard deviations of a frequency
    check_true(bool(np.all(np.abs(_freq - _p) <= _tol)),
               f"sample at temperature {_tau}: frequencies of a, b, c, d are {np.round(_freq, 3).tolist()}, expected about {np.round(_p, 3).tolist()}",
               hint="probabilities are softmax(scores / temperature); draw with torch.multinomial, do not take the maximum")
### END HIDDEN TESTS

# %% code tags=slow
torch.manual_seed(0)
for _tau in (0.5, 0.8, 1.2):
    print(f"--- temperature {_tau} ---")
    print("def " + sample(model, "def ", 200, temperature=_tau))

# %% markdown
# At 0.5 the text is conservative and repeats common words; at 1.2 it invents words and breaks the
# layout. After only 300 steps the model has learned to indent, to open and close quotes and brackets,
# and the frequent words of the documentation.
#
# The slider below resamples at any temperature (it needs a live kernel; the picture under this
# paragraph is its default state). The bars show the model's distribution for the character after
# the prompt `"for i in "`: watch it sharpen and flatten.

# %% code tags=slow,demo
def draw_temperature(temperature: float, prompt: str = "for i in ") -> None:
    """Next-character probabilities after the prompt, and a sample, at one temperature."""
    model.eval()
    with torch.no_grad():
        logits = model(encode(prompt)[None].to(device))[0][0, -1].cpu()
    probs = torch.softmax(logits / temperature, dim=-1).numpy()
    top = np.argsort(probs)[::-1][:15]
    torch.manual_seed(0)
    text = sample(model, prompt, 80, temperature)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.bar(range(15), probs[top], color=OKABE_ITO[0])
    ax.set_xticks(range(15), [repr(VOCAB[i])[1:-1] for i in top])
    ax.set(title=f"temperature {temperature:.2f}: next character after {prompt!r}", xlabel="character (15 most likely)",
           ylabel="probability", ylim=(0, 1))
    fig.text(0.01, -0.08, "sample: " + repr(prompt + text)[:110], family="monospace", fontsize=9)
    fig.tight_layout()


try:
    draw_temperature(1.0)
    plt.show()
    _temperature_ready = True
except (NotImplementedError, NameError):
    print("implement CharLM and sample above (and run the training cell) to see this")
    _temperature_ready = False

# %% code tags=slow,demo,nbval-ignore-output
from IPython.display import display

if _temperature_ready:
    display(slider_plot(draw_temperature, temperature=float_slider("temperature", 1.0, 0.1, 3.0, 0.05)))

# %% markdown
# ## 12. Inside the LSTM: gate activations
#
# What do the gates of the trained model do while it reads? The viewer runs the LSTM of your trained
# `CharLM` over a text you type and shows, for the first 24 units, the forget, input and output gates
# (between 0 and 1) and the cell state, character by character. Look for units whose forget gate
# drops to 0 at a space or a newline (they reset a memory at word or line boundaries), and cell
# states that count or switch inside quotes and brackets. (Here the gate equations of section 7 are
# computed in PyTorch from the model's weights, now that you have written them yourself.)

# %% code tags=slow,demo
def lstm_gates(text: str) -> dict[str, np.ndarray]:
    """The trained LSTM's gates i, f, o and cell state c, each (len(text), H), along a text."""
    sd = {k: v.detach().cpu().double() for k, v in model.state_dict().items()}
    H = sd["rnn.weight_hh_l0"].shape[1]
    x = sd["embed.weight"][encode(text)]
    h, c = torch.zeros(H, dtype=torch.float64), torch.zeros(H, dtype=torch.float64)
    out = {k: [] for k in ("input gate i", "forget gate f", "output gate o", "cell state c")}
    for t in range(len(text)):
        z = sd["rnn.weight_ih_l0"] @ x[t] + sd["rnn.bias_ih_l0"] + sd["rnn.weight_hh_l0"] @ h + sd["rnn.bias_hh_l0"]
        i, f, g, o = torch.sigmoid(z[:H]), torch.sigmoid(z[H:2 * H]), torch.tanh(z[2 * H:3 * H]), torch.sigmoid(z[3 * H:])
        c = f * c + i * g
        h = o * torch.tanh(c)
        for k, v in zip(out, (i, f, o, c)):
            out[k].append(v.numpy())
    return {k: np.array(v) for k, v in out.items()}


def draw_gates(text: str, units: int = 24) -> None:
    """Heat maps of the gates (units x characters) along the typed text."""
    text = "".join(ch for ch in text if ch in STOI)[:60] or "(empty)"
    gates = lstm_gates(text)
    fig, axes = plt.subplots(4, 1, figsize=(min(16, 2 + 0.25 * len(text)), 8), sharex=True)
    for ax, (name, v) in zip(axes, gates.items()):
        lim = (0, 1) if name != "cell state c" else (-np.abs(v[:, :units]).max(), np.abs(v[:, :units]).max())
        im = ax.imshow(v[:, :units].T, aspect="auto", cmap="viridis" if name != "cell state c" else "PuOr", vmin=lim[0], vmax=lim[1])
        ax.set(ylabel="unit", title=name)
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.02)
    axes[-1].set_xticks(range(len(text)), [repr(ch)[1:-1] for ch in text], family="monospace")
    axes[-1].set_xlabel("character read")
    fig.suptitle("Gates of the trained CharLM's LSTM along the text")
    fig.tight_layout()


try:
    draw_gates('for key in sorted(d):\n    print(key, "=", d[key])')
    plt.show()
    _gates_ready = True
except (NotImplementedError, NameError, KeyError):
    print("implement CharLM above (with self.embed and self.rnn) and run its training cell to see this")
    _gates_ready = False

# %% code tags=slow,demo,nbval-ignore-output
from IPython.display import display

if _gates_ready:
    display(slider_plot(draw_gates, text=widgets.Text(value='for key in sorted(d):\n    print(key, "=", d[key])',
                                                      description="text", continuous_update=False)))

# %% markdown
# ## 13. Many-to-one: reading a digit row by row
#
# A many-to-one network reads a whole sequence and answers once, from its last hidden state. Our
# sequences: the 8x8 handwritten digits of modules 2 and 3, read as 8 steps of 8 pixels, top row
# first. The network never sees the image as a whole; its state must carry what the rows so far
# looked like. The split is the course's: train on `train`, watch `val`, test once at the end.
#
# **Baseline**: multinomial logistic regression on the 64 pixels (scikit-learn's
# `LogisticRegression`), a linear classifier that sees the whole image at once.
#
# ### Exercise 10: `RowClassifier`
#
# A GRU layer (`nn.GRU(input_size, hidden_size, batch_first=True)`) over the rows and a linear layer
# from its **last** hidden state to the class scores.

# %% solution id=RowClassifier
class RowClassifier(nn.Module):
    """Many-to-one: a GRU reads the rows of an image; a linear layer reads its final state.

    Inputs (forward):
        x: (N, T, input_size) sequences (images as T rows of input_size pixels).
    Returns (forward):
        logits: (N, n_classes), computed from the hidden state after the last step.
    """

    def __init__(self, input_size: int = 8, hidden_size: int = 64, n_classes: int = 10):
        super().__init__()
        ### BEGIN SOLUTION
        self.rnn = nn.GRU(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, n_classes)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        _, h_last = self.rnn(x)
        return self.head(h_last[-1])
        ### END SOLUTION


# %% tests id=test_RowClassifier points=1
torch.manual_seed(0)
_clf = RowClassifier().eval()
_x = torch.rand(5, 8, 8)
with torch.no_grad():
    _lo = _clf(_x)
    check_shape("RowClassifier()(x) for x of shape (5, 8, 8)", _lo, (5, 10), hint="one score per class for each sequence")
    _x2 = _x.clone(); _x2[:, -1] += 1.0
    check_true(bool((_clf(_x2) - _lo).abs().sum() > 0), "RowClassifier: changing the last row did not change the scores",
               hint="read the hidden state after the LAST step (h_n, or out[:, -1]), not the first")
print("RowClassifier: visible tests passed")
### BEGIN HIDDEN TESTS
torch.manual_seed(1)
_clf = RowClassifier(input_size=3, hidden_size=5, n_classes=4).eval()
_x = torch.rand(6, 7, 3)
with torch.no_grad():
    _lo = _clf(_x)
    check_shape("RowClassifier(3, 5, 4)(x)", _lo, (6, 4))
    check_shape("RowClassifier on one sequence", _clf(_x[:1]), (1, 4))
    _x2 = _x.clone(); _x2[:, 0] += 1.0
    check_true(bool((_clf(_x2) - _lo).abs().sum() > 0), "RowClassifier: changing the first row did not change the scores")
    check_true(bool((_clf(_x.flip(1)) - _lo).abs().max() > 1e-4), "RowClassifier: reading the rows in reverse order gave the same scores; it should read them in order")
    _x3 = _x.clone(); _x3[:, -1] += 1.0
    check_true(bool((_clf(_x3) - _lo).abs().sum() > 0), "RowClassifier: changing the last row did not change the scores")
check_true(sum(v.numel() for v in _clf.state_dict().values()) == 3 * (5 * 3 + 5 * 5 + 2 * 5) + 5 * 4 + 4,
           "RowClassifier(3, 5, 4): expected one GRU layer (3 -> 5) and one linear layer (5 -> 4)")
### END HIDDEN TESTS

# %% code tags=slow
from sklearn.linear_model import LogisticRegression

digits = load_digits_split(val_fraction=0.2)
rows = {split: torch.tensor(getattr(digits, f"X_{split}"), dtype=torch.float32).reshape(-1, 8, 8) for split in ("train", "val", "test")}
labels = {split: torch.tensor(getattr(digits, f"y_{split}")) for split in ("train", "val", "test")}


def clf_accuracy(m: nn.Module, split: str) -> float:
    """Fraction of the split's images whose highest score is their label."""
    m.eval()
    with torch.no_grad():
        return (m(rows[split].to(device)).argmax(1).cpu() == labels[split]).float().mean().item()


torch.manual_seed(0)
clf_model = RowClassifier().to(device)
_opt = torch.optim.Adam(clf_model.parameters(), lr=1e-2)
CLF_EPOCHS = 30
_sched = torch.optim.lr_scheduler.OneCycleLR(_opt, max_lr=1e-2, total_steps=CLF_EPOCHS * ((len(rows["train"]) + 63) // 64))
_gen = torch.Generator().manual_seed(0)
_val_acc = []
for _epoch in tqdm(range(CLF_EPOCHS), desc="RowClassifier epochs"):
    clf_model.train()
    _perm = torch.randperm(len(rows["train"]), generator=_gen)
    for _i in range(0, len(_perm), 64):
        _idx = _perm[_i:_i + 64]
        _loss = F.cross_entropy(clf_model(rows["train"][_idx].to(device)), labels["train"][_idx].to(device))
        _opt.zero_grad()
        _loss.backward()
        _opt.step()
        _sched.step()
    _val_acc.append(clf_accuracy(clf_model, "val"))
logreg = LogisticRegression(max_iter=2000).fit(digits.X_train, digits.y_train)
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(range(1, CLF_EPOCHS + 1), _val_acc, "o-", ms=3, label="RowClassifier (GRU), validation")
ax.axhline(logreg.score(digits.X_val, digits.y_val), color=OKABE_ITO[3], ls="--", label="logistic regression, validation")
ax.set(title="Digits read row by row", xlabel="epoch", ylabel="accuracy", ylim=(0.8, 1.0))
ax.legend()
plt.show()
print(f"validation accuracy: GRU {_val_acc[-1]:.4f} | logistic regression {logreg.score(digits.X_val, digits.y_val):.4f}")

# %% markdown
# On the 269 validation images the two are within a few images of each other, so the validation
# split cannot tell them apart reliably. The larger test split (450 images, used once, below) can.
#
# ## 14. Many-to-many: forecasting a neuron's membrane potential
#
# Our series is a real recording that ships with matplotlib: the membrane potential of a neuron
# while a current step makes it fire (`course_utils.data.load_membrane_potential`, averaged over
# runs of 4 samples: 3,000 steps). Between spikes the potential ramps up slowly; each spike is a
# sharp peak followed by a dip. We chose it over the alternatives we looked at: scikit-learn ships
# no time series, matplotlib's stock prices are close to random walks (nothing beats "tomorrow as
# today" there), and the classic sunspot or CO2 series would add statsmodels and pandas to the
# course for one plot.
#
# **Task**: read the series one step at a time and, at **every** step $t$, forecast the value
# `HORIZON = 3` steps ahead, $x_{t+3}$: a many-to-many network whose outputs are aligned with its
# inputs. Values are standardised with the training mean and standard deviation.
#
# **Split.** The recording changes behaviour: rest, regular spiking, irregular spiking from about
# step 1,800, rest again after step 2,750. A single chronological cut (first 60% to train) would
# ask the model to forecast a regime it has never seen, and measure that rather than forecasting.
# So we use *blocked* cross-validation (`course_utils.data.series_blocks`): the series is cut into
# blocks of 150 steps, and of every five blocks three train, one validates and one tests. Every
# held-out block is a contiguous stretch the model never trained on, and every regime appears in
# every split. The forecasts themselves are honest: each reads only the values before it.
#
# **Baselines**, both measured on the same targets:
#
# - *persistence*: $\hat x_{t+3} = x_t$ (nothing changes);
# - *seasonal naive*: $\hat x_{t+3} = x_{t+3-P}$, one period ago, with $P$ the typical interval
#   between spikes, read from the autocorrelation of the training blocks.

# %% code
series = load_membrane_potential(downsample=4)
split_of = series_blocks(len(series), block=150)  # 0 train, 1 validation, 2 test
SPLITS = {"train": 0, "val": 1, "test": 2}
HORIZON = 3
_train = split_of == 0
_mean, _std = series[_train].mean(), series[_train].std()
z_series = (series - _mean) / _std
_c = np.where(_train, z_series - z_series[_train].mean(), 0.0)  # autocorrelation from training blocks only
_acf = np.array([np.dot(_c[:-k], _c[k:]) / np.dot(_c, _c) for k in range(1, 100)])
PERIOD = int(np.argmax(_acf[19:]) + 20)  # the first peak after the initial decay
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4), gridspec_kw={"width_ratios": [3, 1]})
for _name, _k in SPLITS.items():
    axes[0].plot(np.where(split_of == _k, series, np.nan), color=OKABE_ITO[_k], lw=0.8, label=_name)
axes[0].set(title="Membrane potential (matplotlib sample data), averaged over 4 samples", xlabel="step", ylabel="potential (recording units)")
axes[0].legend(loc="lower center", ncol=3)
axes[1].plot(np.arange(1, 100), _acf)
axes[1].axvline(PERIOD, color=OKABE_ITO[3], ls="--")
axes[1].set(title=f"Autocorrelation (train): P = {PERIOD}", xlabel="lag (steps)", ylabel="correlation")
fig.tight_layout()
plt.show()


def forecast_mse(pred: np.ndarray, split: str) -> float:
    """MSE of forecasts pred[t] of z_series[t + HORIZON], over the targets that lie in `split`."""
    t = np.arange(len(pred))
    keep = (split_of[t + HORIZON] == SPLITS[split]) & (t + HORIZON >= PERIOD)
    return float(np.mean((pred[keep] - z_series[t[keep] + HORIZON]) ** 2))


persistence = z_series[: len(z_series) - HORIZON]
seasonal = np.concatenate([np.zeros(PERIOD - HORIZON), z_series[: len(z_series) - PERIOD]])
print(f"validation MSE (standardised units): persistence {forecast_mse(persistence, 'val'):.4f} | "
      f"seasonal naive {forecast_mse(seasonal, 'val'):.4f}")

# %% markdown
# ### Exercise 11: `Forecaster`
#
# A GRU layer (`nn.GRU(1, hidden_size, batch_first=True)`) and a linear layer applied at every step.
# It predicts the **change** from the last value it read, and adds that value back:
# $\hat x_{t+3} = x_t + \text{head}(h_t)$. (Predicting the change rather than the level is the usual
# trick: the network starts out as the persistence forecast and only has to learn the correction.)
# Like `CharLM`, `forward(x, state)` takes and returns the recurrent state, so the series can be fed
# in pieces, or one value at a time.

# %% solution id=Forecaster
class Forecaster(nn.Module):
    """Many-to-many: at every step, forecast the value HORIZON steps ahead.

    Inputs (forward):
        x: (N, T, 1) values of the series.
        state: None, or the GRU state returned by a previous call, (1, N, hidden_size).
    Returns (forward):
        y: (N, T, 1); y[:, t] = x[:, t] + head(h_t), where h_t has read x[:, :t+1] only.
        state: the GRU state after the last step.
    """

    def __init__(self, hidden_size: int = 32):
        super().__init__()
        ### BEGIN SOLUTION
        self.rnn = nn.GRU(1, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        ### BEGIN SOLUTION
        out, state = self.rnn(x, state)
        return x + self.head(out), state
        ### END SOLUTION


# %% tests id=test_Forecaster points=1
torch.manual_seed(0)
_fc = Forecaster(hidden_size=8).eval()
_x = torch.randn(2, 12, 1)
with torch.no_grad():
    _y, _state = _fc(_x)
    check_shape("Forecaster(8)(x)[0] for x of shape (2, 12, 1)", _y, (2, 12, 1), hint="one forecast per step")
    _x2 = _x.clone(); _x2[:, 6] += 1.0
    check_close("Forecaster: forecasts before step 6 when only x[:, 6] changes", _fc(_x2)[0][:, :6], _y[:, :6], rtol=1e-6, atol=1e-7,
                hint="a forecast may use the past only: one-directional GRU, no look-ahead")
print("Forecaster: visible tests passed")
### BEGIN HIDDEN TESTS
torch.manual_seed(1)
_fc = Forecaster(hidden_size=5).eval()
_x = torch.randn(3, 10, 1)
with torch.no_grad():
    _y, _ = _fc(_x)
    _y1, _s = _fc(_x[:, :4])
    _y2, _ = _fc(_x[:, 4:], _s)
    check_close("Forecaster fed in two pieces", torch.cat([_y1, _y2], 1), _y, rtol=1e-5, atol=1e-6,
                hint="pass the state on to the GRU and return the state it gives back")
    _x2 = _x.clone(); _x2[:, 4] += 1.0
    _d = (_fc(_x2)[0] - _y).abs().sum(dim=(0, 2))
    check_true(bool((_d[:4] == 0).all()) and bool((_d[4:] > 0).all()),
               "Forecaster: forecast t must depend on x[:, :t+1] only, and on all of it")
    _sd = {k: torch.zeros_like(v) for k, v in _fc.state_dict().items()}
    _fc.load_state_dict(_sd)
    check_close("Forecaster with all weights zero (forecast = last value)", _fc(_x)[0], _x, hint="y[:, t] = x[:, t] + head(h_t)")
check_true(sum(v.numel() for v in _sd.values()) == 3 * (5 * 1 + 5 * 5 + 2 * 5) + 5 + 1,
           "Forecaster(5): expected one GRU layer (1 -> 5) and one linear layer (5 -> 1)")
### END HIDDEN TESTS

# %% markdown
# Training: random windows of 100 steps lying inside training blocks, 32 per batch, mean squared
# error of every forecast after a warm-up of 20 steps (the state needs a few steps to settle). To
# forecast, the trained network then simply reads the whole series from the start, carrying its
# state: each forecast is made from everything before it. We keep the checkpoint with the best
# validation MSE.

# %% code tags=slow
FC_STEPS, FC_WINDOW = 400, 100
_z = torch.tensor(z_series, dtype=torch.float32)
_ok = np.array([(split_of[s_:s_ + FC_WINDOW + HORIZON] == 0).all() for s_ in range(len(series) - FC_WINDOW - HORIZON)])
fc_starts = torch.tensor(np.flatnonzero(_ok))  # windows (and their targets) entirely in training blocks


def forecasts(m: nn.Module) -> np.ndarray:
    """The forecast of z_series[t + HORIZON] made at every step t, reading the series from the start."""
    m.eval()
    with torch.no_grad():
        return m(_z[None, : len(_z) - HORIZON, None].to(device))[0][0, :, 0].cpu().numpy()


torch.manual_seed(0)
fc_model = Forecaster().to(device)
_opt = torch.optim.Adam(fc_model.parameters(), lr=1e-2)
_sched = torch.optim.lr_scheduler.OneCycleLR(_opt, max_lr=1e-2, total_steps=FC_STEPS)
_gen = torch.Generator().manual_seed(0)
_best = (float("inf"), None)
for _step in tqdm(range(1, FC_STEPS + 1), desc="Forecaster steps"):
    fc_model.train()
    _idx = fc_starts[torch.randint(0, len(fc_starts), (32,), generator=_gen)][:, None] + torch.arange(FC_WINDOW)
    _pred = fc_model(_z[_idx][..., None].to(device))[0]
    _loss = F.mse_loss(_pred[:, 20:], _z[_idx + HORIZON][..., None].to(device)[:, 20:])
    _opt.zero_grad()
    _loss.backward()
    nn.utils.clip_grad_norm_(fc_model.parameters(), 1.0)
    _opt.step()
    _sched.step()
    if _step % 25 == 0:
        _val = forecast_mse(forecasts(fc_model), "val")
        if _val < _best[0]:
            _best = (_val, copy.deepcopy(fc_model.state_dict()))
fc_model.load_state_dict(_best[1])
fc_pred = forecasts(fc_model)
fig, ax = plt.subplots(figsize=(11, 3.6))
_t = np.arange(1200, 1350)  # one validation block, during regular spiking
ax.plot(_t, z_series[_t], color="k", lw=1.5, label="actual")
ax.plot(_t, fc_pred[_t - HORIZON], color=OKABE_ITO[0], label="Forecaster")
ax.plot(_t, persistence[_t - HORIZON], color=OKABE_ITO[1], ls="--", label="persistence")
ax.plot(_t, seasonal[_t - HORIZON], color=OKABE_ITO[2], ls=":", label="seasonal naive")
ax.set(title=f"Forecasts {HORIZON} steps ahead, one validation block", xlabel="step", ylabel="potential (standardised)")
ax.legend(ncol=4, fontsize=9)
plt.show()
print(f"validation MSE: Forecaster {forecast_mse(fc_pred, 'val'):.4f} | "
      f"persistence {forecast_mse(persistence, 'val'):.4f} | seasonal naive {forecast_mse(seasonal, 'val'):.4f}")

# %% markdown
# ## 15. The test set, once
#
# Everything above was chosen by looking at training and validation data. Now, once, the test
# splits: the language model on the last 10% of the text, the classifier on the 450 test digits,
# the forecaster on the test blocks of the recording, each next to its baseline. These are the claims
# of this notebook. One run could be lucky, so the benchmark script `benchmarks/m4_rnn.py` repeats
# the three trainings with seeds 0, 1 and 2 (`COURSE_NUM_THREADS=2 python benchmarks/m4_rnn.py`) and
# prints, for validation and test, whether each model beats its baseline on the mean over the seeds
# and on every seed.

# %% code tags=slow
lm_test, bigram_test = lm_nats(model, test_ids), bigram_nats(train_ids, test_ids, BIGRAM_ALPHA)
clf_test, logreg_test = clf_accuracy(clf_model, "test"), logreg.score(digits.X_test, digits.y_test)
fc_test = forecast_mse(fc_pred, "test")
pers_test, seas_test = forecast_mse(persistence, "test"), forecast_mse(seasonal, "test")
print(f"language model   test: CharLM {lm_test:.3f} nats/char       | bigram {bigram_test:.3f}")
print(f"classification   test: GRU {clf_test:.4f} accuracy        | logistic regression {logreg_test:.4f}")
print(f"forecasting      test: Forecaster {fc_test:.4f} MSE     | persistence {pers_test:.4f} | seasonal naive {seas_test:.4f}")

# %% tests id=test_row_classifier_beats_baseline points=1 tags=slow
# The claim: on the test digits, the trained RowClassifier is more accurate than logistic regression
# on the pixels (both measured here).
from sklearn.linear_model import LogisticRegression as _LogReg

_d = load_digits_split(val_fraction=0.2)
clf_model.eval()
with torch.no_grad():
    _acc = (clf_model(torch.tensor(_d.X_test, dtype=torch.float32).reshape(-1, 8, 8).to(device)).argmax(1).cpu().numpy() == _d.y_test).mean()
_base = _LogReg(max_iter=2000).fit(_d.X_train, _d.y_train).score(_d.X_test, _d.y_test)
check_true(_acc > _base, f"RowClassifier test accuracy {_acc:.4f} does not beat logistic regression ({_base:.4f})",
           hint="check that RowClassifier reads the last hidden state")
print(f"RowClassifier {_acc:.4f} > logistic regression {_base:.4f} on the test digits")

# %% tests id=test_forecaster_beats_baselines points=1 tags=slow
# The claim: on the test blocks of the recording, the Forecaster's MSE is below persistence's and
# below the seasonal naive forecast's (all computed here from the series).
_s = load_membrane_potential(downsample=4)
_blocks = series_blocks(len(_s), block=150)
_zs = (_s - _s[_blocks == 0].mean()) / _s[_blocks == 0].std()
fc_model.eval()
with torch.no_grad():
    _pred = fc_model(torch.tensor(_zs[: len(_zs) - HORIZON], dtype=torch.float32)[None, :, None].to(device))[0][0, :, 0].cpu().numpy()
_t = np.arange(len(_pred))
_keep = (_blocks[_t + HORIZON] == 2) & (_t + HORIZON >= PERIOD)
_target = _zs[_t[_keep] + HORIZON]
_mse = np.mean((_pred[_keep] - _target) ** 2)
_mse_pers = np.mean((_zs[_t[_keep]] - _target) ** 2)
_mse_seas = np.mean((_zs[_t[_keep] + HORIZON - PERIOD] - _target) ** 2)
check_true(_mse < _mse_pers, f"Forecaster test MSE {_mse:.4f} does not beat persistence ({_mse_pers:.4f})")
check_true(_mse < _mse_seas, f"Forecaster test MSE {_mse:.4f} does not beat the seasonal naive forecast ({_mse_seas:.4f})")
print(f"Forecaster {_mse:.4f} < persistence {_mse_pers:.4f} and seasonal naive {_mse_seas:.4f} on the test blocks")

# %% markdown
# ## 16. Streaming
#
# A recurrent network's memory of the past is its state, of fixed size. It can therefore run on a
# live stream, one value at a time, forever, with the same cost per step and the same memory: feed
# the new value and the state, get a forecast and the next state. The cell below feeds the trained
# forecaster the second half of the recording one sample at a time and checks that the forecasts are
# those of reading the whole series at once.

# %% code tags=slow
fc_model.eval()
_state, _stream = None, []
with torch.no_grad():
    _, _state = fc_model(_z[None, :1500, None].to(device))  # the history so far, read once
    _t0 = time.perf_counter()
    for _t in range(1500, len(_z) - HORIZON):
        _y, _state = fc_model(_z[_t].reshape(1, 1, 1).to(device), _state)  # one new value, one forecast
        _stream.append(_y.item())
    _per_step = (time.perf_counter() - _t0) / len(_stream)
_diff = np.abs(np.array(_stream) - fc_pred[1500:]).max()
print(f"streamed {len(_stream)} steps; forecasts equal to the full pass (within 1e-5): {_diff < 1e-5}")

# %% code tags=slow,nbval-ignore-output
print(f"time per streamed step: {1e3 * _per_step:.2f} ms (constant: it does not grow with the history)")

# %% markdown
# A transformer (module 5) has no such state: to predict the next step it attends to every earlier
# step, so its cost per step and its memory (the cache of keys and values) grow with the history.
# This is why recurrent models, and their modern descendants, the *state-space models* (S4, Mamba),
# remain in use for speech recognition on devices, keyboards, sensor streams and control.
#
# ## 17. Sequence to sequence
#
# When input and output sequences differ in length and are not aligned (translation,
# summarisation), an **encoder** RNN reads the whole input into its final state, and a **decoder**
# RNN starts from that state and writes the output one symbol at a time, each time reading the
# symbol it wrote before (during training, the true previous symbol: *teacher forcing*). The
# smallest example: reverse a sequence of 6 digits. The encoder must squeeze all six into one
# vector of 64 numbers, and the decoder must unpack them in the opposite order.

# %% code tags=slow,demo
class Seq2Seq(nn.Module):
    """GRU encoder and decoder over a vocabulary of 10 digits plus a start symbol (index 10)."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(11, 16)
        self.encoder = nn.GRU(16, hidden, batch_first=True)
        self.decoder = nn.GRU(16, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 10)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(self.embed(src))  # the whole input, summarised in one state
        out, _ = self.decoder(self.embed(tgt_in), state)
        return self.head(out)

    @torch.no_grad()
    def translate(self, src: torch.Tensor, length: int) -> torch.Tensor:
        _, state = self.encoder(self.embed(src))
        token, out = torch.full((len(src), 1), 10, device=src.device), []
        for _ in range(length):  # greedy decoding: feed back the most likely symbol
            o, state = self.decoder(self.embed(token), state)
            token = self.head(o).argmax(-1)
            out.append(token)
        return torch.cat(out, dim=1)


torch.manual_seed(0)
s2s = Seq2Seq().to(device)
_opt = torch.optim.Adam(s2s.parameters(), lr=1e-2)
_gen = torch.Generator().manual_seed(0)
for _step in tqdm(range(300), desc="Seq2Seq steps"):
    _src = torch.randint(0, 10, (64, 6), generator=_gen)
    _tgt = _src.flip(1)
    _tgt_in = torch.cat([torch.full((64, 1), 10), _tgt[:, :-1]], dim=1)  # teacher forcing: the true previous digit
    _loss = F.cross_entropy(s2s(_src.to(device), _tgt_in.to(device)).reshape(-1, 10), _tgt.reshape(-1).to(device))
    _opt.zero_grad()
    _loss.backward()
    _opt.step()
_src = torch.randint(0, 10, (500, 6), generator=torch.Generator().manual_seed(1)).to(device)
_out = s2s.translate(_src, 6)
print(f"reversal of 500 new sequences: {(_out == _src.flip(1)).float().mean().item():.3f} of digits right, "
      f"{(_out == _src.flip(1)).all(1).float().mean().item():.3f} of sequences entirely right")
for _k in range(3):
    print(f"  {_src[_k].tolist()} -> {_out[_k].tolist()}")

# %% markdown
# ## 18. Why attention replaced recurrence
#
# The encoder above has to push the whole input through one fixed-size vector, and every path from
# an early input to a late output passes through as many steps as lie between them: the gradient
# measurements of section 5 show what that costs. In 2014, *attention* let the decoder look back at
# all the encoder's states and take a weighted average of the relevant ones at each step; in 2017
# the transformer kept only the attention. Two facts decided it:
#
# 1. **Path length.** In a recurrent network, information from step 1 reaches step $T$ through $T-1$
#    updates; in self-attention, through one. Long-range dependencies become easy to learn.
# 2. **Parallelism.** A recurrent layer must compute step $t-1$ before step $t$: $T$ sequential
#    operations however many processors you have. Self-attention computes all positions at once,
#    as a few large matrix products, which is what GPUs do best.
#
# The price is cost: attention compares every position with every other, $O(T^2)$ in time and
# memory, where a recurrent network is $O(T)$, and its cache grows with the history where the
# recurrent state stays fixed (section 16). The cell below times one GRU layer and one self-attention
# layer of the same width on sequences of growing length (the numbers vary from machine to machine;
# on a GPU the gap in favour of attention is much larger).

# %% code tags=demo,nbval-ignore-output
_gru = nn.GRU(64, 64, batch_first=True).to(device)
_attn = nn.MultiheadAttention(64, 4, batch_first=True).to(device)
_times = {"GRU (sequential in T)": [], "self-attention (parallel, T^2 pairs)": []}
_lengths = [16, 64, 256]
with torch.no_grad():
    for _T in _lengths:
        _x = torch.randn(4, _T, 64, device=device)
        for _name, _fn in [("GRU (sequential in T)", lambda v: _gru(v)), ("self-attention (parallel, T^2 pairs)", lambda v: _attn(v, v, v))]:
            _fn(_x)
            _t0 = time.perf_counter()
            for _ in range(2):
                _fn(_x)
            if device == "cuda":
                torch.cuda.synchronize()
            _times[_name].append((time.perf_counter() - _t0) / 2 * 1e3)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
_T = np.array([4, 16, 64, 256])
axes[0].plot(_T, _T - 1, "o-", label="recurrent network")
axes[0].plot(_T, np.ones_like(_T), "s-", label="self-attention")
axes[0].set(title="Steps between the first and the last position", xlabel="sequence length T", ylabel="path length (steps)",
            xscale="log", yscale="log")
axes[0].legend()
for _k, (_name, _v) in enumerate(_times.items()):
    axes[1].plot(_lengths, _v, "o-", color=OKABE_ITO[_k], label=_name)
axes[1].set(title=f"Forward pass of one layer, batch of 4, width 64 ({device})", xlabel="sequence length T", ylabel="time (ms)",
            xscale="log", yscale="log")
axes[1].legend(fontsize=9)
fig.tight_layout()
plt.show()

# %% markdown
# ### Concept check 3
#
# You need a model that listens to a live microphone and shows a caption for each word as soon as it
# is spoken, on a phone. Which is the natural choice?
#
# (a) a bidirectional LSTM &nbsp;&nbsp; (b) a one-directional GRU or LSTM &nbsp;&nbsp;
# (c) a transformer encoder that attends over the whole recording &nbsp;&nbsp;
# (d) a sequence-to-sequence model that reads the whole recording before writing
#
# Set `q3_answer` to `"a"`, `"b"`, `"c"` or `"d"`.

# %% solution id=q3_answer
q3_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q3_answer = "b"
### END SOLUTION

# %% tests id=test_q3_answer points=1
check_true(q3_answer in ("a", "b", "c", "d"), f"q3_answer is {q3_answer!r}; set it to one of 'a', 'b', 'c', 'd' (a string).")
print("q3_answer: a valid choice (graded when you submit)")
### BEGIN HIDDEN TESTS
check_equal("q3_answer", q3_answer, "b")
### END HIDDEN TESTS

# %% markdown
# ### Written answer 1
#
# In two or three sentences: why does clipping by the *global* norm keep the direction of the
# update, when clipping each gradient by its own norm does not? And why can clipping do nothing
# against vanishing gradients?

# %% answer id=written_clipping points=2
# Clipping by the global norm multiplies every gradient by the same factor, so the whole update
# vector is only shortened: its direction in parameter space is unchanged. Clipping each array on
# its own shrinks some parts more than others, which turns the update towards the parameters whose
# gradients were small. Clipping only ever makes gradients smaller, so it cannot restore a signal
# that has already shrunk to almost nothing; that needs another architecture (LSTM, GRU) or
# initialisation.

# %% markdown
# ## Summary
#
# - A recurrent network applies the same step $h_t = f(x_t, h_{t-1})$ along a sequence; unrolled, it
#   is a deep network with shared weights, trained by backpropagation through time.
# - Gradients through many steps are products of many Jacobians: they vanish or explode. Clipping by
#   the global norm tames explosions; gated cells (LSTM, GRU) with their additive memory let
#   gradients travel far.
# - Padded batches need a masked loss (and packing, for the final state); bidirectional layers see
#   both directions but cannot stream; encoder-decoder models map sequences to sequences.
# - A small LSTM learns to write Python documentation, character by character, well below a bigram
#   model; a GRU reads digits row by row; a GRU forecasts a neuron's voltage better than persistence.
# - Attention gives every position a direct path to every other and computes them in parallel,
#   which is why transformers (module 5) replaced RNNs almost everywhere except streaming.
