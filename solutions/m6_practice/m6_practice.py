# %% markdown
# # Module 6: generalisation, generative models and practice
#
# The first five modules built networks that fit their training data. This one is about what
# happens around the fit: whether a network *generalises* to data it has not seen, how networks
# can *generate* data instead of only labelling it, and what it takes to use one in practice.
#
# In this notebook you will
#
# 1. read over- and underfitting from training and validation curves, and fight overfitting with
#    L1/L2 penalties, weight decay (and see why it differs from L2 under Adam), dropout and label
#    smoothing, in a playground of curves;
# 2. build an autoencoder that compresses, denoises and flags anomalies, and a variational
#    autoencoder whose latent space you can walk through;
# 3. train a generative adversarial network (GAN) whose samples a digits classifier recognises;
# 4. make the digits classifier smaller: quantisation, pruning and knowledge distillation;
# 5. explain its predictions with saliency maps;
# 6. train a network on two processes at once (data-parallel training), and export a model for
#    deployment.
#
# Everything runs on the 8x8 handwritten digits, split three ways: we train on the training set,
# choose and monitor on the validation set, and touch the test set once, at the very end.
# Every exercise is a function with a docstring that gives its shapes. Write your code in place
# of `raise NotImplementedError()`, run the test cell below it, and read its message if it fails.

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
import inspect
import os
import tempfile
from collections.abc import Iterable

import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from course_utils.data import load_digits_split, shuffled_pixels
from course_utils.distributed import make_mlp, sgd_reference, train_data_parallel
from course_utils.plotting import OKABE_ITO, image_grid
from course_utils.widgets import dropdown, float_slider, slider_plot

torch.set_default_dtype(torch.float32)
digits = load_digits_split(val_fraction=0.2)
X_train, y_train = torch.tensor(digits.X_train, dtype=torch.float32, device=device), torch.tensor(digits.y_train, device=device)
X_val, y_val = torch.tensor(digits.X_val, dtype=torch.float32, device=device), torch.tensor(digits.y_val, device=device)
X_test, y_test = torch.tensor(digits.X_test, dtype=torch.float32, device=device), torch.tensor(digits.y_test, device=device)
print(f"digits: {len(X_train)} training, {len(X_val)} validation, {len(X_test)} test images of 8x8 = 64 pixels in [0, 1]")


def mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU (and dropout) between them, on `device`."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.ReLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
    return nn.Sequential(*layers).to(device)


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of a classifier, in eval mode."""
    was_training = model.training
    model.eval()
    logits = model(X)
    model.train(was_training)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def fit(model: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int, lr: float = 3e-3, weight_decay: float = 0.0,
        batch_size: int | None = None, loss_fn=None, seed: int = 0, every: int = 1) -> dict[str, list[float]]:
    """Train a classifier with AdamW; record train and validation loss and accuracy every `every` epochs.

    batch_size None means the whole training set in every step. loss_fn(logits, y, idx) replaces the
    cross-entropy (idx: the rows of X in the batch).
    """
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"epoch": [], "train loss": [], "val loss": [], "train acc": [], "val acc": []}
    n = len(X)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=gen).to(X.device)
        for start in range(0, n, batch_size or n):
            idx = order[start:start + (batch_size or n)]
            logits = model(X[idx])
            loss = loss_fn(logits, y[idx], idx) if loss_fn else F.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % every == 0 or epoch == epochs:
            tl, ta = evaluate(model, X, y)
            vl, va = evaluate(model, X_val, y_val)
            for k, v in zip(history, (epoch, tl, vl, ta, va)):
                history[k].append(v)
    model.eval()
    return history


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# %% markdown
# ## 1. Over- and underfitting, read from the curves
#
# A network's error on new data has two sources. **Bias**: the model cannot represent the
# pattern (too small, too constrained, trained too briefly), so it is wrong on the training data
# and on new data alike. **Variance**: the model is flexible enough to fit the accidents of its
# particular training set (the noise, the odd handwriting), so it is right on the training data
# and wrong elsewhere. You cannot see either directly, but the two curves of every training run
# show them:
#
# | what the curves show | diagnosis | what helps |
# | --- | --- | --- |
# | training and validation loss both high, close together | underfitting (high bias) | a bigger model, longer training, less regularisation |
# | training loss keeps falling, validation loss turns up; a wide gap | overfitting (high variance) | more data, augmentation, regularisation, stopping early |
# | both low, a small gap | about right | |
#
# Three runs on the digits, each trained on full batches: a network squeezed through three hidden
# units, a network of 128 hidden units given only 50 training images, and the same network given
# all of them. (Test accuracy plays no part here; the validation set does the judging.)

# %% code tags=demo
torch.manual_seed(0)
_small = torch.cat([torch.nonzero(y_train == c)[:5, 0] for c in range(10)])
_runs = {
    "3 hidden units, all 1,078 images": fit(mlp([64, 3, 10]), X_train, y_train, epochs=150, lr=1e-2, every=5),
    "128 hidden units, 50 images": fit(mlp([64, 128, 10]), X_train[_small], y_train[_small], epochs=150, lr=1e-2, every=5),
    "128 hidden units, all 1,078 images": fit(mlp([64, 128, 10]), X_train, y_train, epochs=150, lr=1e-2, every=5),
}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), sharey=True)
for ax, (title, h) in zip(axes, _runs.items()):
    ax.plot(h["epoch"], h["train loss"], label="training loss", color=OKABE_ITO[0])
    ax.plot(h["epoch"], h["val loss"], label="validation loss", color=OKABE_ITO[3])
    ax.set(title=title, xlabel="epoch (full batches)", ylabel="cross-entropy (nats)", ylim=(0, 2.5))
    ax.legend()
fig.tight_layout()
plt.show()
for title, h in _runs.items():
    print(f"{title:<36} train acc {h['train acc'][-1]:.3f} | val acc {h['val acc'][-1]:.3f} | "
          f"lowest val loss at epoch {h['epoch'][int(np.argmin(h['val loss']))]}")

# %% markdown
# Left: three hidden units cannot hold ten classes apart; both losses stay high together. Middle:
# the wider network learns its 50 images perfectly (training loss near 0) while its validation loss
# bottoms out early and then climbs: it is memorising. Right: the same network with twenty times
# more data shows a small gap. More data is the best regulariser; the rest of this section is
# about what to do when there is no more.
#
# Two remedies from earlier modules are not repeated here: **early stopping** (Module 2: keep the
# weights from the epoch with the lowest validation loss, the minimum of the red curve in the
# middle) and **data augmentation** (Module 3: random shifts make new training images out of old
# ones).
#
# ### Concept check 1
#
# A network trained for 100 epochs reaches 71% training accuracy and 70% validation accuracy, and
# both loss curves have been flat, close together, for the last 50 epochs. What is most likely to help? Set
# `q1_answer` to one letter.
#
# - (a) add dropout
# - (b) collect more training images
# - (c) a bigger network (or less regularisation)
# - (d) stop training earlier

# %% solution id=q1
q1_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q1_answer = "c"
### END SOLUTION

# %% tests id=test_q1 points=1
check_true(q1_answer in ("a", "b", "c", "d"), f"q1_answer is {q1_answer!r}; set it to one of 'a', 'b', 'c', 'd'")
print("q1: answer recorded")
### BEGIN HIDDEN TESTS
check_equal("q1_answer", q1_answer, "c")
### END HIDDEN TESTS

# %% markdown
# ## 2. Penalties on the weights: L1 and L2
#
# Overfitting networks tend to have large weights: they bend sharply to pass through every
# training point. A penalty on the size of the weights, added to the loss with a strength
# $\lambda$, trades a little training loss for smoother functions:
#
# $$ L_\text{total} = L_\text{data} + \lambda\, R(w), \qquad
#    R_{L1}(w) = \sum_i |w_i|, \qquad R_{L2}(w) = \tfrac12 \sum_i w_i^2 . $$
#
# The gradient of the L2 penalty is $w$ itself (that is why we keep the $\tfrac12$): every step
# pulls each weight towards 0 in proportion to its size. The L1 penalty's gradient is
# $\operatorname{sign}(w)$: the same pull for every weight, which drives small weights exactly to
# 0 and gives *sparse* networks.
#
# ### Exercise 1: `l1_penalty`
#
# Sum of absolute values over every entry of every tensor in `params`. Return a scalar tensor that
# autograd can differentiate (no `.item()`, no NumPy). Hint: `p.abs().sum()`.

# %% solution id=l1_penalty
def l1_penalty(params: Iterable[torch.Tensor]) -> torch.Tensor:
    """L1 penalty R(w) = sum_i |w_i| over all the parameters.

    Inputs:
        params: tensors of any shapes (a list, or model.parameters()).
    Returns:
        penalty: scalar (0-dimensional) tensor, differentiable with respect to every entry.
    """
    ### BEGIN SOLUTION
    return sum(p.abs().sum() for p in params)
    ### END SOLUTION


# %% tests id=test_l1_penalty points=1
_w = [torch.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=torch.float64, requires_grad=True),
      torch.tensor([-0.25], dtype=torch.float64, requires_grad=True)]
_r = l1_penalty(_w)
check_true(isinstance(_r, torch.Tensor), f"l1_penalty returned {type(_r).__name__}; return a torch tensor so autograd can use it")
check_close("l1_penalty([[1, -2], [0.5, 0]], [-0.25])", _r.detach(), 3.75, hint="|1| + |-2| + |0.5| + |0| + |-0.25| = 3.75")
check_true(_r.requires_grad, "l1_penalty's result does not require grad: do not use .item(), .detach() or NumPy")
print("l1_penalty: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(60)
for _shapes in [[(3, 4), (4,)], [(1,)], [(2, 3, 5), (7, 2), (1, 1)], [(100, 50)]]:
    _w = [torch.tensor(_rng.standard_normal(s) * 3, dtype=torch.float64, requires_grad=True) for s in _shapes]
    _r = l1_penalty(_w)
    check_close(f"l1_penalty on shapes {_shapes}", torch.as_tensor(_r).detach(), sum(float(np.abs(p.detach().numpy()).sum()) for p in _w))
_r = l1_penalty(iter([torch.ones(2, 2, dtype=torch.float64), -torch.ones(3, dtype=torch.float64)]))
check_close("l1_penalty on a generator (like model.parameters())", torch.as_tensor(_r), 7.0)
check_close("l1_penalty of zeros", torch.as_tensor(l1_penalty([torch.zeros(3, 3, dtype=torch.float64)])), 0.0)
### END HIDDEN TESTS

# %% markdown
# ### Exercise 2: `l2_penalty`
#
# Half the sum of squares, as in the formula above (keep the $\tfrac12$: it is part of the
# contract, and it makes the gradient exactly $w$).

# %% solution id=l2_penalty
def l2_penalty(params: Iterable[torch.Tensor]) -> torch.Tensor:
    """L2 penalty R(w) = 1/2 * sum_i w_i^2 over all the parameters (its gradient is w).

    Inputs:
        params: tensors of any shapes (a list, or model.parameters()).
    Returns:
        penalty: scalar (0-dimensional) tensor, differentiable with respect to every entry.
    """
    ### BEGIN SOLUTION
    return 0.5 * sum((p * p).sum() for p in params)
    ### END SOLUTION


# %% tests id=test_l2_penalty points=1
_w = [torch.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=torch.float64, requires_grad=True),
      torch.tensor([-0.25], dtype=torch.float64, requires_grad=True)]
_r = l2_penalty(_w)
check_true(isinstance(_r, torch.Tensor), f"l2_penalty returned {type(_r).__name__}; return a torch tensor so autograd can use it")
check_close("l2_penalty([[1, -2], [0.5, 0]], [-0.25])", _r.detach(), 2.65625,
            hint="(1 + 4 + 0.25 + 0 + 0.0625) / 2 = 2.65625: squares, summed, halved. Not the norm (no square root)")
check_true(_r.requires_grad, "l2_penalty's result does not require grad: do not use .item(), .detach() or NumPy")
print("l2_penalty: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(61)
for _shapes in [[(3, 4), (4,)], [(1,)], [(2, 3, 5), (7, 2), (1, 1)], [(100, 50)]]:
    _w = [torch.tensor(_rng.standard_normal(s) * 3, dtype=torch.float64, requires_grad=True) for s in _shapes]
    _r = l2_penalty(_w)
    check_close(f"l2_penalty on shapes {_shapes}", torch.as_tensor(_r).detach(), 0.5 * sum(float((p.detach().numpy() ** 2).sum()) for p in _w))
_r = l2_penalty(iter([torch.full((2, 2), 3.0, dtype=torch.float64), -torch.ones(3, dtype=torch.float64)]))
check_close("l2_penalty on a generator (like model.parameters())", torch.as_tensor(_r), 19.5)
check_close("l2_penalty of a single 2", torch.as_tensor(l2_penalty([torch.tensor([2.0], dtype=torch.float64)])), 2.0,
            hint="1/2 * 2^2 = 2")
### END HIDDEN TESTS

# %% markdown
# ### Weight decay is L2, except under Adam
#
# *Weight decay* shrinks every weight by a fixed fraction at every step:
# $w \leftarrow w - \eta\,\lambda\, w - \eta\, \nabla L_\text{data}$. With plain SGD this is
# exactly gradient descent on $L_\text{data} + \lambda R_{L2}$, since $\nabla R_{L2} = w$. Adam
# is different. Recall its step (Module 2), for a gradient $g$:
#
# $$ m \leftarrow \beta_1 m + (1-\beta_1) g, \qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \qquad
#    w \leftarrow w - \eta\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}. $$
#
# With an L2 penalty in the loss, $g = \nabla L_\text{data} + \lambda w$ goes through $m$ and $v$.
# *Decoupled* weight decay (AdamW, Loshchilov and Hutter 2019) instead takes Adam's step on
# $\nabla L_\text{data}$ alone and then shrinks: $w \leftarrow w - \eta\lambda w$. The cell below
# trains the same linear classifier four ways, from the same start, with the same $\lambda$:
# your `l2_penalty` in the loss, or the optimiser's decoupled decay, under SGD and under Adam.

# %% code tags=demo
def train_linear(optimizer: str, decay: str, lam: float = 0.05, steps: int = 100) -> nn.Linear:
    """A 64 -> 10 linear classifier on full batches, with L2 in the loss or decoupled decay."""
    torch.manual_seed(0)
    model = nn.Linear(64, 10).to(device)
    lr = 0.5 if optimizer == "SGD" else 0.02
    wd = lam if decay == "decoupled" else 0.0
    opt = torch.optim.SGD(model.parameters(), lr=lr) if optimizer == "SGD" else torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(X_train), y_train)
        if decay == "L2 in the loss":
            loss = loss + lam * l2_penalty(model.parameters())
        opt.zero_grad()
        loss.backward()
        if wd:  # decoupled: shrink the weights directly, outside the gradient
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(1 - lr * wd)
        opt.step()
    return model


try:
    _models = {(o, d): train_linear(o, d) for o in ("SGD", "Adam") for d in ("L2 in the loss", "decoupled")}
except NotImplementedError:
    print("implement l2_penalty above to see this comparison")
else:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
    for ax, o in zip(axes, ("SGD", "Adam")):
        for k, d in enumerate(("L2 in the loss", "decoupled")):
            w = _models[(o, d)].weight.detach().abs().flatten().cpu().numpy()
            ax.hist(w, bins=40, alpha=0.6, color=OKABE_ITO[k], label=d)
        gap = (_models[(o, "L2 in the loss")].weight - _models[(o, "decoupled")].weight).abs().max().item()
        ax.set(title=f"{o}: max weight difference {gap:.1e}", xlabel="|weight|", ylabel="number of weights")
        ax.legend()
    fig.tight_layout()
    plt.show()

# %% markdown
# Under SGD the two histograms coincide (the difference is rounding). Under Adam they do not.
#
# ### Concept check 2
#
# With Adam, how does an L2 penalty $\tfrac{\lambda}{2}\|w\|^2$ in the loss differ from AdamW's
# decoupled weight decay? Set `q2_answer` to one letter.
#
# - (a) it does not: the two are the same update
# - (b) the penalty's gradient is divided by $\sqrt{\hat v}$ like the rest, so weights whose
#   gradients have been large are shrunk less, and weights with tiny gradients more
# - (c) the penalty has no effect, because Adam normalises every gradient to size 1
# - (d) the penalty shrinks every weight by exactly the same amount per step, like L1

# %% solution id=q2
q2_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q2_answer = "b"
### END SOLUTION

# %% tests id=test_q2 points=1
check_true(q2_answer in ("a", "b", "c", "d"), f"q2_answer is {q2_answer!r}; set it to one of 'a', 'b', 'c', 'd'")
print("q2: answer recorded")
### BEGIN HIDDEN TESTS
check_equal("q2_answer", q2_answer, "b")
### END HIDDEN TESTS

# %% markdown
# Adam divides the whole gradient, penalty included, by the running size of past gradients, so
# the pull towards 0 is strong where the data's gradients are small and weak where they are
# large: not the uniform shrinkage that "weight decay" promises. AdamW restores it, and usually
# generalises better; it is the default for training transformers. (PyTorch's
# `torch.optim.Adam(weight_decay=...)` is the L2 version; `torch.optim.AdamW` the decoupled one.)
#
# ## 3. Dropout and label smoothing
#
# **Dropout** (Module 2) zeroes each hidden unit with probability $p$ during training, so no unit
# can rely on another being present; at evaluation time all units are used.
#
# **Label smoothing** attacks overconfidence. A one-hot target asks for probability 1 on the
# right class, which a softmax can only approach with ever larger logits. Smoothing mixes the
# one-hot vector with the uniform distribution over the $K$ classes:
#
# $$ \tilde y_k = (1 - \varepsilon)\,[k = y] + \frac{\varepsilon}{K}. $$
#
# The right class gets $1 - \varepsilon + \varepsilon/K$ and every other class $\varepsilon / K$;
# the row still sums to 1. The loss is the cross-entropy with these soft targets,
# $-\sum_k \tilde y_k \log p_k$, which is what `F.cross_entropy(logits, y, label_smoothing=eps)`
# computes.
#
# ### Exercise 3: `smooth_labels`
#
# Build the smoothed target matrix. Hint: `F.one_hot(y, n_classes)` gives the one-hot rows
# (as integers: convert them to float).

# %% solution id=smooth_labels
def smooth_labels(y: torch.Tensor, n_classes: int, eps: float) -> torch.Tensor:
    """Label-smoothed targets: (1 - eps) * one_hot(y) + eps / n_classes in every entry.

    Inputs:
        y: (N,) int64 class labels in [0, n_classes).
        n_classes: K, the number of classes.
        eps: smoothing strength in [0, 1].
    Returns:
        targets: (N, K) float tensor (the default dtype); every row sums to 1.
    """
    ### BEGIN SOLUTION
    return (1 - eps) * F.one_hot(y, n_classes).to(torch.get_default_dtype()) + eps / n_classes
    ### END SOLUTION


# %% tests id=test_smooth_labels points=2
_t = smooth_labels(torch.tensor([0, 2]), 4, 0.2)
check_shape("smooth_labels([0, 2], 4, 0.2)", _t, (2, 4))
check_close("smooth_labels([0, 2], 4, 0.2)", _t, [[0.85, 0.05, 0.05, 0.05], [0.05, 0.05, 0.85, 0.05]], rtol=1e-6,
            hint="the other classes get eps / K = 0.05 each (K, not K - 1, as in PyTorch), the right one 1 - eps + eps / K")
_logits = torch.tensor([[2.0, -1.0, 0.5, 0.0], [0.0, 1.0, 3.0, -2.0]])
check_close("cross-entropy with your targets vs F.cross_entropy(label_smoothing=0.2)",
            -(_t * F.log_softmax(_logits, dim=1)).sum(1).mean(), F.cross_entropy(_logits, torch.tensor([0, 2]), label_smoothing=0.2), rtol=1e-6)
print("smooth_labels: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(62)
for _n, _k, _eps in [(1, 2, 0.1), (7, 10, 0.0), (16, 10, 0.1), (5, 3, 1.0), (9, 100, 0.37)]:
    _y = torch.tensor(_rng.integers(0, _k, _n))
    _t = smooth_labels(_y, _k, _eps)
    check_shape(f"smooth_labels(y of {_n}, {_k}, {_eps})", _t, (_n, _k))
    _logits = torch.tensor(_rng.standard_normal((_n, _k)) * 3, dtype=torch.float64)
    check_close(f"cross-entropy with smooth_labels(K={_k}, eps={_eps}) vs PyTorch's label_smoothing",
                -(torch.as_tensor(_t, dtype=torch.float64) * F.log_softmax(_logits, dim=1)).sum(1).mean(),
                F.cross_entropy(_logits, _y, label_smoothing=_eps), rtol=1e-6, atol=1e-7)
    check_close(f"row sums of smooth_labels(K={_k}, eps={_eps})", torch.as_tensor(_t).sum(1), np.ones(_n), rtol=1e-6)
### END HIDDEN TESTS

# %% markdown
# With the right class's target below 1, the loss is smallest for finite logits, so the network
# stops pushing them apart; its confidence becomes a more honest estimate of its accuracy.
#
# ## 4. A regularisation playground
#
# Move the three controls: the dropout rate, AdamW's weight decay, and the number of training
# images. Each combination is a small network (64-64-10) trained for 100 full-batch epochs; all
# 18 were trained when the cell ran (a few seconds), so the controls only choose among them.
# Watch the gap between the curves. With networks this small, more data closes it far more than
# dropout or weight decay do; the table under the figure gives the validation accuracies for 100
# images (dropout helps a little there, this much weight decay hardly at all).

# %% code tags=demo,nbval-ignore-output
PLAY_DROPOUT, PLAY_DECAY, PLAY_SIZES = (0.0, 0.25, 0.5), (0.0, 1.0), (100, 300, 1078)
_play_rows = {n: torch.randperm(len(X_train), generator=torch.Generator().manual_seed(1))[:n].to(device) for n in PLAY_SIZES}
playground = {}
for _p in tqdm(PLAY_DROPOUT, desc="playground"):
    for _wd in PLAY_DECAY:
        for _n in PLAY_SIZES:
            torch.manual_seed(0)
            playground[(_p, _wd, _n)] = fit(mlp([64, 64, 10], dropout=_p), X_train[_play_rows[_n]], y_train[_play_rows[_n]],
                                            epochs=100, lr=5e-3, weight_decay=_wd, every=10)


def draw_playground(dropout: float, weight_decay: float, n_train: int) -> None:
    """Training and validation curves of one precomputed run."""
    h = playground[(dropout, weight_decay, n_train)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    for ax, what, unit in [(axes[0], "loss", "cross-entropy (nats)"), (axes[1], "acc", "accuracy")]:
        ax.plot(h["epoch"], h[f"train {what}"], color=OKABE_ITO[0], label="training")
        ax.plot(h["epoch"], h[f"val {what}"], color=OKABE_ITO[3], label="validation")
        ax.set(xlabel="epoch (full batches)", ylabel=unit, ylim=(0, 2.4) if what == "loss" else (0.5, 1.01))
        ax.legend()
    axes[0].set_title(f"dropout {dropout}, weight decay {weight_decay}, {n_train} images")
    axes[1].set_title(f"final: train {h['train acc'][-1]:.3f}, validation {h['val acc'][-1]:.3f}")
    fig.tight_layout()


draw_playground(0.0, 0.0, 100)
plt.show()
slider_plot(draw_playground, dropout=dropdown("dropout", list(PLAY_DROPOUT)),
            weight_decay=dropdown("weight decay", list(PLAY_DECAY)), n_train=dropdown("training images", list(PLAY_SIZES)))

# %% code tags=demo
_grid = np.array([[playground[(p, wd, 100)]["val acc"][-1] for wd in PLAY_DECAY] for p in PLAY_DROPOUT])
print("validation accuracy with 100 training images (rows: dropout, columns: weight decay)")
print("dropout \\ decay " + "".join(f"{wd:>8}" for wd in PLAY_DECAY))
for p, row in zip(PLAY_DROPOUT, _grid):
    print(f"{p:>15} " + "".join(f"{a:8.3f}" for a in row))

# %% markdown
# ## 5. The digits model for the rest of the module
#
# One classifier serves every later section: it judges the GAN, it is compressed, explained and
# exported. A 64-128-128-10 network with dropout 0.2 and AdamW's weight decay, trained in
# minibatches of 64 for 40 epochs.
#
# A classifier trained on digits alone is confident about anything: shown images whose pixels
# were shuffled, it still puts about 0.8 of its probability on one class. To make its confidence
# mean "this looks like a digit", each batch also shows it shuffled-pixel images with the uniform
# distribution as the target (*outlier exposure*, Hendrycks et al. 2019). The cell prints its
# confidence on validation digits, on shuffled pixels (the kind it was taught to doubt), and on
# digits buried in noise (a kind it never saw). The test set waits for the end of the notebook.

# %% code tags=slow
_oe_batch = [0]


def _with_outlier_exposure(logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the digits plus, on shuffled copies, cross-entropy to the uniform distribution."""
    _oe_batch[0] += 1
    outliers = shuffled_pixels(X_train[idx], seed=_oe_batch[0])
    return F.cross_entropy(logits, y) + 0.5 * (-F.log_softmax(classifier(outliers), dim=1).mean(dim=1)).mean()


