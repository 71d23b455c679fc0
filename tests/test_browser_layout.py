"""What a newcomer sees in Chromium at 1400x900 after drawing a digit, on every page, every tab and
the settings that change what is drawn (model and toy, max and average pooling with ceil mode,
each activation): every formula renders (no .katex-error, no command in KaTeX's error colour), no
chart title, subplot title, annotation, axis title or legend entry sits on another label, a map
or a tick label, no text leaves its chart, no label is cut off, colour bars are long enough to
read, and every number printed in a grid is at least 14 px (a projected screen).

One server and one walk for the module: the walk records every view once and each test checks
one property over all of them. Every wait is for a state the page reaches (the script runs asked
for have finished, the charts are drawn and stay put), never for a length of time.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.common import PAGES
from tests.conftest import running_app
from tests.test_browser import _draw, _one, _prediction

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
WAIT = 120_000  # ms: a generous bound for anything the page must show
TOL = 1  # px: labels may touch, not overlap; may reach 1 px past their chart
MIN_GRID_FONT = 14  # px
MIN_COLOR_BAR = 100  # px along the bar

# Streamlit's own traffic says when the page has caught up: every message that asks for a script
# run (a BackMsg with rerun_script, field 11) is answered by a ForwardMsg script_finished (field 6)
# once that run is over (status 2, "finished early for a rerun", is not the end). Neither the
# script-state attribute nor the stale marks are enough: a short run can start and end within one
# React render and leave no trace in the page.
TRAFFIC = """(() => {
  const fields = (bytes) => {  // the top-level (field, varint or null) pairs of a protobuf
    const b = new Uint8Array(bytes), out = [];
    let i = 0;
    const varint = () => { let v = 0, m = 1, c; do { c = b[i++]; v += (c & 127) * m; m *= 128; }
                           while (c & 128); return v; };
    while (i < b.length) {
      const key = varint(), field = Math.floor(key / 8), wire = key % 8;
      if (wire === 0) out.push([field, varint()]);
      else if (wire === 2) { const n = varint(); out.push([field, null]); i += n; }
      else if (wire === 1 || wire === 5) i += wire === 1 ? 8 : 4;
      else break;
    }
    return out;
  };
  window.__cs = {seq: 0, asked: 0, done: 0, calm: 0, shape: ''};
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const bytes = ArrayBuffer.isView(data) ? data.slice().buffer : data;
    if (bytes instanceof ArrayBuffer && fields(bytes).some(([f]) => f === 11)) {
      window.__cs.asked = ++window.__cs.seq;
    }
    return send.call(this, data);
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (event.data instanceof ArrayBuffer
            && fields(event.data).some(([f, v]) => f === 6 && v !== 2)) {
          window.__cs.done = ++window.__cs.seq;
        }
      });
    }
  };
})();"""
# What keeps the page from being quiet ("" once it is): a script run asked for and not finished,
# the script state, a stale element, a visible chart not drawn at the width of its container, or
# charts still changing: the geometry of every chart (its size, where its maps and numbers are)
# must stay the same on three animation frames in a row.
NOT_QUIET = """() => {
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .filter((c) => c.getBoundingClientRect().width > 0);  // not in a tab that is not shown
  const why = (() => {
    if (window.__cs.done < window.__cs.asked) return 'a script run asked for has not finished';
    const app = document.querySelector('[data-testid="stApp"]');
    const state = app ? app.getAttribute('data-test-script-state') : 'no app';
    if (state !== 'notRunning') return 'script state ' + state;
    if (document.querySelector('[data-stale="true"]')) return 'stale elements';
    const late = charts.filter((c) => { const svg = c.querySelector('.main-svg');
      return !svg || Math.abs(svg.getBoundingClientRect().width - c.clientWidth) > 1; });
    return late.length ? late.length + ' chart(s) not drawn at their width' : '';
  })();
  const shape = charts.map((c) => [...c.querySelectorAll('.main-svg, .hm image, .heatmap-label')]
    .map((el) => { const r = el.getBoundingClientRect();
      return [r.left, r.top, r.width, r.height].map(Math.round).join(','); }).join(' ')).join('|');
  const same = !why && shape === window.__cs.shape;
  window.__cs.shape = shape;
  window.__cs.calm = same ? window.__cs.calm + 1 : 0;
  return why || (window.__cs.calm >= 3 ? '' : 'charts still changing');
}"""
# Every Plotly chart on screen: its box, its labels, maps, tick labels, colour bars, every text,
# and the numbers printed in its grid cells (with their computed font size).
CHARTS = """() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; };
  const shown = (r) => r.x1 - r.x0 > 0.5 && r.y1 - r.y0 > 0.5;
  const all = (plot, sel) => [...plot.querySelectorAll(sel)]
    .map((el) => ({...box(el), text: el.textContent,
                   size: parseFloat(getComputedStyle(el).fontSize)}))
    .filter(shown);
  return [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
    .filter((plot) => shown(box(plot))).map((plot) => {
      const holder = plot.closest('[class*="st-key-"]');
      const key = holder ? (holder.className.match(/st-key-(\\S+)/) || ['', ''])[1] : '';
      return {key, box: box(plot),
        labels: all(plot, 'text[class$="title"], .annotation-text, .legendtext')
          .filter((r) => r.text.trim()),
        maps: all(plot, '.hm image'), ticks: all(plot, '[class*="tick"] > text'),
        bars: all(plot, '.cbfill'),
        texts: all(plot, '.main-svg text').filter((r) => r.text.trim()),
        cells: all(plot, 'g.heatmap-label text')};
    });
}"""
# Formulas KaTeX could not render: a formula it cannot parse is marked .katex-error; a command it
# does not know (the '\\+' once printed between the terms of an average) is drawn in its error
# colour, #cc0000, inside an otherwise good formula.
KATEX_ERRORS = """() => [...document.querySelectorAll('.katex-error, .katex *')]
  .filter((el) => el.classList.contains('katex-error') || el.style.color === 'rgb(204, 0, 0)')
  .map((el) => el.closest('.katex-error, .katex'))
  .map((k) => (k.querySelector('annotation') || k).textContent)  // the LaTeX source if known
  .filter((text, i, all) => all.indexOf(text) === i)"""
# Text a learner cannot read whole: an element that cuts its own text (ellipsis or hidden
# overflow) and whose text is wider than it. KaTeX's hidden MathML copy is not shown.
CUT = """() => [...document.querySelectorAll(
    '[data-testid="stMain"] *, [data-testid="stSidebar"] *')]
  .filter((el) => { const s = getComputedStyle(el);
    return (s.textOverflow === 'ellipsis' || s.overflowX === 'hidden' || s.overflowX === 'clip')
      && el.clientWidth > 1 && el.scrollWidth > el.clientWidth + 1 && el.textContent.trim()
      && !el.closest('.katex-mathml, .js-plotly-plot'); })
  .map((el) => el.textContent.trim())"""


def _quiet(page) -> None:
    try:
        page.wait_for_function(f"() => ({NOT_QUIET})() === ''", timeout=WAIT)
    except PlaywrightTimeout:
        pytest.fail(f"the page never became quiet: {page.evaluate(NOT_QUIET)}")


def _run(page, action) -> None:
    """Do ``action`` (a click that makes Streamlit rerun the page) and wait until that run has
    finished and the page is quiet."""
    before = page.evaluate("window.__cs.asked")
    action()
    try:
        page.wait_for_function(f"window.__cs.asked > {before}", timeout=WAIT)
    except PlaywrightTimeout:
        pytest.fail("the action asked for no script run")
    _quiet(page)


def _record(page, views: dict, name: str) -> None:
    """Measure the page as it is now and keep it under ``name``."""
    views[name] = {
        "katex_errors": page.evaluate(KATEX_ERRORS),
        "formulas": page.locator(".katex annotation").all_text_contents(),
        "charts": page.evaluate(CHARTS),
        "cut": page.evaluate(CUT),
    }


def _tabs(page, views: dict, name: str) -> None:
    """Record the page, each of its tabs (or, on Draw & predict, each way to make an input: a
    segmented control) shown in turn (a tab that remembers which one is open may rerun the
    page; the wait for quiet covers that)."""
    main = page.get_by_test_id("stMain")
    tabs, chosen = main.get_by_role("tab"), "aria-selected"
    if tabs.count() == 0:
        tabs, chosen = main.get_by_test_id("stButtonGroup").get_by_role("radio"), "aria-checked"
    if tabs.count() == 0:
        _record(page, views, name)
        return
    for k in range(tabs.count()):
        tab = tabs.nth(k)
        tab.click()
        page.wait_for_function(
            f"(el) => el.getAttribute('{chosen}') === 'true'", arg=tab.element_handle()
        )
        _quiet(page)
        _record(page, views, f"{name} / {tab.inner_text().strip()}")


def _choose(page, label: str, option: str):
    """An action that picks ``option`` of the radio or selectbox labelled ``label``."""
    main = page.get_by_test_id("stMain")
    radio = main.get_by_test_id("stRadio").filter(has_text=label).filter(has_text=option)
    if radio.count():
        return lambda: radio.first.get_by_text(option, exact=True).click()

    def pick():  # a select box near the bottom edge does not open: bring it to the middle
        box = main.get_by_test_id("stSelectbox").filter(has_text=label).first
        box.evaluate("(el) => el.scrollIntoView({block: 'center'})")
        box.click()
        page.get_by_role("option", name=re.compile(f"^{re.escape(option)}")).first.click()

    return pick


def _switch(page, label: str, on: bool) -> None:
    """Turn the toggle labelled ``label`` on or off (nothing to do when it already is)."""
    toggle = page.get_by_test_id("stMain").get_by_test_id("stCheckbox").filter(has_text=label)
    if toggle.first.locator("input").is_checked() != on:
        _run(page, toggle.first.get_by_text(label, exact=True).click)


def _settings(page, views: dict, link: str, steps) -> None:
    """Apply each (label, option) step in turn (options "on" and "off" are for a toggle) and
    record the page after each."""
    for label, option in steps:
        if option in ("on", "off"):
            _switch(page, label, option == "on")
        else:
            _run(page, _choose(page, label, option))
        _record(page, views, f"{link} / {label}: {option}")


FUNCTIONS = [("Function", f) for f in ("Leaky ReLU", "Sigmoid", "Tanh", "ReLU")]
POOLING = [
    ("ceil_mode", "off"),  # the toy starts with the model's settings: full windows first
    ("Mode", "Average pooling"),
    ("ceil_mode", "on"),
    ("Mode", "Max pooling"),
]
SETTINGS = {  # page -> steps in model mode, then again on the toy
    "Activation": FUNCTIONS,
    "Pooling": POOLING,
    "Flatten": [],
    "Dense & softmax": [],
}


@pytest.fixture(scope="module")
def views(browser):
    """Draw a 1, then visit every page of the sidebar's navigation, every tab, and the settings
    above in model and toy mode; returns {view name: what was measured there}."""
    found: dict = {}
    with running_app() as url:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(TRAFFIC)
        page = context.new_page()
        page.goto(url)
        page.locator("canvas").first.wait_for(timeout=WAIT)
        _draw(page, _one())
        assert _prediction(page) == "1"
        links = page.get_by_test_id("stSidebarNav").get_by_role("link")
        names = [text.split("\n")[-1] for text in links.all_inner_texts()]  # after the icon
        for k, link in enumerate(names):
            if k:  # the first page is open
                _run(page, links.nth(k).click)
            _quiet(page)
            _tabs(page, found, link)
            if link in SETTINGS:
                _settings(page, found, link, SETTINGS[link])
                _run(page, _choose(page, "Work on", "Toy example (by hand)"))
                _record(page, found, f"{link} / toy")
                _settings(page, found, f"{link} (toy)", SETTINGS[link])
        context.close()
    return found


def _overlaps(a: dict, b: dict) -> bool:
    return (
        min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > TOL
        and min(a["y1"], b["y1"]) - max(a["y0"], b["y0"]) > TOL
    )


def _outside(r: dict, box: dict) -> bool:
    return (
        r["x0"] < box["x0"] - TOL
        or r["y0"] < box["y0"] - TOL
        or r["x1"] > box["x1"] + TOL
        or r["y1"] > box["y1"] + TOL
    )


def _label_problems(chart: dict) -> list[str]:
    """Labels on each other, on a map or a tick label; tick labels on each other; any text
    outside the chart; short colour bars."""
    found = []
    labels, ticks = chart["labels"], chart["ticks"]
    for i, label in enumerate(labels):
        for other in labels[i + 1 :] + chart["maps"] + ticks:
            if _overlaps(label, other):
                found.append(f"'{label['text']}' overlaps '{other['text'] or 'a map'}'")
    for i, tick in enumerate(ticks):
        found += [f"ticks '{tick['text']}', '{o['text']}' overlap" for o in ticks[i + 1 :]
                  if _overlaps(tick, o)]  # fmt: skip
    outside = [t["text"] for t in chart["texts"] if _outside(t, chart["box"])]
    found += [f"'{text}' leaves the chart" for text in outside]
    for bar in chart["bars"]:
        if max(bar["x1"] - bar["x0"], bar["y1"] - bar["y0"]) < MIN_COLOR_BAR:
            found.append(f"a colour bar only {bar['y1'] - bar['y0']:.0f} px long")
    return found


def test_the_walk_sees_every_page_tab_and_setting(views):
    """The walk reached every page of the navigation, the tabs, the settings and the toys, saw
    the average-pooling formula of the model and of the toy, and found charts and grid numbers to
    check (a walk that saw nothing would pass every test)."""
    names = " | ".join(views)
    for link, _heading in PAGES:
        assert link in names
    for setting in ("Average pooling", "ceil_mode", "Sigmoid", "Tanh", "Leaky ReLU", "toy"):
        assert setting in names
    averages = [  # a mean of several numbers, as a formula
        name for name, v in views.items() if any("tfrac" in f and "+" in f for f in v["formulas"])
    ]
    assert any("toy" in name for name in averages) and any("toy" not in n for n in averages)
    assert sum(len(v["charts"]) for v in views.values()) > 40
    assert sum(len(c["cells"]) for v in views.values() for c in v["charts"]) > 300


def test_every_formula_renders(views):
    """No formula on any page, tab or setting is one KaTeX cannot parse or has a command it does
    not know (the average-pooling formula once printed a red '\\+' between its terms)."""
    failed = {name: v["katex_errors"] for name, v in views.items() if v["katex_errors"]}
    assert not failed, failed


def test_chart_labels_neither_overlap_nor_leave_their_chart(views):
    """In every chart, titles, subplot titles, annotations, axis titles and legend entries sit
    on no other label, map or tick label; tick labels sit on no other; no text leaves the chart;
    colour bars are long enough for their ticks."""
    failed = {}
    for name, view in views.items():
        for chart in view["charts"]:
            found = _label_problems(chart)
            if found:
                failed[f"{name}: {chart['key']}"] = found
    assert not failed, failed


def test_no_label_is_cut_off(views):
    """No page link, tab, expander or widget label is cut short ('Explain: Dense & softma')."""
    failed = {name: v["cut"] for name, v in views.items() if v["cut"]}
    assert not failed, failed


def test_grid_numbers_are_large_enough_to_read(views):
    """Every number printed in a grid cell is at least 14 px, and no two of them run into each
    other."""
    failed = {}
    for name, view in views.items():
        for chart in view["charts"]:
            cells = chart["cells"]
            small = sorted({c["size"] for c in cells if c["size"] < MIN_GRID_FONT})
            touching = sum(_overlaps(a, b) for i, a in enumerate(cells) for b in cells[i + 1 :])
            if small or touching:
                failed[f"{name}: {chart['key']}"] = {"sizes": small, "overlapping": touching}
    assert not failed, failed
