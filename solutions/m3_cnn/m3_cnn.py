# %% markdown
# # Module 3: convolutional networks
#
# A fully connected layer treats an image as a list of numbers: move a digit one pixel to the
# right and every input changes. A convolutional layer instead slides one small set of weights
# (a *kernel*) over the whole image, so the same pattern is detected wherever it appears, with a
# handful of parameters instead of millions.
#
# In this notebook you will
#
# 1. compute output sizes and parameter counts of convolutional layers;
# 2. write a convolution twice in NumPy, with loops and then vectorised (im2col), and its backward
#    pass;
# 3. write max pooling forward and backward, and compute receptive fields;
# 4. build a small CNN in PyTorch that reads handwritten digits with at least 98% accuracy, look
#    at what its filters learned, and measure where a CNN beats a fully connected network;
# 5. write a residual block (the idea behind ResNet) and measure what it changes in a deep stack,
#    an augmentation function, and reuse a trained network on new classes with very few labels
#    (fine-tuning).
#
# Images are always batches shaped `(N, C, H, W)`: N images, C channels, H rows, W columns.

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
from numpy.lib.stride_tricks import sliding_window_view
from tqdm.auto import tqdm

from course_utils import grad_check
from course_utils.checks import from_scratch
from course_utils.data import load_digits_split, load_sample_photo
from course_utils.plotting import OKABE_ITO, LiveCurves, image_grid
from course_utils.widgets import dropdown, int_slider, slider_plot

# %% markdown
# ## 1. Convolution is a sliding dot product
#
# Take a grey image $x$ of size $H \times W$ and a kernel $w$ of size $k \times k$. The output at
# row $i$, column $j$ is the dot product of the kernel with the patch of the image under it:
#
# $$ y_{i,j} = \sum_{u=0}^{k-1} \sum_{v=0}^{k-1} w_{u,v}\, x_{i+u,\, j+v} + b. $$
#
# Mathematicians call this *cross-correlation*; a true convolution flips the kernel first
# ($w_{k-1-u,\,k-1-v}$). Deep learning libraries all compute the cross-correlation and call it
# convolution. Since the kernel is learned, the flip would make no difference to what a network
# can do, but it matters when you compare your code with PyTorch's.
#
# With $C$ input channels the kernel has a slice per channel, $w \in \mathbb{R}^{C \times k \times k}$,
# and the sum runs over channels too. A layer has $F$ such kernels (filters), one output channel
# each. Two more settings:
#
# - **stride** $s$: the kernel jumps $s$ pixels at a time, so the output is about $s$ times smaller;
# - **padding** $p$: $p$ rows and columns of zeros are added on *every* side before sliding, so the
#   kernel can be centred on border pixels.
#
# Along one axis of length $n$ the kernel fits at positions $0, s, 2s, \dots$ as long as it stays
# inside the padded length $n + 2p$:
#
# $$ n_\text{out} = \left\lfloor \frac{n + 2p - k}{s} \right\rfloor + 1. $$
#
# A 3x3 kernel with $p = 1$, $s = 1$ keeps the size ("same" padding); $s = 2$ halves it. The
# picture shows one output entry being computed.

# %% code tags=demo
def draw_one_step() -> None:
    """A 5x5 input with padding 1, a 3x3 kernel at stride 2, and the 3x3 output it produces."""
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, size=(5, 5))
    w = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    xp = np.pad(x, 1)
    out = F.conv2d(torch.tensor(xp[None, None], dtype=torch.float64), torch.tensor(w[None, None], dtype=torch.float64), stride=2)[0, 0].numpy()
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), gridspec_kw={"width_ratios": [7, 3, 3]})
    for ax, arr, title in [(axes[0], xp, "padded input (p=1): 7x7"), (axes[1], w, "kernel 3x3"), (axes[2], out, "output (s=2): 3x3")]:
        ax.imshow(np.zeros_like(arr, dtype=float), cmap="Greys", vmin=0, vmax=1)
        for (r, c), v in np.ndenumerate(arr):
            ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=10)
        ax.set_xticks(np.arange(-0.5, arr.shape[1]), minor=True)
        ax.set_yticks(np.arange(-0.5, arr.shape[0]), minor=True)
        ax.grid(which="minor", color="0.6")
        ax.grid(which="major", visible=False)
        ax.set(xticks=[], yticks=[], title=title)
    # the window for output (1, 2): rows 2..4, columns 4..6 of the padded input
    axes[0].add_patch(plt.Rectangle((3.5, 1.5), 3, 3, fill=False, color=OKABE_ITO[3], lw=3))
    axes[0].add_patch(plt.Rectangle((-0.5, -0.5), 7, 7, fill=False, color=OKABE_ITO[0], lw=1.5, ls="--"))
    axes[2].add_patch(plt.Rectangle((1.5, 0.5), 1, 1, fill=False, color=OKABE_ITO[3], lw=3))
    fig.suptitle("y[1, 2] = sum(kernel * red window): the window starts at row 1*s, column 2*s")
    fig.tight_layout()
    plt.show()


draw_one_step()

# %% markdown
# **Parameters.** A layer with $C_\text{in}$ input channels, $C_\text{out}$ filters of size
# $k \times k$ and a bias per filter has $C_\text{out}(C_\text{in} k^2 + 1)$ parameters, whatever
# the image size. A fully connected layer from a 32x32x3 image to 32x32x16 outputs would need
# about 50 million; a 3x3 convolution doing the same job has 448.
#
# ### Exercise 1: `conv_output_size`
#
# Implement `conv_output_size(n, k, p, s)` with the formula above. Hint: Python's `//` floors.

# %% solution id=conv_output_size
def conv_output_size(n: int, k: int, p: int, s: int) -> int:
    """Length of a convolution's (or pooling's) output along one axis.

    Inputs:
        n: input length (height or width).
        k: kernel length.
        p: zero padding added on each side.
        s: stride.
    Returns:
        n_out: floor((n + 2p - k) / s) + 1, an int.
    """
    ### BEGIN SOLUTION
    return (n + 2 * p - k) // s + 1
    ### END SOLUTION


