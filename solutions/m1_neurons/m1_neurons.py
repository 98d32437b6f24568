# %% markdown
# # Module 1: neurons, perceptrons and multilayer networks
#
# In this notebook you build the smallest pieces of deep learning yourself, in NumPy: one neuron,
# the usual activation functions and their slopes, the perceptron and its learning rule, a
# multilayer network's forward pass, the standard loss functions and weight initialisation. At the
# end you train a network with two hidden units to compute XOR, the function a single neuron cannot.
#
# **How this notebook works.** Run the cells from top to bottom. Each exercise is a function with
# its signature and docstring already written; replace the line `raise NotImplementedError()` with
# your code. The cell after it tests your answer: it prints a line when it passes and otherwise
# says what it expected, what it got, and gives a hint. Those are the visible tests; the grader
# also runs hidden ones on other shapes and values, so make your code work for any input the
# docstring allows, not just the example. Cells marked as demos draw pictures and widgets; some of
# them call your functions, so they work once you have done the exercise above them.

# %% code
import course_utils  # the student notebook installs it here first where it is missing (course-grader release)
from typing import Callable

import numpy as np
import matplotlib.pyplot as plt
from course_utils import check_close, check_equal, check_shape, check_true, setup
from course_utils.checks import from_scratch
from course_utils.plotting import style
style()
device = setup(seed=0)

# %% markdown
# ## 1. What deep learning is
#
# Much of the data people keep is **structured**: tables whose columns already mean something
# (age, income, number of visits). Classic machine learning works well there, because someone has
# already chosen the features. Images, sound and text are **unstructured**: a photo is a grid of
# brightness values, a sentence is a sequence of symbols, and no single pixel or letter says much on
# its own. What matters is patterns of many values together: edges, shapes, words, meaning.
#
# **Deep learning** learns those patterns from examples. A deep network is a stack of simple layers;
# each layer turns its input into a slightly more useful description of it, and the layers are tuned
# together, from data, to make the final description good for the task. Nobody writes an edge
# detector or a grammar by hand; the network finds what it needs.
#
# Two things made this work in practice. **Scale**: large labelled data sets and fast parallel
# hardware (GPUs), so networks with millions of parameters can be fitted without simply memorising.
# **Depth**: stacking layers lets a network reuse what earlier layers found (strokes become digits,
# letters become words), which is far more economical than one enormous layer. Section 7 makes that
# second point concrete.
#
# Below, unstructured data as the network sees it: handwritten digits are just arrays of numbers.

# %% code tags=demo
from course_utils.data import load_digits_split
from course_utils.plotting import image_grid

digits = load_digits_split()
image_grid(digits.images(digits.X_train[:10]), labels=digits.y_train[:10], title="Ten handwritten digits (8x8 pixels)")
plt.show()
print(f"one image is a vector of {digits.X_train.shape[1]} numbers in [0, 1]; the first one, as an 8x8 grid (x 10, rounded):")
print(np.round(digits.X_train[0].reshape(8, 8) * 10).astype(int))

# %% markdown
# ## 2. The artificial neuron
#
# A neuron takes $D$ inputs $x_1, \dots, x_D$, multiplies each by a **weight** $w_i$, adds a
# **bias** $b$, and passes the sum through an **activation function** $f$:
#
# $$z = \sum_{i=1}^{D} w_i x_i + b = \mathbf{w} \cdot \mathbf{x} + b, \qquad a = f(z).$$
#
# The weights say how much each input matters and in which direction; the bias shifts the point at
# which the neuron starts to respond. $z$ is called the pre-activation and $a$ the activation.
#
# **A worked case.** Take $\mathbf{x} = (1, 2, 3)$, $\mathbf{w} = (0.5, -1, 0.8)$ and $b = 0.2$:
#
# $$z = 0.5 \cdot 1 + (-1) \cdot 2 + 0.8 \cdot 3 + 0.2 = 0.5 - 2 + 2.4 + 0.2 = 1.1 .$$
#
# With the sigmoid activation $\sigma(z) = 1 / (1 + e^{-z})$ the neuron outputs
# $\sigma(1.1) = 1 / (1 + e^{-1.1}) \approx 1 / 1.3329 \approx 0.7503$.
#
# In practice we feed a whole **batch** of $N$ examples at once, one per row of a matrix
# $X$ of shape $(N, D)$. Then all $N$ pre-activations are one matrix-vector product,
# $\mathbf{z} = X \mathbf{w} + b$, of shape $(N,)$.

# %% code tags=demo
def draw_neuron(x, w, b):
    """Draw a neuron: inputs on the left, weighted arrows into a summing node, the output on the right."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ys = np.linspace(1, -1, len(x))
    z = float(np.dot(x, w) + b)
    for xi, wi, yi in zip(x, w, ys):
        ax.annotate("", xy=(2.0, 0), xytext=(0.25, yi), arrowprops=dict(arrowstyle="->", color="#0072B2", lw=1 + 2 * abs(wi)))
        ax.add_patch(plt.Circle((0, yi), 0.22, color="#56B4E9"))
        ax.text(0, yi, f"{xi:g}", ha="center", va="center")
        ax.text(1.0, yi * 0.55 + 0.08, f"w={wi:g}", ha="center", color="#0072B2")
    ax.add_patch(plt.Circle((2.3, 0), 0.32, color="#E69F00"))
    ax.text(2.3, 0, r"$\Sigma$" + "\n" + f"+{b:g}", ha="center", va="center")
    ax.annotate("", xy=(3.6, 0), xytext=(2.65, 0), arrowprops=dict(arrowstyle="->", lw=1.5))
    ax.text(3.1, 0.15, f"z={z:.2f}", ha="center")
    ax.add_patch(plt.Rectangle((3.65, -0.25), 0.7, 0.5, color="#009E73", alpha=0.6))
    ax.text(4.0, 0, "f", ha="center", va="center")
    ax.text(4.5, 0, f"a = f({z:.2f})", va="center")
    ax.set(xlim=(-0.5, 5.8), ylim=(-1.4, 1.4), title="One neuron: weighted sum, bias, activation")
    ax.set_aspect("equal")
    ax.axis("off")


draw_neuron([1, 2, 3], [0.5, -1, 0.8], 0.2)
plt.show()

# %% markdown
# ### Exercise 1: `neuron`
#
# Write one neuron's output for a single input vector or for a batch. The activation is passed in
# as a function, so the same code serves any activation. Hint: `@` (matrix product) handles both
# cases, `(D,) @ (D,)` giving a number and `(N, D) @ (D,)` giving `N` numbers.

# %% solution id=neuron
def neuron(x: np.ndarray, w: np.ndarray, b: float, activation: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """One neuron: activation(x . w + b).

    Inputs:
        x: one input (D,) or a batch of inputs (N, D).
        w: weights (D,).
        b: bias, a number.
        activation: a function applied to the pre-activation z, entry by entry.
    Returns:
        a: a number (0-d) for one input, or (N,) for a batch.
    """
    ### BEGIN SOLUTION
    z = x @ w + b
    return activation(z)
    ### END SOLUTION


# %% tests id=test_neuron points=1
x = np.array([1.0, 2.0, 3.0])
w = np.array([0.5, -1.0, 0.8])
check_close("neuron(x, w, 0.2, identity)", neuron(x, w, 0.2, lambda z: z), 1.1,
            hint="z = w1*x1 + w2*x2 + w3*x3 + b; with the identity activation the output is z itself")
check_close("neuron(x, w, 0.2, np.tanh)", neuron(x, w, 0.2, np.tanh), 0.8004990217606297,
            hint="apply the activation to z = x . w + b")
X = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
check_close("neuron(X, w, 0.2, identity) on a batch", neuron(X, w, 0.2, lambda z: z), [1.1, 0.2],
            hint="for a batch X of shape (N, D), X @ w has shape (N,)")
print("neuron: visible test passed")
### BEGIN HIDDEN TESTS
import torch
rng = np.random.default_rng(101)

def numpy_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))

for n, d in [(1, 3), (5, 4), (17, 8)]:
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    b = float(rng.standard_normal())
    expected = torch.sigmoid(torch.from_numpy(X) @ torch.from_numpy(w) + b).numpy()
    with from_scratch("neuron"):
        got = neuron(X, w, b, numpy_sigmoid)
    check_close(f"neuron(X {X.shape}, w, b, sigmoid)", got, expected)
    expected_tanh = np.tanh(sum(X[:, i] * w[i] for i in range(d)) + b)
    with from_scratch("neuron"):
        got = neuron(X, w, b, np.tanh)
    check_close(f"neuron(X {X.shape}, w, b, tanh)", got, expected_tanh)
    with from_scratch("neuron"):
        single = neuron(X[0], w, b, np.tanh)
    check_shape("neuron(x of shape (D,), ...)", single, ())
    check_close("neuron(x of shape (D,), ...)", single, expected_tanh[0])
### END HIDDEN TESTS

# %% markdown
# The neuron is nothing more than a weighted vote followed by a squashing or gating function. The
# whole of this course is built from this one operation, repeated and arranged in layers.
#
# ## 3. Activation functions
#
# Why not leave out $f$? Because a stack of neurons without activations is still a single linear
# map: $(X W_1) W_2 = X (W_1 W_2)$. However many layers you stack, the result can only draw straight
# lines (planes) through the data. The activation is what lets depth buy anything. The common ones:
#
# | name | $f(z)$ | range | $f'(z)$ |
# | --- | --- | --- | --- |
# | step | $1$ if $z > 0$ else $0$ | $\{0, 1\}$ | $0$ (undefined at $0$) |
# | sigmoid | $\sigma(z) = \dfrac{1}{1 + e^{-z}}$ | $(0, 1)$ | $\sigma(z)\,(1 - \sigma(z))$ |
# | tanh | $\dfrac{e^{z} - e^{-z}}{e^{z} + e^{-z}}$ | $(-1, 1)$ | $1 - \tanh^2(z)$ |
# | ReLU | $\max(0, z)$ | $[0, \infty)$ | $1$ if $z > 0$ else $0$ |
# | leaky ReLU | $z$ if $z > 0$ else $\alpha z$ | $(-\infty, \infty)$ | $1$ if $z > 0$ else $\alpha$ |
# | GELU | $z\,\Phi(z) = \tfrac{z}{2}\left(1 + \operatorname{erf}(z / \sqrt{2})\right)$ | about $[-0.17, \infty)$ | $\Phi(z) + z\,\varphi(z)$ |
#
# $\Phi$ is the standard normal distribution function and $\varphi$ its density. Softmax, which
# turns a whole vector of scores into probabilities, comes after the single-input ones.
#
# The step function is the original perceptron's; its slope is zero everywhere, so it gives no
# signal for gradient-based learning. Sigmoid and tanh are smooth versions of it. ReLU is the default
# in modern networks: cheap, and its slope is exactly 1 for every positive input. GELU, a smooth
# ReLU, is what transformers use. Here they are as PyTorch computes them; next you write them in
# NumPy.

# %% code tags=demo
import torch
import torch.nn.functional as F

z_grid = torch.linspace(-4, 4, 401, dtype=torch.float64)
curves = {
    "step": (z_grid > 0).double(),
    "sigmoid": torch.sigmoid(z_grid),
    "tanh": torch.tanh(z_grid),
    "ReLU": F.relu(z_grid),
    "leaky ReLU (alpha=0.1)": F.leaky_relu(z_grid, 0.1),
    "GELU": F.gelu(z_grid),
}
fig, axes = plt.subplots(2, 3, figsize=(10, 5.5), sharex=True)
for ax, (name, values) in zip(axes.flat, curves.items()):
    ax.plot(z_grid.numpy(), values.numpy())
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set(title=name, xlabel="z (pre-activation)", ylabel="f(z)")
fig.suptitle("Activation functions")
fig.tight_layout()
plt.show()

# %% markdown
# ### Exercise 2: `sigmoid`
#
# $\sigma(z) = 1 / (1 + e^{-z})$, entry by entry, for an array of any shape. Hint: `np.exp` works
# entry by entry on whole arrays; no loop is needed.

# %% solution id=sigmoid
def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic sigmoid 1 / (1 + exp(-z)), entry by entry.

    Inputs:
        z: array of any shape.
    Returns:
        out: array with the shape of z, every entry in (0, 1).
    """
    ### BEGIN SOLUTION
    return 1.0 / (1.0 + np.exp(-z))
    ### END SOLUTION


# %% tests id=test_sigmoid points=1
z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
check_close("sigmoid(z)", sigmoid(z), [0.11920292202211755, 0.3775406687981454, 0.5, 0.6224593312018546, 0.8807970779778823],
            hint="sigmoid(z) = 1 / (1 + exp(-z)); sigmoid(0) is 0.5 and large z gives values near 1")
