"""Flatten's index and cell fields: a value outside its range is put back to the value in use,
with a note saying so, and the formula always shows the value in the field (issue 10.9).

The fields have no bounds of their own on purpose: a browser keeps showing a typed number outside
a number input's bounds without sending it, so the field and the formula disagreed."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_core import load_default_model, ops
from tests.conftest import held_out_digit, open_page

pytestmark = pytest.mark.timeout(300)
SHAPE = (16, 7, 7)  # the default model's flatten input


def _page():
    """The Flatten page with held-out digit #7 as input."""
    return open_page("app_pages/page_flatten.py", digit=7)


def _expected_trace():
    """The default model's trace of that digit."""
    return load_default_model().trace(held_out_digit(7))


def _shown(at) -> tuple[int, str]:
    """(the index in the field, the formula's last number)."""
    (formula,) = [m.value.strip("$\n") for m in at.latex if "i = c" in m.value]
    return int(at.number_input(key="flat_index").value), formula.rsplit("=", 1)[1].strip()


def test_an_index_outside_the_vector_is_put_back_with_a_note():
    """A flat index past 783 is put back to the index in use with a one-time note; the cell
    fields and the value stay those of that index."""
    at = _page()
    at.number_input(key="flat_index").set_value(300).run()
    assert _shown(at) == (300, "300")
    at.number_input(key="flat_index").set_value(99999).run()
    assert _shown(at) == (300, "300")
    notes = [w.value for w in at.warning]
    assert "Index i = 99999 is outside 0 to 783, so it was not used; Index i stays 300." in notes
    c, h, w = ops.unflat_index(300, SHAPE)
    cell = [at.number_input(key=k).value for k in ("flat_c", "flat_h", "flat_w")]
    assert cell == [c, h, w]
    value = _expected_trace().stage("flatten").output[300]
    assert f"**{float(value):.5f}**" in "\n".join(m.value for m in at.markdown)
    at.run()  # the note is said once
    assert not [w for w in at.warning if "outside" in w.value]


@pytest.mark.parametrize(("key", "typed", "size"), [("flat_c", 16, 16), ("flat_w", -1, 7)])
def test_a_cell_outside_the_maps_is_put_back_with_a_note(key, typed, size):
    """A channel or column outside the maps is put back to the one in use with a note; the index
    does not move."""
    at = _page()
    at.number_input(key="flat_index").set_value(123).run()
    before = [at.number_input(key=k).value for k in ("flat_c", "flat_h", "flat_w")]
    at.number_input(key=key).set_value(typed).run()
    assert [at.number_input(key=k).value for k in ("flat_c", "flat_h", "flat_w")] == before
    assert _shown(at) == (123, "123")
    label = {"flat_c": "Channel c", "flat_w": "Column w"}[key]
    in_use = before[("flat_c", "flat_h", "flat_w").index(key)]
    expected = (
        f"{label} = {typed} is outside 0 to {size - 1}, so it was not used; {label} stays {in_use}."
    )
    assert expected in [w.value for w in at.warning]


def test_a_cell_inside_moves_the_index():
    """Setting the cell (2, 3, 4) moves the index to c*49 + h*7 + w = 123 with no note."""
    at = _page()
    at.number_input(key="flat_c").set_value(2).run()
    at.number_input(key="flat_h").set_value(3).run()
    at.number_input(key="flat_w").set_value(4).run()
    assert _shown(at) == (123, "123")
    assert not [w for w in at.warning if "outside" in w.value]
    assert np.isfinite(_expected_trace().stage("flatten").output[123])
