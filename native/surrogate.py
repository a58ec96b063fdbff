"""Time-shift surrogates for the significance of windowed lagged cross-correlation.

Both tests pair one speaker's series with the other's **at another time** of the same session,
so each surrogate keeps both voices' own autocorrelation and speech/silence structure and only
their alignment is broken (a within-session pseudo-dyad):

* window level (:func:`shift_surrogates`): the window under test of one series against a window
  of the other series from earlier in the session, at least ``sep`` samples away;
* session level (:func:`session_profiles`): the whole session so far with the second series
  circularly shifted, every window of every shift, so the dependence between overlapping
  windows is the same in the real statistic and in its surrogates.

Every array is the caller's: nothing is allocated here.
"""

import numpy as np

from ._jit import jit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@jit
def rand_below(state, m):
    """SplitMix64 step on ``state[0]`` (uint64); a random integer in ``[0, m)``."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return np.int64(z % np.uint64(m))


@jit
def _prep(v, a, n, out, mask):
    """``out = (v[a:a+n] - ref) * finite``, ``mask = finite`` (1.0/0.0); ``ref``: the first
    finite value (so a constant stretch gives exact zeros). Returns ``ref``."""
    ref = 0.0
    for k in range(n):
        if v[a + k] == v[a + k]:
            ref = v[a + k]
            break
    for k in range(n):
        x = v[a + k]
        if x == x:
            out[k] = x - ref
            mask[k] = 1.0
        else:
            out[k] = 0.0
            mask[k] = 0.0
    return ref


@jit
def _peak_masked(X, MX, Y, MY, RX, RY, win, lag):
    """Largest |r| over lags -lag..lag of two prepared chunks of ``win + lag`` samples (rMEA
    alignment: lag L pairs ``X[max(-L,0)+k]`` with ``Y[max(L,0)+k]``), with rMEA's NA rules:
    fewer than 2 complete pairs with x != y, or a constant side, give NA. NaN if every lag is NA."""
    best = np.nan
    for L in range(-lag, lag + 1):
        i0 = -L if L < 0 else 0
        j0 = L if L > 0 else 0
        n = 0.0
        sx = 0.0
        sy = 0.0
        sxx = 0.0
        syy = 0.0
        sxy = 0.0
        nd = 0.0
        for k in range(win):
            x = X[i0 + k]
            y = Y[j0 + k]
            mx = MX[i0 + k]
            my = MY[j0 + k]
            w = mx * my
            n += w
            sx += x * my
            sy += y * mx
            sxx += x * x * my
            syy += y * y * mx
            sxy += x * y
            nd += w * ((x + RX) != (y + RY))
        if nd < 2.0:
            continue
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        if not (vx > 1e-12 * sxx and vy > 1e-12 * syy):
            continue
        r = abs((sxy - sx * sy / n) / np.sqrt(vx * vy))
        r = min(r, 1.0)
        if not (best == best) or r > best:
            best = r
    return best


@jit
def _peak_if_half_present(X, MX, Y, MY, RX, RY, win, lag):
    """:func:`_peak_masked` of two prepared chunks, or NaN where either side misses more than
    half of its ``win + lag`` samples (the window rows' rule)."""
    c = win + lag
    nx = 0.0
    ny = 0.0
    for t in range(c):
        nx += MX[t]
        ny += MY[t]
    if 2.0 * (c - nx) > c or 2.0 * (c - ny) > c:
        return np.nan
    return _peak_masked(X, MX, Y, MY, RX, RY, win, lag)


@jit
def _shift_one(h1, h2, win, lag, n_pos, state, X, MX, Y, MY):
    """One time-shift surrogate peak (see :func:`shift_surrogates`)."""
    H = h1.shape[0]
    c = win + lag
    p = rand_below(state, n_pos)
    if rand_below(state, 2) == 0:
        RX = _prep(h1, H - c, c, X, MX)
        RY = _prep(h2, p, c, Y, MY)
    else:
        RX = _prep(h1, p, c, X, MX)
        RY = _prep(h2, H - c, c, Y, MY)
    return _peak_if_half_present(X, MX, Y, MY, RX, RY, win, lag)


@jit
def shift_surrogates(h1, h2, win, lag, sep, k, state, scr, pool, pos):
    """Put ``k`` time-shift surrogate peaks into the ring ``pool`` from ``pos``; return the next
    position (``pos`` unchanged when the history is too short for one).

    ``h1``, ``h2``: the last ``H`` samples of both series; the window under test is their last
    ``c = win + lag`` samples. Each surrogate draws (SplitMix64 ``state``) a start ``p`` in
    ``[0, H - c - sep]`` and a direction, and pairs the window of one series with the chunk of
    the other starting at ``p`` (``sep >= 2*lag + 1`` keeps every lagged pairing away from the
    real alignment and its lag range); its value is the peak |r| over lags, NaN when either
    chunk is more than half missing (as the windows' rows are). ``scr``: scratch (4, >= c).
    """
    H = h1.shape[0]
    c = win + lag
    n_pos = H - c - sep + 1
    if n_pos < 1:
        return pos
    m = pool.shape[0]
    for _ in range(k):
        pool[pos] = _shift_one(h1, h2, win, lag, n_pos, state, scr[0], scr[1], scr[2], scr[3])
        pos = (pos + 1) % m
    return pos


@jit
def pool_p(r, h1, h2, win, lag, pool, min_pool):
    """``(p, n_valid)`` of one window: the rank p-value ``(1 + #{pool >= peak}) / (1 + n)`` of
    the window's peak |r| over the finite lags of ``r`` among the ``n`` finite ``pool``
    entries; NaN when ``r`` has no finite lag or fewer than ``min_pool`` entries are finite.
    ``n_valid``: complete pairs of the window at lag 0 (``h[-(win+lag):-lag]``)."""
    c0 = h1.shape[0] - (win + lag)
    n_valid = 0
    for t in range(c0, c0 + win):
        if h1[t] == h1[t] and h2[t] == h2[t]:
            n_valid += 1
    real = np.nan
    for v in r:
        if v == v and (real != real or abs(v) > real):
            real = abs(v)
    if real != real:
        return np.nan, n_valid
    n = 0
    ge = 0
    for v in pool:
        if v == v:
            n += 1
            if v >= real:
                ge += 1
    if n < min_pool:
        return np.nan, n_valid
    return (1.0 + ge) / (1.0 + n), n_valid


@jit
def _nan_prefix(v, out):
    """``out[t]`` = NaN count of ``v[:t]`` (``out`` of length len(v) + 1)."""
    out[0] = 0.0
    for t in range(v.shape[0]):
        out[t + 1] = out[t] + (1.0 if v[t] != v[t] else 0.0)


@jit
def _count(pre, s, n, N):
    """NaN count of the circular stretch ``[s, s + n)`` (mod N) from the prefix ``pre``."""
    s = s % N
    if s + n <= N:
        return pre[s + n] - pre[s]
    return pre[N] - pre[s] + pre[s + n - N]


@jit
def _nan_mean(x):
    """``(mean of the finite values, their count)``; ``(0.0, 0)`` when there are none."""
    s = 0.0
    n = 0
    for t in range(x.shape[0]):
        if x[t] == x[t]:
            s += x[t]
            n += 1
    return (s / n if n else 0.0), n


@jit
def session_profiles(a, b, win, lag, step, shifts, pre, prof, cnt):
    """Mean lag profile over the windows of ``a`` against ``b`` circularly shifted, per shift.

    ``a``, ``b``: the session's series (length N, NaN = missing), windows as rMEA (window ``i``
    starts at ``i*step``, ``n_win = (N - win - lag) // step + 1``; lag L pairs ``a[u]`` with
    ``b'[u + L]``, positive L: b follows). For shift ``d = shifts[k]`` (0 <= d < N),
    ``b'[t] = b[(t - d) mod N]``; shift 0 is the real pairing (no wrap). A window more than
    half missing in either chunk is left out (the tracker's NaN rows); a cell follows rMEA's NA
    rules (fewer than 2 complete pairs with x != y, or a constant side). ``prof[k, L + lag]``
    gets the sum of the defined cells' r over windows and ``cnt[k, L + lag]`` their number.

    ``pre``: scratch (9, N + 1): prefix sums over u of the pairs at one offset, taken about
    each series' mean so the window sums keep their precision.
    """
    N = a.shape[0]
    nl = 2 * lag + 1
    c = win + lag
    for k in range(shifts.shape[0]):
        for j in range(nl):
            prof[k, j] = 0.0
            cnt[k, j] = 0.0
    if N < c:
        return
    n_win = (N - c) // step + 1
    ma, na = _nan_mean(a)
    mb, nb = _nan_mean(b)
    if na == 0 or nb == 0:
        return
    va = 0.0
    vb = 0.0
    for t in range(N):
        if a[t] == a[t]:
            va += (a[t] - ma) ** 2
        if b[t] == b[t]:
            vb += (b[t] - mb) ** 2
    tol_a = 1e-9 * (va / na + 1e-300)
    tol_b = 1e-9 * (vb / nb + 1e-300)
    pna = pre[7]
    pnb = pre[8]
    _nan_prefix(a, pna)
    _nan_prefix(b, pnb)
    half = c / 2.0
    for k in range(shifts.shape[0]):
        d = shifts[k]
        for L in range(-lag, lag + 1):
            # prefix sums over u of the pair (a[u], b[(u + L - d) mod N])
            for q in range(7):
                pre[q, 0] = 0.0
            for u in range(N):
                x = a[u]
                y = b[(u + L - d) % N]
                w = 0.0
                dx = 0.0
                dy = 0.0
                nd = 0.0
                if x == x and y == y:
                    w = 1.0
                    dx = x - ma
                    dy = y - mb
                    nd = 1.0 if x != y else 0.0
                pre[0, u + 1] = pre[0, u] + w
                pre[1, u + 1] = pre[1, u] + dx
                pre[2, u + 1] = pre[2, u] + dy
                pre[3, u + 1] = pre[3, u] + dx * dx
                pre[4, u + 1] = pre[4, u] + dy * dy
                pre[5, u + 1] = pre[5, u] + dx * dy
                pre[6, u + 1] = pre[6, u] + nd
            i0 = -L if L < 0 else 0
            for w in range(n_win):
                t0 = w * step
                if pna[t0 + c] - pna[t0] > half or _count(pnb, t0 - d + N, c, N) > half:
                    continue
                s = t0 + i0
                e = s + win
                n = pre[0, e] - pre[0, s]
                if pre[6, e] - pre[6, s] < 2.0:
                    continue
                sx = pre[1, e] - pre[1, s]
                sy = pre[2, e] - pre[2, s]
                vx = (pre[3, e] - pre[3, s]) - sx * sx / n
                vy = (pre[4, e] - pre[4, s]) - sy * sy / n
                if vx <= tol_a * n or vy <= tol_b * n:
                    continue
                r = ((pre[5, e] - pre[5, s]) - sx * sy / n) / np.sqrt(vx * vy)
                r = min(1.0, max(-1.0, r))
                prof[k, L + lag] += r
                cnt[k, L + lag] += 1.0


@jit
def find_runs(raw, bridge, starts, ends):
    """Runs of finite values of ``raw`` joined across gaps of at most ``bridge`` missing
    samples (a speaker's IPUs, at the series' rate): ``starts[i]``, ``ends[i]`` (exclusive,
    after the last finite value); returns their number."""
    n = 0
    last = -1
    for t in range(raw.shape[0]):
        if raw[t] == raw[t]:
            if last < 0 or t - last - 1 > bridge:
                starts[n] = t
                n += 1
            ends[n - 1] = t + 1
            last = t
    return n


@jit
def hold_runs(raw, hb, bridge, out):
    """``out``: ``raw`` with each gap of at most ``hb`` samples after a finite value filled with
    the mean of the last run (finite values since the last gap longer than ``bridge``): the
    hold of ``native.series.bin_features`` applied to a whole series."""
    last = -1e18
    s = 0.0
    c = 0.0
    for t in range(raw.shape[0]):
        v = raw[t]
        if v == v:
            if last < -1e9 or t - last > bridge + 1:
                s = 0.0
                c = 0.0
            last = t
            s += v
            c += 1.0
        elif hb > 0 and last > -1e9 and t - last <= hb:
            v = s / c
        out[t] = v


@jit
def rotate_runs(raw, starts, ends, nrun, k, reverse, out):
    """A surrogate of ``raw`` (before the hold) that keeps the speaker's timing and moves the
    content: run slot ``i`` (``starts[i]:ends[i]``) gets the values of run ``(i + k) % nrun``,
    resampled to the slot's length (nearest earlier sample), back to front when ``reverse``;
    NaN outside the runs. The order of the contents is kept (rotated), so their drift from
    utterance to utterance stays."""
    for t in range(raw.shape[0]):
        out[t] = np.nan
    for i in range(nrun):
        j = (i + k) % nrun
        ni = ends[i] - starts[i]
        nj = ends[j] - starts[j]
        for t in range(ni):
            u = ni - 1 - t if reverse else t
            out[starts[i] + t] = raw[starts[j] + (u * nj) // ni]


@jit
def _reflect(u, n):
    """``u`` mirrored into ``[0, n)`` (…, 1, 0, 1, …, n - 1, n - 2, …)."""
    if n == 1:
        return 0
    p = 2 * n - 2
    u = u % p
    if u < 0:
        u += p
    return u if u < n else p - u


@jit
def _splice_index(t, ni, nj, h, reverse):
    """Where sample ``t`` of a slot of ``ni`` samples reads from a content of ``nj``: its first
    ``h`` samples from the content's start, the rest ending at the content's end, mirrored
    where the content is shorter (:func:`splice_runs`)."""
    u = _reflect(t, nj) if t < h else _reflect(nj - ni + t, nj)
    return nj - 1 - u if reverse else u


@jit
def splice_runs(raw, starts, ends, nrun, k, reverse, out):
    """:func:`rotate_runs` keeping the content's own tempo: slot ``i`` (length ``ni``) gets run
    ``(i + k) % nrun``'s values (length ``nj``) at their own rate, its first half from the
    content's start and its second half ending at the content's end (a longer content loses
    its middle, a shorter one is extended by mirroring it), back to front when ``reverse``.
    The onset and the end of every utterance stay at its slot's edges and its syllabic rhythm
    is not stretched (a stretched or squeezed rhythm correlates less with the partner's over
    lags than the real one: energy windows 10 % at nominal 2.5 % on shifted pseudo-dialogues)."""
    for t in range(raw.shape[0]):
        out[t] = np.nan
    for i in range(nrun):
        j = (i + k) % nrun
        ni = ends[i] - starts[i]
        nj = ends[j] - starts[j]
        h = ni - ni // 2
        for t in range(ni):
            out[starts[i] + t] = raw[starts[j] + _splice_index(t, ni, nj, h, reverse)]


@jit
def _content(raw, starts, ends, j, u, reverse):
    """Value ``u`` of run ``j``'s content, back to front when ``reverse``."""
    return raw[ends[j] - 1 - u] if reverse else raw[starts[j] + u]


@jit
def frame_runs(raw, starts, ends, nrun, k, reverse, out):
    """:func:`rotate_runs` with the contents at their own rate and no value repeated within a
    slot (a content used as filler also appears in its own slot): slot
    ``i`` (length ``ni``) is framed by run ``(i + k) % nrun``'s content (length ``nj``; back to
    front when ``reverse``), its first ``ceil(n / 2)`` values from the slot's onset and its last
    ``floor(n / 2)`` ending at the slot's end (``n = min(ni, nj)``: a longer content loses its
    middle); where the content is shorter, the slot's middle gets the next runs' contents in
    turn (each at its own rate, the same way round), so every slot is filled as it was and
    keeps an utterance's onset and end at its edges. NaN outside the runs. Stretching
    (:func:`rotate_runs`) repeats a short utterance's values over a long slot, whose mean,
    noisy as a short utterance's, then weighs like a long one's (``engine.session_sync``,
    "Stretching")."""
    for t in range(raw.shape[0]):
        out[t] = np.nan
    for i in range(nrun):
        j = (i + k) % nrun
        si = starts[i]
        ni = ends[i] - si
        nj = ends[j] - starts[j]
        m = min(ni, nj)
        h = m - m // 2
        for t in range(h):
            out[si + t] = _content(raw, starts, ends, j, t, reverse)
        for t in range(m // 2):
            out[ends[i] - m // 2 + t] = _content(raw, starts, ends, j, nj - m // 2 + t, reverse)
        t = si + h
        jj = j
        while t < ends[i] - m // 2:
            jj = (jj + 1) % nrun
            nn = ends[jj] - starts[jj]
            for u in range(nn):
                if t >= ends[i] - m // 2:
                    break
                out[t] = _content(raw, starts, ends, jj, u, reverse)
                t += 1


@jit
def pooled_profiles(a, b, own_a, own_b, lag, shifts, prof, cnt):
    """Whole-session lagged correlation of ``a`` against ``b`` circularly shifted, per shift.

    ``prof[k, L + lag]``: Pearson r over the complete pairs ``(a[u], b'[u + L])`` of the
    session (one correlation, not a mean over windows), ``b'[t] = b[(t - d) mod N]`` for
    ``d = shifts[k]``; shift 0 is the real pairing (no wrap: ``0 <= u + L < N``). Positive L:
    b follows. A pair counts only when the follower's value is its own (``own_b`` for L > 0,
    ``own_a`` for L < 0, either at L = 0; 1.0/0.0): the follower speaking against the
    leader's value then, held or not. All ones: every complete pair. NaN with fewer than 3
    pairs or a constant side; ``cnt[k, L + lag]``: the pairs. Sums are taken about each
    series' mean, so they keep their precision.
    """
    N = a.shape[0]
    ma, na = _nan_mean(a)
    mb, nb = _nan_mean(b)
    for k in range(shifts.shape[0]):
        d = shifts[k]
        for L in range(-lag, lag + 1):
            n = 0.0
            sx = 0.0
            sy = 0.0
            sxx = 0.0
            syy = 0.0
            sxy = 0.0
            for u in range(N):
                j = u + L - d
                if d == 0:
                    if j < 0 or j >= N:
                        continue
                else:
                    j = j % N
                x = a[u]
                y = b[j]
                if not (x == x and y == y):
                    continue
                if L > 0:
                    if own_b[j] == 0.0:
                        continue
                elif L < 0:
                    if own_a[u] == 0.0:
                        continue
                elif own_a[u] == 0.0 and own_b[j] == 0.0:
                    continue
                dx = x - ma
                dy = y - mb
                n += 1.0
                sx += dx
                sy += dy
                sxx += dx * dx
                syy += dy * dy
                sxy += dx * dy
            cnt[k, L + lag] = n
            r = np.nan
            if n >= 3.0:
                vx = sxx - sx * sx / n
                vy = syy - sy * sy / n
                if vx > 1e-12 * (sxx + 1e-300) and vy > 1e-12 * (syy + 1e-300):
                    r = (sxy - sx * sy / n) / np.sqrt(vx * vy)
                    r = min(1.0, max(-1.0, r))
            prof[k, L + lag] = r


@jit
def utterance_surrogates(h1, h2, r1, r2, win, lag, sep, hb, bridge, min_rot, min_runs, k, state,
                         scr, runs, sur, pool, pos):
    """Put ``k`` utterance surrogate peaks into the ring ``pool`` from ``pos``; return the next
    position.

    ``h1``, ``h2``: the last ``H`` samples of both speakers' held series, ``r1``, ``r2`` the same
    before the hold; the window under test is their last ``c = win + lag`` samples. Each
    surrogate draws (SplitMix64 ``state``) a speaker, a rotation ``m`` in
    ``[min_rot, nrun - min_rot]`` and a direction;
    each of that speaker's run slots (gaps of at most ``bridge`` joined) whose values or hold
    reach the window gets the content of the run ``m`` runs later, forward or back to front,
    at its own tempo (the mapping of :func:`splice_runs`; an utterance still going on at the
    end gets a content's start); the result is held again (:func:`hold_runs`, ``hb``) and the
    window's peak |r| over lags taken against the other speaker's real window. Both
    speakers' timing, hence the turn-taking, is kept exactly, and consecutive utterances stay
    in order (a speaker's rate carries over from one to the next); only which utterance sits
    where moves. The caller passes a history long enough for many distinct rotations (a 60 s
    history's 5-15 utterances repeat in a pool of 99, and a window beating all ~20 distinct
    values got p = 0.01: 7-10 % of windows at nominal 2.5 %). While either speaker has fewer
    than ``min_runs`` runs (early in a session, or series without pauses) a time-shift surrogate
    instead (:func:`shift_surrogates`, ``sep``; none while the history is shorter than
    ``c + sep``). NaN when a chunk is more than half missing.
    ``scr``: scratch (4, >= c); ``runs``: (4, >= H) int64; ``sur``: (2, >= H).
    """
    H = h1.shape[0]
    c = win + lag
    m = pool.shape[0]
    n1 = find_runs(r1, bridge, runs[0], runs[1])
    n2 = find_runs(r2, bridge, runs[2], runs[3])
    X = scr[0]
    MX = scr[1]
    Y = scr[2]
    MY = scr[3]
    for _ in range(k):
        side = rand_below(state, 2)
        nrun = n2 if side == 0 else n1
        if n1 < min_runs or n2 < min_runs:
            if H - c - sep >= 0:
                pool[pos] = _shift_one(h1, h2, win, lag, H - c - sep + 1, state, X, MX, Y, MY)
                pos = (pos + 1) % m
            continue
        raw = r2 if side == 0 else r1
        st = runs[2] if side == 0 else runs[0]
        en = runs[3] if side == 0 else runs[1]
        # the first slot whose values or hold reach the window
        i0 = nrun
        for i in range(nrun):
            if en[i] + hb >= H - c:
                i0 = i
                break
        t0 = st[i0] if i0 < nrun else H - c
        out = sur[0, t0:H]
        held = sur[1, t0:H]
        for t in range(H - t0):
            out[t] = np.nan
        rot = min_rot + rand_below(state, nrun - 2 * min_rot + 1)
        rev = rand_below(state, 2) == 1
        for i in range(i0, nrun):
            j = (i + rot) % nrun
            ni = en[i] - st[i]
            nj = en[j] - st[j]
            # an utterance still going on at the end of the history gets a content's start only
            h = ni if en[i] + bridge >= H else ni - ni // 2
            for t in range(ni):
                out[st[i] - t0 + t] = raw[st[j] + _splice_index(t, ni, nj, h, rev)]
        hold_runs(out, hb, bridge, held)
        if side == 0:
            RX = _prep(h1, H - c, c, X, MX)
            RY = _prep(held, H - t0 - c, c, Y, MY)
        else:
            RX = _prep(held, H - t0 - c, c, X, MX)
            RY = _prep(h2, H - c, c, Y, MY)
        pool[pos] = _peak_if_half_present(X, MX, Y, MY, RX, RY, win, lag)
        pos = (pos + 1) % m
    return pos
