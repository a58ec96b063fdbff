"""native/bands.py against a slow twin: scipy's sosfilt (transposed sections) over the whole stream,
each frame's mean square taken from it, and the band floors tracked in dB one frame at a time in
Python (the kernel: direct form, two bands at a time, floors as powers)."""

import math

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from prosync.engine.speaker import band_sos
from prosync.native.bands import band_snr_energy, band_state
from prosync.native.frames import frame_energy_db

HOP, WIN = 160, 400
BLK = math.gcd(HOP, WIN, abs(HOP // 2 - WIN // 2))
PAD = WIN // 2  # stream sample s is x[PAD + s]: frame 0 starts at s = -120


def kernel(x, n_frames, sos, calls, q=0.1, step=0.1, shift=0, chunk=7):
    """The kernel over ``calls`` (frames per call), the buffer shifted left by ``shift`` samples
    before each call after the first (as the engine's buffer moves), filtering up to ``chunk``
    blocks at a time."""
    z, buf, ring, bst, floors = band_state(sos.shape[0], chunk, BLK, WIN)
    out = np.zeros(n_frames)
    k0, base = 0, 0
    for n in calls:
        c0 = PAD + k0 * HOP + HOP // 2 - base
        band_snr_energy(x[base:], c0, n, k0, HOP, WIN, BLK, sos, z, buf, ring, bst, floors, q, step,
                        out[k0:k0 + n])
        k0 += n
        base += shift
    return out


def twin(x, n_frames, sos, q=0.1, step=0.1):
    nb = sos.shape[0]
    first = PAD + HOP // 2 - WIN // 2  # frame 0's first sample: the filters start from rest here
    ys = [sosfilt(sos[b], x[first:].astype(np.float64)) for b in range(nb)]
    floors = None
    out = []
    for k in range(n_frames):
        a = k * HOP
        es = []
        for y in ys:
            ms = float(np.mean(y[a:a + WIN] ** 2))
            es.append(10 * np.log10(ms) if ms > 1e-12 else -120.0)
        if nb == 1:
            out.append(es[0])
            continue
        if floors is None:
            floors = list(es)
        out.append(10 * np.log10(sum(10 ** (f / 10) for f in floors))
                   + max(e - f for e, f in zip(es, floors)))
        floors = [f + step * q if e > f else f - step * (1 - q) for e, f in zip(es, floors)]
    return np.array(out)


def signal(seconds=0.6):
    rng = np.random.default_rng(3)
    m = int(16000 * seconds)
    x = (rng.standard_normal(m + 2 * WIN) * 0.1).astype(np.float32)
    x[:PAD] = 0.0  # the engine's zero padding before the stream
    x[2000:2600] = 0.0
    t = np.arange(2000) / 16000
    x[5000:7000] += np.sin(2 * np.pi * 700 * t).astype(np.float32)
    return x


@pytest.mark.parametrize("band", [(300.0, 3400.0, 1), (150.0, 0.0, 1), (0.0, 1000.0, 1),
                                  (150.0, 0.0, 5), (200.0, 4000.0, 3), (150.0, 0.0, 2),
                                  (60.0, 0.0, 8)])
def test_band_energy_matches_twin(band):
    x = signal()
    sos = band_sos(*band)
    assert sos.shape[0] == band[2]
    want = twin(x, 50, sos)
    np.testing.assert_allclose(kernel(x, 50, sos, [50]), want, atol=1e-9)
    # batched differently, in a buffer that moves: the same values
    np.testing.assert_allclose(kernel(x, 50, sos, [1, 14, 7, 28], shift=0), want, atol=1e-9)
    np.testing.assert_allclose(kernel(x, 50, sos, [10] * 5, shift=HOP * 10), want, atol=1e-9)
    # bit for bit whatever the batches and the blocks filtered in one pass
    got = kernel(x, 50, sos, [50], chunk=1)
    for calls, chunk in (([1] * 50, 7), ([3, 40, 7], 1), ([50], 32)):
        np.testing.assert_array_equal(kernel(x, 50, sos, calls, chunk=chunk), got)


def test_state_too_small_is_refused():
    """A ring shorter than the blocks one pass filters plus a frame's would wrap onto blocks a
    frame still reads, and a buffer without room for one block never filters: refused with
    one line naming the fix, not silently wrong nor looping for ever."""
    x = signal()
    sos = band_sos(150.0, 0.0, 5)
    z, buf, ring, bst, floors = band_state(5, 7, BLK, WIN)
    with pytest.raises(ValueError, match="band_state"):
        band_snr_energy(x, PAD + HOP // 2, 10, 0, HOP, WIN, BLK, sos, z, buf, ring[:, :-1], bst,
                        floors, 0.1, 0.1, np.zeros(10))
    with pytest.raises(ValueError, match="band_state"):
        band_snr_energy(x, PAD + HOP // 2, 10, 0, HOP, WIN, BLK, sos, z, buf, ring, bst,
                        floors[:5], 0.1, 0.1, np.zeros(10))
    # no block at a time (chunk 0): the kernel looped for ever, filtering nothing
    z, buf, ring, bst, floors = band_state(5, 0, BLK, WIN)
    with pytest.raises(ValueError, match="band_state"):
        band_snr_energy(x, PAD + HOP // 2, 10, 0, HOP, WIN, BLK, sos, z, buf, ring, bst,
                        floors, 0.1, 0.1, np.zeros(10))


def test_one_band_drops_what_lies_outside_it():
    """A 100 Hz hum under a 300-3400 Hz band reads far below its broadband energy; a 1 kHz tone
    passes within 0.5 dB (a second-order Butterworth edge at 100 Hz: about 19 dB down)."""
    t = np.arange(16000) / 16000
    sos = band_sos(300.0, 3400.0)
    for f, lo, hi in ((100.0, -200.0, -3.0103 - 15), (1000.0, -3.6, -2.5)):
        x = np.concatenate([np.zeros(PAD), np.sin(2 * np.pi * f * t)]).astype(np.float32)
        out = kernel(x, 60, sos, [60])[20:]  # after the filter's start from rest
        assert ((out > lo) & (out < hi)).all(), (f, out.min(), out.max())


def test_several_bands_read_a_tone_over_the_noise_of_other_bands():
    """Noise heavy in the low bands, and a weak 3 kHz tone: broadband the tone is under the
    noise (under 2 dB up); the best band's rise over its floor shows it 6 dB up or more."""
    rng = np.random.default_rng(0)
    n = 16000 * 3
    low = sosfilt(butter(2, 400, "low", fs=16000, output="sos"), rng.standard_normal(n))
    x = (0.1 * low + 0.002 * rng.standard_normal(n)).astype(np.float32)
    t = np.arange(n) / 16000
    x[32000:40000] += (0.01 * np.sin(2 * np.pi * 3000 * t[32000:40000])).astype(np.float32)
    x[:PAD] = 0.0
    out = kernel(x, 280, band_sos(150.0, 0.0, 5), [100, 100, 80])
    k_noise = slice(150, 190)   # noise only (the floors have settled)
    k_tone = slice(205, 245)    # the tone
    assert np.median(out[k_tone]) - np.median(out[k_noise]) > 6
    bb = np.zeros(280)
    frame_energy_db(x, PAD + HOP // 2, 280, HOP, WIN, bb)
    assert np.median(bb[k_tone]) - np.median(bb[k_noise]) < 2
