"""Small wrappers around ipywidgets for the notebooks' interactive figures.

``slider_plot`` ties sliders to a function that draws one matplotlib figure; each change redraws it
in place. Without a live kernel (in CI, or in an exported HTML file) the figure for the default
values is drawn once, so executed notebooks still show a picture.
"""
from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt

__all__ = ["float_slider", "int_slider", "dropdown", "slider_plot"]


def float_slider(description: str, value: float, lo: float, hi: float, step: float = 0.01) -> widgets.FloatSlider:
    """A float slider wide enough to read its label."""
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                               continuous_update=False, style={"description_width": "initial"},
                               layout=widgets.Layout(width="360px"))


def int_slider(description: str, value: int, lo: int, hi: int, step: int = 1) -> widgets.IntSlider:
    """An integer slider wide enough to read its label."""
    return widgets.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                             continuous_update=False, style={"description_width": "initial"},
                             layout=widgets.Layout(width="360px"))


def dropdown(description: str, options: list[Any], value: Any = None) -> widgets.Dropdown:
    """A dropdown menu."""
    return widgets.Dropdown(options=options, value=value if value is not None else options[0],
                            description=description, style={"description_width": "initial"})


def slider_plot(draw: Callable[..., None], **controls: widgets.Widget) -> widgets.Widget:
    """Show ``controls`` above a figure drawn by ``draw(**values)``, redrawn on every change.

    ``draw`` makes its own figure with ``plt.subplots`` and does not call ``plt.show``.
    """
    out = widgets.Output()

    def redraw(**values: Any) -> None:
        with out:
            out.clear_output(wait=True)
            draw(**values)
            plt.show()

    # interactive() already calls redraw once with the default values, so no extra call here.
    ui = widgets.interactive(redraw, **controls)
    return widgets.VBox([widgets.HBox(list(ui.children[:-1]), layout=widgets.Layout(flex_flow="row wrap")), out])
