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
                   out_nac, out_cnt, out_edb, out_x):
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
    out_x : float64[n, >=1] per-frame evidence for the voicing decision: ``out_x[i, 0]`` the
        normalised autocorrelation at lag 1 of the difference-function window,
        ``r(1) / sqrt(e(s) e(s+1))`` (near 1 for low-pass sound such as voiced speech, near 0 for
        white noise, negative for hiss and fricatives).
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
        # lag-1 autocorrelation, normalised by both windows' energies
        v0 = float(ys[0])
        v1 = float(ys[win])
        den1 = e0 * (e0 + v1 * v1 - v0 * v0)
        out_x[i, 0] = r[1] / np.sqrt(den1) if den1 > 1e-30 else 0.0
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



#: Indices of the parameter vector of :func:`track`.
P_OCTAVE, P_JUMP, P_VUV, P_UV_BASE, P_UV_DB, P_UV_REL_DB, P_LEVEL_Q, P_LEVEL_STEP, P_NAC_W, \
    P_PRIOR_DB, P_SR, P_TAU_MIN, P_UV_KNEE, P_V_GAIN, P_PRIOR_FLOOR, \
    P_UV_OCT, P_OCT_HIGH = range(17)
#: The voicing model's weights: ``prm[P_VW + k]`` multiplies evidence ``k`` (see
#: :func:`evidence`); ``N_EVIDENCE`` of them.
P_VW = 17
N_EVIDENCE = 10
N_PARAMS = P_VW + N_EVIDENCE
BIG = 1e9
#: A frame whose deepest CMNDF dip is below this is "clearly periodic": the energies of those
#: frames give the speaker's level for the voicing evidence (independent of the decisions).
PERIODIC_GATE = 0.3
#: The noise floor: this quantile of every frame's band energy, tracked online.
FLOOR_Q = 0.1
#: The speaker's register: this quantile of the (log2) lags of the frames decided voiced, i.e.
#: the F0 that 80 % of their voiced frames stay below, tracked online in steps of
#: :data:`REG_STEP` octaves per voiced frame (about an octave in 20 frames). A high quantile, so
#: that octave-down errors (low outliers) do not drag it down.
REG_Q = 0.2
REG_STEP = 0.05
#: Candidates more than this many octaves above that F0 pay ``prm[P_OCT_HIGH]`` per octave
#: beyond it: read and conversational speech stays within about an octave of its register, and an
#: F0 at 2-3x the speaker's is a harmonic (the telephone band removes a low voice's F0 and H2).
REG_MARGIN = 1.0
#: The noise-share credit (issue 14, session 13). Stationary noise adds its share of a voiced
#: frame's power to the frame's aperiodicity: with ``ns = 10 ** ((floor - e) / 10)`` (``floor``
#: the :data:`FLOOR_Q` quantile of every frame's band energy, tracked online) a candidate's
#: voiced cost is lowered by ``NS_W * ns`` (round 5's correction), only where ``ns`` <= ``NS_CAP``
#: (the frame 5 dB or more above the floor; below, the noise itself would be voiced), the frame is
#: within ``uv_knee_db`` of the speaker's level, the noise at the floor is aperiodic (the median
#: periodicity of the frames within :data:`NS_FLOOR_BAND_DB` of the floor, tracked online in
#: steps of :data:`NS_PER_STEP` from :data:`NS_PER_START`, at most :data:`NS_PER_MAX`: babble at
#: the floor reads 0.46-0.76, stationary noises 0.08-0.41), and the candidate's F0 is within
#: :data:`NS_F0_OCT` octaves of the speaker's running median F0 (the median of the log2 lags of
#: the frames decided voiced, steps of :data:`REG_STEP`; any candidate before the first). The F0
#: gate is what keeps the frames the credit voices from bringing their octave errors: without it
#: the same credit adds gross errors (held out +51 frames), with it gross errors fall (-179).
NS_W = 0.3
NS_CAP = 0.3
NS_F0_OCT = 0.3
NS_PER_MAX = 0.45
NS_FLOOR_BAND_DB = 3.0
NS_PER_START = 0.6
NS_PER_STEP = 0.01
#: Length of the level state array of :func:`track`.
N_LEVEL = 14
#: Band energy (dB re full scale, mean square) below which a frame is never voiced: about 3 LSB
#: RMS of 16-bit audio. Periodic patterns of one or two LSB (the residue of a call's noise
#: suppression, hum at the quantisation floor) otherwise pass as voice before the speaker's
#: level is known, and seed that level 60-70 dB too low (CANDOR ``shift.wav`` channel 0).
SILENCE_DB = -80.0


