"""Process settings for PyTorch on a shared server: the number of threads.

    configure_torch()   # at the top of every script run (app.py does this)

Why every run and not once: torch's intra-op thread count is OpenMP's, which is per thread. A
call sets it for the calling thread and for threads created afterwards, but not for threads that
already exist (checked with torch 2.13). Streamlit runs each script run on its own thread, so the
call costs one comparison when nothing changes and is made where the training runs.

Why one thread by default (bench/training_throughput.py, figures in the README): on an idle
2-core machine two threads trained this small CNN only 11% faster than one, and under load from
other processes two threads fell far below one. A class server runs many sessions in one process
on 1-2 CPUs; one thread per run leaves the other core to Streamlit and the other sessions.
"""

from __future__ import annotations

import functools

import torch

from .limits import load_limits


def configure_torch(threads: int | None = None) -> int:
    """Set torch's intra-op threads for this thread (and new ones) to ``threads``, default
    CONVSCOPE_THREADS (1); returns the number in effect. Cheap when nothing changes."""
    n = _env_threads() if threads is None else threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be a whole number of at least 1, got {n!r}")
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


@functools.cache
def _env_threads() -> int:
    """CONVSCOPE_THREADS, read (and any warning about it logged) once per process."""
    return load_limits().threads