def confidence(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The largest softmax probability for each row of X: (N,)."""
    with torch.no_grad():
        return F.softmax(model(X), dim=1).max(dim=1).values


torch.manual_seed(0)
classifier = mlp([64, 128, 128, 10], dropout=0.2)
_h = fit(classifier, X_train, y_train, epochs=40, lr=2e-3, weight_decay=1e-2, batch_size=64, loss_fn=_with_outlier_exposure)
classifier.eval()
X_val_noise5 = (X_val + 0.5 * torch.randn(X_val.shape, generator=torch.Generator().manual_seed(5)).to(device)).clamp(0, 1)
judge_baseline = {"validation digits": confidence(classifier, X_val), "shuffled pixels": confidence(classifier, shuffled_pixels(X_val, seed=99)),
                  "digits + noise (std 0.5)": confidence(classifier, X_val_noise5)}
print(f"classifier: {n_params(classifier)} parameters | validation accuracy {_h['val acc'][-1]:.4f}")
for _name, _c in judge_baseline.items():
    print(f"{_name:<26} confidence: mean {_c.mean().item():.3f}, share above 0.9 {(_c > 0.9).float().mean().item():.3f}")

# %% markdown
# ## 6. Autoencoders
#
# An autoencoder learns the identity function through a bottleneck: an *encoder* maps the
# input $x \in \mathbb{R}^{64}$ to a short *code* $z \in \mathbb{R}^{d}$ with $d \ll 64$, a
# *decoder* maps the code back, and the loss is the reconstruction error
# $\|x - \text{dec}(\text{enc}(x))\|^2$. No labels are needed. To pass through 8 numbers, the
# code has to capture what digits have in common; what is left out is mostly noise. Variants:
#
# - **denoising**: feed a corrupted input, ask for the clean one; the network must learn the
#   structure of digits to undo the noise (and cannot just copy);
# - **sparse**: add an L1 penalty on the code, so each input uses few code units;
# - **variational**: make the code a probability distribution (section 7).
#
# ### Exercise 4: `Autoencoder`
#
# Encoder: `Linear(n_in, n_hidden)`, ReLU, `Linear(n_hidden, n_latent)`. Decoder:
# `Linear(n_latent, n_hidden)`, ReLU, `Linear(n_hidden, n_in)`, then a sigmoid, because pixels
# lie in [0, 1]. Store them as `self.encoder` and `self.decoder` (`nn.Sequential`), and write
# `encode`, `decode`; `forward` is given.

# %% solution id=Autoencoder
class Autoencoder(nn.Module):
    """An MLP autoencoder for flattened images.

    Inputs (forward):
        x: (N, n_in) float tensor in [0, 1].
    Returns (forward):
        x_hat: (N, n_in) reconstruction, every entry in (0, 1); equal to decode(encode(x)).
    encode(x): (N, n_in) -> (N, n_latent) code.  decode(z): (N, n_latent) -> (N, n_in) in (0, 1).
    """

    def __init__(self, n_in: int = 64, n_hidden: int = 32, n_latent: int = 8):
        super().__init__()
        ### BEGIN SOLUTION
        self.encoder = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_latent))
        self.decoder = nn.Sequential(nn.Linear(n_latent, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_in), nn.Sigmoid())
        ### END SOLUTION

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.encoder(x)
        ### END SOLUTION

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.decoder(z)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


# %% tests id=test_Autoencoder points=2
torch.manual_seed(0)
_ae = Autoencoder()
_x = torch.rand(5, 64)
check_shape("Autoencoder().encode(x) for x of shape (5, 64)", _ae.encode(_x), (5, 8), hint="the code has n_latent = 8 numbers per image")
_xh = _ae(_x)
check_shape("Autoencoder()(x)", _xh, (5, 64))
check_true(bool(((_xh > 0) & (_xh < 1)).all()), "Autoencoder outputs must lie in (0, 1): end the decoder with a sigmoid")
check_close("Autoencoder: forward(x) vs decode(encode(x))", _xh.detach(), _ae.decode(_ae.encode(_x)).detach(), rtol=1e-6)
_counts = {k: tuple(v.shape) for k, v in _ae.state_dict().items()}
check_equal("number of parameters of Autoencoder()", sum(int(np.prod(s)) for s in _counts.values()),
            (64 * 32 + 32) + (32 * 8 + 8) + (8 * 32 + 32) + (32 * 64 + 64), hint="two Linear layers each way: 64-32-8 and 8-32-64")
print("Autoencoder: visible tests passed")
### BEGIN HIDDEN TESTS
for _args in [(64, 16, 2), (10, 7, 3), (64, 48, 12)]:
    torch.manual_seed(1)
    _ae = Autoencoder(*_args)
    _x = torch.rand(4, _args[0])
    check_shape(f"Autoencoder{_args}.encode(x)", _ae.encode(_x), (4, _args[2]))
    check_shape(f"Autoencoder{_args}.decode(z)", _ae.decode(torch.randn(3, _args[2])), (3, _args[0]))
    _xh = _ae(_x)
    check_true(bool(((_xh > 0) & (_xh < 1)).all()), f"Autoencoder{_args}: outputs must lie in (0, 1)")
    _n_in, _h, _d = _args
    check_equal(f"parameters of Autoencoder{_args}", sum(v.numel() for v in _ae.state_dict().values()),
                2 * (_n_in * _h + _h * _d) + _h + _d + _h + _n_in)
_ae = Autoencoder()
_zero_state = {k: torch.zeros_like(v) for k, v in _ae.state_dict().items()}
_ae.load_state_dict(_zero_state)
check_close("Autoencoder with all weights 0 outputs sigmoid(0)", _ae(torch.rand(2, 64)).detach(), np.full((2, 64), 0.5))
### END HIDDEN TESTS

# %% markdown
# ### A denoising run
#
# Train your autoencoder to remove noise: each step adds Gaussian noise of standard deviation
# 0.4 to the training images (clipped back to [0, 1]) and asks for the clean image. Validation
# error is measured on noisy validation images against the clean ones.

# %% code tags=slow
def add_noise(x: torch.Tensor, std: float, gen: torch.Generator) -> torch.Tensor:
    """x plus Gaussian noise of standard deviation std, clipped to [0, 1]."""
    return (x + std * torch.randn(x.shape, generator=gen).to(x.device)).clamp(0, 1)


torch.manual_seed(0)
autoencoder = Autoencoder().to(device)
_opt = torch.optim.Adam(autoencoder.parameters(), lr=3e-3)
_gen = torch.Generator().manual_seed(0)
X_val_noisy = add_noise(X_val, 0.4, torch.Generator().manual_seed(123))
for _epoch in tqdm(range(60), desc="denoising autoencoder"):
    for _idx in torch.randperm(len(X_train), generator=_gen).split(64):
        _clean = X_train[_idx.to(device)]
        _loss = F.mse_loss(autoencoder(add_noise(_clean, 0.4, _gen)), _clean)
        _opt.zero_grad()
        _loss.backward()
        _opt.step()
autoencoder.eval()
with torch.no_grad():
    denoise_mse = F.mse_loss(autoencoder(X_val_noisy), X_val).item()
noisy_mse = F.mse_loss(X_val_noisy, X_val).item()
print(f"validation: noisy vs clean MSE {noisy_mse:.4f} | denoised vs clean MSE {denoise_mse:.4f}")
with torch.no_grad():
    _show = torch.cat([X_val[:10], X_val_noisy[:10], autoencoder(X_val_noisy[:10])]).cpu().numpy()
image_grid(_show.reshape(-1, 8, 8), labels=["clean"] * 10 + ["noisy"] * 10 + ["denoised"] * 10, ncols=10,
           title="Validation digits: clean, with noise of std 0.4, and your autoencoder's output")
plt.show()

# %% tests id=test_denoising points=1 tags=slow
check_true(denoise_mse < 0.5 * noisy_mse,
           f"the denoised images (MSE {denoise_mse:.4f}) are not much closer to the clean ones than the noisy inputs ({noisy_mse:.4f})",
           hint="check the Autoencoder: encoder 64-32-8, decoder 8-32-64 with a sigmoid at the end")
print(f"denoising: the error fell from {noisy_mse:.4f} to {denoise_mse:.4f}")

# %% markdown
# ### Anomaly detection
#
# An autoencoder trained on digits reconstructs digits well and anything else badly, so its
# reconstruction error is an *anomaly score*: rank inputs by it, and the strange ones come
# first. How well a score separates two groups, whatever threshold one picks, is measured by the
# area under the ROC curve (AUC): the probability that a random anomaly scores higher than a random
# normal input (1 is perfect, 0.5 is guessing).
#
# ### Exercise 5: `anomaly_scores`
#
# Return one number per input: the mean squared error between the input and its reconstruction,
# averaged over the pixels (not over the batch). No gradients are needed (`torch.no_grad()`).

# %% solution id=anomaly_scores
def anomaly_scores(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-example reconstruction error of an autoencoder.

    Inputs:
        model: maps (N, D) to reconstructions (N, D); already in eval mode.
        x: (N, D) inputs.
    Returns:
        scores: (N,) tensor, scores[n] = mean over d of (x[n, d] - model(x)[n, d])^2.
    """
    ### BEGIN SOLUTION
    with torch.no_grad():
        return ((model(x) - x) ** 2).mean(dim=1)
    ### END SOLUTION


# %% tests id=test_anomaly_scores points=2
class _Halve(nn.Module):
    """A stand-in 'autoencoder' that reconstructs x as x / 2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / 2


_x = torch.tensor([[2.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0]], dtype=torch.float64)
_s = anomaly_scores(_Halve(), _x)
check_shape("anomaly_scores(model, x) for 2 inputs", _s, (2,), hint="one score per row of x: average over the pixels only")
check_close("anomaly_scores(x -> x / 2, x)", _s, [0.25, 1.0], hint="row 0: (1^2 + 0 + 0 + 0) / 4 = 0.25")
print("anomaly_scores: visible tests passed")
### BEGIN HIDDEN TESTS
torch.manual_seed(7)
_ref_model = nn.Sequential(nn.Linear(12, 3), nn.Tanh(), nn.Linear(3, 12), nn.Sigmoid()).double().eval()
for _n in (1, 5, 33):
    _x = torch.rand(_n, 12, dtype=torch.float64)
    with torch.no_grad():
        _expected = ((_ref_model(_x) - _x) ** 2).mean(dim=1)
    _s = anomaly_scores(_ref_model, _x)
    check_shape(f"anomaly_scores for {_n} inputs", _s, (_n,))
    check_close(f"anomaly_scores for {_n} inputs", torch.as_tensor(_s).detach(), _expected)
### END HIDDEN TESTS

# %% markdown
# Now the experiment: the clean validation digits against the same digits with their 64 pixels
# shuffled (the same pixel values in a random order: the right brightness, no digit shape), and
# against digits with strong noise (std 0.5). The AUC is computed with scikit-learn's
# `roc_auc_score`, with the anomalies as the positive class.

# %% code tags=slow
X_val_shuffled = shuffled_pixels(X_val, seed=0)
X_val_very_noisy = add_noise(X_val, 0.5, torch.Generator().manual_seed(7))
_clean_scores = anomaly_scores(autoencoder, X_val).cpu().numpy()
auc = {}
fig, ax = plt.subplots(figsize=(7, 3.4))
ax.hist(_clean_scores, bins=40, alpha=0.6, color=OKABE_ITO[0], label="clean digits", density=True)
for _k, (_name, _xa) in enumerate([("pixels shuffled", X_val_shuffled), ("noise std 0.5", X_val_very_noisy)]):
    _sc = anomaly_scores(autoencoder, _xa).cpu().numpy()
    auc[_name] = roc_auc_score(np.r_[np.zeros(len(_clean_scores)), np.ones(len(_sc))], np.r_[_clean_scores, _sc])
    ax.hist(_sc, bins=40, alpha=0.6, color=OKABE_ITO[_k + 1], label=f"{_name} (AUC {auc[_name]:.3f})", density=True)
ax.set(title="Reconstruction error of validation images", xlabel="anomaly score (mean squared error)", ylabel="density")
ax.legend()
plt.show()
print(" | ".join(f"ROC AUC clean vs {k}: {v:.4f}" for k, v in auc.items()))

# %% tests id=test_anomaly_auc points=1 tags=slow
check_true(auc["pixels shuffled"] >= 0.95, f"ROC AUC clean vs shuffled pixels is {auc['pixels shuffled']:.4f}, below 0.95",
           hint="anomaly_scores should be large for images unlike digits: the reconstruction error per image")
check_true(auc["noise std 0.5"] >= 0.95, f"ROC AUC clean vs noisy is {auc['noise std 0.5']:.4f}, below 0.95")
print("anomaly detection: both AUCs at least 0.95")

# %% markdown
# ## 7. Variational autoencoders
#
# A plain autoencoder's codes can lie anywhere, with gaps between them; decoding a point in a gap
# gives nonsense, so it cannot *generate*. A variational autoencoder (VAE; Kingma and Welling,
# 2014) makes the encoder output a distribution instead of a point: a mean $\mu(x)$ and a
# log-variance $\log\sigma^2(x)$ for each of the $d$ code dimensions, $q(z \mid x) =
# \mathcal N(\mu, \operatorname{diag}\sigma^2)$. The loss (the negative *evidence lower bound*)
# has two terms:
#
# $$ L = \underbrace{-\log p(x \mid z)}_{\text{reconstruction}} \; + \;
#        \underbrace{\mathrm{KL}\big(q(z \mid x)\,\|\,\mathcal N(0, I)\big)}_{\text{keeps codes near the prior}},
#    \qquad z \sim q(z \mid x). $$
#
# The KL term pulls every code distribution towards the standard normal, so the codes fill one
# round region without gaps, and decoding $z \sim \mathcal N(0, I)$ gives new digits. For two
# Gaussians it has a closed form, summed over the $d$ dimensions:
#
# $$ \mathrm{KL} = \tfrac12 \sum_{j=1}^{d} \left( \mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2 \right). $$
#
# **The reparameterisation trick.** Sampling is not differentiable with respect to $\mu$ and
# $\sigma$. Writing the sample as $z = \mu + \sigma \odot \varepsilon$ with
# $\varepsilon \sim \mathcal N(0, I)$ drawn separately moves the randomness into an input, and
# gradients flow through $\mu$ and $\sigma = \exp(\tfrac12 \log\sigma^2)$.
#
# ### Exercise 6: `reparameterize`

# %% solution id=reparameterize
def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """A sample z = mu + sigma * eps of N(mu, sigma^2), differentiable in mu and logvar.

    Inputs:
        mu: (N, d) means.
        logvar: (N, d) log-variances, log(sigma^2).
        eps: (N, d) standard normal noise.
    Returns:
        z: (N, d).
    """
    ### BEGIN SOLUTION
    return mu + torch.exp(0.5 * logvar) * eps
    ### END SOLUTION


# %% tests id=test_reparameterize points=1
_z = reparameterize(torch.tensor([[1.0, -1.0]]), torch.tensor([[0.0, np.log(4.0)]]), torch.tensor([[0.5, 0.5]]))
check_close("reparameterize(mu=[1, -1], logvar=[0, log 4], eps=[0.5, 0.5])", _z, [[1.5, 0.0]], rtol=1e-6,
            hint="logvar = log(sigma^2), so sigma = exp(logvar / 2): 2 for the second entry, and -1 + 2 * 0.5 = 0")
print("reparameterize: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(63)
for _shape in [(1, 1), (4, 3), (16, 8)]:
    _mu, _lv, _eps = (torch.tensor(_rng.standard_normal(_shape) * s, dtype=torch.float64) for s in (2.0, 1.5, 1.0))
    check_close(f"reparameterize on {_shape}", reparameterize(_mu, _lv, _eps), _mu + torch.sqrt(torch.exp(_lv)) * _eps)
_z = reparameterize(torch.zeros(2, 2, dtype=torch.float64), torch.full((2, 2), -60.0, dtype=torch.float64), torch.ones(2, 2, dtype=torch.float64))
check_close("reparameterize with logvar = -60 (tiny sigma)", _z, np.full((2, 2), np.exp(-30.0)), rtol=1e-9, atol=0)
### END HIDDEN TESTS

# %% markdown
# ### Exercise 7: `vae_loss`
#
# The decoder outputs *logits* for each pixel, and we treat the pixels as Bernoulli
# probabilities, so the reconstruction term is the binary cross-entropy with logits, **summed
# over the 64 pixels**. The KL term is the closed form above, **summed over the code dimensions**.
# Both are then **averaged over the batch**, and the loss is their sum. Return all three.
# Hint: `F.binary_cross_entropy_with_logits(..., reduction="none")`.

# %% solution id=vae_loss
def vae_loss(x_logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Negative ELBO of a VAE with Bernoulli pixels and a standard normal prior.

    Inputs:
        x_logits: (N, D) decoder outputs (logits of the pixel probabilities).
        x: (N, D) targets in [0, 1].
        mu, logvar: (N, d) the encoder's means and log-variances.
    Returns:
        loss: scalar, recon + kl.
        recon: scalar, mean over the batch of the BCE-with-logits summed over the D pixels.
        kl: scalar, mean over the batch of 1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j).
    """
    ### BEGIN SOLUTION
    recon = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").sum(dim=1).mean()
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1).mean()
    return recon + kl, recon, kl
    ### END SOLUTION


