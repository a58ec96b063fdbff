"""native/_jit.py: the kernels' cache follows every file of native/, not only the kernel's own."""

import os

from prosync.native import _jit


def test_stamp_changes_with_any_file_of_the_folder(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("not a module\n")
    s0 = _jit.native_stamp(str(tmp_path))
    assert [name for name, _ in s0] == ["a.py", "b.py"]
    (tmp_path / "notes.txt").write_text("changed\n")
    assert _jit.native_stamp(str(tmp_path)) == s0
    (tmp_path / "b.py").write_text("y = 3\n")
    os.utime(tmp_path / "b.py", (1, 1))  # a new stat: the memoised file hash is taken again
    s1 = _jit.native_stamp(str(tmp_path))
    assert s1 != s0 and s1[0] == s0[0]


def test_fused_kernels_are_stamped_with_the_folder():
    """hop.py inlines pitch.py, vad.py ...: an edit there must invalidate its cache."""
    from prosync.native import hop, pitch

    if not _jit.STAMP_INSTALLED or _jit.jit_disabled():
        import pytest

        pytest.skip("this numba has no cache locator hook (or the JIT is off)")
    for kernel in (hop.speaker_frames, hop.cross_talk, pitch.track):
        loc = kernel._cache._impl._locator
        assert type(loc).__name__.startswith("Native"), type(loc)
        assert loc.get_source_stamp() == _jit.native_stamp()
        assert {"hop.py", "pitch.py", "vad.py"} <= {name for name, _ in loc.get_source_stamp()}
