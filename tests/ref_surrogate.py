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
    return [_shift_one(h1, h2, win, lag, n_pos, state) for _ in range(k)]


def _shift_one(h1, h2, win, lag, n_pos, state):
    H = len(h1)
    c = win + lag
    p = splitmix_below(state, n_pos)
    a0, b0 = (H - c, p) if splitmix_below(state, 2) == 0 else (p, H - c)
    if np.isnan(h1[a0:a0 + c]).sum() > c / 2 or np.isnan(h2[b0:b0 + c]).sum() > c / 2:
        return math.nan
    return peak_abs_r(h1, h2, a0, win, lag, b0=b0)


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


def utterance_surrogates(h1, h2, r1, r2, win, lag, sep, hb, bridge, min_rot, min_runs, k,
                         state: list[int]) -> list[float]:
    """``k`` surrogate peaks drawn like ``native.surrogate.utterance_surrogates``: a speaker's
    runs rotated over their slots at their own tempo (an utterance going on at the end from
    the content's start), held again, the window's peak |r| against the other's."""
    H = len(h1)
    c = win + lag
    runs = [find_runs(r1, bridge), find_runs(r2, bridge)]
    out = []
    for _ in range(k):
        side = splitmix_below(state, 2)  # 0: the second speaker rotated
        rr = runs[1 - side]
        if min(len(runs[0]), len(runs[1])) < min_runs:  # time shifts (none if too short)
            if H - c - sep >= 0:
                out.append(_shift_one(h1, h2, win, lag, H - c - sep + 1, state))
            continue
        rot = min_rot + splitmix_below(state, len(rr) - 2 * min_rot + 1)
        rev = splitmix_below(state, 2) == 1
        raw = np.asarray(r2 if side == 0 else r1)
        sur = np.full(H, np.nan)
        for i, (s, e) in enumerate(rr):
            if e + hb < H - c:
                continue  # neither its values nor its hold reach the window
            sj, ej = rr[(i + rot) % len(rr)]
            content = raw[sj:ej][::-1] if rev else raw[sj:ej]
            mirror = np.concatenate([content, content[-2:0:-1]]) if len(content) > 1 else content
            ni, nj = e - s, len(content)
            h = ni if e + bridge >= H else ni - ni // 2
            sur[s:e] = [mirror[(t if t < h else nj - ni + t) % len(mirror)] for t in range(ni)]
        held = hold_runs(sur, hb, bridge)
        x, y = (h1, held) if side == 0 else (held, h2)
        if np.isnan(x[H - c:]).sum() > c / 2 or np.isnan(y[H - c:]).sum() > c / 2:
            out.append(math.nan)
        else:
            out.append(peak_abs_r(x, y, H - c, win, lag))
    return out


def splice_runs(raw, runs, k, reverse=False) -> np.ndarray:
    """Slot i gets run i + k's values at their own rate (reversed first when ``reverse``): the
    first half of the slot from the content's start, the second half ending at its end, the
    content mirrored (…, 1, 0, 1, …) where it is short."""
    out = np.full(len(raw), np.nan)
    for i, (s, e) in enumerate(runs):
        sj, ej = runs[(i + k) % len(runs)]
        content = np.asarray(raw)[sj:ej]
        if reverse:
            content = content[::-1]
        nj, ni = len(content), e - s
        mirror = np.concatenate([content, content[-2:0:-1]]) if nj > 1 else content
        idx = [t if t < ni - ni // 2 else nj - ni + t for t in range(ni)]
        out[s:e] = [mirror[u % len(mirror)] for u in idx]
    return out



def frame_runs(raw, runs, k, reverse=False) -> np.ndarray:
    """Slot i framed by run i + k's content at its own rate (reversed first when
    ``reverse``): its first ceil(n / 2) values at the slot's onset, its last floor(n / 2)
    ending at the slot's end (n: the shorter of the two), the next runs' contents (each the
    same way round) one after another in between; NaN outside the runs."""
    raw = np.asarray(raw, dtype=float)
    out = np.full(len(raw), np.nan)

    def content(j):
        c = raw[runs[j][0]:runs[j][1]]
        return c[::-1] if reverse else c

    for i, (s, e) in enumerate(runs):
        j = (i + k) % len(runs)
        c = content(j)
        n = min(e - s, len(c))
        head, tail = c[:n - n // 2], c[len(c) - n // 2:]
        mid, jj = [], j
        while sum(map(len, mid)) < (e - s) - n:
            jj = (jj + 1) % len(runs)
            mid.append(content(jj))
        middle = np.concatenate(mid)[:(e - s) - n] if mid else np.empty(0)
        out[s:e] = np.concatenate([head, middle, tail])
    return out
