"""Tests of engine/wcc.py and native/wcc.py against rMEA's reference vectors and ref_wcc.py."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from prosync.engine.errors import ProsyncError
from prosync.engine.wcc import StreamingWcc, WccResult, pick_peaks, wcc, wcc_summary
from tests.ref_wcc import RmeaStop, meaccf

TOL = 1e-9
SUMMARY_KEYS = ("all_lags", "s1_lead", "s2_lead", "lag_zero", "s1_lead_0", "s2_lead_0", "bestLag")


def _arr(v) -> np.ndarray:
    """JSON list (``null`` = NA) to float array."""
    return np.array([math.nan if x is None else x for x in v], dtype=np.float64)


def _assert_same(got, want, what: str, tol: float = TOL) -> None:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    gn, wn = np.isnan(got), np.isnan(want)
    assert (gn == wn).all(), f"{what}: NaN pattern differs at {np.argwhere(gn != wn)[:5].tolist()}"
    if (~wn).any():
        err = np.max(np.abs(got[~wn] - want[~wn]))
        assert err <= tol, f"{what}: max abs error {err:.3g} > {tol:g}"


def _rmea_runs(shared_data):
    root = shared_data / "reference" / "rmea"
    manifest = json.loads((root / "manifest.json").read_text())
    for case, info in manifest["cases"].items():
        doc = json.loads((root / info["file"]).read_text())
        for setting, st in manifest["settings"].items():
            yield case, setting, st, doc


def _kw(st: dict, rate: float) -> dict:
    return dict(rate_hz=rate, lag_s=st["lagSec"], window_s=st["winSec"], step_s=st["incSec"],
                fisher_z=st["r2Z"], absolute=st["ABS"])


def _fractional(st: dict, rate: float) -> bool:
    return any(abs(v * rate - round(v * rate)) > 1e-9 for v in (st["lagSec"], st["winSec"],
                                                                 st["incSec"]))


# ------------------------------------------------------------------------ rMEA reference vectors


@pytest.mark.shared
def test_every_rmea_case_and_setting(shared_data):
    """Every cell of every ccf matrix and every ccfRes summary, to 1e-9 (NaN where NA)."""
    n_ok = n_err = n_quirk = 0
    for case, setting, st, doc in _rmea_runs(shared_data):
        run = doc["runs"][setting]
        rate = doc["sampRate"]
        s1, s2 = _arr(doc["input"]["s1"]), _arr(doc["input"]["s2"])
        what = f"{case} x {setting}"
        # README "Quirk" (sr25_delay0p4 x S6, lagSec*sampRate = 62.5): reproduced, not refused
        n_quirk += _fractional(st, rate)
        if run["status"] == "error":
            with pytest.raises(ProsyncError, match="rMEA"):
                wcc(s1, s2, **_kw(st, rate))
            n_err += 1
            continue
        res = wcc(s1, s2, **_kw(st, rate))
        assert isinstance(res, WccResult)
        _assert_same(res.matrix, [_arr(r) for r in run["ccf"]["matrix"]], what + " matrix")
        _assert_same(res.lags_s, run["ccf"]["lags_sec"], what + " lags", 1e-12)
        assert res.matrix.shape[0] == run["attributes_ccf"]["n_win"]
        ref = run["ccfRes"]
        summ = wcc_summary(res)
        for key in SUMMARY_KEYS:
            if ref[key] is None:
                assert summ[key] is None, f"{what} {key}: rMEA gives NULL"
            else:
                _assert_same(summ[key], _arr(ref[key]), f"{what} {key}")
        want_ga = math.nan if ref["grandAver"] is None else ref["grandAver"]
        _assert_same([summ["grandAver"]], [want_ga], what + " grandAver")
        starts = [sum(int(p) * f for p, f in zip(h.split(":"), (3600, 60, 1), strict=True))
                  for h in ref["winTimes"]["start"]]
        ends = [sum(int(p) * f for p, f in zip(h.split(":"), (3600, 60, 1), strict=True))
                for h in ref["winTimes"]["end"]]
        _assert_same(res.window_start_s, starts, what + " start", 1e-9)
        _assert_same(res.window_end_s, ends, what + " end", 1e-9)
        n_ok += 1
    assert (n_ok, n_err, n_quirk) == (75, 9, 1)


@pytest.mark.shared
def test_ref_wcc_reproduces_rmea_including_quirk(shared_data):
    """The slow reference itself matches rMEA everywhere, even the fractional-lag quirk."""
    for case, setting, st, doc in _rmea_runs(shared_data):
        if case not in ("delay_pos1p5", "silence_zero_runs", "with_na_short", "sr25_delay0p4",
                        "too_short", "with_na_long"):
            continue
        run = doc["runs"][setting]
        s1, s2 = _arr(doc["input"]["s1"]), _arr(doc["input"]["s2"])
        args = (doc["sampRate"], st["lagSec"], st["winSec"], st["incSec"], st["r2Z"], st["ABS"])
        if run["status"] == "error":
            with pytest.raises(RmeaStop):
                meaccf(s1, s2, *args)
            continue
        ccf, _, res = meaccf(s1, s2, *args)
        _assert_same(ccf, [_arr(r) for r in run["ccf"]["matrix"]], f"ref {case} {setting}")
        for key in SUMMARY_KEYS:
            if run["ccfRes"][key] is not None:
                _assert_same(res[key], _arr(run["ccfRes"][key]), f"ref {case} {setting} {key}")


@pytest.mark.shared
def test_streaming_equals_batch_on_rmea_cases(shared_data):
    rng = np.random.default_rng(7)
    for case, setting, st, doc in _rmea_runs(shared_data):
        rate = doc["sampRate"]
        if _fractional(st, rate) or doc["runs"][setting]["status"] != "ok":
            continue
        s1, s2 = _arr(doc["input"]["s1"]), _arr(doc["input"]["s2"])
        kw = _kw(st, rate)
        _check_stream(s1, s2, kw, rng, f"{case} x {setting}")


@pytest.mark.shared
def test_streaming_sparse_windows_are_nan_rows(shared_data):
    doc = json.loads((shared_data / "reference/rmea/with_na_long.json").read_text())
    s1, s2 = _arr(doc["input"]["s1"]), _arr(doc["input"]["s2"])
    kw = dict(rate_hz=10, lag_s=3, window_s=10, step_s=5, fisher_z=True, absolute=False)
    with pytest.raises(ProsyncError, match="sparse='nan'"):
        wcc(s1, s2, **kw)
    batch = wcc(s1, s2, sparse="nan", **kw)
    assert np.isnan(batch.matrix).all(axis=1).any()
    _check_stream(s1, s2, kw, np.random.default_rng(3), "with_na_long")


# ------------------------------------------------------------------------ kernel vs reference


def _random_pair(rng, n, *, nan_frac=0.05, flats=True, ties=True):
    a = np.cumsum(rng.standard_normal(n)) * 0.3 + rng.standard_normal(n)
    b = np.roll(a, int(rng.integers(-6, 7))) * rng.uniform(-2, 2) + rng.standard_normal(n) * 0.7
    b += rng.uniform(-50, 50)
    if flats:
        for _ in range(2):
            s = int(rng.integers(0, n - 40))
            a[s:s + int(rng.integers(5, 40))] = 3.0
            s = int(rng.integers(0, n - 40))
            b[s:s + int(rng.integers(5, 40))] = -1.0
    if ties:  # exact copies over a stretch: x == y pairs
        s = int(rng.integers(0, n - 30))
        b[s:s + 25] = a[s:s + 25]
    for v in (a, b):
        v[rng.random(n) < nan_frac] = np.nan
        if rng.random() < 0.5:  # a burst of missing samples
            s = int(rng.integers(0, n - 20))
            v[s:s + int(rng.integers(1, 20))] = np.nan
    return a, b


@pytest.mark.parametrize("seed", range(6))
def test_kernel_matches_reference_random_with_nans(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(120, 260))
    a, b = _random_pair(rng, n)
    rate = [1.0, 2.0, 10.0][seed % 3]
    lag = int(rng.integers(0, 8))
    win = int(rng.integers(lag + 2, 60))
    inc = int(rng.integers(1, 25))
    fz, ab = bool(seed % 2), bool((seed // 2) % 2)
    ccf, lags, ref = meaccf(a, b, rate, lag / rate, win / rate, inc / rate, fz, ab)
    res = wcc(a, b, rate_hz=rate, lag_s=lag / rate, window_s=win / rate, step_s=inc / rate,
              fisher_z=fz, absolute=ab)
    _assert_same(res.matrix, ccf, f"seed {seed}")
    _assert_same(res.lags_s, lags, "lags")
    if lag == 1:
        # ccfmat[, 2:2] is one column: R drops it to a vector and apply() stops (ref_wcc does
        # not model that drop)
        with pytest.raises(ProsyncError, match="positive length"):
            wcc_summary(res)
        return
    summ = wcc_summary(res)
    for key in SUMMARY_KEYS + ("grandAver",):
        if ref[key] is None:
            assert summ[key] is None
        else:
            _assert_same(np.atleast_1d(summ[key]), np.atleast_1d(ref[key]), key)


def test_identical_affine_and_flat_na_rules():
    rng = np.random.default_rng(11)
    a = np.cumsum(rng.standard_normal(200))
    kw = dict(rate_hz=10, lag_s=1, window_s=5, step_s=5, fisher_z=True, absolute=False)
    ident = wcc(a, a.copy(), **kw).matrix
    assert np.isnan(ident[:, 10]).all()  # x == y everywhere: NA, not r = 1
    assert np.isfinite(ident[:, 9]).all()
    aff = wcc(a, 2 * a + 1, **kw).matrix
    assert np.all(aff[:, 10] == 10.0)  # r = 1 -> atanh clipped to 10
    flat = a.copy()
    flat[:60] = 5.0
    m = wcc(flat, a, **kw).matrix
    assert np.isnan(m[0]).all()  # s1 constant over every lag of window 0: zero variance
    assert np.isfinite(m[1]).all()
    # one differing position only -> NA (rMEA: fewer than 2 positions differ)
    b = a.copy()
    b[3] += 1.0
    assert np.isnan(wcc(a, b, **kw).matrix[0, 10])


# ------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    "s1, s2, kw, match",
    [
        (np.zeros(100), np.zeros(99), {}, "same length"),
        (np.zeros((10, 10)), np.zeros((10, 10)), {}, "1-D"),
        (np.zeros(100), np.zeros(100), {"rate_hz": 0}, "rate_hz"),
        (np.zeros(100), np.zeros(100), {"rate_hz": -10}, "rate_hz"),
        (np.zeros(100), np.zeros(100), {"lag_s": 2, "window_s": 2}, "shorter than window_s"),
        (np.zeros(100), np.zeros(100), {"lag_s": -1}, "lag_s"),
        (np.zeros(100), np.zeros(100), {"step_s": 0}, "step"),
        (np.zeros(24), np.zeros(24), {}, "too short"),
        (np.r_[np.inf, np.zeros(99)], np.zeros(100), {}, "infinite"),
        (["a"] * 100, np.zeros(100), {}, "numbers"),
    ],
)
def test_validation_errors(s1, s2, kw, match):
    args = dict(rate_hz=10, lag_s=0.5, window_s=2, step_s=1) | kw
    with pytest.raises(ProsyncError, match=match) as exc:
        wcc(s1, s2, **args)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("rate, lag_s, window_s, step_s", [
    (25, 2.5, 15, 1),        # the rMEA quirk: 62.5 samples of lag
    (10, 0.15, 2, 1),        # 1.5 samples of lag
    (10, 0.35, 2.55, 0.75),  # fractional lag, window and step
    (4, 1.3, 6.1, 2.2),
    (10, 0.25, 3, 1.5),
])
def test_fractional_sample_counts_reproduce_rmea(rate, lag_s, window_s, step_s):
    """Fractional lag/window/step: R's index arithmetic (ref_wcc follows R line by line)."""
    rng = np.random.default_rng(int(rate * 100 + lag_s * 10))
    n = 600
    a = np.cumsum(rng.standard_normal(n)) * 0.3 + rng.standard_normal(n)
    b = np.roll(a, 3) + 0.7 * rng.standard_normal(n)
    a[rng.random(n) < 0.03] = np.nan
    b[rng.random(n) < 0.03] = np.nan
    for fz, ab in ((False, False), (True, True)):
        ccf, lags, ref = meaccf(a, b, rate, lag_s, window_s, step_s, fz, ab)
        res = wcc(a, b, rate_hz=rate, lag_s=lag_s, window_s=window_s, step_s=step_s,
                  fisher_z=fz, absolute=ab)
        _assert_same(res.matrix, ccf, f"{rate} {lag_s} {window_s} {step_s}")
        _assert_same(res.lags_s, lags, "lags", 1e-12)
        assert res.shift_samples is not None
        assert np.array_equal(res.shift_samples, np.sign(lags) * np.trunc(np.abs(lags * rate)))
        try:
            summ = wcc_summary(res)
        except ProsyncError as exc:
            # e.g. 1.5 lags: ccfmat[, 3.5:4] is one column, which R drops to a vector so that
            # apply() stops; ref_wcc does not model the drop
            assert "positive length" in str(exc) and lag_s * rate == 1.5
            continue
        for key in SUMMARY_KEYS + ("grandAver",):
            _assert_same(np.atleast_1d(summ[key]), np.atleast_1d(ref[key]), key)