# %% tests id=test_conv_output_size points=1
check_equal("conv_output_size(5, 3, 0, 1)", conv_output_size(5, 3, 0, 1), 3, hint="a 3-wide kernel fits at 3 positions in 5")
check_equal("conv_output_size(32, 3, 1, 1)", conv_output_size(32, 3, 1, 1), 32, hint="padding 1 keeps a 3x3 convolution 'same'")
check_equal("conv_output_size(7, 3, 0, 2)", conv_output_size(7, 3, 0, 2), 3, hint="positions 0, 2, 4")
check_equal("conv_output_size(8, 3, 1, 2)", conv_output_size(8, 3, 1, 2), 4, hint="(8 + 2 - 3) / 2 = 3.5: floor it, then add 1")
print("conv_output_size: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(3)
for _ in range(200):
    _k, _p, _s = int(_rng.integers(1, 8)), int(_rng.integers(0, 4)), int(_rng.integers(1, 5))
    _n = int(_rng.integers(max(1, _k - 2 * _p), 40))
    _expected = F.conv1d(torch.zeros(1, 1, _n), torch.zeros(1, 1, _k), padding=_p, stride=_s).shape[-1]
    _got = conv_output_size(_n, _k, _p, _s)
    check_true(isinstance(_got, (int, np.integer)) and not isinstance(_got, bool),
               f"conv_output_size returned {type(_got).__name__}, expected an int", hint="// floors and keeps ints; / and np.floor give floats")
    check_equal(f"conv_output_size({_n}, {_k}, {_p}, {_s})", _got, _expected)
check_equal("conv_output_size(224, 11, 2, 4)", conv_output_size(224, 11, 2, 4), 55)
check_equal("conv_output_size(1, 1, 0, 1)", conv_output_size(1, 1, 0, 1), 1)
### END HIDDEN TESTS

# %% markdown
# ### Exercise 2: `conv_param_count`
#
# Implement `conv_param_count(c_in, c_out, k, bias)`: the number of learnable numbers in a layer
# of `c_out` filters of size `c_in x k x k`, plus one bias per filter when `bias` is true.

# %% solution id=conv_param_count
def conv_param_count(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    """Number of parameters of a 2-D convolution with square k x k kernels.

    Inputs:
        c_in: input channels.
        c_out: output channels (filters).
        k: kernel height = width.
        bias: whether each filter has a bias.
    Returns:
        count: an int.
    """
    ### BEGIN SOLUTION
    return c_out * (c_in * k * k + (1 if bias else 0))
    ### END SOLUTION


# %% tests id=test_conv_param_count points=1
check_equal("conv_param_count(3, 16, 3, True)", conv_param_count(3, 16, 3, True), 448, hint="16 filters of 3*3*3 weights, plus 16 biases")
check_equal("conv_param_count(3, 16, 3, False)", conv_param_count(3, 16, 3, False), 432, hint="without bias: weights only")
print("conv_param_count: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(4)
for _ in range(50):
    _ci, _co, _k = (int(v) for v in _rng.integers(1, 20, size=3))
    for _bias in (True, False):
        _layer = nn.Conv2d(_ci, _co, min(_k, 7), bias=_bias)
        _expected = sum(p.numel() for p in _layer.parameters())
        check_equal(f"conv_param_count({_ci}, {_co}, {min(_k, 7)}, {_bias})", conv_param_count(_ci, _co, min(_k, 7), _bias), _expected)
check_equal("conv_param_count(1, 1, 1, True)", conv_param_count(1, 1, 1, True), 2)
check_equal("conv_param_count(64, 128, 3)", conv_param_count(64, 128, 3), 73856)
for _args in [(3, 16, 3, True), (1, 1, 1, False), (64, 128, 3, True)]:
    _got = conv_param_count(*_args)
    check_true(isinstance(_got, (int, np.integer)) and not isinstance(_got, bool),
               f"conv_param_count{_args} returned {type(_got).__name__}, expected an int (a count of parameters)")
### END HIDDEN TESTS

# %% markdown
# ## 2. A convolution with loops
#
# Now the full layer: a batch `x` of shape `(N, C, H, W)`, filters `w` of shape `(F, C, kh, kw)`
# and biases `b` of shape `(F,)`. After padding `x` with zeros, output channel `f` at `(i, j)` is
#
# $$ y_{n,f,i,j} = b_f + \sum_{c}\sum_{u}\sum_{v} w_{f,c,u,v}\; x^\text{pad}_{n,\,c,\,i s + u,\, j s + v}. $$
#
# ### Exercise 3: `conv2d_naive`
#
# Write it with loops over the output positions (and, if you like, over images and filters):
# pad with `np.pad`, cut out the window, multiply by the kernel, sum, add the bias. Return
# `(out, cache)` with `cache = (x, w, b, stride, pad)`: the backward pass later needs exactly these.

# %% solution id=conv2d_naive
def conv2d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> tuple[np.ndarray, tuple]:
    """Forward pass of a convolutional layer (cross-correlation), written with loops.

    y[n, f, i, j] = b[f] + sum_{c,u,v} w[f, c, u, v] * xpad[n, c, i*stride + u, j*stride + v]

    Inputs:
        x: images (N, C, H, W).
        w: filters (F, C, kh, kw).
        b: biases (F,).
        stride: step between kernel positions, the same along both axes.
        pad: zeros added on each of the four sides.
    Returns:
        out: (N, F, H_out, W_out), H_out = (H + 2*pad - kh) // stride + 1 (W_out alike).
        cache: the tuple (x, w, b, stride, pad).
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F_, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out = (H + 2 * pad - kh) // stride + 1
    W_out = (W + 2 * pad - kw) // stride + 1
    out = np.zeros((N, F_, H_out, W_out), dtype=np.result_type(x, w))
    for n in range(N):
        for f in range(F_):
            for i in range(H_out):
                for j in range(W_out):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, stride, pad)
    ### END SOLUTION


# %% tests id=test_conv2d_naive points=2
_x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
_w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
_out, _cache = conv2d_naive(_x, _w, np.zeros(1), stride=1, pad=0)
check_close("conv2d_naive(x, w)[0, 0]", _out[0, 0], np.full((3, 3), -5.0),
            hint="y[i, j] = x[i, j] - x[i+1, j+1] = -5. Getting +5? You flipped the kernel (true convolution); do not flip it")
_rng = np.random.default_rng(0)
_x, _w, _b = _rng.standard_normal((2, 3, 5, 5)), _rng.standard_normal((4, 3, 3, 3)), _rng.standard_normal(4)
_out, _cache = conv2d_naive(_x, _w, _b, stride=2, pad=1)
_expected = F.conv2d(torch.from_numpy(_x), torch.from_numpy(_w), torch.from_numpy(_b), stride=2, padding=1).numpy()
check_close("conv2d_naive(x, w, b, stride=2, pad=1)", _out, _expected,
            hint="pad all four sides with `pad` zeros; the window for output (i, j) starts at (i*stride, j*stride)")
print("conv2d_naive: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(21)
_cases = [((1, 1, 5, 5), (1, 1, 3, 3), 1, 0), ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1), ((1, 2, 6, 9), (3, 2, 2, 3), 1, 2),
          ((3, 1, 8, 8), (2, 1, 5, 5), 3, 2), ((2, 4, 4, 4), (5, 4, 1, 1), 1, 0), ((1, 2, 5, 5), (2, 2, 5, 5), 1, 0),
          ((2, 2, 9, 7), (3, 2, 3, 3), 2, 0)]
def _check_conv_cache(name: str, cache, x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> None:
    """The docstring fixes the cache: the tuple (x, w, b, stride, pad), x unpadded."""
    check_true(isinstance(cache, tuple) and len(cache) == 5, f"{name}: cache must be the tuple (x, w, b, stride, pad)")
    for _label, _got, _exp in zip(("x", "w", "b"), cache[:3], (x, w, b)):
        check_true(isinstance(_got, np.ndarray) and _got.shape == _exp.shape and np.array_equal(_got, _exp),
                   f"{name}: cache[{('x', 'w', 'b').index(_label)}] should be the input {_label} (shape {_exp.shape})",
                   hint="keep the unpadded x in the cache; the backward pass pads it again")
    check_true((cache[3], cache[4]) == (stride, pad), f"{name}: cache[3:] is {cache[3:]!r}, expected (stride, pad) = {(stride, pad)}")


for _xs, _ws, _s, _p in _cases:
    _x, _w, _b = _rng.standard_normal(_xs), _rng.standard_normal(_ws), _rng.standard_normal(_ws[0])
    with from_scratch("conv2d_naive"):
        _out, _cache = conv2d_naive(_x.copy(), _w.copy(), _b.copy(), stride=_s, pad=_p)
    _expected = F.conv2d(torch.from_numpy(_x), torch.from_numpy(_w), torch.from_numpy(_b), stride=_s, padding=_p).numpy()
    check_close(f"conv2d_naive x{_xs} w{_ws} stride={_s} pad={_p}", _out, _expected)
    _check_conv_cache("conv2d_naive", _cache, _x, _w, _b, _s, _p)
_x = _rng.standard_normal((1, 2, 4, 4)) * 1e6
_w = _rng.standard_normal((2, 2, 3, 3))
with from_scratch("conv2d_naive"):
    _out, _ = conv2d_naive(_x, _w, np.zeros(2), stride=1, pad=1)
check_close("conv2d_naive on large inputs", _out, F.conv2d(torch.from_numpy(_x), torch.from_numpy(_w), padding=1).numpy(), rtol=1e-7, atol=1e-3)
### END HIDDEN TESTS

# %% markdown
# ## 3. A convolution explorer
#
# Kernels were designed by hand long before they were learned. A kernel whose entries sum to zero
# responds to *changes* (edges) and is blind to flat regions; one with positive entries summing to
# one averages (blurs); "sharpen" is the identity plus a little of an edge detector. Pick one,
# or type nine numbers of your own (row by row), and move stride and padding: the title gives the
# output size from the formula of section 1. This explorer uses its own reference convolution, so
# it works whatever state your own functions are in. (The first picture is the explorer's
# default setting; the controls below it redraw the second.)

# %% code tags=demo,nbval-ignore-output
photo = load_sample_photo("china", grey=True)
photo = photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2]
photo = photo.reshape(photo.shape[0] // 2, 2, photo.shape[1] // 2, 2).mean(axis=(1, 3))  # half size: faster
KERNELS = {
    "vertical edges (Sobel x)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (Sobel y)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "blur (box)": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "outline (Laplacian)": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "my kernel (type below)": None,
}


def draw_convolution(kernel: str, numbers: str, stride: int, pad: int) -> None:
    """Convolve the photo with the chosen kernel and show input, kernel and output."""
    if KERNELS[kernel] is None:
        try:
            values = [float(v) for v in numbers.replace(",", " ").split()]
        except ValueError:
            values = []
        if len(values) != 9:
            print(f"type exactly 9 numbers, got {numbers!r}; showing the identity")
            values = [0, 0, 0, 0, 1, 0, 0, 0, 0]
        k = np.array(values).reshape(3, 3)
    else:
        k = np.array(KERNELS[kernel], dtype=float)
    # a reference convolution in NumPy (not yours), so the explorer works before the exercises do
    windows = sliding_window_view(np.pad(photo, pad), (3, 3))[::stride, ::stride]
    y = np.einsum("ijuv,uv->ij", windows, k)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), gridspec_kw={"width_ratios": [4, 1.3, 4]})
    axes[0].imshow(photo, cmap="gray")
    axes[0].set(title=f"input {photo.shape[0]}x{photo.shape[1]}", xlabel="column (pixels)", ylabel="row (pixels)")
    axes[1].imshow(k, cmap="PuOr", vmin=-np.abs(k).max(), vmax=np.abs(k).max())
    for (r, c), v in np.ndenumerate(k):
        axes[1].text(c, r, f"{v:.2g}", ha="center", va="center", fontsize=9)
    axes[1].set(title="kernel", xticks=[], yticks=[])
    axes[1].grid(False)
    axes[2].imshow(y, cmap="gray")
    axes[2].set(title=f"output {y.shape[0]}x{y.shape[1]} (stride {stride}, pad {pad})", xlabel="column (pixels)", ylabel="row (pixels)")
    for ax in (axes[0], axes[2]):
        ax.grid(False)
    fig.tight_layout()


import ipywidgets as widgets

draw_convolution("vertical edges (Sobel x)", "", stride=1, pad=0)  # the explorer's default, as a static picture
plt.show()
slider_plot(
    draw_convolution,
    kernel=dropdown("kernel", list(KERNELS)),
    numbers=widgets.Text(value="0 -1 0 -1 5 -1 0 -1 0", description="9 numbers", continuous_update=False),
    stride=int_slider("stride", 1, 1, 8),
    pad=int_slider("padding", 0, 0, 20),
)

# %% markdown
# Things to try: the Sobel kernels light up the roof edges of one orientation only; the blur with
# stride 4 is a cheap way to shrink an image; a kernel of nine 1s (no division) makes the output
# nine times brighter. The output shrinks by `k - 1 - 2p` pixels at stride 1, as the formula says.
#
# ## 4. Fast convolution: im2col
#
# The loops above run `N * F * H_out * W_out` small dot products in Python, which is slow. The
# trick used by the first GPU implementations (and by Caffe) is to copy every window into a row
# of one matrix, *im2col* ("image to columns"):
#
# $$ X_\text{col} \in \mathbb{R}^{(N H_\text{out} W_\text{out}) \times (C\, k_h k_w)}, \qquad
#    W_\text{row} \in \mathbb{R}^{F \times (C\, k_h k_w)}, \qquad
#    Y = X_\text{col} W_\text{row}^\top + b. $$
#
# Then the whole layer is one matrix product, which BLAS runs at full speed. The windows overlap,
# so $X_\text{col}$ is about $k_h k_w$ times bigger than the input: memory is traded for speed.
# NumPy can even build the windows without copying anything:
# `np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))` returns a view of shape
# `(N, C, H+2p-kh+1, W+2p-kw+1, kh, kw)` that reads the same memory at shifted offsets; slicing it
# with `[:, :, ::stride, ::stride]` keeps the strided positions.
#
# ### Exercise 4: `conv2d_im2col`
#
# Same inputs, outputs and cache as `conv2d_naive`, but no Python loop over positions, images or
# filters: build the window matrix, do one matrix product, reshape to `(N, F, H_out, W_out)`.
# Hint: one axis of the window matrix is `(n, i, j)`, the other `(c, u, v)`, which matches
# `w.reshape(F, -1)`. Either orientation is correct; putting `(c, u, v)` first
# (`windows.transpose(1, 4, 5, 0, 2, 3)`) makes the copy several times faster, because it reads
# memory in an order closer to how `x` is stored.

# %% solution id=conv2d_im2col
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
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %% tests id=test_conv2d_im2col points=2
_x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
_w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
_out, _cache = conv2d_im2col(_x, _w, np.zeros(1), stride=1, pad=0)
check_close("conv2d_im2col(x, w)[0, 0]", _out[0, 0], np.full((3, 3), -5.0),
            hint="y[i, j] = x[i, j] - x[i+1, j+1] = -5. Getting +5? You flipped the kernel; do not flip it")
_rng = np.random.default_rng(0)
_x, _w, _b = _rng.standard_normal((2, 3, 5, 5)), _rng.standard_normal((4, 3, 3, 3)), _rng.standard_normal(4)
_out, _cache = conv2d_im2col(_x, _w, _b, stride=2, pad=1)
_expected = F.conv2d(torch.from_numpy(_x), torch.from_numpy(_w), torch.from_numpy(_b), stride=2, padding=1).numpy()
check_close("conv2d_im2col(x, w, b, stride=2, pad=1)", _out, _expected,
            hint="one axis of the window matrix is (n, i, j), the other (c, u, v); reshape the product so that F ends on axis 1")
print("conv2d_im2col: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(22)
_cases = [((1, 1, 5, 5), (1, 1, 3, 3), 1, 0), ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1), ((1, 2, 6, 9), (3, 2, 2, 3), 1, 2),
          ((3, 1, 8, 8), (2, 1, 5, 5), 3, 2), ((2, 4, 4, 4), (5, 4, 1, 1), 1, 0), ((1, 2, 5, 5), (2, 2, 5, 5), 1, 0),
          ((2, 2, 9, 7), (3, 2, 3, 3), 2, 0), ((8, 3, 12, 10), (6, 3, 3, 3), 1, 1), ((2, 5, 11, 13), (7, 5, 4, 4), 3, 3)]
for _xs, _ws, _s, _p in _cases:
    _x, _w, _b = _rng.standard_normal(_xs), _rng.standard_normal(_ws), _rng.standard_normal(_ws[0])
    with from_scratch("conv2d_im2col"):
        _out, _cache = conv2d_im2col(_x.copy(), _w.copy(), _b.copy(), stride=_s, pad=_p)
    _expected = F.conv2d(torch.from_numpy(_x), torch.from_numpy(_w), torch.from_numpy(_b), stride=_s, padding=_p).numpy()
    check_close(f"conv2d_im2col x{_xs} w{_ws} stride={_s} pad={_p}", _out, _expected)
    check_true(isinstance(_cache, tuple) and len(_cache) == 5, "conv2d_im2col: cache must be the tuple (x, w, b, stride, pad)")
    for _i, (_got, _exp) in enumerate(zip(_cache[:3], (_x, _w, _b))):
        check_true(isinstance(_got, np.ndarray) and _got.shape == _exp.shape and np.array_equal(_got, _exp),
                   f"conv2d_im2col: cache[{_i}] should be the input {'xwb'[_i]} (shape {_exp.shape}), not the window matrix or the padded x")
    check_true(tuple(_cache[3:]) == (_s, _p), f"conv2d_im2col: cache[3:] is {tuple(_cache[3:])!r}, expected (stride, pad) = {(_s, _p)}")
_x = _rng.standard_normal((1, 2, 4, 4)) * 1e6
_w = _rng.standard_normal((2, 2, 3, 3))
with from_scratch("conv2d_im2col"):
    _out, _ = conv2d_im2col(_x, _w, np.zeros(2), stride=1, pad=1)
check_close("conv2d_im2col on large inputs", _out, F.conv2d(torch.from_numpy(_x), torch.from_numpy(_w), padding=1).numpy(), rtol=1e-7, atol=1e-3)


# The point of this exercise is *how*: one matrix product instead of Python loops. A loop over
# images, filters and output positions (conv2d_naive's shape) is timed against the answer on a
# mid-size layer; best of several runs each, so a busy machine slows both. Vectorised answers run
# hundreds of times faster here; the test asks for 10 times.
def _conv_loops(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    N, F_, kh, kw = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    Ho, Wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
    out = np.zeros((N, F_, Ho, Wo))
    for n in range(N):
        for f in range(F_):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] * w[f]) + b[f]
    return out


def _best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        _t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - _t0)
    return min(times)


_x, _w, _b = _rng.standard_normal((16, 8, 16, 16)), _rng.standard_normal((16, 8, 3, 3)), _rng.standard_normal(16)
_t_loops = _best_time(lambda: _conv_loops(_x, _w, _b, 1, 1), 2)
_t_answer = _best_time(lambda: conv2d_im2col(_x, _w, _b, stride=1, pad=1), 5)
check_true(_t_answer * 10 <= _t_loops,
           f"conv2d_im2col took {1e3 * _t_answer:.1f} ms on 16 images of 8 x 16 x 16 with 16 3x3 filters, a loop version "
           f"{1e3 * _t_loops:.1f} ms: it should be at least 10 times faster",
           hint="no Python loop over images, filters or output positions: build the window matrix and do one matrix product")
### END HIDDEN TESTS

# %% markdown
# How much faster? The cell below times both of your functions on 16 images of 8 channels,
# 16x16 pixels, with 16 filters of 3x3 (your numbers will vary from run to run).

# %% code tags=demo,nbval-ignore-output
_rng = np.random.default_rng(0)
_x, _w, _b = _rng.standard_normal((16, 8, 16, 16)), _rng.standard_normal((16, 8, 3, 3)), np.zeros(16)
for _name, _fn in [("conv2d_naive", conv2d_naive), ("conv2d_im2col", conv2d_im2col)]:
    _t0 = time.perf_counter()
    _fn(_x, _w, _b, 1, 1)
    print(f"{_name:<14} {1e3 * (time.perf_counter() - _t0):8.1f} ms")

# %% markdown
# Expect the loop version to be tens of times slower (more for bigger layers). How close does
# im2col get to PyTorch?
# The course's benchmark times this notebook's reference `conv2d_im2col` plus `conv2d_backward`
# against PyTorch's CPU `conv2d` forward and backward, on 64 images of 8 channels, 16x16 pixels,
# 16 filters of 3x3, stride 1, padding 1, with two threads on each side:
#
#     COURSE_NUM_THREADS=2 python benchmarks/conv_im2col.py
#
# Measured for the course (median of 100 runs each): NumPy / PyTorch is **about 1.2 in float64** and
# **about 3.2 in float32** (see `benchmarks/README.md`); PyTorch gains more from single precision.
# Within a small factor, then: both end in the same kind of matrix product, and for such small
# layers the remaining gap is the copying that im2col does (the window matrix is 9 times the input)
# and Python's overhead, where PyTorch uses direct convolution kernels tuned for the processor.
#
# ## 5. The backward pass of a convolution
#
# Given the upstream gradient `dout` of shape `(N, F, H_out, W_out)`, each output entry
# $y_{n,f,i,j}$ received $w_{f,c,u,v}\,x^\text{pad}_{n,c,is+u,js+v}$ for every $(c, u, v)$, so by
# the chain rule
#
# $$ \frac{\partial L}{\partial b_f} = \sum_{n,i,j} \text{dout}_{n,f,i,j}, \qquad
#    \frac{\partial L}{\partial w_{f,c,u,v}} = \sum_{n,i,j} \text{dout}_{n,f,i,j}\; x^\text{pad}_{n,c,is+u,js+v}, $$
#
# $$ \frac{\partial L}{\partial x^\text{pad}_{n,c,is+u,js+v}} \mathrel{+}= \sum_f \text{dout}_{n,f,i,j}\; w_{f,c,u,v}
#    \quad\text{for every } (i, j, u, v), $$
#
# and `dx` is `dx_pad` with the padding cut off. The windows overlap, so `dx_pad` has to
# *accumulate* (`+=`): a pixel that appears in nine windows collects nine contributions. In im2col
# terms: `dW_row = dout_rows.T @ X_col` and `dX_col = dout_rows @ W_row`, and *col2im* adds each
# row of `dX_col` back into its window.
#
# ### Exercise 5: `conv2d_backward`
#
# Implement it for the cache `(x, w, b, stride, pad)` (the test builds that tuple itself, so this
# exercise does not depend on your forward functions). Loops or matrix products, as you like.
# Hint for a fast col2im: loop over the `kh * kw` kernel offsets `(u, v)` only; for each one, the
# gradient goes to the strided slice `dx_pad[:, :, u:u + stride*H_out:stride, v:v + stride*W_out:stride]`.

# %% solution id=conv2d_backward
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
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %% tests id=test_conv2d_backward points=3
def _conv_ref(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """PyTorch's convolution on NumPy arrays: the reference forward for the numeric gradients."""
    return F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=stride, padding=pad).numpy()


_rng = np.random.default_rng(1)
_x, _w, _b = _rng.standard_normal((2, 2, 5, 5)), _rng.standard_normal((3, 2, 3, 3)), _rng.standard_normal(3)
_dout = _rng.standard_normal(_conv_ref(_x, _w, _b, 2, 1).shape)
_dx, _dw, _db = conv2d_backward(_dout, (_x, _w, _b, 2, 1))
grad_check("db", _db, lambda b_: _conv_ref(_x, _w, b_, 2, 1), _b.copy(), _dout)
grad_check("dw", _dw, lambda w_: _conv_ref(_x, w_, _b, 2, 1), _w.copy(), _dout)
grad_check("dx", _dx, lambda x_: _conv_ref(x_, _w, _b, 2, 1), _x.copy(), _dout)
print("conv2d_backward: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(23)
_cases = [((1, 1, 5, 5), (1, 1, 3, 3), 1, 0), ((2, 3, 7, 6), (4, 3, 3, 3), 2, 1), ((1, 2, 6, 9), (3, 2, 2, 3), 1, 2),
          ((3, 1, 8, 8), (2, 1, 5, 5), 3, 2), ((2, 4, 4, 4), (5, 4, 1, 1), 1, 0), ((2, 2, 9, 7), (3, 2, 3, 3), 2, 0),
          ((4, 3, 10, 10), (6, 3, 3, 3), 1, 1), ((1, 2, 8, 8), (2, 2, 4, 4), 2, 1)]
for _xs, _ws, _s, _p in _cases:
    _xt = torch.from_numpy(_rng.standard_normal(_xs)).requires_grad_(True)
    _wt = torch.from_numpy(_rng.standard_normal(_ws)).requires_grad_(True)
    _bt = torch.from_numpy(_rng.standard_normal(_ws[0])).requires_grad_(True)
    _y = F.conv2d(_xt, _wt, _bt, stride=_s, padding=_p)
    _dout = torch.from_numpy(_rng.standard_normal(_y.shape))
    _y.backward(_dout)
    _cache = (_xt.detach().numpy().copy(), _wt.detach().numpy().copy(), _bt.detach().numpy().copy(), _s, _p)
    _dout_np = _dout.numpy().copy()  # references and inputs are made outside the from-scratch block
    with from_scratch("conv2d_backward"):
        _grads = conv2d_backward(_dout_np, _cache)
    check_true(isinstance(_grads, tuple) and len(_grads) == 3, "conv2d_backward must return the tuple (dx, dw, db)")
    for _name, _got, _exp in zip(("dx", "dw", "db"), _grads, (_xt.grad, _wt.grad, _bt.grad)):
        check_close(f"{_name} for x{_xs} w{_ws} stride={_s} pad={_p}", _got, _exp.numpy())
### END HIDDEN TESTS

# %% markdown
# `grad_check` compares your gradients with central differences of PyTorch's forward, one entry
# at a time; relative errors around 1e-10 mean the formulas are right. Notice that `dx` is itself a
# convolution: of `dout` (dilated by the stride) with the flipped kernel. That is where the true,
# flipped convolution hides in deep learning.
#
# ## 6. Pooling
#
# A pooling layer summarises each window of each channel separately, with no parameters:
# **max pooling** keeps the largest value, **average pooling** the mean. The usual 2x2 window with
# stride 2 halves the height and width, so later layers see a wider area at a lower cost, and the
# output barely changes when the input moves by a pixel. The output size follows the same formula
# as a convolution.
#
# Backward, max pooling behaves like a switch: the gradient of each output goes entirely to the
# input that was the maximum of its window, and every other input of the window gets zero. (Where
# windows overlap, an input can win several windows and collects the sum.) Average pooling spreads
# each gradient evenly, $1/k^2$ to every input of the window.

# %% code tags=demo
_img = torch.tensor(load_digits_split().images(load_digits_split().X_train[:1]))
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
for ax, (title, arr) in zip(axes, [("digit 8x8", _img), ("max pool 2x2: 4x4", F.max_pool2d(_img, 2)),
                                    ("average pool 2x2: 4x4", F.avg_pool2d(_img, 2))]):
    ax.imshow(arr[0, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax.set(title=title, xticks=[], yticks=[])
    ax.grid(False)
fig.tight_layout()
plt.show()

# %% markdown
# ### Exercise 6: `maxpool2d_forward`
#
# Square windows of size `pool`, moved by `stride`, no padding. Return `(out, cache)` with
# `cache = (x, pool, stride)`.

# %% solution id=maxpool2d_forward
def maxpool2d_forward(x: np.ndarray, pool: int = 2, stride: int = 2) -> tuple[np.ndarray, tuple]:
    """Max pooling over square windows, channel by channel.

    Inputs:
        x: (N, C, H, W).
        pool: window height = width.
        stride: step between windows.
    Returns:
        out: (N, C, H_out, W_out), H_out = (H - pool) // stride + 1 (W_out alike).
        cache: the tuple (x, pool, stride).
    """
    ### BEGIN SOLUTION
    windows = sliding_window_view(x, (pool, pool), axis=(2, 3))[:, :, ::stride, ::stride]
    out = windows.max(axis=(4, 5))
    return out, (x, pool, stride)
    ### END SOLUTION


# %% tests id=test_maxpool2d_forward points=1
_x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
_out, _cache = maxpool2d_forward(_x, 2, 2)
check_close("maxpool2d_forward(arange(16), 2, 2)", _out, [[[[5.0, 7.0], [13.0, 15.0]]]], hint="each 2x2 block keeps its largest entry")
_rng = np.random.default_rng(0)
_x = _rng.standard_normal((2, 3, 6, 6))
check_close("maxpool2d_forward(x, 3, 2)", maxpool2d_forward(_x, 3, 2)[0], F.max_pool2d(torch.from_numpy(_x), 3, 2).numpy(),
            hint="windows overlap when stride < pool; the window for output (i, j) starts at (i*stride, j*stride)")
print("maxpool2d_forward: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(24)
for _xs, _k, _s in [((1, 1, 4, 4), 2, 2), ((2, 3, 7, 7), 2, 2), ((2, 2, 9, 8), 3, 2), ((1, 4, 6, 6), 3, 3),
                    ((3, 2, 5, 9), 2, 1), ((1, 1, 5, 5), 5, 1), ((2, 2, 8, 8), 1, 1)]:
    _x = _rng.standard_normal(_xs) * 100
    with from_scratch("maxpool2d_forward"):
        _out, _cache = maxpool2d_forward(_x.copy(), _k, _s)
    check_close(f"maxpool2d_forward x{_xs} pool={_k} stride={_s}", _out, F.max_pool2d(torch.from_numpy(_x), _k, _s).numpy())
    check_true(isinstance(_cache, tuple) and len(_cache) == 3, "maxpool2d_forward: cache must be the tuple (x, pool, stride)")
    check_true(isinstance(_cache[0], np.ndarray) and _cache[0].shape == _x.shape and np.array_equal(_cache[0], _x),
               "maxpool2d_forward: cache[0] should be the input x", hint="the docstring fixes the cache as (x, pool, stride)")
    check_true(tuple(_cache[1:]) == (_k, _s), f"maxpool2d_forward: cache[1:] is {tuple(_cache[1:])!r}, expected (pool, stride) = {(_k, _s)}")
_x = -np.abs(_rng.standard_normal((2, 2, 4, 4))) - 1
with from_scratch("maxpool2d_forward"):
    _out, _ = maxpool2d_forward(_x, 2, 2)
check_close("maxpool2d_forward on all-negative input", _out, F.max_pool2d(torch.from_numpy(_x), 2, 2).numpy(),
            hint="start the running maximum at -inf (or the first entry), not at 0")
### END HIDDEN TESTS

# %% markdown
# ### Exercise 7: `maxpool2d_backward`
#
# Route each entry of `dout` to the position of its window's maximum, adding where windows
# overlap. Hint: `np.argmax` on a window flattened to `pool * pool` entries, then
# `np.unravel_index`; or a mask `window == window.max()`.

# %% solution id=maxpool2d_backward
def maxpool2d_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """Backward pass of max pooling.

    Inputs:
        dout: upstream gradient (N, C, H_out, W_out).
        cache: (x, pool, stride) as returned by maxpool2d_forward; x: (N, C, H, W).
    Returns:
        dx: (N, C, H, W); each dout entry added at its window's maximum, zeros elsewhere.
    """
    ### BEGIN SOLUTION
    x, pool, stride = cache
    N, C, H_out, W_out = dout.shape
    windows = sliding_window_view(x, (pool, pool), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :H_out, :W_out]
    winner = windows.reshape(N, C, H_out, W_out, pool * pool).argmax(axis=-1)
    dx = np.zeros_like(x)
    for u in range(pool):
        for v in range(pool):
            dx[:, :, u:u + stride * H_out:stride, v:v + stride * W_out:stride] += dout * (winner == u * pool + v)
    return dx
    ### END SOLUTION


# %% tests id=test_maxpool2d_backward points=2
_x = np.array([[[[1.0, 2.0], [4.0, 3.0]]]])
_dx = maxpool2d_backward(np.array([[[[10.0]]]]), (_x, 2, 2))
check_close("maxpool2d_backward, one 2x2 window", _dx, [[[[0.0, 0.0], [10.0, 0.0]]]],
            hint="the whole gradient goes to the maximum (4 here); the other entries of the window get 0")
_rng = np.random.default_rng(2)
_xt = torch.from_numpy(_rng.standard_normal((2, 2, 6, 6))).requires_grad_(True)
_y = F.max_pool2d(_xt, 3, 2)
_dout = torch.from_numpy(_rng.standard_normal(_y.shape))
_y.backward(_dout)
check_close("maxpool2d_backward, pool=3, stride=2", maxpool2d_backward(_dout.numpy(), (_xt.detach().numpy(), 3, 2)), _xt.grad.numpy(),
            hint="overlapping windows: an input that is the maximum of two windows collects both gradients (+=)")
print("maxpool2d_backward: visible tests passed")
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(25)
for _xs, _k, _s in [((1, 1, 4, 4), 2, 2), ((2, 3, 7, 7), 2, 2), ((2, 2, 9, 8), 3, 2), ((1, 4, 6, 6), 3, 3),
                    ((3, 2, 5, 9), 2, 1), ((1, 1, 5, 5), 5, 1), ((2, 2, 8, 8), 1, 1), ((4, 3, 8, 8), 2, 2)]:
    _xt = torch.from_numpy(_rng.standard_normal(_xs) * 10).requires_grad_(True)
    _y = F.max_pool2d(_xt, _k, _s)
    _dout = torch.from_numpy(_rng.standard_normal(_y.shape))
    _y.backward(_dout)
    _args = (_dout.numpy().copy(), (_xt.detach().numpy().copy(), _k, _s))  # made outside the from-scratch block
    with from_scratch("maxpool2d_backward"):
        _dx = maxpool2d_backward(*_args)
    check_close(f"maxpool2d_backward x{_xs} pool={_k} stride={_s}", _dx, _xt.grad.numpy())
### END HIDDEN TESTS

# %% markdown
# ## 7. Kinds of convolution
#
# A few variations do most of the work in modern networks:
#
# - **1x1 convolution**: a kernel of one pixel mixes channels at each position without looking at
#   neighbours; it is a fully connected layer applied at every pixel. Used to shrink the channel
#   count cheaply before an expensive 3x3 (GoogLeNet's Inception, ResNet's bottleneck).
# - **dilated (atrous) convolution**: the kernel's taps are spread `d` pixels apart, so a 3x3
#   kernel covers 5x5 with `d = 2` at the same cost. Used where the output must stay at full
#   resolution but see far (segmentation, WaveNet).
# - **depthwise-separable convolution**: first one `k x k` kernel per channel, each on its own
#   channel (`groups=C` in PyTorch), then a 1x1 convolution to mix the channels. It costs
#   $C k^2 + C\,C_\text{out}$ weights instead of $C\,C_\text{out}\,k^2$: about $k^2$ times fewer.
#   MobileNet is built from these.
# - **transposed convolution** (sometimes wrongly called deconvolution): the backward pass of a
#   strided convolution used as a forward layer; it *enlarges* the image, with
#   $n_\text{out} = (n - 1)s - 2p + k$. Used by decoders and generators to upsample (the
#   autoencoders and GANs of module 6).

# %% markdown
# ### Concept check 1
#
# A depthwise-separable layer replaces a standard 3x3 convolution from 32 to 64 channels (no
# biases). How many weights does it have? Set `q1_answer` to one letter.
#
# - (a) 18432
# - (b) 2336
# - (c) 2048
# - (d) 288

# %% solution id=q1_answer
q1_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q1_answer = "b"
### END SOLUTION

# %% tests id=test_q1_answer points=1
check_true(q1_answer in ("a", "b", "c", "d"), f"q1_answer is {q1_answer!r}; set it to one of 'a', 'b', 'c', 'd'")
print("q1_answer: answer recorded")
### BEGIN HIDDEN TESTS
check_equal("q1_answer", q1_answer, "b")
### END HIDDEN TESTS

# %% markdown
# Check your count against PyTorch: the table builds each kind of layer from 32 to 64 channels and
# counts its parameters, with the output shape for a 16x16 input.

# %% code tags=demo
_x = torch.zeros(1, 32, 16, 16)
_layers = {
    "standard 3x3, pad 1": nn.Conv2d(32, 64, 3, padding=1, bias=False),
    "1x1": nn.Conv2d(32, 64, 1, bias=False),
    "dilated 3x3, d=2, pad 2": nn.Conv2d(32, 64, 3, padding=2, dilation=2, bias=False),
    "depthwise-separable 3x3": nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False),
                                             nn.Conv2d(32, 64, 1, bias=False)),
    "transposed 2x2, stride 2": nn.ConvTranspose2d(32, 64, 2, stride=2, bias=False),
}
print(f"{'layer (32 -> 64 channels)':<28}{'output shape':<22}{'parameters':>10}")
for _name, _layer in _layers.items():
    print(f"{_name:<28}{str(tuple(_layer(_x).shape)):<22}{sum(p.numel() for p in _layer.parameters()):>10}")


# %% markdown
# ## 8. Receptive fields
#
# The *receptive field* of a unit is the patch of the input image that can influence it. One 3x3
# layer sees 3x3 pixels; a second 3x3 layer on top sees 3x3 of the first layer's outputs, which
# together cover 5x5 input pixels. Strides make it grow faster: after a layer of stride $s$, one
# step in the next layer is $s$ input pixels (or more). Writing $j_l$ for the distance in input
# pixels between neighbouring units of layer $l$ (the "jump"), a stack of (kernel $k_l$,
# stride $s_l$) layers gives
#
# $$ r_0 = 1,\; j_0 = 1, \qquad r_l = r_{l-1} + (k_l - 1)\, j_{l-1}, \qquad j_l = j_{l-1}\, s_l. $$
#
# This is why VGG stacks 3x3 kernels: three of them see 7x7, like one 7x7 kernel, with
# $3 \cdot 9 = 27$ instead of 49 weights per channel pair and three nonlinearities instead of one.

# %% markdown
# ### Exercise 8: `receptive_field`
#
# Implement the recursion above for a list of `(kernel, stride)` pairs, first layer first. Pooling
# layers count as layers too (a 2x2 pool with stride 2 is `(2, 2)`). An empty list is the input
# itself: one pixel.

# %% solution id=receptive_field
def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Receptive field (in input pixels, along one axis) of one unit after a stack of layers.

    Inputs:
        layers: [(kernel, stride), ...] from the input upwards.
    Returns:
        r: an int; 1 for an empty list.
    """
    ### BEGIN SOLUTION
    r, jump = 1, 1
    for k, s in layers:
        r += (k - 1) * jump
        jump *= s
    return r
    ### END SOLUTION


# %% tests id=test_receptive_field points=1
check_equal("receptive_field([(3, 1), (3, 1)])", receptive_field([(3, 1), (3, 1)]), 5, hint="two 3x3 layers see 5x5")
check_equal("receptive_field([(3, 1), (2, 2), (3, 1)])", receptive_field([(3, 1), (2, 2), (3, 1)]), 8,
            hint="after the stride-2 pool, each step of the last kernel moves 2 input pixels")
print("receptive_field: visible tests passed")
### BEGIN HIDDEN TESTS
def _rf_by_gradient(layers: list[tuple[int, int]]) -> int:
    """Span of the input pixels that reach the first output of a 1-D stack of all-ones kernels."""
    length = 1
    for k, s in reversed(layers):
        length = (length - 1) * s + k
    x = torch.zeros(1, 1, length + 5, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s)
    y[0, 0, 0].backward()
    reached = torch.nonzero(x.grad[0, 0]).flatten()
    return int(reached.max() - reached.min() + 1)


check_equal("receptive_field([])", receptive_field([]), 1, hint="no layers: a unit is one pixel")
check_equal("receptive_field([(11, 4), (3, 2), (5, 1)])", receptive_field([(11, 4), (3, 2), (5, 1)]), _rf_by_gradient([(11, 4), (3, 2), (5, 1)]))
_rng = np.random.default_rng(26)
for _ in range(40):
    _layers = [(int(_rng.integers(1, 6)), int(_rng.integers(1, 4))) for _ in range(int(_rng.integers(1, 7)))]
    check_equal(f"receptive_field({_layers})", receptive_field(_layers), _rf_by_gradient(_layers))
### END HIDDEN TESTS

# %% markdown
# With your `receptive_field`, the growth with depth: linear for stride-1 layers, much faster once
# pooling doubles the jump between units.

# %% code tags=demo
_depth = np.arange(0, 11)
try:
    _plain = [receptive_field([(3, 1)] * d) for d in _depth]
    _pooled = [receptive_field([(3, 1), (2, 2)] * (d // 2) + [(3, 1)] * (d % 2)) for d in _depth]
except NotImplementedError:
    print("implement receptive_field above to see this plot")
else:
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(_depth, _plain, "o-", label="3x3 convolutions, stride 1")
    ax.plot(_depth, _pooled, "s-", label="3x3 conv, then 2x2 pool (stride 2), repeated")
    ax.set(title="Receptive field grows with depth", xlabel="number of layers", ylabel="receptive field (pixels)")
    ax.legend()
    plt.show()

# %% markdown
# ## 9. The typical CNN, in PyTorch
#
# Almost every classification CNN follows one pattern:
#
#     [conv -> (batch norm) -> ReLU] x n -> pool   repeated, channels up, size down
#     -> flatten (or global average pool) -> fully connected -> class scores
#
# The convolutional part (`features`) turns pixels into a stack of small maps that say *which*
# patterns occur *where*; the `classifier` turns them into class scores. Channels double when the
# resolution halves, so the cost per layer stays roughly constant. Batch normalisation after each
# convolution (module 2) makes deeper stacks train quickly.
#
# From here on PyTorch computes convolutions for us: `nn.Conv2d(c_in, c_out, k, stride, padding)`
# is your `conv2d_im2col` plus `conv2d_backward`, and `nn.MaxPool2d(k)` your pooling.
#
# ### Exercise 9: `DigitsCNN`
#
# Build a network for the 8x8 digits, input `(N, 1, 8, 8)`, output `(N, n_classes)` logits. It
# must have two parts, used in this order by `forward`:
#
# - `self.features`: the convolutional part (convolutions, batch norm, ReLU, pooling);
# - `self.classifier`: from the feature maps to the scores (flatten and one or two linear layers).
#
# `forward` returns logits (raw scores): no softmax at the end, `F.cross_entropy` applies it.
# Something like conv 16 - conv 32 - pool - conv 64 - pool - linear is plenty; the training cell
# below must reach at least 98% test accuracy in 20 epochs. Hint: `conv_output_size` tells you the
# size of the flattened features (or use `nn.Flatten` and compute it once).

# %% solution id=DigitsCNN
class DigitsCNN(nn.Module):
    """A small CNN for 8x8 grey digits: features (convolutions) then classifier (linear).

    Inputs (forward):
        x: (N, 1, 8, 8) float32 images in [0, 1].
    Returns (forward):
        logits: (N, n_classes), equal to self.classifier(self.features(x)).
    """

    def __init__(self, n_classes: int = 10):
        super().__init__()
        ### BEGIN SOLUTION
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),     # 16 x 8 x 8
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),    # 32 x 8 x 8
            nn.MaxPool2d(2),                                                   # 32 x 4 x 4
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),    # 64 x 4 x 4
            nn.MaxPool2d(2),                                                   # 64 x 2 x 2
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 2 * 2, n_classes))
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.classifier(self.features(x))
        ### END SOLUTION


# %% tests id=test_DigitsCNN points=1
torch.manual_seed(0)
_model = DigitsCNN().eval()
_x = torch.rand(5, 1, 8, 8)
_logits = _model(_x)
check_shape("DigitsCNN()(x) for x of shape (5, 1, 8, 8)", _logits, (5, 10), hint="one score per class for each image")
_keys = list(_model.state_dict())
check_true(any(k.startswith("features.") for k in _keys) and any(k.startswith("classifier.") for k in _keys),
           f"DigitsCNN needs two sub-modules with parameters, self.features and self.classifier; its parameters are {_keys}")
print("DigitsCNN: visible tests passed")
### BEGIN HIDDEN TESTS
_sd = _model.state_dict()
check_true(any(k.startswith("features.") and v.dim() == 4 for k, v in _sd.items()),
           "DigitsCNN.features has no convolution (no 4-D weight): this section is about convolutions")
check_shape("DigitsCNN(n_classes=5)(x)", DigitsCNN(n_classes=5).eval()(_x), (5, 5))
check_shape("DigitsCNN()(one image)", _model(_x[:1]), (1, 10))
with torch.no_grad():
    _out = DigitsCNN().eval()(torch.rand(16, 1, 8, 8))
check_true(not (bool((_out >= 0).all()) and torch.allclose(_out.sum(dim=1), torch.ones(16), atol=1e-4)),
           "DigitsCNN returns probabilities (rows that sum to 1): the contract is logits",
           hint="drop the final softmax; F.cross_entropy applies log-softmax itself")
_before = _model(_x).detach()
torch.manual_seed(3)
_model.load_state_dict({k: (torch.randn_like(v) if k.startswith("features.") and v.dim() == 4 else v) for k, v in _sd.items()})
check_true(not torch.allclose(_before, _model(_x).detach()),
           "DigitsCNN's output does not change when the convolutions of self.features do: forward must be classifier(features(x))")
_model.train()
_y = _model(torch.rand(4, 1, 8, 8))
check_shape("DigitsCNN in training mode", _y, (4, 10))
### END HIDDEN TESTS

# %% markdown
# ### Training
#
# The training loop: Adam with PyTorch's one-cycle learning-rate schedule (`OneCycleLR`: the rate
# warms up to `lr` over the first 30% of the steps, then decays to almost zero), mini-batches of
# 64. It runs on the GPU when there is one. A fifth of the training images is held out as a
# *validation* set: the curves show the loss on it after every epoch, and the weights of the epoch
# with the lowest validation loss are the ones kept. The 450 test images are used once, at the end.

# %% code
digits = load_digits_split(val_fraction=0.2)
X_train = torch.tensor(digits.images(digits.X_train), dtype=torch.float32)
X_val = torch.tensor(digits.images(digits.X_val), dtype=torch.float32)
X_test = torch.tensor(digits.images(digits.X_test), dtype=torch.float32)
y_train, y_val, y_test = torch.tensor(digits.y_train), torch.tensor(digits.y_val), torch.tensor(digits.y_test)
print(f"train {tuple(X_train.shape)}, validation {tuple(X_val.shape)}, test {tuple(X_test.shape)}")


def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of images in X whose highest score is the label y (model in eval mode)."""
    model.eval()
    with torch.no_grad():
        return (model(X.to(device)).argmax(dim=1).cpu() == y).float().mean().item()


def train(model: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, batch_size: int = 64,
          seed: int = 0, X_val: torch.Tensor | None = None, y_val: torch.Tensor | None = None,
          live: LiveCurves | None = None) -> nn.Module:
    """Train the parameters of `model` that require gradients with Adam and a one-cycle schedule.

    With a validation set, its loss is computed after every epoch (and drawn when `live` is
    given), and the weights of the epoch with the lowest validation loss are restored at the end.
    """
    model.to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    steps = epochs * ((len(X) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    best_loss, best_state = float("inf"), None
    for _ in tqdm(range(epochs), desc="epochs", leave=False, disable=live is None):
        model.train()
        perm, total = torch.randperm(len(X), generator=gen), 0.0
        for i in range(0, len(X), batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(X[idx].to(device)), y[idx].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        if X_val is not None:
            model.eval()
            with torch.no_grad():
                val_loss = F.cross_entropy(model(X_val.to(device)), y_val.to(device)).item()
            if val_loss < best_loss:
                best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())
            if live is not None:
                live.update({"train loss": total / len(X), "validation loss": val_loss})
    if live is not None:
        live.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return model

# %% code tags=slow
torch.manual_seed(0)
model = DigitsCNN()
train(model, X_train, y_train, epochs=20, lr=5e-3, X_val=X_val, y_val=y_val,
      live=LiveCurves(title="DigitsCNN on the 8x8 digits (training and validation splits)", ylabel="cross-entropy"))
test_acc = accuracy(model, X_test, y_test)
print(f"validation accuracy {accuracy(model, X_val, y_val):.4f}; test accuracy, measured once: {test_acc:.4f} "
      f"({sum(p.numel() for p in model.parameters())} parameters)")

# %% tests id=test_digits_accuracy points=2 tags=slow
check_true(test_acc >= 0.98, f"DigitsCNN reached {test_acc:.4f} test accuracy; at least 0.98 is needed",
           hint="more channels, batch norm after each convolution, or a few more epochs")
print("DigitsCNN reaches at least 98% test accuracy")
### BEGIN HIDDEN TESTS
# Measured here, from the model's logits on a fresh copy of the test images: a number or a data
# set rebound in the notebook cannot change it.
_d = load_digits_split(val_fraction=0.2)
_X = torch.tensor(_d.images(_d.X_test), dtype=torch.float32)
_logits = torch.as_tensor(model.cpu().eval()(_X)).detach()
check_true(not (bool((_logits >= 0).all()) and torch.allclose(_logits.sum(dim=1), torch.ones(len(_X)), atol=1e-4)),
           "the trained DigitsCNN returns probabilities: the contract is logits")
_acc = float((_logits.argmax(dim=1) == torch.as_tensor(_d.y_test)).double().mean())
check_true(_acc >= 0.98, f"DigitsCNN reached {_acc:.4f} test accuracy; at least 0.98 is needed",
           hint="more channels, batch norm after each convolution, or a few more epochs")
### END HIDDEN TESTS

# %% markdown
# ### What the network learned
#
# Pick a convolutional layer and a test digit: the view shows the digit and what every filter of
# that layer makes of it (its feature maps after batch norm and ReLU, dark = strong response);
# for the first layer it also shows the kernels themselves (orange positive, purple negative).
# The static picture first is the view's default (first layer, first test digit).

# %% code tags=slow,demo,nbval-ignore-output
from IPython.display import display


def _conv_layers(net: nn.Module) -> dict[str, nn.Module]:
    """The network's convolutions, by position in net.features, with the ReLU that follows each."""
    convs, mods = {}, list(net.features)
    for i, m in enumerate(mods):
        if isinstance(m, nn.Conv2d):
            relu = next((r for r in mods[i + 1:] if isinstance(r, nn.ReLU)), m)
            convs[f"conv {len(convs) + 1}: {m.in_channels} -> {m.out_channels} channels, {m.kernel_size[0]}x{m.kernel_size[1]}"] = relu
    return convs


def draw_feature_maps(layer: str, image: int) -> None:
    """Input digit, then up to 16 feature maps of `layer` for it (and the kernels for the first layer)."""
    grabbed = {}
    # A forward hook that returns a value replaces the layer's output; this one returns None (on a
    # GPU, returning the CPU copy would hand the next layer a tensor on the wrong device).
    hook = FEATURE_LAYERS[layer].register_forward_hook(lambda mod, inp, out: grabbed.__setitem__("maps", out.detach().cpu()))
    model.eval()
    with torch.no_grad():
        model(X_test[image:image + 1].to(device))
    hook.remove()
    maps = grabbed["maps"][0]
    n = min(16, len(maps))
    first = layer == next(iter(FEATURE_LAYERS))
    rows = 2 if first else 1
    fig, axes = plt.subplots(rows, n + 1, figsize=((n + 1) * 0.75, 1.1 * rows + 0.9), squeeze=False)
    axes[0, 0].imshow(X_test[image, 0], cmap="gray_r")
    axes[0, 0].set_title(f"digit {int(y_test[image])}", fontsize=9)
    for i in range(n):
        axes[0, i + 1].imshow(maps[i], cmap="gray_r", vmin=0)
    if first:
        kernels = next(m for m in model.features if isinstance(m, nn.Conv2d)).weight.detach().cpu()[:, 0]
        for i in range(n):
            v = kernels[i].abs().max()
            axes[1, i + 1].imshow(kernels[i], cmap="PuOr", vmin=-v, vmax=v)
        axes[1, 0].text(0.5, 0.5, "kernels", ha="center", va="center", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"{layer}: feature maps of test digit {image}" + (" (top) and kernels (bottom)" if first else ""), fontsize=10)
    fig.tight_layout()


try:
    FEATURE_LAYERS = _conv_layers(model)
    assert FEATURE_LAYERS
except (NameError, AttributeError, TypeError, AssertionError):
    print("implement DigitsCNN above (with convolutions in self.features) and train it to see this")
else:
    draw_feature_maps(next(iter(FEATURE_LAYERS)), 0)
    plt.show()
    display(slider_plot(draw_feature_maps, layer=dropdown("layer", list(FEATURE_LAYERS)),
                        image=int_slider("test digit", 0, 0, len(X_test) - 1)))

# %% markdown
# Most first-layer kernels are small edge detectors of one orientation, the same kind that the
# Sobel kernels of the explorer compute: each map lights up where the digit's strokes have that
# orientation. Deeper layers see more of the digit at a lower resolution and respond to
# combinations: corners, loops, stroke endings.
#
# ### Where a CNN beats a fully connected network
#
# On these 8x8 digits a CNN is not much better than the fully connected networks of module 2
# (both reach about 98% on the test split, a handful of mistakes among 450 digits, and which one
# makes fewer depends on the seed): the digits are centred and scaled to fill the frame, so a
# fully connected layer can learn one template per stroke position. A convolution's advantages,
# the same weights at every position (weight sharing) and outputs that move with the input
# (translation equivariance, turned into invariance by pooling), matter when the *position*
# varies. So make it vary: paste each digit at a random place on a blank 16x16 canvas.

# %% code
def place_on_canvas(images: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Each (C, 8, 8) image pasted at its own random position of a blank size x size canvas."""
    N, C, h, w = images.shape
    out = torch.zeros(N, C, size, size)
    offsets = torch.randint(0, size - h + 1, (N, 2), generator=generator)
    for n, (r, c) in enumerate(offsets.tolist()):
        out[n, :, r:r + h, c:c + w] = images[n]
    return out


_gen = torch.Generator().manual_seed(100)  # one placement for the whole notebook: train, validation, test
C_train, C_val, C_test = (place_on_canvas(X, 16, _gen) for X in (X_train, X_val, X_test))

# %% code tags=demo
image_grid(C_train[:10].numpy(), labels=[str(int(v)) for v in y_train[:10]], ncols=10,
           title="The first ten training digits, each at a random place on a 16x16 canvas")
plt.show()

# %% markdown
# The course's benchmark trains two networks on such canvases with this notebook's `train` (30
# epochs, learning rate 0.005, the epoch with the lowest validation loss kept), three times with
# different seeds (placement of the digits and initialisation; seed 0 is the placement above),
# and tests each once:
#
# - a CNN: three 3x3 convolution blocks (16, 32, 64 channels, batch norm, ReLU, 2x2 max pooling
#   after the first two), a global max pool over positions, one linear layer: 24,170 parameters;
# - an MLP: 256 pixels -> 256 -> 128 -> 10 with batch norm and ReLU: 100,746 parameters.
#
#     python benchmarks/m3_lessons.py canvas
#
# | network | parameters | test accuracy, seeds 0, 1, 2 | mean |
# | --- | --- | --- | --- |
# | CNN | 24,170 | 0.969, 0.964, 0.962 | 0.965 |
# | MLP | 100,746 | 0.591, 0.602, 0.569 | 0.587 |
#
# With a quarter of the parameters the CNN makes about twelve times fewer mistakes (3.5% against
# 41%): it learns a stroke detector once and applies it at every position, and the global max
# pool reports whether a pattern occurs anywhere. The MLP has a separate weight for every pixel,
# so it must learn each digit at each of the 81 positions, from about 13 training examples per
# class and position.
#
# ## 10. Landmark architectures
#
# The pattern above, scaled up and refined, gave the networks that defined the field:
#
# | network | year | what it added |
# | --- | --- | --- |
# | LeNet-5 | 1998 | conv-pool-conv-pool-fully connected, trained by backpropagation; read cheques |
# | AlexNet | 2012 | the same idea, much bigger, on GPUs, with ReLU, dropout and augmentation; won ImageNet by a wide margin |
# | ZF-Net | 2013 | AlexNet tuned by *looking* at its feature maps (smaller first kernels and strides) |
# | VGG | 2014 | only 3x3 convolutions, 16-19 layers: depth through small kernels |
# | GoogLeNet / Inception | 2014 | parallel 1x1, 3x3, 5x5 branches in one block; 1x1 convolutions to keep it cheap |
# | ResNet | 2015 | residual connections $y = F(x) + x$; 152 layers (and 1000 in experiments) that still train |
# | MobileNet | 2017 | depthwise-separable convolutions for phones |
# | EfficientNet | 2019 | scales depth, width and resolution together by one rule |
# | Vision Transformer | 2020 | cuts the image into 16x16 patches and treats them as words (attention: module 5) |
#
# **Why residual connections.** Adding layers to a plain network eventually made it *worse*, even
# on the training data: the extra layers could in principle learn the identity, but gradient descent
# did not find it. A residual block computes $y = \text{ReLU}(F(x) + x)$: the layers learn only the
# *change* $F(x)$, and the identity costs nothing ($F = 0$). In the backward pass
# $\partial y / \partial x = D\,(\partial F / \partial x + I)$, where $D$ is the ReLU's gate
# (1 where $F(x) + x > 0$, else 0): the gradient has a direct path through every block wherever
# the sum is positive, gated only by the ReLU after the add. (ResNet v2, "pre-activation", moves
# that ReLU into the branch so the path is exactly the identity.) When $F$ changes the shape (a stride of 2 or more channels), $x$ cannot be added
# as it is; a *projection shortcut*, a 1x1 convolution with the same stride followed by batch
# norm, brings it to the new shape.
#
# ### Exercise 10: `ResidualBlock`
#
# Implement the basic block of ResNet-18/34 with these attribute names (the test uses them):
#
# - `conv1`: 3x3, `c_in -> c_out`, stride `stride`, padding 1, no bias; `bn1`; ReLU;
# - `conv2`: 3x3, `c_out -> c_out`, stride 1, padding 1, no bias; `bn2`;
# - `shortcut`: `nn.Identity()` when `stride == 1` and `c_in == c_out`, else
#   `nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))`;
# - `forward(x) = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.

# %% solution id=ResidualBlock
class ResidualBlock(nn.Module):
    """ResNet's basic block: out = relu(F(x) + shortcut(x)).

    F(x) = bn2(conv2(relu(bn1(conv1(x))))); shortcut is the identity when the shapes match, else a
    1x1 convolution with the same stride followed by batch norm (a projection).

    Inputs (forward):
        x: (N, c_in, H, W).
    Returns (forward):
        out: (N, c_out, H_out, W_out) with H_out = (H - 1) // stride + 1 (W_out alike).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if stride == 1 and c_in == c_out:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))
        ### END SOLUTION


# %% tests id=test_ResidualBlock points=2
torch.manual_seed(0)
_x = torch.randn(2, 8, 6, 6)
check_shape("ResidualBlock(8, 8, 1)(x)", ResidualBlock(8, 8, 1)(_x), (2, 8, 6, 6), hint="same channels, stride 1: same shape")
check_shape("ResidualBlock(8, 16, 2)(x)", ResidualBlock(8, 16, 2)(_x), (2, 16, 3, 3),
            hint="when the shape changes, the shortcut needs a 1x1 convolution with the same stride (a projection)")
_block = ResidualBlock(8, 8, 1).eval()
_sd = _block.state_dict()
_sd.update({"bn2.weight": torch.zeros(8), "bn2.bias": torch.zeros(8)})  # silence the residual branch
_block.load_state_dict(_sd)
with torch.no_grad():
    check_close("ResidualBlock with F(x) = 0", _block(_x), F.relu(_x), rtol=1e-6, atol=1e-6,
                hint="with the residual branch silenced, out = relu(x + 0): the shortcut must be the identity here")
print("ResidualBlock: visible tests passed")
### BEGIN HIDDEN TESTS
class _RefBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity() if stride == 1 and c_in == c_out else \
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.shortcut(x))


for _ci, _co, _s, _hw in [(4, 4, 1, 5), (4, 6, 1, 5), (4, 4, 2, 8), (3, 5, 2, 7), (2, 2, 3, 9)]:
    torch.manual_seed(1)
    _ref = _RefBlock(_ci, _co, _s)
    # random weights and batch-norm statistics (signs included), so that where each ReLU sits shows
    _sd = {k: (torch.randn_like(v) if v.is_floating_point() else v) for k, v in _ref.state_dict().items()}
    _sd.update({k: v.abs() + 0.5 for k, v in _sd.items() if k.endswith("running_var")})
    _ref.load_state_dict(_sd)
    _block = ResidualBlock(_ci, _co, _s)
    _theirs = {k: tuple(v.shape) for k, v in _block.state_dict().items()}
    _wanted = {k: tuple(v.shape) for k, v in _sd.items()}
    check_true(_theirs == _wanted, f"ResidualBlock({_ci}, {_co}, {_s}): parameters and buffers {sorted(_theirs)}, expected {sorted(_wanted)}",
               hint="attributes conv1, bn1, conv2, bn2, shortcut; 3x3 convolutions without bias; "
                    "a projection (1x1 conv + batch norm) only when the shape changes")
    _block.load_state_dict(_sd)
    for _mode in ("train", "eval"):
        _ref.train(_mode == "train")
        _block.train(_mode == "train")
        _x = torch.randn(3, _ci, _hw, _hw)
        with torch.no_grad():
            _got, _exp = _block(_x), _ref(_x)
        _ho = (_hw - 1) // _s + 1
        check_shape(f"ResidualBlock({_ci}, {_co}, {_s}) on {_hw}x{_hw}", _got, (3, _co, _ho, _ho))
        check_close(f"ResidualBlock({_ci}, {_co}, {_s}) in {_mode} mode, against a reference block with your weights", _got, _exp,
                    rtol=1e-5, atol=1e-5, hint="relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)): one ReLU inside the branch, one after the add")
### END HIDDEN TESTS

# %% markdown
# A ResNet is a stem (one convolution), then stages of such blocks (the first block of each stage
# with stride 2 and a projection), then global average pooling and one linear layer. The same
# $x + F(x)$ appears in every transformer layer of module 5.
#
# ### Plain against residual, measured
#
# Does the shortcut matter for a network this small? Stack blocks of two 3x3 convolutions (16
# channels, batch norm) on the 8x8 digits, with and without the shortcut, and train each for four
# epochs with the same settings. The plain block is your block without its `+ shortcut(x)`:
# `relu(bn2(conv2(relu(bn1(conv1(x))))))`. The cell below trains 1 and 10 blocks of each kind
# once (seed 0), and prints the training loss of the last epoch and the validation accuracy.

# %% code tags=slow,demo
class PlainBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and ReLU, and no shortcut."""

    def __init__(self, c: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                  nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def depth_run(blocks: int, make_block, epochs: int = 4, seed: int = 0) -> tuple[float, float]:
    """Train stem + `blocks` blocks + global average pool + linear; (last-epoch training loss, validation accuracy)."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                        *[make_block(16) for _ in range(blocks)], nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        perm, total = torch.randperm(len(X_train), generator=gen), 0.0
        for i in range(0, len(X_train), 64):
            idx = perm[i:i + 64]
            loss = F.cross_entropy(net(X_train[idx].to(device)), y_train[idx].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
    return total / len(X_train), accuracy(net, X_val, y_val)


try:
    ResidualBlock(4, 4, 1)(torch.zeros(1, 4, 3, 3))
except (NotImplementedError, AttributeError, TypeError):
    print("implement ResidualBlock above to see this experiment")
else:
    print(f"{'blocks':>6} {'conv layers':>11} {'block':>9} {'train loss':>11} {'val accuracy':>13}")
    for _blocks in (1, 10):
        for _name, _make in (("plain", PlainBlock), ("residual", lambda c: ResidualBlock(c, c, 1))):
            _loss, _acc = depth_run(_blocks, _make)
            print(f"{_blocks:>6} {2 * _blocks + 1:>11} {_name:>9} {_loss:>11.3f} {_acc:>13.3f}")

# %% markdown
# Measured by the course's benchmark over three seeds (same settings; `python benchmarks/m3_lessons.py depth`),
# mean training loss of the fourth epoch and mean validation accuracy:
#
# | blocks | conv layers | plain: train loss | plain: val accuracy | residual: train loss | residual: val accuracy |
# | --- | --- | --- | --- | --- | --- |
# | 1 | 3 | 1.30 | 0.830 | 1.23 | 0.835 |
# | 10 | 21 | 1.20 | 0.516 | 0.087 | 0.955 |
#
# With one block the shortcut changes little. With ten, the plain stack barely trains in four
# epochs (its validation accuracy is about half), while the residual stack, with the same layers
# and the same number of parameters, fits the training set and generalises: the gradient reaches
# the early layers through the shortcuts. (Four epochs is a short budget: a plain stack does learn
# eventually, but more slowly and less reliably as it gets deeper, which is what He et al. saw on
# ImageNet at 34 layers.)
#
# ## 11. Data augmentation
#
# A network that has seen a digit at one position should recognise it one pixel further right.
# Instead of hoping it generalises that way, we can *show* it: each time a training image is used,
# apply a random transformation that does not change its label. Common ones are shifts and random
# crops, small rotations and scalings, changes of brightness and contrast, and horizontal flips.
#
# Which transformations are allowed depends on the data. A horizontally flipped cat is still a
# cat, so flips are standard for photographs. A mirrored digit is not a digit (a mirrored 2 or 7),
# and a 6 rotated by 180 degrees is a 9: for digits, flips and large rotations are out, and only
# small shifts (and small rotations) are safe.
#
# ### Exercise 11: `augment`
#
# Shift each image of a batch by its own random offset: `dy` rows down and `dx` columns right,
# drawn independently of each other, each uniformly from the integers `-max_shift ... max_shift` using `generator`, filling the
# uncovered border with zeros (not wrapping around):
#
# $$ \text{out}_{n,c,i,j} = x_{n,\,c,\,i - dy_n,\, j - dx_n} \quad (0 \text{ outside the image}). $$
#
# Hint: pad by `max_shift` with `F.pad`, then cut an `H x W` window at a random offset; or use
# `torch.randint(..., generator=generator)` for the offsets. Do not modify the input.

# %% solution id=augment
def augment(images: torch.Tensor, generator: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Random shifts with zero fill, a different one per image.

    Inputs:
        images: (N, C, H, W) tensor.
        generator: torch.Generator, the only source of randomness (same seed, same output).
        max_shift: largest shift in pixels along each axis.
    Returns:
        shifted: (N, C, H, W) tensor of the same dtype; image n shifted by (dy_n, dx_n), each
            in [-max_shift, max_shift], uncovered pixels 0.
    """
    ### BEGIN SOLUTION
    N, C, H, W = images.shape
    m = max_shift
    padded = F.pad(images, (m, m, m, m))
    offsets = torch.randint(0, 2 * m + 1, (N, 2), generator=generator)
    return torch.stack([padded[n, :, oy:oy + H, ox:ox + W] for n, (oy, ox) in enumerate(offsets.tolist())])
    ### END SOLUTION


# %% tests id=test_augment points=2
def _shift_ref(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """img (C, H, W) shifted dy rows down and dx columns right, zeros where nothing comes in."""
    out = torch.zeros_like(img)
    H, W = img.shape[-2:]
    out[:, max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = img[:, max(-dy, 0):H - max(dy, 0), max(-dx, 0):W - max(dx, 0)]
    return out


def _find_shift(out: torch.Tensor, img: torch.Tensor, m: int) -> tuple[int, int] | None:
    for dy in range(-m, m + 1):
        for dx in range(-m, m + 1):
            if torch.equal(out, _shift_ref(img, dy, dx)):
                return dy, dx
    return None


_imgs = torch.rand(16, 1, 8, 8) + 0.1  # no zeros: a shift is recognisable by its zero border
_before = _imgs.clone()
_out = augment(_imgs, torch.Generator().manual_seed(0), max_shift=2)
check_shape("augment(images, generator, 2)", _out, (16, 1, 8, 8))
check_true(torch.equal(_imgs, _before), "augment modified its input; work on a copy (F.pad returns a new tensor)")
_shifts = [_find_shift(_out[n], _imgs[n], 2) for n in range(16)]
_bad = [n for n, s in enumerate(_shifts) if s is None]
check_true(not _bad, f"augment: image {(_bad or [0])[0]} is not its input shifted by at most 2 pixels with zero fill",
           hint="fill with zeros (F.pad), do not wrap around (torch.roll wraps)")
check_true(len(set(_shifts)) > 1, f"augment: all 16 images got the same shift {_shifts[0]}; draw one offset per image")
print(f"augment: visible tests passed ({len(set(_shifts))} different shifts among 16 images)")
### BEGIN HIDDEN TESTS
for _seed, _shape, _m in [(1, (64, 1, 8, 8), 1), (2, (8, 3, 10, 12), 3), (3, (1, 2, 5, 5), 2)]:
    _imgs = torch.rand(_shape, dtype=torch.float64) + 0.1
    _a = augment(_imgs, torch.Generator().manual_seed(_seed), max_shift=_m)
    _b = augment(_imgs, torch.Generator().manual_seed(_seed), max_shift=_m)
    check_true(_a.dtype == _imgs.dtype, f"augment changed the dtype from {_imgs.dtype} to {_a.dtype}")
    check_true(torch.equal(_a, _b), "augment: two generators with the same seed gave different outputs; draw only from `generator`")
    _shifts = [_find_shift(_a[n], _imgs[n], _m) for n in range(_shape[0])]
    check_true(all(s is not None for s in _shifts), f"augment: some image is not a zero-filled shift within {_m} pixels")
    if _shape[0] >= 8:
        check_true(len(set(_shifts)) > 1, "augment: every image got the same shift")
    if _shape[0] == 64:
        check_true(len({s[0] for s in _shifts}) == 3 and len({s[1] for s in _shifts}) == 3,
                   "augment: with max_shift=1 and 64 images, dy and dx should each take all of -1, 0, 1")
        check_true(sum(s[0] != s[1] for s in _shifts) >= 16,
                   f"augment: dy == dx for {sum(s[0] == s[1] for s in _shifts)} of 64 images; draw the two shifts independently",
                   hint="one random offset per axis and per image: torch.randint(..., (N, 2), generator=generator)")
_imgs = torch.rand(8, 1, 8, 8) + 0.1
check_true(torch.equal(augment(_imgs, torch.Generator().manual_seed(0), max_shift=0), _imgs), "augment with max_shift=0 must return the images unchanged")
_c = augment(_imgs, torch.Generator().manual_seed(5), max_shift=2)
_d = augment(_imgs, torch.Generator().manual_seed(6), max_shift=2)
check_true(not torch.equal(_c, _d), "augment: different seeds gave the same shifts")
### END HIDDEN TESTS

# %% code tags=demo
_gen = torch.Generator().manual_seed(0)
_row = X_train[:1].repeat(10, 1, 1, 1)
image_grid(torch.cat([X_train[:1], augment(_row[:9], _gen, max_shift=1)]).numpy(), labels=["original"] + ["shifted"] * 9,
           ncols=10, title="One training digit and nine random shifts of at most 1 pixel")
plt.show()

# %% markdown
# ### Concept check 2
#
# You train a classifier of road signs ("turn left", "turn right", "stop", ...) from dashboard
# photos. Which augmentation must you *not* use? Set `q2_answer` to one letter.
#
# - (a) small random shifts
# - (b) horizontal flips
# - (c) small changes of brightness
# - (d) random crops of 90% of the image, resized back

# %% solution id=q2_answer
q2_answer = None  # "a", "b", "c" or "d"
### BEGIN SOLUTION
q2_answer = "b"
### END SOLUTION

# %% tests id=test_q2_answer points=1
check_true(q2_answer in ("a", "b", "c", "d"), f"q2_answer is {q2_answer!r}; set it to one of 'a', 'b', 'c', 'd'")
print("q2_answer: answer recorded")
### BEGIN HIDDEN TESTS
check_equal("q2_answer", q2_answer, "b")
### END HIDDEN TESTS

# %% markdown
# ## 12. Transfer learning and fine-tuning
#
# Training a large CNN needs a large labelled data set, which most problems do not have. But the
# early layers of a network trained on one image task compute edges, corners and textures that are
# useful for almost any other. *Transfer learning* reuses them:
#
# 1. take a network trained on a big data set (ImageNet, in practice);
# 2. replace its classifier by a fresh one with the new number of classes;
# 3. **freeze** the feature extractor (no gradient updates) and train only the classifier: few
#    parameters, so few labels suffice;
# 4. optionally **fine-tune**: unfreeze some or all layers and continue with a learning rate about
#    ten times smaller, so the pretrained features are adjusted rather than overwritten.
#
# In PyTorch, freezing a parameter means `p.requires_grad = False`: autograd stops computing its
# gradient and an optimiser given only the trainable parameters leaves it alone. (Batch-norm layers
# also keep running statistics, which change in training mode whatever `requires_grad` says; to
# freeze them too, put the frozen part in `eval()` mode while training. The network of our
# experiment has no batch norm.)
#
# Our small experiment uses the canvas digits of section 9: a CNN learns the digits 0 to 4 from
# the training set. Then it has to recognise the other five classes from only a few labelled
# images each, and we compare it with the same network trained from scratch on those images alone.
#
# ### Exercise 12: `freeze_features`
#
# Set `requires_grad = False` on every parameter of `model` that is not in `model.classifier`,
# and `True` on the parameters of `model.classifier`. Return the number of parameters (entries,
# not tensors) left trainable.

# %% solution id=freeze_features
def freeze_features(model: nn.Module) -> int:
    """Freeze everything but model.classifier, in place.

    Inputs:
        model: an nn.Module with a sub-module `classifier`.
    Returns:
        n_trainable: total number of entries in the parameters that still require gradients.
    """
    ### BEGIN SOLUTION
    for p in model.parameters():
        p.requires_grad = False
    for p in model.classifier.parameters():
        p.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
    ### END SOLUTION


# %% tests id=test_freeze_features points=2
class _TwoPart(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten())
        self.classifier = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.classifier(self.features(x))


torch.manual_seed(0)
_m = _TwoPart()
_n = freeze_features(_m)
check_true(all(not p.requires_grad for p in _m.features.parameters()), "freeze_features: some parameter of features still requires grad")
check_true(all(p.requires_grad for p in _m.classifier.parameters()), "freeze_features: the classifier must stay trainable")
check_equal("freeze_features(model) return value", _n, 4 * 6 * 6 * 3 + 3, hint="count entries (p.numel()) of the trainable parameters")
print("freeze_features: visible tests passed")
### BEGIN HIDDEN TESTS
class _ThreePart(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 2, 3)
        self.features = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(3 * 4 * 4, 5), nn.ReLU(), nn.Linear(5, 2))

    def forward(self, x):
        return self.classifier(self.features(self.stem(x)))


torch.manual_seed(1)
_m = _ThreePart()
for _p in _m.classifier.parameters():
    _p.requires_grad = False  # already frozen: freeze_features must turn the classifier back on
_n = freeze_features(_m)
check_equal("freeze_features on a model with a stem", _n, sum(p.numel() for p in _m.classifier.parameters()))
check_true(not any(p.requires_grad for n_, p in _m.named_parameters() if not n_.startswith("classifier.")),
           "freeze_features: every parameter outside model.classifier must be frozen (not only model.features)")
check_true(all(p.requires_grad for p in _m.classifier.parameters()), "freeze_features: classifier parameters must require grad")
_before = {k: v.clone() for k, v in _m.state_dict().items()}
_opt = torch.optim.SGD(_m.parameters(), lr=0.1)
F.cross_entropy(_m(torch.randn(4, 1, 8, 8)), torch.tensor([0, 1, 0, 1])).backward()
_opt.step()
for _k, _v in _m.state_dict().items():
    _changed = not torch.equal(_v, _before[_k])
    check_true(_changed == _k.startswith("classifier.") or not _k.endswith("weight"),
               f"after one SGD step, {_k} {'changed' if _changed else 'did not change'}")
### END HIDDEN TESTS

# %% markdown
# ### The experiment
#
# The network is fixed here, so that the comparison does not depend on your `DigitsCNN`: three
# 3x3 convolutions with ReLU (32, 64, 64 channels; 2x2 max pooling after the first two) and a
# global max pool over positions as `features`, one linear layer as `classifier`. It is
# pretrained on the canvas digits 0 to 4 (training split; the epoch with the lowest validation
# loss kept). Then, for three random draws of FT_K labelled training canvases of each of the
# digits 5 to 9:
#
# - **fine-tuned**: the pretrained network with a fresh 5-class classifier, first with the
#   features frozen by your `freeze_features` (60 full-batch steps, learning rate 0.01), then with
#   every layer unfrozen (60 more, learning rate 0.001);
# - **from scratch**: the same network freshly initialised, with the same two stages.
#
# With so few labels there is nothing to spare for a validation set: both train for a fixed
# number of steps. Each is tested once on every test image of the digits 5 to 9.

# %% code tags=slow
class TransferNet(nn.Module):
    """The transfer experiment's network: features (three conv blocks, global max pool) then classifier (linear)."""

    def __init__(self, n_classes: int = 5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(64, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


FT_SOURCE, FT_TARGET, FT_K, FT_STEPS, FT_DRAWS = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9), 5, 60, 3
_src, _src_val = torch.isin(y_train, torch.tensor(FT_SOURCE)), torch.isin(y_val, torch.tensor(FT_SOURCE))
_tgt_test = torch.isin(y_test, torch.tensor(FT_TARGET))
X_new_test, y_new_test = C_test[_tgt_test], y_test[_tgt_test] - 5  # new classes 5..9 become labels 0..4

torch.manual_seed(0)
pretrained = train(TransferNet(5), C_train[_src], y_train[_src], epochs=15, lr=5e-3, X_val=C_val[_src_val], y_val=y_val[_src_val])
print(f"pretrained on {FT_SOURCE}: validation accuracy on those classes {accuracy(pretrained, C_val[_src_val], y_val[_src_val]):.4f}")

ft_results = {"frozen": [], "fine-tuned": [], "from scratch": []}
for _draw in range(FT_DRAWS):
    _rng = np.random.default_rng(_draw)
    _few = np.concatenate([_rng.choice(np.flatnonzero(digits.y_train == c), FT_K, replace=False) for c in FT_TARGET])
    X_few, y_few = C_train[_few], y_train[_few] - 5
    torch.manual_seed(_draw)
    tuned = copy.deepcopy(pretrained)
    tuned.classifier = nn.Linear(64, 5)  # a fresh classifier for the new classes
    _n = freeze_features(tuned)
    train(tuned, X_few, y_few, epochs=FT_STEPS, lr=1e-2, batch_size=len(X_few), seed=_draw)
    ft_results["frozen"].append(accuracy(tuned, X_new_test, y_new_test))
    for _p in tuned.parameters():
        _p.requires_grad = True
    train(tuned, X_few, y_few, epochs=FT_STEPS, lr=1e-3, batch_size=len(X_few), seed=_draw)
    ft_results["fine-tuned"].append(accuracy(tuned, X_new_test, y_new_test))
    torch.manual_seed(_draw)
    scratch = TransferNet(5)
    train(scratch, X_few, y_few, epochs=FT_STEPS, lr=1e-2, batch_size=len(X_few), seed=_draw)
    train(scratch, X_few, y_few, epochs=FT_STEPS, lr=1e-3, batch_size=len(X_few), seed=_draw)
    ft_results["from scratch"].append(accuracy(scratch, X_new_test, y_new_test))
print(f"trainable while frozen: {_n} of {sum(p.numel() for p in tuned.parameters())} parameters")
for _name, _accs in ft_results.items():
    print(f"{_name:>13}: test accuracy " + ", ".join(f"{a:.4f}" for a in _accs) + f"; mean {np.mean(_accs):.4f}")

_names = ["frozen features,\nnew classifier", "then fine-tuned\n(all layers, lr / 10)", "same network\nfrom scratch"]
_means = [float(np.mean(v)) for v in ft_results.values()]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.bar(_names, _means, color=[OKABE_ITO[0], OKABE_ITO[2], OKABE_ITO[1]])
for _i, (_m, _accs) in enumerate(zip(_means, ft_results.values())):
    ax.plot([_i] * len(_accs), _accs, "k.", ms=6)
    ax.text(_i + 0.12, _m + 0.01, f"{_m:.3f}", ha="left")
ax.set(title=f"Digits 5-9 from {FT_K} labelled images each: test split, mean of {FT_DRAWS} draws (dots)",
       ylabel="test accuracy", ylim=(0, 1.08))
plt.show()

# %% tests id=test_finetune_beats_scratch points=1 tags=slow
_tuned, _scratch = float(np.mean(ft_results["fine-tuned"])), float(np.mean(ft_results["from scratch"]))
check_true(_tuned > _scratch,
           f"mean over {FT_DRAWS} draws: fine-tuned {_tuned:.4f}, from scratch {_scratch:.4f}; fine-tuning should win",
           hint="freeze_features must leave only model.classifier trainable")
print(f"fine-tuned {_tuned:.4f} beats from scratch {_scratch:.4f} (mean of {FT_DRAWS} draws)")

# %% markdown
# The course's benchmark runs the same experiment on five draws
# (`python benchmarks/m3_lessons.py finetune --seeds 5`; draws 0 to 2 are the ones above):
#
# | | frozen features | fine-tuned | from scratch |
# | --- | --- | --- | --- |
# | test accuracy, mean of 5 draws | 0.569 | 0.663 | 0.461 |
# | fine-tuned better than from scratch | | 5 of 5 draws | |
#
# Twenty-five labelled canvases are far too few to learn, from scratch, stroke detectors that work
# at every position; the pretrained features already do, so even the frozen ones with a new
# classifier beat training from scratch, and adapting them with a ten times smaller learning rate
# gains about ten points more. (While this module was written, the same comparison on the
# centred 8x8 digits went the other way, 0.89 fine-tuned against 0.92 from scratch over five
# draws: there 25 images teach a small CNN almost everything, and features learned for 0-4 are a
# narrow base for 5-9. Transfer pays when the new task is hard to learn from the few labels and
# the old features fit it.) With photographs and features pretrained on ImageNet's million
# images the gap is large and reliable: this is how most practical image classifiers are built.
#
# ## 13. A word on detection
#
# Classification says *what* is in an image; detection also says *where*, with one box and label
# per object. Two families grew out of the CNNs above:
#
# - **two-stage, R-CNN** (2014) and its successors Fast and Faster R-CNN: first propose regions
#   that might contain an object, then classify each region (and refine its box) with a CNN on
#   shared feature maps. Accurate, slower.
# - **one-stage, YOLO** ("you only look once", 2016) and SSD: a single CNN divides the image into
#   a grid and predicts, for every cell at once, boxes, confidence scores and classes. Fast enough
#   for video.
#
# Both use a pretrained classification network as the feature extractor: transfer learning again.
# Segmentation (a label per pixel) adds an upsampling path of transposed convolutions, as in U-Net.
#
# ## Summary
#
# - A convolution is a cross-correlation of learned kernels with the image; output size
#   $\lfloor (n + 2p - k)/s \rfloor + 1$, parameters $C_\text{out}(C_\text{in}k^2 + 1)$.
# - im2col turns it into one matrix product; its backward pass is another convolution, with the
#   gradients summed over overlapping windows.
# - Pooling shrinks the maps; stacking layers grows the receptive field.
# - On centred 8x8 digits a small CNN is about as accurate as module 2's fully connected networks;
#   where the position of a digit varies, its shared weights make it far better with fewer
#   parameters (measured above on a 16x16 canvas).
# - Residual connections let deep stacks train (measured above); augmentation and transfer
#   learning make the most of little data.
#
# Next, module 4 turns from images to sequences: recurrent networks.
