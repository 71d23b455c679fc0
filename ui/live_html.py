"""HTML redrawn on every stroke, put into the page without React's markdown renderer.

Draw & predict redraws its prediction and its overview of every stage on every stroke. As
``st.markdown`` HTML, each redraw went through Streamlit's markdown parser (tens of kB of data
URIs scanned character by character in JavaScript) and React built a node for every table cell
and image; that, not the server, was most of a stroke's time in the browser. Here the HTML goes
to a tiny inline component (``st.components.v2``: no iframe, no style isolation, so the HTML is
part of the page, its text read by screen readers and its look the page's) whose script sets the
HTML of one element when it changed: the browser's own parser does the work. A fragment can
change such elements outside it without re-sending them, through a relay element of its own
(``relay``): the data goes in one message and its script writes each HTML into its element.

The markup is the app's own (ui/light.py builds it, escaping every text it puts in); never pass
a learner's text unescaped.
"""

from __future__ import annotations

import streamlit.components.v2 as components

# The live element's script: called with the new data on every run that sends it. It keeps one
# child element and replaces its HTML when the server sent other HTML than last time
# (``__sent``) and it is not already shown (``__shown``: the relay below may have shown newer
# HTML since, which a rerun with unchanged data must not undo).
_JS = """
export default function (component) {
  const { data, parentElement } = component;
  let box = parentElement.querySelector(':scope > .cs-live-html');
  if (!box) {
    box = document.createElement('div');
    box.className = 'cs-live-html';
    parentElement.appendChild(box);
  }
  const markup = typeof data === 'string' ? data : '';
  if (box.__sent !== markup) {
    box.__sent = markup;
    if (box.__shown !== markup) {
      box.innerHTML = markup;
      box.__shown = markup;
    }
  }
}
"""
NAME = "convscope_live_html"
_MOUNT = components.component(NAME, js=_JS, isolate_styles=False)

# The relay: shows nothing itself; puts each HTML it is given into the live element of that key
# elsewhere on the page. A fragment run sends it instead of the live elements themselves, so the
# places of those elements (outside the fragment) are not re-sent with every stroke.
_RELAY_JS = """
export default function (component) {
  const { data } = component;
  if (!data || typeof data !== 'object') return;
  for (const [key, markup] of Object.entries(data)) {
    const box = document.querySelector(`.st-key-${key} .cs-live-html`);
    if (box && box.__shown !== markup) {
      box.innerHTML = markup;
      box.__shown = markup;
    }
  }
}
"""
RELAY_NAME = "convscope_live_relay"
_RELAY = components.component(RELAY_NAME, js=_RELAY_JS, isolate_styles=False)


def html(markup: str, key: str) -> None:
    """Show ``markup`` (the app's own HTML) in the page, in an element keyed ``key`` (its
    container has the class ``st-key-<key>``); a rerun with other markup replaces it in place."""
    _MOUNT(data=markup, key=key)


def relay(markups: dict[str, str] | None, key: str) -> None:
    """From inside a fragment: show each ``markups[k]`` in the live element keyed ``k`` (made by
    ``html`` on the last full run, outside the fragment) without re-sending that element. None
    sends nothing to show (a full run, which draws the live elements themselves). The relay's
    own element takes no room when ui/theme.py APP_CSS hides it by its key."""
    _RELAY(data=markups, key=key)
