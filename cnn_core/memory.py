"""The server process's C heap: fewer malloc arenas, and free memory given back.

Streamlit runs every script run in a thread of its own, and glibc's malloc gives threads arenas
of their own, up to 8 per core (16 here), each keeping the memory freed in it for later. A
server of one process and many sessions, whose threads hold Python's lock in turn anyway,
gains nothing from so many arenas and loses memory to each. So:

    limit_arenas()          # once, as early as possible: at most ARENA_MAX arenas from now on
    release_free_memory()   # malloc_trim(0): free pages inside the heaps go back to the system

Both are no-ops (returning False) where the C library is not glibc (e.g. musl, macOS). An
operator's MALLOC_ARENA_MAX in the environment wins over limit_arenas. Measured in the README
(Benchmarks, Server memory). No streamlit here: cnn_core is pure numerics and process plumbing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading

ARENA_MAX = 2  # malloc arenas of the server process (glibc's default here: 8 per core)
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h

_lock = threading.Lock()
_limited: int | None = None  # the limit set by limit_arenas, once


@functools.cache
def _glibc():
    """The C library if it is glibc (it has mallopt and malloc_trim), else None."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version.restype = ctypes.c_char_p
        libc.gnu_get_libc_version()
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError, TypeError):  # not glibc, or no C library found
        return None
    return libc


def limit_arenas(arenas: int = ARENA_MAX) -> bool:
    """At most ``arenas`` malloc arenas in this process from now on (once per process: later
    calls change nothing). glibc fixes its limit when a ninth arena is made, so call this
    before the process has many threads. False when not glibc, or MALLOC_ARENA_MAX is set."""
    global _limited
    if arenas < 1:
        raise ValueError(f"arenas must be at least 1, got {arenas}")
    libc = _glibc()
    if libc is None or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    with _lock:
        if _limited is None:
            _limited = arenas if libc.mallopt(M_ARENA_MAX, arenas) == 1 else 0
        return bool(_limited)


def arena_limit() -> int | None:
    """The limit limit_arenas set in this process (0: glibc refused it), or None."""
    return _limited


def release_free_memory() -> bool:
    """Give the free memory inside the malloc heaps back to the system (malloc_trim(0)); True
    if some was released. It walks every arena once: a few milliseconds, without Python's
    lock (ctypes releases it)."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
