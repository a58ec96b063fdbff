"""Tests of native/surrogate.py against plain numpy loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prosync.native.surrogate import (
    add_surrogates,
    corr,
    peak_abs_r,
    pool_z,
    random_perms,
    surrogate_peaks,
)
from prosync.native.wcc import pair_corr


def ref_corr(x, y):
    """Pearson r over complete pairs with rMEA's NA rules, plain numpy."""
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if np.sum(x != y) < 2 or len(x) < 2 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def ref_peak(h1, y, win, lag):
    a0 = len(h1) - (win + lag)
    best = math.nan
    for L in range(-lag, lag + 1):
        a = a0 + max(-L, 0)
        b = a0 + max(L, 0)
        r = ref_corr(h1[a:a + win], y[b:b + win])
        if not math.isnan(r) and (math.isnan(best) or abs(r) > best):
            best = abs(r)
    return best


def ref_surrogates(h1, h2, win, lag, seg, perms):
    out = []
    for p in perms:
        y = np.concatenate([h2[s * seg:(s + 1) * seg] for s in p])
        out.append(ref_peak(h1, y, win, lag))
    return np.array(out)


def _series(rng, n, nan_frac=0.1):
    x = np.cumsum(rng.standard_normal(n)) * 0.2 + rng.standard_normal(n)
    x[rng.random(n) < nan_frac] = np.nan
    return x


@pytest.mark.parametrize("seed", range(5))
def test_corr_matches_numpy_and_two_pass_kernel(seed):
    rng = np.random.default_rng(seed)
    x, y = _series(rng, 120), _series(rng, 120)
    if seed == 3:
        x[:60] = 2.0           # constant over the first window: NaN there
    if seed == 4:
        y[:] = x               # identical: NaN (x != y in fewer than 2 pairs)
    for a, b, w in ((0, 0, 50), (5, 0, 60), (0, 7, 40), (30, 30, 80)):
        want = ref_corr(x[a:a + w], y[b:b + w])
        got = corr(x, y, a, b, w)
        two = pair_corr(x, y, a, b, w)
        if math.isnan(want):
            assert math.isnan(got) and math.isnan(two)
        else:
            assert got == pytest.approx(want, abs=1e-12)
            assert got == pytest.approx(two, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_surrogate_peaks_match_plain_loop(seed):
    rng = np.random.default_rng(10 + seed)
    seg, nseg, win, lag = 5, 12, 20, 4
    h1, h2 = _series(rng, seg * nseg), _series(rng, seg * nseg)
    perms = np.argsort(rng.random((7, nseg)), axis=1)
    out = np.empty(7)
    surrogate_peaks(h1, h2, win, lag, seg, perms, np.empty(seg * nseg), out)
    np.testing.assert_allclose(out, ref_surrogates(h1, h2, win, lag, seg, perms), atol=1e-12)
    # identity permutation: the real peak
    ident = np.arange(nseg)[None, :]
    surrogate_peaks(h1, h2, win, lag, seg, ident, np.empty(seg * nseg), out[:1])
    assert out[0] == pytest.approx(peak_abs_r(h1, h2, seg * nseg - win - lag, win, lag))
    assert out[0] == pytest.approx(ref_peak(h1, h2, win, lag), abs=1e-12)


def _perms(state, k, nseg):
    p = np.empty((k, nseg), np.int64)
    random_perms(state, k, nseg, p)
    return p


def test_random_perms_are_uniform_permutations():
    st = np.array([12345], np.uint64)
    p = _perms(st, 4000, 6)
    assert all(sorted(row) == list(range(6)) for row in p)
    # every value equally likely at every position (chi-square-ish bound)
    for pos in range(6):
        counts = np.bincount(p[:, pos], minlength=6)
        assert np.all(np.abs(counts - 4000 / 6) < 5 * np.sqrt(4000 / 6))
    # the stream is deterministic from its state
    assert np.array_equal(_perms(np.array([7], np.uint64), 3, 9), _perms(np.array([7], np.uint64), 3, 9))


def test_add_surrogates_and_pool_z_match_numpy():
    rng = np.random.default_rng(3)
    seg, nseg, win, lag = 5, 12, 20, 4
    h1, h2 = _series(rng, seg * nseg, 0.0), _series(rng, seg * nseg, 0.0)
    h1[-10] = np.nan
    r = rng.uniform(-0.9, 0.9, 2 * lag + 1)
    r[2] = np.nan
    pool = np.full(6, np.nan)
    st = np.array([99], np.uint64)
    perms = _perms(st.copy(), 4, nseg)
    pos = add_surrogates(h1, h2, win, lag, seg, 4, st, np.empty(seg * nseg), pool, 0)
    assert pos == 4
    sur = ref_surrogates(h1, h2, win, lag, seg, perms)
    np.testing.assert_allclose(pool[:4], sur, atol=1e-12)
    z, n_valid = pool_z(r, h1, h2, win, lag, pool)
    assert math.isnan(z)                       # only 4 of the 5 needed surrogates
    assert n_valid == win - 1                  # one NaN inside the lag-0 span
    perms2 = _perms(st.copy(), 3, nseg)
    pos = add_surrogates(h1, h2, win, lag, seg, 3, st, np.empty(seg * nseg), pool, pos)
    assert pos == 1                            # wrapped around the ring of 6
    sur2 = ref_surrogates(h1, h2, win, lag, seg, perms2)
    want_pool = np.r_[sur2[2], sur[1:4], sur2[:2]]
    np.testing.assert_allclose(pool, want_pool, atol=1e-12)
    z, _ = pool_z(r, h1, h2, win, lag, pool)
    real = np.nanmax(np.abs(r))
    assert z == pytest.approx((real - want_pool.mean()) / want_pool.std(ddof=1), rel=1e-10)
    z, _ = pool_z(np.full(2 * lag + 1, np.nan), h1, h2, win, lag, pool)
    assert math.isnan(z)
    assert math.isnan(pool_z(r, h1, h2, win, lag, np.ones(6))[0])   # sd = 0
