"""Reading the HTML grids of ui/grids.html_grid back out of an AppTest page: each cell's full
value (data-value), row by row, checked against the number printed in the cell."""

from __future__ import annotations

import html
import re

import numpy as np


def grid(at, title: str) -> np.ndarray:
    """The values of the HTML grid captioned ``title`` on the page; the number printed in each
    cell must be its value rounded (to 2 decimals or more)."""
    pattern = (
        rf"<table class='cs-grid' data-title='{re.escape(html.escape(title, quote=True))}'"
        r".*?</table>"
    )
    for block in (m.value for m in at.markdown):
        found = re.search(pattern, block)
        if found:
            rows = re.findall(r"<tr><th scope='row'.*?</tr>", found.group(0))
            values = np.array(
                [[float(v) for v in re.findall(r"data-value='([^']+)'", r)] for r in rows]
            )
            printed = np.array([re.findall(r">([^<>]*)</td>", r) for r in rows], dtype=float)
            np.testing.assert_allclose(printed, values, atol=0.005 + 1e-9)
            return values
    raise AssertionError(f"no grid titled {title!r}")
