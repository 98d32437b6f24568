"""Offline data sets, all of them available without a network.

* ``load_digits_split``: scikit-learn's 1,797 handwritten digits (8x8 grey images, shipped inside
  scikit-learn) with a fixed, stratified train/validation/test split, so every notebook and every
  grader sees the same numbers. Train on ``train``, choose settings and stop early on ``val``, and
  touch ``test`` once, at the very end.
* ``stratified_split``: the same kind of split for any labelled arrays.
* ``load_text_corpus`` and ``split_text``: Python's own reference documentation, shipped with
  every Python in ``pydoc_data.topics``, as ASCII text for character-level language models.
* ``load_membrane_potential`` and ``series_blocks``: a real recording of a neuron's membrane
  potential (shipped in matplotlib's sample data) and a blocked train/validation/test split of it,
  for time-series forecasting.
* ``shuffled_pixels``: images with their pixels shuffled, as inputs that look like no digit.
* ``make_xor``, ``make_moons``, ``make_circles``, ``make_blobs``: small 2-D problems for decision
  boundaries.
* ``load_sample_photo``: the two photographs shipped with scikit-learn, as float arrays in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DigitsSplit",
    "load_digits_split",
    "load_membrane_potential",
    "load_sample_photo",
    "load_text_corpus",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_xor",
    "series_blocks",
    "shuffled_pixels",
    "split_text",
    "stratified_split",
]


@dataclass(frozen=True)
class DigitsSplit:
    """The digits as ``(N, 64)`` float arrays in [0, 1] and integer labels 0-9.

    ``X_val`` / ``y_val`` are empty unless ``load_digits_split`` was asked for a validation split.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_val: np.ndarray = field(default_factory=lambda: np.zeros((0, 64)))
    y_val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def images(self, X: np.ndarray) -> np.ndarray:
        """Reshape flat rows ``(N, 64)`` into images ``(N, 1, 8, 8)`` (batch-first, channels-first)."""
        return X.reshape(-1, 1, 8, 8)