print("sigmoid: visible test passed")
### BEGIN HIDDEN TESTS
import torch
rng = np.random.default_rng(102)
for shape in [(1,), (3, 4), (2, 3, 5)]:
    z = rng.standard_normal(shape) * 8
    with from_scratch("sigmoid"):
        got = sigmoid(z)
    check_close(f"sigmoid(z of shape {shape})", got, torch.sigmoid(torch.from_numpy(z)).numpy())
z = np.array([-30.0, -20.0, -1e-8, 1e-8, 20.0, 30.0])
with from_scratch("sigmoid"):
    got = sigmoid(z)
check_close("sigmoid(z) for large |z|", got, torch.sigmoid(torch.from_numpy(z)).numpy())
### END HIDDEN TESTS

# %% markdown
# Sigmoid squashes any number into $(0, 1)$, so it can be read as a probability: that is how it is
# still used, at the output of a yes/no classifier.
#
# ### Exercise 3: `tanh`
#
# Write $\tanh(z) = (e^{z} - e^{-z}) / (e^{z} + e^{-z})$ from exponentials (`np.tanh` is what the
# tests compare with). Hint: it is a stretched sigmoid, $\tanh(z) = 2\sigma(2z) - 1$, which is
# another correct way to write it.

# %% solution id=tanh
def tanh(z: np.ndarray) -> np.ndarray:
    """The hyperbolic tangent, entry by entry.

    Inputs:
        z: array of any shape (the tests use |z| <= 20).
    Returns:
        out: array with the shape of z, every entry in (-1, 1).
    """
    ### BEGIN SOLUTION
    e_pos, e_neg = np.exp(z), np.exp(-z)
    return (e_pos - e_neg) / (e_pos + e_neg)
    ### END SOLUTION


# %% tests id=test_tanh points=1
z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
check_close("tanh(z)", tanh(z), [-0.9640275800758169, -0.46211715726000974, 0.0, 0.46211715726000974, 0.9640275800758169],
            hint="tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z)); it is odd: tanh(-z) = -tanh(z)")
print("tanh: visible test passed")
### BEGIN HIDDEN TESTS
import torch
rng = np.random.default_rng(103)
for shape in [(1,), (3, 4), (2, 3, 5)]:
    z = rng.standard_normal(shape) * 4
    with from_scratch("tanh"):
        got = tanh(z)
    check_close(f"tanh(z of shape {shape})", got, torch.tanh(torch.from_numpy(z)).numpy())
z = np.array([-20.0, -8.0, -1e-6, 1e-6, 8.0, 20.0])
with from_scratch("tanh"):
    got = tanh(z)
check_close("tanh(z) for small and large |z|", got, torch.tanh(torch.from_numpy(z)).numpy())
### END HIDDEN TESTS

# %% markdown
# Tanh has the sigmoid's shape but is centred on zero, which makes it a better hidden-layer
# activation than sigmoid: its outputs are not all positive.
#
# ### Exercise 4: `relu`
#
# $\mathrm{ReLU}(z) = \max(0, z)$, entry by entry. Hint: `np.maximum` compares entry by entry
# (`np.max` does something else). Return a new array; do not change `z` itself.

# %% solution id=relu
def relu(z: np.ndarray) -> np.ndarray:
    """Rectified linear unit, max(0, z), entry by entry.

    Inputs:
        z: array of any shape (left unchanged).
    Returns:
        out: array with the shape of z.
    """
    ### BEGIN SOLUTION
    return np.maximum(0.0, z)
    ### END SOLUTION


# %% tests id=test_relu points=1
z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
check_close("relu(z)", relu(z), [0.0, 0.0, 0.0, 0.5, 2.0], hint="negative inputs become 0; the rest pass through")
print("relu: visible test passed")
### BEGIN HIDDEN TESTS
import torch
rng = np.random.default_rng(104)
for shape in [(1,), (3, 4), (2, 3, 5)]:
    z = rng.standard_normal(shape) * 10
    z_copy = z.copy()
    with from_scratch("relu"):
        got = relu(z)
    check_close(f"relu(z of shape {shape})", got, torch.relu(torch.from_numpy(z)).numpy())
    check_close("z after calling relu(z)", z, z_copy, hint="relu must return a new array and leave its input unchanged")
### END HIDDEN TESTS

# %% markdown
# ### Exercise 5: `leaky_relu`
#
# Leaky ReLU lets a small slope $\alpha$ through for negative inputs: $z$ if $z > 0$, else
# $\alpha z$. Hint: `np.where(condition, a, b)` picks entry by entry. Use the `alpha` you are given.

# %% solution id=leaky_relu
def leaky_relu(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: z where z > 0, alpha * z elsewhere.

    Inputs:
        z: array of any shape.
        alpha: slope for negative inputs, 0 <= alpha < 1.
    Returns:
        out: array with the shape of z.
    """
    ### BEGIN SOLUTION
    return np.where(z > 0, z, alpha * z)
    ### END SOLUTION


# %% tests id=test_leaky_relu points=1
z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
check_close("leaky_relu(z)", leaky_relu(z), [-0.02, -0.005, 0.0, 0.5, 2.0], hint="the default slope alpha is 0.01")
check_close("leaky_relu(z, alpha=0.1)", leaky_relu(z, alpha=0.1), [-0.2, -0.05, 0.0, 0.5, 2.0],
            hint="negative inputs are multiplied by alpha; use the alpha argument, not a fixed number")
print("leaky_relu: visible test passed")
### BEGIN HIDDEN TESTS
import torch
import torch.nn.functional as F
rng = np.random.default_rng(105)
for shape, alpha in [((1,), 0.01), ((3, 4), 0.2), ((2, 3, 5), 0.5), ((7,), 0.0)]:
    z = rng.standard_normal(shape) * 10
    with from_scratch("leaky_relu"):
        got = leaky_relu(z, alpha)
    check_close(f"leaky_relu(z of shape {shape}, alpha={alpha})", got,
                F.leaky_relu(torch.from_numpy(z), negative_slope=alpha).numpy())
z = rng.standard_normal((4, 5))
with from_scratch("leaky_relu"):
    got = leaky_relu(z)
check_close("leaky_relu(z) with the default alpha", got, F.leaky_relu(torch.from_numpy(z), 0.01).numpy())
### END HIDDEN TESTS

# %% markdown
# ### Exercise 6: `gelu`
#
# The Gaussian error linear unit weighs its input by the probability that a standard normal
# variable is below it: $\mathrm{GELU}(z) = z\,\Phi(z) = \tfrac{z}{2}\left(1 + \operatorname{erf}(z/\sqrt{2})\right)$.
# Write this exact form (a popular tanh-based approximation differs in the fourth decimal and
# will not pass). Hint: `scipy.special.erf` works on arrays; `math.erf` works on one number.

# %% solution id=gelu
def gelu(z: np.ndarray) -> np.ndarray:
    """GELU, exact form: 0.5 * z * (1 + erf(z / sqrt(2))), entry by entry.

    Inputs:
        z: array of any shape.
    Returns:
        out: array with the shape of z.
    """
    ### BEGIN SOLUTION
    from scipy.special import erf

    return 0.5 * z * (1.0 + erf(z / np.sqrt(2.0)))
    ### END SOLUTION


# %% tests id=test_gelu points=1
z = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])
check_close("gelu(z)", gelu(z),
            [-0.04550026389635842, -0.15865525393145707, 0.0, 0.34573123063700656, 0.8413447460685429, 1.9544997361036416],
            hint="use the exact form with erf; the tanh approximation is off by about 1e-4")
print("gelu: visible test passed")
### BEGIN HIDDEN TESTS
import torch
import torch.nn.functional as F
rng = np.random.default_rng(106)
for shape in [(1,), (3, 4), (2, 3, 5)]:
    z = rng.standard_normal(shape) * 3
    with from_scratch("gelu"):
        got = gelu(z)
    check_close(f"gelu(z of shape {shape})", got, F.gelu(torch.from_numpy(z)).numpy())
z = np.array([-10.0, -3.0, -1.5, 1.5, 3.0, 10.0])
with from_scratch("gelu"):
    got = gelu(z)
check_close("gelu(z) for larger |z|", got, F.gelu(torch.from_numpy(z)).numpy())
### END HIDDEN TESTS

# %% markdown
# ### Exercise 7: `softmax`
#
# Softmax turns a vector of $C$ scores (logits) into $C$ probabilities that sum to one:
#
# $$\mathrm{softmax}(\mathbf{z})_k = \frac{e^{z_k}}{\sum_{j=1}^{C} e^{z_j}} .$$
#
# Computed as written it breaks: $e^{1000}$ overflows to infinity and the result becomes
# `inf / inf = nan` (run the next cell). The cure costs one line: subtracting the same number $m$
# from every score changes nothing, because $e^{z_k - m} / \sum_j e^{z_j - m}$ is the same fraction
# with $e^{-m}$ cancelled. Choose $m = \max_j z_j$: the largest exponent becomes $e^0 = 1$ and nothing
# can overflow.
#
# Your softmax works along one axis of an array of any shape (`axis=-1`: each row of a batch of
# logits). Hint: take the max and the sum with `axis=axis, keepdims=True` so they broadcast back.

# %% code
with np.errstate(over="ignore", invalid="ignore"):
    z = np.array([1000.0, 1001.0, 1002.0])
    print("exp(z):", np.exp(z))
    print("exp(z) / sum(exp(z)):", np.exp(z) / np.exp(z).sum())
    print("exp(z - max) / sum(exp(z - max)):", np.round(np.exp(z - z.max()) / np.exp(z - z.max()).sum(), 4))

# %% solution id=softmax
def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax along one axis, stable for large inputs (max-subtraction).

    Inputs:
        z: array of any shape, e.g. logits (N, C).
        axis: the axis whose entries become probabilities.
    Returns:
        p: array with the shape of z; entries in [0, 1] that sum to 1 along `axis`.
    """
    ### BEGIN SOLUTION
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)
    ### END SOLUTION


# %% tests id=test_softmax points=1
z = np.array([1.0, 2.0, 3.0])
expected = [0.09003057317038046, 0.24472847105479764, 0.6652409557748218]
check_close("softmax([1, 2, 3])", softmax(z), expected, hint="exp(z_k) / sum_j exp(z_j)")
check_close("softmax([1000, 1001, 1002])", softmax(z + 1000.0), expected,
            hint="subtract the maximum before exp: the result does not change, the overflow goes away")
Z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
check_close("softmax(Z) row sums", softmax(Z).sum(axis=-1), [1.0, 1.0],
            hint="with axis=-1 each row is one distribution: use axis=axis and keepdims=True")
print("softmax: visible test passed")
### BEGIN HIDDEN TESTS
import torch
rng = np.random.default_rng(107)
for shape, axis in [((5,), -1), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((1, 6), -1), ((4, 1), -1)]:
    z = rng.standard_normal(shape) * 5
    with from_scratch("softmax"):
        got = softmax(z, axis=axis)
    check_close(f"softmax(z of shape {shape}, axis={axis})", got,
                torch.softmax(torch.from_numpy(z), dim=axis).numpy())
big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -999.0, -998.0], [5000.0, 0.0, -5000.0]])
with from_scratch("softmax"):
    got = softmax(big)
check_close("softmax of rows with very different scales", got, torch.softmax(torch.from_numpy(big), dim=-1).numpy(),
            hint="subtract each row's own maximum (axis=axis, keepdims=True), not the maximum of the whole array")
with from_scratch("softmax"):
    got = softmax(big, axis=0)
check_close("softmax(big, axis=0)", got, torch.softmax(torch.from_numpy(big), dim=0).numpy())
### END HIDDEN TESTS

# %% markdown
# The max-subtraction trick is the first of several numerical-stability tricks in this course; the
# same idea returns in the cross-entropy loss below and in attention in Module 5.
#
# ### Derivatives, saturation and vanishing gradients
#
# Training nudges each weight against the slope of the loss, and by the chain rule that slope
# contains the activation's derivative $f'(z)$ as a factor. The three you write now:
#
# $$\sigma'(z) = \sigma(z)\,(1 - \sigma(z)), \qquad \tanh'(z) = 1 - \tanh^2(z), \qquad
# \mathrm{ReLU}'(z) = \begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}$$
#
# (ReLU has a corner at $0$ where the slope is undefined; like PyTorch, we take $0$ there.)
# All three take the **pre-activation $z$** as input, not the neuron's output.
#
# ### Exercise 8: `sigmoid_grad`, `tanh_grad`, `relu_grad`

