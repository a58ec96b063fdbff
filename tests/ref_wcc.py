"""Slow, obviously correct reference for rMEA's ``MEAccf`` (rMEA 1.3.0, ``R/rMEA_ccf.R``).

A literal, line-by-line transcription in plain numpy of ``MEAccf.MEA`` and ``fisher.r2z``, following
``shared/data/reference/rmea/README.md``. It keeps R's own arithmetic on indices: ``from:to`` with
possibly fractional ends, 1-based indexing that truncates fractional indices, so it reproduces even
the non-integer ``lagSec*sampRate`` quirk. Correlations use stats' ``C_cor`` recipe for
``use = "complete.obs"`` (``cov_complete2`` in R's ``src/library/stats/src/cov.c``): two-pass mean
with a correction pass, sums divided by ``n - 1``, NA for a zero standard deviation, and ``r > 1``
set to 1. R accumulates in long double; here every sum is ``math.fsum`` (correctly rounded), so
that sums of the same values in a different order agree, as R's do (rMEA's ``bestLag`` ties, e.g.
``silence_zero_runs``, depend on it). There are no speed tricks here: one window, one lag, one
correlation at a time.
"""

from __future__ import annotations

import math

import numpy as np


class RmeaStop(Exception):
    """Where rMEA stops with an error (``stop()`` or an R error); the message is rMEA's."""


def r_colon(a: float, b: float) -> np.ndarray:
    """R's ``a:b`` (here always ``a <= b``): a, a+1, ... while <= b (R allows a 1e-10 fuzz)."""
    n = int(math.floor(b - a + 1e-10)) + 1
    if n <= 0:
        raise RmeaStop("R's ':' got a descending range, which rMEA never builds")
    return a + np.arange(n, dtype=np.float64)


