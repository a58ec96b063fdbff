"""The speaker's resampler: 8 kHz through a half-band filter (4 ms held back, not soxr's 116 ms)."""

import numpy as np
import pytest
import soxr
from scipy import signal

from prosync.engine.resample import UP2_TAPS, Upsample2, resampler
from prosync.engine.speaker import resampler_delay_s


def _band_limited(n, seed=0):
    x = np.random.default_rng(seed).standard_normal(n) * 0.1
    return signal.sosfilt(signal.butter(8, 3400, fs=8000, output="sos"), x).astype(np.float32)


def _stream(x, sizes):
    up, out, i = Upsample2(), [], 0
    for n in sizes:
        out.append(up.resample_chunk(x[i:i + n]))
        i += n
    out.append(up.resample_chunk(x[i:], last=True))
    return np.concatenate(out)


def test_upsample2_is_the_zero_stuffed_convolution():
    """Slow twin: stuff a zero after every sample, convolve with the whole half-band filter (x2),
    and drop its delay."""
    x = _band_limited(4000)
    h = signal.firwin(UP2_TAPS, 0.5, window=("kaiser", 10.0))
    u = np.zeros(2 * x.size)
    u[::2] = 2.0 * x
    d = (UP2_TAPS - 1) // 2
    want = np.convolve(u, h)[d:d + u.size]
    got = _stream(x, [4000])
    assert got.size == 2 * x.size
    np.testing.assert_allclose(got, want, atol=2e-6)
    np.testing.assert_array_equal(got[::2], x)   # the input samples pass as they are


@pytest.mark.parametrize("sizes", [[1] * 300, [7, 1, 33, 160, 5, 0, 64], [2999]])
def test_upsample2_block_sizes_do_not_matter(sizes):
    x = _band_limited(3000, seed=1)
    np.testing.assert_array_equal(_stream(x, sizes), _stream(x, [3000]))


def test_upsample2_matches_soxr_within_the_band():
    """Against soxr VHQ on noise band-limited to the telephone band: 90 dB under the signal
    (away from the last 10 ms, where soxr ends its signal otherwise than with zeros)."""
    x = _band_limited(80000, seed=2)
    ref = soxr.resample(x, 8000, 16000, quality="VHQ")
    got = _stream(x, [160] * 499)
    assert got.size == ref.size
    err, ref = (got - ref)[:-160], ref[:-160]
    assert 10 * np.log10(np.mean(err ** 2) / np.mean(ref ** 2)) < -90


def test_8khz_input_waits_4_ms_for_the_resampler():
    """soxr HQ released 8 kHz input in blocks of ~104 ms of output: a live 8 kHz frame was final
    165 ms after its centre (Session.lookahead_s), against 89 ms at 44.1 kHz."""
    import prosync

    assert isinstance(resampler(8000), Upsample2) and resampler(16000) is None
    assert resampler_delay_s(8000) == pytest.approx(0.004, abs=1e-4)
    assert prosync.Session(sample_rate=8000, warm=False).lookahead_s < 0.06
