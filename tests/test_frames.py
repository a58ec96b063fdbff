"""native/frames.py kernels against slow, obviously correct references."""

import numpy as np
import pytest

from prosync.native.frames import frame_energy_db, shift_left, to_pcm16


def energy_ref(x, c0, n, hop, win):
    out = []
    for i in range(n):
        s = c0 + i * hop - win // 2
        ms = sum(float(v) * float(v) for v in x[s:s + win]) / win
        out.append(10 * np.log10(ms) if ms > 1e-12 else -120.0)
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1])
def test_frame_energy_matches_reference(seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(5000) * rng.uniform(0.001, 0.5)).astype(np.float32)
    x[1000:1600] = 0.0
    out = np.zeros(20)
    frame_energy_db(x, 300, 20, 160, 400, out)
    np.testing.assert_allclose(out, energy_ref(x, 300, 20, 160, 400), atol=1e-9)
    assert out.min() == -120.0 or (x[1000:1600] == 0).all()


def test_full_scale_sine_reads_minus_3_dbfs():
    t = np.arange(16000) / 16000
    x = np.sin(2 * np.pi * 200 * t).astype(np.float32)
    out = np.zeros(5)
    frame_energy_db(x, 1000, 5, 160, 400, out)
    np.testing.assert_allclose(out, -3.0103, atol=0.01)


def test_shift_left_moves_in_place():
    x = np.arange(20, dtype=np.float32)
    shift_left(x, 7, 13)
    np.testing.assert_array_equal(x[:13], np.arange(7, 20))


def test_to_pcm16_clips_and_zeroes_nan():
    x = np.array([0.0, 0.5, -0.5, 1.5, -1.5, np.nan, 1.0, -1.0], np.float32)
    out = np.zeros(8, np.int16)
    to_pcm16(x, 0, 8, out)
    ref = [0, 16384, -16384, 32767, -32768, 0, 32767, -32768]
    np.testing.assert_array_equal(out, ref)


def test_all_finite_equals_numpy():
    from prosync.native.frames import all_finite

    rng = np.random.default_rng(5)
    for dt in (np.float32, np.float64):
        for trial in range(200):
            x = rng.standard_normal(int(rng.integers(0, 400))).astype(dt)
            if x.size and trial % 3:
                x[rng.integers(0, x.size)] = (np.nan, np.inf, -np.inf)[trial % 3 - 1 + (trial % 2)]
            assert all_finite(x) == bool(np.isfinite(x).all()), (dt, trial)
