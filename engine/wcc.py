"""Windowed lagged cross-correlation (WCC) that reproduces rMEA's ``MEAccf``, batch and streaming.

(Over 400 lines: the batch function and its streaming twin share their alignment and NA rules
and are tested against each other, so they stay in one module.)

Reference: Boker, Rotondo, Xu & King (2002), "Windowed cross-correlation and peak picking for the
analysis of variability in the association between behavioral time series", Psychological Methods
7(3); implementation anchor: rMEA 1.3.0 ``MEAccf.MEA`` (Kleinbub & Ramseyer), whose exact rules are
in ``shared/data/reference/rmea/README.md``:

* **Lags** ``-lag..lag`` samples. **Positive lag: the second speaker (s2) follows the first** (s1
  leads): cell ``(i, L)`` correlates ``s1[t0 : t0+win]`` with ``s2[t0+L : t0+L+win]`` for
  ``L >= 0`` and ``s1[t0+|L| : ...]`` with ``s2[t0 : t0+win]`` for ``L < 0``, ``t0 = i*step``.
* **Windows** are left-anchored chunks of ``win + lag`` samples reaching forwards;
  ``n_win = ceil((N - win - lag + 1) / step)``.
* **NA rules**: NaN where the complete pairs differ (``x != y``) in fewer than 2 positions (so an
  identical copy gives NaN, not r = 1), where either series has zero variance over the complete
  pairs, and pairs with a NaN in either series are dropped (``use = "complete.obs"``).
* ``fisher_z``: ``atanh(r)`` clipped to [-10, 10]; ``absolute``: ``abs()`` after that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..native import wcc as _k
from .errors import ProsyncError

__all__ = ["PeakResult", "StreamingWcc", "WccResult", "WccRows", "pick_peaks", "wcc", "wcc_summary"]

_SPARSE_CHOICES = ("raise", "nan")


@dataclass(frozen=True)
class WccResult:
    """Windowed lagged cross-correlations of two series.

    Attributes
    ----------
    matrix : ndarray, shape (n_windows, n_lags), float64
        One row per window, one column per lag (most negative first); NaN where rMEA gives NA.
        Values are r, Fisher z (``fisher_z``) and/or absolute values (``absolute``).
        ``n_lags = 2*lag_samples + 1`` for whole sample counts.
    lags_s : ndarray, shape (n_lags,)
        Lag of each column in seconds, as rMEA labels it. Positive: the second speaker (s2)
        follows s1.
    lag_samples : int
        The lag-0 column (rMEA's ``lag_zero``), which is the lag in samples for whole counts.

    Fractional sample counts (``lag_s * rate_hz`` etc. not whole numbers) reproduce rMEA's
    index arithmetic (see :func:`wcc`); then ``window_samples`` is the number of samples per
    correlation, ``step_samples`` the step truncated, and ``*_exact`` hold the real values.
    window_start_s, window_end_s : ndarray, shape (n_windows,)
        Start and end of each window's lag-0 span (rMEA's ``winTimes``; the forward lag
        extension of ``lag_s`` is not included).
    """

    matrix: np.ndarray
    lags_s: np.ndarray
    window_start_s: np.ndarray
    window_end_s: np.ndarray
    rate_hz: float
    lag_samples: int
    window_samples: int
    step_samples: int
    fisher_z: bool
    absolute: bool
    #: ``lag_s * rate_hz``, ``window_s * rate_hz``, ``step_s * rate_hz`` as R computes them
    #: (NaN when the result was built by hand). Whole numbers except in rMEA's fractional quirk.
    lag_exact: float = math.nan
    window_exact: float = math.nan
    step_exact: float = math.nan
    #: Per column, the shift in whole samples actually applied (s2 index minus s1 index;
    #: positive: s2 follows). ``lags_s * rate_hz`` except in the fractional quirk.
    shift_samples: np.ndarray | None = None


@dataclass(frozen=True)
class WccRows:
    """Rows of the windows that a :meth:`StreamingWcc.push` completed (possibly none)."""

    window_start_s: np.ndarray  # (k,)
    matrix: np.ndarray  # (k, n_lags)

    def __len__(self) -> int:
        return len(self.window_start_s)


@dataclass(frozen=True)
class PeakResult:
    """Per-window peak of the smoothed lag profile (see :func:`pick_peaks`).

    ``lag_s`` (NaN when a window has no peak; positive: s2 follows s1), ``value`` (the unsmoothed
    matrix cell at that lag), ``smoothed_value`` and ``smoothed`` (the smoothed matrix).
    """

    lag_s: np.ndarray
    value: np.ndarray
    smoothed_value: np.ndarray
    window_start_s: np.ndarray
    smoothed: np.ndarray


# ------------------------------------------------------------------------------------ validation


#: R's ``from:to`` counts ``(to - from) + 1 + FLT_EPSILON`` elements (``seq_colon`` in seq.c).
_FLT_EPSILON = 1.1920928955078125e-07


def _seconds(value_s, name: str) -> float:
    try:
        v = float(value_s)
    except (TypeError, ValueError):
        raise ProsyncError(f"{name} must be a number of seconds, got {value_s!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ProsyncError(f"{name} must be a finite number of seconds >= 0, got {value_s!r}")
    return v


def _rate(rate_hz) -> float:
    try:
        rate = float(rate_hz)
    except (TypeError, ValueError):
        raise ProsyncError(f"rate_hz must be a number, got {rate_hz!r}") from None
    if not math.isfinite(rate) or rate <= 0:
        raise ProsyncError(f"rate_hz must be a finite sample rate > 0 Hz, got {rate_hz!r}")
    return rate


def _check_exact(rate_hz, lag_s, window_s, step_s) -> tuple[float, float, float, float]:
    """Rate and the three sample counts exactly as R computes them (``lagSec*sampRate``...),
    with prosync's sanity checks (at least 2 samples per window, a step of at least 1 sample,
    a lag shorter than the window)."""
    rate = _rate(rate_hz)
    lag = _seconds(lag_s, "lag_s") * rate
    win = _seconds(window_s, "window_s") * rate
    inc = _seconds(step_s, "step_s") * rate
    if win < 2:
        raise ProsyncError(f"window_s={window_s!r} gives {win:g} samples at {rate:g} Hz: a window "
                           "needs at least 2 samples")
    if inc < 1:
        raise ProsyncError(f"step_s={step_s!r} gives {inc:g} samples at {rate:g} Hz: the step "
                           "must be at least one sample")
    if lag >= win:
        raise ProsyncError(f"lag_s={lag_s!r} must be shorter than window_s={window_s!r}: choose a "
                           "window longer than the largest lag")
    return rate, lag, win, inc


def _whole(v: float) -> bool:
    return v == math.floor(v)


def _check_params(rate_hz, lag_s, window_s, step_s) -> tuple[float, int, int, int]:
    """Whole sample counts (streaming): each product within 1e-9 of an integer."""
    rate, lag, win, inc = _check_exact(rate_hz, lag_s, window_s, step_s)
    out = []
    for name, v, n in (("lag_s", lag_s, lag), ("window_s", window_s, win), ("step_s", step_s, inc)):
        r = round(n)
        if abs(n - r) > 1e-9 * max(1.0, abs(n)):
            raise ProsyncError(
                f"{name}={float(v):g} s at {rate:g} Hz is {n:g} samples, not a whole number: "
                f"streaming needs whole samples (only the batch wcc() reproduces rMEA's "
                f"truncation of fractional indices): use a multiple of {1 / rate:g} s")
        out.append(int(r))
    return rate, out[0], out[1], out[2]


def _r_colon(a: float, b: float) -> np.ndarray:
    """R's ``a:b`` on doubles: ``a + k`` (``a - k`` descending) for ``k < |b - a| + 1 + FLT_EPSILON``."""
    n = int(abs(b - a) + 1 + _FLT_EPSILON)
    k = np.arange(n, dtype=np.float64)
    return a + k if a <= b else a - k


