"""The speaker's resampler: 8 to 96 kHz through a polyphase FIR (a half-band filter at 8 kHz; 4 ms
held back, not soxr's 37-116 ms)."""

import numpy as np
import pytest
import soxr
from scipy import signal

from prosync.engine.resample import (
    MAX_UP,
    Polyphase,
    fir_bank,
    half_span,
    prototype,
    ratio,
    resampler,
)
from prosync.engine.speaker import resampler_delay_s


def _band_limited(n, seed=0):
    x = np.random.default_rng(seed).standard_normal(n) * 0.1
    return signal.sosfilt(signal.butter(8, 3400, fs=8000, output="sos"), x).astype(np.float32)


def _stream(x, sizes):
    up, out, i = Polyphase(8000), [], 0
    for n in sizes:
        out.append(up.resample_chunk(x[i:i + n]))
        i += n
    out.append(up.resample_chunk(x[i:], last=True))
    return np.concatenate(out)


def test_8khz_is_the_zero_stuffed_half_band_convolution():
    """Slow twin: stuff a zero after every sample, convolve with the whole half-band filter (x2),
    and drop its delay."""
    x = _band_limited(4000)
    h = signal.firwin(129, 0.5, window=("kaiser", 10.0))  # 8 ms of 8 kHz: 2 x 32 x 2 + 1 taps
    u = np.zeros(2 * x.size)
    u[::2] = 2.0 * x
    d = (h.size - 1) // 2
    want = np.convolve(u, h)[d:d + u.size]
    got = _stream(x, [4000])
    assert got.size == 2 * x.size
    np.testing.assert_allclose(got, want, atol=2e-6)
    np.testing.assert_array_equal(got[::2], x)   # the input samples pass as they are


@pytest.mark.parametrize("sizes", [[1] * 300, [7, 1, 33, 160, 5, 0, 64], [2999]])
def test_8khz_block_sizes_do_not_matter(sizes):
    x = _band_limited(3000, seed=1)
    np.testing.assert_array_equal(_stream(x, sizes), _stream(x, [3000]))


def test_8khz_matches_soxr_within_the_band():
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

    assert isinstance(resampler(8000), Polyphase) and resampler(16000) is None
    assert resampler_delay_s(8000) == pytest.approx(0.004, abs=1e-4)
    assert prosync.Session(sample_rate=8000, warm=False).lookahead_s < 0.06


# ----------------------------------------------------------------------------- polyphase FIR

#: The rates of the twin test.
RATES = [8000, 11025, 22050, 24000, 32000, 44100, 48000, 96000]


def _poly(rate, x, sizes=None):
    """``x`` through a Polyphase in blocks of ``sizes`` (one block by default), then flushed."""
    rs, out, i = Polyphase(rate), [], 0
    for n in sizes or [x.size]:
        out.append(rs.resample_chunk(x[i:i + n]))
        i += n
    out.append(rs.resample_chunk(x[i:], last=True))
    return np.concatenate(out)


def _noise(rate, seconds, seed=0):
    return (np.random.default_rng(seed).standard_normal(int(rate * seconds)) * 0.2).astype(np.float32)


def _db(err, ref):
    return 10 * np.log10(np.mean(np.square(err)) / np.mean(np.square(ref)))


def test_ratios_are_reduced():
    want = {44100: (160, 441), 48000: (1, 3), 22050: (320, 441), 11025: (640, 441),
            24000: (2, 3), 32000: (1, 2), 96000: (1, 6), 8000: (2, 1)}
    assert {r: ratio(r) for r in want} == want


