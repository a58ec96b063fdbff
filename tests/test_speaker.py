"""engine/speaker.py: framing of one speaker's stream."""

import numpy as np

from prosync.engine.config import HOP, Config
from prosync.engine.speaker import FRAME_DTYPE, MAX_FRAMES, SpeakerTrack
from tests.audio import harmonic


def collect(track, x, block):
    out = []

    def emit(k0, n, rec):
        out.append((k0, rec[:n].copy()))

    for i in range(0, len(x), block):
        track.feed(x[i:i + block], emit)
    track.flush(emit)
    return out


def test_frames_are_consecutive_and_cover_the_input():
    x = harmonic(200, 2.345)
    got = collect(SpeakerTrack(Config(), 16000), x, 999)
    ks = np.concatenate([np.arange(k0, k0 + len(r)) for k0, r in got])
    np.testing.assert_array_equal(ks, np.arange(len(ks)))
    assert len(ks) == -(-len(x) // HOP)
    assert max(len(r) for _, r in got) <= MAX_FRAMES
    rec = np.concatenate([r for _, r in got])
    assert rec.dtype == FRAME_DTYPE
    np.testing.assert_allclose(rec["t_s"], (np.arange(len(rec)) + 0.5) * 0.01)


def test_buffer_stays_bounded_on_long_input():
    tr = SpeakerTrack(Config(), 16000)
    cap = tr._x.shape[0]
    x = harmonic(150, 30.0)
    collect(tr, x, 48000)
    assert tr._x.shape[0] == cap


def test_lookahead_is_at_most_50_ms_and_frames_wait_for_it():
    tr = SpeakerTrack(Config(), 16000)
    assert tr.lookahead_s <= 0.050
    seen = []
    tr.feed(np.zeros(HOP * 10, np.float32), lambda k0, n, r: seen.append(k0 + n))
    # frame k needs samples up to its centre + look-ahead
    n_final = seen[-1] if seen else 0
    assert (n_final - 1) * HOP + HOP // 2 + tr.lookahead <= HOP * 10
    assert n_final * HOP + HOP // 2 + tr.lookahead > HOP * 10


def test_resampled_input_gives_the_same_pitch():
    import soxr

    x = harmonic(220, 1.0)
    y = soxr.resample(x, 16000, 48000).astype(np.float32)
    a = np.concatenate([r for _, r in collect(SpeakerTrack(Config(), 16000), x, 1600)])
    b = np.concatenate([r for _, r in collect(SpeakerTrack(Config(), 48000), y, 4800)])
    va, vb = a["voiced"], b["voiced"]
    assert va[10:-10].mean() > 0.9 and vb[10:-10].mean() > 0.9
    f = np.nanmedian(b["f0_hz"][vb])
    assert abs(np.log2(f / 220.0)) < 0.01