def _r_sub(v: np.ndarray) -> np.ndarray:
    """R's truncation of positive fractional subscripts, to 0-based indices."""
    return np.trunc(v).astype(np.int64) - 1


def _as_series(v, name: str) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProsyncError(f"{name} must be a 1-D array of numbers (NaN = missing)") from None
    if a.ndim != 1:
        raise ProsyncError(f"{name} must be 1-D, got shape {a.shape}: pass one speaker's series")
    if np.isinf(a).any():
        raise ProsyncError(f"{name} contains infinite values: replace them by NaN (missing)")
    return np.ascontiguousarray(a)


def _pair(s1, s2) -> tuple[np.ndarray, np.ndarray]:
    a = _as_series(s1, "s1")
    b = _as_series(s2, "s2")
    if a.shape != b.shape:
        raise ProsyncError(f"s1 and s2 must have the same length, got {len(a)} and {len(b)} "
                           "samples: trim or pad them to a common time base")
    return a, b


def _lags_s(lag: int, rate: float) -> np.ndarray:
    return np.arange(-lag, lag + 1, dtype=np.float64) / rate


# ------------------------------------------------------------------------------------ batch


def wcc(s1, s2, *, rate_hz: float, lag_s: float, window_s: float, step_s: float,
        fisher_z: bool = True, absolute: bool = True, sparse: str = "raise") -> WccResult:
    """Windowed lagged cross-correlation, reproducing rMEA's ``MEAccf`` cell for cell.

    Parameters
    ----------
    s1, s2 : array_like, shape (n,)
        The two speakers' series at ``rate_hz`` (NaN = missing). Positive lags: s2 follows s1.
    rate_hz : float
        Sample rate of the series, > 0.
    lag_s, window_s, step_s : float
        Largest lag (>= 0), window length (> lag, >= 2 samples) and window step (>= 1 sample),
        in seconds (``lag_s=2.5`` at 10 Hz is 25 samples). Use whole numbers of samples: a
        fractional count (``lag_s=2.5`` at 25 Hz is 62.5 samples) is accepted only to reproduce
        what rMEA does with it, R's arithmetic on fractional indices: lags ``-62.5, -61.5, ...,
        62.5`` samples (no lag-0 column; each really shifts by ``trunc(|lag|)`` samples, see
        ``WccResult.shift_samples``), windows starting at ``trunc(i*step)``, and R's ``from:to``
        counts. The exact path is taken whenever a product ``seconds * rate_hz`` is not
        exactly an integer in floating point (``0.7 * 10`` is ``7.000000000000001``), as R would.
    fisher_z : bool
        Apply ``atanh`` clipped to [-10, 10] (rMEA ``r2Z``, default True).
    absolute : bool
        Take absolute values after the Fisher transform (rMEA ``ABS``, default True).
    sparse : {"raise", "nan"}
        A window whose chunk (``window + lag``) is more than half NaN in either series: rMEA
        means to return an all-NA row but fails instead; ``"raise"`` (default) does what rMEA
        does (a :class:`ProsyncError`), ``"nan"`` returns the intended all-NaN row.

    Returns
    -------
    WccResult

    Raises
    ------
    ProsyncError
        Bad inputs or parameters; a series too short for one window (rMEA stops too); a sparse
        window with ``sparse="raise"``.
    """
    rate, lag_x, win_x, inc_x = _check_exact(rate_hz, lag_s, window_s, step_s)
    if sparse not in _SPARSE_CHOICES:
        raise ProsyncError(f"sparse must be 'raise' or 'nan', got {sparse!r}")
    a, b = _pair(s1, s2)
    n = len(a)
    # rMEA: n_win = ceiling((nrow - win - lagSamp + 1)/inc); 0 -> stop(), < 0 -> seq_len() error
    n_win = math.ceil((n - win_x - lag_x + 1) / inc_x)
    if n_win <= 0:
        raise ProsyncError(
            f"the series ({n} samples = {n / rate:g} s) are too short for one window of "
            f"window_s + lag_s = {(win_x + lag_x) / rate:g} s ({win_x + lag_x:g} samples); rMEA "
            "stops here too ('too long to find a single full window'): use shorter windows or lags")
    whole = _whole(lag_x) and _whole(win_x) and _whole(inc_x)
    flags = np.empty(n_win, dtype=np.uint8)
    if whole:
        lag, win, inc = int(lag_x), int(win_x), int(inc_x)
        out = np.empty((n_win, 2 * lag + 1), dtype=np.float64)
        _k.wcc_matrix(a, b, win, lag, inc, bool(fisher_z), bool(absolute), out, flags)
        ran = np.arange(-lag, lag + 1, dtype=np.float64)
        shift = np.arange(-lag, lag + 1, dtype=np.int64)
        chunk_end = np.arange(n_win) * inc + win + lag
    else:
        out, ran, shift, win, chunk_end = _wcc_rindex(a, b, n_win, lag_x, win_x, inc_x,
                                                       bool(fisher_z), bool(absolute), flags)
        lag, inc = int(lag_x), int(inc_x)
    if sparse == "raise" and flags.any():
        i = int(np.flatnonzero(flags)[0])
        raise ProsyncError(
            f"window {i} ({i * inc_x / rate:g}-{chunk_end[i] / rate:g} s) is more than half "
            f"missing (NaN) in s1 or s2: rMEA marks it all-NA but then fails with \"length of "
            f"'dimnames' [1] not equal to array extent\"; pass sparse='nan' for NaN rows, or trim "
            "or fill the missing stretch")
    if whole:
        starts = np.arange(n_win, dtype=np.float64) * inc / rate
        ends = starts + win / rate
    else:  # rMEA's winTimes: (i) * incSec and + winSec
        starts = np.arange(n_win, dtype=np.float64) * (inc_x / rate)
        ends = starts + win_x / rate
    return WccResult(matrix=out, lags_s=ran / rate, window_start_s=starts,
                     window_end_s=ends, rate_hz=rate, lag_samples=lag,
                     window_samples=win, step_samples=inc, fisher_z=bool(fisher_z),
                     absolute=bool(absolute), lag_exact=lag_x, window_exact=win_x,
                     step_exact=inc_x, shift_samples=shift)


