"""Pitch kernels: decimation, YIN candidates, and a fixed-lag Viterbi tracker with voicing.

de Cheveigné & Kawahara (2002), "YIN, a fundamental frequency estimator for speech and music",
JASA 111(4): steps 2 (difference function), 3 (cumulative mean normalised difference, CMNDF) and
5 (parabolic interpolation). Instead of step 4's absolute threshold, every frame keeps its best
few CMNDF dips as candidates and a Viterbi search over candidates plus an "unvoiced" state picks
the track (as in Boersma 1993 / Praat and Talkin 1995 / RAPT), decided with a fixed lag of a
few frames so that the tracker stays causal.

Layout of the state and parameter arrays is documented on :func:`track`; the engine
(:mod:`prosync.engine.pitch`) owns and allocates them.
"""

import numpy as np

from ._jit import jit


@jit
def decimate2(x, start, m, h, out):
    """Low-pass and keep every second sample.

    ``out[j] = sum_k h[k] * x[start + 2*j - L//2 + k]`` for ``j < m`` (``L = len(h)``, odd and
    symmetric, so ``out[j]`` is centred on ``x[start + 2*j]``).
    """
    L = h.shape[0]
    half = L // 2
    for j in range(m):
        xs = x[start + 2 * j - half:start + 2 * j - half + L]
        acc = 0.0
        for k in range(L):
            acc += h[k] * xs[k]
        out[j] = acc


@jit
def _sumsq(v, m):
    """``sum(v[:m]**2)`` in float64, four interleaved partial sums."""
    s0 = s1 = s2 = s3 = 0.0
    q = m // 4
    for j in range(q):
        a = float(v[4 * j])
        b = float(v[4 * j + 1])
        c = float(v[4 * j + 2])
        d = float(v[4 * j + 3])
        s0 += a * a
        s1 += b * b
        s2 += c * c
        s3 += d * d
    for j in range(4 * q, m):
        a = float(v[j])
        s0 += a * a
    return (s0 + s1) + (s2 + s3)


@jit
def _short_nac(y, p, t, swin):
    """Normalised autocorrelation ``sum(u v) / sqrt(sum(u u) sum(v v))`` at lag ``t``.

    ``u = y[s : s+w]``, ``v = y[s+t : s+t+w]``, ``w = max(swin, t)``, ``s = p - (w + t)//2``: a
    short window centred on ``p``, so voicing onsets and offsets stay sharp, and the measure
    ignores a change of level within the window (Boersma 1993 uses the same normalisation).
    """
    w = max(swin, t)
    s = p - (w + t) // 2
    ys = y[s:s + w + t]
    # two interleaved partial sums per product: shorter dependency chains (no fastmath)
    a0 = a1 = b0 = b1 = c0 = c1 = 0.0
    h = w // 2
    for j in range(h):
        u = float(ys[2 * j])
        v = float(ys[2 * j + t])
        a0 += u * v
        b0 += u * u
        c0 += v * v
        u = float(ys[2 * j + 1])
        v = float(ys[2 * j + 1 + t])
        a1 += u * v
        b1 += u * u
        c1 += v * v
    if w % 2:
        u = float(ys[w - 1])
        v = float(ys[w - 1 + t])
        a0 += u * v
        b0 += u * u
        c0 += v * v
    a = a0 + a1
    b = b0 + b1
    c = c0 + c1
    den = b * c
    return a / np.sqrt(den) if den > 1e-30 else 0.0


