"""Windowed lagged cross-correlation kernels (rMEA ``MEAccf`` semantics), batch and streaming.

Conventions (see ``engine/wcc.py`` for the public API and the rMEA rules quoted in full):

* window ``i`` starts at sample ``t0 = i*inc`` and its chunk reaches forward ``win + lag`` samples;
* lag ``L`` (samples, ``-lag..lag``, column ``L + lag``) pairs ``s1[t0+max(-L,0)+k]`` with
  ``s2[t0+max(L,0)+k]`` for ``k < win``: positive ``L`` means s2 follows s1;
* a cell is NaN when the complete pairs differ (``x != y``) in fewer than 2 positions, or when
  either series is constant over the complete pairs (zero variance); otherwise it is Pearson's r
  over the complete pairs, computed like R's ``C_cor`` (mean first, then centred sums).

Sums use Neumaier compensated summation: R accumulates in long double, so its sums of the same
values in another order agree to the last bit, and rMEA's ``bestLag`` ties depend on that.
"""

import numpy as np

from ._jit import jit

#: Streaming: recompute a cell exactly when cancellation in the running sums could cost more than
#: this factor of precision (sum of squares about the reference / about the mean).
KAPPA_MAX = 1.0e3
#: Streaming: recompute a cell exactly when |r| from running sums exceeds this (atanh amplifies).
R_EXACT = 1.0 - 1.0e-6


@jit
def pair_corr(s1, s2, a, b, win):
    """Pearson r of ``s1[a:a+win]`` with ``s2[b:b+win]`` under rMEA's NA rules (NaN for NA)."""
    n = 0
    ndiff = 0
    xvar = False
    yvar = False
    x0 = 0.0
    y0 = 0.0
    sx = 0.0
    csx = 0.0
    sy = 0.0
    csy = 0.0
    for k in range(win):
        x = s1[a + k]
        y = s2[b + k]
        if x != x or y != y:
            continue
        if n == 0:
            x0 = x
            y0 = y
        else:
            if x != x0:
                xvar = True
            if y != y0:
                yvar = True
        if x != y:
            ndiff += 1
        n += 1
        t = sx + x
        if abs(sx) >= abs(x):
            csx += (sx - t) + x
        else:
            csx += (x - t) + sx
        sx = t
        t = sy + y
        if abs(sy) >= abs(y):
            csy += (sy - t) + y
        else:
            csy += (y - t) + sy
        sy = t
    # rMEA: if(sum(x!=y, na.rm=T) < 2) cor_res = NA; C_cor: zero sd -> NA
    if ndiff < 2 or not xvar or not yvar:
        return np.nan
    # R's MEAN() refines sum/n with a correction pass  tmp + sum(x - tmp)/n  because its first
    # sum is naive; the compensated sum above is already accurate to about one rounding, so the
    # correction pass is left out (it changes the mean by at most an ulp, the result by < 1e-15).
    mx = (sx + csx) / n
    my = (sy + csy) / n
    sxx = 0.0
    cxx = 0.0
    syy = 0.0
    cyy = 0.0
    sxy = 0.0
    cxy = 0.0
    for k in range(win):
        x = s1[a + k]
        y = s2[b + k]
        if x != x or y != y:
            continue
        dx = x - mx
        dy = y - my
        v = dx * dx
        t = sxx + v
        if abs(sxx) >= v:
            cxx += (sxx - t) + v
        else:
            cxx += (v - t) + sxx
        sxx = t
        v = dy * dy
        t = syy + v
        if abs(syy) >= v:
            cyy += (syy - t) + v
        else:
            cyy += (v - t) + syy
        syy = t
        v = dx * dy
        t = sxy + v
        if abs(sxy) >= abs(v):
            cxy += (sxy - t) + v
        else:
            cxy += (v - t) + sxy
        sxy = t
    n1 = n - 1
    xsd = np.sqrt((sxx + cxx) / n1)
    ysd = np.sqrt((syy + cyy) / n1)
    if xsd == 0.0 or ysd == 0.0:
        return np.nan
    return ((sxy + cxy) / n1) / (xsd * ysd)


