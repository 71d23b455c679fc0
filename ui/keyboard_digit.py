"""Make a digit with the keyboard: a 14x14 grid of cells, moved through with the arrow keys,
inked with Space, read with Enter (the canvas cannot be drawn without a pointer).

The grid is a Streamlit component (st.components.v2: HTML and JavaScript in the page itself, no
iframe). It is one ARIA grid with a roving tab stop: Tab reaches it once, the arrow keys (and
Home / End) move between cells, Space or a click inks and clears a cell, Enter or the "Read this
drawing" button sends the grid to Python as a string of "0" and "1". Each cell says its row,
column and whether it holds ink, so a screen reader can follow the drawing.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

KEPT = "keyboard_grid_kept"  # session key: the last grid sent, to start from after a page switch
SIDE = 14  # cells a side; each cell is 2x2 pixels of the 28x28 input
CELL_PX = 20  # drawn size of a cell, and the pixels per cell of the image made from the grid

HTML = """<div class="kd"><div class="kd-grid" role="grid"></div>
<div class="kd-buttons"><button type="button" class="kd-read">Read this drawing</button>
<button type="button" class="kd-clear">Clear the grid</button></div>
<p class="kd-status" role="status" aria-live="polite"></p></div>"""

CSS = """
.kd-grid { display: inline-grid; grid-template-columns: repeat(14, 20px); gap: 1px;
  background: #555; border: 1px solid #555; }
.kd-cell { width: 20px; height: 20px; background: #000; }
.kd-cell[aria-selected="true"] { background: #fff; }
.kd-cell:focus { outline: 3px solid #e8590c; outline-offset: -3px; }
.kd-row { display: contents; }
.kd-buttons { margin-top: 0.5rem; display: flex; gap: 0.5rem; flex-wrap: wrap; }
.kd-buttons button { font: inherit; padding: 0.3rem 0.8rem; border-radius: 0.5rem;
  border: 1px solid currentColor; background: transparent; color: inherit; cursor: pointer; }
.kd-buttons button:focus-visible { outline: 3px solid #e8590c; }
.kd-status { margin: 0.3rem 0 0; }
"""

JS = """
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  const side = data.side;
  const grid = parentElement.querySelector('.kd-grid');
  const status = parentElement.querySelector('.kd-status');
  const label = (cell) => `row ${+cell.dataset.r + 1}, column ${+cell.dataset.c + 1}, ` +
    (cell.getAttribute('aria-selected') === 'true' ? 'ink' : 'blank');
  const ink = (cell, on) => { cell.setAttribute('aria-selected', on ? 'true' : 'false');
    cell.setAttribute('aria-label', label(cell)); };
  const cells = () => [...grid.querySelectorAll('.kd-cell')];
  const bits = () => cells().map(c => c.getAttribute('aria-selected') === 'true' ? '1' : '0')
    .join('');
  const send = () => { setStateValue('grid', bits());
    status.textContent = 'Sent: the prediction is beside the grid.'; };
  if (!grid.dataset.ready) {  // built once; a rerun calls this again with the same elements
    grid.dataset.ready = '1';
    grid.setAttribute('aria-label', data.label);
    for (let r = 0; r < side; r++) {
      const row = document.createElement('div');
      row.className = 'kd-row'; row.setAttribute('role', 'row');
      for (let c = 0; c < side; c++) {
        const cell = document.createElement('div');
        cell.className = 'kd-cell'; cell.setAttribute('role', 'gridcell');
        cell.dataset.r = r; cell.dataset.c = c;
        cell.tabIndex = r === 0 && c === 0 ? 0 : -1;
        ink(cell, data.grid && data.grid[r * side + c] === '1');
        row.appendChild(cell);
      }
      grid.appendChild(row);
    }
    const move = (cell, r, c) => {
      const next = grid.querySelector(`[data-r="${r}"][data-c="${c}"]`);
      if (!next) return;
      cell.tabIndex = -1; next.tabIndex = 0; next.focus();
    };
    grid.addEventListener('keydown', (e) => {
      const cell = e.target.closest('.kd-cell'); if (!cell) return;
      const r = +cell.dataset.r, c = +cell.dataset.c;
      const to = { ArrowUp: [r - 1, c], ArrowDown: [r + 1, c], ArrowLeft: [r, c - 1],
        ArrowRight: [r, c + 1], Home: [r, 0], End: [r, side - 1] }[e.key];
      if (to) { move(cell, ...to); e.preventDefault(); }
      else if (e.key === ' ') { ink(cell, cell.getAttribute('aria-selected') !== 'true');
        e.preventDefault(); }
      else if (e.key === 'Enter') { send(); e.preventDefault(); }
    });
    grid.addEventListener('click', (e) => {
      const cell = e.target.closest('.kd-cell'); if (!cell) return;
      ink(cell, cell.getAttribute('aria-selected') !== 'true');
    });
    parentElement.querySelector('.kd-read').addEventListener('click', send);
    parentElement.querySelector('.kd-clear').addEventListener('click', () => {
      cells().forEach(cell => ink(cell, false)); status.textContent = 'The grid is blank.'; });
  }
}
"""

_grid_component = st.components.v2.component("convscope_keyboard_grid", html=HTML, css=CSS, js=JS)


def grid_to_rgba(bits: str, side: int = SIDE, cell_px: int = CELL_PX) -> np.ndarray:
    """A grid sent by the component ("0"/"1" per cell, row by row) -> (side*cell_px,
    side*cell_px, 4) uint8 RGBA, white ink on black like the canvas."""
    if len(bits) != side * side or set(bits) - {"0", "1"}:
        raise ValueError(f"a keyboard grid is {side * side} characters of 0 and 1")
    cells = np.frombuffer(bits.encode(), np.uint8).reshape(side, side) == ord("1")  # (side, side)
    gray = np.kron(cells, np.ones((cell_px, cell_px), bool)).astype(np.uint8) * 255  # (H, W)
    return np.dstack([gray, gray, gray, np.full_like(gray, 255)])  # (H, W, 4)


def keyboard_grid(key: str, initial: str | None = None) -> str | None:
    """Show the grid (starting from ``initial``, a grid it sent before) and return the last
    grid sent with Enter or "Read this drawing", or None before the first one."""
    label = (
        f"Drawing grid, {SIDE} by {SIDE} cells, white ink on black. Arrow keys move, Space inks "
        "or clears a cell, Enter reads the drawing."
    )
    result = _grid_component(
        key=key,
        data={"side": SIDE, "grid": initial, "label": label},
        default={"grid": None},
        on_grid_change=lambda: None,
    )
    bits = result.get("grid") if hasattr(result, "get") else getattr(result, "grid", None)
    return bits if isinstance(bits, str) else None