def test_half_sample_lag_grid():
    """lag 0.5 samples: rMEA's grid is -0.5:0.5, two columns that both shift by 0 samples."""
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(100), rng.standard_normal(100)
    res = wcc(a, b, rate_hz=10, lag_s=0.05, window_s=2, step_s=1, fisher_z=False, absolute=False)
    assert res.lags_s.tolist() == [-0.05, 0.05] and res.shift_samples.tolist() == [0, 0]
    assert np.array_equal(res.matrix[:, 0], res.matrix[:, 1])
    with pytest.raises(ProsyncError, match="rMEA"):
        wcc_summary(res)


def test_streaming_refuses_fractional_samples():
    with pytest.raises(ProsyncError, match="not a whole number") as exc:
        StreamingWcc(10, 0.15, 2, 1)
    assert "\n" not in str(exc.value)


def test_lag_rounding_matches_samples():
    res = wcc(np.arange(400.0) % 7, np.arange(400.0) % 5, rate_hz=10, lag_s=2.5, window_s=15,
              step_s=1)
    assert res.lag_samples == 25 and res.matrix.shape == (int(math.ceil((400 - 150 - 25 + 1)
                                                                       / 10)), 51)
    assert res.lags_s[0] == -2.5 and res.lags_s[25] == 0.0