def r_index(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """R's ``v[idx]`` for positive 1-based, possibly fractional indices (truncated towards zero)."""
    return v[np.trunc(idx).astype(np.int64) - 1]


def c_cor_complete(x: np.ndarray, y: np.ndarray) -> float:
    """``.Call(C_cor, x, y, 2L, FALSE)``: Pearson r over complete pairs; NaN where R gives NA."""
    ind = ~(np.isnan(x) | np.isnan(y))
    nobs = int(ind.sum())
    if nobs <= 1:
        return math.nan
    xx = x[ind]
    yy = y[ind]

    def mean2(v):  # MEAN(): sum / n, then a correction pass
        tmp = math.fsum(v) / nobs
        if math.isfinite(tmp):
            tmp = tmp + math.fsum(v - tmp) / nobs
        return tmp

    xm = mean2(xx)
    ym = mean2(yy)
    n1 = nobs - 1
    cov = math.fsum((xx - xm) * (yy - ym)) / n1
    xsd = math.sqrt(math.fsum((xx - xm) * (xx - xm)) / n1)
    ysd = math.sqrt(math.fsum((yy - ym) * (yy - ym)) / n1)
    if xsd == 0.0 or ysd == 0.0:
        return math.nan
    r = cov / (xsd * ysd)
    return 1.0 if r > 1.0 else r


def fisher_r2z(m: np.ndarray) -> np.ndarray:
    """``fisher.r2z``: atanh(r), then values > 10 set to 10 and < -10 set to -10 (NA stays NA)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.arctanh(m)
    z[z > 10] = 10.0
    z[z < -10] = -10.0
    return z


def meaccf(s1, s2, samp_rate, lag_sec, win_sec, inc_sec, r2z=True, abs_=True):
    """``MEAccf.MEA``: returns ``(ccf matrix, lags_sec, ccfRes dict)`` or raises :class:`RmeaStop`.

    ``s1``/``s2`` are 1-D float arrays with NaN for NA. ``ccfRes`` holds ``all_lags, s1_lead,
    s2_lead, lag_zero, s1_lead_0, s2_lead_0, bestLag`` (arrays, or None where rMEA sets NULL) and
    ``grandAver`` (a float).
    """
    s1 = np.asarray(s1, dtype=np.float64)
    s2 = np.asarray(s2, dtype=np.float64)
    win = win_sec * samp_rate
    lag_samp = lag_sec * samp_rate
    ran = r_colon(-lag_samp, lag_samp)
    inc = inc_sec * samp_rate
    nrow = len(s1)
    n_win = math.ceil((nrow - win - lag_samp + 1) / inc)
    if n_win == 0:
        raise RmeaStop("The chosen lagSec, winSec, and incSec combination was too long to find a "
                       "single full window in session")
    if n_win < 0:
        raise RmeaStop("argument of seq_len() must be coercible to non-negative integer")

    rows = []
    for i_win in range(n_win):
        ab = r_colon(i_win * inc + 1, i_win * inc + win + lag_samp)
        x_win = r_index(s1, ab)
        y_win = r_index(s2, ab)
        if max(np.isnan(x_win).sum(), np.isnan(y_win).sum()) > len(x_win) / 2:
            # res = rep(NA, ...) is set but lcc[[iWin+1]] is not: the row is dropped and building
            # the data.frame fails.
            raise RmeaStop("length of 'dimnames' [1] not equal to array extent")
        res = np.empty(len(ran))
        for i, i_lag in enumerate(ran):
            big_lag = abs(i_lag)
            x_range = r_colon(1, win)
            y_range = r_colon(big_lag + 1, win + big_lag)
            if i_lag < 0:
                x_range, y_range = y_range, x_range
            x = r_index(x_win, x_range)
            y = r_index(y_win, y_range)
            both = ~(np.isnan(x) | np.isnan(y))
            if np.sum(x[both] != y[both]) < 2:
                res[i] = math.nan
            else:
                res[i] = c_cor_complete(x, y)
        rows.append(res)
    ccf = np.array(rows, dtype=np.float64).reshape(n_win, len(ran))
    if r2z:
        ccf = fisher_r2z(ccf)
    if abs_:
        ccf = np.abs(ccf)
    lags_sec = ran / samp_rate
    return ccf, lags_sec, ccf_res(ccf, lags_sec, lag_sec, samp_rate)


def _row_means(m: np.ndarray) -> np.ndarray:
    """``apply(m, 1, mean, na.rm=TRUE)``: NaN for a row without values."""
    out = np.full(m.shape[0], math.nan)
    for i in range(m.shape[0]):
        v = m[i][~np.isnan(m[i])]
        if len(v):
            out[i] = v.mean()
    return out


def _cols(m: np.ndarray, a: float, b: float) -> np.ndarray:
    """``m[, a:b]`` with R's fractional-index truncation."""
    return m[:, np.trunc(r_colon(a, b)).astype(np.int64) - 1]


def ccf_res(ccf: np.ndarray, lags_sec: np.ndarray, lag_sec: float, samp_rate: float) -> dict:
    """The ``ccfRes`` list of ``MEAccf.MEA`` (without ``winTimes``)."""
    ls = lag_sec * samp_rate
    best = np.full(ccf.shape[0], math.nan)
    for i in range(ccf.shape[0]):
        row = ccf[i]
        ok = ~np.isnan(row)
        if ok.any():
            j = int(np.flatnonzero(row == row[ok].max())[0])  # which.max: first maximum
            best[i] = float(lags_sec[j])
    allv = ccf[~np.isnan(ccf)]
    res = {
        "all_lags": _row_means(ccf),
        "lag_zero": ccf[:, int(ls + 1) - 1].copy(),
        "bestLag": best,
        "grandAver": float(allv.mean()) if len(allv) else math.nan,
    }
    if lag_sec > 0:
        res["s1_lead"] = _row_means(_cols(ccf, ls + 2, ls * 2 + 1))
        res["s2_lead"] = _row_means(_cols(ccf, 1, ls))
        res["s1_lead_0"] = _row_means(_cols(ccf, ls + 1, ls * 2 + 1))
        res["s2_lead_0"] = _row_means(_cols(ccf, 1, ls + 1))
    else:
        res["s1_lead"] = res["s2_lead"] = res["s1_lead_0"] = res["s2_lead_0"] = None
    return res