# %% solution id=sigmoid_grad
def sigmoid_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of the sigmoid with respect to its input, d sigmoid(z) / dz, entry by entry.

    Inputs:
        z: pre-activations, array of any shape.
    Returns:
        dz: array with the shape of z, sigmoid(z) * (1 - sigmoid(z)).
    """
    ### BEGIN SOLUTION
    s = 1.0 / (1.0 + np.exp(-z))
    return s * (1.0 - s)
    ### END SOLUTION


# %% tests id=test_sigmoid_grad points=1
z = np.array([-2.0, 0.0, 2.0])
check_close("sigmoid_grad(z)", sigmoid_grad(z), [0.10499358540350662, 0.25, 0.10499358540350662],
            hint="sigmoid'(z) = s * (1 - s) with s = sigmoid(z) (compute s from z inside the function)")
print("sigmoid_grad: visible test passed")
### BEGIN HIDDEN TESTS
import torch
from course_utils.gradcheck import numeric_gradient
rng = np.random.default_rng(108)
for shape in [(1,), (3, 4), (2, 3, 5)]:
    z = rng.standard_normal(shape) * 4
    t = torch.from_numpy(z.copy()).requires_grad_(True)
    torch.sigmoid(t).sum().backward()
    with from_scratch("sigmoid_grad"):
        got = sigmoid_grad(z)
    check_close(f"sigmoid_grad(z of shape {shape})", got, t.grad.numpy())
z = rng.standard_normal(6) * 3
numeric = numeric_gradient(lambda v: 1.0 / (1.0 + np.exp(-v)), z.copy())
with from_scratch("sigmoid_grad"):
    got = sigmoid_grad(z)
check_close("sigmoid_grad(z) against central differences", got, numeric, rtol=1e-6, atol=1e-9)
### END HIDDEN TESTS

# %% solution id=tanh_grad
def tanh_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of tanh with respect to its input, 1 - tanh(z)**2, entry by entry.

    Inputs:
        z: pre-activations, array of any shape.
    Returns:
        dz: array with the shape of z.
    """
    ### BEGIN SOLUTION
    return 1.0 - np.tanh(z) ** 2
    ### END SOLUTION


# %% tests id=test_tanh_grad points=1
z = np.array([-2.0, 0.0, 2.0])
check_close("tanh_grad(z)", tanh_grad(z), [0.07065082485316443, 1.0, 0.07065082485316443],
            hint="tanh'(z) = 1 - tanh(z)**2 (squared); it equals 1 at z = 0")
print("tanh_grad: visible test passed")
### BEGIN HIDDEN TESTS
import torch
from course_utils.gradcheck import numeric_gradient
rng = np.random.default_rng(109)
for shape in [(1,), (3, 4), (2, 3, 5)]:
    z = rng.standard_normal(shape) * 3
    t = torch.from_numpy(z.copy()).requires_grad_(True)
    torch.tanh(t).sum().backward()
    with from_scratch("tanh_grad"):
        got = tanh_grad(z)
    check_close(f"tanh_grad(z of shape {shape})", got, t.grad.numpy())
z = rng.standard_normal(6) * 2
with from_scratch("tanh_grad"):
    got = tanh_grad(z)
check_close("tanh_grad(z) against central differences", got, numeric_gradient(np.tanh, z.copy()), rtol=1e-6, atol=1e-9)
### END HIDDEN TESTS

# %% solution id=relu_grad
def relu_grad(z: np.ndarray) -> np.ndarray:
    """Derivative of ReLU with respect to its input: 1.0 where z > 0, else 0.0 (also at z = 0).

    Inputs:
        z: pre-activations, array of any shape.
    Returns:
        dz: float array with the shape of z, entries 0.0 or 1.0.
    """
    ### BEGIN SOLUTION
    return (z > 0).astype(np.float64)
    ### END SOLUTION


# %% tests id=test_relu_grad points=1
z = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
check_close("relu_grad(z)", relu_grad(z), [0.0, 0.0, 0.0, 1.0, 1.0],
            hint="slope 1 where z > 0, slope 0 where z <= 0 (we take 0 at the corner z = 0)")
print("relu_grad: visible test passed")
### BEGIN HIDDEN TESTS
import torch
rng = np.random.default_rng(110)
for shape in [(1,), (3, 4), (2, 3, 5)]:
    z = rng.standard_normal(shape) * 5
    t = torch.from_numpy(z.copy()).requires_grad_(True)
    torch.relu(t).sum().backward()
    with from_scratch("relu_grad"):
        got = relu_grad(z)
    check_close(f"relu_grad(z of shape {shape})", got, t.grad.numpy())
### END HIDDEN TESTS

# %% markdown
# **Saturation.** Far from zero, sigmoid and tanh are flat: their derivatives are nearly zero, and
# a neuron sitting there learns almost nothing. Near zero the sigmoid is steepest, but even there
# its slope is well below 1 (how far below is Concept check 1). A gradient that flows back through
# $L$ sigmoid layers is multiplied by one such activation factor per layer (and by the layers'
# weights, which can shrink it further or make up for it). The activation factors alone therefore
# shrink it geometrically with depth, like (largest slope)$^L$: ten layers take off several orders
# of magnitude. That is the **vanishing gradient** problem, and it is why deep networks of sigmoids
# were so hard to train. ReLU's slope is exactly 1 for positive inputs, so its factors do not
# shrink the product.

# %% code tags=demo
z = np.linspace(-6, 6, 401)
depth = np.arange(1, 21)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
ax0.plot(z, sigmoid_grad(z), label="sigmoid'(z)")
ax0.plot(z, tanh_grad(z), label="tanh'(z)")
ax0.plot(z, relu_grad(z), label="ReLU'(z)")
ax0.set(title="Derivatives: flat tails saturate", xlabel="z (pre-activation)", ylabel="f'(z)")
ax0.legend()
rng_depth = np.random.default_rng(0)
z_paths = rng_depth.standard_normal((1000, depth[-1]))  # pre-activations met along 1,000 random paths
ax1.semilogy(depth, np.median(np.cumprod(sigmoid_grad(z_paths), axis=1), axis=0), "o-",
             label="sigmoid, z ~ N(0, 1) (median of 1,000 paths)")
ax1.semilogy(depth, np.ones_like(depth, dtype=float), "s-", label="ReLU, active unit: 1 per layer")
ax1.set(title="Product of the activation factors over L layers", xlabel="number of layers L",
        ylabel="product of f'(z) (log scale)")
ax1.legend()
fig.tight_layout()
plt.show()

# %% markdown
# **Dying ReLU.** ReLU has its own failure: a unit whose pre-activation is negative for *every*
# input outputs zero and has slope zero for every input, so no gradient ever reaches its weights
# and it never recovers. A large negative bias (or one big, badly signed update) can do that. Leaky
# ReLU keeps a small slope $\alpha$ for negative inputs so a unit can always come back.

# %% code
rng = np.random.default_rng(0)
X_demo = rng.standard_normal((1000, 2))
w_demo = np.array([1.0, 1.0])
for b_demo in [0.0, -2.0, -6.0]:
    z_demo = X_demo @ w_demo + b_demo
    active = np.mean(z_demo > 0)
    print(f"bias {b_demo:+.1f}: unit active (nonzero slope) for {active:.1%} of the inputs")

# %% markdown
# With bias $-6$ the unit is silent on all 1,000 inputs: under plain ReLU its weights would never
# change again.
#
# **Explore.** The widget shows each activation and its derivative (measured numerically from your
# functions; an activation you have not written yet says so). Change the input range to see
# saturation, and the leaky slope to see how leaky ReLU keeps the gradient alive.

# %% code tags=demo,nbval-ignore-output
from course_utils.widgets import draw_once, dropdown, float_slider, slider_plot


def step(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(float)


def draw_activation(name: str, z_max: float, alpha: float) -> None:
    # looked up only when chosen, so an exercise not written yet affects its own entry only
    functions = {"step": step, "sigmoid": lambda z: sigmoid(z), "tanh": lambda z: tanh(z), "ReLU": lambda z: relu(z),
                 "leaky ReLU": lambda z: leaky_relu(z, alpha), "GELU": lambda z: gelu(z)}
    z = np.linspace(-z_max, z_max, 801)
    f = functions[name](z)
    slope = np.gradient(f, z)
    if name == "step":
        slope[:] = 0.0  # zero everywhere; at z = 0 the slope does not exist
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax0.plot(z, f)
    ax0.set(title=f"{name}: outputs in [{f.min():.3g}, {f.max():.3g}] on this range", xlabel="z", ylabel="f(z)")
    ax1.plot(z, slope, color="#D55E00")
    ax1.set(title=f"{name}'(z): smallest {slope.min():.3g}, largest {slope.max():.3g}", xlabel="z", ylabel="f'(z)")
    fig.tight_layout()


slider_plot(draw_activation,
            name=dropdown("activation", ["step", "sigmoid", "tanh", "ReLU", "leaky ReLU", "GELU"], "tanh"),
            z_max=float_slider("input range |z| <=", 6.0, 1.0, 20.0, 0.5),
            alpha=float_slider("leaky slope alpha", 0.1, 0.0, 0.5, 0.01))

# %% code tags=demo
# The explorer's default view as a plain figure (it stays where the widget cannot run).
draw_once(draw_activation, name="tanh", z_max=6.0, alpha=0.1)

# %% markdown
# ### Concept check 1
#
# What is the largest value the sigmoid's derivative $\sigma'(z)$ takes, over all real $z$?
# (Think about $\sigma'(z) = s(1 - s)$ as a function of $s = \sigma(z) \in (0, 1)$.)
#
# (a) 1 &nbsp;&nbsp; (b) 0.5 &nbsp;&nbsp; (c) 0.25 &nbsp;&nbsp; (d) it grows without bound
#
# Set `q1_answer` to `"a"`, `"b"`, `"c"` or `"d"`.

# %% solution id=q1_answer
q1_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q1_answer = "c"
### END SOLUTION

# %% tests id=test_q1_answer points=1
check_true(q1_answer in ("a", "b", "c", "d"), f"q1_answer is {q1_answer!r}; set it to one of 'a', 'b', 'c', 'd' (a string).")
print("q1_answer: a valid choice (graded when you submit)")
### BEGIN HIDDEN TESTS
check_equal("q1_answer", q1_answer, "c")
### END HIDDEN TESTS

# %% markdown
# ## 4. The perceptron
#
# The perceptron (Rosenblatt, 1958) is a neuron with the step activation, used as a yes/no
# classifier: it predicts
#
# $$\hat{y} = \begin{cases} 1 & \text{if } \mathbf{w} \cdot \mathbf{x} + b > 0 \\ 0 & \text{otherwise.} \end{cases}$$
#
# Geometrically, $\mathbf{w} \cdot \mathbf{x} + b = 0$ is a line in 2-D (a plane, a hyperplane in
# more dimensions). The perceptron answers 1 on the side $\mathbf{w}$ points to and 0 on the other.
#
# ### Exercise 9: `perceptron_predict`
#
# Predict 0/1 labels for a batch. Note the convention: exactly $0$ counts as "not above", so it
# predicts 0. Hint: a boolean array such as `z > 0` becomes 0/1 with `.astype(int)`.

# %% solution id=perceptron_predict
def perceptron_predict(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """Perceptron predictions: 1 where X @ w + b > 0, else 0.

    Inputs:
        X: inputs (N, D).
        w: weights (D,).
        b: bias, a number.
    Returns:
        y_hat: integer array (N,) of 0s and 1s.
    """
    ### BEGIN SOLUTION
    return (X @ w + b > 0).astype(int)
    ### END SOLUTION


# %% tests id=test_perceptron_predict points=1
X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, -1.0]])
w = np.array([1.0, 1.0])
check_equal("perceptron_predict(X, w, -1.5)", perceptron_predict(X, w, -1.5), [0, 0, 0, 1, 0],
            hint="predict 1 where X @ w + b > 0, else 0")
check_equal("perceptron_predict(X, w, -1.0)", perceptron_predict(X, w, -1.0), [0, 0, 0, 1, 0],
            hint="z = 0 exactly (here for (0, 1) and (1, 0)) predicts 0: use > 0, not >= 0")
print("perceptron_predict: visible test passed")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(111)
for n, d in [(1, 2), (10, 3), (50, 5)]:
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    b = float(rng.standard_normal())
    z = np.array([sum(X[i, j] * w[j] for j in range(d)) + b for i in range(n)])
    expected = np.array([1 if v > 0 else 0 for v in z])
    with from_scratch("perceptron_predict"):
        got = perceptron_predict(X, w, b)
    check_shape(f"perceptron_predict(X of shape {X.shape}, ...)", got, (n,))
    check_equal(f"perceptron_predict(X of shape {X.shape}, ...)", np.asarray(got).astype(int), expected)
    check_true(set(np.unique(got).tolist()) <= {0, 1}, "perceptron_predict must return 0s and 1s")
### END HIDDEN TESTS