# %% tests id=test_vae_loss points=3
_out = vae_loss(torch.zeros(2, 3), torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]), torch.tensor([[1.0], [0.0]]), torch.tensor([[0.0], [np.log(2.0)]]))
check_true(isinstance(_out, tuple) and len(_out) == 3, "vae_loss must return the tuple (loss, recon, kl)")
_loss, _recon, _kl = _out
check_close("recon with logits 0 (p = 0.5 everywhere)", _recon, 3 * np.log(2.0), rtol=1e-6,
            hint="each pixel costs log 2 at p = 0.5; 3 pixels summed, then averaged over the 2 images")
check_close("kl for mu = [1, 0], sigma^2 = [1, 2]", _kl, 0.25 * (1.0 + (2.0 - 1.0 - np.log(2.0))), rtol=1e-6,
            hint="image 0: 1/2 (1 + 1 - 1 - 0) = 0.5; image 1: 1/2 (0 + 2 - 1 - log 2); then the mean over images. "
                 "A negative kl means a sign is flipped")
check_close("loss = recon + kl", _loss, _recon + _kl, rtol=1e-6)
print("vae_loss: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(64)
for _n, _dd, _d in [(1, 5, 1), (8, 64, 4), (3, 10, 7)]:
    _xl = torch.tensor(_rng.standard_normal((_n, _dd)) * 3, dtype=torch.float64)
    _x = torch.tensor(_rng.uniform(0, 1, (_n, _dd)), dtype=torch.float64)
    _mu = torch.tensor(_rng.standard_normal((_n, _d)), dtype=torch.float64)
    _lv = torch.tensor(_rng.standard_normal((_n, _d)), dtype=torch.float64)
    _loss, _recon, _kl = vae_loss(_xl, _x, _mu, _lv)
    _q = torch.distributions.Normal(_mu, torch.exp(0.5 * _lv))
    _p = torch.distributions.Normal(torch.zeros_like(_mu), torch.ones_like(_mu))
    _kl_ref = torch.distributions.kl_divergence(_q, _p).sum(1).mean()
    check_close(f"kl vs torch.distributions.kl_divergence (N={_n}, d={_d})", _kl, _kl_ref,
                hint="summed over the code dimensions, averaged over the batch (not summed)")
    _recon_ref = F.binary_cross_entropy(torch.sigmoid(_xl), _x, reduction="sum") / _n
    check_close(f"recon (N={_n}, D={_dd})", _recon, _recon_ref, rtol=1e-6)
    check_close(f"loss (N={_n})", _loss, _recon_ref + _kl_ref, rtol=1e-6)
    # Monte Carlo: KL = E_q[log q(z) - log p(z)], estimated from 40,000 samples per image
    _z = _q.sample((40_000,))
    _terms = (_q.log_prob(_z) - _p.log_prob(_z)).sum(-1).mean(-1)  # (samples,), averaged over the batch
    _mc, _se = _terms.mean().item(), _terms.std().item() / np.sqrt(len(_terms))
    check_true(abs(float(_kl) - _mc) < 6 * _se + 1e-6, f"kl {float(_kl):.5f} is far from its Monte Carlo estimate {_mc:.5f} +- {_se:.5f}")
### END HIDDEN TESTS

# %% markdown
# The test compared your KL with the closed form (`torch.distributions.kl_divergence`) and with a
# Monte Carlo estimate, the average of $\log q(z) - \log p(z)$ over 40,000 samples $z \sim q$:
# the definition of the KL divergence, which is how one checks it when no closed form exists.
#
# The VAE itself is given: an encoder 64-64 with two heads for $\mu$ and $\log\sigma^2$ (4 code
# dimensions), your `reparameterize`, and a decoder 4-64-64 that outputs logits.

# %% code tags=slow
class VAE(nn.Module):
    """Encoder to (mu, logvar), a reparameterised sample, decoder to pixel logits."""

    def __init__(self, n_in: int = 64, n_hidden: int = 64, n_latent: int = 4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, n_hidden), nn.ReLU())
        self.mu, self.logvar = nn.Linear(n_hidden, n_latent), nn.Linear(n_hidden, n_latent)
        self.decoder = nn.Sequential(nn.Linear(n_latent, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_in))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mu(h), self.logvar(h)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, torch.randn_like(mu))
        return self.decoder(z), mu, logvar


torch.manual_seed(0)
vae = VAE().to(device)
_opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
_gen = torch.Generator().manual_seed(0)
for _epoch in tqdm(range(60), desc="VAE"):
    for _idx in torch.randperm(len(X_train), generator=_gen).split(64):
        _x = X_train[_idx.to(device)]
        _x_logits, _mu, _logvar = vae(_x)
        _loss, _, _ = vae_loss(_x_logits, _x, _mu, _logvar)
        _opt.zero_grad()
        _loss.backward()
        _opt.step()
vae.eval()
with torch.no_grad():
    _x_logits, _mu, _logvar = vae(X_val)
    _vl, _vrec, _vkl = vae_loss(_x_logits, X_val, _mu, _logvar)
    _samples = torch.sigmoid(vae.decoder(torch.randn(20, 4, generator=torch.Generator().manual_seed(1)).to(device))).cpu().numpy()
