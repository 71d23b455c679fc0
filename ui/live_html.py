"""HTML redrawn on every stroke, put into the page without React's markdown renderer.

Draw & predict redraws its prediction and its overview of every stage on every stroke. As
``st.markdown`` HTML, each redraw went through Streamlit's markdown parser (tens of kB of data
URIs scanned character by character in JavaScript) and React built a node for every table cell
and image; that, not the server, was most of a stroke's time in the browser. Here the HTML goes
to a tiny inline component (``st.components.v2``: no iframe, no style isolation, so the HTML is
part of the page, its text read by screen readers and its look the page's) whose script sets the
HTML of one element when it changed: the browser's own parser does the work.

The markup is the app's own (ui/light.py builds it, escaping every text it puts in); never pass
a learner's text unescaped.
"""

from __future__ import annotations

import streamlit.components.v2 as components

# The component's script: called with the new data on every run that sends it; it keeps one
# child element and replaces its HTML only when the HTML changed.
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
  if (box.__markup !== markup) {
    box.innerHTML = markup;
    box.__markup = markup;
  }
}
"""
NAME = "convscope_live_html"
_MOUNT = components.component(NAME, js=_JS, isolate_styles=False)


def html(markup: str, key: str) -> None:
    """Show ``markup`` (the app's own HTML) in the page, in an element keyed ``key`` (its
    container has the class ``st-key-<key>``); a rerun with other markup replaces it in place."""
    _MOUNT(data=markup, key=key)