# ------------------------------------------------------------------------ streaming


def _check_stream(s1, s2, kw, rng, what):
    batch = wcc(s1, s2, sparse="nan", **kw)
    sw = StreamingWcc(kw["rate_hz"], kw["lag_s"], kw["window_s"], kw["step_s"],
                      kw.get("fisher_z", True), kw.get("absolute", True))
    rows, starts, i = [], [], 0
    while i < len(s1):
        k = int(rng.choice([1, 2, 3, 7, 50, 333]))
        out = sw.push(s1[i:i + k], s2[i:i + k])
        rows.append(out.matrix)
        starts.append(out.window_start_s)
        i += k
    _assert_same(np.concatenate(rows), batch.matrix, what + " stream")
    _assert_same(np.concatenate(starts), batch.window_start_s, what + " stream starts")
    return sw


@pytest.mark.parametrize("seed", range(4))
def test_streaming_equals_batch_random(seed):
    rng = np.random.default_rng(100 + seed)
    n = 1500
    a, b = _random_pair(rng, n, nan_frac=0.03)
    a[300:420] = 0.0  # silence in both (zero runs)
    b[300:420] = 0.0
    a[800:900] += 1e4  # a level jump: cancellation in running sums -> exact fallback
    fz, ab = bool(seed % 2), bool(seed // 2)
    kw = dict(rate_hz=10, lag_s=2, window_s=8, step_s=[0.1, 1.0, 3.0, 8.0][seed],
              fisher_z=fz, absolute=ab)
    sw = _check_stream(a, b, kw, rng, f"seed {seed}")
    assert sw.exact_recomputes > 0  # the level jump exercised the exact fallback


def test_streaming_reset_and_validation():
    sw = StreamingWcc(10, 1, 4, 1)
    with pytest.raises(ProsyncError, match="same length"):
        sw.push(np.zeros(3), np.zeros(4))
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(200), rng.standard_normal(200)
    first = sw.push(a, b)
    assert sw.samples_seen == 200
    sw.reset()
    again = sw.push(a, b)
    _assert_same(again.matrix, first.matrix, "after reset")
    assert len(sw.push([], [])) == 0


# ------------------------------------------------------------------------ peak picking


def _delayed(rng, n, delay, noise=0.3):
    """s2[t] = s1[t - delay] + noise (delay > 0: s2 follows s1)."""
    src = np.zeros(n + 2 * abs(delay) + 1)
    e = rng.standard_normal(len(src))
    for t in range(1, len(src)):
        src[t] = 0.9 * src[t - 1] + e[t]
    s1 = src[abs(delay):abs(delay) + n]
    s2 = src[abs(delay) - delay:abs(delay) - delay + n] + noise * rng.standard_normal(n)
    return s1, s2


@pytest.mark.parametrize("delay", [-12, -5, 0, 4, 15])
def test_pick_peaks_planted_lag(delay):
    rng = np.random.default_rng(abs(delay) + 3)
    s1, s2 = _delayed(rng, 1200, delay)
    res = wcc(s1, s2, rate_hz=10, lag_s=3, window_s=30, step_s=10, fisher_z=True, absolute=False)
    pk = pick_peaks(res, smooth=3, search=3, min_value=0.5)
    assert np.allclose(pk.lag_s, delay / 10), pk.lag_s
    assert np.all(pk.value > 0.5)
    # the global argmax (rMEA bestLag) agrees here
    assert np.allclose(wcc_summary(res)["bestLag"], delay / 10)


def test_pick_peaks_nearest_to_zero_and_antiphase():
    rng = np.random.default_rng(5)
    s1, s2 = _delayed(rng, 900, 6)
    res = wcc(s1, -s2, rate_hz=10, lag_s=2, window_s=20, step_s=10, fisher_z=False,
              absolute=False)
    assert np.isnan(pick_peaks(res).lag_s).all() or not np.allclose(pick_peaks(res).lag_s, 0.6)
    res_abs = wcc(s1, -s2, rate_hz=10, lag_s=2, window_s=20, step_s=10, fisher_z=False,
                  absolute=True)
    assert np.allclose(pick_peaks(res_abs, min_value=0.5).lag_s, 0.6)
    # two planted peaks: the one nearest lag 0 wins even when the farther one is higher
    m = np.zeros((1, 21))
    m[0, 10 + 3] = 0.4
    m[0, 10 - 7] = 0.9
    fake = WccResult(m, np.arange(-10, 11) / 10, np.zeros(1), np.ones(1), 10.0, 10, 20, 10,
                     False, False)
    pk = pick_peaks(fake, smooth=1)
    assert pk.lag_s[0] == pytest.approx(0.3) and pk.value[0] == 0.4
    with pytest.raises(ProsyncError, match="odd"):
        pick_peaks(fake, smooth=2)


def test_streaming_rows_are_bit_identical_in_any_chunking():
    """The running sums are taken about each series' first finite sample, wherever it arrives."""
    from prosync.engine.wcc import StreamingWcc

    rng = np.random.default_rng(5)
    n = 600
    a = np.cumsum(rng.standard_normal(n))
    b = np.roll(a, 7) + rng.standard_normal(n)
    a[:23] = np.nan  # leading missing stretches of different lengths
    b[:41] = np.nan
    a[300:320] = np.nan

    def rows(cuts):
        s = StreamingWcc(10, 2, 8, 0.5, fisher_z=False, absolute=False)
        out = []
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            out.append(s.push(a[lo:hi], b[lo:hi]).matrix)
        return np.concatenate(out)

    whole = rows([0, n])
    for seed in range(3):
        r = np.random.default_rng(seed)
        cuts = [0, *sorted(r.choice(np.arange(1, n), 25, replace=False)), n]
        np.testing.assert_array_equal(rows(cuts), whole)
    np.testing.assert_array_equal(rows(list(range(n + 1))), whole)