# %% markdown
# **AND and OR as threshold units.** With inputs in $\{0, 1\}$ and both weights equal to 1, the
# neuron fires when $x_1 + x_2$ exceeds a **threshold** $\theta$, that is when
# $x_1 + x_2 - \theta > 0$: the bias is minus the threshold, $b = -\theta$.
#
# | $x_1$ | $x_2$ | $x_1 + x_2$ | AND ($\theta = 1.5$) | OR ($\theta = 0.5$) |
# | --- | --- | --- | --- | --- |
# | 0 | 0 | 0 | 0 | 0 |
# | 0 | 1 | 1 | 0 | 1 |
# | 1 | 0 | 1 | 0 | 1 |
# | 1 | 1 | 2 | 1 | 1 |
#
# AND needs both inputs on, so the threshold sits between 1 and 2; OR needs one, so it sits between
# 0 and 1. Your `perceptron_predict` computes both:

# %% code tags=demo
X_gate = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
for gate, threshold in [("AND", 1.5), ("OR", 0.5)]:
    outputs = perceptron_predict(X_gate, np.array([1.0, 1.0]), -threshold)
    print(f"{gate} (w = (1, 1), b = {-threshold}):", ", ".join(f"{int(a)}{int(c)} -> {o}" for (a, c), o in zip(X_gate, outputs)))

# %% markdown
# ### The perceptron learning rule
#
# Instead of choosing the weights by hand, the perceptron can learn them from labelled examples.
# Start from $\mathbf{w} = \mathbf{0}$, $b = 0$ and visit the examples one at a time, in order. For
# each one, predict $\hat{y}$ and correct the weights by the error $y - \hat{y}$, scaled by a learning
# rate $\eta$:
#
# $$\mathbf{w} \leftarrow \mathbf{w} + \eta\,(y - \hat{y})\,\mathbf{x}, \qquad b \leftarrow b + \eta\,(y - \hat{y}).$$
#
# A correct prediction changes nothing ($y - \hat{y} = 0$). A missed 1 ($y - \hat{y} = 1$) adds
# $\mathbf{x}$ to $\mathbf{w}$, which raises $\mathbf{w} \cdot \mathbf{x}$ next time; a false 1
# subtracts it. One pass over the data is an **epoch**. The perceptron convergence theorem says: if
# some line separates the two classes, this rule finds one after finitely many mistakes. If no line
# does, it never settles.
#
# ### Exercise 10: `train_perceptron`
#
# Implement the rule exactly as stated (zeros to start, examples in order, one update per example)
# and count the mistakes (examples with $\hat{y} \ne y$) in each epoch. Always run all `epochs`
# epochs. Hint: make `w` a float array (`np.zeros(D)`), so adding `lr * x` to it works.

# %% solution id=train_perceptron
def train_perceptron(X: np.ndarray, y: np.ndarray, lr: float, epochs: int) -> tuple[np.ndarray, float, list[int]]:
    """Train a perceptron with the perceptron rule, visiting the rows of X in order.

    Inputs:
        X: inputs (N, D).
        y: labels (N,), each 0 or 1.
        lr: learning rate eta.
        epochs: number of passes over the data (all of them are run).
    Returns:
        w: learned weights (D,), float.
        b: learned bias, a number.
        mistakes: list of `epochs` ints, the mistakes made during each epoch.
    """
    ### BEGIN SOLUTION
    w = np.zeros(X.shape[1])
    b = 0.0
    mistakes = []
    for _ in range(epochs):
        count = 0
        for x_i, y_i in zip(X, y):
            y_hat = 1 if x_i @ w + b > 0 else 0
            error = y_i - y_hat
            if error != 0:
                w = w + lr * error * x_i
                b = b + lr * error
                count += 1
        mistakes.append(count)
    return w, b, mistakes
    ### END SOLUTION


# %% tests id=test_train_perceptron points=2
X_gate = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
for gate, labels in [("AND", [0, 0, 0, 1]), ("OR", [0, 1, 1, 1])]:
    y_gate = np.array(labels)
    w, b, mistakes = train_perceptron(X_gate, y_gate, lr=1.0, epochs=10)
    check_shape(f"w ({gate})", w, (2,))
    check_equal(f"len(mistakes) ({gate}, epochs=10)", len(mistakes), 10, hint="one count per epoch, for every epoch")
    check_equal(f"predictions of the trained perceptron on {gate}", (X_gate @ w + b > 0).astype(int), y_gate,
                hint="update w += lr * (y - y_hat) * x and b += lr * (y - y_hat) after each example")
    check_equal(f"mistakes in the last epoch ({gate})", int(mistakes[-1]), 0)
w, b, mistakes = train_perceptron(X_gate, np.array([0, 1, 1, 0]), lr=1.0, epochs=20)
check_true(min(mistakes) > 0, f"on XOR every epoch must have a mistake (no line separates it); got {list(mistakes)}")
print("train_perceptron: visible test passed (AND and OR converge, XOR never does)")
### BEGIN HIDDEN TESTS
def reference_perceptron(X, y, lr, epochs):
    w, b, mistakes = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        count = 0
        for i in range(len(X)):
            y_hat = 1 if float(np.dot(X[i], w)) + b > 0 else 0
            if y_hat != y[i]:
                w = w + lr * (y[i] - y_hat) * X[i]
                b = b + lr * (y[i] - y_hat)
                count += 1
        mistakes.append(count)
    return w, b, mistakes

for gate, labels, lr in [("AND", [0, 0, 0, 1], 0.5), ("OR", [0, 1, 1, 1], 0.25), ("NAND", [1, 1, 1, 0], 1.0)]:
    y_gate = np.array(labels)
    with from_scratch("train_perceptron"):
        w, b, mistakes = train_perceptron(X_gate, y_gate, lr=lr, epochs=8)
    w_ref, b_ref, m_ref = reference_perceptron(X_gate, y_gate, lr, 8)
    check_equal(f"mistakes per epoch on {gate} (lr={lr})", [int(m) for m in mistakes], m_ref)
    check_true(all(isinstance(m, (int, np.integer)) and not isinstance(m, bool) for m in mistakes),
               f"the mistake counts should be ints, got {[type(m).__name__ for m in mistakes][:3]}",
               hint="count with an int (count += 1), not a float")
    check_close(f"w on {gate}", w, w_ref)
    check_close(f"b on {gate}", b, b_ref)
rng = np.random.default_rng(112)
w_true = np.array([1.0, -2.0, 0.5])
X = rng.standard_normal((60, 3))
margin = X @ w_true + 0.3
keep = np.abs(margin) > 0.5
X, y_sep = X[keep], (margin[keep] > 0).astype(int)
with from_scratch("train_perceptron"):
    w, b, mistakes = train_perceptron(X, y_sep, lr=0.1, epochs=200)
check_equal("len(mistakes) on separable data", len(mistakes), 200)
check_equal("mistakes in the last epoch on separable data", int(mistakes[-1]), 0)
check_equal("predictions on separable data", (X @ w + b > 0).astype(int), y_sep)
with from_scratch("train_perceptron"):
    _, _, mistakes = train_perceptron(X_gate, np.array([0, 1, 1, 0]), lr=0.3, epochs=100)
check_true(len(mistakes) == 100 and min(mistakes) > 0, "on XOR every one of 100 epochs must have a mistake")
### END HIDDEN TESTS

# %% markdown
# On AND and OR the mistakes drop to zero within a few epochs; on XOR they never do. The next
# section shows why.
#
# ## 5. Linear separability and XOR
#
# A data set with two classes is **linearly separable** if one straight line (hyperplane) has all
# of one class on one side and all of the other class on the other side. A single perceptron can
# only ever draw one line, so it can only learn linearly separable data.
#
# XOR ("exclusive or": 1 when exactly one input is 1) is the classic counterexample. Suppose some
# $w_1, w_2, b$ worked. The four cases require
#
# $$(0,0) \mapsto 0:\ b \le 0, \qquad (1,1) \mapsto 0:\ w_1 + w_2 + b \le 0, \qquad
# (1,0) \mapsto 1:\ w_1 + b > 0, \qquad (0,1) \mapsto 1:\ w_2 + b > 0 .$$
#
# Adding the last two gives $w_1 + w_2 + 2b > 0$; adding the first two gives
# $w_1 + w_2 + 2b \le 0$. Both cannot hold, so no single line separates XOR. This observation
# (Minsky and Papert, 1969) slowed neural network research for years; the way out is to put a
# **hidden layer** between input and output, which the rest of this notebook builds.
#
# **Try it.** Move the line with the sliders. The shaded side is where the neuron predicts 1; the
# title counts misclassified points. You can separate AND, OR and the two blobs, but not XOR.

# %% code tags=demo,nbval-ignore-output
from course_utils.data import make_blobs

X_blobs, y_blobs = make_blobs(n=80, centers=2, std=0.7, seed=3)
X_blobs = (X_blobs - X_blobs.mean(axis=0)) / X_blobs.std(axis=0)
gate_data = {
    "AND": (X_gate, np.array([0, 0, 0, 1])),
    "OR": (X_gate, np.array([0, 1, 1, 1])),
    "XOR": (X_gate, np.array([0, 1, 1, 0])),
    "two blobs": (X_blobs, y_blobs),
}


def draw_line(ax, X, y, w, b, title):
    """Shade the half-plane w . x + b > 0, draw the line w . x + b = 0 and the points."""
    lo, hi = X.min(axis=0) - 0.6, X.max(axis=0) + 0.6
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
    z = w[0] * g0 + w[1] * g1 + b
    ax.contourf(g0, g1, (z > 0).astype(float), levels=[-0.5, 0.5, 1.5], colors=["#56B4E9", "#E69F00"], alpha=0.25)
    if np.any(w != 0):
        ax.contour(g0, g1, z, levels=[0.0], colors="k", linewidths=1.5)
    for label, colour, marker in [(0, "#0072B2", "o"), (1, "#D55E00", "s")]:
        m = y == label
        ax.scatter(X[m, 0], X[m, 1], c=colour, marker=marker, s=60, edgecolor="k", label=f"class {label}")
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="$x_1$", ylabel="$x_2$", title=title)
    ax.legend(loc="upper left", fontsize=8)


def draw_decision_line(data: str, w1: float, w2: float, b: float) -> None:
    X, y = gate_data[data]
    w = np.array([w1, w2])
    errors = int(np.sum((X @ w + b > 0).astype(int) != y))
    fig, ax = plt.subplots(figsize=(5, 4.5))
    draw_line(ax, X, y, w, b, f"{data}: {errors} of {len(y)} misclassified")


slider_plot(draw_decision_line,
            data=dropdown("data", list(gate_data), "AND"),
            w1=float_slider("w1", 1.0, -3.0, 3.0, 0.1),
            w2=float_slider("w2", 1.0, -3.0, 3.0, 0.1),
            b=float_slider("b", -1.5, -3.0, 3.0, 0.1))

# %% code tags=demo
# The default view as a plain figure (it stays where the widget cannot run).
draw_once(draw_decision_line, data="AND", w1=1.0, w2=1.0, b=-1.5)

# %% markdown
# **Watch the perceptron learn.** Each step of the slider is one visit to one example (four per
# epoch). The circled point is the one just visited; when it was misclassified the line jumps.
# On AND and OR the line stops moving; on XOR it cycles for ever.

# %% code tags=demo,nbval-ignore-output
from course_utils.widgets import int_slider


def perceptron_trace(X, y, lr, epochs):
    """(w, b, index visited, whether it was a mistake) after every single update step."""
    w, b, trace = np.zeros(X.shape[1]), 0.0, [(np.zeros(X.shape[1]), 0.0, None, False)]
    for _ in range(epochs):
        for i in range(len(X)):
            error = y[i] - int(X[i] @ w + b > 0)
            w, b = w + lr * error * X[i], b + lr * error
            trace.append((w.copy(), b, i, error != 0))
    return trace


traces = {gate: perceptron_trace(*gate_data[gate], lr=1.0, epochs=8) for gate in ["AND", "OR", "XOR"]}


def draw_perceptron_step(gate: str, step: int) -> None:
    X, y = gate_data[gate]
    w, b, i, mistake = traces[gate][step]
    epoch = max(step - 1, 0) // len(X) + 1
    start = (epoch - 1) * len(X) + 1
    mistakes = sum(t[3] for t in traces[gate][start: step + 1])
    fig, ax = plt.subplots(figsize=(5, 4.5))
    what = "start" if i is None else f"epoch {epoch}, example {i}: " + ("mistake, update" if mistake else "correct")
    draw_line(ax, X, y, w, b, f"{gate}, step {step}: {what}\nw = ({w[0]:g}, {w[1]:g}), b = {b:g}; mistakes this epoch: {mistakes}")
    if i is not None:
        ax.scatter(*X[i], s=350, facecolors="none", edgecolors="k", linewidths=2)


