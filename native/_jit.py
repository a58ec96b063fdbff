"""The one place where numba flags are set.

``cache=True`` always. When the package directory is read-only numba needs a
writable cache directory, otherwise importing a cached kernel fails with
"no locator available": we point ``NUMBA_CACHE_DIR`` at the user's cache before
numba is imported, unless the user chose one.
"""

import os

if "NUMBA_CACHE_DIR" not in os.environ:
    _pkg = os.path.dirname(os.path.abspath(__file__))
    if not os.access(_pkg, os.W_OK):
        _base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        os.environ["NUMBA_CACHE_DIR"] = os.path.join(_base, "prosync", "numba")

import numba  # noqa: E402

#: Flags for every kernel. ``fastmath`` stays off: several kernels rely on NaN semantics.
JIT_FLAGS = {"cache": True, "nogil": True, "fastmath": False}


def jit(fn):
    """Compile ``fn`` with the project's flags."""
    return numba.njit(**JIT_FLAGS)(fn)


def jit_disabled() -> bool:
    """True under ``NUMBA_DISABLE_JIT=1`` (kernels run as plain Python)."""
    return bool(numba.config.DISABLE_JIT)
