"""Helpers of the accessibility browser tests (test_a11y_axe, test_browser_keyboard,
test_browser_touch): a page settled after a rerun, the pages in the navigation, axe-core.

Not a test module. Every wait is for something the page shows, whatever the machine's speed.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe

from bench.common import PAGES

WAIT = 120_000  # ms: a generous bound for anything the page must show, reached only by a hang
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]  # WCAG 2.1 levels A and AA
BLOCKING = {"serious", "critical"}
# Every Plotly chart on the page has drawn its SVG, and Streamlit is not running the script.
SETTLED = """() => {
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  if (status && /running/i.test(status.innerText)) return false;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return charts.every(c => c.querySelector('.main-svg'));
}"""
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def settle(page) -> None:
    """Wait until the script has finished and every chart has drawn."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function(SETTLED, timeout=WAIT)


def heading(page, title: str):
    """The page's heading (the home page's follows the model's data set)."""
    text = dict(PAGES).get(title, title)
    return page.get_by_role("heading", name=text, exact=True).first


def open_from_nav(page, title: str) -> None:
    """Click a page's link in the sidebar navigation and wait until the page has settled."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    heading(page, title).wait_for(timeout=WAIT)
    settle(page)


def pick_sample(page, digit: int = 4) -> None:
    """On the home page: "Pick a sample", then "Use digit <digit>"; waits for the prediction."""
    main = page.get_by_test_id("stMain")
    main.get_by_role("radio", name="Pick a sample").click()
    main.get_by_role("button", name=f"Use digit {digit}", exact=True).click()
    page.get_by_text("Current input: held-out digit").first.wait_for(timeout=WAIT)
    page.locator(".cs-prediction").wait_for(timeout=WAIT)
    settle(page)


def axe_violations(page) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations of the page and of its iframes (the canvas
    component), as dicts with id, impact, help and nodes."""
    axe = Axe()
    for frame in page.frames[1:]:  # axe checks a frame only if it runs inside it too
        frame.evaluate(axe.axe_script)
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    return axe.run(page, options=options).response["violations"]


def blocking(violations: list[dict]) -> list[dict]:
    """The serious and critical ones."""
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[dict]) -> str:
    """One line per violation and up to three of its elements, for a failure message."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']}")
        for node in v["nodes"][:3]:
            summary = node.get("failureSummary", "").replace("\n", " ")[:160]
            lines.append(f"    {node['target']} {node['html'][:120]!r} {summary}")
    return "\n".join(lines)


def summary(violations: list[dict]) -> str:
    """Each violation as "rule (impact) xN" (N elements), on one line."""
    return ", ".join(f"{v['id']} ({v['impact']}) x{len(v['nodes'])}" for v in violations) or "none"


# What makes a page wider than the screen: the document's width and the widest elements.
WIDEST = """() => ({width: document.documentElement.scrollWidth, screen: window.innerWidth,
  widest: [...document.querySelectorAll('body *')].map(e => [e.getBoundingClientRect().right,
    (e.getAttribute('data-testid') || e.tagName) + '.' + [...e.classList].slice(0, 2).join('.')])
    .filter(([r]) => r > window.innerWidth + 1).sort((a, b) => b[0] - a[0]).slice(0, 5)})"""
