"""Pieces the Convolution page's tabs share: a position slider and the output-size formula.

Widget keys start with ``conv_`` and accept a value set in st.session_state before the page runs
(a share link); values that no longer fit are clamped.
"""

import streamlit as st

from cnn_core import conv_lab
from ui import layout

PADDING_FRAME = "#00b4d8"  # outline of the real input inside its zero padding


def position(label: str, key: str, size: int, default: int, where=st) -> int:
    """A slider over 0..size-1 (a 1-long axis has one position and needs no slider)."""
    layout.keep_int(key, 0, size - 1, default)
    if size == 1:
        return 0
    return int(where.slider(label, 0, size - 1, key=key))


def size_latex(s: conv_lab.OutputSize, axis: str, name: str) -> str:
    """The output-size formula along one axis, with the chosen numbers substituted."""
    return (
        rf"{axis}_{{\text{{out}}}} = \left\lfloor \frac{{{name} + 2p - d(k-1) - 1}}{{s}}"
        rf"\right\rfloor + 1 = \left\lfloor \frac{{{s.size} + 2\cdot{s.padding} - "
        rf"{s.dilation}\cdot({s.kernel_size}-1) - 1}}{{{s.stride}}}\right\rfloor + 1 = "
        rf"\left\lfloor \frac{{{s.numerator}}}{{{s.stride}}}\right\rfloor + 1 = {s.out}"
    )
