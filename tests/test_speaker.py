"""engine/speaker.py: framing of one speaker's stream."""

import numpy as np
import pytest

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


def _blocks(x, seed):
    """``x`` cut into random block sizes (1 sample to 0.3 s)."""
    rng = np.random.default_rng(seed)
    i = 0
    while i < len(x):
        m = int(rng.choice([1, 7, 160, 161, 480, 1600, 4800]))
        yield x[i:i + m]
        i += m


def _run(cls, x, seed, cfg=None):
    tr = cls(cfg or Config(), 16000)
    out = []

    def emit(k0, n, rec):
        out.append(rec[:n].copy())

    for blk in _blocks(x, seed):
        tr.feed(blk, emit)
    tr.flush(emit)
    return np.concatenate(out)


def _check_fused(x, seed, cfg=None):
    from tests.ref_speaker import RefSpeakerTrack

    got, ref = _run(SpeakerTrack, x, seed, cfg), _run(RefSpeakerTrack, x, seed + 1, cfg)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    for name in FRAME_DTYPE.names:  # bit-identical, NaN where NaN
        assert got[name].tobytes() == ref[name].tobytes(), name
    return ref


def test_fused_kernel_equals_the_step_by_step_path_on_a_dialogue():
    from tests.audio import dialogue

    a, b, _ = dialogue()
    for k, x in enumerate((a, b)):
        ref = _check_fused(x, k)
        assert ref["webrtc"].any() and ref["voiced"].any() and (ref["nucleus_age"] >= 0).any()


@pytest.mark.parametrize("count", [1, 5])
def test_fused_kernel_equals_the_step_by_step_path_with_vad_bands(count):
    """The VAD on band energies (``vad.band_*``): batching does not change a bit, and the VAD
    decides on them (its decisions differ from the broadband ones somewhere)."""
    from dataclasses import replace

    from tests.audio import dialogue

    a, _, _ = dialogue()
    rng = np.random.default_rng(4)
    x = (a + 0.01 * rng.standard_normal(a.shape[0])).astype(np.float32)
    cfg = Config()
    cfg = replace(cfg, vad=replace(cfg.vad, band_lo_hz=150.0, band_count=count))
    ref = _check_fused(x, 20 + count, cfg)
    broad = _run(SpeakerTrack, x, 20 + count,
                 replace(cfg, vad=replace(cfg.vad, band_lo_hz=0.0, band_count=1)))
    assert ref["speech_raw"].any()
    assert (ref["speech_raw"] != broad["speech_raw"]).any()
    np.testing.assert_array_equal(ref["energy_db"], broad["energy_db"])  # stored: broadband


def test_fused_kernel_equals_the_step_by_step_path_on_candor(shared_data):
    import soundfile as sf

    x, sr = sf.read(str(shared_data / "candor_mmvap_stereo" / "shift.wav"), dtype="float32",
                    always_2d=True, frames=20 * 16000)
    assert sr == 16000
    for k in range(2):
        ref = _check_fused(np.ascontiguousarray(x[:, k]), 10 + k)
        assert ref["speech"].any() and not ref["speech"].all()


def test_webrtcvad_from_numba_equals_the_python_binding(shared_data):
    """Every aggressiveness mode, on real speech: the kernel's direct C calls and
    ``webrtcvad.Vad.is_speech`` give the same decision on every 10 ms hop."""
    import soundfile as sf
    import webrtcvad

    from prosync.engine.speaker import vad_handle, vad_library
    from prosync.native.hop import webrtc_frames

    x, _ = sf.read(str(shared_data / "candor_mmvap_stereo" / "shift.wav"), dtype="int16",
                   always_2d=True, frames=30 * 16000)
    pcm = np.ascontiguousarray(x[:, 0])
    n = len(pcm) // HOP
    vad_library()
    for mode in range(4):
        py, nb = webrtcvad.Vad(mode), webrtcvad.Vad(mode)
        want = np.array([py.is_speech(pcm[i * HOP:(i + 1) * HOP].tobytes(), 16000)
                         for i in range(n)])
        got = np.zeros(n, dtype=np.bool_)
        for lo in range(0, n, 37):  # state carried across calls
            m = min(37, n - lo)
            assert webrtc_frames(vad_handle(nb), pcm[lo * HOP:], m, HOP, 16000, got[lo:]) == 0
        np.testing.assert_array_equal(got, want, err_msg=f"mode {mode}")
        assert 0.1 < want.mean() < 0.95