@jit
def finish(r, fisher_z, absolute):
    """rMEA's post-processing of one r: clamp to [-1, 1], ``fisher.r2z`` (atanh clipped to
    [-10, 10]) when ``fisher_z``, then ``abs`` when ``absolute``. NaN stays NaN."""
    if r != r:
        return r
    if r > 1.0:
        r = 1.0
    elif r < -1.0:
        r = -1.0
    if fisher_z:
        if r >= 1.0:
            r = 10.0
        elif r <= -1.0:
            r = -10.0
        else:
            r = np.arctanh(r)
            if r > 10.0:
                r = 10.0
            elif r < -10.0:
                r = -10.0
    if absolute:
        r = abs(r)
    return r


@jit
def wcc_matrix(s1, s2, win, lag, inc, fisher_z, absolute, out, sparse):
    """Fill ``out`` (n_win, 2*lag+1) with the windowed lagged correlations of ``s1`` and ``s2``.

    ``sparse[i]`` is set to 1 (and row ``i`` to NaN) when more than half of window ``i``'s chunk
    (``win + lag`` samples from ``i*inc``) is NaN in either series, else 0.
    """
    n_win = out.shape[0]
    nl = out.shape[1]
    chunk = win + lag
    for i in range(n_win):
        t0 = i * inc
        na1 = 0
        na2 = 0
        for k in range(t0, t0 + chunk):
            if s1[k] != s1[k]:
                na1 += 1
            if s2[k] != s2[k]:
                na2 += 1
        if 2 * max(na1, na2) > chunk:
            sparse[i] = 1
            for c in range(nl):
                out[i, c] = np.nan
            continue
        sparse[i] = 0
        for c in range(nl):
            lg = c - lag
            if lg >= 0:
                r = pair_corr(s1, s2, t0, t0 + lg, win)
            else:
                r = pair_corr(s1, s2, t0 - lg, t0, win)
            out[i, c] = finish(r, fisher_z, absolute)


@jit
def wcc_matrix_rindex(s1, s2, starts, clen, xi, yi, fisher_z, absolute, out, sparse, cx, cy, px, py):
    """``wcc_matrix`` with R's index arithmetic, for fractional sample counts (rMEA's quirk).

    Window ``i``'s chunk is ``s1[trunc(starts[i] + k) - 1]`` for ``k < clen[i]`` (R's 1-based
    ``from:to`` with a fractional ``from``, truncated on indexing; NaN beyond the series, as R's
    out-of-range subscripts give NA). Lag column ``c`` correlates ``chunk1[xi[c]]`` with
    ``chunk2[yi[c]]`` (0-based indices into the chunk; -1 or >= ``clen[i]``: NA). ``sparse`` and
    the NA rules as in :func:`wcc_matrix`. ``cx, cy`` (>= max clen) and ``px, py`` (>= the
    index rows) are scratch.
    """
    n = s1.shape[0]
    n_win = out.shape[0]
    nl = out.shape[1]
    wlen = xi.shape[1]
    for i in range(n_win):
        m = clen[i]
        na1 = 0
        na2 = 0
        for k in range(m):
            j = np.int64(starts[i] + k) - 1  # R: from + (double)k, truncated by the subscript
            if 0 <= j < n:
                a = s1[j]
                b = s2[j]
            else:
                a = np.nan
                b = np.nan
            cx[k] = a
            cy[k] = b
            if a != a:
                na1 += 1
            if b != b:
                na2 += 1
        if 2 * max(na1, na2) > m:
            sparse[i] = 1
            for c in range(nl):
                out[i, c] = np.nan
            continue
        sparse[i] = 0
        for c in range(nl):
            for k in range(wlen):
                p = xi[c, k]
                q = yi[c, k]
                px[k] = cx[p] if 0 <= p < m else np.nan
                py[k] = cy[q] if 0 <= q < m else np.nan
            out[i, c] = finish(pair_corr(px, py, 0, 0, wlen), fisher_z, absolute)