slider_plot(draw_perceptron_step,
            gate=dropdown("gate", ["AND", "OR", "XOR"], "AND"),
            step=int_slider("update step", 0, 0, 32))

# %% code tags=demo
# The default view as a plain figure (it stays where the widget cannot run).
draw_once(draw_perceptron_step, gate="AND", step=0)

# %% markdown
# ### Concept check 2
#
# Which of these functions of two binary inputs can a single perceptron *not* compute?
#
# (a) NAND (1 unless both inputs are 1) &nbsp;&nbsp; (b) NOR (1 only if both inputs are 0)
# &nbsp;&nbsp; (c) $x_1$ AND NOT $x_2$ &nbsp;&nbsp; (d) XNOR (1 when the inputs are equal)

# %% solution id=q2_answer
q2_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q2_answer = "d"
### END SOLUTION

# %% tests id=test_q2_answer points=1
check_true(q2_answer in ("a", "b", "c", "d"), f"q2_answer is {q2_answer!r}; set it to one of 'a', 'b', 'c', 'd' (a string).")
print("q2_answer: a valid choice (graded when you submit)")
### BEGIN HIDDEN TESTS
check_equal("q2_answer", q2_answer, "d")
### END HIDDEN TESTS

# %% markdown
# ### Written answer 1
#
# In two or three sentences: why can no single perceptron compute XOR, and how
# does a network with one hidden layer of two units get around this? (Hint: think of what the two
# hidden units could each compute, and what the output unit then does with them.)

# %% answer id=q_xor_why points=2
# A perceptron's decision boundary is one straight line, and XOR's two 1s, (0,1) and (1,0), lie on
# opposite corners of the square from each other with the two 0s on the other diagonal, so every line
# that has both 1s on one side also has at least one 0 there (the four inequalities contradict each
# other). With a hidden layer, one unit can compute OR and the other NAND (each linearly separable);
# in the space of those two outputs the classes become separable, and the output unit computes their
# AND. The hidden layer bends the input space so that a line works after it.

# %% markdown
# ## 6. Layers and forward propagation
#
# A **layer** is many neurons reading the same input, each with its own weights. Stack the weight
# vectors of $M$ neurons as the columns of a matrix $W$ of shape $(D, M)$ and their biases into
# $\mathbf{b}$ of shape $(M,)$. For a batch $X$ of shape $(N, D)$, the whole layer is one line:
#
# $$H = f(X W + \mathbf{b}), \qquad (N, D) \cdot (D, M) \to (N, M), \quad \mathbf{b} \text{ broadcast over the } N \text{ rows.}$$
#
# A **multilayer perceptron** (MLP) chains layers. The first is the **input layer** (just the data
# $X$), then one or more **hidden layers**, then the **output layer**:
#
# $$H_1 = f(X W_1 + \mathbf{b}_1), \quad H_2 = f(H_1 W_2 + \mathbf{b}_2), \quad \dots, \quad
# \text{out} = H_{L-1} W_L + \mathbf{b}_L .$$
#
# Computing from input to output like this is **forward propagation**. The output layer here has
# no activation: it produces raw scores, and the loss (section 9) or a final sigmoid/softmax decides
# how to read them. Shapes for a network with layer sizes $[D, M_1, M_2, C]$:
#
# | quantity | shape |
# | --- | --- |
# | $X$ | $(N, D)$ |
# | $W_1$, $\mathbf{b}_1$ / $H_1$ | $(D, M_1)$, $(M_1,)$ / $(N, M_1)$ |
# | $W_2$, $\mathbf{b}_2$ / $H_2$ | $(M_1, M_2)$, $(M_2,)$ / $(N, M_2)$ |
# | $W_3$, $\mathbf{b}_3$ / out | $(M_2, C)$, $(C,)$ / $(N, C)$ |
#
# **`@` versus `*`.** In NumPy `A @ B` is the matrix product (inner dimensions must agree); `A * B`
# multiplies entry by entry (shapes must be equal or broadcast). Mixing them up is the most common
# bug in network code, and sometimes it does not even raise an error:

# %% code
A = np.array([[1.0, 2.0], [3.0, 4.0]])
B = np.array([[10.0, 0.0], [0.0, 10.0]])
print("A @ B (matrix product):\n", A @ B)
print("A * B (entry by entry):\n", A * B)
X_demo = np.ones((5, 3))
W_demo = np.ones((3, 4))
print("X (5, 3) @ W (3, 4) ->", (X_demo @ W_demo).shape)
try:
    X_demo * W_demo
except ValueError as err:
    print("X (5, 3) * W (3, 4) -> ValueError:", str(err).split(" (")[0])

# %% markdown
# ### Exercise 11: `mlp_forward`
#
# Compute the output of an MLP given as a list of `(W, b)` pairs. Apply `activation` after every
# layer **except the last**, which stays linear. Hint: a `for` loop over the layers, treating the
# last one specially (`enumerate` and `len(params)` help).

# %% solution id=mlp_forward
def mlp_forward(
    X: np.ndarray,
    params: list[tuple[np.ndarray, np.ndarray]],
    activation: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Forward pass of a multilayer perceptron; the last layer is linear (no activation).

    Inputs:
        X: inputs (N, D_0).
        params: list of L pairs (W_l, b_l) with W_l (D_{l-1}, D_l) and b_l (D_l,).
        activation: function applied entry by entry after layers 1 .. L-1.
    Returns:
        out: (N, D_L), the last layer's H_{L-1} @ W_L + b_L.
    """
    ### BEGIN SOLUTION
    H = X
    for i, (W, b) in enumerate(params):
        H = H @ W + b
        if i < len(params) - 1:
            H = activation(H)
    return H
    ### END SOLUTION


# %% tests id=test_mlp_forward points=2
X = np.array([[1.0, 2.0], [0.0, -1.0]])
params = [(np.array([[0.5, -1.0], [0.5, 0.25]]), np.array([0.0, -0.5])), (np.array([[1.0], [2.0]]), np.array([0.5]))]
out = mlp_forward(X, params, lambda z: np.maximum(z, 0.0))
check_shape("mlp_forward(X, params, relu)", out, (2, 1), hint="(N, D_0) -> (N, D_L): use X @ W + b, with W of shape (D_in, D_out)")
check_close("mlp_forward(X, params, relu)", out, [[2.0], [0.5]],
            hint="hidden layer: relu(X @ W1 + b1); output layer: H @ W2 + b2 with no activation")
check_close("mlp_forward(X, params, identity)", mlp_forward(X, params, lambda z: z), [[0.0], [-1.5]])
check_close("mlp_forward(X, one layer, np.tanh)", mlp_forward(X, params[:1], np.tanh), [[1.5, -1.0], [-0.5, -0.75]],
            hint="a network with one layer is just X @ W + b: the last layer never gets the activation")
print("mlp_forward: visible test passed")
### BEGIN HIDDEN TESTS
import torch
rng = np.random.default_rng(113)

for sizes, n in [([3, 5, 2], 4), ([4, 6, 6, 3], 7), ([2, 1], 1), ([5, 8, 7, 6, 1], 10)]:
    params = [(rng.standard_normal((a, c)), rng.standard_normal(c)) for a, c in zip(sizes[:-1], sizes[1:])]
    X = rng.standard_normal((n, sizes[0]))
    h = torch.from_numpy(X)
    for i, (W, b) in enumerate(params):
        h = h @ torch.from_numpy(W) + torch.from_numpy(b)
        if i < len(params) - 1:
            h = torch.tanh(h)
    with from_scratch("mlp_forward"):
        got = mlp_forward(X, params, np.tanh)
    check_close(f"mlp_forward with layer sizes {sizes}, tanh", got, h.numpy())
    h = X
    for i, (W, b) in enumerate(params):
        h = np.einsum("nd,dm->nm", h, W) + b
        if i < len(params) - 1:
            h = np.where(h > 0, h, 0.0)
    with from_scratch("mlp_forward"):
        got = mlp_forward(X, params, lambda z: np.maximum(z, 0.0))
    check_close(f"mlp_forward with layer sizes {sizes}, relu", got, h)
### END HIDDEN TESTS

# %% markdown
# Every network in this course, up to the transformer, runs this loop: multiply by a weight matrix,
# add a bias, apply a nonlinearity, repeat.
#
# ## 7. Universal approximation; depth versus width
#
# How much can an MLP represent? The **universal approximation theorem** (Cybenko 1989, Hornik
# 1991) says: a network with **one** hidden layer and a non-polynomial activation (sigmoid, ReLU,
# ...) can approximate any continuous function on a bounded region as closely as you like, given
# enough hidden units. For ReLU one can see why directly: each hidden unit
# $\mathrm{ReLU}(x - k)$ is a hinge at $x = k$, and a weighted sum of hinges is a piecewise-linear
# curve with a corner at each $k$. Enough corners follow any smooth curve.
#
# Below, a one-hidden-layer ReLU network whose weights are computed (not trained) to join points of
# $\sin(x)$ with straight pieces, run through your `mlp_forward`. More units, smaller error.

# %% code tags=demo
def hinge_network(f, knots):
    """Weights of a 1-hidden-layer ReLU net whose output joins the points (k, f(k)) with straight lines."""
    values = f(knots)
    slopes = np.diff(values) / np.diff(knots)
    W1 = np.ones((1, len(knots) - 1))
    b1 = -knots[:-1]
    W2 = np.concatenate([[slopes[0]], np.diff(slopes)])[:, None]
    b2 = np.array([values[0]])
    return [(W1, b1), (W2, b2)]


x = np.linspace(0, 2 * np.pi, 400)[:, None]
fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.plot(x, np.sin(x), color="k", lw=3, alpha=0.3, label="sin(x)")
for units in [2, 4, 16]:
    params_sin = hinge_network(np.sin, np.linspace(0, 2 * np.pi, units + 1))
    y_net = mlp_forward(x, params_sin, lambda z: np.maximum(z, 0.0))
    ax.plot(x, y_net, label=f"{units} hidden units, max error {np.max(np.abs(y_net - np.sin(x))):.3f}")
ax.set(title="One hidden layer of ReLUs approximating sin(x)", xlabel="x", ylabel="output")
ax.legend(fontsize=9)
plt.show()

# %% markdown
# The theorem promises existence, not efficiency: the number of units needed can be enormous, and it
# says nothing about whether training will find the weights. **Depth** is often far cheaper than
# width. The "tent" $g(x) = 2\,\mathrm{ReLU}(x) - 4\,\mathrm{ReLU}(x - 0.5)$ is a layer of two ReLU
# units that maps $[0, 1]$ onto itself going up and back down. Composing it $k$ times (a deep,
# narrow network with $2k$ hidden units) produces $2^{k-1}$ teeth, that is $2^k$ straight pieces. A
# single hidden layer needs about one unit per corner, so roughly $2^k$ units for the same function:
# exponentially more. Deep networks reuse the work of earlier layers; that is the economy of depth
# promised in section 1.

# %% code tags=demo
def tent(x):
    return 2 * np.maximum(x, 0) - 4 * np.maximum(x - 0.5, 0)


x = np.linspace(0, 1, 2001)
fig, axes = plt.subplots(1, 4, figsize=(12, 2.8), sharey=True)
h = x
for k, ax in enumerate(axes, start=1):
    h = tent(h)
    ax.plot(x, h)
    ax.set(title=f"depth {k}: {2 * k} units, {2 ** k} pieces", xlabel="x")
axes[0].set_ylabel("output")
fig.suptitle("Composing a 2-unit ReLU layer doubles the number of linear pieces")
fig.tight_layout()
plt.show()

# %% markdown
# ### Written answer 2
#
# A single hidden layer can approximate any continuous function. Give two
# reasons why practitioners still build deep networks rather than one very wide hidden layer.

# %% answer id=q_depth_width points=2
# First, efficiency: some functions (such as the repeated tent above, or functions built from
# reused parts) need exponentially many units in one hidden layer but only a modest number spread
# over several layers, because later layers reuse and recombine what earlier layers computed.
# Second, learnability and generalisation: the theorem only says suitable weights exist, not that
# gradient descent finds them or that they generalise; deep networks build features hierarchically
# (edges, then shapes, then objects), which matches the structure of real data and tends to train
# and generalise better with far fewer parameters.

# %% markdown
# ## 8. Forward passes by hand
#
# Before trusting code, compute a small network by hand once. Take one input $\mathbf{x} = (1, 2)$,
# two hidden units and one output, with
#
# $$W_1 = \begin{pmatrix} 0.5 & -1 \\ 0.5 & 0.25 \end{pmatrix}, \quad \mathbf{b}_1 = (0, -0.5), \qquad
# W_2 = \begin{pmatrix} 1 \\ 2 \end{pmatrix}, \quad b_2 = 0.5, \qquad \text{target } y = 1.5 .$$
#
# **Hidden pre-activations.** $\mathbf{z}_1 = \mathbf{x} W_1 + \mathbf{b}_1$:
# unit 1: $1 \cdot 0.5 + 2 \cdot 0.5 + 0 = 1.5$; unit 2: $1 \cdot (-1) + 2 \cdot 0.25 - 0.5 = -1$.
#
# **Identity activation** ($\mathbf{h} = \mathbf{z}_1 = (1.5, -1)$):
# $\hat{y} = 1.5 \cdot 1 + (-1) \cdot 2 + 0.5 = 0$. The error is $\hat{y} - y = -1.5$ and the squared
# error $(\hat{y} - y)^2 = 2.25$.
#
# **ReLU activation** ($\mathbf{h} = (1.5, 0)$: the second unit is off):
# $\hat{y} = 1.5 \cdot 1 + 0 \cdot 2 + 0.5 = 2$. Error $0.5$, squared error $0.25$.
#
# **Nudging one weight.** Raise $W_2[0]$ (from unit 1 to the output) by $0.01$ in the ReLU network:
# $\hat{y}$ grows by $0.01 \cdot h_1 = 0.015$ to $2.015$, and the squared error grows from $0.25$ to
# $0.515^2 = 0.265225$. The loss changed by about $1.52$ times the nudge: that ratio is (nearly) the
# **derivative** of the loss with respect to that weight, $2(\hat{y} - y)\,h_1 = 2 \cdot 0.5 \cdot 1.5 = 1.5$.
# A positive derivative says: to reduce the loss, *decrease* this weight. Doing that for every weight
# at once is gradient descent, and computing all those derivatives efficiently is backpropagation
# (Module 2). The cell below checks every number above.

# %% code
x_hand = np.array([[1.0, 2.0]])
W1_hand, b1_hand = np.array([[0.5, -1.0], [0.5, 0.25]]), np.array([0.0, -0.5])
W2_hand, b2_hand = np.array([[1.0], [2.0]]), np.array([0.5])
y_hand = 1.5


def hand_forward(W2, W1=W1_hand, f=lambda z: np.maximum(z, 0.0)):
    z1 = x_hand @ W1 + b1_hand
    return float((f(z1) @ W2 + b2_hand)[0, 0]), z1


y_id, z1 = hand_forward(W2_hand, f=lambda z: z)
y_relu, _ = hand_forward(W2_hand)
print(f"z1 = {np.round(z1[0], 4)}")
print(f"identity: y_hat = {y_id:.4f}, error = {y_id - y_hand:.4f}, squared error = {(y_id - y_hand) ** 2:.4f}")
print(f"ReLU:     y_hat = {y_relu:.4f}, error = {y_relu - y_hand:.4f}, squared error = {(y_relu - y_hand) ** 2:.4f}")
nudge = 0.01
W2_nudged = W2_hand.copy()
W2_nudged[0, 0] += nudge
y_nudged, _ = hand_forward(W2_nudged)
loss, loss_nudged = (y_relu - y_hand) ** 2, (y_nudged - y_hand) ** 2
print(f"nudge W2[0] by {nudge}: y_hat = {y_nudged:.4f}, squared error {loss:.4f} -> {loss_nudged:.6f}, "
      f"change / nudge = {(loss_nudged - loss) / nudge:.4f} (derivative 2 (y_hat - y) h1 = {2 * (y_relu - y_hand) * 1.5:.4f})")

# %% markdown
# ### Concept check 3
#
# In the ReLU network above, you nudge $W_1[0, 1]$ (the weight from $x_1$ into the second hidden
# unit) from $-1$ to $-0.99$. What happens to the squared error?
#
# (a) it increases &nbsp;&nbsp; (b) it decreases &nbsp;&nbsp; (c) it does not change &nbsp;&nbsp;
# (d) it cannot be computed without the target
#
# (You can check your answer with `hand_forward(W2_hand, W1=...)` in a scratch cell.)

# %% solution id=q3_answer
q3_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q3_answer = "c"
### END SOLUTION

# %% tests id=test_q3_answer points=1
check_true(q3_answer in ("a", "b", "c", "d"), f"q3_answer is {q3_answer!r}; set it to one of 'a', 'b', 'c', 'd' (a string).")
print("q3_answer: a valid choice (graded when you submit)")
### BEGIN HIDDEN TESTS
check_equal("q3_answer", q3_answer, "c")
### END HIDDEN TESTS

# %% markdown
# ## 9. Loss functions
#
# A **loss** is one number that says how wrong the network's outputs are; training lowers it. Which
# loss you pick decides what "wrong" means. With predictions $\hat{y}_i$, targets $y_i$ and residuals
# $r_i = \hat{y}_i - y_i$ over $n$ entries:
#
# **Regression** (real-valued targets):
#
# $$\text{MSE} = \frac{1}{n}\sum_i r_i^2, \qquad \text{MAE} = \frac{1}{n}\sum_i |r_i|, \qquad
# \text{Huber}_\delta = \frac{1}{n}\sum_i \begin{cases} \tfrac{1}{2} r_i^2 & |r_i| \le \delta \\ \delta\,(|r_i| - \tfrac{1}{2}\delta) & |r_i| > \delta \end{cases}$$
#
# MSE punishes large errors heavily (squared), so a few outliers dominate it. MAE treats all errors
# linearly, which is robust to outliers, but its slope jumps at zero. Huber is quadratic near zero
# and linear far away; the two pieces meet smoothly at $|r| = \delta$.

# %% code tags=demo
import torch
import torch.nn.functional as F

r = torch.linspace(-3, 3, 301, dtype=torch.float64)
zero = torch.zeros_like(r)
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(r, F.mse_loss(r, zero, reduction="none"), label="squared error")
ax.plot(r, F.l1_loss(r, zero, reduction="none"), label="absolute error")
for delta in [0.5, 1.5]:
    ax.plot(r, F.huber_loss(r, zero, reduction="none", delta=delta), label=f"Huber, delta = {delta}")
ax.set(title="Regression losses for one residual", xlabel="residual r = y_hat - y", ylabel="loss", ylim=(0, 4.5))
ax.legend()
plt.show()

# %% markdown
# ### Exercise 12: `mse`, `mae`, `huber`
#
# Each takes predictions and targets of the same (any) shape and returns the **mean** over all
# entries, as one number. Hint for Huber: compute both pieces for every entry and pick with
# `np.where(np.abs(r) <= delta, ..., ...)`.

# %% solution id=mse
def mse(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error, mean over all entries of (y_hat - y)**2.

    Inputs:
        y_hat: predictions, any shape.
        y: targets, same shape as y_hat.
    Returns:
        loss: a number.
    """
    ### BEGIN SOLUTION
    return float(np.mean((y_hat - y) ** 2))
    ### END SOLUTION


# %% tests id=test_mse points=1
y_hat, y = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0])
check_close("mse(y_hat, y)", mse(y_hat, y), 5.0 / 3.0, hint="(0**2 + 1**2 + 2**2) / 3: the mean, not the sum, and no square root")
print("mse: visible test passed")
### BEGIN HIDDEN TESTS
import torch
import torch.nn.functional as F
rng = np.random.default_rng(114)
for shape in [(1,), (10,), (4, 3), (2, 3, 5)]:
    y_hat, y = rng.standard_normal(shape) * 3, rng.standard_normal(shape) * 3
    with from_scratch("mse"):
        got = mse(y_hat, y)
    check_close(f"mse on shape {shape}", got, F.mse_loss(torch.from_numpy(y_hat), torch.from_numpy(y)).item())