@jit
def evidence(cand, r, e, e_prev, first, prm, lvl, x):
    """The voicing evidence of frame ``r`` of ``cand`` (band energy ``e`` dB, the previous
    frame's ``e_prev``), into ``x`` (float64[N_EVIDENCE]); updates the trackers in ``lvl``.

    ``x``: 1 (bias); the deepest CMNDF dip (1 when there is none); the highest short-window
    NAC of the candidates (0 when none); ``e`` relative to the speaker's periodic level, clipped
    to -50 .. 10 dB; ``e`` over the noise floor, clipped to 0 .. 60 dB; the lag-1
    autocorrelation ``cand[3, r, 0]``; the energy change ``e - e_prev``, clipped to +-20 dB;
    the product of NAC and (1 - CMNDF dip) (both periodicity measures agree); the noise's share
    of the frame's power, ``10 ** ((floor - e) / 10)`` capped at 1; ``e`` relative to the level
    again, clipped to -50 .. -8 dB (with the first, a knee: within 8 dB of the level the energy
    says little).

    ``lvl[3]`` the periodic level: the ``level_q`` quantile of the energy of clearly periodic
    frames (deepest dip below :data:`PERIODIC_GATE`), steps of ``level_step`` dB, before the
    first such frame the running maximum ``lvl[2]`` minus ``prior_db``; ``lvl[4]`` 1.0 once seen;
    ``lvl[5]`` the noise floor, the :data:`FLOOR_Q` quantile of every frame's energy (same
    steps, starting at the first frame's). Both are read before this frame updates them.
    ``first``: the stream's first frame.
    """
    K = cand.shape[2]
    dmin = cand[1, r, 0] if cand[0, r, 0] > 0.0 else 1.0
    nac = 0.0
    for s in range(K):
        if cand[0, r, s] > 0.0 and cand[2, r, s] > nac:
            nac = cand[2, r, s]
    if first:
        lvl[5] = e
    lev = lvl[3] if lvl[4] > 0.0 else lvl[2] - prm[P_PRIOR_DB]
    x[0] = 1.0
    x[1] = dmin
    x[2] = nac
    x[3] = min(max(e - lev, -50.0), 10.0)
    x[4] = min(max(e - lvl[5], 0.0), 60.0)
    x[5] = cand[3, r, 0]
    x[6] = 0.0 if first else min(max(e - e_prev, -20.0), 20.0)
    x[7] = nac * (1.0 - dmin)
    x[8] = 10.0 ** (-0.1 * x[4])
    x[9] = min(x[3], -8.0)
    step = prm[P_LEVEL_STEP]
    if dmin < PERIODIC_GATE:
        if lvl[4] > 0.0:
            lvl[3] += step * (prm[P_LEVEL_Q] - (1.0 if e < lvl[3] else 0.0))
        else:
            lvl[3] = e
            lvl[4] = 1.0
    lvl[5] += step * (FLOOR_Q - (1.0 if e < lvl[5] else 0.0))


@jit
def evidence_series(cand, edb, m, prm, lvl, out):
    """:func:`evidence` of ``m`` consecutive frames from a fresh state, into ``out[:m]``
    (the voicing model's training features, exactly as :func:`track` sees them)."""
    for r in range(m):
        e = edb[r]
        if e > lvl[2] or r == 0:
            lvl[2] = e
        evidence(cand, r, e, edb[r - 1] if r > 0 else 0.0, r == 0, prm, lvl, out[r])