# ----------------------------------------------------------------------------------------------
# Streaming
#
# State (all preallocated by engine.wcc.StreamingWcc):
#   cfg   int64[5]       win, lag, inc, fisher_z, absolute
#   ring  float64[2,cap] last cap = win+lag+1 samples of s1 and s2 (sample t at t % cap)
#   sc    int64[4]       t (samples seen), NaN count of s1 and of s2 over the last win+lag
#                        samples, number of cells recomputed exactly
#   ist   int64[4,nl]    per lag: n complete pairs, n pairs with x != y, changes of x and of y
#                        between consecutive complete pairs (0 <=> constant <=> zero variance)
#   fst   float64[12,nl] per lag: running sums A (sx, sy, sxx, syy, sxy) about reference refA,
#                        fresh sums B (same) about refB, last complete x and y
#   ref   float64[4]     refA1, refA2, refB1, refB2
#   scr   float64[2,win] scratch for the exact recomputation of a flagged cell
# Pair j of lag L is (s1[j+max(-L,0)], s2[j+max(L,0)]); at sample t every lag adds pair j = t-lag
# and drops pair j-win, so all lags cover pairs [j-win+1, j] = window t0 = j-win+1 together.
# B only ever adds; every win pairs it covers exactly the current window and replaces A, so the
# rounding error of the running subtractions never builds up beyond one window.


@jit
def _ring_pair(ring, cap, j, lg):
    if lg >= 0:
        return ring[0, j % cap], ring[1, (j + lg) % cap]
    return ring[0, (j - lg) % cap], ring[1, j % cap]


@jit
def _exact_cell(ring, cap, j0, lg, win, scr):
    for k in range(win):
        x, y = _ring_pair(ring, cap, j0 + k, lg)
        scr[0, k] = x
        scr[1, k] = y
    return pair_corr(scr[0], scr[1], 0, 0, win)


@jit
def stream_push(x1, x2, cfg, ring, sc, ist, fst, ref, scr, out, out_win):
    """Feed ``x1``/``x2`` (same length) into the streaming state; fill ``out[:m]`` with the rows
    of the ``m`` windows that completed (their indices in ``out_win[:m]``) and return ``m``."""
    win = cfg[0]
    lag = cfg[1]
    inc = cfg[2]
    fisher_z = cfg[3] != 0
    absolute = cfg[4] != 0
    cap = ring.shape[1]
    nl = 2 * lag + 1
    chunk = win + lag
    m = 0
    for s in range(x1.shape[0]):
        t = sc[0]
        v1 = x1[s]
        v2 = x2[s]
        ring[0, t % cap] = v1
        ring[1, t % cap] = v2
        if v1 != v1:
            sc[1] += 1
        if v2 != v2:
            sc[2] += 1
        if t >= chunk:
            o = (t - chunk) % cap
            if ring[0, o] != ring[0, o]:
                sc[1] -= 1
            if ring[1, o] != ring[1, o]:
                sc[2] -= 1
        sc[0] = t + 1
        j = t - lag
        if j < 0:
            continue
        jo = j - win
        for c in range(nl):
            lg = c - lag
            if jo >= 0:
                x, y = _ring_pair(ring, cap, jo, lg)
                if x == x and y == y:
                    ist[0, c] -= 1
                    if x != y:
                        ist[1, c] -= 1
                    dx = x - ref[0]
                    dy = y - ref[1]
                    fst[0, c] -= dx
                    fst[1, c] -= dy
                    fst[2, c] -= dx * dx
                    fst[3, c] -= dy * dy
                    fst[4, c] -= dx * dy
                    if ist[0, c] > 0:
                        # jo was the oldest complete pair: find the next one, drop that change
                        for jj in range(jo + 1, j):
                            x2_, y2_ = _ring_pair(ring, cap, jj, lg)
                            if x2_ == x2_ and y2_ == y2_:
                                if x2_ != x:
                                    ist[2, c] -= 1
                                if y2_ != y:
                                    ist[3, c] -= 1
                                break
            x, y = _ring_pair(ring, cap, j, lg)
            if x == x and y == y:
                if ist[0, c] > 0:
                    if x != fst[10, c]:
                        ist[2, c] += 1
                    if y != fst[11, c]:
                        ist[3, c] += 1
                fst[10, c] = x
                fst[11, c] = y
                ist[0, c] += 1
                if x != y:
                    ist[1, c] += 1
                dx = x - ref[0]
                dy = y - ref[1]
                fst[0, c] += dx
                fst[1, c] += dy
                fst[2, c] += dx * dx
                fst[3, c] += dy * dy
                fst[4, c] += dx * dy
                dx = x - ref[2]
                dy = y - ref[3]
                fst[5, c] += dx
                fst[6, c] += dy
                fst[7, c] += dx * dx
                fst[8, c] += dy * dy
                fst[9, c] += dx * dy
        if (j + 1) % win == 0:
            # B holds exactly pairs [j-win+1, j]: it becomes A; restart B about the window mean
            for c in range(nl):
                for q in range(5):
                    fst[q, c] = fst[5 + q, c]
                    fst[5 + q, c] = 0.0
            ref[0] = ref[2]
            ref[1] = ref[3]
            n0 = ist[0, lag]
            if n0 > 0:
                ref[2] = ref[0] + fst[0, lag] / n0
                ref[3] = ref[1] + fst[1, lag] / n0
        t0 = j - win + 1
        if t0 < 0 or t0 % inc != 0:
            continue
        out_win[m] = t0 // inc
        if 2 * max(sc[1], sc[2]) > chunk:
            for c in range(nl):
                out[m, c] = np.nan
            m += 1
            continue
        for c in range(nl):
            n = ist[0, c]
            if ist[1, c] < 2 or ist[2, c] == 0 or ist[3, c] == 0:
                out[m, c] = np.nan
                continue
            sx = fst[0, c]
            sy = fst[1, c]
            sxx = fst[2, c]
            syy = fst[3, c]
            vx = sxx - sx * sx / n
            vy = syy - sy * sy / n
            r = 2.0
            if vx > sxx / KAPPA_MAX and vy > syy / KAPPA_MAX:
                r = (fst[4, c] - sx * sy / n) / np.sqrt(vx * vy)
            if not abs(r) <= R_EXACT:
                r = _exact_cell(ring, cap, t0, c - lag, win, scr)
                sc[3] += 1
            out[m, c] = finish(r, fisher_z, absolute)
        m += 1
    return m