print(f"VAE validation: loss {_vl.item():.4g} = reconstruction {_vrec.item():.4g} + KL {_vkl.item():.4g} (nats per image)")
image_grid(_samples.reshape(-1, 8, 8), ncols=10, title="New digits: the VAE's decoder applied to z ~ N(0, I)")
plt.show()

# %% markdown
# ### A walk through the latent space
#
# Encode two validation digits, take their means $\mu_a$ and $\mu_b$, and decode the points
# $(1 - t)\mu_a + t\mu_b$ between them. Because the KL term left no gaps, every point on the
# way decodes to something digit-like, morphing from one to the other. Choose the two digits;
# the strip shows ten steps from $t = 0$ to $t = 1$.

# %% code tags=demo,nbval-ignore-output
_first = {c: int(torch.nonzero(y_val == c)[0, 0]) for c in range(10)}


def draw_walk(start: int, end: int) -> None:
    """Decode ten points on the straight line between the codes of two validation digits."""
    try:
        with torch.no_grad():
            mu, _ = vae.encode(X_val[[_first[start], _first[end]]])
            t = torch.linspace(0, 1, 10, device=device)[:, None]
            imgs = torch.sigmoid(vae.decoder((1 - t) * mu[0] + t * mu[1])).cpu().numpy()
    except NameError:
        print("implement reparameterize and vae_loss above (and run the VAE cell) to see this")
        return
    fig, axes = plt.subplots(1, 10, figsize=(11, 1.6))
    for k, ax in enumerate(axes):
        ax.imshow(imgs[k].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[], title=f"t={k / 9:.2f}")
        ax.grid(False)
    fig.suptitle(f"VAE latent walk from a {start} to a {end} (validation digits)")
    fig.tight_layout()


draw_walk(0, 6)
plt.show()
slider_plot(draw_walk, start=dropdown("from digit", list(range(10)), 0), end=dropdown("to digit", list(range(10)), 6))

# %% markdown
# ## 8. Generative adversarial networks
#
# A GAN (Goodfellow et al., 2014) learns to generate without ever writing down a likelihood. Two
# networks play a game: the **generator** $G$ turns random noise $z$ into a fake image, the
# **discriminator** $D$ outputs a logit saying how real an image looks. $D$ is trained to tell
# real from fake, $G$ to fool $D$. With $\sigma$ the sigmoid, the discriminator minimises the
# binary cross-entropy with label 1 for real and 0 for fake:
#
# $$ L_D = -\log \sigma(D(x)) - \log\big(1 - \sigma(D(G(z)))\big). $$
#
# The original game has $G$ minimise $\log(1 - \sigma(D(G(z))))$, the *saturating* loss: early in
# training $D$ rejects the fakes easily, $\sigma(D(G(z))) \approx 0$, and that function is flat
# there, so $G$ gets almost no gradient. The **non-saturating** loss used in practice has $G$
# maximise $\log \sigma(D(G(z)))$ instead, i.e. minimise the cross-entropy of its fakes with label 1:
#
# $$ L_G = -\log \sigma(D(G(z))). $$
#
# Same fixed point, strong gradients exactly when $G$ is losing. Useful identities:
# $-\log\sigma(a) = \operatorname{softplus}(-a)$ and $-\log(1 - \sigma(a)) = \operatorname{softplus}(a)$,
# which stay finite for any logit, where `torch.log(torch.sigmoid(a))` gives `-inf` once $a < -104$ in
# float32 ($-745$ in float64).
#
# ### Exercise 8: `gan_losses`
#
# Both losses are averaged over their batch; $L_D$ is the sum of the real and the fake term.
# Work with the logits directly (`F.softplus` or `F.binary_cross_entropy_with_logits`).

