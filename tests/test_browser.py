"""A real browser on every student notebook (issue 11): Playwright drives Debian's Chromium
(/usr/bin/chromium, installed by .ci/setup-browser; nothing is downloaded) through JupyterLab,
served by this environment on a free port with a token, over a temporary copy of the student
notebooks with the reference answers filled in. Each notebook runs all its cells in the browser;
every widget of the module must render as a widget (not "Loading widget...", "Error displaying
widget" or its text repr), and moving one slider (Module 5: typing in its text box, its only
control) must change the figure. Screenshots go to browser-artifacts/ (COURSE_BROWSER_ARTIFACTS).

Run with `make test-browser` (marker `browser`; `make test-fast` leaves it out). Without Chromium
the tests are skipped, unless COURSE_BROWSER_REQUIRED=1 (CI sets it) makes that a failure."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course

sys.path.insert(0, str(Path(__file__).parent))
import browser_lab as lab  # noqa: E402

pytestmark = pytest.mark.browser
COURSE = Course()
ARTIFACTS = lab.ARTIFACTS
RUN_TIMEOUT_S = float(os.environ.get("COURSE_BROWSER_RUN_TIMEOUT", "600"))  # per notebook, generous for a busy machine

SELF_CHECK = [
    # 0: a widget view whose model does not exist: JupyterLab shows "Error displaying widget".
    "from IPython.display import display\n"
    "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'f' * 32, 'version_major': 2, 'version_minor': 0},"
    " 'text/plain': 'VBox(children=())'}, raw=True)",
    # 1: a widget printed instead of displayed: its text repr.
    "import ipywidgets as w\nprint(w.VBox([w.IntSlider()]))",
    # 2: a slider whose figure ignores it.
    "import matplotlib.pyplot as plt\nfrom course_utils.widgets import float_slider, slider_plot\n\n\n"
    "def same(a):\n    fig, ax = plt.subplots(figsize=(3, 2))\n    ax.plot([0, 1], [0, 1])\n\n\n"
    "slider_plot(same, a=float_slider('a', 0.5, 0.0, 1.0))",
    # 3: a slider whose figure follows it.
    "def follows(a):\n    fig, ax = plt.subplots(figsize=(3, 2))\n    ax.plot([0, 1], [0, a])\n    ax.set_ylim(0, 1)\n\n\n"
    "slider_plot(follows, a=float_slider('a', 0.2, 0.0, 1.0))",
]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    if not Path(lab.CHROMIUM).exists():
        msg = f"no Chromium at {lab.CHROMIUM}: run `sudo .ci/setup-browser` (apt-get install chromium)"
        if os.environ.get("COURSE_BROWSER_REQUIRED") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    sync_api = pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("browser")
    folder = tmp / "notebooks"
    lab.write_references(COURSE, COURSE.assignments(), folder)
    (folder / "selfcheck").mkdir()
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in SELF_CHECK], metadata=kernel),
                   folder / "selfcheck" / "selfcheck.ipynb")
    lab.clean_artifacts(ARTIFACTS)
    print(f"\nbrowser check: screenshots in {ARTIFACTS}", flush=True)
    with lab.lab_server(folder, tmp / "scratch", ARTIFACTS / "jupyterlab.log") as (url, token), sync_api.sync_playwright() as pw:
        # A new, empty profile; Chromium as Debian ships it, never a downloaded browser.
        ctx = pw.chromium.launch_persistent_context(str(tmp / "profile"), executable_path=lab.CHROMIUM, headless=True,
                                                    args=lab.CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        page.set_default_timeout(120_000)  # a busy 2-core machine is slow to lay out and screenshot
        yield page, url, token
        ctx.close()


def test_the_check_fails_on_broken_widgets_and_dead_sliders(browser_page):
    """The checks below would catch what they look for: an undisplayable widget, a printed repr,
    a slider that changes nothing; and pass a working widget."""
    page, url, token = browser_page
    lab.open_notebook(page, url, token, "selfcheck")
    lab.run_all(page, "selfcheck", RUN_TIMEOUT_S)
    assert any("Error displaying widget" in p for p in lab.widget_problems(page, 0, timeout_s=10))
    assert any("text repr" in p for p in lab.widget_problems(page, 1, timeout_s=5))
    assert lab.widget_problems(page, 2) == [] and lab.widget_problems(page, 3) == []
    changed, _, _, _ = lab.changed_picture(page, 2, ARTIFACTS, "selfcheck_dead_slider", timeout_s=10)
    assert not changed
    changed, action, _, after = lab.changed_picture(page, 3, ARTIFACTS, "selfcheck_live_slider")
    assert changed, f"{action}: the figure did not change ({after})"
    lab.close_current(page)


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_student_notebook_in_jupyterlab(browser_page, assignment):
    page, url, token = browser_page
    expected = lab.interactive_widgets(COURSE, assignment)
    assert expected, f"{assignment}: no widget found in the executed source notebook"
    t0 = time.monotonic()
    lab.open_notebook(page, url, token, assignment)
    state = lab.run_all(page, assignment, RUN_TIMEOUT_S)
    ran = time.monotonic() - t0
    problems, moved, working = [], None, []
    for gid in expected:
        index = lab.cell_index(COURSE, assignment, gid)
        found = lab.widget_problems(page, index)
        area = lab.outputs(page, index)
        area.scroll_into_view_if_needed()
        area.screenshot(path=str(ARTIFACTS / f"{assignment}_{gid}.png"))
        problems += [f"{gid}: {p}" for p in found]
        if not found and lab.figure_of(page, index).count():
            working.append((gid, index))
    # Move a slider: the first widget that has one (Module 5's only widget has a text box, Module 6's
    # only dropdowns: those are changed instead).
    if working:
        gid, index = next((w for w in working if lab.has_slider(page, w[1])), working[0])
        moved = lab.changed_picture(page, index, ARTIFACTS, f"{assignment}_{gid}")
        if not moved[0]:
            problems.append(f"{gid}: {moved[1]}, but the figure did not change (see {moved[3]})")
    text = lab.notebook_text(page)
    problems += [f"somewhere in the notebook: {b!r}" for b in lab.BROKEN if b in text]
    with open(ARTIFACTS / "timings.txt", "a") as f:
        f.write(f"{assignment}: {state['run']} code cells run in the browser, open+run {ran:.0f} s, "
                f"{len(expected)} widget(s), {moved[1] if moved else 'nothing moved'}; load {os.getloadavg()[0]:.1f}\n")
    assert moved is not None, f"{assignment}: no widget with a figure to move"
    assert not problems, f"{assignment}: " + "; ".join(problems)
    lab.close_current(page)