### END HIDDEN TESTS

# %% solution id=mae
def mae(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Mean absolute error, mean over all entries of |y_hat - y|.

    Inputs:
        y_hat: predictions, any shape.
        y: targets, same shape as y_hat.
    Returns:
        loss: a number.
    """
    ### BEGIN SOLUTION
    return float(np.mean(np.abs(y_hat - y)))
    ### END SOLUTION


# %% tests id=test_mae points=1
y_hat, y = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0])
check_close("mae(y_hat, y)", mae(y_hat, y), 1.0, hint="(|0| + |-1| + |2|) / 3: take the absolute value before the mean")
print("mae: visible test passed")
### BEGIN HIDDEN TESTS
import torch
import torch.nn.functional as F
rng = np.random.default_rng(115)
for shape in [(1,), (10,), (4, 3), (2, 3, 5)]:
    y_hat, y = rng.standard_normal(shape) * 3, rng.standard_normal(shape) * 3
    with from_scratch("mae"):
        got = mae(y_hat, y)
    check_close(f"mae on shape {shape}", got, F.l1_loss(torch.from_numpy(y_hat), torch.from_numpy(y)).item())
### END HIDDEN TESTS

# %% solution id=huber
def huber(y_hat: np.ndarray, y: np.ndarray, delta: float = 1.0) -> float:
    """Huber loss, mean over all entries: 0.5 r**2 where |r| <= delta, else delta * (|r| - 0.5 delta).

    Inputs:
        y_hat: predictions, any shape.
        y: targets, same shape as y_hat.
        delta: where the quadratic piece turns linear, > 0.
    Returns:
        loss: a number.
    """
    ### BEGIN SOLUTION
    r = np.abs(y_hat - y)
    return float(np.mean(np.where(r <= delta, 0.5 * r ** 2, delta * (r - 0.5 * delta))))
    ### END SOLUTION


# %% tests id=test_huber points=1
y_hat, y = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 2.0])
check_close("huber(y_hat, y, delta=1.0)", huber(y_hat, y, 1.0), (0.0 + 0.5 + 1.5) / 3,
            hint="residuals 0, -1, 2: 0.5 * 0**2, 0.5 * 1**2, then 1.0 * (2 - 0.5) for the one beyond delta")
check_close("huber(y_hat, y, delta=0.5)", huber(y_hat, y, 0.5), (0.0 + 0.375 + 0.875) / 3,
            hint="beyond delta the loss is delta * (|r| - 0.5 * delta); use the delta argument")
print("huber: visible test passed")
### BEGIN HIDDEN TESTS
import torch
import torch.nn.functional as F
rng = np.random.default_rng(116)
for shape, delta in [((1,), 1.0), ((10,), 0.3), ((4, 3), 2.0), ((2, 3, 5), 1.5)]:
    y_hat, y = rng.standard_normal(shape) * 3, rng.standard_normal(shape) * 3
    expected = F.huber_loss(torch.from_numpy(y_hat), torch.from_numpy(y), delta=delta).item()
    with from_scratch("huber"):
        got = huber(y_hat, y, delta)
    check_close(f"huber on shape {shape}, delta={delta}", got, expected)
### END HIDDEN TESTS

# %% markdown
# **Classification.** For a yes/no label $y \in \{0, 1\}$ and a predicted probability
# $p = P(y = 1)$ (a sigmoid output), the **binary cross-entropy** is the negative log of the
# probability the model gave to the true answer, averaged over the $N$ examples:
#
# $$\text{BCE} = -\frac{1}{N}\sum_{i=1}^{N} \big[\, y_i \log p_i + (1 - y_i) \log(1 - p_i) \,\big].$$
#
# Being confidently wrong is punished without limit ($-\log p \to \infty$ as $p \to 0$), being right
# costs almost nothing. For $C$ classes the network outputs $C$ **logits** $\mathbf{z}$ per example,
# softmax makes them probabilities, and the **cross-entropy** is again minus the log-probability of
# the true class $c$:
#
# $$\ell = -\log \mathrm{softmax}(\mathbf{z})_c = -z_c + \log \sum_{j=1}^{C} e^{z_j} .$$
#
# The second form is the one to compute: it never forms the probabilities, so it never takes the log
# of an underflowed 0. The **log-sum-exp** is made safe by the same shift as softmax,
# $\log \sum_j e^{z_j} = m + \log \sum_j e^{z_j - m}$ with $m = \max_j z_j$.
#
# **A word on other losses.** Not every task has labels per example. **Contrastive** losses learn
# embeddings (vectors) by pulling pairs that belong together (two views of one image) close and
# pushing other pairs apart. The **triplet** loss takes an anchor $a$, a positive $p$ and a negative
# $n$ and asks the anchor to be nearer the positive by a margin $m$:
# $\max(0,\ d(a, p) - d(a, n) + m)$. Face recognition and the image-text models behind modern search
# are trained this way; Module 5's attention builds on the same kind of similarity scores.
#
# ### Exercise 13: `binary_cross_entropy`

# %% solution id=binary_cross_entropy
def binary_cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    """Binary cross-entropy, mean over all entries of -(y log p + (1 - y) log(1 - p)).

    Inputs:
        p: predicted probabilities of class 1, any shape, entries in [1e-12, 1 - 1e-12]
            (the tests go that close to 0 and to 1).
        y: labels, same shape as p, entries 0 or 1.
    Returns:
        loss: a number. Use p as given: a confident wrong answer (p = 1e-12 for y = 1) costs its
            full -log(1e-12) = 27.63. Clipping p to [1e-12, 1 - 1e-12] changes nothing and is
            allowed; clipping further (to [1e-7, 1 - 1e-7], say) changes the loss and is not.
    """
    ### BEGIN SOLUTION
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    ### END SOLUTION


# %% tests id=test_binary_cross_entropy points=1
p, y = np.array([0.9, 0.2, 0.5]), np.array([1.0, 0.0, 1.0])
check_close("binary_cross_entropy(p, y)", binary_cross_entropy(p, y), (-np.log(0.9) - np.log(0.8) - np.log(0.5)) / 3,
            hint="-(y log p + (1 - y) log(1 - p)), averaged; mind the minus sign: the loss is positive")
print("binary_cross_entropy: visible test passed")
### BEGIN HIDDEN TESTS
import torch
import torch.nn.functional as F
rng = np.random.default_rng(117)
for shape in [(1,), (10,), (4, 3), (2, 3, 5)]:
    p = rng.uniform(0.01, 0.99, shape)
    y = rng.integers(0, 2, shape).astype(np.float64)
    expected = F.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(y)).item()
    with from_scratch("binary_cross_entropy"):
        got = binary_cross_entropy(p, y)
    check_close(f"binary_cross_entropy on shape {shape}", got, expected)
# At the ends of the docstring's range [1e-12, 1 - 1e-12]. For p >= 0.5, 1 - p is exact in
# floating point, so every correct formula (log(1 - p), log1p(-p)) gives the same loss here;
# a p clipped further than the contract allows (np.clip(p, 1e-7, 1 - 1e-7), say) fails.
for p_edge, y_edge in [(1e-12, 1.0), (1.0 - 1e-12, 0.0), (1.0 - 2.0**-39, 0.0), (1e-12, 0.0), (1.0 - 1e-12, 1.0)]:
    p, y = np.array([p_edge, 0.5]), np.array([y_edge, 1.0])
    expected = F.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(y)).item()
    with from_scratch("binary_cross_entropy"):
        got = binary_cross_entropy(p, y)
    check_close(f"binary_cross_entropy for p = {p_edge!r}, y = {y_edge:g}", got, expected,
                rtol=1e-9, atol=1e-12, hint="use p as given (the docstring allows clipping to [1e-12, 1 - 1e-12] at most)")
### END HIDDEN TESTS

# %% markdown
# ### Exercise 14: `cross_entropy`
#
# Cross-entropy from raw logits for a batch, with integer class labels, averaged over the batch.
# It must stay finite for logits of size 1000. Hint: `logits[np.arange(N), y]` picks each row's
# true-class logit.

# %% solution id=cross_entropy
def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Softmax cross-entropy from logits, stable via log-sum-exp, mean over the batch.

    Inputs:
        logits: raw scores (N, C).
        y: integer class labels (N,), each in 0 .. C-1.
    Returns:
        loss: a number, mean over the N examples of -z[y] + log(sum_j exp(z_j)).
    """
    ### BEGIN SOLUTION
    m = np.max(logits, axis=1, keepdims=True)
    log_sum_exp = m[:, 0] + np.log(np.sum(np.exp(logits - m), axis=1))
    n = logits.shape[0]
    return float(np.mean(log_sum_exp - logits[np.arange(n), y]))
    ### END SOLUTION


# %% tests id=test_cross_entropy points=2
logits = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
y = np.array([0, 2])
expected = (0.4170300162778335 + np.log(3.0)) / 2
check_close("cross_entropy(logits, y)", cross_entropy(logits, y), expected,
            hint="per row: log(sum_j exp(z_j)) - z_y; then the mean over rows")
check_close("cross_entropy(logits + 1000, y)", cross_entropy(logits + 1000.0, y), expected,
            hint="log-sum-exp: subtract each row's max m, then log(sum(exp(z - m))) + m; never exp(1000)")
print("cross_entropy: visible test passed")
### BEGIN HIDDEN TESTS
import torch
import torch.nn.functional as F
rng = np.random.default_rng(118)
for n, c, scale in [(1, 3, 1.0), (8, 5, 3.0), (16, 10, 1000.0), (5, 2, 50.0)]:
    logits = rng.standard_normal((n, c)) * scale
    y = rng.integers(0, c, n)
    expected = F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)).item()
    with from_scratch("cross_entropy"):
        got = cross_entropy(logits, y)
    check_close(f"cross_entropy on logits ({n}, {c}) of scale {scale:g}", got, expected)
