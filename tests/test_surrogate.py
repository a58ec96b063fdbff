"""Tests of native/surrogate.py against the plain loops of tests/ref_surrogate.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prosync.native.surrogate import (
    find_runs,
    frame_runs,
    hold_runs,
    pool_p,
    pooled_profiles,
    rand_below,
    rotate_runs,
    session_profiles,
    shift_surrogates,
    splice_runs,
    utterance_surrogates,
)
from tests import ref_surrogate as ref


def _series(rng, n, nan_frac=0.2, hold=False):
    x = np.cumsum(rng.standard_normal(n)) * 0.3 + rng.standard_normal(n)
    x[rng.random(n) < nan_frac] = np.nan
    if hold:  # held values: exact constant stretches, as the tracker's hold makes them
        for s in rng.integers(0, n - 30, 4):
            x[s:s + 25] = x[s]
    return x


def test_rand_below_is_splitmix64():
    st = np.array([12345], np.uint64)
    mine = [12345]
    for m in (2, 7, 1000, 3, 2 ** 40):
        assert rand_below(st, m) == ref.splitmix_below(mine, m)


@pytest.mark.parametrize("seed", range(4))
def test_shift_surrogates_match_plain_loop(seed):
    rng = np.random.default_rng(seed)
    win, lag, sep, H = 20, 4, 24, 120
    h1, h2 = _series(rng, H, hold=seed % 2 == 1), _series(rng, H, 0.5 if seed >= 2 else 0.2)
    pool = np.full(7, np.nan)
    st = np.array([seed + 1], np.uint64)
    pos = shift_surrogates(h1, h2, win, lag, sep, 10, st, np.empty((4, win + lag)), pool, 3)
    assert pos == (3 + 10) % 7
    want = ref.shift_surrogates(h1, h2, win, lag, sep, 10, [seed + 1])
    ring = np.full(7, np.nan)
    for j, v in enumerate(want):
        ring[(3 + j) % 7] = v
    np.testing.assert_allclose(pool, ring, atol=1e-12)
    assert int(st[0]) != seed + 1
    if seed >= 2:  # half the values missing: some chunks are sparse, their surrogate NaN
        assert np.isnan(pool).any() and np.isfinite(pool).any()


def test_shift_surrogates_need_history():
    h = np.arange(40.0)
    pool = np.full(5, np.nan)
    st = np.array([1], np.uint64)
    assert shift_surrogates(h, h, 20, 4, 24, 3, st, np.empty((4, 24)), pool, 2) == 2
    assert np.isnan(pool).all() and int(st[0]) == 1


def test_pool_p_rank_and_min_pool():
    rng = np.random.default_rng(0)
    h = rng.standard_normal(50)
    r = np.array([0.1, -0.6, np.nan, 0.3])
    pool = np.array([0.2, 0.7, 0.6, np.nan, 0.1, 0.65])
    p, nv = pool_p(r, h, h, 20, 2, pool, 5)
    assert p == pytest.approx(ref.pool_p(r, pool, 5)) and p == pytest.approx(4 / 6)
    assert nv == 20
    assert math.isnan(pool_p(r, h, h, 20, 2, pool, 6)[0])
    assert math.isnan(pool_p(np.full(4, np.nan), h, h, 20, 2, pool, 1)[0])


@pytest.mark.parametrize("seed", range(3))
def test_session_profiles_match_rolled_windows(seed):
    rng = np.random.default_rng(seed)
    n, win, lag, step = 150, 20, 3, 4
    a = _series(rng, n, hold=True)
    b = _series(rng, n, nan_frac=0.3 if seed == 2 else 0.1)
    b[60:100] = np.nan if seed == 1 else b[60:100]  # sparse windows for seed 1
    shifts = np.array([0, 29, 30, 75, 120, 149], np.int64)
    prof = np.empty((len(shifts), 2 * lag + 1))
    cnt = np.empty_like(prof)
    session_profiles(a, b, win, lag, step, shifts, np.empty((9, n + 1)), prof, cnt)
    wp, wc = ref.session_profiles(a, b, win, lag, step, shifts)
    np.testing.assert_array_equal(cnt, wc)
    np.testing.assert_allclose(prof, wp, atol=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_pooled_profiles_match_rolled_pairs(seed):
    rng = np.random.default_rng(seed)
    n, lag = 140, 4
    a = _series(rng, n, hold=True)
    b = _series(rng, n, nan_frac=0.3 if seed == 2 else 0.1)
    own_a = (rng.random(n) < 0.6).astype(float) if seed else np.ones(n)
    own_b = (rng.random(n) < 0.5).astype(float) if seed else np.ones(n)
    shifts = np.array([0, 9, 70, 139], np.int64)
    prof = np.empty((len(shifts), 2 * lag + 1))
    cnt = np.empty_like(prof)
    pooled_profiles(a, b, own_a, own_b, lag, shifts, prof, cnt)
    wp, wc = ref.pooled_profiles(a, b, own_a, own_b, lag, shifts)
    np.testing.assert_array_equal(cnt, wc)
    np.testing.assert_allclose(prof, wp, atol=1e-10)
    assert np.isfinite(prof).all()
    if seed:  # the follower-speaks rule drops pairs at every lag
        full = np.empty_like(cnt)
        pooled_profiles(a, b, np.ones(n), np.ones(n), lag, shifts, prof, full)
        assert (cnt < full).all()


def test_pooled_profiles_constant_or_empty_side_is_nan():
    n = 50
    ones = np.ones(n)
    prof = np.empty((1, 3))
    cnt = np.empty_like(prof)
    pooled_profiles(np.full(n, 2.0), np.arange(n, dtype=float), ones, ones, 1,
                    np.zeros(1, np.int64), prof, cnt)
    assert np.isnan(prof).all() and (cnt == [[49, 50, 49]]).all()
    pooled_profiles(np.arange(n, dtype=float), np.arange(n, dtype=float), ones, np.zeros(n), 1,
                    np.zeros(1, np.int64), prof, cnt)
    assert np.isnan(prof[0, 2]) and cnt[0, 2] == 0 and prof[0, 1] == pytest.approx(1.0)


def test_session_profiles_shift_zero_is_the_real_pairing():
    """Shift 0 must never wrap: its cells are the batch WCC of the unshifted series."""
    from prosync.engine.wcc import wcc

    rng = np.random.default_rng(5)
    a, b = _series(rng, 200, 0.05), _series(rng, 200, 0.05)
    prof = np.empty((1, 9))
    cnt = np.empty_like(prof)
    session_profiles(a, b, 30, 4, 5, np.zeros(1, np.int64), np.empty((9, 201)), prof, cnt)
    m = wcc(a, b, rate_hz=10, lag_s=0.4, window_s=3.0, step_s=0.5, fisher_z=False,
            absolute=False, sparse="nan").matrix
    np.testing.assert_allclose(prof[0], np.nansum(m, axis=0), atol=1e-10)
    np.testing.assert_array_equal(cnt[0], np.isfinite(m).sum(axis=0))


def _gappy(rng, n):
    x = rng.standard_normal(n)
    gaps = np.repeat(rng.random(n // 5 + 1) < 0.45, 5)[:n] | (rng.random(n) < 0.1)
    x[gaps] = np.nan
    return x


@pytest.mark.parametrize("seed", range(3))
def test_runs_hold_and_permutation_match_plain_loops(seed):
    rng = np.random.default_rng(seed)
    raw = _gappy(rng, 300)
    starts = np.empty(300, np.int64)
    ends = np.empty(300, np.int64)
    n = find_runs(raw, 3, starts, ends)
    runs = ref.find_runs(raw, 3)
    assert list(zip(starts[:n], ends[:n])) == runs and n > 8
    for hb, bridge in ((0, 0), (2, 3), (40, 3), (40, 40)):
        out = np.empty(300)
        hold_runs(raw, hb, bridge, out)
        np.testing.assert_allclose(out, ref.hold_runs(raw, hb, bridge), atol=1e-12)
    out = np.empty(300)
    rotate_runs(raw, starts, ends, n, seed + 2, False, out)
    np.testing.assert_array_equal(out, ref.rotate_runs(raw, runs, seed + 2))
    back = np.empty(300)
    rotate_runs(raw, starts, ends, n, seed + 2, True, back)
    np.testing.assert_array_equal(back, ref.rotate_runs(raw, runs, seed + 2, reverse=True))
    s0, e0 = runs[0]
    np.testing.assert_array_equal(back[s0:e0], out[s0:e0][::-1])  # same length, same source
    for k, rev in ((seed + 2, False), (seed + 5, True)):
        sp = np.empty(300)
        splice_runs(raw, starts, ends, n, k, rev, sp)
        np.testing.assert_array_equal(sp, ref.splice_runs(raw, runs, k, rev))
    # a content as long as its slot is copied as it is
    same = np.empty(300)
    splice_runs(raw, starts, ends, n, 0, False, same)
    inside0 = np.zeros(300, bool)
    for s, e in runs:
        inside0[s:e] = True
    np.testing.assert_array_equal(same[inside0], raw[inside0])
    # the slots keep their timing: missing exactly outside the runs (and where the source was)
    inside = np.zeros(300, bool)
    for s, e in runs:
        inside[s:e] = True
    assert np.all(np.isnan(out[~inside]))


@pytest.mark.parametrize("seed", range(4))
def test_utterance_surrogates_match_plain_loop(seed):
    rng = np.random.default_rng(50 + seed)
    win, lag, H, hb, bridge = 20, 4, 150, 6, 2
    r1, r2 = _gappy(rng, H), _gappy(rng, H)
    if seed == 2:  # the first speaker has too few runs: time shifts
        r1[: H - 40] = np.nan
    if seed == 3:  # neither has enough: time shifts
        r1[: H - 40] = np.nan
        r2[: H - 40] = np.nan
    h1, h2 = ref.hold_runs(r1, hb, bridge), ref.hold_runs(r2, hb, bridge)
    pool = np.full(9, np.nan)
    st = np.array([seed + 7], np.uint64)
    scr = np.empty((4, win + lag))
    runs = np.empty((4, H), np.int64)
    sur = np.empty((2, H))
    pos = utterance_surrogates(h1, h2, r1, r2, win, lag, win + lag, hb, bridge, 2, 6, 12, st,
                               scr, runs, sur, pool, 5)
    assert pos == (5 + 12) % 9
    want = ref.utterance_surrogates(h1, h2, r1, r2, win, lag, win + lag, hb, bridge, 2, 6, 12,
                                    [seed + 7])
    ring = np.full(9, np.nan)
    for j, v in enumerate(want):
        ring[(5 + j) % 9] = v
    np.testing.assert_allclose(pool, ring, atol=1e-12)
    if seed == 3:  # time shifts over histories with 40 samples of values: chunks mostly empty
        assert np.isnan(pool).sum() >= 5
    elif seed < 2:
        assert np.isfinite(pool).sum() >= 5


@pytest.mark.parametrize("seed", range(4))
def test_frame_runs_matches_plain_loop_and_repeats_no_value(seed):
    """Each slot framed by its content at the content's own rate (first half at the onset,
    second half ending at the end), the next runs' contents in between where the content is
    shorter: filled exactly where the runs are, no value of a slot repeated."""
    rng = np.random.default_rng(90 + seed)
    n = 400
    raw = np.cumsum(rng.random(n) + 0.01)  # every value distinct
    for s in rng.integers(0, n, 40):
        raw[s:s + rng.integers(1, 15)] = np.nan
    starts = np.empty(n, np.int64)
    ends = np.empty(n, np.int64)
    nrun = find_runs(raw, 2, starts, ends)
    runs = ref.find_runs(raw, 2)
    lengths = [e - s for s, e in runs]
    assert nrun > 8 and min(lengths) < max(lengths) // 2  # short and long runs
    inside = np.zeros(n, bool)
    for s, e in runs:
        inside[s:e] = True
    for k in (1, 2, nrun // 2, nrun - 1):
        for rev in (False, True):
            out = np.empty(n)
            frame_runs(raw, starts, ends, nrun, k, rev, out)
            np.testing.assert_array_equal(out, ref.frame_runs(raw, runs, k, rev))
            assert np.all(np.isnan(out[~inside]))
            for i, (s, e) in enumerate(runs):
                sj, ej = runs[(i + k) % nrun]
                c = raw[sj:ej][::-1] if rev else raw[sj:ej]
                fin = out[s:e][np.isfinite(out[s:e])]
                assert len(np.unique(fin)) == len(fin)  # nothing stretched
                if np.isfinite(c[0]):
                    assert out[s] == c[0]  # the content's onset at the slot's
                if len(c) > 1 and e - s > 1 and np.isfinite(c[-1]):
                    assert out[e - 1] == c[-1]  # and its end at the slot's end
    # a content as long as its slot is copied as it is
    same = np.empty(n)
    frame_runs(raw, starts, ends, nrun, 0, False, same)
    np.testing.assert_array_equal(same[inside], raw[inside])
