"""Calibrated p-values for turn-level entrainment: Levitan & Hirschberg (2011) and TAMA.

The measures' textbook p-values (a paired t test, Pearson's r) count turn exchanges and TAMA
frames as independent draws. They are not: a speaker's level drifts over a conversation and
TAMA's 20 s frames overlap by half, so on people who never met those p-values fell below 0.05
in up to a quarter of sessions (``bench/results/sync_null.md``). The null here keeps each
speaker's own sequence whole (its autocorrelation and drift) and breaks only their pairing:

* Levitan & Hirschberg: the responder's turn-initial values are shifted over the exchanges
  (exchange ``i`` gets the value of exchange ``i + k``, no wrap, ``MIN_ROTATION <= |k| <=
  n / 2``: :func:`shifts`), the partner's turns stay where they are; proximity's t,
  convergence's r and synchrony's r are recomputed for each shift exactly as
  :mod:`.entrainment` computes them (on the exchanges the shift keeps);
* TAMA: the partner's frame series is circularly shifted by every ``k`` of ``1 .. n - 1``
  frames and the synchrony (largest |r| over lags 0..max_lag) recomputed.

``p = (1 + #{|surrogate| >= |real|}) / (1 + #surrogates)`` (two-sided); NaN below
``MIN_SURROGATES`` surrogates, so a p-value exists only from 22 exchanges (L&H) or 20 frames
(TAMA: about 3.5 minutes) on. A shifted surrogate has fewer exchanges than the real pairing,
so its statistic varies more: the test errs on the conservative side.
"""

from __future__ import annotations

import math

import numpy as np

from .entrainment import TamaResult, _fval, _sorted_turns, tama_cross_correlation, turn_pairs

#: Shifts nearer than this many exchanges to the real pairing are left out (a turn's
#: neighbours are what proximity compares it with).
MIN_ROTATION = 2
#: Fewest surrogates for a p-value (p can then reach 0.05).
MIN_SURROGATES = 19
#: Most surrogates per p-value (the cost of a shift grows with the session).
MAX_SURROGATES = 98
#: Exchanges needed for an L&H p-value (``len(shifts(n)) >= MIN_SURROGATES``).
MIN_EXCHANGES = 2 * (MIN_SURROGATES // 2 + MIN_ROTATION)


def rank_p(real: float, null) -> float:
    """Two-sided rank p of ``real`` among the finite ``null`` values (on |value|)."""
    null = np.abs(np.asarray(null, float))
    null = null[np.isfinite(null)]
    if not math.isfinite(real) or len(null) < MIN_SURROGATES:
        return math.nan
    return float((1 + np.sum(null >= abs(real))) / (1 + len(null)))


def _corr(x, y) -> float:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.clip(np.corrcoef(x, y)[0, 1], -1.0, 1.0))


def lh_p(turns, feature: str, responder: str | None = None) -> dict[str, float]:
    """Shift p-values of Levitan & Hirschberg's proximity, convergence (against time) and
    synchrony for one feature and responder (as :func:`.entrainment.levitan_hirschberg` with
    its defaults: every non-adjacent partner turn); ``n``: the exchanges."""
    real, null, n = lh_statistics(turns, feature, responder)
    out = {"proximity": math.nan, "convergence": math.nan, "synchrony": math.nan, "n": n}
    if n < MIN_EXCHANGES:
        return out
    for j, name in enumerate(("proximity", "convergence", "synchrony")):
        out[name] = rank_p(real[j], null[:, j])
    return out


def lh_statistics(turns, feature: str, responder: str | None = None):
    """``(real, null, n)``: proximity t, convergence r and synchrony r of the real pairing
    and of every shift (rows, :func:`shifts`), and the number of exchanges."""
    ts = _sorted_turns(turns)
    pairs = turn_pairs(ts, feature, responder)
    n = len(pairs.cur)
    if n < 3:
        return (math.nan,) * 3, np.empty((0, 3)), n
    spk = np.array([u.speaker for u in ts])
    final = np.array([_fval(u.features_final, u.features, feature) for u in ts])
    idx = np.arange(len(ts))
    cand = np.zeros((n, len(ts)), bool)  # each exchange's non-adjacent partner turns
    for i, (ip, ic) in enumerate(zip(pairs.prev_turn, pairs.cur_turn, strict=True)):
        ok = (spk == spk[ip]) & ~np.isnan(final)
        ok[ip] = False
        nxt = idx[ic + 1:][spk[ic + 1:] == spk[ip]]
        if nxt.size:
            ok[nxt[0]] = False
        cand[i] = ok
    has = cand.any(axis=1)
    fin = np.where(np.isnan(final), 0.0, final)
    prev, t_s = pairs.prev, pairs.t_s

    def stats(cur, sel):
        part = np.abs(cur - prev[sel])
        c = cand[sel]
        nonp = (np.abs(cur[:, None] - fin[None, :]) * c).sum(axis=1) / np.maximum(c.sum(axis=1), 1)
        dd = (nonp - part)[has[sel]]
        sd = dd.std(ddof=1) if len(dd) > 1 else 0.0
        t = dd.mean() / (sd / math.sqrt(len(dd))) if sd > 0 else math.nan
        return t, _corr(part, t_s[sel]), _corr(prev[sel], cur)

    i = np.arange(n)
    null = []
    for k in shifts(n):
        sel = i[(i + k >= 0) & (i + k < n)]
        null.append(stats(pairs.cur[sel + k], sel))
    return stats(pairs.cur, i), np.array(null).reshape(-1, 3), n


def shifts(n: int, most: int = MAX_SURROGATES) -> list[int]:
    """The surrogates' offsets: exchange ``i`` gets the responder's value of exchange ``i + k``
    (no wrap: the exchanges where ``i + k`` exists), ``MIN_ROTATION <= |k| <= n // 2``, so
    each keeps at least half the exchanges and both speakers' drift (a wrap would put a jump
    into a drifting sequence and make the real one look trending); at most ``most``, spread
    evenly."""
    ks = np.arange(MIN_ROTATION, n // 2 + 1)
    if 2 * len(ks) > most:
        ks = np.unique(np.round(np.linspace(MIN_ROTATION, n // 2, most // 2)).astype(int))
    return [*ks.tolist(), *(-ks).tolist()]


def tama_p(res: TamaResult, follower: str, partner: str, max_lag: int = 6) -> float:
    """Shift p-value of TAMA's synchrony (largest |r| over lags 0..``max_lag``) of
    ``follower`` on ``partner``: the partner's frame series circularly shifted by every
    1 .. n - 1 frames (at most ``MAX_SURROGATES``, spread evenly)."""
    a = res.series[follower].values
    b = res.series[partner].values
    sy = res.synchrony[(follower, partner)]
    n = len(a)
    if not math.isfinite(sy.unsigned) or n - 1 < MIN_SURROGATES:
        return math.nan
    null = []
    for k in np.unique(np.linspace(1, n - 1, min(n - 1, MAX_SURROGATES)).round().astype(int)):
        r = tama_cross_correlation(a, np.roll(b, k), max_lag)
        null.append(np.nanmax(np.abs(r)) if np.isfinite(r).any() else math.nan)
    return rank_p(sy.unsigned, null)