@jit
def pick_peaks(mat, half, search, min_value, lag, out_idx, out_smooth):
    """Boker-style peak picking per row of ``mat`` (n_win, 2*lag+1).

    Each row is smoothed with a centred moving average over ``2*half+1`` lags (NaN ignored; NaN
    where the span has no value) into ``out_smooth``. Then, moving outwards from lag 0 (column
    ``lag``), the first peak of the smoothed (signed) row is taken. A peak is an interior column
    (not the first or last) whose value is >= ``min_value`` (NaN: no threshold), >= every
    non-NaN value within ``search`` columns either side and > at least one immediate neighbour
    (both immediate neighbours must be non-NaN). When +d and -d both qualify, the larger value
    wins, a tie goes to -d. ``out_idx[i]`` is the column, or -1 if the row has no peak.
    """
    n_win = mat.shape[0]
    nl = mat.shape[1]
    for i in range(n_win):
        for c in range(nl):
            acc = 0.0
            cnt = 0
            for q in range(max(0, c - half), min(nl, c + half + 1)):
                v = mat[i, q]
                if v == v:
                    acc += v
                    cnt += 1
            out_smooth[i, c] = acc / cnt if cnt > 0 else np.nan
        out_idx[i] = -1
        for d in range(lag + 1):
            best = -1
            for c in (lag - d, lag + d):
                if c <= 0 or c >= nl - 1:
                    continue
                v = out_smooth[i, c]
                a = out_smooth[i, c - 1]
                b = out_smooth[i, c + 1]
                if not (v >= a and v >= b and (v > a or v > b)):
                    continue  # also rejects NaN in v, a or b
                if min_value == min_value and not v >= min_value:
                    continue
                ok = True
                for q in range(max(0, c - search), min(nl, c + search + 1)):
                    if out_smooth[i, q] > v:
                        ok = False
                        break
                if ok and (best < 0 or v > out_smooth[i, best]):
                    best = c
            if best >= 0:
                out_idx[i] = best
                break
