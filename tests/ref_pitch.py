"""Slow, obviously correct references for :mod:`prosync.native.pitch` (plain numpy / Python).

Each function computes the same quantity as its kernel straight from the definition: no
running sums, no ring buffers, no loop reordering. Tests compare the kernels against these.
"""

from __future__ import annotations

import math

import numpy as np


def ref_decimate2(x, start, m, h):
    """``out[j] = sum_k h[k] x[start + 2j - L//2 + k]``: a correlation, kept every 2nd sample."""
    x = np.asarray(x, dtype=np.float64)
    half = len(h) // 2
    return np.array([np.dot(h, x[start + 2 * j - half:start + 2 * j - half + len(h)])
                     for j in range(m)])


def ref_short_nac(y, p, t, swin):
    w = max(swin, t)
    s = p - (w + t) // 2
    u = y[s:s + w].astype(np.float64)
    v = y[s + t:s + t + w].astype(np.float64)
    den = np.dot(u, u) * np.dot(v, v)
    return np.dot(u, v) / math.sqrt(den) if den > 1e-30 else 0.0


def ref_yin_frame(y, p, win, tau_min, tau_max, ewin, swin, K):
    """One frame: (taus, values, nacs, band energy dB), dips sorted by CMNDF value."""
    y = np.asarray(y, dtype=np.float64)
    s = p - (win + tau_max + 1) // 2
    frame = y[s:s + win]
    # YIN eq. 6, the difference function by its definition
    d = np.array([np.sum((frame - y[s + t:s + t + win]) ** 2) for t in range(tau_max + 2)])
    # eq. 8, cumulative mean normalised difference
    cm = np.ones(tau_max + 2)
    for t in range(1, tau_max + 2):
        tot = d[1:t + 1].sum()
        cm[t] = d[t] * t / tot if tot > 1e-20 else 1.0
    dips = []
    for t in range(max(tau_min, 2), tau_max + 1):
        a, b, c = cm[t - 1], cm[t], cm[t + 1]
        if b <= a and b < c:
            den = a - 2 * b + c
            off = 0.5 * (a - c) / den if den > 0 else 0.0
            dips.append((max(b - 0.25 * (a - c) * off, 0.0), t + off))
    dips.sort(key=lambda q: q[0])       # stable: ties keep the shorter lag first
    dips = dips[:K]
    taus = [q[1] for q in dips]
    vals = [q[0] for q in dips]
    nacs = [ref_short_nac(y, p, int(q[1] + 0.5), swin) for q in dips]
    e = y[p - ewin // 2:p - ewin // 2 + ewin]
    ms = np.mean(e * e)
    edb = 10 * math.log10(ms) if ms > 1e-12 else -120.0
    return taus, vals, nacs, edb


def ref_lag1(y, p, win, tau_max):
    """Lag-1 normalised autocorrelation of the difference-function window of the frame at ``p``."""
    y = np.asarray(y, dtype=np.float64)
    s = p - (win + tau_max + 1) // 2
    u, v = y[s:s + win], y[s + 1:s + 1 + win]
    den = np.dot(u, u) * np.dot(v, v)
    return np.dot(u, v) / math.sqrt(den) if den > 1e-30 else 0.0


def ref_evidence(cand, edb, prm):
    """The voicing evidence of every frame (see :func:`prosync.native.pitch.evidence`),
    written from its definition: float64[n, N_EVIDENCE]."""
    from prosync.native import pitch as kp

    n = cand.shape[1]
    q, step = prm[kp.P_LEVEL_Q], prm[kp.P_LEVEL_STEP]
    out = np.zeros((n, kp.N_EVIDENCE))
    runmax, plev, seen, floor = -np.inf, 0.0, False, 0.0
    for f in range(n):
        e = edb[f]
        runmax = max(runmax, e)
        has = cand[0, f] > 0
        dmin = cand[1, f, 0] if has[0] else 1.0
        nac = max([0.0] + list(cand[2, f][has]))
        if f == 0:
            floor = e
        lev = plev if seen else runmax - prm[kp.P_PRIOR_DB]
        out[f] = [1.0, dmin, nac, np.clip(e - lev, -50, 10), np.clip(e - floor, 0, 60),
                  cand[3, f, 0], 0.0 if f == 0 else np.clip(e - edb[f - 1], -20, 20),
                  nac * (1 - dmin), 0.0, 0.0]
        out[f, 8] = 10 ** (-out[f, 4] / 10)
        out[f, 9] = min(out[f, 3], -8.0)
        if dmin < kp.PERIODIC_GATE:
            plev = plev + step * (q - (e < plev)) if seen else e
            seen = True
        floor += step * (kp.FLOOR_Q - (e < floor))
    return out


def ref_track(cand, edb, prm, lag, stats=None):
    """Whole-stream fixed-lag Viterbi, written plainly (see :func:`prosync.native.pitch.track`).

    ``cand``: float64[4, n, K] (lag, CMNDF, NAC, lag-1 autocorrelation; lag 0 = no candidate).
    Returns ``f0`` (NaN = unvoiced), ``voiced`` and ``periodicity`` for the frames
    ``0 .. n-1-lag`` (the rest would need frames after the stream's end). ``stats``: a dict,
    given ``"credited"``, the number of frames with a noise-share credit.
    """
    from prosync.native import pitch as kp

    z = ref_evidence(cand, edb, prm) @ prm[kp.P_VW:kp.P_VW + kp.N_EVIDENCE]

    n, K = cand.shape[1], cand.shape[2]
    UV = K
    oc, jw, vuc = prm[kp.P_OCTAVE], prm[kp.P_JUMP], prm[kp.P_VUV]
    wn, sr, tmin = prm[kp.P_NAC_W], prm[kp.P_SR], prm[kp.P_TAU_MIN]
    level, seen, runmax = 0.0, False, -np.inf
    om = prm[kp.P_OCT_HIGH]
    reg, reg_seen = 0.0, False   # the speaker's register: log2 lag, the REG_Q quantile
    med, med_seen = 0.0, False   # the speaker's median log2 lag (noise-share credit's F0 gate)
    floor, floor_seen = 0.0, False   # the noise floor: FLOOR_Q quantile of every frame's energy
    fper, fper_seen = 0.0, False     # median periodicity of the frames near the floor
    delta = None
    back = []   # back[f][s] = best predecessor of state s at frame f
    per = np.zeros(n)
    f0 = np.full(n - lag, np.nan)
    voiced = np.zeros(n - lag, dtype=bool)
    for f in range(n):
        runmax = max(runmax, edb[f])
        lev = level if seen else max(runmax - prm[kp.P_PRIOR_DB], prm[kp.P_PRIOR_FLOOR])
        rel = min(max(edb[f] - lev + prm[kp.P_UV_KNEE], -60.0), 0.0)
        loc = []
        aps = []
        # the noise-share credit: the floor as it was before this frame
        if not floor_seen:
            floor, floor_seen = edb[f], True
        fl = floor
        floor += prm[kp.P_LEVEL_STEP] * (kp.FLOOR_Q - (edb[f] < fl))
        ns = 10.0 ** ((fl - edb[f]) / 10.0)
        credit = (kp.NS_W * ns if edb[f] >= lev - prm[kp.P_UV_KNEE] and fper_seen
                  and fper <= kp.NS_PER_MAX and ns <= kp.NS_CAP else 0.0)
        if stats is not None:
            stats["credited"] = stats.get("credited", 0) + (credit > 0.0)
        def high(t, reg=reg, reg_seen=reg_seen):
            """The cost of a lag more than REG_MARGIN octaves above the register."""
            if om == 0.0 or not reg_seen:
                return 0.0
            return om * max(0.0, reg - kp.REG_MARGIN - math.log2(t))

        # the unvoiced cost carries the octave costs of the frame's best candidate
        has = [s for s in range(K) if cand[0, f, s] > 0]
        octs = [(1 - wn) * cand[1, f, s] + wn * (1 - cand[2, f, s])
                + oc * math.log2(cand[0, f, s] / tmin) + high(cand[0, f, s]) for s in has]
        t_b = cand[0, f, has[int(np.argmin(octs))]] if has else tmin
        for s in range(K + 1):
            if s == UV:
                loc.append(prm[kp.P_UV_BASE] + prm[kp.P_UV_DB] * (rel + prm[kp.P_UV_REL_DB])
                           + prm[kp.P_V_GAIN] * z[f]
                           + prm[kp.P_UV_OCT] * (oc * math.log2(t_b / tmin)
                                                 + (high(t_b) if has else 0.0)))
            elif cand[0, f, s] <= 0:
                loc.append(None)
            else:
                ap = (1 - wn) * cand[1, f, s] + wn * (1 - cand[2, f, s])
                aps.append(1 - ap)
                near = not med_seen or abs(math.log2(cand[0, f, s]) - med) <= kp.NS_F0_OCT
                loc.append((ap + oc * math.log2(cand[0, f, s] / tmin) + high(cand[0, f, s])
                            if edb[f] >= kp.SILENCE_DB else kp.BIG) - (credit if near else 0.0))
        per[f] = min(max(aps + [0.0]), 1.0)
        if edb[f] < floor + kp.NS_FLOOR_BAND_DB:   # the floor after this frame's step
            if fper_seen:
                fper += kp.NS_PER_STEP * (0.5 - (per[f] < fper))
            else:
                fper, fper_seen = kp.NS_PER_START, True
        new = [0.0] * (K + 1)
        bp = [0] * (K + 1)
        for s in range(K + 1):
            if loc[s] is None:
                new[s], bp[s] = kp.BIG, K
                continue
            if f == 0:
                new[s] = loc[s]
                continue
            best, arg = math.inf, 0
            for p in range(K + 1):
                if p != UV and cand[0, f - 1, p] <= 0:
                    continue
                c = delta[p]
                if p != UV and s != UV:
                    c += jw * abs(math.log2(cand[0, f, s] / cand[0, f - 1, p]))
                elif (p == UV) != (s == UV):
                    c += vuc
                if c < best:
                    best, arg = c, p
            new[s], bp[s] = best + loc[s], arg
        lo = min(new)
        delta = [v - lo for v in new]
        back.append(bp)
        g = f - lag
        if g < 0:
            continue
        s = int(np.argmin(delta))
        for h in range(f, g, -1):
            s = back[h][s]
        if s != UV:
            f0[g] = sr / cand[0, g, s]
            voiced[g] = True
            if seen:
                level += prm[kp.P_LEVEL_STEP] * (prm[kp.P_LEVEL_Q] - (edb[g] < level))
            else:
                level, seen = edb[g], True
            lg = math.log2(cand[0, g, s])
            if reg_seen:
                reg += kp.REG_STEP * (kp.REG_Q - (lg < reg))
            else:
                reg, reg_seen = lg, True
            if med_seen:
                med += kp.REG_STEP * (0.5 - (lg < med))
            else:
                med, med_seen = lg, True
    return f0, voiced, per[:n - lag]


def ref_refine(x, c, f0, win, sr):
    """Full-rate refinement of one voiced frame (see :func:`prosync.native.pitch.refine_f0`)."""
    x = np.asarray(x, dtype=np.float64)
    t0 = sr / f0
    lo = int(t0) - 1
    s = c - (win + lo + 4) // 2
    a = x[s:s + win]
    d = [np.sum((a - x[s + T:s + T + win]) ** 2) for T in range(lo, lo + 4)]
    k = None
    if d[1] <= d[2] and d[1] < d[0] and d[1] < d[3]:
        k = 1
    elif d[2] < d[1] and d[2] < d[3]:
        k = 2
    if k is None:
        return f0
    den = d[k - 1] - 2 * d[k] + d[k + 1]
    if den <= 0:
        return f0
    return sr / (lo + k + 0.5 * (d[k - 1] - d[k + 1]) / den)
