"""Live training in Chromium: the run goes on in a background job while the learner explores.

No test races the run. Every run that must still be under way is made long by its settings
(Fashion-MNIST, all 60,000 training images, 20 epochs: many minutes on any machine) and is
held with Pause where a test needs it still; every wait is for something the page shows
whatever the machine's speed. Each test stops its own runs, so no slot stays taken.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.conftest import app_process, server_log, wait_until
from tests.test_browser import _draw, _one, _prediction
from ui import samples

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]
TTL = 15  # server.disconnectedSessionTTL of these tests' servers, in seconds
WAIT = 120_000  # ms: a generous bound for anything the page must show
SIDEBAR = "stSidebarUserContent"
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
INK = """(el) => { const d = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
  let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 128) n++; return n; }"""


def _server(slots: int = 4):
    env = {"CONVSCOPE_TRAINING_SLOTS": str(slots), "STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL":
           str(TTL)}  # fmt: skip
    return app_process(env=env)


@pytest.fixture(scope="module")
def server_url():
    """One server for this module's single-session tests (four slots, a short session TTL)."""
    with _server() as (url, _):
        yield url


def _open(browser, url: str):
    """A new browser session on the home page, canvas ready; returns (context, page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.locator("canvas").first.wait_for(timeout=WAIT)
    return context, page


def _sidebar(page):
    return page.get_by_test_id(SIDEBAR)


# The sidebar shows Fashion-MNIST's own widgets and nothing else: its Training images slider
# (up to 60,000) is the only one. Until the data set's rerun has ended, the bundled digits'
# slider (up to 4,000) may still be beside it.
FASHION_WIDGETS = """() => {
  const sliders = [...document.querySelectorAll(
    '[data-testid="stSidebarUserContent"] [data-testid="stSlider"]')]
    .filter((s) => s.innerText.includes('Training images'));
  const input = sliders.length === 1 ? sliders[0].querySelector('input[type="range"]') : null;
  return !!input && input.max === '60000';
}"""


def _long_run_settings(page) -> None:
    """Fashion-MNIST, every training image, 20 epochs: a run of many minutes. Returns once the
    server has the settings (the sidebar's estimate of the run's length has changed)."""
    sidebar = _sidebar(page)
    sidebar.get_by_test_id("stSelectbox").filter(has_text="Data set").click()
    page.get_by_role("option", name="Fashion-MNIST (70,000)").click()
    sidebar.get_by_text("Optimisation").click()
    page.wait_for_function(FASHION_WIDGETS, timeout=WAIT)
    estimate = sidebar.get_by_text("A run takes about")
    before = estimate.inner_text()
    for label in ("Training images", "Epochs"):  # all 60,000 (already so), 20 (from 5)
        slider = sidebar.get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")
        slider.focus()
        slider.press("End")
        sidebar.get_by_test_id("stSlider").filter(has_text=label).get_by_text(
            "60000" if label == "Training images" else "20", exact=True
        ).first.wait_for(timeout=WAIT)  # the value (and the slider's maximum) shown
    _wait_for_change(estimate.inner_text, before)  # the run's length for 20 epochs


def _shown(page, text: str) -> None:
    """Wait until ``text`` is on the page; if it never comes, fail with what the sidebar shows
    and what the server printed (a hang in CI must say where it was)."""
    try:
        page.get_by_text(text).first.wait_for(timeout=WAIT)
    except PlaywrightTimeout:
        origin = re.match(r"https?://[^/]+", page.url).group(0)
        sidebar = _sidebar(page).inner_text(timeout=5_000)
        pytest.fail(
            f"{text!r} not shown within {WAIT / 1000:g} s.\nThe sidebar:\n{sidebar}\n"
            f"The server's log:\n{server_log(origin)}"
        )


def _train_long(page) -> None:
    """Set up a long run, press Train and wait until its first steps are reported."""
    _long_run_settings(page)
    _sidebar(page).get_by_role("button", name="Train").click()
    _shown(page, "Training: epoch")


def _progress(page) -> str:
    """The sidebar's progress line ("Training: epoch E, batch B/N ..." or "Paused at ...")."""
    line = _sidebar(page).get_by_test_id("stProgress")
    line.wait_for(timeout=WAIT)
    return line.inner_text().strip()


def _position(text: str) -> tuple[int, int]:
    """(epoch, batch) from a progress line."""
    words = text.replace(",", " ").replace("/", " ").split()
    return int(words[words.index("epoch") + 1]), int(words[words.index("batch") + 1])


def _press(page, name: str) -> None:
    _sidebar(page).get_by_role("button", name=name, exact=True).click()


def _pause(page) -> str:
    _press(page, "Pause")
    page.get_by_text("Paused at epoch").first.wait_for(timeout=WAIT)
    return _progress(page)


