"""Pitch kernels against the references in ref_pitch.py, and the tracker on known answers."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
import soxr

from prosync.engine.config import HOP, SAMPLE_RATE, PitchConfig
from prosync.engine.pitch import PitchTracker, halfband_fir, tracker_params
from prosync.native import pitch as kp
from tests.ref_pitch import (
    ref_decimate2,
    ref_evidence,
    ref_lag1,
    ref_refine,
    ref_track,
    ref_yin_frame,
)

SR = SAMPLE_RATE


# ---------------------------------------------------------------- helpers

def tone(f0, dur=1.0, kind="sine", amp=0.3, sr=SR):
    t = np.arange(int(dur * sr)) / sr
    if kind == "sine":
        x = np.sin(2 * np.pi * f0 * t)
    elif kind == "sawtooth":
        x = 2.0 * ((f0 * t) % 1.0) - 1.0
    else:  # harmonic: 1/k amplitudes up to 4 kHz, fundamental 6 dB down
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, int(4000 // f0) + 1))
        x -= 0.5 * np.sin(2 * np.pi * f0 * t)
    return (amp * x / np.max(np.abs(x))).astype(np.float32)


def run(x, cfg=None, splits=None, guard=False):
    """Frames of a stream as the Session frames it: zero padding before, zeros after the end.

    ``splits``: frame counts per call (default 100 each). ``guard``: each call gets a fresh
    buffer holding only the samples the contract allows, surrounded by NaN.
    """
    tr = PitchTracker(cfg or PitchConfig(), 100)
    lb, la = tr.LOOKBEHIND, tr.LOOKAHEAD
    nfr = -(-len(x) // HOP)
    buf = np.zeros(lb + nfr * HOP + la + HOP, dtype=np.float32)
    buf[lb:lb + len(x)] = x
    f0 = np.zeros(nfr, np.float32)
    per = np.zeros(nfr, np.float32)
    vo = np.zeros(nfr, bool)
    e = np.zeros(nfr, np.float32)
    k = 0
    it = iter(splits or [])
    while k < nfr:
        n = min(next(it, 100), nfr - k, 100)
        c0 = lb + k * HOP + HOP // 2
        if guard:
            lo, hi = c0 - lb, c0 + (n - 1) * HOP + la
            g = np.full(hi - lo + 2000, np.nan, dtype=np.float32)
            g[1000:1000 + hi - lo] = buf[lo:hi]
            tr.process(g, 1000 + lb, n, e[k:], f0[k:], per[k:], vo[k:])
        else:
            tr.process(buf, c0, n, e[k:], f0[k:], per[k:], vo[k:])
        k += n
    return f0, per, vo


# ---------------------------------------------------------------- kernels vs references

def test_decimate2_matches_reference():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(3000).astype(np.float32)
    h = halfband_fir()
    out = np.zeros(700, np.float32)
    kp.decimate2(x, 40, 700, h, out)
    np.testing.assert_allclose(out, ref_decimate2(x, 40, 700, h), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["noise", "voice"])
def test_yin_candidates_match_reference(kind):
    rng = np.random.default_rng(2)
    n, win, tmin, tmax, K = 12, 160, 16, 134, 5
    m = (n - 1) * 80 + win + tmax + 400
    if kind == "noise":
        y = rng.standard_normal(m).astype(np.float32)
    else:
        t = np.arange(m) / 8000.0
        f = 140 + 30 * np.sin(2 * np.pi * 3 * t)
        ph = 2 * np.pi * np.cumsum(f) / 8000.0
        y = (np.sin(ph) + 0.5 * np.sin(2 * ph) + 0.3 * np.sin(3 * ph)
             + 0.05 * rng.standard_normal(m)).astype(np.float32)
    p0 = 200
    cand = np.zeros((4, n, K))
    cnt = np.zeros(n, np.int64)
    edb = np.zeros(n)
    r = np.zeros(tmax + 2, np.float32)
    d = np.zeros(tmax + 2)
    kp.yin_candidates(y, p0, n, 80, win, tmin, tmax, 200, 80, r, d, cand[0], cand[1], cand[2],
                      cnt, edb, cand[3])
    for i in range(n):
        taus, vals, nacs, e = ref_yin_frame(y, p0 + i * 80, win, tmin, tmax, 200, 80, K)
        assert cnt[i] == len(taus)
        c = cnt[i]
        # the kernel sums the autocorrelation in float32: compare to float32 accuracy
        np.testing.assert_allclose(cand[1, i, :c], vals, atol=2e-4)
        np.testing.assert_allclose(cand[0, i, :c], taus, atol=2e-2)
        np.testing.assert_allclose(cand[2, i, :c], nacs, atol=1e-9)
        assert edb[i] == pytest.approx(e, abs=1e-6)
        assert cand[3, i, 0] == pytest.approx(ref_lag1(y, p0 + i * 80, win, tmax), abs=2e-4)
        assert np.all(cand[0, i, c:] == 0.0) and np.all(cand[1, i, c:] == 1.0)


def _random_candidates(n, K, seed):
    rng = np.random.default_rng(seed)
    cand = np.zeros((4, n, K))
    track_f0 = 150 * 2 ** np.cumsum(rng.normal(0, 0.03, n))
    for i in range(n):
        c = rng.integers(0, K + 1)
        taus = 8000.0 / track_f0[i] * rng.choice([0.5, 1.0, 2.0, 1.5, 3.0], size=K)
        taus[0] = 8000.0 / track_f0[i]
        cand[0, i, :c] = np.clip(taus[:c] + rng.normal(0, 0.3, c), 16, 134)
        cand[1, i, :c] = np.sort(rng.uniform(0, 0.8, c))
        cand[2, i, :c] = rng.uniform(-0.2, 1.0, c)
        cand[1, i, c:] = 1.0
        cand[3, i, 0] = rng.uniform(-0.5, 1.0)
    edb = -30 + 15 * np.sin(np.arange(n) / 7.0) + rng.normal(0, 3, n)
    return cand, edb


def _voicing_params(seed):
    """The shipped constants with a voicing model of random weights switched on."""
    prm = tracker_params(16)
    prm[kp.P_V_GAIN] = 0.2
    prm[kp.P_VW:kp.P_VW + kp.N_EVIDENCE] = np.random.default_rng(seed).normal(0, 1,
                                                                                kp.N_EVIDENCE)
    return prm


def test_evidence_matches_reference():
    n, K = 300, 5
    cand, edb = _random_candidates(n, K, 4)
    prm = _voicing_params(4)
    out = np.zeros((n, kp.N_EVIDENCE))
    kp.evidence_series(cand, edb, n, prm, np.zeros(kp.N_LEVEL), out)
    want = ref_evidence(cand, edb, prm)
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    assert np.ptp(want[:, 3]) > 5 and np.ptp(want[:, 4]) > 5   # the trackers moved


@pytest.mark.parametrize("lag", [0, 1, 3])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("voicing_model", [False, True])
def test_track_matches_reference_for_any_split(lag, seed, voicing_model):
    n, K = 300, 5
    cand, edb = _random_candidates(n, K, seed)
    prm = _voicing_params(seed) if voicing_model else tracker_params(16)
    f0_ref, v_ref, per_ref = ref_track(cand, edb, prm, lag)
    rng = np.random.default_rng(seed + 10)
    for _ in range(3):
        delta, nd = np.zeros(K + 1), np.zeros(K + 1 + kp.N_EVIDENCE)
        rtau, rbp = np.zeros((lag + 2, K)), np.zeros((lag + 2, K + 1), np.int64)
        rf, lvl, pos = np.zeros((lag + 2, 2)), np.zeros(kp.N_LEVEL), np.zeros(1, np.int64)
        f0 = np.zeros(n, np.float32)
        per = np.zeros(n, np.float32)
        vo = np.zeros(n, bool)
        k = 0
        while k < n:
            m = int(min(rng.integers(1, 40), n - k))
            kp.track(np.ascontiguousarray(cand[:, k:k + m]), edb[k:k + m], m, k - lag, prm,
                     delta, nd, rtau, rbp, rf, lvl, pos, f0, per, vo)
            k += m
        np.testing.assert_array_equal(vo[:n - lag], v_ref)
        np.testing.assert_allclose(f0[:n - lag], f0_ref, rtol=1e-6)
        np.testing.assert_allclose(per[:n - lag], per_ref, rtol=1e-6)


@pytest.mark.parametrize("lag", [0, 3])
def test_track_with_noise_share_credit_matches_reference(lag):
    # aperiodic frames near the floor, so the credit is on for the frames 5 dB above it
    n, K = 400, 5
    cand, edb = _random_candidates(n, K, 7)
    low = edb < -38.0
    cand[1, low] = np.where(cand[0, low] > 0, 0.9, 1.0)
    cand[2, low] = 0.05
    prm = tracker_params(16)
    stats = {}
    f0_ref, v_ref, per_ref = ref_track(cand, edb, prm, lag, stats)
    assert stats["credited"] > 20
    delta, nd = np.zeros(K + 1), np.zeros(K + 1 + kp.N_EVIDENCE)
    rtau, rbp = np.zeros((lag + 2, K)), np.zeros((lag + 2, K + 1), np.int64)
    rf, lvl, pos = np.zeros((lag + 2, 2)), np.zeros(kp.N_LEVEL), np.zeros(1, np.int64)
    f0, per, vo = np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(n, bool)
    for k in range(0, n, 37):
        m = min(37, n - k)
        kp.track(np.ascontiguousarray(cand[:, k:k + m]), edb[k:k + m], m, k - lag, prm,
                 delta, nd, rtau, rbp, rf, lvl, pos, f0, per, vo)
    np.testing.assert_array_equal(vo[:n - lag], v_ref)
    np.testing.assert_allclose(f0[:n - lag], f0_ref, rtol=1e-6)
    np.testing.assert_allclose(per[:n - lag], per_ref, rtol=1e-6)


def test_refine_f0_matches_reference():
    rng = np.random.default_rng(3)
    t = np.arange(8000) / SR
    x = (np.sin(2 * np.pi * 173.3 * t) + 0.4 * np.sin(2 * np.pi * 346.6 * t)
         + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    n = 20
    c0 = 1000
    f0 = (173.3 * (1 + rng.uniform(-0.01, 0.01, n))).astype(np.float32)
    f0[3] = 260.0     # far from a dip: left as it is
    voiced = np.ones(n, bool)
    voiced[5] = False
    want = [ref_refine(x, c0 + i * HOP, float(f0[i]), 320, float(SR)) if voiced[i] else f0[i]
            for i in range(n)]
    kp.refine_f0(x, c0, n, HOP, 320, float(SR), voiced, f0)
    np.testing.assert_allclose(f0, np.array(want, np.float32), rtol=1e-6)
    assert f0[3] == np.float32(260.0)
    np.testing.assert_allclose(np.delete(f0, [3, 5]), 173.3, rtol=1e-2)


# ---------------------------------------------------------------- the tracker

def test_interface_and_lookahead_budget():
    tr = PitchTracker(PitchConfig(), 10)
    assert isinstance(tr.LOOKBEHIND, int) and isinstance(tr.LOOKAHEAD, int)
    assert tr.LOOKAHEAD <= 800
    assert tr.lag >= 2
    assert tr.lookahead_s == tr.LOOKAHEAD / SR


def test_random_splits_are_bit_identical():
    rng = np.random.default_rng(5)
    x = np.concatenate([tone(120, 0.6, "harmonic"), 0.01 * rng.standard_normal(3000),
                        tone(230, 0.5, "sawtooth"), np.zeros(2000)]).astype(np.float32)
    x += (0.003 * rng.standard_normal(len(x))).astype(np.float32)
    ref = run(x)
    for seed in range(3):
        r = np.random.default_rng(seed)
        splits = list(r.integers(1, 101, size=400))
        got = run(x, splits=splits, guard=True)
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(a, b)


def test_causal_within_lookahead():
    rng = np.random.default_rng(6)
    x = tone(150, 1.0, "harmonic")
    y = x.copy()
    cut = 8000
    y[cut:] = (0.3 * rng.standard_normal(len(y) - cut)).astype(np.float32)
    tr = PitchTracker(PitchConfig(), 1)
    a, b = run(x), run(y)
    centres = np.arange(len(a[0])) * HOP + HOP // 2
    ok = centres + tr.LOOKAHEAD <= cut
    assert ok.sum() > 40
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u[ok], v[ok])
    assert not np.array_equal(a[2][~ok], b[2][~ok])


@pytest.mark.parametrize("kind", ["sine", "sawtooth", "harmonic"])
@pytest.mark.parametrize("f0", [65.0, 100.0, 155.0, 220.0, 330.0, 480.0])
def test_tone_pitch(kind, f0):
    f, per, v = run(tone(f0, 1.0, kind))
    mid = slice(15, 85)
    assert v[mid].all()
    assert np.all(np.isfinite(f[mid]))
    np.testing.assert_allclose(np.log2(f[mid]), np.log2(f0), atol=0.008)  # 14 cents
    assert np.all(per[mid] > 0.8)
    assert np.all(np.isnan(f[~v]))


def test_silence_is_unvoiced():
    f, per, v = run(np.zeros(16000, np.float32))
    assert not v.any() and np.isnan(f).all()
    assert np.all(per == 0.0)


def test_periodic_quantisation_floor_is_unvoiced():
    # a 200 Hz tone of ~1 LSB (16-bit) RMS before the speaker: not voice, and does not set the
    # speaker's level, so the same tone at speech level later is voiced from its first frames
    quiet = 1.5 * 2.0 ** -15 * tone(200, 1.0) / 0.3
    f, per, v = run(np.concatenate([quiet, tone(200, 0.5)]))
    assert not v[:95].any()
    assert v[105:145].all()


def test_weak_hum_before_the_speaker_is_unvoiced():
    # a noisy 120 Hz hum at -70 dBFS before a tone at speech level: the speaker's level is not
    # yet known, and the prior floor keeps the hum (voiced on ~all frames without it) unvoiced
    rng = np.random.default_rng(3)
    h = tone(120, 1.0, "harmonic")
    hum = h / np.sqrt(np.mean(h ** 2)) + rng.standard_normal(len(h)).astype(np.float32)
    hum *= 10 ** (-70 / 20) / np.sqrt(np.mean(hum ** 2))
    f, per, v = run(np.concatenate([hum.astype(np.float32), tone(200, 0.5)]))
    assert not v[:95].any()
    assert v[105:145].all()


def test_white_noise_is_unvoiced():
    rng = np.random.default_rng(7)
    f, per, v = run((0.1 * rng.standard_normal(2 * SR)).astype(np.float32))
    assert v.mean() < 0.02


def test_tone_after_noise_and_level_changes():
    rng = np.random.default_rng(8)
    x = np.concatenate([(0.05 * rng.standard_normal(SR // 2)).astype(np.float32),
                        tone(200, 0.8), 0.1 * tone(200, 0.8)])
    f, per, v = run(x)
    assert v[:40].mean() < 0.1
    assert v[60:120].all() and v[140:200].all()


def test_floor_and_ceiling_are_respected():
    cfg = PitchConfig(floor_hz=100.0, ceiling_hz=300.0)
    f, _, v = run(tone(80, 1.0, "harmonic"), cfg)
    assert np.all(f[v] >= 100.0 * 0.97)
    f, _, v = run(tone(150, 1.0, "harmonic"), cfg)
    np.testing.assert_allclose(np.log2(f[20:80]), np.log2(150.0), atol=0.01)
    for floor, lag in [(60.0, 3), (50.0, 2), (40.0, 2), (20.0, 1)]:
        tr = PitchTracker(PitchConfig(floor_hz=floor), 10)  # lower floors: longer windows, less lag
        assert tr.lag == lag and tr.LOOKAHEAD <= 800


def test_nan_outputs_only_when_unvoiced():
    f, per, v = run(tone(300, 0.5, "sawtooth"))
    assert np.array_equal(np.isnan(f), ~v)
    assert np.all((per >= 0) & (per <= 1))


# ---------------------------------------------------------------- real data

def _gpe_vde(est_t, est_f0, ref_t, ref_f0):
    j = np.clip(np.round(ref_t / 0.01 - 0.5).astype(int), 0, len(est_t) - 1)
    est = np.nan_to_num(est_f0[j], nan=0.0)
    rv, ev = ref_f0 > 0, est > 0
    both = rv & ev
    gross = np.abs(est[both] / ref_f0[both] - 1) > 0.2
    return gross.sum(), both.sum(), (rv != ev).sum(), len(ref_f0)


def _session_f0(x, sr=SR):
    import prosync

    s = prosync.Session(speakers=("a",), sample_rate=sr)
    b = sr // 10
    parts = [s.push("a", x[i:i + b]).frames for i in range(0, len(x), b)]
    parts.append(s.close().frames)
    f0 = np.concatenate([p["a"]["f0_hz"] for p in parts if "a" in p])
    t = np.concatenate([p["a"]["t_s"] for p in parts if "a" in p])
    return t, f0


def test_fda_accuracy(shared_data):
    tot = np.zeros(4)
    d = shared_data / "fda_ue_pitch"
    for stem in ["rl001", "rl010", "rl020", "rl030", "sb001", "sb010", "sb020", "sb030"]:
        x, sr = sf.read(d / f"{stem}.wav", dtype="float32")
        x16 = soxr.resample(x, sr, SR, quality="HQ").astype(np.float32)
        ref = np.loadtxt(d / f"{stem}.f0ref")
        t, f0 = _session_f0(x16)
        tot += _gpe_vde(t, f0, np.arange(len(ref)) * 0.015, ref)
    assert tot[0] / tot[1] < 0.02
    assert tot[2] / tot[3] < 0.07


def test_ptdb_accuracy(shared_data):
    d = shared_data / "ptdb_tug_excerpt"
    tot = np.zeros(4)
    for who in ["F01", "M01"]:
        x, sr = sf.read(d / f"mic_{who}_sa1.wav", dtype="float32")
        x16 = soxr.resample(x, sr, SR, quality="HQ").astype(np.float32)
        ref = np.loadtxt(d / f"ref_{who}_sa1.f0")[:, 0]
        t, f0 = _session_f0(x16)
        tot += _gpe_vde(t, f0, 0.02 + np.arange(len(ref)) * 0.01, ref)
    assert tot[0] / tot[1] < 0.01
    assert tot[2] / tot[3] < 0.06


def _telephone(x):
    """300-3400 Hz (4th-order Butterworth), 8 kHz, G.711 mu-law: a phone line."""
    from scipy import signal

    sos = signal.butter(4, [300.0, 3400.0], btype="band", fs=SR, output="sos")
    y8 = soxr.resample(signal.sosfilt(sos, x).astype(np.float32), SR, 8000, quality="HQ")
    buf = io.BytesIO()
    sf.write(buf, np.clip(y8, -1, 1), 8000, format="WAV", subtype="ULAW")
    buf.seek(0)
    return sf.read(buf, dtype="float32")[0]


def test_low_voice_in_telephone_band_keeps_its_octave(shared_data, monkeypatch):
    # CMU ARCTIC ksp (~110 Hz) over a phone line has lost F0 and H2; without the register's
    # cost (octave_high 0) the tracker followed H3 at ~330 Hz on 56 of ~450 frames (against its
    # own F0 on the clean file), with it on 3
    from prosync.engine import pitch as ep

    d = shared_data / "arctic_egg_gci"

    def octave_up(params):
        monkeypatch.setattr(ep, "PARAMS", params)
        up = both = 0
        for k in ("0001", "0002", "0003"):
            x, sr = sf.read(d / f"en-IN.m.KspAr_arctic_a{k}.wav", dtype="float32")
            x16 = soxr.resample(x, sr, SR, quality="HQ").astype(np.float32) if sr != SR else x
            _, a = _session_f0(x16)
            _, b = _session_f0(_telephone(x16), 8000)
            n = min(len(a), len(b))
            ok = np.isfinite(a[:n]) & np.isfinite(b[:n])
            up += int(np.sum(b[:n][ok] / a[:n][ok] > 1.6))
            both += int(ok.sum())
        return up, both

    up, both = octave_up(dict(ep.PARAMS))
    assert both > 300 and up <= 0.02 * both
    up0, _ = octave_up(dict(ep.PARAMS, octave_high=0.0))
    assert up0 >= 0.06 * both