def _wcc_rindex(a, b, n_win, lag_x, win_x, inc_x, fisher_z, absolute, flags):
    """rMEA's loop with R's own index arithmetic (fractional ``from:to`` and subscripts)."""
    ran = _r_colon(-lag_x, lag_x)               # ran = (-lagSamp):(lagSamp)
    i = np.arange(n_win, dtype=np.float64)
    starts = i * inc_x + 1.0                     # ab = (iWin*inc + 1):(iWin*inc + win + lagSamp)
    ends = (i * inc_x + win_x) + lag_x
    clen = (np.abs(ends - starts) + 1 + _FLT_EPSILON).astype(np.int64)
    x_range = _r_colon(1.0, win_x)               # xRange = 1:(win)
    xi = np.empty((len(ran), len(x_range)), np.int64)
    yi = np.empty_like(xi)
    for c, lg in enumerate(ran):
        big = abs(lg)
        y_range = _r_colon(big + 1, win_x + big)  # yRange = (LAG+1):(win+LAG)
        if len(y_range) != len(x_range):
            raise ProsyncError(
                f"lag_s*rate_hz = {lag_x!r} samples with window_s*rate_hz = {win_x!r}: R's "
                "rounding gives x and y of different lengths at one lag and rMEA stops "
                "('incompatible dimensions'); use whole numbers of samples")
        xr, yr = (y_range, x_range) if lg < 0 else (x_range, y_range)
        xi[c] = _r_sub(xr)
        yi[c] = _r_sub(yr)
    out = np.empty((n_win, len(ran)), np.float64)
    m = int(clen.max())
    wl = xi.shape[1]
    _k.wcc_matrix_rindex(a, b, starts, clen, xi, yi, fisher_z, absolute, out, flags,
                         np.empty(m), np.empty(m), np.empty(wl), np.empty(wl))
    shift = yi[:, 0] - xi[:, 0]
    chunk_end = np.trunc(ends)
    return out, ran, shift, wl, chunk_end