# %% solution id=gan_losses
def gan_losses(d_real: torch.Tensor, d_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminator loss and non-saturating generator loss, from discriminator logits.

    Inputs:
        d_real: (N,) or (N, 1) logits of D on real images.
        d_fake: (M,) or (M, 1) logits of D on generated images.
    Returns:
        d_loss: scalar, mean(-log sigmoid(d_real)) + mean(-log(1 - sigmoid(d_fake))).
        g_loss: scalar, mean(-log sigmoid(d_fake)).
    """
    ### BEGIN SOLUTION
    d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    g_loss = F.softplus(-d_fake).mean()
    return d_loss, g_loss
    ### END SOLUTION


# %% tests id=test_gan_losses points=2
_out = gan_losses(torch.tensor([0.0, 0.0]), torch.tensor([0.0]))
check_true(isinstance(_out, tuple) and len(_out) == 2, "gan_losses must return the tuple (d_loss, g_loss)")
check_close("d_loss with all logits 0", _out[0], 2 * np.log(2.0), rtol=1e-6, hint="log 2 for the real term plus log 2 for the fake term")
check_close("g_loss with all logits 0", _out[1], np.log(2.0), rtol=1e-6)
_d_loss, _g_loss = gan_losses(torch.tensor([2.0]), torch.tensor([-3.0]))
check_close("g_loss when D rejects the fake (logit -3)", _g_loss, np.log1p(np.exp(3.0)), rtol=1e-6,
            hint="the non-saturating loss is -log sigmoid(d_fake) = softplus(-d_fake), large when D rejects the fake. "
                 "Negative? That is the saturating log(1 - sigmoid) form")
print("gan_losses: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(65)
for _n, _m, _scale in [(1, 1, 1.0), (16, 8, 3.0), (5, 12, 10.0)]:
    _dr = torch.tensor(_rng.standard_normal(_n) * _scale, dtype=torch.float64)
    _df = torch.tensor(_rng.standard_normal(_m) * _scale, dtype=torch.float64)
    _d_loss, _g_loss = gan_losses(_dr, _df)
    _bce = F.binary_cross_entropy_with_logits
    check_close(f"d_loss (N={_n}, M={_m})", _d_loss, _bce(_dr, torch.ones_like(_dr)) + _bce(_df, torch.zeros_like(_df)))
    check_close(f"g_loss (M={_m})", _g_loss, _bce(_df, torch.ones_like(_df)))
_dr, _df = torch.tensor([[800.0], [-800.0]], dtype=torch.float64), torch.tensor([[-900.0], [750.0]], dtype=torch.float64)
_d_loss, _g_loss = gan_losses(_dr, _df)
check_close("d_loss with logits of size 800 (shape (N, 1))", _d_loss, 400.0 + 375.0, hint="use softplus or the BCE-with-logits: log(sigmoid(x)) underflows to log(0)")
check_close("g_loss with logits of size 900 (shape (N, 1))", _g_loss, 450.0)
### END HIDDEN TESTS

# %% markdown
# ### Training a GAN on the digits
#
# Both networks are small MLPs; the generator maps 16 noise numbers to 64 pixels through a
# sigmoid. Each step updates $D$ on a real and a fake batch (the fakes detached, so $G$ is not
# updated), then $G$ through $D$. GANs are judged here by a number, not by eye: the digits
# classifier of section 5 reads 1,000 samples. A good generator's samples are recognised with high
# confidence, and they cover all ten classes (a *mode-collapsed* generator, which found one
# digit that fools $D$ and makes only that, fails the second test).

# %% code tags=slow
GAN_Z = 16
torch.manual_seed(0)
generator = nn.Sequential(nn.Linear(GAN_Z, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128), nn.LeakyReLU(0.2),
                          nn.Linear(128, 64), nn.Sigmoid()).to(device)
discriminator = nn.Sequential(nn.Linear(64, 128), nn.LeakyReLU(0.2), nn.Linear(128, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1)).to(device)
_opt_g = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
_opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
_gen = torch.Generator().manual_seed(0)
for _step in tqdm(range(2000), desc="GAN"):
    _real = X_train[torch.randint(0, len(X_train), (64,), generator=_gen).to(device)]
    _fake = generator(torch.randn(64, GAN_Z, generator=_gen).to(device))
    _d_loss, _ = gan_losses(discriminator(_real), discriminator(_fake.detach()))
    _opt_d.zero_grad()
    _d_loss.backward()
    _opt_d.step()
    _, _g_loss = gan_losses(discriminator(_real), discriminator(_fake))
    _opt_g.zero_grad()
    _g_loss.backward()
    _opt_g.step()
generator.eval()
with torch.no_grad():
    gan_samples = generator(torch.randn(1000, GAN_Z, generator=torch.Generator().manual_seed(1)).to(device))
    _p = F.softmax(classifier(gan_samples), dim=1)
gan_confidence, gan_classes = _p.max(1).values.cpu().numpy(), _p.argmax(1).cpu().numpy()
gan_class_share = np.bincount(gan_classes, minlength=10) / len(gan_classes)
for _name, _c in list(judge_baseline.items()) + [("GAN samples", _p.max(1).values)]:
    print(f"{_name:<26} confidence: mean {_c.mean().item():.3f}, share above 0.9 {(_c > 0.9).float().mean().item():.3f}")
print("GAN samples per predicted class:", np.bincount(gan_classes, minlength=10).tolist())
image_grid(gan_samples[:30].cpu().numpy().reshape(-1, 8, 8), labels=[f"{c} ({p:.2f})" for c, p in zip(gan_classes[:30], gan_confidence[:30])],
           ncols=10, title="GAN samples with the classifier's label and confidence")
plt.show()

# %% tests id=test_gan_quality points=2 tags=slow
_high = float((gan_confidence > 0.9).mean())
check_true(_high >= 0.4, f"only {_high:.3f} of the GAN samples get a classifier confidence above 0.9 (need 0.4)",
           hint="check gan_losses: the generator's loss must be the non-saturating -log sigmoid(d_fake)")
check_true(gan_class_share.min() >= 0.002, f"some digit is (almost) never generated: class shares {np.round(gan_class_share, 3).tolist()}",
           hint="mode collapse; check that the discriminator's loss has both terms")
print(f"GAN: {_high:.3f} of the samples recognised with confidence above 0.9; every class at least {gan_class_share.min():.3f} of them")

# %% markdown
# The thresholds: at least 40% of the samples recognised with confidence above 0.9 (real
# validation digits: about 93%; shuffled pixels and noisy digits: about 1% or less), and every
# digit among the predicted classes of at least 2 samples in 1,000 (0.2%; a uniform spread would
# give 10% each). Over three seeds of this training (`benchmarks/m6_seeds.py`) the confident share
# was 0.55 to 0.58 and the rarest digit's share 0.004 to 0.031: the generators cover every digit,
# but unevenly, a mild form of mode collapse that longer training and larger networks reduce.
# Samples recognised less confidently are mostly blends of two digits, which a classifier rightly
# doubts.

# %% markdown
# ## 9. Making a model smaller
#
# A trained network is deployed on phones, in browsers, on microcontrollers, where memory,
# bandwidth and energy are scarce. Three standard ways to shrink it:
#
# - **quantisation**: store each weight in 8 (or 4) bits instead of 32;
# - **pruning**: set the weights that matter least to zero and store only the rest;
# - **knowledge distillation**: train a small network to imitate the big one.
#
# ### Quantisation
#
# *Symmetric* per-tensor quantisation to $b$ bits maps the range $[-m, m]$, with
# $m = \max_i |x_i|$, onto the integers $-q_\max, \dots, q_\max$ with $q_\max = 2^{b-1} - 1$
# (127 for 8 bits):
#
# $$ s = \frac{m}{q_\max}, \qquad q_i = \operatorname{round}(x_i / s) \in \{-q_\max, \dots, q_\max\}, \qquad
#    \hat x_i = s\, q_i . $$
#
# Zero maps to exactly 0, and every value is within half a step of its reconstruction:
# $|x_i - \hat x_i| \le s / 2$. (The integer $-2^{b-1}$, e.g. -128, is left unused, so the range
# stays symmetric; *affine* quantisation, with a zero point, would use it for tensors that are not
# centred on 0.)
#
# ### Exercise 9: `quantize`
#
# Return the integer codes (an integer dtype, e.g. `torch.int32`) and the scale. A tensor of
# zeros has $m = 0$: return codes 0 and a scale of 1 rather than dividing by zero.

# %% solution id=quantize
def quantize(x: torch.Tensor, n_bits: int) -> tuple[torch.Tensor, float]:
    """Symmetric per-tensor quantisation to signed n_bits integers.

    Inputs:
        x: float tensor of any shape.
        n_bits: 2 to 16.
    Returns:
        q: integer tensor with the shape of x, entries in [-(2^(n_bits-1) - 1), 2^(n_bits-1) - 1],
           q = round(x / scale).
        scale: float, max|x| / (2^(n_bits-1) - 1), or 1.0 when x is all zeros.
    """
    ### BEGIN SOLUTION
    q_max = 2 ** (n_bits - 1) - 1
    m = x.abs().max().item()
    scale = m / q_max if m > 0 else 1.0
    q = torch.round(x / scale).clamp(-q_max, q_max).to(torch.int32)
    return q, scale
    ### END SOLUTION


# %% tests id=test_quantize points=2
_q, _s = quantize(torch.tensor([-1.0, -0.5, 0.0, 0.25, 1.0], dtype=torch.float64), 3)
check_close("scale for max |x| = 1 and 3 bits", _s, 1 / 3, hint="3 bits: q_max = 2^2 - 1 = 3, scale = 1 / 3")
check_true(not torch.is_floating_point(torch.as_tensor(_q)), f"quantize returned codes of dtype {torch.as_tensor(_q).dtype}; use an integer dtype")
check_equal("codes of [-1, -0.5, 0, 0.25, 1] with 3 bits", torch.as_tensor(_q).tolist(), [-3, -2, 0, 1, 3],
            hint="round(x / scale): -0.5 * 3 = -1.5 rounds to -2 (PyTorch rounds halves to even), 0.25 * 3 = 0.75 to 1")
print("quantize: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(66)
for _bits in (2, 4, 8, 12):
    for _shape in [(7,), (16, 9), (3, 4, 5)]:
        _x = torch.tensor(_rng.standard_normal(_shape) * 2.5, dtype=torch.float64)
        _q, _s = quantize(_x, _bits)
        _q = torch.as_tensor(_q)
        _qmax = 2 ** (_bits - 1) - 1
        check_true(not torch.is_floating_point(_q), f"quantize({_bits} bits): codes must have an integer dtype")
        check_shape(f"quantize codes for shape {_shape}", _q, _shape)
        check_close(f"scale for {_bits} bits", float(_s), _x.abs().max().item() / _qmax, rtol=1e-12)
        check_true(int(_q.max()) <= _qmax and int(_q.min()) >= -_qmax, f"{_bits} bits: codes outside [-{_qmax}, {_qmax}]")
        _err = (_x - _q.double() * float(_s)).abs().max().item()
        check_true(_err <= float(_s) / 2 * (1 + 1e-9), f"{_bits} bits, shape {_shape}: error {_err:.3g} exceeds half a step {float(_s) / 2:.3g}",
                   hint="clip symmetrically to [-q_max, q_max] with q_max = 2^(b-1) - 1, and scale by max|x| / q_max")
_x = torch.tensor([-0.5, 4.0, 1.0], dtype=torch.float64)  # the largest entry is positive: it must map to +q_max exactly
_q, _s = quantize(_x, 8)
check_equal("codes of [-0.5, 4, 1] with 8 bits", torch.as_tensor(_q).tolist(), [-16, 127, 32])
_x = torch.tensor([-4.0, 0.5], dtype=torch.float64)
check_equal("codes of [-4, 0.5] with 8 bits", torch.as_tensor(quantize(_x, 8)[0]).tolist(), [-127, 16])
_q, _s = quantize(torch.zeros(3, 2, dtype=torch.float64), 8)
check_equal("codes of zeros", torch.as_tensor(_q).tolist(), [[0, 0]] * 3)
check_true(np.isfinite(float(_s)) and float(_s) > 0, f"scale for all-zero x is {_s}; return 1.0")
### END HIDDEN TESTS

# %% markdown
# ### Exercise 10: `dequantize`
#
# Back to floats: $\hat x = s\, q$, in the default float dtype.

# %% solution id=dequantize
def dequantize(q: torch.Tensor, scale: float) -> torch.Tensor:
    """Floats from integer codes.

    Inputs:
        q: integer tensor of any shape.
        scale: float.
    Returns:
        x_hat: float tensor (the default dtype) with the shape of q, x_hat = scale * q.
    """
    ### BEGIN SOLUTION
    return q.to(torch.get_default_dtype()) * scale
    ### END SOLUTION


# %% tests id=test_dequantize points=1
_xh = dequantize(torch.tensor([-3, 0, 2], dtype=torch.int32), 0.5)
check_true(torch.is_floating_point(torch.as_tensor(_xh)), "dequantize must return floats", hint="q.float() * scale")
check_close("dequantize([-3, 0, 2], 0.5)", _xh, [-1.5, 0.0, 1.0])
print("dequantize: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(67)
for _shape, _scale in [((5,), 0.25), ((4, 6), 1 / 127), ((2, 3, 2), 3.0)]:
    _q = torch.tensor(_rng.integers(-127, 128, _shape), dtype=torch.int32)
    _xh = dequantize(_q, _scale)
    check_shape(f"dequantize on shape {_shape}", _xh, _shape)
    check_close(f"dequantize on shape {_shape}, scale {_scale:.4g}", torch.as_tensor(_xh).double(), _q.double() * _scale, rtol=1e-6)
### END HIDDEN TESTS

# %% markdown
# ### Pruning
#
# Magnitude pruning removes the weights with the smallest absolute values, on the bet that they
# matter least. **Global** pruning ranks all weight matrices together, so layers with many small
# weights lose more of them than layers where every weight counts; *per-layer* pruning removes the
# same fraction from every layer. Biases are few and are left alone.
#
# ### Exercise 11: `magnitude_prune`
#
# Return a mask per weight matrix: 1 where a weight is kept, 0 where it is pruned, such that
# exactly `round(amount * n)` of the `n` weights (all matrices together) are pruned, and those are
# the smallest in absolute value. Do not change the model. Hint: concatenate the flattened
# absolute values, and find the threshold with `torch.kthvalue` or `torch.topk`, or sort.

# %% solution id=magnitude_prune
def magnitude_prune(model: nn.Module, amount: float) -> dict[str, torch.Tensor]:
    """Global magnitude pruning masks; the model is left unchanged.

    Inputs:
        model: any nn.Module; its weight matrices are the parameters whose name ends in "weight"
            and that have at least 2 dimensions (Linear and Conv weights).
        amount: fraction in [0, 1] of those weights, counted over all of them together, to prune.
    Returns:
        masks: {parameter name: float tensor of 0s and 1s with that parameter's shape}, one entry per
            weight matrix; exactly round(amount * total) zeros in all, at the smallest |w|.
    """
    ### BEGIN SOLUTION
    weights = {n: p.detach() for n, p in model.named_parameters() if n.endswith("weight") and p.dim() >= 2}
    scores = torch.cat([w.abs().flatten() for w in weights.values()])
    k = round(amount * scores.numel())
    keep = torch.ones_like(scores)
    if k > 0:
        keep[torch.topk(scores, k, largest=False).indices] = 0.0
    masks, start = {}, 0
    for n, w in weights.items():
        masks[n] = keep[start:start + w.numel()].reshape(w.shape)
        start += w.numel()
    return masks
    ### END SOLUTION


# %% tests id=test_magnitude_prune points=2
_m = nn.Linear(3, 2, bias=True)
_m.load_state_dict({"weight": torch.tensor([[0.1, -2.0, 0.3], [-0.05, 1.0, -0.4]]), "bias": torch.tensor([0.0, 0.0])})
_masks = magnitude_prune(_m, 0.5)
check_equal("masks' keys for nn.Linear(3, 2)", sorted(_masks), ["weight"], hint="weight matrices only (name ends in 'weight', 2 or more dimensions)")
check_equal("mask of [[0.1, -2, 0.3], [-0.05, 1, -0.4]] at 50%", torch.as_tensor(_masks["weight"]).tolist(), [[0, 1, 0], [0, 1, 1]],
            hint="prune the 3 weights with the smallest |w|: 0.1, 0.3 and -0.05")
check_close("the model is unchanged", _m.weight.detach(), [[0.1, -2.0, 0.3], [-0.05, 1.0, -0.4]])
print("magnitude_prune: visible tests passed")
### BEGIN HIDDEN TESTS
import torch.nn.utils.prune as _prune

torch.manual_seed(3)
_one = nn.Linear(20, 15)
for _amount in (0.0, 0.3, 0.5, 0.9, 1.0):
    _ref = copy.deepcopy(_one)
    _prune.l1_unstructured(_ref, "weight", amount=_amount)
    check_equal(f"one layer at amount {_amount} vs torch.nn.utils.prune.l1_unstructured",
                torch.as_tensor(magnitude_prune(_one, _amount)["weight"]).to(torch.int64).tolist(), _ref.weight_mask.to(torch.int64).tolist())
torch.manual_seed(4)
_net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 30), nn.ReLU(), nn.Linear(30, 10))
with torch.no_grad():  # very different scales per layer: per-layer and global pruning disagree
    _net[3].weight.mul_(0.05)
    _net[5].weight.mul_(5.0)
_before = {k: v.clone() for k, v in _net.state_dict().items()}
for _amount in (0.2, 0.55, 0.8):
    _masks = magnitude_prune(_net, _amount)
    check_equal("masks' keys", sorted(_masks), ["0.weight", "3.weight", "5.weight"])
    _ref = copy.deepcopy(_net)
    _params = [(_ref[0], "weight"), (_ref[3], "weight"), (_ref[5], "weight")]
    _prune.global_unstructured(_params, pruning_method=_prune.L1Unstructured, amount=_amount)
    for _name, _layer in [("0.weight", _ref[0]), ("3.weight", _ref[3]), ("5.weight", _ref[5])]:
        check_equal(f"mask of {_name} at amount {_amount} vs prune.global_unstructured",
                    torch.as_tensor(_masks[_name]).to(torch.int64).tolist(), _layer.weight_mask.to(torch.int64).tolist(),
                    hint="rank the weights of all layers together (global), not layer by layer")
    _total = sum(torch.as_tensor(m).numel() for m in _masks.values())
    _zeros = sum(int((torch.as_tensor(m) == 0).sum()) for m in _masks.values())
    check_equal(f"number pruned at amount {_amount}", _zeros, round(_amount * _total))
for _k, _v in _net.state_dict().items():
    check_true(torch.equal(_v, _before[_k]), f"magnitude_prune changed {_k}; return masks and leave the model as it is")
### END HIDDEN TESTS

# %% markdown
# ### Knowledge distillation
#
# A big network's output probabilities carry more than its labels: that a 7 looks a little like
# a 1 and not at all like a 0. Distillation (Hinton, Vinyals and Dean, 2015) trains a small
# *student* to match the *teacher's* probabilities, softened by a temperature $T > 1$ so that the
# small ones become visible:
#
# $$ L = \alpha\, T^2\, \mathrm{KL}\big(\operatorname{softmax}(t / T)\,\|\,\operatorname{softmax}(s / T)\big)
#      + (1 - \alpha)\, \mathrm{CE}(s, y), $$
#
# with $s$ and $t$ the student's and teacher's logits, the KL averaged over the batch. Why $T^2$?
# The gradient of the softened term with respect to $s$ scales like $1/T^2$; multiplying by $T^2$
# keeps the two terms balanced whatever temperature you choose.
#
# ### Exercise 12: `distillation_loss`
#
# Hint: $\mathrm{KL}(p\,\|\,q) = \sum_k p_k (\log p_k - \log q_k)$; use `F.log_softmax` for both
# logarithms. The teacher's logits are fixed targets (no gradient needs to reach them).

# %% solution id=distillation_loss
def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, y: torch.Tensor, T: float, alpha: float) -> torch.Tensor:
    """Hinton's distillation loss.

    Inputs:
        student_logits: (N, K).
        teacher_logits: (N, K).
        y: (N,) int64 labels.
        T: temperature > 0.
        alpha: weight of the soft term, in [0, 1].
    Returns:
        loss: scalar, alpha * T^2 * mean_n KL(softmax(t_n / T) || softmax(s_n / T)) + (1 - alpha) * CE(s, y).
    """
    ### BEGIN SOLUTION
    log_p_teacher = F.log_softmax(teacher_logits.detach() / T, dim=1)
    log_p_student = F.log_softmax(student_logits / T, dim=1)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=1).mean()
    return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(student_logits, y)
    ### END SOLUTION


# %% tests id=test_distillation_loss points=2
_s = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
_y = torch.tensor([0, 1])
check_close("distillation_loss with the teacher equal to the student, alpha = 1", distillation_loss(_s, _s.clone(), _y, 3.0, 1.0), 0.0, atol=1e-12,
            hint="KL of a distribution with itself is 0")
check_close("distillation_loss with alpha = 0 is the cross-entropy", distillation_loss(_s, -_s, _y, 3.0, 0.0), F.cross_entropy(_s, _y))
_t = torch.tensor([[0.0, 3.0], [1.0, 1.0]], dtype=torch.float64)
_kl = F.kl_div(F.log_softmax(_s / 2, dim=1), F.log_softmax(_t / 2, dim=1), reduction="batchmean", log_target=True)
check_close("distillation_loss(s, t, y, T=2, alpha=1)", distillation_loss(_s, _t, _y, 2.0, 1.0), 4 * _kl,
            hint="KL(teacher || student) at temperature T, averaged over the batch, times T^2 = 4")
print("distillation_loss: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(68)
for _n, _k, _T, _a in [(1, 3, 1.0, 0.5), (8, 10, 4.0, 0.9), (5, 7, 2.5, 0.3), (16, 10, 8.0, 1.0)]:
    _s = torch.tensor(_rng.standard_normal((_n, _k)) * 3, dtype=torch.float64)
    _t = torch.tensor(_rng.standard_normal((_n, _k)) * 3, dtype=torch.float64)
    _y = torch.tensor(_rng.integers(0, _k, _n))
    _ref = _a * _T ** 2 * F.kl_div(F.log_softmax(_s / _T, dim=1), F.softmax(_t / _T, dim=1), reduction="batchmean") + (1 - _a) * F.cross_entropy(_s, _y)
    check_close(f"distillation_loss(N={_n}, K={_k}, T={_T}, alpha={_a}) vs a reference from F.kl_div", distillation_loss(_s, _t, _y, _T, _a), _ref,
                hint="multiply the soft term by T^2")
### END HIDDEN TESTS

# %% markdown
# ### The trade-off, measured
#
# The digits classifier of section 5, made smaller each way: its weight matrices quantised to 8
# and to 4 bits (biases stay in float32), pruned globally by 50%, 80% and 90% (no retraining, and
# 80% followed by a short fine-tuning), and
# a student of 64-32-10 (about a seventh of the size) trained with distillation from it
# (T = 4, alpha = 0.9) next to the same student trained on the labels alone. Sizes count 4 bytes a
# float, n_bits/8 bytes a code, 4 bytes a scale; pruned sizes count the remaining weights only (a
# sparse format adds their positions). Accuracies are on the validation set.

# %% code tags=slow
def weight_names(model: nn.Module) -> list[str]:
    return [n for n, p in model.named_parameters() if n.endswith("weight") and p.dim() >= 2]


def quantized_copy(model: nn.Module, n_bits: int) -> tuple[nn.Module, float]:
    """A copy whose weight matrices went through quantize and dequantize; and its size in bytes."""
    out = copy.deepcopy(model)
    state, size = out.state_dict(), 0.0
    for name, value in state.items():
        if name in weight_names(model):
            q, scale = quantize(value.cpu(), n_bits)
            state[name] = dequantize(q, scale).to(value.device)
            size += value.numel() * n_bits / 8 + 4
        else:
            size += 4 * value.numel()
    out.load_state_dict(state)
    return out, size


def pruned_copy(model: nn.Module, amount: float, finetune_epochs: int = 0) -> tuple[nn.Module, float]:
    """A copy with magnitude_prune's masks applied (then fine-tuned with the masks held fixed);
    and the bytes of its nonzero weights and biases."""
    out = copy.deepcopy(model)
    masks = {k: torch.as_tensor(m, dtype=torch.float32).to(device) for k, m in magnitude_prune(out, amount).items()}
    state = out.state_dict()
    for name, mask in masks.items():
        state[name] = state[name] * mask
    out.load_state_dict(state)
    if finetune_epochs:
        params = dict(out.named_parameters())
        hooks = [params[name].register_hook(lambda g, m=mask: g * m) for name, mask in masks.items()]  # pruned weights get no gradient
        fit(out, X_train, y_train, epochs=finetune_epochs, lr=2e-3, batch_size=64)
        for h in hooks:
            h.remove()
        state = out.state_dict()
    return out, 4.0 * sum(int((v != 0).sum()) if k in masks else v.numel() for k, v in state.items())


with torch.no_grad():
    _teacher_logits = classifier(X_train)


def _distill(logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    return distillation_loss(logits, _teacher_logits[idx], y, T=4.0, alpha=0.9)


compression = [("float32 classifier", classifier, 4.0 * n_params(classifier))]
for _bits in (8, 4):
    compression.append((f"weights in {_bits} bits", *quantized_copy(classifier, _bits)))
for _amount in (0.5, 0.8, 0.9):
    compression.append((f"pruned {int(_amount * 100)}%", *pruned_copy(classifier, _amount)))
compression.append(("pruned 80%, fine-tuned 10 epochs", *pruned_copy(classifier, 0.8, finetune_epochs=10)))
torch.manual_seed(1)
student_alone = mlp([64, 32, 10])
fit(student_alone, X_train, y_train, epochs=40, lr=3e-3, batch_size=64)
torch.manual_seed(1)
student_distilled = mlp([64, 32, 10])
fit(student_distilled, X_train, y_train, epochs=40, lr=3e-3, batch_size=64, loss_fn=_distill)
compression += [("student 64-32-10, labels only", student_alone, 4.0 * n_params(student_alone)),
                ("student 64-32-10, distilled", student_distilled, 4.0 * n_params(student_distilled))]
compression_table = {name: (size / 1024, evaluate(model, X_val, y_val)[1]) for name, model, size in compression}
print(f"{'model':<32}{'size (KiB)':>12}{'val accuracy':>14}")
for _name, (_kib, _acc) in compression_table.items():
    print(f"{_name:<32}{_kib:>12.4g}{_acc:>14.4f}")

# %% markdown
# Eight bits cost nothing measurable at a quarter of the size, and even four bits, an eighth,
# cost little here. Pruning half the weights without retraining costs about a point; at 80% and
# 90% the accuracy falls steeply, and ten epochs of fine-tuning with the mask held fixed (the pruned weights
# get no gradient, so Adam leaves them at zero) win most of it back. The small
# students are the smallest models of all; on the 8x8 digits, where 64-32-10 is already enough,
# distillation does not help: over three seeds (`benchmarks/m6_seeds.py`) the distilled student
# averaged 0.964 and the one trained on labels alone 0.970. Distillation pays when the student is
# too small to learn the task well from the labels, and the teacher's soft targets carry what
# the labels cannot.
#
# ## 10. Which pixels did it look at? Saliency maps
#
# For an input $x$ and a class $c$, the gradient $\partial \text{logit}_c / \partial x$ says how
# much each pixel, nudged, would change the class's score. Its absolute value, drawn as an image,
# is a *saliency map* (Simonyan et al., 2014): a first, rough answer to "why this prediction?".
# Use the logit rather than the probability: the softmax couples all classes and saturates when
# the network is confident.
#
# ### Exercise 13: `saliency_map`
#
# Make a copy of `x` that requires gradients, compute the logits, select each row's target
# logit, and take the gradient with `torch.autograd.grad` (or `.backward()` on their sum: the rows
# do not interact). Return its absolute value, detached.

# %% solution id=saliency_map
def saliency_map(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Absolute input gradient of each example's target logit.

    Inputs:
        model: maps (N, D) to logits (N, K); already in eval mode.
        x: (N, D) inputs.
        target: (N,) int64 class for each example.
    Returns:
        saliency: (N, D), saliency[n, d] = |d logits[n, target[n]] / d x[n, d]|, detached.
    """
    ### BEGIN SOLUTION
    x = x.detach().clone().requires_grad_(True)
    logits = model(x)
    chosen = logits.gather(1, target.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(chosen, x)
    return grad.abs()
    ### END SOLUTION


# %% tests id=test_saliency_map points=2
_lin = nn.Linear(3, 2).double()
_lin.load_state_dict({"weight": torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]], dtype=torch.float64), "bias": torch.zeros(2, dtype=torch.float64)})
_sal = saliency_map(_lin, torch.ones(2, 3, dtype=torch.float64), torch.tensor([0, 1]))
check_shape("saliency_map for 2 inputs of 3 features", _sal, (2, 3))
check_close("saliency_map of a linear model", _sal, [[1.0, 2.0, 0.5], [0.0, 3.0, 1.0]],
            hint="for logits = W x, the gradient of logit c is row c of W; then the absolute value")
