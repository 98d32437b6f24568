"""Offline data sets, all of them available without a network.

* ``load_digits_split``: scikit-learn's 1,797 handwritten digits (8x8 grey images, shipped inside
  scikit-learn) with a fixed, stratified train/test split, so every notebook and every grader sees
  the same numbers.
* ``make_xor``, ``make_moons``, ``make_circles``, ``make_blobs``: small 2-D problems for decision
  boundaries.
* ``load_sample_photo``: the two photographs shipped with scikit-learn, as float arrays in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DigitsSplit",
    "load_digits_split",
    "load_sample_photo",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_xor",
]


@dataclass(frozen=True)
class DigitsSplit:
    """The digits as ``(N, 64)`` float arrays in [0, 1] and integer labels 0-9."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def images(self, X: np.ndarray) -> np.ndarray:
        """Reshape flat rows ``(N, 64)`` into images ``(N, 1, 8, 8)`` (batch-first, channels-first)."""
        return X.reshape(-1, 1, 8, 8)


def load_digits_split(test_fraction: float = 0.25, seed: int = 0) -> DigitsSplit:
    """Load the handwritten digits with a stratified split that depends only on ``seed``.

    Pixel values (0-16 in the source) are scaled to [0, 1]. With the defaults: 1,347 training and
    450 test images.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float64)
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test_idx: list[int] = []
    for label in range(10):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        test_idx.extend(idx[: int(round(len(idx) * test_fraction))].tolist())
    test_mask = np.zeros(len(y), dtype=bool)
    test_mask[test_idx] = True
    return DigitsSplit(X[~test_mask], y[~test_mask], X[test_mask], y[test_mask])


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
