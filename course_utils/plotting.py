"""Plots the notebooks share: decision boundaries, training curves, image grids, live curves.

Colours come from the Okabe-Ito palette, which stays distinguishable under the common forms of
colour blindness. Every plot gets a title and labelled axes.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

__all__ = ["OKABE_ITO", "LiveCurves", "image_grid", "plot_curves", "plot_decision_boundary", "style"]

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def style() -> None:
    """Readable defaults: larger fonts, the colour-blind-safe cycle, light grid."""
    plt.rcParams.update(
        {
            "figure.dpi": 90,
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": plt.cycler(color=OKABE_ITO),
        }
    )


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax: Any = None,
    title: str = "Decision boundary",
    resolution: int = 200,
    padding: float = 0.5,
) -> Any:
    """Shade the plane by ``predict`` (``(M, 2) -> (M,)`` labels or scores) and scatter ``X``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    x0 = np.linspace(X[:, 0].min() - padding, X[:, 0].max() + padding, resolution)
    x1 = np.linspace(X[:, 1].min() - padding, X[:, 1].max() + padding, resolution)
    g0, g1 = np.meshgrid(x0, x1)
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    z = np.asarray(predict(grid)).reshape(g0.shape)
    classes = np.unique(y)
    cmap = ListedColormap(OKABE_ITO[: max(len(classes), 2)])
    ax.contourf(g0, g1, z, alpha=0.25, cmap=cmap, levels=np.arange(len(classes) + 1) - 0.5 if z.dtype.kind in "iub" else 20)
    for k, c in enumerate(classes):
        m = y == c
        ax.scatter(X[m, 0], X[m, 1], s=18, color=OKABE_ITO[k % 8], edgecolor="k", linewidth=0.3, label=f"class {c}")
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$")
    ax.legend(loc="best", fontsize=9)
    return ax


def plot_curves(
    history: Mapping[str, Sequence[float]],
    xlabel: str = "epoch",
    ylabel: str = "value",
    title: str = "Training curves",
    ax: Any = None,
    logy: bool = False,
) -> Any:
    """Plot named series, e.g. ``{"train loss": [...], "val loss": [...]}``, against the step."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for k, (label, values) in enumerate(history.items()):
        ax.plot(np.arange(1, len(values) + 1), values, label=label, color=OKABE_ITO[k % 8])
    if logy:
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend()
    return ax


def image_grid(
    images: np.ndarray,
    labels: Sequence[Any] | None = None,
    ncols: int = 10,
    title: str | None = None,
    cmap: str = "gray_r",
    size: float = 1.0,
) -> Any:
    """Show ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, H, W, 3)`` images in a grid with optional labels."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] in (1, 3):
        images = np.moveaxis(images, 1, -1)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap if images[i].ndim == 2 else None)
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


class LiveCurves:
    """Training curves that redraw in place while a loop runs.

    ``live = LiveCurves(title="MLP on digits")`` then ``live.update({"train loss": 0.3, "val loss": 0.4})``
    once an epoch. In a notebook the figure is replaced in place (one output, not one per epoch);
    redrawing happens every ``every`` updates and once more on ``close()``.
    """

    def __init__(self, title: str = "Training curves", ylabel: str = "loss", every: int = 1):
        self.history: dict[str, list[float]] = {}
        self.title, self.ylabel, self.every = title, ylabel, every
        self._handle: Any = None
        self._steps = 0

    def update(self, values: Mapping[str, float]) -> None:
        """Append one value per named series and redraw every ``every`` calls."""
        for name, v in values.items():
            self.history.setdefault(name, []).append(float(v))
        self._steps += 1
        if self._steps % self.every == 0:
            self._draw()

    def close(self) -> None:
        """Draw the final state (call after the loop)."""
        self._draw()

    def _draw(self) -> None:
        from IPython.display import display

        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        plot_curves(self.history, title=self.title, ylabel=self.ylabel, ax=ax)
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)
