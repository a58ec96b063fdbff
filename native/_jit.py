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
from numba.core import caching as _caching  # noqa: E402

#: Flags for every kernel. ``fastmath`` stays off: several kernels rely on NaN semantics.
JIT_FLAGS = {"cache": True, "nogil": True, "fastmath": False}

#: The kernels' folder.
NATIVE_DIR = os.path.dirname(os.path.abspath(__file__))


def native_stamp(folder: str = NATIVE_DIR) -> tuple:
    """The cache stamp of every kernel: the contents of all the folder's modules.

    numba stamps a cached kernel with its own file only, but a kernel inlines the kernels it
    calls from other files (the fused per-hop kernels of ``hop.py`` call those of ``pitch.py``,
    ``vad.py`` ...): after an edit there, the cache would keep running the old code. With this
    stamp any edit in the folder recompiles every kernel on its next use.
    """
    out = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py"):
            path = os.path.join(folder, name)
            st = os.stat(path)
            out.append((name, _caching._hash_source_file(path, st.st_mtime, st.st_size)))
    return tuple(out)


def _install_stamp() -> bool:
    """Put locators that stamp this folder's kernels with :func:`native_stamp` in front of
    numba's (same cache places); False when this numba has no such hook (then each kernel is
    stamped with its own file, numba's default)."""
    impl = getattr(_caching, "CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    bases = [getattr(_caching, n, None) for n in ("UserProvidedCacheLocator",
                                                  "InTreeCacheLocator", "UserWideCacheLocator")]
    if classes is None or None in bases or not hasattr(_caching, "_hash_source_file"):
        return False

    def make(base):
        class Locator(base):
            def get_source_stamp(self):
                return native_stamp()

            @classmethod
            def from_function(cls, py_func, py_file):
                if os.path.dirname(os.path.abspath(py_file)) != NATIVE_DIR:
                    return None
                return super().from_function(py_func, py_file)

        Locator.__name__ = "Native" + base.__name__
        return Locator

    if not any(c.__name__.startswith("Native") for c in classes):
        classes[:0] = [make(b) for b in bases]
    return True


#: True when the kernels' caches follow every file of the folder (:func:`native_stamp`).
STAMP_INSTALLED = _install_stamp()


def jit(fn):
    """Compile ``fn`` with the project's flags."""
    return numba.njit(**JIT_FLAGS)(fn)


#: Flags for dot-product kernels without NaN logic: the project's flags, plus reassociation and
#: fused multiply-add so that LLVM vectorises the sum (its order is then fixed by the loop's
#: length alone, so equal inputs still give equal bits).
JIT_DOT_FLAGS = {**JIT_FLAGS, "fastmath": {"reassoc", "contract"}}


def jit_dot(fn):
    """Compile ``fn`` with :data:`JIT_DOT_FLAGS` (a kernel whose inner loop is a dot product)."""
    return numba.njit(**JIT_DOT_FLAGS)(fn)


#: Flags for recursive filters without NaN logic: the project's flags, plus fused multiply-add
#: (no reassociation: the order of every sum stays as written, and equal inputs give equal bits).
JIT_FMA_FLAGS = {**JIT_FLAGS, "fastmath": {"contract"}}


def jit_fma(fn):
    """Compile ``fn`` with :data:`JIT_FMA_FLAGS` (a filter's inner loop)."""
    return numba.njit(**JIT_FMA_FLAGS)(fn)


def jit_disabled() -> bool:
    """True under ``NUMBA_DISABLE_JIT=1`` (kernels run as plain Python)."""
    return bool(numba.config.DISABLE_JIT)