@pytest.mark.parametrize("rate", RATES)
def test_polyphase_is_the_zero_stuffed_convolution(rate):
    """Slow twin: stuff L - 1 zeros after every sample (times L), convolve with the whole
    prototype, drop its delay, keep every M-th sample; as many outputs as soxr gives."""
    x = _noise(rate, 0.3, seed=rate)
    up, down = ratio(rate)
    u = np.zeros(x.size * up)
    u[::up] = up * x.astype(np.float64)
    h = prototype(rate)
    if (up, down) == (2, 1):  # a half-band filter: its even taps are sinc zeros, its centre 1/2
        h[0::2] = 0.0
        h[(h.size - 1) // 2] = 1 / up
    want = signal.fftconvolve(u, h)[(h.size - 1) // 2:][::down]
    got = _poly(rate, x)
    assert got.size == soxr.resample(x, rate, 16000).size
    np.testing.assert_allclose(got, want[:got.size], rtol=0, atol=1e-6)


@pytest.mark.parametrize("rate", [11025, 44100, 48000, 96000])
def test_polyphase_block_sizes_do_not_matter(rate):
    """Bit-identical for any split: 1-sample blocks, empty blocks, random sizes, one block."""
    x = _noise(rate, 0.25, seed=3)
    one = _poly(rate, x)
    rng = np.random.default_rng(rate)
    for sizes in ([1] * 2000, list(rng.integers(0, 3 * rate // 100, size=60)),
                  [0, 5, 0, rate // 100, 1, 997]):
        np.testing.assert_array_equal(_poly(rate, x, sizes), one)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 32000, 44100, 48000, 96000])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 440, 441, 1001, 12345])
def test_polyphase_gives_as_many_samples_as_soxr(rate, n):
    x = _noise(rate, 1.0)[:n]
    assert _poly(rate, x).size == soxr.resample(x, rate, 16000).size


@pytest.mark.parametrize("rate", [11025, 22050, 24000, 44100, 48000, 96000])
def test_polyphase_matches_soxr_and_the_exact_sine_in_the_pass_band(rate):
    """Tones: within -90 dB of soxr VHQ up to 3 kHz (above, soxr VHQ's own pass band deviates:
    -65 dB at 7 kHz from 44.1 kHz), and within -100 dB of the exact sine up to 7 kHz (5 kHz from
    11.025 kHz, whose pass band ends at 4.7 kHz). Away from the ends, where soxr pads otherwise."""
    t = np.arange(rate) / rate
    for f in (200.0, 1000.0, 3000.0, 5000.0, 7000.0):
        if f > min(rate, 16000) / 2 - 800:
            continue
        x = (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)
        got = _poly(rate, x, [rate // 50] * 49)
        exact = 0.5 * np.sin(2 * np.pi * f * np.arange(got.size) / 16000)
        inner = slice(400, -400)
        assert _db((got - exact)[inner], exact[inner]) < -100, f
        if f <= 3000:
            ref = soxr.resample(x, rate, 16000, quality="VHQ")
            assert ref.size == got.size
            assert _db((got - ref)[inner], ref[inner]) < -90, f


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_polyphase_lets_nothing_above_8_khz_fold_back(rate):
    """A tone at 8.05-20 kHz comes out below -95 dB (of the tone's power): the stop band starts
    at 8 kHz, so even the tones next to it are gone."""
    t = np.arange(rate // 2) / rate
    for f in (8050.0, 8200.0, 8500.0, 9000.0, 10000.0, 12000.0, 15000.0, 20000.0):
        x = (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)
        got = _poly(rate, x)[400:-400]
        assert _db(got, x) < -95, f


@pytest.mark.parametrize("rate", [11025, 22050, 24000, 32000, 44100, 48000, 96000])
def test_polyphase_holds_back_at_most_4_ms(rate):
    """After every push, the input not yet reflected in the output (in time) is at most 4 ms,
    whatever the block sizes; the engine's measure agrees."""
    rs, fed, out = resampler(rate), 0, 0
    assert isinstance(rs, Polyphase)
    rng = np.random.default_rng(1)
    for n in list(rng.integers(1, rate // 50, size=200)) + [1] * 500:
        out += rs.resample_chunk(np.zeros(n, np.float32)).size
        fed += n
        assert fed / rate - out / 16000 <= 0.004 + 1e-9
    assert resampler_delay_s(rate) <= 0.004 + 1e-9
    assert resampler_delay_s(rate) > 0.0039


def test_a_44_or_48_khz_frame_waits_as_long_as_an_8_khz_one():
    """soxr HQ held 40 ms at 44.1 kHz and 37 ms at 48 kHz: ``lookahead_s`` was 89.5 and 85.9 ms.
    Now every rate waits the kernels' look-ahead at 16 kHz plus the filter's 4 ms."""
    import prosync

    at = {r: prosync.Session(sample_rate=r, warm=False).lookahead_s
          for r in (8000, 16000, 44100, 48000)}
    for r in (44100, 48000):
        assert at[r] == pytest.approx(at[8000], abs=1e-4)
        assert at[r] == pytest.approx(at[16000] + 0.004, abs=1e-4)


def test_rates_with_too_many_phases_keep_soxr():
    """44,056 Hz (NTSC-derived): 2000 / 5507, more phases than the bank holds."""
    assert ratio(44056)[0] > MAX_UP
    assert isinstance(resampler(44056), soxr.ResampleStream)
    with pytest.raises(ValueError, match="phases"):
        fir_bank(44056)


def test_the_bank_is_the_prototype_in_phases():
    up, down, k, bank = fir_bank(44100)
    h = prototype(44100)
    assert (up, down, k) == (160, 441, half_span(44100)) and bank.shape == (up, 2 * k + 1)
    assert h.size == 2 * k * up + 1
    np.testing.assert_allclose(bank[0, ::-1], up * h[::up])
    np.testing.assert_allclose(bank[7, ::-1][:-1], up * h[7::up])
    assert bank[7, 0] == 0.0  # the padding tap of a phase past the centre
    assert not bank.flags.writeable
