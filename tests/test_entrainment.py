"""Tests of engine/entrainment.py: TAMA against entrainment-metrics 1.0.6 reference vectors,
Levitan & Hirschberg 2011 turn-level measures on planted entrainment, per-IPU features against
slow loops, and the NaN / bad-input rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from prosync.engine.entrainment import (
    IPU,
    Turn,
    ipu_features,
    levitan_hirschberg,
    local_convergence,
    local_proximity,
    local_synchrony,
    tama,
    tama_cross_correlation,
    tama_frame_grid,
    tama_series,
    tama_synchrony,
    turn_pairs,
    turns_from_ipus,
)
from prosync.engine.errors import ProsyncError

# ------------------------------------------------------------------------------------------------
# Slow, obviously correct references (line by line after the package / the paper)
# ------------------------------------------------------------------------------------------------


def naive_tama_series(ipus, frames):
    """ipus: list of (start, end, value) with NaN values already dropped."""
    out = []
    for fs, fe in frames:
        members = [u for u in ipus if max(u[0], fs) < min(u[1], fe)]
        if not members:
            out.append(math.nan)
            continue
        dsum = 0.0
        for u in members:
            dsum += u[1] - u[0]
        out.append(sum((u[2] * (u[1] - u[0])) / dsum for u in members))
    return out


def naive_tama_r(a, b, lags):
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    A = a - np.nanmean(a)
    B = b - np.nanmean(b)
    den = math.sqrt(np.sum(A**2) * np.nansum(B**2))
    r = []
    for h in range(lags + 1):
        prods = [A[i] * B[i - h] for i in range(h, len(a))]
        if sum(not math.isnan(p) for p in prods) >= 4:
            r.append(np.nansum(prods) / den)
        else:
            r.append(math.nan)
    return np.array(r)


def naive_ipu_features(t, f0, en, ipus, ref_hz):
    rows = []
    for s, e in ipus:
        fv, ev, stv = [], [], []
        for ti, fi, ei in zip(t, f0, en, strict=True):
            if s <= ti <= e:
                if not math.isnan(fi) and fi > 0:
                    fv.append(fi)
                    stv.append(12 * math.log2(fi / ref_hz))
                if math.isfinite(ei):
                    ev.append(ei)
        rows.append((
            sum(fv) / len(fv) if fv else math.nan,
            max(fv) if fv else math.nan,
            sum(stv) / len(stv) if stv else math.nan,
            12 * math.log2(max(fv) / ref_hz) if fv else math.nan,
            sum(ev) / len(ev) if ev else math.nan,
            max(ev) if ev else math.nan,
        ))
    return np.array(rows, float).reshape(-1, 6)


def naive_proximity(turns, feature):
    """All non-adjacent partner turns as the baseline, written as plain loops."""
    ts = sorted(turns, key=lambda u: (u.start_s, u.end_s))
    part, nonp = [], []
    for k in range(1, len(ts)):
        p, c = ts[k - 1], ts[k]
        if p.speaker == c.speaker:
            continue
        vc, vp = c.features[feature], p.features[feature]
        if math.isnan(vc) or math.isnan(vp):
            continue
        following = None
        for j in range(k + 1, len(ts)):
            if ts[j].speaker == p.speaker:
                following = j
                break
        others = [ts[j].features[feature] for j in range(len(ts))
                  if ts[j].speaker == p.speaker and j != k - 1 and j != following
                  and not math.isnan(ts[j].features[feature])]
        if not others:
            continue
        part.append(abs(vc - vp))
        nonp.append(sum(abs(vc - q) for q in others) / len(others))
    return np.array(part), np.array(nonp)


# ------------------------------------------------------------------------------------------------
# TAMA
# ------------------------------------------------------------------------------------------------


def _nan(xs):
    return np.array([math.nan if v is None else v for v in xs], float)


def test_tama_matches_entrainment_metrics_reference(shared_data):
    files = sorted((shared_data / "reference" / "tama").glob("*.json"))
    assert len(files) >= 12
    worst = 0.0
    n_checked = 0
    for fn in files:
        d = json.loads(fn.read_text())
        st = d["settings"]
        spk0 = next(iter(d["speakers"].values()))
        sr = spk0["sample_rate"]
        dur = spk0["n_samples"] / sr
        fl, ts = st["frame_length_s"], st["time_step_s"]
        ipus = [IPU(s, u["start_s"], u["end_s"],
                    {k: (math.nan if v is None else v) for k, v in u.items() if k.isupper()})
                for s, sd in d["speakers"].items() for u in sd["ipus"]]
        for feat, fd in d["features"].items():
            for spk, ser in fd["series"].items():
                fs, fe = tama_frame_grid(dur, fl, ts, sample_rate=sr)
                np.testing.assert_array_equal(fs, ser["frame_start_s"], err_msg=fn.name)
                np.testing.assert_array_equal(fe, ser["frame_end_s"], err_msg=fn.name)
                fs2, fe2 = tama_frame_grid(dur, fl, ts)  # seconds arithmetic: same floats
                np.testing.assert_array_equal(fs, fs2)
                np.testing.assert_array_equal(fe, fe2)
                mine = [u for u in ipus if u.speaker == spk]
                got = tama_series([u.start_s for u in mine], [u.end_s for u in mine],
                                  [u.features[feat] for u in mine], fs, fe)
                ref = _nan(ser["values"])
                np.testing.assert_allclose(got.values, ref, rtol=0, atol=1e-9,
                                           err_msg=f"{fn.name} {feat} {spk}")
                worst = max(worst, float(np.nanmax(np.abs(got.values - ref), initial=0.0)))
                assert list(got.is_missing) == ser["is_missing_frame"]
                assert list(got.ipu_indices_used) == ser["ipu_indices_used"]
                assert [list(got.ipu_indices_used[row]) for row in got.membership] == \
                    ser["frame_ipu_indices"]
                n_checked += 1
            for key, pv in fd["pairs"].items():
                a, b = (x.split("=")[1] for x in key.split(","))
                res = tama(ipus, feat, dur, speakers=(a, b), frame_s=fl, step_s=ts,
                           max_lag=st["max_lag"], package_denominator=True)
                r = res.r[(a, b)]
                ref = _nan(pv["r_by_lag"])
                np.testing.assert_allclose(r, ref, rtol=0, atol=1e-9,
                                           err_msg=f"{fn.name} {feat} {key}")
                worst = max(worst, float(np.nanmax(np.abs(r - ref), initial=0.0)))
                for ml, sv in pv["synchrony_by_max_lag"].items():
                    sy = tama_synchrony(r, int(ml))
                    if "error" in sv:
                        assert math.isnan(sy.signed) and math.isnan(sy.unsigned) and sy.reason
                    else:
                        assert abs(sy.signed - sv["signed"]) <= 1e-9
                        assert abs(sy.unsigned - sv["unsigned"]) <= 1e-9
                        worst = max(worst, abs(sy.signed - sv["signed"]))
                n_checked += 1
    assert n_checked > 100
    assert worst <= 1e-9


def test_tama_package_published_numbers():
    """The package's own unit-test fixture (100-200-300_long_x2, 16/8, F0_MAX, self-correlation)
    and the values in its tests/test_tama.py, without the shared data."""
    ipus = [IPU("A", s, e, {"F0_MAX": v}) for s, e, v in [
        (0.0, 4.0, 100.003), (8.0, 12.0, 200.002), (16.0, 24.0, 300.002),
        (28.0, 32.0, 100.003), (36.0, 40.0, 200.002), (44.0, 52.0, 300.002)]]
    res = tama(ipus, "F0_MAX", 832000 / 16000, speakers=("A", "A"), frame_s=16, step_s=8,
               package_denominator=True)
    np.testing.assert_allclose(res.series["A"].values, [
        150.0025, 266.6686666666667, 233.33566666666667, 150.0025, 266.6686666666667,
        300.002, 300.002], rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.r[("A", "A")], [
        1.0, 0.034231246706866475, -0.23824767643835526, 0.11387497101894314,
        math.nan, math.nan, math.nan], rtol=0, atol=1e-12)
    sy = res.synchrony[("A", "A")]
    assert sy.signed == pytest.approx(1.0) and sy.lag == 0


def test_tama_frame_grid_rules():
    fs, fe = tama_frame_grid(41.0129375)
    np.testing.assert_array_equal(fs, [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(fe, [20, 30, 40, 41.0129375, 41.0129375])
    fs, fe = tama_frame_grid(40.0, 16, 8)  # ceil(40/8) = 5 frames
    assert fs.size == 5 and fe[-1] == 40.0
    assert tama_frame_grid(0.0)[0].size == 0


def test_tama_membership_strict_and_full_duration_weighting():
    # IPU 0 ends exactly at frame 1's start: not a member; IPU 1 spans two frames, unclipped.
    fs, fe = np.array([0.0, 10.0]), np.array([20.0, 30.0])
    got = tama_series([0.0, 15.0], [10.0, 25.0], [100.0, 200.0], fs, fe)
    assert got.membership.tolist() == [[True, True], [False, True]]
    assert got.values[0] == pytest.approx((100 * 10 + 200 * 10) / 20)
    assert got.values[1] == 200.0
    # a NaN value drops the IPU before framing
    got = tama_series([0.0, 15.0], [10.0, 25.0], [math.nan, 200.0], fs, fe)
    assert got.values.tolist() == [200.0, 200.0]
    assert got.ipu_indices_used.tolist() == [1]


@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
def test_tama_against_slow_reference_random():
    rng = np.random.default_rng(7)
    for trial in range(30):
        dur = float(rng.uniform(30, 200))
        n = int(rng.integers(0, 40))
        s = np.sort(rng.uniform(0, dur, n))
        e = s + rng.uniform(0, 6, n)
        v = rng.normal(200, 30, n)
        v[rng.random(n) < 0.1] = np.nan
        fl, ts = (20.0, 10.0) if trial % 2 else (16.0, 8.0)
        fs, fe = tama_frame_grid(dur, fl, ts)
        got = tama_series(s, e, v, fs, fe).values
        keep = ~np.isnan(v)
        ref = naive_tama_series(list(zip(s[keep], e[keep], v[keep], strict=True)),
                                list(zip(fs, fe, strict=True)))
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=0)
        b = rng.normal(0, 1, fs.size)
        b[rng.random(fs.size) < 0.2] = np.nan
        for a in (got, np.where(np.isnan(got), 0.0, got)):
            with np.errstate(all="ignore"):
                ref_r = naive_tama_r(a, b, 6)
            np.testing.assert_allclose(tama_cross_correlation(a, b, 6, package_denominator=True),
                                       ref_r, rtol=1e-12, atol=1e-14)


def test_tama_lag_direction_and_asymmetry():
    # b leads, a copies b two frames later: r[a follows b] peaks at lag 2.
    rng = np.random.default_rng(3)
    b = rng.normal(size=60)
    a = np.roll(b, 2)
    r = tama_cross_correlation(a, b, 6)
    assert int(np.nanargmax(np.abs(r))) == 2 and r[2] > 0.9
    sy = tama_synchrony(r)
    assert sy.lag == 2 and sy.signed == r[2] and sy.unsigned == abs(r[2])
    # reference mode: one missing frame in the first series makes every r NaN (package quirk)...
    a2 = a.copy()
    a2[10] = np.nan
    assert np.all(np.isnan(tama_cross_correlation(a2, b, 6, package_denominator=True)))
    # ...but in the second series it counts as 0
    assert not np.any(np.isnan(tama_cross_correlation(b, a2, 6, package_denominator=True)))
    # the default skips the missing frame: values on both sides, still peaking at lag 2
    r2 = tama_cross_correlation(a2, b, 6)
    assert not np.any(np.isnan(r2)) and int(np.argmax(np.abs(r2))) == 2 and r2[2] > 0.85
    # without missing frames both modes agree
    np.testing.assert_array_equal(tama_cross_correlation(a, b, 6),
                                  tama_cross_correlation(a, b, 6, package_denominator=True))


def test_tama_default_survives_one_silent_frame():
    """A speaker silent for one 20 s frame: the reference mode loses a_follows_b, the default
    keeps it (the summary uses the default)."""
    ipus = []
    for k in range(0, 120, 4):
        if not 40 <= k < 62:  # a says nothing from 40 s to 62 s: frame 40-60 s is missing
            ipus.append(IPU("a", k, k + 1.5, {"x": float(np.sin(k / 9))}))
        ipus.append(IPU("b", k + 2, k + 3.5, {"x": float(np.sin((k - 10) / 9))}))
    ref = tama(ipus, "x", 120.0, speakers=("a", "b"), package_denominator=True)
    assert np.isnan(ref.series["a"].values).any()
    assert math.isnan(ref.synchrony[("a", "b")].signed)
    assert "missing frame" in ref.synchrony[("a", "b")].reason
    res = tama(ipus, "x", 120.0, speakers=("a", "b"))
    assert math.isfinite(res.synchrony[("a", "b")].signed) and not res.synchrony[("a", "b")].reason


def test_tama_degenerate_gives_nan_with_reason():
    r = tama_cross_correlation([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], 6)  # < 4 terms everywhere
    assert np.all(np.isnan(r))
    sy = tama_synchrony(r)
    assert math.isnan(sy.signed) and sy.lag == -1 and "NaN" in sy.reason
    with np.errstate(all="ignore"):
        r = tama_cross_correlation(np.full(8, 5.0), np.arange(8.0), 3)  # zero variance
    assert np.all(np.isnan(r))
    ipus = [IPU("a", 1, 2, {"x": 1.0}), IPU("b", 3, 4, {"x": math.nan})]
    res = tama(ipus, "x", 35.0)
    assert np.all(np.isnan(res.series["b"].values))
    assert res.synchrony[("a", "b")].reason and res.synchrony[("b", "a")].reason


@pytest.mark.parametrize("call, words", [
    (lambda: tama_series([0, 1], [1], [1, 2], [0], [20]), "shape"),
    (lambda: tama_series([0, 5], [1, 4], [1, 2], [0], [20]), "ends before it starts"),
    (lambda: tama_series([0], [1], [1, 2], [0], [20]), "one value per IPU"),
    (lambda: tama_frame_grid(100, 0, 10), "positive"),
    (lambda: tama_cross_correlation([1, 2], [1, 2, 3]), "same frame grid"),
    (lambda: tama_cross_correlation([1, 2], [1, 2], -1), "max_lag"),
    (lambda: tama([IPU("a", 0, 1), IPU("b", 0, 1), IPU("c", 0, 1)], "x", 10), "speakers"),
])
def test_tama_bad_input_one_line_error(call, words):
    with pytest.raises(ProsyncError) as ei:
        call()
    msg = str(ei.value)
    assert words in msg and "\n" not in msg


# ------------------------------------------------------------------------------------------------
# ipu_features
# ------------------------------------------------------------------------------------------------


def test_ipu_features_against_slow_loop():
    rng = np.random.default_rng(11)
    t = np.arange(0, 30, 0.01)
    f0 = rng.uniform(80, 300, t.size)
    f0[rng.random(t.size) < 0.4] = np.nan
    f0[5] = 0.0  # Praat-style unvoiced
    en = rng.normal(60, 8, t.size)
    en[rng.random(t.size) < 0.05] = np.nan
    ipus = [(0.0, 1.0), (0.995, 2.5), (10.0, 10.0), (29.5, 31.0), (-1.0, -0.5),
            (3.001, 3.009), (1.0, 12.0)]  # overlaps, an empty one, edges, out of range
    f0[int(20 / 0.01):int(21 / 0.01) + 2] = np.nan
    ipus.append((20.0, 21.0))  # all unvoiced
    got = ipu_features(t, f0, en, ipus, ref_hz=150.0)
    ref = naive_ipu_features(t, f0, en, ipus, 150.0)
    for j, name in enumerate(got.NAMES):
        np.testing.assert_allclose(getattr(got, name), ref[:, j], rtol=1e-12, atol=1e-12,
                                   err_msg=name)
    assert got.n_frames[2] == 1 and got.n_voiced[-1] == 0
    assert math.isnan(got.f0_mean_hz[-1]) and not math.isnan(got.energy_mean_db[-1])
    # default reference: median of voiced F0 inside the IPUs
    g2 = ipu_features(t, f0, en, [IPU("a", 0.0, 1.0), IPU("a", 5.0, 6.0)])
    inside = ((t >= 0) & (t <= 1)) | ((t >= 5) & (t <= 6))
    v = f0[inside & np.isfinite(f0) & (f0 > 0)]
    assert g2.ref_hz == pytest.approx(float(np.median(v)))
    d = g2.as_dicts()
    assert len(d) == 2 and set(d[0]) == set(got.NAMES)


def test_ipu_features_semitones_of_a_tone():
    t = np.arange(0, 2, 0.01)
    f0 = np.where(t < 1, 100.0, 200.0)
    got = ipu_features(t, f0, np.zeros_like(t), [(0.0, 0.995), (1.0, 2.0)], ref_hz=100.0)
    np.testing.assert_allclose(got.f0_mean_st, [0.0, 12.0], atol=1e-12)
    np.testing.assert_allclose(got.f0_max_st, [0.0, 12.0], atol=1e-12)


def test_ipu_features_bad_input():
    t = np.arange(10.0)
    with pytest.raises(ProsyncError, match="equal length"):
        ipu_features(t, np.ones(9), np.ones(10), [(0, 1)])
    with pytest.raises(ProsyncError, match="non-decreasing"):
        ipu_features(t[::-1], np.ones(10), np.ones(10), [(0, 1)])
    with pytest.raises(ProsyncError, match="ends before it starts"):
        ipu_features(t, np.ones(10), np.ones(10), [(2, 1)])
    with pytest.raises(ProsyncError, match=r"\(n, 2\)"):
        ipu_features(t, np.ones(10), np.ones(10), [(0, 1, 2)])


# ------------------------------------------------------------------------------------------------
# Levitan & Hirschberg 2011
# ------------------------------------------------------------------------------------------------


def _dialogue(n_turns, rng, follow=0.0, noise=1.0, diff_scale=None):
    """Alternating turns A, B, A, ... ; ``follow`` plants B = A(prev) + noise."""
    turns, t, prev = [], 0.0, None
    for k in range(n_turns):
        spk = "AB"[k % 2]
        if spk == "A" or prev is None or not follow:
            v = float(rng.normal(200, 30))
        else:
            scale = noise if diff_scale is None else diff_scale(k)
            v = prev + float(rng.normal(0, scale))
        dur = float(rng.uniform(0.5, 3))
        turns.append(Turn(spk, t, t + dur, {"f0_mean_hz": v}))
        prev = v
        t += dur + 0.2
    return turns


def test_lh_planted_entrainment_is_found():
    turns = _dialogue(80, np.random.default_rng(1), follow=1.0, noise=2.0)
    prox = local_proximity(turns, "f0_mean_hz", responder="B")
    assert prox.mean_partner < prox.mean_nonpartner / 5
    assert prox.t > 5 and prox.p < 1e-6 and prox.reason == ""
    syn = local_synchrony(turns, "f0_mean_hz", responder="B")
    assert syn.value > 0.95 and syn.p < 1e-6 and syn.n == 40


def test_lh_independent_speakers_show_nothing():
    turns = _dialogue(200, np.random.default_rng(2))
    prox = local_proximity(turns, "f0_mean_hz")
    syn = local_synchrony(turns, "f0_mean_hz")
    con = local_convergence(turns, "f0_mean_hz")
    assert prox.p > 0.01 and abs(syn.value) < 0.2 and abs(con.value) < 0.2


def test_lh_converging_differences_give_negative_convergence():
    n = 120
    turns = _dialogue(n, np.random.default_rng(4), follow=1.0,
                      diff_scale=lambda k: 40.0 * (1 - k / n) + 0.5)
    con = local_convergence(turns, "f0_mean_hz", responder="B")
    assert con.value < -0.4 and con.p < 1e-3
    con_i = local_convergence(turns, "f0_mean_hz", responder="B", against="index")
    assert con_i.value < -0.4
    # diverging: reversed schedule
    turns = _dialogue(n, np.random.default_rng(4), follow=1.0,
                      diff_scale=lambda k: 40.0 * k / n + 0.5)
    assert local_convergence(turns, "f0_mean_hz", responder="B").value > 0.4


def test_lh_proximity_matches_slow_reference_and_baseline_options():
    rng = np.random.default_rng(5)
    turns = _dialogue(41, rng, follow=1.0, noise=10.0)
    # a repeated speaker (no exchange) and a NaN value
    turns.insert(5, Turn(turns[4].speaker, turns[4].end_s + 0.05, turns[4].end_s + 0.1,
                         {"f0_mean_hz": 190.0}))
    turns[9] = Turn(turns[9].speaker, turns[9].start_s, turns[9].end_s,
                    {"f0_mean_hz": math.nan})
    prox = local_proximity(list(reversed(turns)), "f0_mean_hz")  # order does not matter
    part, nonp = naive_proximity(turns, "f0_mean_hz")
    np.testing.assert_allclose(prox.partner_diff, part, rtol=1e-13)
    np.testing.assert_allclose(prox.nonpartner_diff, nonp, rtol=1e-13)
    from scipy import stats
    ref = stats.ttest_rel(nonp, part)
    assert prox.t == pytest.approx(ref.statistic) and prox.p == pytest.approx(ref.pvalue)
    # the paper's 10 random non-adjacent turns: seeded, reproducible, same partner diffs
    p10 = local_proximity(turns, "f0_mean_hz", n_nonadjacent=10, seed=3)
    p10b = local_proximity(turns, "f0_mean_hz", n_nonadjacent=10, seed=3)
    np.testing.assert_array_equal(p10.nonpartner_diff, p10b.nonpartner_diff)
    np.testing.assert_array_equal(p10.partner_diff, prox.partner_diff)
    assert p10.t > 0


def test_lh_pairs_use_turn_edge_ipus():
    t1 = Turn("A", 0, 2, {"x": 100.0}, features_final={"x": 150.0})
    t2 = Turn("B", 2.2, 4, {"x": 300.0}, features_initial={"x": 160.0})
    pairs = turn_pairs([t2, t1], "x")
    assert pairs.prev.tolist() == [150.0] and pairs.cur.tolist() == [160.0]
    assert pairs.responder == ["B"]
    ipus = [IPU("A", 0, 1, {"x": 1.0}), IPU("A", 1.5, 2.5, {"x": 3.0}),
            IPU("B", 3, 4, {"x": 5.0}), IPU("A", 4.5, 5, {"x": 7.0})]
    turns = turns_from_ipus(ipus)
    assert [u.speaker for u in turns] == ["A", "B", "A"]
    assert turns[0].features["x"] == pytest.approx(2.0)
    assert turns[0].features_initial["x"] == 1.0 and turns[0].features_final["x"] == 3.0
    assert turns[0].end_s == 2.5
    assert turn_pairs(turns, "x").prev.tolist() == [3.0, 5.0]


def test_lh_degenerate_gives_nan_with_reason():
    few = _dialogue(2, np.random.default_rng(0))
    res = levitan_hirschberg(few, ["f0_mean_hz"])["f0_mean_hz"]
    for st in (res.convergence, res.synchrony):
        assert math.isnan(st.value) and st.reason and st.n == 1
    assert math.isnan(res.proximity.t) and res.proximity.reason
    # all-NaN feature and a feature nobody has
    nan_turns = [Turn("AB"[k % 2], k, k + 0.5, {"f0_mean_hz": math.nan}) for k in range(10)]
    out = levitan_hirschberg(nan_turns)
    for r in out.values():
        assert math.isnan(r.synchrony.value) and "0 turn exchanges" in r.synchrony.reason
        assert math.isnan(r.proximity.t) and r.proximity.reason
    # zero variance
    flat = [Turn("AB"[k % 2], k, k + 0.5, {"x": 100.0}) for k in range(10)]
    assert "zero variance" in local_synchrony(flat, "x").reason
    assert "zero variance" in local_convergence(flat, "x").reason
    assert "zero variance" in local_proximity(flat, "x").reason
    # one speaker only: no exchanges
    mono = [Turn("A", k, k + 0.5, {"x": float(k)}) for k in range(10)]
    assert local_synchrony(mono, "x").n == 0
    assert levitan_hirschberg([])["rate_sps"].synchrony.reason


@pytest.mark.parametrize("call, words", [
    (lambda: local_synchrony([Turn("A", 2, 1, {"x": 1.0})], "x"), "ends before it starts"),
    (lambda: local_proximity([Turn("A", 0, 1), Turn("B", 1, 2), Turn("C", 2, 3)], "x"),
     "dyadic"),
    (lambda: local_convergence([], "x", against="turns"), "against"),
    (lambda: turns_from_ipus([IPU("A", 0, math.inf)]), "non-finite"),
])
def test_lh_bad_input_one_line_error(call, words):
    with pytest.raises(ProsyncError) as ei:
        call()
    assert words in str(ei.value) and "\n" not in str(ei.value)


def test_tama_reasons_are_specific():
    # speaker b silent throughout; a has a missing frame
    ipus = [IPU("a", 1, 2, {"x": 1.0}), IPU("a", 25, 26, {"x": 2.0}), IPU("b", 0, 0, {})]
    res = tama(ipus, "x", 60.0, speakers=("a", "b"))
    assert "'b' has no IPU" in res.synchrony[("a", "b")].reason
    ipus += [IPU("b", k, k + 1, {"x": float(k % 7)}) for k in range(0, 60, 3)]
    res = tama(ipus, "x", 60.0, speakers=("a", "b"), package_denominator=True)
    assert "missing frame" in res.synchrony[("a", "b")].reason
    assert "4 per lag" in res.synchrony[("b", "a")].reason
