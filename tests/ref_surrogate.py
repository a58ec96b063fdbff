"""Slow, obviously correct twins of ``native/surrogate.py`` (plain numpy and Python loops)."""

from __future__ import annotations

import math

import numpy as np

_M64 = (1 << 64) - 1


def splitmix_below(state: list[int], m: int) -> int:
    """SplitMix64 (Steele et al. 2014) on ``state[0]``; an integer in ``[0, m)``."""
    state[0] = (state[0] + 0x9E3779B97F4A7C15) & _M64
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    z ^= z >> 31
    return z % m


def corr(x, y) -> float:
    """Pearson r over complete pairs with rMEA's NA rules (NaN when fewer than 2 complete pairs
    differ or either side is constant)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[ok], y[ok]
    if np.sum(x != y) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.clip(np.corrcoef(x, y)[0, 1], -1, 1))


def lagged(x, y, a0, b0, win, lag) -> np.ndarray:
    """r per lag -lag..lag of the chunk of ``x`` at ``a0`` with the chunk of ``y`` at ``b0``
    (rMEA alignment: lag L pairs ``x[a0+max(-L,0)+k]`` with ``y[b0+max(L,0)+k]``)."""
    return np.array([corr(x[a0 + max(-L, 0):a0 + max(-L, 0) + win],
                          y[b0 + max(L, 0):b0 + max(L, 0) + win]) for L in range(-lag, lag + 1)])


def peak_abs_r(x, y, a0, win, lag, b0=None) -> float:
    """Largest |r| over lags (NaN if every lag is NA)."""
    r = np.abs(lagged(x, y, a0, a0 if b0 is None else b0, win, lag))
    return float(np.nanmax(r)) if np.isfinite(r).any() else math.nan


def shift_surrogates(h1, h2, win, lag, sep, k, state: list[int]) -> list[float]:
    """``k`` surrogate peaks drawn like ``native.surrogate.shift_surrogates``."""
    H = len(h1)
    c = win + lag
    n_pos = H - c - sep + 1
    if n_pos < 1:
        return []
    out = []
    for _ in range(k):
        p = splitmix_below(state, n_pos)
        a0, b0 = (H - c, p) if splitmix_below(state, 2) == 0 else (p, H - c)
        if np.isnan(h1[a0:a0 + c]).sum() > c / 2 or np.isnan(h2[b0:b0 + c]).sum() > c / 2:
            out.append(math.nan)
        else:
            out.append(peak_abs_r(h1, h2, a0, win, lag, b0=b0))
    return out


def pool_p(r, pool, min_pool) -> float:
    real = np.nanmax(np.abs(r)) if np.isfinite(r).any() else math.nan
    pool = np.asarray(pool, float)
    pool = pool[np.isfinite(pool)]
    if math.isnan(real) or len(pool) < min_pool:
        return math.nan
    return (1 + np.sum(pool >= real)) / (1 + len(pool))


def session_profiles(a, b, win, lag, step, shifts):
    """(sum of r, count) per shift and lag over the windows, by rolling ``b`` and correlating
    each window and lag from scratch; windows more than half missing are left out."""
    n = len(a)
    c = win + lag
    n_win = (n - c) // step + 1 if n >= c else 0
    prof = np.zeros((len(shifts), 2 * lag + 1))
    cnt = np.zeros_like(prof)
    for k, d in enumerate(shifts):
        bb = np.roll(b, d)
        if d:  # a window's chunk of b may wrap: pad the end with the start
            bb = np.concatenate([bb, bb])
        for w in range(n_win):
            t0 = w * step
            if np.isnan(a[t0:t0 + c]).sum() > c / 2 or np.isnan(bb[t0:t0 + c]).sum() > c / 2:
                continue
            r = lagged(a, bb, t0, t0, win, lag)
            ok = np.isfinite(r)
            prof[k, ok] += r[ok]
            cnt[k, ok] += 1
    return prof, cnt


def pooled_profiles(a, b, own_a, own_b, lag, shifts):
    """(r, pairs) per shift and lag: ``b`` (and its own-value mask) rolled by the shift, the
    pairs at lag L those with both values finite, u + L inside the session for shift 0, and the
    follower's value its own; r by numpy's corrcoef."""
    n = len(a)
    prof = np.full((len(shifts), 2 * lag + 1), np.nan)
    cnt = np.zeros_like(prof)
    for k, d in enumerate(shifts):
        bb, ob = np.roll(b, d), np.roll(own_b, d)
        for L in range(-lag, lag + 1):
            xs, ys = [], []
            for u in range(n):
                j = u + L
                if d == 0 and not 0 <= j < n:
                    continue
                j %= n
                follower_own = (ob[j] if L > 0 else own_a[u] if L < 0 else max(ob[j], own_a[u]))
                if np.isfinite(a[u]) and np.isfinite(bb[j]) and follower_own:
                    xs.append(a[u])
                    ys.append(bb[j])
            cnt[k, L + lag] = len(xs)
            if len(xs) >= 3 and np.ptp(xs) > 0 and np.ptp(ys) > 0:
                prof[k, L + lag] = np.corrcoef(xs, ys)[0, 1]
    return prof, cnt


def find_runs(raw, bridge) -> list[tuple[int, int]]:
    fin = np.flatnonzero(np.isfinite(raw))
    runs = []
    for t in fin:
        if runs and t - runs[-1][1] <= bridge:
            runs[-1][1] = t + 1
        else:
            runs.append([t, t + 1])
    return [tuple(r) for r in runs]


def hold_runs(raw, hb, bridge) -> np.ndarray:
    out = np.array(raw, float)
    run: list[float] = []
    last = None
    for t, v in enumerate(raw):
        if np.isfinite(v):
            if last is None or t - last > bridge + 1:
                run = []
            run.append(v)
            last = t
        elif hb > 0 and last is not None and t - last <= hb:
            out[t] = sum(run) / len(run)
    return out


def rotate_runs(raw, runs, k, reverse=False) -> np.ndarray:
    perm = [(i + k) % len(runs) for i in range(len(runs))]
    out = np.full(len(raw), np.nan)
    for (s, e), j in zip(runs, perm):
        sj, ej = runs[j]
        idx = sj + (np.arange(e - s) * (ej - sj)) // (e - s)
        out[s:e] = np.asarray(raw)[idx][::-1] if reverse else np.asarray(raw)[idx]
    return out