def test_a_webrtcvad_without_its_c_function_is_one_clear_error(monkeypatch):
    """A webrtcvad build that renamed ``WebRtcVad_Process``: one line naming the fix, raised
    before any kernel calls the unresolved symbol (that would crash the process)."""
    from prosync.engine import speaker
    from prosync.engine.errors import ProsyncError
    from prosync.native import hop

    monkeypatch.setattr(speaker, "_vad_loaded", False)
    monkeypatch.setattr(hop, "WEBRTC_SYMBOL", "WebRtcVad_Process_renamed")
    with pytest.raises(ProsyncError, match="has no C function WebRtcVad_Process_renamed") as e:
        speaker.SpeakerTrack(Config(), 16000)
    assert "\n" not in str(e.value) and "pip install" in str(e.value)


def test_a_webrtcvad_without_its_handle_capsule_is_one_clear_error():
    import webrtcvad

    from prosync.engine.errors import ProsyncError
    from prosync.engine.speaker import vad_handle

    class Other(webrtcvad.Vad):
        def __init__(self):
            self._vad = object()

    with pytest.raises(ProsyncError, match="no WebRtcVadPtr capsule.*pip install") as e:
        vad_handle(Other())
    assert "\n" not in str(e.value)


_NOJIT = r"""
import pickle, sys
import numpy as np
from prosync.engine.config import Config
from prosync.engine.speaker import SpeakerTrack
from prosync.native._jit import jit_disabled
from tests.audio import dialogue

assert jit_disabled()
x = dialogue()[0][:3 * 16000]
tr, out = SpeakerTrack(Config(), 16000), []
for i in range(0, len(x), 1600):
    tr.feed(x[i:i + 1600], lambda k0, n, rec: out.append(rec[:n].copy()))
tr.flush(lambda k0, n, rec: out.append(rec[:n].copy()))
sys.stdout.buffer.write(pickle.dumps(np.concatenate(out)))
"""


def test_kernels_as_python_give_the_jit_decisions():
    """Under ``NUMBA_DISABLE_JIT=1`` (coverage runs) the fused kernel runs as Python, with
    webrtcvad's C function bound by ctypes: the same frame times, webrtcvad, voicing, speech and
    nucleus decisions as the compiled kernel, and its measurements to float32 rounding."""
    import os
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    from tests.audio import dialogue

    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    root = Path(__file__).resolve().parents[1]
    py = subprocess.run([sys.executable, "-c", _NOJIT], env=env, cwd=root, capture_output=True,
                        check=True, timeout=600)
    got = pickle.loads(py.stdout)
    x = dialogue()[0][:3 * 16000]
    tr, out = SpeakerTrack(Config(), 16000), []
    for i in range(0, len(x), 1600):
        tr.feed(x[i:i + 1600], lambda k0, n, rec: out.append(rec[:n].copy()))
    tr.flush(lambda k0, n, rec: out.append(rec[:n].copy()))
    want = np.concatenate(out)
    assert got.shape == want.shape and want["webrtc"].any() and want["voiced"].any()
    for name in FRAME_DTYPE.names:
        if want[name].dtype.kind == "f" and name != "t_s":  # float32 sums: last bits may differ
            np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6,
                                       equal_nan=True, err_msg=name)
        else:  # times and every decision: equal
            assert np.array_equal(got[name], want[name]), name


def _ref_dc_block(x, r):
    """Slow twin of :func:`prosync.native.frames.dc_block` on a whole signal, one sample at a
    time in Python: ``y[i] = x[i] - x[i-1] + r y[i-1]`` with ``x[-1] = x[0]``, ``y[-1] = 0``."""
    y = np.zeros(len(x))
    px, py = float(x[0]), 0.0
    for i, v in enumerate(x.astype(np.float64)):
        py = v - px + r * py
        px = v
        y[i] = py
    return y


