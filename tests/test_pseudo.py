"""Tests of engine/pseudo.py: pseudo-dyads across sessions, grand averages and Cohen's d."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prosync.engine.errors import ProsyncError
from prosync.engine.pseudo import cohens_d, grand_average, pseudo_dyads, welch_p
from tests.ref_wcc import meaccf

KW = dict(rate_hz=10, lag_s=3, window_s=30, step_s=10)


def _ar1(rng, n, phi=0.9):
    e = rng.standard_normal(n)
    x = np.empty(n)
    x[0] = e[0]
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def _corpus(n_sessions, coupled, seed=0, n=1500):
    """Sessions whose two speakers share a source (s2 follows by 1 s) or are independent;
    lengths differ so that pseudo-dyads are truncated."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n_sessions):
        m = n + 100 * i
        src = _ar1(rng, m + 10)
        s1 = src[10:] + 0.5 * rng.standard_normal(m)
        s2 = (src[:m] if coupled else _ar1(rng, m)) + 0.5 * rng.standard_normal(m)
        s1[rng.random(m) < 0.05] = np.nan
        out[f"s{i}"] = {"f0": (s1, s2), "energy": (s2[::-1].copy(), s1[::-1].copy())}
    return out


def test_grand_average_is_rmea_grandaver():
    rng = np.random.default_rng(1)
    s1, s2 = _ar1(rng, 700), _ar1(rng, 700)
    _, _, ref = meaccf(s1, s2, 10, 3, 30, 10, True, True)
    assert grand_average(s1, s2, **KW) == pytest.approx(ref["grandAver"], abs=1e-9)


def test_cohens_d_pooled():
    x, y = [1.0, 2.0, 3.0, 4.0], [4.0, 6.0, 7.0, 4.0]
    sp = math.sqrt((3 * np.var(x, ddof=1) + 3 * np.var(y, ddof=1)) / 6)
    assert cohens_d(x, y) == pytest.approx((np.mean(x) - np.mean(y)) / sp)
    assert math.isnan(cohens_d([1.0], [1.0, 2.0])) and math.isnan(cohens_d([1, 1], [1, 1]))


def test_planted_synchrony_real_beats_pseudo():
    res = pseudo_dyads(_corpus(5, coupled=True), **KW)
    assert set(res) == {"energy", "f0"}
    for f, r in res.items():
        assert r.n_real == 5 and r.n_pseudo == 20          # every ordered cross pairing
        assert r.real_mean > r.pseudo_mean
        assert r.cohens_d > 2.0, (f, r.cohens_d)
        assert r.p_value < 0.01, (f, r.p_value)
        assert not r.reason and not r.skipped
        assert all(p[0][0] != q[0] and p[1] == 0 and q[1] == 1 for p, q in r.pseudo)


def test_no_synchrony_real_like_pseudo():
    res = pseudo_dyads(_corpus(5, coupled=False, seed=3), **KW)
    for r in res.values():
        assert abs(r.cohens_d) < 1.0, r.cohens_d
        assert r.p_value > 0.05, r.p_value


def test_identical_sessions_have_no_effect_size():
    """12 copies of one session: every real and every pseudo value is the same up to float
    rounding (sds ~1e-17), so d must be undefined with a reason, not a ratio of rounding errors."""
    one = _corpus(1, coupled=True, seed=5)["s0"]
    res = pseudo_dyads({f"s{i}": one for i in range(12)}, **KW)
    for r in res.values():
        assert r.n_real == 12 and r.real_sd < 1e-12
        assert math.isnan(r.cohens_d) and math.isnan(r.p_value)
        assert "no spread" in r.reason
    x = np.full(12, 0.1) + np.arange(12) * 1e-18
    assert math.isnan(cohens_d(x, x[::-1].copy())) and math.isnan(welch_p(x, x))


def test_welch_p_matches_scipy():
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(2)
    x, y = rng.normal(0.3, 0.1, 8), rng.normal(0.2, 0.2, 40)
    assert welch_p(x, y) == pytest.approx(ttest_ind(x, y, equal_var=False).pvalue, rel=1e-12)
    assert math.isnan(welch_p([1.0], y))


def test_pseudo_values_are_truncated_cross_pairs():
    corpus = _corpus(3, coupled=True, seed=4)
    res = pseudo_dyads(corpus, features=["f0"], **KW)["f0"]
    for (p, q), v in res.pseudo.items():
        a = corpus[p[0]]["f0"][p[1]]
        b = corpus[q[0]]["f0"][q[1]]
        n = min(len(a), len(b))
        assert v == pytest.approx(grand_average(a[:n], b[:n], **KW))
    for s, v in res.real.items():
        assert v == pytest.approx(grand_average(*corpus[s]["f0"], **KW))


def test_rmea_pairing_count():
    res = pseudo_dyads(_corpus(4, coupled=True), pairing="rmea", features=["f0"], **KW)["f0"]
    assert res.n_pseudo == math.comb(8, 2) - 4
    pairs = set(res.pseudo)
    assert all(not (p[0] == q[0] and p[1] != q[1]) for p, q in pairs)
    assert not any((q, p) in pairs for p, q in pairs)   # unordered: each pair once
    assert any(p[1] == q[1] for p, q in pairs)          # s1 with s1, s2 with s2 too


def test_bare_pairs_and_errors():
    rng = np.random.default_rng(0)
    two = {"a": (_ar1(rng, 500), _ar1(rng, 500)), "b": (_ar1(rng, 500), _ar1(rng, 500))}
    res = pseudo_dyads(two, **KW)
    assert set(res) == {"value"} and res["value"].n_pseudo == 2
    assert res["value"].reason == ""
    with pytest.raises(ProsyncError, match="at least 2 sessions"):
        pseudo_dyads({"a": two["a"]}, **KW)
    with pytest.raises(ProsyncError, match="pairing"):
        pseudo_dyads(two, pairing="x", **KW)
    with pytest.raises(ProsyncError, match="missing"):
        pseudo_dyads(two, features=["f0"], **KW)
    with pytest.raises(ProsyncError, match="pair"):
        pseudo_dyads({"a": 3, "b": 4}, **KW)


def test_too_short_pairings_are_skipped_with_reason():
    rng = np.random.default_rng(2)
    sess = {"long1": (_ar1(rng, 600), _ar1(rng, 600)), "long2": (_ar1(rng, 600), _ar1(rng, 600)),
            "short": (_ar1(rng, 100), _ar1(rng, 100))}
    r = pseudo_dyads(sess, **KW)["value"]
    assert math.isnan(r.real["short"]) and r.n_real == 2
    assert r.n_pseudo == 2 and len(r.skipped) == 1 + 4
    assert all("too short" in msg for _, msg in r.skipped)
    assert math.isfinite(r.cohens_d) or r.reason