print("saliency_map: visible tests passed")
### BEGIN HIDDEN TESTS
torch.manual_seed(8)
_net = nn.Sequential(nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 4)).double().eval()
for _n in (1, 5):
    _x = torch.randn(_n, 6, dtype=torch.float64)
    _t = torch.randint(0, 4, (_n,))
    _expected = torch.stack([torch.autograd.functional.jacobian(lambda v: _net(v[None])[0, int(_t[i])], _x[i]) for i in range(_n)]).abs()
    _x_before = _x.clone()
    _sal = saliency_map(_net, _x, _t)
    check_close(f"saliency_map for {_n} inputs vs autograd's Jacobian", torch.as_tensor(_sal).detach(), _expected,
                hint="the gradient of the target logit (not of the loss or the probability), one row per example, absolute value")
    check_true(torch.equal(_x, _x_before), "saliency_map changed its input x")
### END HIDDEN TESTS

# %% code tags=demo
try:
    _idx = torch.tensor([_first[c] for c in range(10)], device=device)
    _sal = saliency_map(classifier, X_val[_idx], y_val[_idx]).cpu().numpy()
except (NotImplementedError, NameError):
    print("implement saliency_map above (and train the classifier) to see this")
else:
    fig, axes = plt.subplots(2, 10, figsize=(12, 2.9))
    for k in range(10):
        axes[0, k].imshow(X_val[_idx[k]].cpu().numpy().reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[1, k].imshow(_sal[k].reshape(8, 8), cmap="magma")
        axes[0, k].set_title(f"digit {k}", fontsize=9)
        for ax in axes[:, k]:
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
    axes[0, 0].set_ylabel("input")
    axes[1, 0].set_ylabel("saliency")
    fig.suptitle("Validation digits and |d logit(true class) / d pixel| (bright: the score is sensitive to that pixel)")
    fig.tight_layout()
    plt.show()

# %% markdown
# The bright pixels are where a stroke would turn this digit into another (the gap of an open
# 4, the middle of a 0). Saliency is cheap and often noisy; refinements average it over noisy
# copies of the input (SmoothGrad) or integrate it along a path from a blank image (Integrated
# Gradients).
#
# ## 11. Data-parallel training on two processes
#
# When one processor is too slow, split every batch: each of $W$ *workers* holds a full copy of
# the model, computes the gradient on its share of the batch, and the workers *average* their
# gradients before every one takes the same step. With equal shares, the average of the
# per-share mean gradients is exactly the mean gradient of the whole batch, so the $W$ copies stay
# identical and follow the very trajectory of one process on the whole batch. Summing instead of
# averaging would multiply the learning rate by $W$.
#
# PyTorch's `torch.distributed` provides the communication: `dist.all_gather` hands every worker
# every other worker's tensor, and `dist.all_reduce` sums a tensor across workers in place
# (`DistributedDataParallel` divides by $W$ after it). The *gloo* backend runs on CPUs over TCP;
# *NCCL* is the GPU one.
#
# ### Exercise 14: `average_gradients`
#
# The workers gather each other's gradients into a list per worker and call your function; it
# returns the averaged gradient of each parameter. Write it with `torch` only: the worker
# processes run a copy of your function's source text, without the rest of the notebook.

# %% solution id=average_gradients
def average_gradients(grads_per_worker: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """Average the gradients of W workers, parameter by parameter.

    Inputs:
        grads_per_worker: W lists (one per worker), each holding P tensors: the gradients of the
            model's P parameters, in the same order and with the same shapes in every list.
    Returns:
        grads: P tensors, grads[i] = (1/W) * sum over workers w of grads_per_worker[w][i].
    """
    ### BEGIN SOLUTION
    n_workers = len(grads_per_worker)
    return [torch.stack(per_param).sum(dim=0) / n_workers for per_param in zip(*grads_per_worker)]
    ### END SOLUTION


# %% tests id=test_average_gradients points=2
_g = average_gradients([[torch.tensor([1.0, 2.0]), torch.tensor([[4.0]])], [torch.tensor([3.0, -2.0]), torch.tensor([[0.0]])]])
check_true(len(_g) == 2, f"average_gradients returned {len(_g)} tensors for 2 parameters", hint="one averaged tensor per parameter")
check_close("averaged gradient of parameter 0", _g[0], [2.0, 0.0], hint="(1 + 3) / 2 and (2 - 2) / 2: divide the sum by the number of workers")
check_close("averaged gradient of parameter 1", _g[1], [[2.0]])
print("average_gradients: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(69)
for _w in (1, 2, 3, 8):
    _shapes = [(5, 3), (3,), (2, 2, 2)]
    _grads = [[torch.tensor(_rng.standard_normal(s), dtype=torch.float64) for s in _shapes] for _ in range(_w)]
    _avg = average_gradients(_grads)
    check_true(len(_avg) == len(_shapes), f"{_w} workers: got {len(_avg)} tensors for {len(_shapes)} parameters")
    for _i, _s in enumerate(_shapes):
        check_close(f"{_w} workers, parameter {_i}", torch.as_tensor(_avg[_i]), sum(g[_i] for g in _grads) / _w)
### END HIDDEN TESTS

# %% markdown
# ### The real thing: two processes
#
# The cell below starts two worker processes with `course_utils.distributed.train_data_parallel`
# (read it: about 60 lines). Both build the network 64-32-10 from the same initial weights (in
# float64), take 30 SGD steps on batches of 64 training digits, each computing the gradient on its
# own 32 images, and use your `average_gradients` on the gathered gradients. They meet on a free
# port of the machine's loopback interface and pass a barrier before shutting down. Then one
# process trains the same network on the whole batches, and we compare.

# %% code tags=slow
DP_SIZES, DP_STEPS, DP_LR, DP_BATCH = [64, 32, 10], 30, 0.5, 64
torch.manual_seed(0)
dp_initial = make_mlp(DP_SIZES).state_dict()
X_train64, y_train_cpu = X_train.double().cpu(), y_train.cpu()
dp_workers = train_data_parallel(inspect.getsource(average_gradients), DP_SIZES, dp_initial, X_train64, y_train_cpu,
                                 steps=DP_STEPS, lr=DP_LR, batch_size=DP_BATCH, world_size=2, timeout=60)
_single = sgd_reference(DP_SIZES, dp_initial, X_train64, y_train_cpu, DP_STEPS, DP_LR, DP_BATCH)
dp_gap_workers = max((dp_workers[0][k] - dp_workers[1][k]).abs().max().item() for k in _single)
dp_gap_single = max((dp_workers[0][k] - _single[k]).abs().max().item() for k in _single)
dp_moved = max((dp_initial[k] - _single[k]).abs().max().item() for k in _single)
print(f"after {DP_STEPS} steps: parameters moved by up to {dp_moved:.3g}; "
      f"worker 0 vs worker 1: max difference {dp_gap_workers:.1e}; workers vs one process: {dp_gap_single:.1e}")

# %% tests id=test_data_parallel points=1 tags=slow
_single = sgd_reference(DP_SIZES, dp_initial, X_train64, y_train_cpu, DP_STEPS, DP_LR, DP_BATCH)
for _k in _single:
    check_close(f"worker 0's {_k} vs one process on the whole batch", dp_workers[0][_k], _single[_k], rtol=1e-9, atol=1e-11,
                hint="average the gradients (divide by the number of workers), do not sum them")
    check_close(f"worker 1's {_k} vs worker 0's", dp_workers[1][_k], dp_workers[0][_k], rtol=1e-9, atol=1e-11)
print("data-parallel training matches one process on the whole batch")

# %% markdown
# The differences are at the level of float64 rounding (summing in another order). On a real
# cluster the same code runs with `backend="nccl"` on GPUs across machines; the only change is
# how the processes find each other.
#
# ## 12. Exporting a model
#
# A model trained in a notebook is Python objects. To serve it elsewhere (a server without the
# training code, a phone), export the *computation* itself. `torch.export.export(model, (x,))`
# runs the model once on an example input, records every operation into a graph (an
# `ExportedProgram`), and checks that nothing in it depends on Python control flow it could not
# capture. `torch.export.save` writes it to a `.pt2` file, `torch.export.load` reads it back, and
# `.module()` makes it callable again, with no trace of the class that defined it.
#
# Shapes are recorded too: by default the program only accepts a batch of exactly the example's
# size. Declare the batch dimension dynamic,
# `dynamic_shapes=({0: torch.export.Dim("batch")},)` (one dictionary per input: axis 0 may vary),
# and use an example batch of at least 2 (sizes 0 and 1 are special-cased by the tracer).
#
# ### Exercise 15: `export_model`

# %% solution id=export_model
def export_model(model: nn.Module, example: torch.Tensor, path: str) -> None:
    """Export model with torch.export, with a dynamic batch dimension, and save it to path.

    Inputs:
        model: an nn.Module in eval mode taking one tensor input (N, ...).
        example: an example input (N, ...) with N >= 2.
        path: file to write (".pt2").
    Returns:
        None. torch.export.load(path).module() must then accept any batch size N >= 1 and agree
        with model.
    """
    ### BEGIN SOLUTION
    program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, path)
    ### END SOLUTION


# %% tests id=test_export_model points=2
torch.manual_seed(9)
_net = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10)).eval()
with tempfile.TemporaryDirectory() as _tmp:
    os.chmod(_tmp, 0o1777)  # a grader may run export_model as another user, beside this test
    _path = os.path.join(_tmp, "net.pt2")
    export_model(_net, torch.rand(4, 64), _path)
    check_true(os.path.exists(_path), "export_model did not write the file", hint="torch.export.save(program, path)")
    _loaded = torch.export.load(_path).module()
    _x = torch.rand(4, 64)
    check_close("exported model vs eager model on a batch of 4", _loaded(_x).detach(), _net(_x).detach(), rtol=1e-5, atol=1e-6)
