"""A real browser on the student notebooks: JupyterLab driven by Playwright with Debian's Chromium.

Used by tests/test_browser.py (`make test-browser`). Nothing is downloaded: Playwright's wheel
brings its driver, the browser is the system's /usr/bin/chromium (apt-get install chromium, done by
.ci/setup-browser), and JupyterLab runs from this environment on a free local port with a token.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat

from autograder.assemble import nbg
from autograder.course import Course
from autograder.examples import reference

CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--disable-crash-reporter", "--disable-breakpad"]
ARTIFACTS = Path(os.environ.get("COURSE_BROWSER_ARTIFACTS", Path(__file__).resolve().parent.parent / "browser-artifacts"))
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PROGRESS = re.compile(r"\d+%\|")  # a tqdm bar's text: a progress widget, not one of the notebook's own
BROKEN = ("Loading widget...", "Error displaying widget")
RAW_REPR = re.compile(r"^(VBox|HBox|interactive|FloatSlider|IntSlider|Dropdown)\(", re.M)


def interactive_widgets(course: Course, assignment: str) -> list[str]:
    """Grade ids of the cells whose executed source notebook shows one of the module's own widgets
    (progress bars left out): each must render as a widget in the browser."""
    source = nbformat.read(course.source(assignment), as_version=4)
    found = []
    for c in source.cells:
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            data = o.get("data", {})
            if WIDGET_MIME in data and not PROGRESS.search("".join(data.get("text/plain", ""))):
                found.append(nbg(c)["grade_id"])
    return found


def write_references(course: Course, assignments: list[str], folder: Path) -> None:
    """The student notebooks with the reference answers in (solution cells by grade id), so that
    every cell runs; no widget state, as released."""
    for a in assignments:
        (folder / a).mkdir(parents=True, exist_ok=True)
        nbformat.write(reference(course, a), folder / a / f"{a}.ipynb")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SETTINGS = {
    # Every cell stays in the page (no virtual scrolling), so every output can be found.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # No news or update checks (no network).
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


@contextmanager
def lab_server(folder: Path, scratch: Path, log: Path):
    """JupyterLab serving ``folder`` on a free local port with a token; stopped on exit."""
    port, token = free_port(), secrets.token_hex(16)
    settings = scratch / "settings"
    for name, value in SETTINGS.items():
        p = settings / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(value))
    # The kernels get the test run's environment less what would change a notebook's behaviour: a
    # test module's MPLBACKEND=Agg would turn every plt.show() into nothing (no figure at all).
    base = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "PYTEST_CURRENT_TEST")}
    env = {**base, "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"), "JUPYTER_CONFIG_DIR": str(scratch / "config"),
           "COURSE_NUM_THREADS": os.environ.get("COURSE_NUM_THREADS", "2")}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}", "--LabApp.expose_app_in_browser=True",
           "--ServerApp.port_retries=0"] + (["--allow-root"] if os.geteuid() == 0 else [])
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start (see {log}):\n" + log.read_text()[-3000:]) from None
                time.sleep(0.5)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


STATE_JS = """() => {
  const p = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!p || !p.content || !p.sessionContext) return null;
  const kernel = p.sessionContext.session && p.sessionContext.session.kernel;
  let pending = 0, run = 0, errors = [];
  for (const c of p.content.widgets) {
    if (c.model.type !== 'code') continue;
    if (c.model.executionCount === null || c.model.executionState === 'running') pending++; else run++;
    const outs = c.model.outputs;
    for (let i = 0; i < outs.length; i++) {
      const o = outs.get(i).toJSON();
      if (o.output_type === 'error') errors.push(o.ename + ': ' + String(o.evalue).slice(0, 300));
    }
  }
  return {status: kernel ? kernel.status : 'none', pending, run, errors};
}"""

def open_notebook(page, url: str, token: str, assignment: str, timeout_s: float = 120) -> None:
    # A workspace of its own: JupyterLab would otherwise restore the notebooks opened before it.
    page.goto(f"{url}/lab/workspaces/{assignment}/tree/{assignment}/{assignment}.ipynb?reset&token={token}",
              wait_until="domcontentloaded")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = page.evaluate(STATE_JS)
        if state and state["status"] == "idle":
            return
        time.sleep(0.5)
    raise AssertionError(f"{assignment}: the notebook or its kernel did not become ready in {timeout_s:.0f} s ({snap(page, assignment)})")


def snap(page, name: str) -> str:
    """A screenshot of the whole page into the artefacts folder, for a failure's message."""
    path = ARTIFACTS / f"{name}_page.png"
    try:
        page.screenshot(path=str(path))
    except Exception as exc:  # the page itself is gone
        return f"no screenshot: {exc}"
    return f"page: {path}"


RUN_ALL_JS = """async () => {
  const app = window.jupyterapp, p = app.shell.currentWidget;
  await p.context.ready; await p.sessionContext.ready;
  app.shell.activateById(p.id);
  // Not awaited: the command's promise lasts as long as the run; progress is polled instead.
  app.commands.execute('notebook:run-all-cells');
  return true;
}"""


