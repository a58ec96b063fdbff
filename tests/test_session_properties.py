"""Property-based tests of Session: any audio gives finite, well-typed metrics or a clear error,
and streaming in any block sizes equals one push of the whole signal."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prosync import ProsyncError, Session

RATES = [8000, 11025, 16000, 22050, 44100, 48000]


@st.composite
def signals(draw):
    sr = draw(st.sampled_from(RATES))
    n = draw(st.integers(0, int(1.5 * sr)))
    kind = draw(st.sampled_from(["silence", "noise", "tone", "clipped", "dc", "chirp", "impulses"]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = draw(st.floats(20.0, min(3000.0, sr / 2.5)))
    amp = draw(st.floats(0.0, 4.0))
    if kind == "silence":
        x = np.zeros(n)
    elif kind == "noise":
        x = amp * rng.standard_normal(n)
    elif kind == "tone":
        x = amp * np.sin(2 * np.pi * f0 * t)
    elif kind == "clipped":
        x = np.clip(3 * np.sin(2 * np.pi * f0 * t), -1, 1)
    elif kind == "dc":
        x = 0.5 + 0.1 * np.sin(2 * np.pi * f0 * t)
    elif kind == "chirp":
        x = 0.3 * np.sin(2 * np.pi * (f0 + 200 * t) * t)
    else:
        x = np.zeros(n)
        x[:: max(1, int(sr / f0))] = amp
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int16]))
    if dtype is np.int16:
        x = np.clip(x * 32767, -32768, 32767).astype(np.int16)
    else:
        x = x.astype(dtype)
    sizes = draw(st.lists(st.integers(1, 4000), min_size=1, max_size=6))
    return sr, x, sizes


def run(sr, chans, sizes):
    s = Session(sample_rate=sr)
    frames = {k: [] for k in s.speakers}
    sync, pacing = [], []
    pos = [0, 0]
    j = 0
    while any(p < len(c) for p, c in zip(pos, chans)):
        for i, c in enumerate(chans):
            n = sizes[j % len(sizes)]
            j += 1
            if pos[i] < len(c):
                u = s.push(i, c[pos[i]:pos[i] + n])
                pos[i] += n
                for k, v in u.frames.items():
                    frames[k].append(v)
                sync += u.synchrony
                pacing += u.pacing
    u = s.close()
    for k, v in u.frames.items():
        frames[k].append(v)
    sync += u.synchrony
    pacing += u.pacing
    return {k: np.concatenate(v) if v else None for k, v in frames.items()}, sync, pacing


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signals(), signals())
def test_any_audio_gives_finite_typed_metrics_and_split_invariance(sa, sb):
    sr, a, sizes = sa
    _, b, _ = sb
    b = b[: len(a)] if len(b) >= len(a) else np.concatenate([b, np.zeros(len(a) - len(b), b.dtype)])
    b = b.astype(a.dtype)
    got, sync, pacing = run(sr, [a, b], sizes)
    whole, sync_w, pacing_w = run(sr, [a, b], [max(len(a), 1)])
    for spk, rec in got.items():
        if rec is None:
            assert whole[spk] is None
            continue
        assert np.isfinite(rec["energy_db"]).all()
        rate = rec["rate_sps"]  # NaN only before a speaker's first second of speech
        k = np.flatnonzero(np.cumsum(rec["speech"]) >= 100)
        assert np.isfinite(rate[k]).all() and (rate[np.isfinite(rate)] >= 0).all()
        assert np.isfinite(rec["periodicity"]).all()
        f0 = rec["f0_hz"]
        assert np.all(np.isnan(f0) | ((f0 >= 20) & (f0 <= 2000)))
        assert (np.isnan(f0) == ~rec["voiced"]).all()
        assert rec["speech"].dtype == np.bool_
        for col in rec.dtype.names:
            np.testing.assert_array_equal(rec[col], whole[spk][col], err_msg=col)
    assert len(sync) == len(sync_w) and len(pacing) == len(pacing_w)
    for r, w in zip(sync, sync_w):
        assert r.feature == w.feature and r.t_s == w.t_s
        np.testing.assert_array_equal([r.r_lag0, r.z, r.lag_s], [w.r_lag0, w.z, w.lag_s])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_bursts_are_a_clear_error_and_the_session_goes_on(bad):
    s = Session()
    x = np.zeros(1600, np.float32)
    x[100:120] = bad
    with pytest.raises(ProsyncError, match="NaN or Inf"):
        s.push(0, x)
    s.push(0, np.zeros(1600, np.float32))  # the session is still usable
    s.push(1, np.zeros(3200, np.float32))
    s.close()


def test_sample_rate_changes_between_sessions():
    t = np.arange(48000) / 48000
    for sr in (8000, 16000, 48000):
        x = (0.3 * np.sin(2 * np.pi * 150 * np.arange(sr) / sr)).astype(np.float32)
        s = Session(["solo"], sample_rate=sr)
        u = s.push(0, x)
        u2 = s.close()
        rec = np.concatenate([u.frames.get("solo", np.zeros(0)), u2.frames["solo"]])
        f0 = rec["f0_hz"][rec["voiced"]]
        assert f0.size and abs(np.log2(np.median(f0) / 150)) < 0.02, sr
    del t