@jit
def yin_candidates(y, p0, n, hop, win, tau_min, tau_max, ewin, swin, r, d, out_tau, out_val,
                   out_nac, out_cnt, out_edb, out_feat, sc):
    """CMNDF of ``n`` frames and its ``K`` deepest dips (``K = out_tau.shape[1]``).

    Frame ``i`` is centred on ``y[p = p0 + i*hop]``. The difference function compares
    ``y[s : s+win]`` with ``y[s+tau : s+tau+win]``, ``s = p - (win + tau_max + 1)//2``, for
    ``tau = 1 .. tau_max + 1`` (YIN eq. 7 with both windows' energies:
    ``d(tau) = e(s) + e(s+tau) - 2 r(tau)``).

    Parameters
    ----------
    y : float32[:] signal (here 8 kHz).
    r : float32[tau_max + 2] scratch (caller-owned): the autocorrelation, summed in float32 so the
        inner loop runs 8 lanes wide; energies, CMNDF and everything after are float64.
    d : float64[tau_max + 2] scratch (caller-owned).
    out_tau : float64[n, K] period of each dip in samples of ``y`` (parabolic interpolation),
        sorted by CMNDF value, ascending.
    out_val : float64[n, K] interpolated CMNDF value at each dip (0 = periodic, about 1 = noise).
    out_nac : float64[n, K] normalised autocorrelation at the dip's integer lag ``t`` over a
        short window of ``max(swin, t)`` samples centred on the frame (see :func:`_short_nac`).
    out_cnt : int64[n] number of dips found (0 .. K).
    out_edb : float64[n] energy of ``y`` in dB over ``ewin`` samples centred on ``p``
        (mean square, floored at -120 dB).
    out_feat : float64[n, 3] spectral shape of the same ``ewin`` samples (see :func:`_shape`):
        zero-crossing rate, first normalised autocorrelation ``r1/r0`` and the prediction error
        of an order-``LPC_ORDER`` linear predictor relative to ``r0`` in dB.
    sc : float64[3, LPC_ORDER + 1] scratch (caller-owned).
    """
    K = out_tau.shape[1]
    span = win + tau_max + 1
    for i in range(n):
        p = p0 + i * hop
        s = p - span // 2
        # band energy centred on the frame
        ye = y[p - ewin // 2:p - ewin // 2 + ewin]
        ms = _sumsq(ye, ewin) / ewin
        out_edb[i] = 10.0 * np.log10(ms) if ms > 1e-12 else -120.0
        _shape(ye, ewin, sc, out_feat[i])
        # autocorrelation r(tau), loop order chosen so the inner loop vectorises
        for t in range(tau_max + 2):
            r[t] = 0.0
        # (a view: its indices are provably >= 0, which lets LLVM vectorise the inner loop)
        ys = y[s:s + span]
        for j in range(win):
            a = ys[j]
            for t in range(tau_max + 2):
                r[t] += a * ys[j + t]
        # difference function (eq. 7) and CMNDF (eq. 8), in place in d
        e0 = _sumsq(ys, win)
        et = e0
        run = 0.0
        d[0] = 1.0
        for t in range(1, tau_max + 2):
            v0 = float(ys[t - 1])
            v1 = float(ys[win + t - 1])
            et += v1 * v1 - v0 * v0
            dt = e0 + et - 2.0 * r[t]
            if dt < 0.0:
                dt = 0.0
            run += dt
            d[t] = dt * t / run if run > 1e-20 else 1.0
        # K deepest local minima in [tau_min, tau_max], insertion into a sorted list
        cnt = 0
        for t in range(max(tau_min, 2), tau_max + 1):
            b = d[t]
            if not (b <= d[t - 1] and b < d[t + 1]):
                continue
            a = d[t - 1]
            c = d[t + 1]
            den = a - 2.0 * b + c
            tt = float(t)
            vv = b
            if den > 0.0:
                off = 0.5 * (a - c) / den
                tt = t + off
                vv = b - 0.25 * (a - c) * off
            if vv < 0.0:
                vv = 0.0
            if cnt == K and vv >= out_val[i, K - 1]:
                continue
            q = cnt if cnt < K else K - 1
            while q > 0 and out_val[i, q - 1] > vv:
                if q < K:
                    out_val[i, q] = out_val[i, q - 1]
                    out_tau[i, q] = out_tau[i, q - 1]
                q -= 1
            out_val[i, q] = vv
            out_tau[i, q] = tt
            if cnt < K:
                cnt += 1
        out_cnt[i] = cnt
        for q in range(cnt):
            out_nac[i, q] = _short_nac(y, p, int(out_tau[i, q] + 0.5), swin)
        for q in range(cnt, K):
            out_val[i, q] = 1.0
            out_tau[i, q] = 0.0
            out_nac[i, q] = 0.0



#: Order of the linear predictor whose error measures spectral flatness.
LPC_ORDER = 8


@jit
def _shape(v, m, sc, out):
    """Atal & Rabiner (1976) voiced/unvoiced/silence measures of ``v[:m]`` into ``out[:3]``.

    ``out[0]`` zero-crossing rate (crossings per sample), ``out[1]`` ``r1/r0`` (near 1 for
    low-frequency voiced sound, near 0 or negative for fricatives and white noise), ``out[2]``
    ``10 log10(E_p / r0)``: the normalised error of the order-``p`` linear predictor found by the
    Levinson-Durbin recursion on ``r0 .. rp`` (0 dB for white noise; by Kolmogorov's formula
    it tends to the spectral flatness in dB as ``p`` grows). Reflection coefficients are
    clipped to ``|k| <= 0.9999`` and the error floored at -60 dB. ``sc``: float64[3, P + 1]
    scratch.
    """
    P = LPC_ORDER
    rr = sc[0]
    a = sc[1]
    tmp = sc[2]
    for k in range(P + 1):
        rr[k] = 0.0
        a[k] = 0.0
    zc = 0
    for j in range(m):
        u = float(v[j])
        if j > 0 and (u >= 0.0) != (float(v[j - 1]) >= 0.0):
            zc += 1
        for k in range(P + 1):
            if j + k < m:
                rr[k] += u * float(v[j + k])
    out[0] = zc / (m - 1)
    if rr[0] <= 1e-20:
        out[1] = 0.0
        out[2] = 0.0
        return
    out[1] = rr[1] / rr[0]
    a[0] = 1.0
    err = rr[0]
    for i in range(1, P + 1):
        acc = rr[i]
        for j in range(1, i):
            acc += a[j] * rr[i - j]
        k = -acc / err
        k = min(max(k, -0.9999), 0.9999)
        for j in range(1, i):
            tmp[j] = a[j] + k * a[i - j]
        for j in range(1, i):
            a[j] = tmp[j]
        a[i] = k
        err *= 1.0 - k * k
    out[2] = max(10.0 * np.log10(err / rr[0]), -60.0)


#: Indices of the parameter vector of :func:`track`; the voicing model's weights start at P_W.
P_OCTAVE, P_JUMP, P_VUV, P_LEVEL_Q, P_LEVEL_STEP, P_NAC_W, P_PRIOR_DB, P_SR, P_TAU_MIN, \
    P_FLOOR_RISE, P_AP, P_LEVEL_PER, P_NOISE_BIAS, P_W = range(14)
#: Evidence of the voicing model, in the order of its weights (after the bias).
EVIDENCE = ("cmndf", "nac", "level_db", "above_floor", "zcr", "r1", "lpc_err_db", "snr_db",
            "nac_x_snr", "cmndf_x_snr")
NX = len(EVIDENCE)
N_PARAMS = P_W + 1 + NX
BIG = 1e9


@jit
def _softplus(z):
    """``log(1 + exp(z))`` without overflow."""
    return max(z, 0.0) + np.log1p(np.exp(-abs(z)))


@jit
def evidence(cand, r, e, lev, floor, feat, x):
    """The voicing model's evidence of frame ``r`` into ``x[:NX]`` (order of ``EVIDENCE``).

    CMNDF of the deepest dip (1 without a dip), the largest short-window NAC (0 without a dip),
    band energy over the speaker's level (-60..20 dB, in units of 10 dB), where the energy sits
    between the noise floor and the level (``(e - floor) / max(level - floor, 3 dB)``, 0..2),
    zero-crossing rate, ``r1/r0``, the prediction error (-60..0 dB, in units of 10 dB), the
    level over the floor (0..30 dB, units of 10 dB: the
    condition; above 30 dB the noise no longer matters) and its products with the NAC and the
    CMNDF.
    """
    K = cand.shape[2]
    x[0] = cand[1, r, 0] if cand[0, r, 0] > 0.0 else 1.0
    best = 0.0
    for s in range(K):
        if cand[0, r, s] > 0.0 and cand[2, r, s] > best:
            best = cand[2, r, s]
    x[1] = best
    x[2] = min(max(e - lev, -60.0), 20.0) / 10.0
    # where the frame sits between the noise floor (0) and the speaker's level (1)
    x[3] = min(max((e - floor) / max(lev - floor, 3.0), 0.0), 2.0)
    x[4] = feat[r, 0]
    x[5] = feat[r, 1]
    x[6] = feat[r, 2] / 10.0
    # the condition: the speaker's level over the noise floor, and how it changes what the
    # periodicity measures mean (noise lowers the NAC and raises the CMNDF of voiced frames)
    snr = min(max(lev - floor, 0.0), 30.0) / 10.0
    x[7] = snr
    x[8] = x[1] * snr
    x[9] = x[0] * snr


@jit
def track(cand, edb, feat, m, o0, prm, st, rtau, rbp, rf, pos, out_f0, out_per, out_voiced,
          out_x):
    """Fixed-lag Viterbi over ``K`` candidates plus an unvoiced state, ``m`` new frames.

    State ``s < K`` is candidate ``s`` of a frame, state ``K`` is unvoiced. Costs (lower is
    better; Boersma 1993 sect. 4 in cost form, the voicing term as a negative log probability):

    - voicing: a logistic model gives each frame the log-odds ``z = w . [1, x]`` that it is
      voiced from its evidence ``x`` (:func:`evidence`), plus ``noise_bias * (3 - snr)`` where
      ``snr`` is the level over the floor in units of 10 dB, clipped to 0..3; voiced states pay
      ``softplus(-z)`` (``-log p``), the unvoiced state ``softplus(z)`` (``-log (1 - p)``);
    - voiced local, on top: ``ap_s - (1 - ap_weight) * min_s ap_s + octave * log2(tau / tau_min)``
      with ``ap = (1 - w) * cmndf + w * (1 - nac)`` (``ap_weight``: how much the best
      candidate's own aperiodicity counts against voicing, beyond the voicing model);
    - transitions: ``jump * |log2(tau_a / tau_b)|`` voiced to voiced, ``vuv`` across voicing.

    The evidence is normalised against what is tracked: the speaker's level (the ``level_q``
    quantile of the band energy of the clearly periodic frames, periodicity above
    ``level_periodicity``, by stochastic approximation with steps of ``level_step`` dB; before
    the first such frame the running maximum minus ``prior_db``) and the noise floor
    (``floor = min(e, floor + floor_rise)``: down with the band energy at once, up by at most
    ``floor_rise`` dB per frame; frames below -100 dB, digital silence, leave it alone).

    After the forward step of stream frame ``f`` the best path is traced back ``D`` frames and
    frame ``f - D`` is decided for good (``D = rtau.shape[0] - 2``).

    Parameters
    ----------
    cand : float64[3, >=m, K] per new frame: ``cand[0]`` lag of each candidate (samples at
        ``prm[P_SR]``; 0 = no candidate), ``cand[1]`` CMNDF value, ``cand[2]`` short-window NAC.
    edb : float64[>=m] band energy of each new frame (dB).
    feat : float64[>=m, 3] spectral shape of each new frame (``yin_candidates``'s ``out_feat``).
    m : int, new frames, in stream order.
    o0 : int, output index of the frame decided after the first new frame (negative at the very
        start of a stream, while fewer than ``D`` frames exist).
    prm : float64[N_PARAMS] see the ``P_*`` indices.
    st : float64[2, K + 1 + max(5, NX)] state and scratch: ``st[0, :K+1]`` accumulated cost of each state
        at the newest frame; ``st[1, :K+1]`` scratch; ``st[0, K+1:]`` the trackers: speaker
        level (dB), 1.0 once a frame was clearly periodic, running max of the energy, noise floor (dB),
        1.0 once the floor is set; ``st[1, K+1:K+1+NX]`` scratch for the evidence.
    rtau : float64[D+2, K] state: candidate lags of the last ``D+2`` frames (a ring: frame ``f``
        in slot ``f % (D+2)``; two slots at least, so the previous frame survives when ``D = 0``).
    rbp : int64[D+2, K+1] state: back-pointers of the same frames (same ring).
    rf : float64[D+2, 3 + NX] state: band energy, periodicity, voicing log-odds and evidence
        of the same frames.
    pos : int64[1] state: frames stepped so far.
    out_f0 : float32[:] F0 in Hz, NaN when unvoiced. out_per : float32[:] periodicity 0..1
        (``1 - min_s ap_s``). out_voiced : bool[:].
    out_x : float64[:, 1 + NX] the decided frames' voicing log-odds and evidence (diagnostics
        and the voicing model's training data).
    """
    K = cand.shape[2]
    R = rtau.shape[0]
    D = R - 2
    oc = prm[P_OCTAVE]
    jw = prm[P_JUMP]
    vuc = prm[P_VUV]
    wn = prm[P_NAC_W]
    sr = prm[P_SR]
    tmin = prm[P_TAU_MIN]
    apw = prm[P_AP]
    delta = st[0]
    nd = st[1]
    lvl = st[0, K + 1:]
    x = st[1, K + 1:K + 1 + NX]
    for r in range(m):
        f = pos[0]
        sl = f % R
        prev = (f - 1) % R
        e = edb[r]
        if e > lvl[2] or f == 0:
            lvl[2] = e
        lev = lvl[0] if lvl[1] > 0.0 else lvl[2] - prm[P_PRIOR_DB]
        if e > -100.0:
            lvl[3] = min(e, lvl[3] + prm[P_FLOOR_RISE]) if lvl[4] > 0.0 else e
            lvl[4] = 1.0
        evidence(cand, r, e, lev, lvl[3] if lvl[4] > 0.0 else e, feat, x)
        # noise_bias: voiced frames in noise are less periodic, so ap_weight counts against
        # them; give back noise_bias per 10 dB of the level over the floor below 30 dB
        z = prm[P_W] + prm[P_NOISE_BIAS] * (3.0 - x[7])
        for q in range(NX):
            z += prm[P_W + 1 + q] * x[q]
        cvo = _softplus(-z)
        cuv = _softplus(z)
        ap_min = BIG
        for s in range(K):
            if cand[0, r, s] > 0.0:
                ap = (1.0 - wn) * cand[1, r, s] + wn * (1.0 - cand[2, r, s])
                if ap < ap_min:
                    ap_min = ap
        for s in range(K + 1):
            if s < K:
                t = cand[0, r, s]
                rtau[sl, s] = t
                if t <= 0.0:
                    nd[s] = BIG
                    rbp[sl, s] = K
                    continue
                ap = (1.0 - wn) * cand[1, r, s] + wn * (1.0 - cand[2, r, s])
                loc = ap - ap_min + oc * np.log2(t / tmin) + cvo + apw * ap_min
            else:
                loc = cuv
            best = 0.0
            bi = 0
            if f > 0:
                best = np.inf
                for p in range(K + 1):
                    c = delta[p]
                    if p < K:
                        tp = rtau[prev, p]
                        if tp <= 0.0:
                            continue
                        if s < K:
                            c += jw * abs(np.log2(rtau[sl, s] / tp))
                        else:
                            c += vuc
                    elif s < K:
                        c += vuc
                    if c < best:
                        best = c
                        bi = p
            nd[s] = best + loc
            rbp[sl, s] = bi
        lo = np.inf
        for s in range(K + 1):
            if nd[s] < lo:
                lo = nd[s]
        for s in range(K + 1):
            delta[s] = nd[s] - lo
        rf[sl, 0] = e
        rf[sl, 1] = min(max(1.0 - ap_min, 0.0), 1.0)
        # the speaker's level, from clearly periodic frames (not from the decisions: no feedback)
        if rf[sl, 1] > prm[P_LEVEL_PER]:
            if lvl[1] > 0.0:
                lvl[0] += prm[P_LEVEL_STEP] * (prm[P_LEVEL_Q] - (1.0 if e < lvl[0] else 0.0))
            else:
                lvl[0] = e
                lvl[1] = 1.0
        rf[sl, 2] = z
        for q in range(NX):
            rf[sl, 3 + q] = x[q]
        pos[0] = f + 1
        g = f - D
        if g < 0:
            continue
        # trace the best path back to frame g
        s = 0
        for q in range(1, K + 1):
            if delta[q] < delta[s]:
                s = q
        for h in range(f, g, -1):
            s = rbp[h % R, s]
        gs = g % R
        oi = o0 + r
        out_per[oi] = rf[gs, 1]
        for q in range(1 + NX):
            out_x[oi, q] = rf[gs, 2 + q]
        if s < K:
            out_f0[oi] = sr / rtau[gs, s]
            out_voiced[oi] = True
        else:
            out_f0[oi] = np.nan
            out_voiced[oi] = False


@jit
def refine_f0(x, c0, n, hop, win, sr, voiced, f0):
    """Refine voiced F0 values on the full-rate signal, in place.

    For frame ``i`` (centre ``c = c0 + i*hop``) with period ``T0 = sr / f0[i]``, the YIN
    difference function ``d(T) = sum_j (x[s+j] - x[s+j+T])**2`` (``j < win``, one window start
    ``s = c - (win + ceil(T0) + 2)//2`` for all ``T``) is evaluated at the integers
    ``T = floor(T0) - 1 .. floor(T0) + 2``; a parabola through the lowest interior minimum and
    its neighbours gives the refined period. ``f0`` is left as it is when the minimum is at either
    end of that range (the candidate was not near a dip at full rate).
    """
    for i in range(n):
        if not voiced[i]:
            continue
        t0 = sr / f0[i]
        lo = int(t0) - 1
        s = c0 + i * hop - (win + lo + 4) // 2
        xs = x[s:s + win + lo + 4]
        d0 = 0.0
        d1 = 0.0
        d2 = 0.0
        d3 = 0.0
        for j in range(win):
            a = float(xs[j])
            v = a - float(xs[j + lo])
            d0 += v * v
            v = a - float(xs[j + lo + 1])
            d1 += v * v
            v = a - float(xs[j + lo + 2])
            d2 += v * v
            v = a - float(xs[j + lo + 3])
            d3 += v * v
        if d1 <= d2 and d1 < d0 and d1 < d3:
            a, b, c, tb = d0, d1, d2, lo + 1
        elif d2 < d1 and d2 < d3:
            a, b, c, tb = d1, d2, d3, lo + 2
        else:
            continue
        den = a - 2.0 * b + c
        if den > 0.0:
            f0[i] = sr / (tb + 0.5 * (a - c) / den)