print("export_model: visible tests passed")
### BEGIN HIDDEN TESTS
torch.manual_seed(10)
_net = nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 3)).eval()
with tempfile.TemporaryDirectory() as _tmp:
    os.chmod(_tmp, 0o1777)
    _path = os.path.join(_tmp, "model.pt2")
    export_model(_net, torch.rand(5, 12), _path)
    _loaded = torch.export.load(_path).module()
    for _n in (1, 5, 37):
        _x = torch.rand(_n, 12)
        try:
            _out = _loaded(_x)
        except Exception as _exc:  # a static batch size fails here
            raise AssertionError(f"the exported program rejects a batch of {_n}: {type(_exc).__name__}. "
                                 "Declare the batch dimension dynamic (torch.export.Dim)") from None
        check_close(f"exported model vs eager model on a batch of {_n}", _out.detach(), _net(_x).detach(), rtol=1e-5, atol=1e-6)
### END HIDDEN TESTS

# %% markdown
# ## 13. The test set, once
#
# Everything above was chosen on the validation set. Now the digits classifier, its 8-bit
# version and the exported-and-reloaded program meet the 450 test images, once.

# %% code tags=slow
_int8, _ = quantized_copy(classifier, 8)
with tempfile.TemporaryDirectory() as _tmp:
    _path = os.path.join(_tmp, "classifier.pt2")
    export_model(classifier, X_val[:8], _path)
    exported = torch.export.load(_path).module()
with torch.no_grad():
    _eager_logits, _exported_logits = classifier(X_test), exported(X_test)
export_gap = (_eager_logits - _exported_logits).abs().max().item()
export_same_predictions = bool((_eager_logits.argmax(1) == _exported_logits.argmax(1)).all())
print(f"test accuracy: float32 {evaluate(classifier, X_test, y_test)[1]:.4f} | 8-bit weights {evaluate(_int8, X_test, y_test)[1]:.4f} | "
      f"exported {(_exported_logits.argmax(1) == y_test).float().mean().item():.4f}")
print(f"exported vs eager on the test set: same predictions: {export_same_predictions}, max logit difference {export_gap:.1e}")

# %% markdown
# **The same check in another runtime.** ONNX is a file format for computation graphs that many
# runtimes read: ONNX Runtime on servers and phones, TensorRT on NVIDIA GPUs, runtimes in web
# browsers. `torch.onnx.export(model, (x,), "model.onnx", dynamo=True)` starts from the same
# `torch.export` capture and translates each operation into an ONNX operator (with the `onnx` and
# `onnxscript` packages); ONNX Runtime then runs the file with no PyTorch at all. The check is the
# one above: the same predictions on the test images, and logits that differ only by float32
# rounding (the two runtimes add in different orders).

# %% code tags=slow
import logging
import warnings

import onnxruntime as ort

logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # it would list torchvision's operators as missing
with tempfile.TemporaryDirectory() as _tmp, warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _path = os.path.join(_tmp, "classifier.onnx")
    torch.onnx.export(copy.deepcopy(classifier).cpu(), (X_val[:8].cpu(),), _path, dynamo=True, verbose=False,
                      dynamic_shapes=({0: torch.export.Dim("batch")},))
    _session = ort.InferenceSession(_path, providers=["CPUExecutionProvider"])
    _onnx_logits = torch.from_numpy(_session.run(None, {_session.get_inputs()[0].name: X_test.cpu().numpy()})[0])
onnx_gap = (_eager_logits.cpu() - _onnx_logits).abs().max().item()
onnx_same_predictions = bool((_eager_logits.argmax(1).cpu() == _onnx_logits.argmax(1)).all())
print(f"ONNX Runtime on the test set: accuracy {(_onnx_logits.argmax(1) == y_test.cpu()).float().mean().item():.4f}, "
      f"same predictions as the eager model: {onnx_same_predictions}, logits within 1e-4: {onnx_gap < 1e-4}")
check_true(onnx_same_predictions and onnx_gap < 1e-4, f"ONNX Runtime disagrees with the eager model (max logit difference {onnx_gap:.1e})")

# %% markdown
# ## Summary
#
# - Training and validation curves tell underfitting (both high) from overfitting (a growing gap).
# - L2 penalties and weight decay coincide under SGD, not under Adam (use AdamW); L1 gives
#   sparsity; dropout and label smoothing regularise too; more data beats them all.
# - Autoencoders compress, denoise and score anomalies by their reconstruction error; a VAE's KL
#   term makes its latent space a place to sample and walk in.
# - A GAN's generator learns from a discriminator; the non-saturating loss keeps its gradients
#   alive. Judge generators by numbers.
# - Quantisation, pruning and distillation shrink a model at a measured cost in accuracy.
# - Saliency maps show which inputs a prediction is sensitive to.
# - Data-parallel training averages gradients across workers and matches one big batch.
# - `torch.export` turns a model into a file that runs without its Python code; ONNX takes it
#   to other runtimes, checked the same way.