def _stop(page) -> None:
    _press(page, "Stop")
    page.get_by_text("Training stopped at epoch").first.wait_for(timeout=WAIT)


def _probability_line(page) -> str:
    line = page.get_by_text("predicted with probability").first
    line.wait_for(timeout=WAIT)
    return line.inner_text()


# The home page's heading follows the data set of the model in use: a Fashion-MNIST run's live
# model makes it "Watch the network tell clothes apart".
HOME = re.compile("|".join(re.escape(s.heading) for s in (samples.DIGITS, samples.FASHION)))


def _goto(page, link: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    page.get_by_role("heading", name=link if link != "Draw & predict" else HOME,
                     exact=False).first.wait_for(timeout=WAIT)  # fmt: skip


def worker_processes(server_pid: int) -> set[int]:
    """Ids of the live training worker processes (python -m cnn_core.job_worker) of a server."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # not a process, or it ended meanwhile
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == server_pid and state != "Z" and b"cnn_core.job_worker" in cmdline:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie (an orphan's parent may be slow
    to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_for(condition, seconds: float = 120) -> None:
    """Poll until condition() holds; fail after ``seconds`` (a hang, not a slow machine)."""
    wait_until(condition, seconds, poll=0.2)


def _wait_for_change(read, before: str, seconds: float = 120) -> str:
    """Poll ``read()`` until it differs from ``before``; the new value."""
    deadline = time.monotonic() + seconds
    while (now := read()) == before:
        assert time.monotonic() < deadline, f"still {before!r}"
        time.sleep(0.2)
    return now


def test_a_run_keeps_going_across_page_switches_and_a_drawing(browser, server_url):
    """(a) With a digit drawn, during a long run the learner visits three pages and comes back:
    the canvas shows the drawing again, its prediction stays through the live updates, a new
    drawing is read; the run is never ended by any of it and its progress keeps moving."""
    context, page = _open(browser, server_url)
    try:
        _draw(page, _one())
        _prediction(page)
        _train_long(page)
        start = _position(_progress(page))
        for link in ("Convolution", "Pooling", "Training", "Draw & predict"):
            _goto(page, link)
        strokes = page.locator("canvas.dc-canvas.lower-canvas").first
        _wait_for_change(lambda: str(strokes.evaluate(INK) > 0), "False")  # redrawn from the
        banner = page.get_by_text("Live: epoch").first  # session's copy of the drawing
        first = banner.inner_text()
        _wait_for_change(lambda: banner.inner_text(), first)  # a live update has redrawn it
        _prediction(page)  # (a Fashion-MNIST class name: the live model reads clothes)
        assert page.get_by_text("Current input: your drawing").count() == 1  # kept, not taken
        _draw(page, _one())  # for a cleared canvas; and a new stroke is read
        _prediction(page)
        later = _wait_for_change(lambda: _progress(page), _progress(page))
        assert later.startswith("Training: epoch") and _position(later) > start
        assert "Training stopped" not in page.inner_text("body")
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        _stop(page)
    finally:
        context.close()


def test_the_home_page_prediction_moves_by_itself_while_training(browser, server_url):
    """(b) With a digit drawn, a run under way redraws the prediction with its newest weights
    about once a second, with no click: the live label and the probabilities change."""
    context, page = _open(browser, server_url)
    try:
        _draw(page, _one())
        before = _probability_line(page)
        _train_long(page)
        banner = page.get_by_text("Live: epoch").first
        banner.wait_for(timeout=WAIT)
        first = banner.inner_text()
        assert _wait_for_change(lambda: banner.inner_text(), first) != first
        _wait_for_change(lambda: _probability_line(page), before)  # no longer the default's
        assert "Training: epoch" in _progress(page)  # still under way
        _stop(page)
    finally:
        context.close()


def test_pause_holds_resume_continues_and_one_step_is_shown(browser, server_url):
    """(c) Pause holds the progress line; Step one batch advances it by exactly one batch and the
    Training page shows that step (loss before and after, the filter's four grids, the
    update rule); Resume lets the run continue."""
    context, page = _open(browser, server_url)
    try:
        _train_long(page)
        held = _pause(page)
        page.wait_for_timeout(1500)  # a held run must not move at all meanwhile
        assert _progress(page) == held
        _goto(page, "Training")
        _press(page, "Step one batch")
        stepped = _wait_for_change(lambda: _progress(page), held)
        assert stepped.startswith("Paused at epoch")
        epoch, batch = _position(held)
        assert _position(stepped) in ((epoch, batch + 1), (epoch + 1, 1))
        page.get_by_text("The loss of this batch went from").wait_for(timeout=WAIT)
        for title in ("weights before", "gradient dL/dw", "update applied", "weights after"):
            assert page.get_by_text(title, exact=True).count() >= 1, title
        assert page.get_by_text("Adam: update = -").count() == 1
        _press(page, "Resume")
        running = _wait_for_change(lambda: _progress(page), stepped)
        assert running.startswith("Training: epoch")
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        _stop(page)
    finally:
        context.close()


def test_a_train_press_with_another_change_on_its_way_starts_one_run(browser, server_url):
    """(c2) Train, and at once another sidebar change (Augment): the change's rerun ends the
    Train press's script run early, and the run must start all the same, once. Before, the
    press was lost whenever that rerun came while the press's run was still being drawn."""
    context, page = _open(browser, server_url)
    try:
        _long_run_settings(page)
        sidebar = _sidebar(page)
        augment = sidebar.get_by_test_id("stCheckbox").filter(has_text="Augment").locator("input")
        sidebar.get_by_role("button", name="Train").evaluate(
            "(train, augment) => { train.click(); setTimeout(() => augment.click(), 0); }",
            augment.element_handle(),
        )
        _shown(page, "Training: epoch")
        assert "Training stopped" not in page.inner_text("body")  # one run, not one replaced
        _stop(page)
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    finally:
        context.close()


def test_stop_keeps_the_weights_and_the_drawing_stays(browser, server_url):
    """(d) Stop during a run: the page says where it stopped, the session keeps its own model,
    the canvas still holds the drawing and the prediction is the new model's; Reset to the
    default model keeps the drawing too and gives the default model's prediction back."""
    context, page = _open(browser, server_url)
    try:
        _draw(page, _one())
        default = _probability_line(page)
        strokes = page.locator("canvas.dc-canvas.lower-canvas").first
        ink = strokes.evaluate(INK)
        assert ink > 0
        _train_long(page)
        _stop(page)
        assert "your own model" in page.inner_text("section[data-testid='stSidebar']")
        assert strokes.evaluate(INK) == ink
        assert _probability_line(page) != default  # a few steps of Fashion-MNIST
        _press(page, "Reset to the default model")
        page.get_by_text("Back to the default model").first.wait_for(timeout=WAIT)
        page.get_by_text(default).first.wait_for(timeout=WAIT)
        assert strokes.evaluate(INK) == ink
    finally:
        context.close()


def _fingerprint(page) -> str:
    text = _sidebar(page).get_by_text("Weights fingerprint")
    return text.first.inner_text().split()[-1]


def test_two_sessions_through_one_slot_end_with_their_own_models(browser):
    """(e) With one training slot: while the first session trains, the second waits as number 1
    in the queue; when the first stops, the second trains by itself; each ends with its own
    model, and the first still has its own after a page switch."""
    with _server(slots=1) as (url, _):
        (c1, first), (c2, second) = _open(browser, url), _open(browser, url)
        try:
            default = _fingerprint(first)
            _train_long(first)
            _long_run_settings(second)
            _press(second, "Train")
            second.get_by_text("you are number 1 in the queue").wait_for(timeout=WAIT)
            _stop(first)
            _shown(second, "Training: epoch")
            _stop(second)
            mine, theirs = _fingerprint(first), _fingerprint(second)
            assert default not in (mine, theirs) and mine != theirs
            _goto(first, "Pooling")
            assert _fingerprint(first) == mine
            assert "your own model" in first.inner_text("section[data-testid='stSidebar']")
        finally:
            c1.close()
            c2.close()


def test_a_closed_sessions_run_stops_and_frees_its_slot(browser):
    """(f) With one slot, the first session trains and the second waits; the first tab is
    closed: within twice the session TTL its job stops, its worker process exits and the second
    session's run starts (in a process of its own, which exits after Stop)."""
    with _server(slots=1) as (url, server):
        (c1, first), (c2, second) = _open(browser, url), _open(browser, url)
        try:
            _train_long(first)
            (first_worker,) = worker_processes(server.pid)
            _long_run_settings(second)
            _press(second, "Train")
            second.get_by_text("you are number 1 in the queue").wait_for(timeout=WAIT)
            c1.close()
            # the slot is free within twice the TTL: the second run leaves the queue; its own
            # worker process then starts (Python and torch imported: seconds on a busy machine)
            queued = second.get_by_text("you are number 1 in the queue")
            queued.wait_for(state="hidden", timeout=2 * TTL * 1000)
            _shown(second, "Training: epoch")
            wait_for(lambda: first_worker not in worker_processes(server.pid), seconds=60)
            assert len(worker_processes(server.pid)) == 1
            _stop(second)
            wait_for(lambda: not worker_processes(server.pid), seconds=60)
        finally:
            c2.close()