def stratified_split(y: np.ndarray, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(rest, held_out)`` with ``fraction`` of every class held out, fixed by ``seed``.

    Inputs:
        y: ``(N,)`` integer labels.
        fraction: share of each class to hold out, in [0, 1).
    Returns:
        rest, held_out: sorted integer index arrays that together cover ``0..N-1`` once.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        held.extend(idx[: int(round(len(idx) * fraction))].tolist())
    mask = np.zeros(len(y), dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def load_digits_split(test_fraction: float = 0.25, seed: int = 0, val_fraction: float = 0.0) -> DigitsSplit:
    """Load the handwritten digits with a stratified split that depends only on ``seed``.

    Pixel values (0-16 in the source) are scaled to [0, 1]. The test set is drawn first, so it is
    the same whatever ``val_fraction`` is; the validation set is then ``val_fraction`` of the
    remaining images. With the defaults: 1,347 training and 450 test images, no validation set;
    with ``val_fraction=0.2``: 1,078 training, 269 validation and the same 450 test images.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float64)
    y = digits.target.astype(np.int64)
    rest, test = stratified_split(y, test_fraction, seed)
    train, val = stratified_split(y[rest], val_fraction, seed + 1)
    train, val = rest[train], rest[val]
    return DigitsSplit(X[train], y[train], X[test], y[test], X[val], y[val])


def make_xor(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points around the four corners of the unit square, labelled by XOR of the corner."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(n, 2))
    X = corners + noise * rng.standard_normal((n, 2))
    y = (corners[:, 0] ^ corners[:, 1]).astype(np.int64)
    return X, y


def make_moons(n: int = 200, noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``)."""
    from sklearn.datasets import make_moons as _moons

    X, y = _moons(n_samples=n, noise=noise, random_state=seed)
    return X, y.astype(np.int64)


def make_circles(n: int = 200, noise: float = 0.08, factor: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one (scikit-learn's ``make_circles``)."""
    from sklearn.datasets import make_circles as _circles

    X, y = _circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    return X, y.astype(np.int64)


def make_blobs(n: int = 200, centers: int = 2, std: float = 0.6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, linearly separable for two well-spaced centres."""
    from sklearn.datasets import make_blobs as _blobs

    X, y = _blobs(n_samples=n, centers=centers, cluster_std=std, random_state=seed)
    return X, y.astype(np.int64)


def load_sample_photo(name: str = "china", grey: bool = False) -> np.ndarray:
    """One of scikit-learn's two sample photographs, ``"china"`` or ``"flower"``.

    Returns ``(H, W, 3)`` float64 in [0, 1], or ``(H, W)`` with ``grey=True`` (luma weights).
    """
    from sklearn.datasets import load_sample_image

    files = {"china": "china.jpg", "flower": "flower.jpg"}
    if name not in files:
        raise ValueError(f"unknown photo {name!r}; choose one of {sorted(files)}")
    img = load_sample_image(files[name]).astype(np.float64) / 255.0
    if grey:
        return img @ np.array([0.299, 0.587, 0.114])
    return img


def load_text_corpus(max_chars: int | None = None) -> str:
    """Python's reference documentation (``pydoc_data.topics``, in every Python's standard library).

    About 460,000 characters of English prose and code examples, joined topic by topic in sorted
    order and folded to printable ASCII (curly quotes become straight ones; other characters that
    ASCII lacks are dropped), so the vocabulary is small and the same on every machine. The text
    changes a little between Python versions; ``len(text)`` tells which one you have.

    Returns:
        text: one string, at most ``max_chars`` long.
    """
    import unicodedata

    from pydoc_data.topics import topics

    text = "\n\n".join(topics[k].strip("\n") for k in sorted(topics))
    for fancy, plain in {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2026": "..."}.items():
        text = text.replace(fancy, plain)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = "".join(ch for ch in text if ch == "\n" or 32 <= ord(ch) < 127)
    return text if max_chars is None else text[:max_chars]


def split_text(text: str, val_fraction: float = 0.1, test_fraction: float = 0.1) -> tuple[str, str, str]:
    """Cut ``text`` into contiguous ``(train, val, test)`` pieces, in that order.

    Contiguous pieces, not shuffled characters: a model judged on held-out text must not have seen
    the sentences around each held-out character.
    """
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError(f"fractions must be non-negative and sum below 1, got {val_fraction} and {test_fraction}")
    n = len(text)
    a = int(n * (1 - val_fraction - test_fraction))
    b = int(n * (1 - test_fraction))
    return text[:a], text[a:b], text[b:]


# ---------------------------------------------------------------------------------------------
# Module 6 (generalisation, generative models and practice)
# ---------------------------------------------------------------------------------------------


def shuffled_pixels(x, seed: int = 0):
    """Every row of ``x`` with its entries in a random order of its own: the same pixel values
    (so the same brightness) without the shape of a digit. Module 6 uses such images as
    out-of-distribution inputs, for anomaly detection and to teach a classifier to be unsure.

    Inputs:
        x: ``(N, D)`` NumPy array or torch tensor.
        seed: fixes the permutations.
    Returns:
        an array or tensor like ``x``; row ``n`` is a permutation of ``x[n]``.
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((x.shape[0], x.shape[1])), axis=1)
    if isinstance(x, np.ndarray):
        return np.take_along_axis(x, order, axis=1)
    import torch

    return x.gather(1, torch.as_tensor(order, device=x.device))

# Module 4 (recurrent networks): a real time series that ships offline. Kept in one block at the end
# (not in __all__ or the docstring above) so that helpers added for other modules do not collide.
# ---------------------------------------------------------------------------------------------


def load_membrane_potential(downsample: int = 4) -> np.ndarray:
    """A neuron's membrane potential, recorded while a current step makes it fire about 70 spikes.

    The recording ships with matplotlib as ``sample_data/membrane.dat`` (12,000 float32 samples;
    matplotlib's own examples plot it). Before the current is switched on, and after it is switched
    off, the cell rests near -0.67; in between it spikes roughly every 143 samples. Averaging each
    run of ``downsample`` samples keeps the shape of the spikes and makes the series shorter.

    Returns:
        x: ``(12000 // downsample,)`` float64 array, in the recording's own units.
    """
    from pathlib import Path

    import matplotlib

    if downsample < 1:
        raise ValueError(f"downsample must be a positive integer, got {downsample}")
    raw = np.fromfile(Path(matplotlib.get_data_path()) / "sample_data" / "membrane.dat", dtype=np.float32)
    n = len(raw) // downsample * downsample
    return raw[:n].astype(np.float64).reshape(-1, downsample).mean(axis=1)


def series_blocks(n: int, block: int = 150) -> np.ndarray:
    """Which split each of ``n`` time steps belongs to: 0 train, 1 validation, 2 test, in blocks.

    The steps are cut into consecutive blocks of ``block`` steps; of every five blocks the first
    three train, the fourth validates and the fifth tests (blocked cross-validation). Unlike one
    chronological cut, every regime of a series that changes behaviour (the membrane potential
    rests, spikes regularly, spikes irregularly, rests again) appears in every split, while each
    held-out block is still a contiguous stretch whose values the model never trained on.

    Returns:
        labels: ``(n,)`` int64 array of 0, 1 and 2.
    """
    if n < 0 or block < 1:
        raise ValueError(f"need n >= 0 and block >= 1, got n={n}, block={block}")
    cycle = np.array([0, 0, 0, 1, 2], dtype=np.int64)
    return cycle[(np.arange(n) // block) % 5]