@jit
def track(cand, edb, m, o0, prm, delta, nd, rtau, rbp, rf, lvl, pos, out_f0, out_per, out_voiced):
    """Fixed-lag Viterbi over ``K`` candidates plus an unvoiced state, ``m`` new frames.

    State ``s < K`` is candidate ``s`` of a frame, state ``K`` is unvoiced. Costs (lower is
    better; Boersma 1993 sect. 4 in cost form):

    - voiced local: ``(1 - w) * cmndf + w * (1 - nac) + octave * log2(tau / tau_min)``;
    - unvoiced local: ``uv_base + uv_db * (clip(e - level + knee, -60, 0) + uv_rel_db)``, where
      ``e`` is the frame's band energy (dB), ``knee`` (dB) the span below the level over which the
      cost stays flat (as Praat's silence threshold leaves every frame within ~20 dB of the loud
      ones to its voicing threshold), and ``level`` the speaker's level: the ``level_q`` quantile of
      the energy of the frames decided voiced, tracked online by stochastic approximation with
      steps of ``level_step`` dB (before the first voiced frame: the running maximum of ``e`` minus
      ``prior_db``, but not below ``prm[P_PRIOR_FLOOR]`` dB);
    - plus ``uv_octave * octave * log2(tau_b / tau_min)``, ``tau_b`` the lag of the frame's
      cheapest candidate (``prm[P_UV_OCT]``; at 1 the octave cost ranks the candidates but does
      not weigh on voicing: without it a 100 Hz voice paid ~0.1 more than a 250 Hz one to be
      voiced, and low voices lost their onsets and offsets while high ones kept their tails);
    - voiced, plus ``octave_high * max(0, log2(tau_reg / tau) - REG_MARGIN)`` (``prm[P_OCT_HIGH]``):
      a candidate more than :data:`REG_MARGIN` octaves above the speaker's register pays per octave
      beyond it; ``tau_reg`` the :data:`REG_Q` quantile of the lags of the frames decided voiced so
      far (``lvl[6]``, log2; ``lvl[7]`` 1.0 once seen; no cost before). With ``uv_octave`` the
      unvoiced cost carries this term of the frame's best candidate too (so it ranks candidates and
      leaves voicing alone). Without it a low voice in the telephone band, which has lost F0 and
      H2, is tracked at the period of H3 or H4, and the jump cost holds it there;
    - plus, when ``prm[P_V_GAIN]`` is not 0, ``v_gain * z`` on the unvoiced cost, ``z`` the
      log-odds of a learned voicing model (a logistic regression on the frame's evidence,
      :func:`evidence`, weights ``prm[P_VW:P_VW + N_EVIDENCE]``): the evidence that a frame is
      voiced makes the unvoiced state dearer, inside the search, so path and voicing agree;
    - voiced, minus the noise-share credit ``NS_W * ns`` (see :data:`NS_W`): in stationary,
      aperiodic noise a frame within the knee of the level and 5 dB or more above the noise floor
      has its candidates' cost lowered by the noise's expected share of their aperiodicity, but
      only the candidates within :data:`NS_F0_OCT` octaves of the speaker's running median F0;
    - transitions: ``jump * |log2(tau_a / tau_b)|`` voiced to voiced, ``vuv`` across voicing;
    - a frame whose band energy is below :data:`SILENCE_DB` has no voiced state.

    After the forward step of stream frame ``f`` the best path is traced back ``D`` frames and
    frame ``f - D`` is decided for good (``D = rtau.shape[0] - 2``).

    Parameters
    ----------
    cand : float64[4, >=m, K] per new frame: ``cand[0]`` lag of each candidate (samples at
        ``prm[P_SR]``; 0 = no candidate), ``cand[1]`` CMNDF value, ``cand[2]`` short-window NAC,
        ``cand[3, :, 0]`` the lag-1 autocorrelation (``out_x`` of :func:`yin_candidates`).
    edb : float64[>=m] band energy of each new frame (dB).
    m : int, new frames, in stream order.
    o0 : int, output index of the frame decided after the first new frame (negative at the very
        start of a stream, while fewer than ``D`` frames exist).
    prm : float64[N_PARAMS] see the ``P_*`` indices.
    delta : float64[K+1] state: accumulated cost of each state at the newest frame.
    nd : float64[K+1+N_EVIDENCE] scratch.
    rtau : float64[D+2, K] state: candidate lags of the last ``D+2`` frames (a ring: frame ``f``
        in slot ``f % (D+2)``; two slots at least, so the previous frame survives when ``D = 0``).
    rbp : int64[D+2, K+1] state: back-pointers of the same frames (same ring).
    rf : float64[D+2, 2] state: band energy and periodicity of the same frames.
    lvl : float64[N_LEVEL] state: speaker level (dB), 1.0 once a frame was voiced, running max
        of ``e``; then the voicing evidence's trackers (see :func:`evidence`); then the register
        (log2 lag) and 1.0 once it is set; then the noise floor (dB) and 1.0 once set, the median
        log2 lag of the frames decided voiced and 1.0 once set, the median periodicity of the
        frames near the floor and 1.0 once set (the noise-share credit's state).
    pos : int64[1] state: frames stepped so far.
    out_f0 : float32[:] F0 in Hz, NaN when unvoiced. out_per : float32[:] periodicity 0..1
        (``1 -`` the lowest voiced local cost without the octave term). out_voiced : bool[:].
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
    vg = prm[P_V_GAIN]
    om = prm[P_OCT_HIGH]
    ev = nd[K + 1:]
    for r in range(m):
        f = pos[0]
        sl = f % R
        prev = (f - 1) % R
        e = edb[r]
        if e > lvl[2] or f == 0:
            lvl[2] = e
        lev = lvl[0] if lvl[1] > 0.0 else max(lvl[2] - prm[P_PRIOR_DB], prm[P_PRIOR_FLOOR])
        rel = min(max(e - lev + prm[P_UV_KNEE], -60.0), 0.0)
        cuv = prm[P_UV_BASE] + prm[P_UV_DB] * (rel + prm[P_UV_REL_DB])
        # the noise-share credit (NS_*): floor read before this frame updates it
        if lvl[9] == 0.0:
            lvl[8] = e
            lvl[9] = 1.0
        fl = lvl[8]
        lvl[8] += prm[P_LEVEL_STEP] * (FLOOR_Q - (1.0 if e < fl else 0.0))
        nsb = 0.0
        if e >= lev - prm[P_UV_KNEE] and lvl[13] > 0.0 and lvl[12] <= NS_PER_MAX:
            ns = 10.0 ** (0.1 * (fl - e))
            if ns <= NS_CAP:
                nsb = NS_W * ns
        if vg != 0.0:
            evidence(cand, r, e, rf[prev, 0], f == 0, prm, lvl, ev)
            z = 0.0
            for k in range(N_EVIDENCE):
                z += prm[P_VW + k] * ev[k]
            cuv += vg * z
        # F0 far above the speaker's register: log2 of the shortest lag that pays nothing
        hi = lvl[6] - REG_MARGIN if om != 0.0 and lvl[7] > 0.0 else -np.inf
        uo = prm[P_UV_OCT]
        if uo != 0.0:
            lo_v = np.inf
            t_b = tmin
            x_b = 0.0
            for s in range(K):
                t = cand[0, r, s]
                if t > 0.0:
                    c = (1.0 - wn) * cand[1, r, s] + wn * (1.0 - cand[2, r, s]) \
                        + oc * np.log2(t / tmin)
                    x = 0.0
                    if om != 0.0:
                        lt = np.log2(t)
                        if lt < hi:
                            x = om * (hi - lt)
                    if c + x < lo_v:
                        lo_v = c + x
                        t_b = t
                        x_b = x
            cuv += uo * (oc * np.log2(t_b / tmin) + x_b)
        best_per = 0.0
        for s in range(K + 1):
            if s < K:
                t = cand[0, r, s]
                rtau[sl, s] = t
                if t <= 0.0:
                    nd[s] = BIG
                    rbp[sl, s] = K
                    continue
                ap = (1.0 - wn) * cand[1, r, s] + wn * (1.0 - cand[2, r, s])
                if 1.0 - ap > best_per:
                    best_per = 1.0 - ap
                loc = ap + oc * np.log2(t / tmin) if e >= SILENCE_DB else BIG
                lt = np.log2(t)
                if om != 0.0:
                    if lt < hi:
                        loc += om * (hi - lt)
                if nsb > 0.0 and (lvl[11] == 0.0 or abs(lt - lvl[10]) <= NS_F0_OCT):
                    loc -= nsb
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
        rf[sl, 1] = min(best_per, 1.0)
        if e < lvl[8] + NS_FLOOR_BAND_DB:
            if lvl[13] > 0.0:
                lvl[12] += NS_PER_STEP * (0.5 - (1.0 if best_per < lvl[12] else 0.0))
            else:
                lvl[12] = NS_PER_START
                lvl[13] = 1.0
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
        if s < K:
            out_f0[oi] = sr / rtau[gs, s]
            out_voiced[oi] = True
            eg = rf[gs, 0]
            if lvl[1] > 0.0:
                lvl[0] += prm[P_LEVEL_STEP] * (prm[P_LEVEL_Q] - (1.0 if eg < lvl[0] else 0.0))
            else:
                lvl[0] = eg
                lvl[1] = 1.0
            lg = np.log2(rtau[gs, s])
            if lvl[7] > 0.0:
                lvl[6] += REG_STEP * (REG_Q - (1.0 if lg < lvl[6] else 0.0))
            else:
                lvl[6] = lg
                lvl[7] = 1.0
            if lvl[11] > 0.0:
                lvl[10] += REG_STEP * (0.5 - (1.0 if lg < lvl[10] else 0.0))
            else:
                lvl[10] = lg
                lvl[11] = 1.0
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
