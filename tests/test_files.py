import numpy as np
import pytest
import soundfile as sf

from prosync import AudioInputError
from prosync.streams.files import plan_sources, read_blocks


def write(path, data, sr=16000, **kw):
    sf.write(str(path), data, sr, **kw)
    return path


def test_stereo_two_sources_and_blocks_cover_the_file(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (50000, 2)).astype(np.float32)
    p = write(tmp_path / "s.wav", x, subtype="FLOAT")
    src = plan_sources([p])
    assert [s.channel for s in src] == [0, 1]
    blocks = list(read_blocks(src, block=4096))
    a = np.concatenate([b[0] for b in blocks])
    b = np.concatenate([b[1] for b in blocks])
    np.testing.assert_array_equal(a, x[:, 0])
    np.testing.assert_array_equal(b, x[:, 1])


def test_two_files_of_different_lengths_pad_with_empty_blocks(tmp_path):
    p1 = write(tmp_path / "a.wav", np.zeros(10000, np.float32))
    p2 = write(tmp_path / "b.wav", np.zeros(3000, np.float32))
    blocks = list(read_blocks(plan_sources([p1, p2]), block=4096))
    assert sum(len(b[0]) for b in blocks) == 10000
    assert sum(len(b[1]) for b in blocks) == 3000


def test_channels_pick(tmp_path):
    p = write(tmp_path / "m.wav", np.zeros((100, 4), np.float32))
    src = plan_sources([p], channels=[3, 1])
    assert [s.channel for s in src] == [2, 0]


@pytest.mark.parametrize("make, args, msg", [
    (lambda d: d / "nope.wav", {}, "file not found"),
    (lambda d: d, {}, "is a folder"),
    (lambda d: (d / "t.wav").write_bytes(b"RIFF....WAVEjunk") and d / "t.wav", {}, "cannot read"),
    (lambda d: write(d / "e.wav", np.zeros((0, 1), np.float32)), {}, "no audio samples"),
    # libsndfile writes a FLAC of no frames as 0 bytes, which it then cannot open
    (lambda d: (d / "e.flac").write_bytes(b"") or d / "e.flac", {}, r"empty file \(0 bytes\)"),
    (lambda d: write(d / "l.wav", np.zeros(100, np.float32), sr=4000), {}, "below 8000"),
    (lambda d: write(d / "six.wav", np.zeros((100, 6), np.float32)), {}, "channels="),
    (lambda d: write(d / "q.wav", np.zeros((100, 4), np.float32)), {"channels": [1, 9]},
     "out of range"),
    (lambda d: write(d / "mono.wav", np.zeros(100, np.float32)), {"n_speakers": 2},
     "rttm="),
])
def test_bad_inputs_name_the_problem(tmp_path, make, args, msg):
    p = make(tmp_path)
    with pytest.raises(AudioInputError, match=msg):
        src = plan_sources([p], **args)
        list(read_blocks(src))


def test_nan_samples_are_reported_with_time(tmp_path):
    x = np.zeros(20000, np.float32)
    x[16000] = np.nan
    p = write(tmp_path / "n.wav", x, subtype="FLOAT")
    with pytest.raises(AudioInputError, match=r"NaN or Inf sample at 1\.000 s"):
        list(read_blocks(plan_sources([p])))


def test_two_files_must_be_mono(tmp_path):
    p1 = write(tmp_path / "a.wav", np.zeros((100, 2), np.float32))
    p2 = write(tmp_path / "b.wav", np.zeros(100, np.float32))
    with pytest.raises(AudioInputError, match="must be mono"):
        plan_sources([p1, p2])


def test_atomic_write_that_cannot_be_renamed_leaves_no_temporary(tmp_path):
    """The final name is a folder: the rename fails, and the temporary file goes with it."""
    from prosync.streams.atomic import write_text

    (tmp_path / "x").mkdir()
    with pytest.raises(OSError):
        write_text(tmp_path / "x", "text")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]