### END HIDDEN TESTS

# %% markdown
# With losses and a forward pass in hand, one ingredient of training is left before gradients: where
# the weights start.
#
# ## 10. Weight initialisation
#
# **Not all the same.** If every weight of a layer starts equal (zero, say), every hidden unit
# computes the same thing and receives the same update, for ever: the layer behaves like one unit.
# Random initial weights break that symmetry.
#
# **Not too small, not too large.** Each unit sums $D_\text{in}$ terms $w_i h_i$, where $h$ is the
# previous layer's output. With independent zero-mean weights of variance $\mathrm{Var}(w)$, the
# pre-activation $z$ has variance
#
# $$\mathrm{Var}(z) = D_\text{in}\,\mathrm{Var}(w)\,\mathbb{E}[h^2].$$
#
# If that is larger than the previous layer's, signals grow layer after layer until tanh
# saturates or values blow up; if smaller, they shrink towards zero, and the gradients with them.
# For an activation that is roughly the identity near zero and symmetric (tanh),
# $\mathbb{E}[h^2] \approx \mathrm{Var}(z_\text{previous})$, and the variance stays put when
# $D_\text{in}\,\mathrm{Var}(w) = 1$. Two standard schemes scale the variance by the layer's size:
#
# * **Xavier / Glorot**: $W \sim \mathcal{N}\!\left(0,\ \dfrac{2}{D_\text{in} + D_\text{out}}\right)$,
#   the fan-in rule averaged with the same rule for the backward pass (fan-out).
# * **He / Kaiming**: $W \sim \mathcal{N}\!\left(0,\ \dfrac{2}{D_\text{in}}\right)$, twice the
#   fan-in rule.
#
# Which activation needs which is Concept check 4, after the exercise: work out $\mathbb{E}[h^2]$
# for $h = \mathrm{ReLU}(z)$ with $z$ symmetric around zero. Biases start at zero. (The second
# argument of $\mathcal{N}$ is the variance; the standard deviation is its square root.)
#
# ### Exercise 15: `init_params`
#
# Return the list of `(W, b)` pairs for an MLP with the given layer sizes. Draw every random number
# from the generator `rng` you are given (for example `rng.standard_normal(shape) * std`), so the
# same seed always gives the same network; do not use `np.random` directly.

