"""Tests of engine/entrain_null.py: the shift p-values of turn-level entrainment."""

from __future__ import annotations

import math

import numpy as np
import pytest

from prosync.engine.entrain_null import MIN_EXCHANGES, lh_p, lh_statistics, rank_p, tama_p
from prosync.engine.entrainment import IPU, Turn, levitan_hirschberg, tama


def _dialogue(rng, n_turns, couple=0.0, drift=0.0):
    """Alternating turns of two speakers (3 s each): levels with a random-walk drift of
    ``drift`` per turn; the responder b's turn-initial level follows a's last by ``couple``."""
    turns, t = [], 0.0
    lev = {"a": 0.0, "b": 0.0}
    last_a = 0.0
    for k in range(n_turns):
        who = "ab"[k % 2]
        lev[who] += drift * rng.standard_normal()
        v = lev[who] + rng.standard_normal()
        if who == "b":
            v += couple * last_a
        else:
            last_a = v
        f = {"x": v}
        turns.append(Turn(who, t, t + 3.0, f, f, f))
        t += 3.2
    return turns


def test_real_statistics_are_levitan_hirschbergs():
    turns = _dialogue(np.random.default_rng(1), 60, couple=0.5)
    (t, conv, syn), null, n = lh_statistics(turns, "x", "b")
    ref = levitan_hirschberg(turns, ("x",), responder="b")["x"]
    assert n == ref.synchrony.n == 30 and null.shape == (28, 3)
    assert t == pytest.approx(ref.proximity.t)
    assert conv == pytest.approx(ref.convergence.value)
    assert syn == pytest.approx(ref.synchrony.value)


def test_shift_p_calibrated_under_drift_where_the_t_test_is_not():
    """Two speakers who never met, each drifting: the textbook synchrony p fires far above
    5 %, the shift p at or below it."""
    rot, textbook = [], []
    for seed in range(60):
        turns = _dialogue(np.random.default_rng(100 + seed), 80, drift=0.6)
        rot.append(lh_p(turns, "x", "b")["synchrony"])
        textbook.append(levitan_hirschberg(turns, ("x",), responder="b")["x"].synchrony.p)
    rot, textbook = np.array(rot), np.array(textbook)
    assert np.mean(textbook < 0.05) > 0.25, np.mean(textbook < 0.05)
    assert np.mean(rot < 0.05) <= 0.12, np.mean(rot < 0.05)


def test_shift_p_detects_coupling_and_needs_enough_exchanges():
    hits = [lh_p(_dialogue(np.random.default_rng(200 + s), 80, couple=0.8), "x", "b")["synchrony"]
            for s in range(10)]
    assert sum(p < 0.05 for p in hits) >= 8, hits
    few = lh_p(_dialogue(np.random.default_rng(3), 2 * (MIN_EXCHANGES - 1)), "x", "b")
    assert few["n"] == MIN_EXCHANGES - 1 and math.isnan(few["synchrony"])
    assert rank_p(0.5, [0.1] * 18) != rank_p(0.5, [0.1] * 18)  # NaN below 19 surrogates
    assert rank_p(-0.5, [0.1] * 19) == pytest.approx(1 / 20)


def test_tama_shift_p():
    rng = np.random.default_rng(4)
    ipus = []
    lv = np.repeat(rng.standard_normal(40), 1)
    for k in range(160):  # 2 s IPUs alternating over 320 s; b's level follows a's
        who = "ab"[k % 2]
        v = lv[k // 4] * 3 + (0.3 * rng.standard_normal())
        ipus.append(IPU(who, 2.0 * k, 2.0 * k + 1.8, {"x": v}))
    res = tama(ipus, "x", 320.0, speakers=("a", "b"))
    assert tama_p(res, "b", "a") == pytest.approx(1 / len(res.series["a"].values))
    short = tama([u for u in ipus if u.end_s < 150], "x", 150.0, speakers=("a", "b"))
    assert math.isnan(tama_p(short, "b", "a"))