def run_all(page, assignment: str, timeout_s: float) -> dict:
    """Run every cell (Run > Run All Cells) and wait until none is pending; stop at an error."""
    t0 = time.monotonic()
    page.evaluate(RUN_ALL_JS)
    state, tries = None, 1
    while time.monotonic() - t0 < timeout_s:
        time.sleep(1)
        state = page.evaluate(STATE_JS)
        if state["errors"]:
            raise AssertionError(f"{assignment}: a cell raised in the browser: {state['errors'][0]} ({snap(page, assignment)})")
        if state["pending"] == 0 and state["status"] == "idle":
            state["seconds"] = time.monotonic() - t0
            return state
        if state["run"] == 0 and state["status"] == "idle" and time.monotonic() - t0 > 15 * tries and tries < 4:
            page.evaluate(RUN_ALL_JS)  # the command found no active notebook yet: ask again
            tries += 1
    raise AssertionError(f"{assignment}: cells still pending after {timeout_s:.0f} s: {state} ({snap(page, assignment)})")


def close_current(page) -> None:
    """Shut the open notebook's kernel down and close it without a dialog (frees the cores)."""
    page.evaluate("async () => { const p = window.jupyterapp.shell.currentWidget;"
                  " if (p && p.sessionContext) { await p.sessionContext.shutdown(); } if (p) { p.dispose(); } }")


def cell_index(course: Course, assignment: str, gid: str) -> int:
    release = nbformat.read(course.release(assignment), as_version=4)
    return next(i for i, c in enumerate(release.cells) if nbg(c).get("grade_id") == gid)


MARK_JS = """(i) => {
  const p = window.jupyterapp.shell.currentWidget, c = p.content.widgets[i];
  p.content.activeCellIndex = i;
  c.node.setAttribute('data-course-cell', String(i));
  c.node.scrollIntoView();
  return p.content.widgets.length;
}"""


def outputs(page, index: int):
    """The output area of the notebook's cell number ``index`` (every cell counted), found through
    JupyterLab's own list of cells (not the page's order, which windowing may change)."""
    page.evaluate(MARK_JS, index)
    return page.locator(f'.jp-Notebook [data-course-cell="{index}"] .jp-Cell-outputArea')


def notebook_text(page) -> str:
    """All the text the open notebook shows."""
    return page.evaluate("() => window.jupyterapp.shell.currentWidget.content.node.innerText")


def widget_problems(page, index: int, timeout_s: float = 60) -> list[str]:
    """Why the widget in cell ``index`` is not rendered as a widget ([] when it is): no widget box,
    JupyterLab's "Loading widget..." or "Error displaying widget", or the widget's plain-text repr
    (what a front end without the widget manager shows). Waits for the views to finish loading."""
    area = outputs(page, index)
    deadline = time.monotonic() + timeout_s
    while True:
        text = area.inner_text() if area.count() else ""
        problems = [f"shows {b!r}" for b in BROKEN if b in text]
        if RAW_REPR.search(text):
            problems.append(f"shows the widget's text repr: {RAW_REPR.search(text).group(0)}...")
        boxes = area.locator(".widget-vbox, .widget-hbox, .widget-box").count() if area.count() else 0
        if not boxes:
            problems.append("no widget box in the cell's output")
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1)


def figure_of(page, index: int):
    """The figure a widget draws (its Output widget), inside cell ``index``."""
    return outputs(page, index).locator(".widget-output").first


def nudge(page, index: int) -> str:
    """Change a control of the widget in cell ``index``: drag its first slider to 80% of its track;
    a widget with no slider: type into its text box, else choose another entry of its first
    dropdown. Returns what it did."""
    area = outputs(page, index)
    slider = area.locator(".widget-slider .noUi-base, .widget-slider .slider").first
    if slider.count():
        slider.scroll_into_view_if_needed()
        box = slider.bounding_box()
        handle = area.locator(".widget-slider .noUi-handle").first
        hb = handle.bounding_box()
        page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()
        label = area.locator(".widget-slider").first.inner_text()
        return f"dragged slider {label.strip()!r}"
    text = area.locator(".widget-text input, .widget-text textarea").first
    if text.count():
        text.fill("print(sorted(words))")
        text.press("Enter")
        return "typed into the text box"
    menu = area.locator(".widget-dropdown select").first
    if menu.count():
        options = menu.locator("option").all_inner_texts()
        current = menu.input_value()
        values = menu.evaluate("s => Array.from(s.options).map(o => o.value)")
        other = next(v for v in reversed(values) if v != current)
        menu.select_option(other)
        return f"chose {options[values.index(other)]!r} in a dropdown"
    raise AssertionError(f"cell {index}: the widget has no slider, text box or dropdown to change")


def has_slider(page, index: int) -> bool:
    return outputs(page, index).locator(".widget-slider").count() > 0


def changed_picture(page, index: int, folder: Path, name: str, timeout_s: float = 90) -> tuple[bool, str, Path, Path]:
    """Move the widget's control and wait for its figure to change. (changed, what was done,
    screenshot before, screenshot after)."""
    fig = figure_of(page, index)
    before, after = folder / f"{name}_before.png", folder / f"{name}_after.png"
    try:
        fig.locator("img").first.wait_for(state="visible", timeout=timeout_s * 1000)
    except Exception:
        return False, "the widget drew no figure to compare", before, after
    fig.scroll_into_view_if_needed()
    before_png = fig.screenshot()
    before.write_bytes(before_png)
    action = nudge(page, index)
    shot = wait_changed(fig, before_png, timeout_s)
    after.write_bytes(shot if shot is not None else fig.screenshot())
    return shot is not None, action, before, after


def wait_changed(element, before: bytes, timeout_s: float = 60) -> bytes | None:
    """The element's screenshot once it differs from ``before`` and holds still for a moment."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        time.sleep(1)
        shot = element.screenshot()
        if shot != before and shot == last:
            return shot
        last = shot
    return None


def clean_artifacts(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
