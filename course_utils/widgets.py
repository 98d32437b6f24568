"""Small wrappers around ipywidgets for the notebooks' interactive figures.

``slider_plot`` ties sliders to a function that draws one matplotlib figure; each change redraws it
in place. A widget's figure lives in the widget's output, which is lost wherever the widget
cannot run (an exported or released copy of the notebook), so each widget cell is followed by a
plain ``draw_once(draw, **defaults)`` cell that leaves a static picture of its default view.

Where ``draw`` calls an exercise the student has not written yet (it raises NotImplementedError,
or its cell has not been run: NameError), both show one line, "Implement `tanh` above to see
this.", instead of a traceback.
"""
from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets
import matplotlib.pyplot as plt

__all__ = ["float_slider", "int_slider", "dropdown", "slider_plot", "draw_once"]


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


def _unfinished_exercise(exc: BaseException) -> str | None:
    """The name of the exercise that is not written yet behind ``exc``, or None for any other error."""
    if isinstance(exc, NameError):
        return getattr(exc, "name", None)  # set by Python 3.10+ for an undefined name
    if isinstance(exc, NotImplementedError):
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        return tb.tb_frame.f_code.co_name if tb is not None else None
    return None


def draw_once(draw: Callable[..., None], **values: Any) -> None:
    """Draw ``draw(**values)`` as a plain figure, or say which exercise it still waits for."""
    try:
        draw(**values)
    except (NameError, NotImplementedError) as exc:
        plt.close("all")
        print(f"Implement `{_unfinished_exercise(exc)}` above to see this.")
        return
    plt.show()


def slider_plot(draw: Callable[..., None], **controls: widgets.Widget) -> widgets.Widget:
    """Show ``controls`` above a figure drawn by ``draw(**values)``, redrawn on every change.

    ``draw`` makes its own figure with ``plt.subplots`` and does not call ``plt.show``.
    """
    out = widgets.Output()
    drawn: list[bool] = []

    def redraw(**values: Any) -> None:
        drawn.append(True)
        with out:
            out.clear_output(wait=True)
            draw_once(draw, **values)

    ui = widgets.interactive(redraw, **controls)
    if not drawn:
        # ipywidgets 8 draws the defaults as interactive() is built; ipywidgets 7 (Colab's 7.7.1) only
        # when the interactive itself is displayed, which it never is here: draw them now, once.
        ui.update()
    return widgets.VBox([widgets.HBox(list(ui.children[:-1]), layout=widgets.Layout(flex_flow="row wrap")), out])