# %% solution id=init_params
def init_params(layer_sizes: list[int], method: str, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Initialise an MLP: W_l ~ N(0, var) with He var = 2 / D_in or Xavier var = 2 / (D_in + D_out); b_l = 0.

    Inputs:
        layer_sizes: [D_0, D_1, ..., D_L], the width of every layer, input first.
        method: "he" or "xavier".
        rng: NumPy generator (np.random.default_rng(seed)), the only source of randomness.
    Returns:
        params: list of L pairs (W_l, b_l), W_l of shape (D_{l-1}, D_l), b_l zeros of shape (D_l,).
    """
    ### BEGIN SOLUTION
    params = []
    for d_in, d_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        if method == "he":
            std = np.sqrt(2.0 / d_in)
        elif method == "xavier":
            std = np.sqrt(2.0 / (d_in + d_out))
        else:
            raise ValueError(f"method must be 'he' or 'xavier', got {method!r}")
        params.append((rng.standard_normal((d_in, d_out)) * std, np.zeros(d_out)))
    return params
    ### END SOLUTION


# %% tests id=test_init_params points=2
params = init_params([400, 300, 100], "he", np.random.default_rng(0))
check_equal("len(params) for layer sizes [400, 300, 100]", len(params), 2, hint="one (W, b) pair per pair of consecutive sizes")
W1, b1 = params[0]
check_shape("W1", W1, (400, 300), hint="W has shape (D_in, D_out), so that X @ W works")
check_shape("b1", b1, (300,))
check_close("b1", b1, np.zeros(300), hint="biases start at zero")
check_close("std of W1 (he)", W1.std(), np.sqrt(2 / 400), rtol=0.03, atol=0,
            hint="He: standard deviation sqrt(2 / D_in), here sqrt(2 / 400) = 0.0707 (tolerance 3%: it is random)")
W1x, _ = init_params([400, 300, 100], "xavier", np.random.default_rng(0))[0]
check_close("std of W1 (xavier)", W1x.std(), np.sqrt(2 / 700), rtol=0.03, atol=0,
            hint="Xavier: standard deviation sqrt(2 / (D_in + D_out)), here sqrt(2 / 700) = 0.0535")
print("init_params: visible test passed")
### BEGIN HIDDEN TESTS
# Standard deviations are estimated from >= 20,000 draws: a 3% tolerance is more than 6 standard errors.
for method in ["he", "xavier"]:
    for sizes in [[784, 256, 128, 10], [50, 1000, 40], [200, 150]]:
        with from_scratch("init_params"):
            params = init_params(sizes, method, np.random.default_rng(7))
        check_equal(f"len(init_params({sizes}, {method!r}))", len(params), len(sizes) - 1)
        for l, (W, b) in enumerate(params):
            d_in, d_out = sizes[l], sizes[l + 1]
            check_shape(f"W{l + 1} for {sizes}", W, (d_in, d_out))
            check_shape(f"b{l + 1} for {sizes}", b, (d_out,))
            check_close(f"b{l + 1}", b, np.zeros(d_out))
            std = np.sqrt(2.0 / d_in) if method == "he" else np.sqrt(2.0 / (d_in + d_out))
            if W.size >= 20000:
                check_close(f"std of W{l + 1} ({method}, {d_in} x {d_out})", W.std(), std, rtol=0.03, atol=0)
                check_true(abs(W.mean()) < 5 * std / np.sqrt(W.size), f"mean of W{l + 1} ({method}) should be close to 0, got {W.mean():.3g}")
    with from_scratch("init_params"):
        a = init_params([30, 20, 5], method, np.random.default_rng(123))
    with from_scratch("init_params"):
        c = init_params([30, 20, 5], method, np.random.default_rng(123))
    with from_scratch("init_params"):
        d = init_params([30, 20, 5], method, np.random.default_rng(124))
    for l in range(2):
        check_close(f"W{l + 1} with the same seed twice ({method})", a[l][0], c[l][0],
                    hint="draw from the rng argument only: the same seed must give the same weights")
    check_true(not np.allclose(a[0][0], d[0][0]), f"different seeds gave the same W1 ({method}): use the rng argument, not a fixed generator")
### END HIDDEN TESTS

# %% markdown
# ### Concept check 4
#
# You build a deep network with ReLU hidden layers. Which initialisation keeps the variance of the
# activations roughly constant from layer to layer?
#
# (a) all weights zero &nbsp;&nbsp; (b) $\mathcal{N}(0, 1)$ &nbsp;&nbsp;
# (c) Xavier, $\mathcal{N}(0, 2/(D_\text{in} + D_\text{out}))$ &nbsp;&nbsp; (d) He, $\mathcal{N}(0, 2/D_\text{in})$

# %% solution id=q4_answer
q4_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q4_answer = "d"
### END SOLUTION

# %% tests id=test_q4_answer points=1
check_true(q4_answer in ("a", "b", "c", "d"), f"q4_answer is {q4_answer!r}; set it to one of 'a', 'b', 'c', 'd' (a string).")
print("q4_answer: a valid choice (graded when you submit)")
### BEGIN HIDDEN TESTS
check_equal("q4_answer", q4_answer, "d")
### END HIDDEN TESTS

# %% markdown
# **The answer, measured.** The picture shows the spread (standard deviation) of the activations
# in each layer of a 20-layer network of width 256, for four initialisations, drawn with your
# `init_params`. Too small and the signal dies out; too large and tanh saturates (all outputs near
# $\pm 1$) or ReLU values explode. ReLU zeroes the negative half of its inputs, so
# $\mathbb{E}[h^2] = \tfrac{1}{2}\mathrm{Var}(z)$: the variance halves at every layer unless the
# weights double it, which is He's factor 2. Xavier suits tanh and sigmoid; He suits ReLU.

# %% code tags=demo
def activation_spread(init, f, layers=20, width=256, n=500, seed=0):
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((n, width))
    spreads = []
    for _ in range(layers):
        if init in ("he", "xavier"):
            W, b = init_params([width, width], init, rng)[0]
        else:
            W, b = rng.standard_normal((width, width)) * init, np.zeros(width)
        H = f(H @ W + b)
        spreads.append(H.std())
    return spreads


fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for ax, (name, f) in zip(axes, [("tanh", np.tanh), ("ReLU", lambda z: np.maximum(z, 0.0))]):
    for init, label in [(0.01, "N(0, 0.01^2)"), (1.0, "N(0, 1)"), ("xavier", "Xavier"), ("he", "He")]:
        ax.semilogy(range(1, 21), activation_spread(init, f), "o-", ms=3, label=label)
    ax.set(title=f"{name} network: activation std by layer", xlabel="layer", ylabel="std of activations (log scale)")
    ax.legend(fontsize=9)
fig.tight_layout()
plt.show()

# %% markdown
# ## 11. Training a 2-2-1 network on XOR
#
# Time to beat XOR. The network has 2 inputs, a hidden layer of 2 sigmoid units and 1 sigmoid
# output, read as the probability that XOR is 1:
#
# $$H = \sigma(X W_1 + \mathbf{b}_1), \qquad \mathbf{p} = \sigma(H W_2 + b_2), \qquad
# W_1: (2, 2),\ \mathbf{b}_1: (2,),\ W_2: (2, 1),\ b_2: (1,).$$
#
# (Unlike `mlp_forward`, this network's output layer has an activation: the sigmoid turns the score
# into a probability.) The loss is the binary cross-entropy over the four XOR examples, and
# **gradient descent** repeats: compute the gradient of the loss with respect to every parameter,
# take a small step against it, $\theta \leftarrow \theta - \eta\, \partial L / \partial \theta$.
#
# Module 2 derives gradients in general (backpropagation). For this network, with $X$ of shape
# $(4, 2)$ and targets $\mathbf{y}$ as a column $(4, 1)$, they are:
#
# $$\begin{aligned}
# dZ_2 &= (\mathbf{p} - \mathbf{y}) / N & (4, 1) \qquad & dW_2 = H^\top dZ_2, \quad db_2 = \textstyle\sum_\text{rows} dZ_2 \\
# dH &= dZ_2\, W_2^\top & (4, 2) \qquad & dZ_1 = dH \odot H \odot (1 - H) \\
# dW_1 &= X^\top dZ_1 & (2, 2) \qquad & db_1 = \textstyle\sum_\text{rows} dZ_1
# \end{aligned}$$
#
# ($\odot$ is the entry-by-entry product, `*`; $H(1 - H)$ is $\sigma'$ of the hidden pre-activation.)
# The first line is why sigmoid and binary cross-entropy are paired: the output's gradient is simply
# "prediction minus target".
#
# ### Exercise 16: `train_xor`
#
# Follow the recipe in the docstring exactly (same generator calls in the same order), so that the
# result is reproducible. Record the loss of every epoch, computed before that epoch's update. The
# whole training takes well under a second. Hint: write the forward pass, the loss, the six gradient
# lines above, then the six updates, inside one `for` loop.

# %% solution id=train_xor
def train_xor(lr: float = 1.0, epochs: int = 5000, seed: int = 0) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[float]]:
    """Train a 2-2-1 sigmoid network on the four XOR examples with full-batch gradient descent on BCE.

    Recipe: X = [[0, 0], [0, 1], [1, 0], [1, 1]], y = [[0], [1], [1], [0]];
    rng = np.random.default_rng(seed); W1 = rng.standard_normal((2, 2)); b1 = np.zeros(2);
    W2 = rng.standard_normal((2, 1)); b2 = np.zeros(1); then `epochs` steps of gradient descent
    with learning rate lr, using the gradients given above.

    Inputs:
        lr: learning rate.
        epochs: number of gradient-descent steps (each uses all four examples).
        seed: seed of the generator for the initial weights.
    Returns:
        params: [(W1 (2, 2), b1 (2,)), (W2 (2, 1), b2 (1,))], the trained network:
            p = sigmoid(sigmoid(X @ W1 + b1) @ W2 + b2).
        losses: list of `epochs` floats, the mean BCE before each update.
    """
    ### BEGIN SOLUTION
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    rng = np.random.default_rng(seed)
    W1, b1 = rng.standard_normal((2, 2)), np.zeros(2)
    W2, b2 = rng.standard_normal((2, 1)), np.zeros(1)
    losses = []
    n = len(X)
    for _ in range(epochs):
        H = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
        p = 1.0 / (1.0 + np.exp(-(H @ W2 + b2)))
        losses.append(float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))
        dZ2 = (p - y) / n
        dW2, db2 = H.T @ dZ2, dZ2.sum(axis=0)
        dZ1 = (dZ2 @ W2.T) * H * (1 - H)
        dW1, db1 = X.T @ dZ1, dZ1.sum(axis=0)
        W1, b1 = W1 - lr * dW1, b1 - lr * db1
        W2, b2 = W2 - lr * dW2, b2 - lr * db2
    return [(W1, b1), (W2, b2)], losses
    ### END SOLUTION


# %% tests id=test_train_xor points=3
X_xor = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y_xor = np.array([0, 1, 1, 0])


def xor_network_output(params, X):
    """The 2-2-1 sigmoid network's forward pass: p = sigmoid(sigmoid(X @ W1 + b1) @ W2 + b2), shape (N,)."""
    (W1, b1), (W2, b2) = params
    H = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
    return (1.0 / (1.0 + np.exp(-(H @ W2 + b2))))[:, 0]


params, losses = train_xor()
check_equal("len(params)", len(params), 2, hint="return [(W1, b1), (W2, b2)] and the list of losses")
for name, got, shape in [("W1", params[0][0], (2, 2)), ("b1", params[0][1], (2,)), ("W2", params[1][0], (2, 1)), ("b2", params[1][1], (1,))]:
    check_shape(name, got, shape)
check_equal("len(losses)", len(losses), 5000, hint="one loss per epoch")
p = xor_network_output(params, X_xor)
check_equal("XOR predictions (p > 0.5) of the trained network", (p > 0.5).astype(int), y_xor,
            hint="check the gradient formulas and that you subtract lr * gradient from each parameter")
check_true(losses[-1] < losses[0], f"the loss should fall during training: first {losses[0]:.4f}, last {losses[-1]:.4f}")
print(f"train_xor: visible test passed; p = {np.round(p, 3)}, final loss {losses[-1]:.4f}")
### BEGIN HIDDEN TESTS
def reference_bce(p, y):
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

check_true(abs(losses[-1] - reference_bce(xor_network_output(params, X_xor), y_xor)) < 0.01,
           "the last recorded loss should be (close to) the BCE of the returned network")
check_true(reference_bce(xor_network_output(params, X_xor), y_xor) < 0.1,
           "after 5000 epochs with lr=1 the BCE should be below 0.1")
with from_scratch("train_xor"):
    params2, losses2 = train_xor(lr=1.0, epochs=5000, seed=0)
for l in range(2):
    check_close(f"W{l + 1} from a second run with seed 0", params2[l][0], params[l][0],
                hint="use np.random.default_rng(seed) inside the function so runs are reproducible")
with from_scratch("train_xor"):
    params3, losses3 = train_xor(lr=2.0, epochs=3000, seed=0)
check_equal("len(losses) with epochs=3000", len(losses3), 3000)
check_equal("XOR predictions with lr=2, epochs=3000", (xor_network_output(params3, X_xor) > 0.5).astype(int), y_xor)
### END HIDDEN TESTS

# %% markdown
# Two hidden units are enough: XOR is solved. The picture shows how. Each hidden unit draws one
# line; the output combines the two half-planes into the band between them.

# %% code tags=demo
from course_utils.plotting import plot_curves, plot_decision_boundary

params_xor, losses_xor = train_xor()
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10.5, 4))
plot_decision_boundary(lambda G: (xor_network_output(params_xor, G) > 0.5).astype(int), X_xor, y_xor, ax=ax0,
                       title="2-2-1 network on XOR: predicted class")
W1_xor, b1_xor = params_xor[0]
g = np.linspace(-0.5, 1.5, 2)
for j in range(2):
    ax0.plot(g, -(W1_xor[0, j] * g + b1_xor[j]) / W1_xor[1, j], "--", color="k", lw=1)
ax0.set(xlim=(-0.5, 1.5), ylim=(-0.5, 1.5))
plot_curves({"BCE": losses_xor}, xlabel="epoch", ylabel="loss", title="Training loss", ax=ax1, logy=True)
fig.tight_layout()
plt.show()

# %% markdown
# The dashed lines are the two hidden units' boundaries. Not every seed succeeds: from some starting
# points gradient descent settles in a **local minimum** where one hidden unit is wasted and one
# input is misclassified (try `train_xor(seed=6)` in a scratch cell). Larger networks rarely get
# stuck like this, one reason networks are usually wider than the bare minimum.
#
# ## 12. A tour of network families and frameworks
#
# Everything in this course is built from the layer you wrote, $f(XW + \mathbf{b})$, arranged in
# different ways for different kinds of data:
#
# | family | the idea | typical data | module |
# | --- | --- | --- | --- |
# | feed-forward (MLP) | layers in a chain, every unit sees every input | tables, small fixed-size inputs | 1-2 |
# | convolutional (CNN) | small filters slid over the input, the same weights everywhere | images, audio | 3 |
# | recurrent (RNN) | one cell applied step by step, carrying a hidden state | sequences, time series | 4 |
# | LSTM / GRU | RNN cells with gates that decide what to keep and forget, so memories last longer | text, speech | 4 |
# | transformer | attention: every position looks at every other, weighted by similarity | language, and now most things | 5 |
# | autoencoder | squeeze the input through a narrow code and reconstruct it | compression, denoising, anomaly detection | 6 |
# | GAN | a generator makes samples, a discriminator tells them from real ones; they train against each other | image synthesis | 6 |
#
# **Frameworks** do the bookkeeping you did by hand: tensors on CPU or GPU, layers, and above all
# automatic differentiation, so no one writes gradient formulas like the ones above. **PyTorch**
# (this course) builds the computation graph *dynamically*, while your Python code runs: loops and
# `if`s are ordinary Python and can differ on every call, which makes debugging easy. **TensorFlow**
# with its **Keras** interface started with *static* graphs (define the whole graph first, then run
# it), which a compiler can optimise; today it runs eagerly and compiles functions marked
# `@tf.function` into graphs. **JAX** transforms pure NumPy-like functions: `jax.grad` differentiates
# them and `jax.jit` traces them once into a static graph compiled with XLA. The trend is the same
# everywhere: write dynamic code, compile the hot parts.
#
# Here is the XOR network again in PyTorch: no gradient formulas, `loss.backward()` computes them.

# %% code tags=demo
import torch
from torch import nn

torch.manual_seed(0)
X_t = torch.tensor(X_xor, dtype=torch.float32, device=device)
y_t = torch.tensor(y_xor, dtype=torch.float32, device=device)[:, None]
model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1), nn.Sigmoid()).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
for epoch in range(3000):
    loss = nn.functional.binary_cross_entropy(model(X_t), y_t)
    optimizer.zero_grad()
    loss.backward()   # the graph recorded during this forward pass is differentiated, then discarded
    optimizer.step()
print("PyTorch 2-2-1 network, XOR predictions:", (model(X_t) > 0.5).int().flatten().tolist(), f"| final loss {loss.item():.2f}")

# %% markdown
# A static graph can be extracted from a PyTorch model by tracing it: `torch.fx` records the
# operations once into a graph object that tools can inspect, transform and compile
# (`torch.compile` works on such graphs). Printing it shows the network as a list of operations:

# %% code tags=demo
from torch import fx

graph_module = fx.symbolic_trace(model.cpu())
print(graph_module.graph)

# %% markdown
# ## Summary
#
# * A neuron computes $f(\mathbf{w} \cdot \mathbf{x} + b)$; a layer does it for many neurons at once
#   as $f(XW + \mathbf{b})$; an MLP chains layers, the last one linear.
# * Activations make depth useful. Sigmoid and tanh saturate (vanishing gradients); ReLU does not
#   for positive inputs but can die; leaky ReLU and GELU soften that.
# * The perceptron learns any linearly separable problem and no other: XOR needs a hidden layer.
# * Losses: MSE, MAE, Huber for regression; binary and categorical cross-entropy for
#   classification, computed stably (max-subtraction, log-sum-exp).
# * Initialise with Xavier (tanh, sigmoid) or He (ReLU) to keep signals at a steady scale.
# * Gradient descent on a 2-2-1 network solves XOR. Module 2 shows how to compute the gradients for
#   any network: backpropagation.
