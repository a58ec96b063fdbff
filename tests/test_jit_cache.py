"""The kernel cache folder follows every native module: a kernel compiled into another
(``hop.speaker_frames`` holds ``vad.vad_hysteresis``) must not run stale code from the cache."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def test_cache_folder_changes_with_any_native_module(tmp_path):
    import numba

    from prosync.native import _jit

    native = Path(_jit.__file__).parent
    assert numba.config.CACHE_DIR.endswith("kernels-" + _jit.sources_digest())
    copy = tmp_path / "native"
    shutil.copytree(native, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert _jit.sources_digest(str(copy)) == _jit.sources_digest()
    with open(copy / "vad.py", "a") as f:
        f.write("\n# changed\n")
    assert _jit.sources_digest(str(copy)) != _jit.sources_digest()


def test_child_process_uses_the_same_folder():
    # the tagged folder is inherited through NUMBA_CACHE_DIR, not nested a second time
    import numba

    import prosync.native._jit  # noqa: F401

    env = dict(os.environ, NUMBA_CACHE_DIR=numba.config.CACHE_DIR)
    out = subprocess.run([sys.executable, "-c", "import numba, prosync.native._jit; "
                          "print(numba.config.CACHE_DIR)"], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == numba.config.CACHE_DIR
