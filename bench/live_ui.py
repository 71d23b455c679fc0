"""Browser helpers of the live-training benchmarks: sidebar settings, run controls, progress.

Not a benchmark itself. The same gestures as tests/test_browser_training.py (a learner's: the
"Data set" selectbox, the sliders moved with the End / Home keys, buttons by their accessible
names), kept here so that no benchmark imports the tests. Every wait is bounded.
"""

from __future__ import annotations

import re
import time

from common import PAGES  # (link text in the navigation, heading): one table for bench/

SIDEBAR = "stSidebarUserContent"
FASHION = "Fashion-MNIST (70,000)"
PROGRESS_RE = re.compile(r"epoch (\d+), batch (\d+)/(\d+)")

HEADINGS = dict(PAGES)

# True once Streamlit has finished the run in front of the learner: script state "notRunning",
# nothing stale and every Plotly chart drawn (as bench/page_render.py waits).
SETTLED_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  for (const c of document.querySelectorAll('[data-testid="stPlotlyChart"]'))
    if (!c.querySelector('.main-svg')) return false;
  return true;
}
"""


def sidebar(page):
    return page.get_by_test_id(SIDEBAR)


def press(page, name: str) -> None:
    sidebar(page).get_by_role("button", name=name, exact=True).click()


def open_optimisation(page, timeout_ms: int) -> None:
    """Expand the sidebar's "Optimisation" expander (once; a second click would close it)."""
    slider = sidebar(page).get_by_test_id("stSlider").filter(has_text="Epochs")
    if not slider.is_visible():
        sidebar(page).get_by_text("Optimisation").click()
        slider.wait_for(timeout=timeout_ms)


def set_slider(page, label: str, key: str, shown: str, timeout_ms: int) -> None:
    """Move a sidebar slider to its end ("End") or start ("Home") with the keyboard and wait
    until it shows ``shown``."""
    box = sidebar(page).get_by_test_id("stSlider").filter(has_text=label)
    handle = box.get_by_role("slider")
    handle.focus()
    handle.press(key)
    box.get_by_text(shown, exact=True).first.wait_for(timeout=timeout_ms)


def long_run_settings(page, timeout_ms: int) -> str:
    """Fashion-MNIST (its sidebar defaults: batch 64, augmentation off), all 60,000 training
    images, 20 epochs: a run of several minutes. Returns the "Will train: ..." caption."""
    side = sidebar(page)
    side.get_by_test_id("stSelectbox").filter(has_text="Data set").click()
    page.get_by_role("option", name=FASHION).click()
    side.get_by_text("Will train").wait_for(timeout=timeout_ms)
    open_optimisation(page, timeout_ms)
    set_slider(page, "Training images", "End", "60000", timeout_ms)
    set_slider(page, "Epochs", "End", "20", timeout_ms)
    return side.get_by_text("Will train").first.inner_text()


def short_run_settings(page, timeout_ms: int) -> None:
    """The data set shown (the bundled digits by default), the fewest training images (200)
    and one epoch: a run of a few seconds."""
    open_optimisation(page, timeout_ms)
    set_slider(page, "Training images", "Home", "200", timeout_ms)
    set_slider(page, "Epochs", "Home", "1", timeout_ms)


def progress_text(page, timeout_ms: int = 5000) -> str:
    """The sidebar's progress line ("Training: epoch E, batch B/N ...", "Paused at ...")."""
    line = sidebar(page).get_by_test_id("stProgress")
    line.wait_for(timeout=timeout_ms)
    return line.inner_text(timeout=timeout_ms).strip()


