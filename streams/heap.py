"""Handing freed heap memory back to the system (glibc's ``malloc_trim``).

glibc keeps the memory a finished session freed: a long ``prosync score`` would grow by the
report drawn after it, and a server's RSS would stay at its busiest moment. Elsewhere these are
no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def malloc_trim():
    """glibc's ``malloc_trim`` function (None where there is none)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_memory() -> None:
    """Collect garbage, then hand the freed heap back to the system."""
    gc.collect()
    trim = malloc_trim()
    if trim is not None:
        trim(0)