def test_dc_block_equals_its_slow_twin_in_any_blocks():
    from prosync.engine.speaker import DC_POLE
    from prosync.native.frames import dc_block

    rng = np.random.default_rng(3)
    x = (rng.standard_normal(5000) * 0.1 + 0.05).astype(np.float32)
    ref = _ref_dc_block(x, DC_POLE).astype(np.float32)
    got = x.copy()
    st = np.zeros(3)
    i = 0
    for m in (0, 1, 7, 160, 1, 2000, 5000):  # a zero-length call too
        dc_block(got, i, min(m, len(x) - i), DC_POLE, st)
        i += min(m, len(x) - i)
    assert i == len(x)
    assert got.tobytes() == ref.tobytes()
    # the offset is gone after a few time constants; the start has no step
    assert abs(float(np.mean(got[2000:]))) < 0.01
    assert abs(float(got[0])) == 0.0


def test_a_dc_offset_changes_neither_voicing_nor_speech():
    """A recorder's DC offset (0.05 full scale) under a voice with silences over a low noise
    (-60 dBFS): before the DC blocker the offset read as periodicity in the silences (voiced
    and speech frames in them: 11 % and 9 % of the frames changed) and as energy in them."""
    sil = np.zeros(8000, np.float32)
    x = np.concatenate([sil, harmonic(140, 1.0), sil, harmonic(180, 0.8), sil])
    x += (np.random.default_rng(1).standard_normal(len(x)) * 1e-3).astype(np.float32)
    a = np.concatenate([r for _, r in collect(SpeakerTrack(Config(), 16000), x, 1600)])
    b = np.concatenate([r for _, r in collect(SpeakerTrack(Config(), 16000), x + 0.05, 1600)])
    assert a["voiced"].sum() > 100
    assert np.mean(a["voiced"] != b["voiced"]) < 0.01
    assert np.mean(a["speech"] != b["speech"]) < 0.01


def _ref_hum_cancel(x, w, mu, block, quiet, rise):
    """Slow twin of :func:`prosync.native.frames.hum_cancel` on a whole signal, in Python with
    complex numbers: the residual is the input less ``Re(A_k exp(j w_k n))`` for every ``k``;
    at the end of each block (a block of digital silence, mean square under 1e-10, changes
    nothing), when the block was quiet (residual energy <= ``quiet`` times the
    floor; the floor is the first block's energy, then ``min(energy, floor * rise)``),
    ``A_k += mu sum(res exp(-j w_k n))`` over the block; tone ``k`` is on for the next block
    when ``|A_k|^2 / 2 block`` exceeds the floor. The output is the input less the tones on."""
    a = np.zeros(len(w), complex)
    on = np.zeros(len(w), bool)
    y = np.zeros(len(x))
    floor = 0.0
    for b0 in range(0, len(x), block):
        n = np.arange(b0, min(b0 + block, len(x)))
        c = np.exp(1j * np.outer(n, w))
        tones = (c * a).real
        res = x[n].astype(np.float64) - tones.sum(axis=1)
        y[n] = x[n].astype(np.float64) - tones[:, on].sum(axis=1)
        if len(n) < block:
            break
        acc = float(np.sum(res * res))
        if acc < 1e-10 * block:  # digital silence: no evidence, nothing moves
            continue
        floor = acc if floor == 0.0 else min(acc, floor * rise)
        floor = max(floor, 1e-30)
        if acc <= quiet * floor:
            a += mu * (res[:, None] * np.conj(c)).sum(axis=0)
        on = 0.5 * np.abs(a) ** 2 * block > floor
    return y