def parse_progress(text: str) -> tuple[int, int, int] | None:
    """(epoch, batch, batches per epoch) from a progress line, or None."""
    m = PROGRESS_RE.search(text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def fresh_progress(page, wait: float = 0.8) -> tuple[float, str]:
    """(time.perf_counter() when read, progress line), taken at the moment the line changes
    (the polling fragment redraws it every 0.5 s), so that the time matches the numbers; after
    ``wait`` seconds without a change, the line as it is then."""
    line = sidebar(page).get_by_test_id("stProgress")
    before = line.inner_text(timeout=5000).strip()
    deadline = time.perf_counter() + wait
    while time.perf_counter() < deadline:
        try:
            now = line.inner_text(timeout=1000).strip()
        except Exception:  # the line is redrawn (a full rerun): read again  # noqa: BLE001
            continue
        if now != before:
            return time.perf_counter(), now
        page.wait_for_timeout(30)
    return time.perf_counter(), before


def start_run(page, timeout_ms: int) -> None:
    """Press Train and wait until the first steps are reported."""
    press(page, "Train")
    page.get_by_text("Training: epoch").first.wait_for(timeout=timeout_ms)


def pause(page, timeout_ms: int) -> None:
    press(page, "Pause")
    page.get_by_text("Paused at epoch").first.wait_for(timeout=timeout_ms)


def resume(page, timeout_ms: int) -> None:
    press(page, "Resume")
    page.get_by_text("Training: epoch").first.wait_for(timeout=timeout_ms)


def stop(page, timeout_ms: int) -> None:
    """Press Stop and wait for the message of the ended run."""
    press(page, "Stop")
    ended = page.get_by_text("Training stopped at").or_(page.get_by_text("Training finished"))
    ended.first.wait_for(timeout=timeout_ms)


def settle(page, timeout_ms: int) -> bool:
    """Wait (bounded) until the page has finished its run; False on timeout."""
    try:
        page.wait_for_function(SETTLED_JS, polling=50, timeout=timeout_ms)
        return True
    except Exception:  # noqa: BLE001 -- a timeout: the caller goes on
        return False


def canvas_box(page) -> dict:
    """The drawing canvas's box: fabric's upper canvas (its event layer over the drawing), once
    visible (after a page switch the first <canvas> of the page may be a hidden one)."""
    upper = page.locator("canvas.upper-canvas").first
    upper.wait_for(state="visible", timeout=60_000)
    return upper.bounding_box()


def draw(page, points, steps: int = 4, undo_first: bool = True) -> None:
    """One stroke through ``points`` (canvas pixels), as tests/test_browser.py draws; the
    canvas's own Undo first when it has something to undo and ``undo_first`` (it has not after
    a page switch, which mounts the canvas afresh from the kept drawing, so a stroke then goes
    on top of it), so the canvas does not fill up with strokes within a visit."""
    undo = page.locator(".dc-icon-button[title='Undo']")
    if undo_first and undo.is_enabled():
        undo.click()
    box = canvas_box(page)
    xy = [(box["x"] + x, box["y"] + y) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()


def headings(link: str) -> list[str]:
    """The headings the page of ``link`` may show: the home page's follows the data set of the
    model in use (ui/samples.py), which a Fashion-MNIST run changes with its live weights."""
    if link != PAGES[0][0]:
        return [HEADINGS[link]]
    try:
        from ui import samples  # the repository is on sys.path (common.py)
    except ImportError:  # a commit before ui/samples.py: one heading
        return [HEADINGS[link]]
    return [subject.heading for subject in (samples.DIGITS, samples.FASHION, samples.OTHER)]


def goto(page, link: str, timeout_ms: int) -> None:
    """Click a navigation link and wait for the page's heading."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    names = headings(link)
    heading = page.get_by_role("heading", name=names[0], exact=True)
    for name in names[1:]:
        heading = heading.or_(page.get_by_role("heading", name=name, exact=True))
    heading.first.wait_for(timeout=timeout_ms)


def clear_canvas(page, timeout_ms: int, attempts: int = 3) -> None:
    """Empty the canvas as a learner can and wait until the page shows no prediction: a stroke
    (the page counts the canvas as cleared only if it sent ink during this visit; a canvas
    entered after a page switch starts from the kept drawing without sending it), then the
    canvas's Edit mode, the stroke under the canvas's centre selected and "Delete selected",
    until nothing is left. (Undo and "Reset canvas & history" cannot do it after a page
    switch: they go back to the kept drawing.) Tried again if the prediction stays."""
    edit = page.locator(".dc-icon-button[title='Edit']")
    delete = page.locator(".dc-icon-button[title='Delete selected']")
    for attempt in range(attempts):
        draw(page, [(140, 50 + 9 * k) for k in range(21)], undo_first=False)  # a "1"
        page.wait_for_timeout(500)  # past the canvas's 200 ms debounce: the stroke is sent
        settle(page, 10_000)
        box = canvas_box(page)
        edit.click()
        try:
            for _ in range(200):
                page.mouse.click(box["x"] + 140, box["y"] + 140)  # every stroke's box holds it
                if not delete.is_enabled():  # nothing selected: nothing left
                    break
                delete.click()
        finally:
            edit.click()  # back to drawing
        wait = timeout_ms if attempt == attempts - 1 else min(timeout_ms, 20_000)
        try:
            page.locator(".cs-prediction").wait_for(state="detached", timeout=wait)
            return
        except Exception:  # noqa: BLE001 -- the clearing was not seen: again, or the timeout
            if attempt == attempts - 1:
                raise