def _nanmean_rows(m: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(m)
    cnt = ok.sum(axis=1)
    tot = np.where(ok, m, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def wcc_summary(result: WccResult) -> dict:
    """Per-window summaries exactly like rMEA's ``ccfRes`` (computed after Fisher z / abs).

    Returns a dict of arrays of shape (n_windows,): ``all_lags`` (row mean over all lags),
    ``s1_lead`` (mean over positive lags: s1 leads, s2 follows), ``s2_lead`` (negative lags),
    ``lag_zero``, ``s1_lead_0`` / ``s2_lead_0`` (the same including lag 0), ``bestLag`` (lag in
    seconds of the row maximum, the first, most negative, on ties; NaN for an all-NaN row), and
    ``grandAver`` (a float: the mean over all cells, not the mean of ``all_lags``). Means ignore
    NaN and are NaN when nothing is left. With ``lag_s = 0`` the four lead entries are None,
    as rMEA sets them to NULL. Columns are chosen with R's index arithmetic, so fractional lags
    give rMEA's selections; where rMEA's ``ccfRes`` stops (a lead mean over a single column, i.e.
    a lag of 1 sample), this raises :class:`ProsyncError`.
    """
    m = result.matrix
    nl = m.shape[1]
    ls = result.lag_exact if math.isfinite(result.lag_exact) else float(result.lag_samples)
    ok = ~np.isnan(m)
    best = np.full(m.shape[0], np.nan)
    rows = ok.any(axis=1)
    if rows.any():
        idx = np.nanargmax(np.where(ok, m, -np.inf)[rows], axis=1)
        best[rows] = result.lags_s[idx]

    def cols(a: float, b: float, what: str) -> np.ndarray:
        # ccfmat[, a:b] with R's subscripts; a single column drops to a vector and apply() stops
        c = _r_sub(_r_colon(a, b))
        if c.min() < 0 or c.max() >= nl:
            raise ProsyncError(f"lag_s*rate_hz = {ls:g} samples: rMEA's {what} selects a column "
                               "outside the matrix and stops ('undefined columns selected'); "
                               "use whole numbers of samples")
        if len(c) == 1:
            raise ProsyncError(f"lag_s*rate_hz = {ls:g} samples: rMEA's {what} mean is over one "
                               "column and stops ('dim(X) must have a positive length'); use a "
                               "lag of at least 2 samples, or read the matrix directly")
        return c

    zero = int(_r_sub(np.array([ls + 1]))[0])      # ccfmat[, lagSamp + 1]
    out = {
        "all_lags": _nanmean_rows(m),
        "s1_lead": None, "s2_lead": None,
        "lag_zero": m[:, zero].copy(),
        "s1_lead_0": None, "s2_lead_0": None,
        "bestLag": best,
        "grandAver": float(m[ok].mean()) if ok.any() else math.nan,
    }
    if ls > 0:
        out["s1_lead"] = _nanmean_rows(m[:, cols(ls + 2, ls * 2 + 1, "s1_lead")])
        out["s2_lead"] = _nanmean_rows(m[:, cols(1, ls, "s2_lead")])
        out["s1_lead_0"] = _nanmean_rows(m[:, cols(ls + 1, ls * 2 + 1, "s1_lead_0")])
        out["s2_lead_0"] = _nanmean_rows(m[:, cols(1, ls + 1, "s2_lead_0")])
    return out


def pick_peaks(result: WccResult, smooth: int = 3, search: int = 2,
               min_value: float | None = None) -> PeakResult:
    """Per-window peak lag after Boker et al. (2002): smooth, then the peak nearest lag 0.

    Each window's lag profile (a row of ``result.matrix``) is smoothed by a centred moving average
    over ``smooth`` lags (odd, >= 1; NaN ignored). Searching outwards from lag 0 (0, ±1, ±2, ...
    samples), the first lag where the **signed** smoothed value is a local maximum is the peak:
    >= every value within ``search`` lags either side, > at least one immediate neighbour, and
    >= ``min_value`` when given; the outermost lags cannot be peaks. If +d and -d both qualify the
    larger wins (a tie goes to -d). Because the value is signed, an anti-phase relation has no
    peak at its lag unless the matrix was computed with ``absolute=True`` (then |r| or |z| peaks
    are found). Positive peak lag: **the second speaker (s2) follows s1**.

    Nearest-to-zero is Boker's rule, not the global maximum (that is rMEA's ``bestLag`` in
    :func:`wcc_summary`); on noisy rows a small wiggle close to lag 0 wins over a distant true
    peak, which ``search`` and ``min_value`` guard against.

    Returns
    -------
    PeakResult
        ``lag_s`` and ``value`` (the unsmoothed cell) per window, NaN when there is no peak.
    """
    if not isinstance(result, WccResult):
        raise ProsyncError("pick_peaks needs the WccResult returned by wcc()")
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)) or smooth < 1 \
            or smooth % 2 == 0:
        raise ProsyncError(f"smooth must be an odd whole number of lags >= 1, got {smooth!r}")
    if isinstance(search, bool) or not isinstance(search, (int, np.integer)) or search < 1:
        raise ProsyncError(f"search must be a whole number of lags >= 1, got {search!r}")
    mv = math.nan if min_value is None else float(min_value)
    m = result.matrix
    idx = np.empty(m.shape[0], dtype=np.int64)
    sm = np.empty_like(m)
    _k.pick_peaks(m, int(smooth) // 2, int(search), mv, result.lag_samples, idx, sm)
    found = idx >= 0
    safe = np.where(found, idx, 0)
    rows = np.arange(m.shape[0])
    return PeakResult(
        lag_s=np.where(found, result.lags_s[safe], np.nan),
        value=np.where(found, m[rows, safe], np.nan),
        smoothed_value=np.where(found, sm[rows, safe], np.nan),
        window_start_s=result.window_start_s.copy(),
        smoothed=sm,
    )


# ------------------------------------------------------------------------------------ streaming


class StreamingWcc:
    """Incremental :func:`wcc`: push equal-length chunks of both series, get completed windows.

    The state is preallocated: two ring buffers of ``window + lag + 1`` samples and, per lag,
    running sums (n, Σx, Σy, Σx², Σy², Σxy over complete pairs, about a reference level) plus exact
    integer counts for rMEA's NA rules (pairs with x != y; changes between consecutive complete
    values, which are 0 exactly when a series is constant over the window, i.e. zero variance).
    Each new sample costs O(lags): the pair entering each lag's window is added, the one leaving
    subtracted. A second set of sums that only adds replaces the running one every ``window``
    samples, so rounding never accumulates beyond one window. A cell is recomputed exactly from
    the ring (O(window)) only when the running sums cannot be trusted to 1e-9: strong
    cancellation (window level far from the reference) or |r| > 1 - 1e-6, where ``atanh``
    amplifies any rounding. Rows equal :func:`wcc` on the same series (``sparse="nan"``), in any
    chunking.

    Windows more than half missing come out as NaN rows (``wcc(..., sparse="nan")``); a live
    stream does not stop the way rMEA does.
    """

    def __init__(self, rate_hz: float, lag_s: float, window_s: float, step_s: float,
                 fisher_z: bool = True, absolute: bool = True):
        rate, lag, win, inc = _check_params(rate_hz, lag_s, window_s, step_s)
        self.rate_hz = rate
        self.lag_samples = lag
        self.window_samples = win
        self.step_samples = inc
        self.fisher_z = bool(fisher_z)
        self.absolute = bool(absolute)
        self.lags_s = _lags_s(lag, rate)
        nl = 2 * lag + 1
        self._cfg = np.array([win, lag, inc, int(self.fisher_z), int(self.absolute)], np.int64)
        self._ring = np.empty((2, win + lag + 1), np.float64)
        self._sc = np.zeros(4, np.int64)
        self._ist = np.zeros((4, nl), np.int64)
        self._fst = np.zeros((12, nl), np.float64)
        self._ref = np.zeros(4, np.float64)
        self._scr = np.empty((2, win), np.float64)
        self._out = np.empty((0, nl), np.float64)
        self._out_win = np.empty(0, np.int64)
        self.reset()

    def reset(self) -> None:
        """Forget all samples (start a new pair of series at t = 0)."""
        self._sc[:] = 0
        self._ist[:] = 0
        self._fst[:] = 0.0
        self._ref[:] = 0.0
        self._ref_set = [False, False]
        self._ring[:] = np.nan

    @property
    def samples_seen(self) -> int:
        """Samples pushed since construction or :meth:`reset`."""
        return int(self._sc[0])

    @property
    def exact_recomputes(self) -> int:
        """Cells recomputed exactly from the ring (running sums not trusted to 1e-9)."""
        return int(self._sc[3])

    def push(self, s1_values, s2_values) -> WccRows:
        """Append new samples of both series (equal lengths, NaN = missing).

        Returns the rows of every window completed by these samples, oldest first: window ``i``
        completes when sample ``i*step + window + lag - 1`` arrives.
        """
        a, b = _pair(s1_values, s2_values)
        k = self.push_unchecked(a, b)
        starts = self._out_win[:k] * (self.step_samples / self.rate_hz)
        return WccRows(window_start_s=starts, matrix=self._out[:k].copy())

    def push_unchecked(self, a: np.ndarray, b: np.ndarray) -> int:
        """:meth:`push` for trusted callers: ``a``, ``b`` contiguous float64 of equal length.
        Returns the number ``k`` of completed windows; their rows are ``self._out[:k]`` and their
        window indices ``self._out_win[:k]``, valid until the next push."""
        # reference levels the running sums are taken about: each series' first finite sample,
        # whichever push it arrives in (no pair, hence no sum, exists before both are set), so
        # the sums, and every bit of the result, do not depend on how the series was chunked
        for k, v in ((0, a), (1, b)):
            if not self._ref_set[k]:
                fin = np.flatnonzero(np.isfinite(v))
                if fin.size:
                    self._ref[k] = self._ref[k + 2] = v[fin[0]]
                    self._ref_set[k] = True
        cap_rows = len(a) // self.step_samples + 1
        if self._out.shape[0] < cap_rows:
            self._out = np.empty((cap_rows, self._out.shape[1]), np.float64)
            self._out_win = np.empty(cap_rows, np.int64)
        return int(_k.stream_push(a, b, self._cfg, self._ring, self._sc, self._ist, self._fst,
                                  self._ref, self._scr, self._out, self._out_win))