def test_hum_cancel_equals_its_slow_twin_in_any_blocks():
    from prosync.native.frames import hum_cancel

    w = 2 * np.pi * np.array([50.0, 60.0, 120.0]) / 16000
    mu, block, quiet, rise = 2 / (0.05 * 16000), 160, 2.0, 10 ** (0.1 / 10)
    rng = np.random.default_rng(4)
    n = 6000
    x = rng.standard_normal(n) * 1e-3 + 0.01 * np.sin(2 * np.pi * 60 * np.arange(n) / 16000 + 1)
    x[2500:3500] += 0.3 * np.sin(2 * np.pi * 130 * np.arange(1000) / 16000)  # a loud burst
    x[:480] = 0.0  # digital silence first: no evidence
    x = x.astype(np.float32)
    ref = _ref_hum_cancel(x, w, mu, block, quiet, rise)
    got = x.copy()
    st, gst, scr = np.zeros((3, 7)), np.zeros(3), np.zeros((2, block))
    er, ei = np.cos(np.outer(w, np.arange(block))), np.sin(np.outer(w, np.arange(block)))
    rot = np.stack([np.cos(w * block), np.sin(w * block)], axis=1)
    i = 0
    for m in (0, 1, 7, 160, 1, 2000, 6000):  # a zero-length call too
        hum_cancel(got, i, min(m, n - i), er, ei, rot, mu, block, quiet, rise, st, gst, scr)
        i += min(m, n - i)
    assert i == n
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6)
    # the hum is learnt in the quiet blocks: 0.01 in, a few 1e-4 out at the end
    tail = got[-1600:].astype(np.float64)
    assert np.sqrt(np.mean(tail ** 2)) < 2e-3


def test_mains_hum_changes_neither_voicing_nor_speech():
    """A 60 Hz hum at -40 dBFS (peak; 60 Hz is the pitch tracker's F0 floor) with its harmonics
    at 120 and 180 Hz under a voice with silences over a low noise (-70 dBFS): without the hum
    canceller the hum read as voice in every silence."""
    sil = np.zeros(16000, np.float32)
    x = np.concatenate([sil, harmonic(140, 1.0), sil, harmonic(180, 0.8), sil])
    x += (np.random.default_rng(1).standard_normal(len(x)) * 10 ** (-70 / 20)).astype(np.float32)
    t = np.arange(len(x)) / 16000
    hum = sum(10 ** ((-40 - 6 * (k - 1)) / 20) * np.sin(2 * np.pi * 60 * k * t) for k in (1, 2, 3))
    a = np.concatenate([r for _, r in collect(SpeakerTrack(Config(), 16000), x, 1600)])
    b = np.concatenate([r for _, r in collect(SpeakerTrack(Config(), 16000),
                                              (x + hum).astype(np.float32), 1600)])
    # the hum is learnt in the first second of silence; from then on nothing changes
    a, b = a[100:], b[100:]
    assert a["voiced"].sum() > 100
    assert np.mean(a["voiced"] != b["voiced"]) < 0.01
    assert np.mean(a["speech"] != b["speech"]) < 0.01


def test_mains_hum_after_digital_silence_is_learnt_at_once():
    """Exact zeros first (a recorder's start) are no evidence for the hum canceller: a 60 Hz
    hum that follows 3 s of them is learnt in its first second, as without the zeros (before,
    the zeros pulled the canceller's floor down to 1e-30 and a -40 dBFS hum after 5 s of them
    was learnt only 27 s later)."""
    zeros = np.zeros(3 * 16000, np.float32)
    sil = np.zeros(16000, np.float32)
    y = np.concatenate([sil, harmonic(140, 1.0), sil, harmonic(180, 0.8), sil])
    y += (np.random.default_rng(2).standard_normal(len(y)) * 10 ** (-70 / 20)).astype(np.float32)
    t = np.arange(len(y)) / 16000
    hum = (10 ** (-40 / 20) * np.sin(2 * np.pi * 60 * t)).astype(np.float32)
    a = np.concatenate([r for _, r in collect(SpeakerTrack(Config(), 16000),
                                              np.concatenate([zeros, y]), 1600)])
    b = np.concatenate([r for _, r in collect(SpeakerTrack(Config(), 16000),
                                              np.concatenate([zeros, y + hum]), 1600)])
    a, b = a[400:], b[400:]  # from 1 s after the zeros
    assert a["voiced"].sum() > 100
    assert np.mean(a["voiced"] != b["voiced"]) < 0.01
    assert np.mean(a["speech"] != b["speech"]) < 0.01
