"""Tests of engine/synchrony.py: the Session's streaming synchrony equals the batch WCC on the same
binned series, does not depend on push sizes, bins frames like a plain reference, and recovers
planted lags, signs and significance."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from prosync import Session
from prosync.calibration.baseline import SpeakerBaseline
from prosync.engine.config import Config, SyncConfig
from prosync.engine.session_sync import session_test
from prosync.engine.speaker import FRAME_DTYPE
from prosync.engine.synchrony import (
    BASE_FIELDS,
    FEATURES,
    MIN_FRAMES,
    PEAK_MIN_FRACTION,
    SynchronyTracker,
)
from prosync.engine.wcc import pick_peaks, wcc

SR = 16000


# ------------------------------------------------------------------------------- generated audio


def _ar1(rng, n, phi=0.97):
    e = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = e[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x / x.std()


def _voice(f0_hz, amp, sr=SR):
    """A harmonic voice from per-10 ms F0 (Hz, 0 = silence) and amplitude tracks."""
    n = len(f0_hz) * 160
    t_fr = np.arange(len(f0_hz)) * 160
    f0 = np.interp(np.arange(n), t_fr, f0_hz)
    a = np.interp(np.arange(n), t_fr, amp) * (f0 > 0)
    ph = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * ph) / k for k in range(1, 7))
    # syllable-rate modulation (4-5 Hz) so that nuclei and a speech rate appear
    syl = 0.55 + 0.45 * np.sin(2 * np.pi * 4.5 * np.arange(n) / sr)
    rng = np.random.default_rng(len(f0_hz))
    return (0.2 * a * syl * x + rng.normal(0, 2e-4, n)).astype(np.float32)


def pair_audio(seconds, delay_s=1.5, seed=0):
    """Two voices whose pitch and loudness contours share a slow source; the second follows the
    first by ``delay_s`` (its contour is the first's, ``delay_s`` later). Speech in bursts."""
    rng = np.random.default_rng(seed)
    nfr = int(seconds * 100)
    d = int(round(delay_s * 100))
    src = _ar1(rng, nfr + abs(d) + 1, phi=0.995)
    c1 = src[abs(d):abs(d) + nfr]
    c2 = src[abs(d) - d:abs(d) - d + nfr]
    on1 = (np.sin(2 * np.pi * np.arange(nfr) / 700) > -0.6) | (rng.random(nfr) < 0)
    on2 = np.sin(2 * np.pi * np.arange(nfr) / 700 + 2.0) > -0.6
    f1 = np.where(on1, 200 * 2 ** (2 * c1 / 12), 0.0)
    f2 = np.where(on2, 110 * 2 ** (2 * c2 / 12), 0.0)
    a1 = 10 ** ((3 * c1) / 20)
    a2 = 10 ** ((3 * c2) / 20)
    return _voice(f1, a1), _voice(f2, a2)


def run_session(a, b, block, config=None, profile=None):
    s = Session(("user", "agent"), sample_rate=SR, config=config, profile=profile)
    ups = []
    rng = np.random.default_rng(block if isinstance(block, int) else 0)
    i = 0
    while i < len(a):
        k = int(rng.integers(1, 4000)) if block == "random" else block
        ups.append(s.push("user", a[i:i + k]))
        ups.append(s.push("agent", b[i:i + k]))
        i += k
    ups.append(s.close())
    sync = [r for u in ups for r in u.synchrony]
    pacing = [r for u in ups for r in u.pacing]
    series = {spk: {f: np.concatenate([u.series[spk][f] for u in ups if u.series])
                    for f in ("t_s",) + FEATURES} for spk in ("user", "agent")}
    return sync, pacing, series, s


@pytest.fixture(scope="module")
def audio():
    return pair_audio(24.0, delay_s=1.0, seed=3)


@pytest.fixture(scope="module")
def run4000(audio):
    return run_session(*audio, 4000)


def _same_rows(x, y):
    assert len(x) == len(y)
    for r1, r2 in zip(x, y):
        for v1, v2 in zip(dataclasses.astuple(r1), dataclasses.astuple(r2)):
            if isinstance(v1, float) and math.isnan(v1):
                assert isinstance(v2, float) and math.isnan(v2), (r1, r2)
            else:
                assert v1 == v2, (r1, r2)


# ------------------------------------------------------------------------------- stream = batch


def test_streaming_rows_equal_batch_wcc_on_session_series(run4000):
    sync, _, series, s = run4000
    cfg = s.config.sync
    assert sync, "no synchrony rows"
    by = {(r.feature, round(r.window_start_s * 10)): r for r in sync}
    n_checked = n_tie = 0
    for f in FEATURES:
        x, y = series["user"][f], series["agent"][f]
        kw = dict(rate_hz=cfg.rate_hz, lag_s=cfg.lag_s, window_s=cfg.window_s, step_s=cfg.step_s)
        res = wcc(x, y, fisher_z=False, absolute=False, sparse="nan", **kw)
        absr = wcc(x, y, fisher_z=False, absolute=True, sparse="nan", **kw)
        lag = res.lag_samples
        assert sum(1 for r in sync if r.feature == f) == res.matrix.shape[0]
        for w in range(res.matrix.shape[0]):
            row = by[(f, round(res.window_start_s[w] * 10))]
            one = dataclasses.replace(absr, matrix=absr.matrix[w:w + 1],
                                      window_start_s=absr.window_start_s[w:w + 1])
            mx = np.nanmax(one.matrix) if np.isfinite(one.matrix).any() else None
            pk = pick_peaks(one, smooth=3, search=2,
                            min_value=None if mx is None else PEAK_MIN_FRACTION * mx)
            want = res.matrix[w, lag]
            assert (math.isnan(row.r_lag0) and math.isnan(want)) or abs(row.r_lag0 - want) <= 1e-9
            if math.isnan(pk.lag_s[0]):
                assert math.isnan(row.lag_s)
            elif row.lag_s != pk.lag_s[0]:
                # only on a plateau of equal |r| (ties broken by the last bit): allowed
                c = int(round(row.lag_s * 10)) + lag
                sm = pk.smoothed[0]
                assert min(abs(sm[c] - sm[c - 1]), abs(sm[c] - sm[c + 1])) < 1e-9, (f, w)
                n_tie += 1
            else:
                j = int(round(pk.lag_s[0] * 10)) + lag
                assert abs(row.r_peak - res.matrix[w, j]) <= 1e-9
            n_checked += 1
    assert n_checked >= 4 * 25 and n_tie <= n_checked // 10


def test_series_are_speaker_relative_and_nan_aware(run4000):
    _, _, series, _ = run4000
    for spk in ("user", "agent"):
        v = series[spk]
        assert np.all(np.diff(v["t_s"]) == pytest.approx(0.1))
        assert np.all((v["vad"] >= 0) & (v["vad"] <= 1))
        f0 = v["f0"][np.isfinite(v["f0"])]
        assert abs(np.median(f0)) < 1.5   # semitones re the speaker's own median
        assert np.isnan(v["f0"]).any() or np.isnan(v["energy"]).any() or True


# ------------------------------------------------------------------------------- push sizes


@pytest.mark.parametrize("block", [160, 1601, "random"])
def test_block_size_invariance(audio, run4000, block):
    """Synchrony rows, pacing rows and series are identical whatever the push sizes."""
    sync, pacing, series, _ = run4000
    sync2, pacing2, series2, _ = run_session(*audio, block)
    _same_rows(sync, sync2)
    _same_rows(pacing, pacing2)
    for spk in series:
        for f in series[spk]:
            assert np.array_equal(series[spk][f], series2[spk][f], equal_nan=True)


def test_one_push_longer_than_the_history_buffer():
    """A whole recording pushed in one call (Python API): more bins at once than the tracker's
    history buffer holds (2 x 201 + 64 bins with a 1 s history) gives the rows of 0.25 s pushes
    (it raised a broadcast ValueError when the first push overflowed the buffer)."""
    a, b = pair_audio(50.0, delay_s=1.0, seed=4)
    cfg = Config(sync=dataclasses.replace(Config().sync, history_s=1.0))
    one = run_session(a, b, len(a), config=cfg)
    small = run_session(a, b, 4000, config=cfg)
    assert len(one[0]) > 50
    _same_rows(one[0], small[0])
    _same_rows(one[1], small[1])


# ------------------------------------------------------------------------------- binning


def _ref_bins(frames, per_bin, hold_bins):
    """Plain reference of SynchronyTracker binning: the baseline after each bin from numpy
    histograms (searchsorted quantiles), features relative to it, causal hold."""
    f0h = np.zeros(1200, np.int64)
    lev = np.zeros(260, np.int64)
    rate = np.zeros(200, np.int64)
    nv = ns = 0

    def q(h, p, lo, w):
        tot = h.sum()
        if tot == 0:
            return math.nan
        return lo + (int(np.searchsorted(np.cumsum(h), p * tot)) + 0.5) * w

    out = {k: [] for k in FEATURES + BASE_FIELDS}
    last = {f: (math.nan, -10**9) for f in ("f0", "energy", "rate")}
    run = {f: [] for f in ("f0", "energy", "rate")}  # values since the last gap > hold_bins
    for b in range(len(frames) // per_bin):
        fr = frames[b * per_bin:(b + 1) * per_bin]
        sts, es, rs = [], [], []
        for x in fr:
            f0 = float(x["f0_hz"])
            if x["voiced"] and f0 > 0:
                st = 12.0 * math.log2(f0)
                f0h[min(max(int(st * 10), 0), 1199)] += 1
                nv += 1
                sts.append(st)
            if x["speech"]:
                ns += 1
                e, r = float(x["energy_db"]), float(x["rate_sps"])
                lev[min(max(int((e + 120.0) * 2), 0), 259)] += 1
                es.append(e)
                if math.isfinite(r):  # none before the speaker's first second of speech
                    rate[min(max(int(r * 20), 0), 199)] += 1
                    rs.append(r)
        med = q(f0h, 0.5, 0.0, 0.1)
        lvl = q(lev, 0.5, -120.0, 0.5)
        out["base_f0_st"].append(med)
        out["base_level_db"].append(lvl)
        out["base_f0_range_st"].append(q(f0h, 0.95, 0.0, 0.1) - q(f0h, 0.05, 0.0, 0.1))
        out["base_rate_sps"].append(q(rate, 0.5, 0.0, 0.05))
        out["n_voiced"].append(nv)
        out["n_speech"].append(ns)
        raw = {"f0": np.mean(sts) - med if len(sts) >= MIN_FRAMES else math.nan,
               "energy": np.mean(es) - lvl if len(es) >= MIN_FRAMES else math.nan,
               "rate": np.mean(rs) if len(rs) >= MIN_FRAMES else math.nan}
        for f, v in raw.items():
            if math.isfinite(v):
                if b - last[f][1] > 3 + 1:  # runs: gaps of at most 0.3 s joined
                    run[f] = []
                run[f].append(v)
                last[f] = (v, b)
            elif hold_bins > 0 and b - last[f][1] <= hold_bins:
                v = sum(run[f]) / len(run[f])
            out[f].append(v)
        out["vad"].append(len(es) / per_bin)
    return {k: np.array(v, dtype=np.float64) for k, v in out.items()}


def _random_frames(rng, n):
    fr = np.zeros(n, FRAME_DTYPE)
    fr["t_s"] = (np.arange(n) + 0.5) * 0.01
    talk = np.repeat(rng.random(n // 50 + 1) < 0.6, 50)[:n]
    fr["speech"] = talk & (rng.random(n) < 0.9)
    fr["voiced"] = fr["speech"] & (rng.random(n) < 0.7)
    fr["f0_hz"] = np.where(fr["voiced"], 150 * 2 ** (rng.normal(0, 3, n) / 12), np.nan)
    fr["energy_db"] = np.where(fr["speech"], rng.normal(-25, 5, n), rng.normal(-70, 3, n))
    fr["rate_sps"] = np.abs(rng.normal(4, 1, n))
    fr["rate_sps"][:int(rng.integers(0, 400))] = np.nan  # before the first second of speech
    return fr


@pytest.mark.parametrize("hold_s", [0.0, 0.5, 4.0])
def test_binning_matches_plain_reference(hold_s):
    rng = np.random.default_rng(int(hold_s * 10))
    a, b = _random_frames(rng, 3000), _random_frames(rng, 3000)
    tr = SynchronyTracker(SyncConfig(hold_s=hold_s), [SpeakerBaseline(), SpeakerBaseline()])
    got = [[], []]
    i = 0
    while i < 3000:  # odd chunk sizes: bins straddle pushes
        k = int(rng.integers(1, 70))
        vals = tr.bin(a[i:i + k], b[i:i + k])
        for s in range(2):
            got[s].append(vals[s])
        i += k
    for s, fr in enumerate((a, b)):
        ref = _ref_bins(fr, 10, int(round(hold_s * 10)))
        for key in FEATURES + BASE_FIELDS:
            g = np.concatenate([v[key] for v in got[s]])
            np.testing.assert_allclose(g, ref[key], rtol=0, atol=1e-9, err_msg=key)


# ------------------------------------------------------------------------------- planted lags


def planted(kind, n, rate=10, seed=0):
    """Series pairs at ``rate`` Hz: AR(1) phi=0.9 source plus noise; s2[t] = s1[t - d]."""
    rng = np.random.default_rng(seed)
    pad = 60
    src = _ar1(rng, n + 2 * pad, phi=0.9)

    def shifted(d):
        return src[pad - d:pad - d + n]

    s1 = shifted(0) + 0.3 * rng.standard_normal(n)
    if kind == "independent":
        s2 = _ar1(rng, n, phi=0.9) + 0.3 * rng.standard_normal(n)
    elif kind == "switch":   # s2 follows by 1 s, then leads by 1 s
        s2 = np.where(np.arange(n) < n // 2, shifted(10), shifted(-10))
        s2 = s2 + 0.3 * rng.standard_normal(n)
    elif kind == "antiphase":
        s2 = -shifted(5) + 0.3 * rng.standard_normal(n)
    else:
        s2 = shifted(int(round(float(kind) * rate))) + 0.3 * rng.standard_normal(n)
    return s1, s2


@pytest.mark.parametrize("kind, lag", [("1.5", 1.5), ("-0.8", -0.8), ("antiphase", 0.5)])
def test_planted_lag_batch_wcc_and_peaks(kind, lag):
    s1, s2 = planted(kind, 3000, seed=1)
    kw = dict(rate_hz=10, lag_s=3, window_s=30, step_s=10)
    pk = pick_peaks(wcc(s1, s2, fisher_z=True, absolute=True, **kw), smooth=3, search=3,
                    min_value=0.5)
    signed = wcc(s1, s2, fisher_z=False, absolute=False, **kw).matrix
    hit = np.abs(pk.lag_s - lag) < 0.15
    assert hit.mean() >= 0.9 and np.median(pk.lag_s) == pytest.approx(lag), pk.lag_s
    cols = np.round(pk.lag_s[hit] * 10).astype(int) + 30
    r = signed[np.flatnonzero(hit), cols]
    assert np.all(r < -0.5) if kind == "antiphase" else np.all(r > 0.5)


def test_planted_leader_switch_batch():
    s1, s2 = planted("switch", 3000, seed=2)
    res = wcc(s1, s2, rate_hz=10, lag_s=3, window_s=30, step_s=10)
    pk = pick_peaks(res, smooth=3, search=3, min_value=0.5)
    first = res.window_end_s + 3 <= 150   # windows (with their lag reach) in the first half
    second = res.window_start_s >= 150
    assert np.mean(np.abs(pk.lag_s[first] - 1.0) < 0.15) >= 0.9
    assert np.mean(np.abs(pk.lag_s[second] + 1.0) < 0.15) >= 0.9


def _tracker_rows(s1, s2, cfg=None, chunk=7):
    """Feed the same pair as all four features straight into SynchronyTracker.update."""
    tr = SynchronyTracker(cfg or SyncConfig(), [SpeakerBaseline(), SpeakerBaseline()])
    rows = []
    for i in range(0, len(s1), chunk):
        vals = [{f: v[i:i + chunk] for f in FEATURES} for v in (s1, s2)]
        rows += [r for r in tr.update(vals) if r.feature == "f0"]
    return rows


@pytest.mark.parametrize("kind, lag", [("1.5", 1.5), ("-0.8", -0.8), ("antiphase", 0.5)])
def test_planted_lag_tracker_recovers_lag_sign_and_z(kind, lag):
    s1, s2 = planted(kind, 1800, seed=4)
    rows = _tracker_rows(s1, s2)
    lags = np.array([r.lag_s for r in rows])
    z = np.array([r.z for r in rows])
    rp = np.array([r.r_peak for r in rows])
    p = np.array([r.p for r in rows])
    hit = np.abs(lags - lag) < 0.15
    assert hit.mean() > 0.8, lags
    assert np.median(lags) == pytest.approx(lag)
    assert np.all(np.sign(rp[hit]) == (-1 if kind == "antiphase" else 1))
    # z is the normal quantile of the surrogate p-value: significant (nearly) wherever defined
    ok = np.isfinite(z)
    assert ok.mean() > 0.8
    assert np.all((z[ok] > 1.96) == (p[ok] <= 0.025))
    assert np.mean(p[ok] <= 0.025) > 0.95, p[ok]


def test_leader_switch_tracker():
    s1, s2 = planted("switch", 2400, seed=5)
    rows = _tracker_rows(s1, s2)
    t = np.array([r.window_start_s for r in rows])
    lags = np.array([r.lag_s for r in rows])
    first = t + 10 <= 120
    second = t >= 120
    assert np.mean(np.abs(lags[first] - 1.0) < 0.15) > 0.8
    assert np.mean(np.abs(lags[second] + 1.0) < 0.15) > 0.8


def test_independent_pairs_window_p_is_calibrated():
    """Under independence the window p-values are about uniform and z > 1.96 (p <= 0.025)
    fires in about 2.5 % of windows (not asserted tightly: windows overlap)."""
    ps = []
    for seed in range(4):
        s1, s2 = planted("independent", 1800, seed=10 + seed)
        ps += [r.p for r in _tracker_rows(s1, s2)]
    ps = np.array(ps)
    ps = ps[np.isfinite(ps)]
    assert len(ps) > 1000
    assert 0.35 < np.median(ps) < 0.65, np.median(ps)
    assert 0.003 < np.mean(ps <= 0.025) < 0.07, np.mean(ps <= 0.025)


def test_session_test_streaming_equals_batch_and_detects():
    s1, s2 = planted("1.5", 1800, seed=21)
    # utterances: 1 s gaps every 4 s (the second speaker's offset by 2 s), no hold
    t = np.arange(len(s1))
    s1[t % 40 >= 30] = np.nan
    s2[(t + 20) % 40 >= 30] = np.nan
    tr = SynchronyTracker(SyncConfig(), [SpeakerBaseline(), SpeakerBaseline()])
    rng = np.random.default_rng(0)
    i = 0
    while i < len(s1):
        k = int(rng.integers(1, 60))
        tr.update([{f: v[i:i + k] for f in FEATURES} for v in (s1, s2)])
        i += k
    got = tr.session_test()["f0"]
    want = session_test(s1, s2, SyncConfig(), feature="f0", raw2=s2, raw1=s1)
    assert got == want
    # 46 utterances of the second speaker and 45 of the first, each rotated by 2 or more,
    # forward and reversed: 84 rotations of each (the fewer), 40 of each used (99 asked for;
    # 2 x a multiple of 10: p <= 0.05 then has 4/81 chance under the null), none as large
    assert got.n_surrogates == 80 and got.p == pytest.approx(1 / 81)
    assert got.lag_s == pytest.approx(1.5) and got.r > 0.5 and got.r_crit < 0.3
    # without the raw series: every pair, circular shifts; the same coupling
    shifted = session_test(s1, s2, SyncConfig(), feature="f0")
    assert shifted.p == pytest.approx(1 / 100) and shifted.lag_s == pytest.approx(1.5)
    assert shifted.n_surrogates == 99
    # too few utterances for the rotation (8 + one long run): no p-value, a reason
    few = session_test(s1, np.where(t < 300, s2, 0.5), SyncConfig(), raw2=np.where(t < 300, s2, 0.5))
    assert math.isnan(few.p) and "9 utterances" in few.reason and "need 13" in few.reason


def test_r_crit_is_the_value_a_significant_session_exceeds():
    """``r_crit`` is the decision threshold: ``significant(p)`` exactly when ``|r| > r_crit``
    (the np.quantile(null, 0.95) it was lay between two surrogates, under the threshold: this
    weakly coupled session had |r| 0.2032 over an r_crit of 0.2022 and p 0.06)."""
    from prosync.engine.session_sync import critical_r, significant

    a1, a2 = planted("1.0", 1800, seed=1)
    _, b2 = planted("independent", 1800, seed=101)
    t = session_test(a1, 0.17 * a2 + 0.83 * b2, SyncConfig(), feature="f0")
    assert t.n_surrogates == 99 and not significant(t.p)
    assert abs(t.r) <= t.r_crit
    # 79 surrogates: p <= 0.05 is at most 3 of them >= the session's value (a tie counts)
    null = np.arange(1, 80) / 100
    assert critical_r(null) == 0.76
    assert significant((1 + np.sum(null >= 0.7601)) / 80) and not significant((1 + np.sum(null >= 0.76)) / 80)


def test_session_test_is_symmetric_in_the_speakers():
    """Each speaker's utterances are rotated in as many surrogates, the other speaker as it is
    (one whole lag profile per surrogate, like the real one): swapping the speakers gives the
    same test, the lag negated. Before, the second speaker's were rotated for both directions,
    so the two directions were not tested alike; then each direction rotated its own
    follower in the same surrogate, whose profile was two independent halves: their largest
    |r| beats the real (smooth) profile's more often, which made the test conservative."""
    s1, s2 = planted("1.5", 1800, seed=23)
    t = np.arange(len(s1))
    s1[t % 40 >= 30] = np.nan
    s2[(t + 20) % 40 >= 30] = np.nan
    x = session_test(s1, s2, SyncConfig(), raw1=s1, raw2=s2)
    y = session_test(s2, s1, SyncConfig(), raw1=s2, raw2=s1)
    assert (x.p, x.r, x.r_crit, x.n_surrogates) == (y.p, y.r, y.r_crit, y.n_surrogates)
    assert x.lag_s == -y.lag_s == pytest.approx(1.5) and x.p < 0.05
    # only the second speaker's series before the hold: its rotations for every lag, as before
    only2 = session_test(s1, s2, SyncConfig(), raw2=s2)
    assert only2.n_surrogates == 79 and only2.lag_s == pytest.approx(1.5)


@pytest.mark.parametrize("k,n", [(19, 19), (20, 19), (38, 19), (39, 39), (98, 79), (99, 99),
                                 (150, 139), (18, 0)])
def test_session_surrogate_count_makes_the_level_exact(k, n):
    """p = (1 + #{null >= real}) / (1 + n) <= 0.05 has exactly 5 % chance under the null only
    when 0.05 (n + 1) is whole: 32 surrogates gave 1/33 = 3 %."""
    from prosync.engine.session_sync import ALPHA, exact_count, significant

    assert exact_count(k) == n
    if n:
        levels = (1 + np.arange(n + 1)) / (n + 1)  # the p-values, equally likely under the null
        assert np.mean([significant(p) for p in levels]) == pytest.approx(ALPHA)
    assert significant(0.05) and not significant(0.0500001) and not significant(math.nan)


def test_session_hold_equals_the_binning_hold(run4000):
    """The session test re-applies the hold to its surrogates: on the real series it must give
    exactly the tracker's held series."""
    from prosync.native.surrogate import hold_runs

    _, _, series, sess = run4000
    for f in FEATURES[:3]:
        _, held, _, raw = sess.synchrony_series(f)
        np.testing.assert_array_equal(held, series["agent"][f])
        out = np.empty(len(raw))
        hold_runs(np.ascontiguousarray(raw), int(round(sess.config.sync.hold_s * 10)), 3, out)
        np.testing.assert_array_equal(out, held)


def test_session_test_run_permutation_calibrated_and_powerful():
    """Turn-taking series (each speaker's values only in its turns, the run mean held): the run
    permutation keeps the timing, so shared utterance shapes lined up by the turns do not make
    independent speakers significant; a level that follows the partner's is found."""
    from prosync.native.surrogate import hold_runs

    cfg = SyncConfig()
    ps, coupled = [], []
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        n = 1800
        turn = np.repeat(np.arange(n // 30 + 1) % 2, 30)[:n]   # 3 s turns, alternating
        shape = np.tile(np.linspace(1.5, -1.5, 30), n // 30 + 1)[:n]  # declination in each
        lv_a = np.repeat(rng.standard_normal(n // 30 + 1), 30)[:n]
        lv_b = np.repeat(rng.standard_normal(n // 30 + 1), 30)[:n]
        raw_a = np.where(turn == 0, shape + 0.5 * lv_a + 0.3 * rng.standard_normal(n), np.nan)
        raw_b = np.where(turn == 1, shape + 0.5 * lv_b + 0.3 * rng.standard_normal(n), np.nan)
        a, b = np.empty(n), np.empty(n)
        hold_runs(raw_a, 40, 3, a)
        hold_runs(raw_b, 40, 3, b)
        ps.append(session_test(a, b, cfg, raw2=raw_b).p)
        # b's level follows a's previous turn
        lv_f = np.roll(np.repeat(np.repeat(rng.standard_normal(n // 60 + 1), 2), 30)[:n], 30)
        raw_a2 = np.where(turn == 0, shape + 1.5 * lv_f + 0.3 * rng.standard_normal(n), np.nan)
        raw_b2 = np.where(turn == 1, shape + 1.5 * lv_f + 0.3 * rng.standard_normal(n), np.nan)
        hold_runs(raw_a2, 40, 3, a)
        hold_runs(raw_b2, 40, 3, b)
        coupled.append(session_test(a, b, cfg, raw2=raw_b2).p)
    assert sum(p < 0.05 for p in ps) <= 2, ps
    assert sum(p < 0.05 for p in coupled) >= 10, coupled


def test_session_test_under_independence_and_too_short():
    ps = [session_test(*planted("independent", 1200, seed=40 + k), SyncConfig()).p
          for k in range(20)]
    assert 0.2 < np.median(ps) < 0.8 and sum(p < 0.05 for p in ps) <= 4, ps
    short = session_test(np.ones(200), np.ones(200), SyncConfig(), feature="f0")
    assert math.isnan(short.p) and "too short" in short.reason and "need" in short.reason
    flat = session_test(np.full(900, np.nan), np.zeros(900), SyncConfig())
    assert math.isnan(flat.p) and flat.reason


def test_tracker_config_and_empty_update():
    tr = SynchronyTracker(Config().sync, [SpeakerBaseline(), SpeakerBaseline()])
    assert tr.update([{f: np.zeros(0) for f in FEATURES}] * 2) == []
    assert tr.pool_size == 99
    # all-missing input: rows with NaN, never an exception
    nan = np.full(200, np.nan)
    rows = _tracker_rows(nan, nan)
    assert rows and all(math.isnan(r.r_lag0) and math.isnan(r.z) and r.n_valid == 0 for r in rows)


def test_session_note_says_what_the_evidence_supports(monkeypatch):
    from prosync.engine import session_sync
    from prosync.engine.session_sync import session_note

    s1, s2 = planted("independent", 1200, seed=77)
    t = session_test(s1, s2, SyncConfig(), feature="f0")
    assert t.p > 0.05
    # a preset whose F0 power reached 80 % within 5 min: 120 s, not significant, is too short
    monkeypatch.setitem(session_sync.MIN_SESSION_S, "research", {"f0": (300.0, "planted")})
    note = session_note(t, "research")
    assert note.startswith("120 s is too short to detect a coupling of r = 0.3") and "5 min" in note
    # a preset whose F0 power did not reach 80 % within 5 min: no evidence of no coupling
    monkeypatch.setitem(session_sync.MIN_SESSION_S, "research", {"f0": (None, "planted")})
    note = session_note(t, "research")
    assert "no evidence of no coupling" in note and "r = 0.3" in note
    assert session_note(t, "custom") is None
    short = session_test(s1[:300], s2[:300], SyncConfig(), feature="f0")
    assert session_note(short, "live") == short.reason and "too short" in short.reason
    coupled = session_test(*planted("1.5", 1200, seed=78), SyncConfig(), feature="f0")
    assert coupled.p <= 0.05 and session_note(coupled, "live") is None


def test_session_test_gives_no_p_where_it_is_not_calibrated(monkeypatch):
    """A feature in ``UNCALIBRATED``: no p-value, the reason instead; ``guard=False`` (the
    benches) measures it. Speech rate was there until its surrogates were split at their
    junction; it now gets a p-value."""
    from prosync.engine import session_sync

    s1, s2 = planted("1.5", 1800, seed=24)
    t = np.arange(len(s1))
    s1[t % 40 >= 30] = np.nan
    s2[(t + 20) % 40 >= 30] = np.nan
    kw = dict(raw1=s1, raw2=s2)
    assert "rate" not in session_sync.UNCALIBRATED
    given = session_test(s1, s2, SyncConfig(), feature="rate", **kw)
    assert given.p <= 0.05 and not given.reason
    monkeypatch.setitem(session_sync.UNCALIBRATED, "rate", "not calibrated here")
    guarded = session_test(s1, s2, SyncConfig(), feature="rate", **kw)
    assert math.isnan(guarded.p) and guarded.reason == "not calibrated here"
    measured = session_test(s1, s2, SyncConfig(), feature="rate", guard=False, **kw)
    assert (measured.p, measured.r, measured.lag_s) == (given.p, given.r, given.lag_s)


def test_session_test_leaves_out_the_warm_up_both_speakers_start_with():
    """Every voice's first seconds of values carry the same bias (a baseline and a running rate
    still warming up), and both speakers of a session start together: lined up at the start in
    the real pairing and in no surrogate, the biases read as coupling. The session test leaves
    out each speaker's first ``WARM_UP_S`` of own values. (Comparing each surrogate with the real
    pairing split at its junction takes part of such a shared start out too: 10 of 40 biased
    sessions significant, 25 of 40 before; 6 of these 24.)"""
    from prosync.engine.session_sync import WARM_UP_S
    from prosync.native.surrogate import hold_runs

    cfg = SyncConfig()
    assert WARM_UP_S == {"f0": 3.0, "energy": 5.0, "rate": 5.0}
    sig = {"biased": 0, "biased, warm-up out": 0, "unbiased, warm-up out": 0}
    for seed in range(24):
        rng = np.random.default_rng(300 + seed)
        n = 1800
        turn = np.repeat(np.arange(n // 30 + 1) % 2, 30)[:n]   # 3 s turns, alternating
        raws = []
        for who in (0, 1):
            lv = np.repeat(rng.standard_normal(n // 30 + 1), 30)[:n]
            raws.append(np.where(turn == who, 0.5 * lv + 0.3 * rng.standard_normal(n), np.nan))
        for bias in (0.0, 2.0):
            r1, r2 = (r.copy() for r in raws)
            for raw in (r1, r2):  # the same bias in both voices' first 5 s of values
                raw[np.flatnonzero(np.isfinite(raw))[:50]] += bias
            a, b = np.empty(n), np.empty(n)
            hold_runs(r1, 40, 3, a)
            hold_runs(r2, 40, 3, b)
            for wu in (False, True) if bias else (True,):
                t = session_test(a, b, cfg, feature="rate", raw1=r1, raw2=r2, guard=False, warm_up=wu)
                key = ("biased" if bias else "unbiased") + (", warm-up out" if wu else "")
                sig[key] += t.p <= 0.05
                if wu:  # what is left out is gone from the series and its surrogates alike
                    assert t.n_surrogates >= 19
    assert sig["biased"] >= 4, sig
    assert sig["biased, warm-up out"] <= 3 and sig["unbiased, warm-up out"] <= 3, sig


def test_session_test_surrogates_are_compared_split_at_their_junction():
    """A rotation puts a speaker's last utterance next to its first, a circular shift the end of
    the series next to its start: where a speaker's level steps over the session (a new
    person's speech rate, a new stretch of activity), every surrogate had one level change more
    than the real pairing, so its |r| with the partner's slow course spread narrower and
    independent speakers came out significant too often (this set: 9 and 6 of 60 at p <= 0.05
    before, rotations and circular shifts). Each surrogate is now compared with the real
    pairing split at its junction (both series centred on either side, in both)."""
    from prosync.native.surrogate import hold_runs

    cfg = SyncConfig()
    rot = shift = 0
    for seed in range(60):
        rng = np.random.default_rng(500 + seed)
        n = 1200
        t = np.arange(n)
        raws = []
        for on in ((t // 30) % 2 == 0, ((t + 15) // 30) % 2 == 0):  # 3 s utterances
            # a level that steps every 30 s, independent between the speakers
            lv = np.repeat(rng.standard_normal(n // 300 + 2), 300)[rng.integers(0, 300):][:n]
            raws.append(np.where(on, lv + 0.3 * rng.standard_normal(n), np.nan))
        a, b = np.empty(n), np.empty(n)
        hold_runs(raws[0], 40, 3, a)
        hold_runs(raws[1], 40, 3, b)
        rot += session_test(a, b, cfg, raw1=raws[0], raw2=raws[1]).p <= 0.05
        shift += session_test(np.nan_to_num(a), np.nan_to_num(b), cfg).p <= 0.05
    assert rot <= 6 and shift <= 4, (rot, shift)


def test_session_test_splits_each_surrogate_at_its_own_junction(monkeypatch):
    """Where the split falls (``_centred_at``'s ``tau``): a rotation's at the slot that gets the
    first utterance's content (the last utterance's content just before it), a circular shift
    by ``d``'s at ``d`` in the shifted series (``b[N - d:]`` then ``b[:N - d]``: ``b`` split at
    ``N - d``), and the real pairing split at the same ``tau`` as the surrogate. (The test
    above passes with ``tau`` at the wrong slot or ``b`` split at ``d``: this one does not.)"""
    from prosync.engine import session_sync
    from prosync.native.surrogate import hold_runs, pooled_profiles

    calls = []
    real = session_sync._centred_at

    def spy(x, tau):
        calls.append((np.array(x, dtype=np.float64), int(tau)))
        return real(x, tau)

    monkeypatch.setattr(session_sync, "_centred_at", spy)
    cfg = SyncConfig()
    n = 1200
    t = np.arange(n)
    raws, held = [], []
    for on in ((t // 30) % 2 == 0, ((t + 15) // 30) % 2 == 0):  # 20 utterances each
        run = np.cumsum(on & ~np.r_[False, on[:-1]]) - 1  # each utterance's index: its level
        raw = np.where(on, run + 0.01 * np.sin(t), np.nan)
        h = np.empty(n)
        hold_runs(raw, 40, 3, h)
        raws.append(raw)
        held.append(h)
    session_test(held[0], held[1], cfg, raw1=raws[0], raw2=raws[1])
    sur = [(x, tau) for x, tau in calls
           if not any(np.array_equal(x, h, equal_nan=True) for h in held)]
    assert len(sur) >= 38, len(sur)
    for x, tau in sur:
        before = x[:tau][np.isfinite(x[:tau])]
        assert round(x[tau]) == 0 and round(before[-1]) == round(np.nanmax(x)), tau
    # the real pairing split at every surrogate's tau, both speakers
    taus = {tau for _, tau in sur}
    for h in held:
        assert taus <= {tau for x, tau in calls if np.array_equal(x, h, equal_nan=True)}

    # circular shifts: the kernel pairs ``a`` with ``b`` shifted as np.roll(b, d)
    b = np.sin(t / 7.0) + t / n
    prof, cnt = np.empty((1, 1)), np.empty((1, 1))
    pooled_profiles(np.roll(b, 300), b, np.ones(n), np.ones(n), 0, np.array([300]), prof, cnt)
    assert prof[0, 0] == pytest.approx(1.0)
    a = np.cos(t / 5.0)
    calls.clear()
    session_test(a, b, cfg)
    assert len(calls) % 3 == 0 and len(calls) >= 3 * 19
    for (xa, d), (xb, sb), (xr, dr) in zip(calls[::3], calls[1::3], calls[2::3]):
        assert np.array_equal(xa, a) and np.array_equal(xb, b) and np.array_equal(xr, b)
        assert 0 < d < n and sb == n - d and dr == d  # roll(b, d)[d:] is b[:n - d]


def test_framed_features_are_not_split():
    """A framed surrogate (``FRAMED``) joins contents inside slots, not at the one junction the
    split of the real pairing describes, so only features left unsplit (``UNSPLIT``) may be
    framed (module comments "Junctions" and "Stretching")."""
    from prosync.engine import session_sync

    assert session_sync.FRAMED <= session_sync.UNSPLIT, session_sync.FRAMED - session_sync.UNSPLIT


def test_session_test_places_f0_contents_at_their_own_rate(monkeypatch):
    """f0's surrogates (``session_sync.FRAMED``) repeat none of the rotated speaker's values
    within an utterance's slot (no stretching: a short utterance's mean does not weigh over a
    long slot; module comment "Stretching") and fill every slot as the real series does;
    energy's and speech rate's are still stretched (resampled to the slot). Fails with
    ``rotate_runs`` for f0."""
    from prosync.engine import session_sync
    from prosync.native.surrogate import find_runs, hold_runs

    surs = []
    real_hold = session_sync.hold_runs

    def spy(raw, hb, bridge, out):
        surs.append(np.array(raw))
        return real_hold(raw, hb, bridge, out)

    monkeypatch.setattr(session_sync, "hold_runs", spy)
    rng = np.random.default_rng(3)
    n = 1500
    raws, held = [], []
    for side in range(2):  # utterances of 0.3-4 s, every value distinct
        raw = np.full(n, np.nan)
        t = 5 * side
        while t < n:
            d = int(rng.integers(3, 40))
            raw[t:t + d] = rng.random(min(d, n - t)) + np.arange(t, min(t + d, n))
            t += d + int(rng.integers(5, 30))
        h = np.empty(n)
        hold_runs(raw, 40, 3, h)
        raws.append(raw)
        held.append(h)
    starts = [np.empty(n, np.int64) for _ in raws]
    ends = [np.empty(n, np.int64) for _ in raws]
    runs = [find_runs(r, 3, s, e) for r, s, e in zip(raws, starts, ends, strict=True)]

    def repeats(sur):
        """Values repeated within the slots of the speaker whose timing ``sur`` has."""
        side = next(i for i, r in enumerate(raws)
                    if np.array_equal(np.isfinite(sur), np.isfinite(r)))  # every slot filled
        return sum(np.isfinite(sur[s:e]).sum() - len(np.unique(sur[s:e]))
                   for s, e in zip(starts[side][:runs[side]], ends[side][:runs[side]], strict=True))

    for feat, stretched in (("f0", False), ("energy", True), ("rate", True)):
        surs.clear()
        t = session_test(held[0], held[1], SyncConfig(), feature=feat, raw1=raws[0], raw2=raws[1])
        assert math.isfinite(t.p) and len(surs) >= 38
        rep = [repeats(s) for s in surs]
        assert (min(rep) > 0) if stretched else (max(rep) == 0), (feat, rep[:5])
