"""Voice activity: a hysteresis decision on webrtcvad, the pitch tracker's voicing and the energy
against a percentile noise floor; hangover; cross-talk between two microphones by correlation."""

import numpy as np

from ._jit import jit

#: Frames quieter than this (dBFS) are never speech: the quantisation noise of 16-bit audio
#: (rounding to 1/32768 leaves -101 dBFS), under which a recording holds nothing; every frame
#: above is judged against the tracked floor and speech level. It was -75 dBFS, 50 dB under a
#: close microphone's speech level: a recorder 30 dB quieter lost the onsets and tails under it
#: (held-out planted dialogues at -30 dB, clean: median / p90 |FTO error| 27 / 111 -> 44 / 246
#: ms; 30 / 167 with this floor, the original unchanged; ``bench/results/invariance.md``).
ABS_FLOOR_DB = -100.0
#: A faded tail is extended only once this many non-speech frames were heard (the background's
#: level is not known before; a stream that starts in speech decides as one that starts in
#: silence).
MASK_MIN_FILL = 50


@jit
def apply_hangover(raw, n, state, hang_frames, out):
    """``out[i]`` is True for raw speech frames and the ``hang_frames`` frames after each;
    ``state[0]`` carries the frames of hangover left across calls."""
    hang = state[0]
    for i in range(n):
        if raw[i]:
            hang = hang_frames
            out[i] = True
        elif hang > 0:
            hang -= 1
            out[i] = True
        else:
            out[i] = False
    state[0] = hang


# ----------------------------------------------------------------------------- hysteresis VAD

#: Energy quantisation of the noise-floor histogram: bin ``b`` holds energies in
#: ``[HIST_LO_DB + b / HIST_PER_DB, HIST_LO_DB + (b + 1) / HIST_PER_DB)``.
HIST_LO_DB = -130.0
HIST_PER_DB = 2.0
HIST_BINS = 280
#: Indices of the parameter vector of :func:`vad_hysteresis`.
P_ON_DB, P_OFF_DB, P_VOICED_DB, P_FLOOR_Q, P_MAX_UNVOICED, P_REL_DB, P_LEVEL_Q, P_LEVEL_STEP, \
    P_PERIODIC, P_PEAK_Q, P_PEAK_ON_DB, P_PEAK_OFF_DB, P_MASK_RANGE_DB, P_MASK_SLOPE_DB, \
    P_MASK_MAX, P_MASK_MIN_RUN, P_LEAD_MAX, P_LOUD_DB, P_TAIL_DB, P_TAIL_REL_DB, P_BAND_Q, \
    P_BAND_STEP, P_EVID_FRAC, P_EVID_FRAC_NEW, P_EVID_HOLD = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, \
    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24
#: (``P_BAND_Q``, ``P_BAND_STEP``: the band floors of :func:`.bands.band_snr_energy`, which
#: computes the energy this VAD is given; not read here.)
N_VAD_PARAMS = 25
#: Indices of its scalar state vector (a fresh state is all zeros).
S_IN_SPEECH, S_UNVOICED, S_RING_POS, S_RING_FILL, S_N_PEND, S_FLOOR, S_LEVEL, S_NOISE, \
    S_PEAK, S_MASKED, S_RUN, S_RISE, S_PREV_E, S_EVID_HOLD = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, \
    12, 13
N_VAD_STATE = 14


@jit
def energy_bin(e):
    """Histogram bin of an energy in dB."""
    b = int((e - HIST_LO_DB) * HIST_PER_DB)
    if b < 0:
        return 0
    if b >= HIST_BINS:
        return HIST_BINS - 1
    return b


@jit
def _floor_add(b, st, ring, hist):
    """Add bin ``b`` to the ring of the last ``ring.shape[0]`` non-speech frames."""
    w = ring.shape[0]
    pos = int(st[S_RING_POS])
    if st[S_RING_FILL] >= w:
        hist[ring[pos]] -= 1
    else:
        st[S_RING_FILL] += 1
    ring[pos] = b
    hist[b] += 1
    st[S_RING_POS] = (pos + 1) % w


@jit
def _floor_value(q, st, hist):
    """The ``q`` quantile of the ring (lower edge of its bin, dB); NaN when empty."""
    fill = st[S_RING_FILL]
    if fill <= 0:
        return np.nan
    need = q * fill
    acc = 0.0
    for b in range(HIST_BINS):
        acc += hist[b]
        if acc >= need and acc > 0:
            return HIST_LO_DB + b / HIST_PER_DB
    return HIST_LO_DB + (HIST_BINS - 1) / HIST_PER_DB


@jit
def _floor_values(q, q_hi, st, hist):
    """The ``q`` and ``q_hi >= q`` quantiles of the ring in one pass (as :func:`_floor_value`)."""
    fill = st[S_RING_FILL]
    if fill <= 0:
        st[S_PEAK] = np.nan
        return np.nan
    need = q * fill
    need_hi = q_hi * fill
    acc = 0.0
    lo = np.nan
    for b in range(HIST_BINS):
        acc += hist[b]
        if acc > 0:
            if acc >= need and not (lo == lo):
                lo = HIST_LO_DB + b / HIST_PER_DB
            if acc >= need_hi:
                st[S_PEAK] = HIST_LO_DB + b / HIST_PER_DB
                return lo
    st[S_PEAK] = HIST_LO_DB + (HIST_BINS - 1) / HIST_PER_DB
    if not (lo == lo):
        lo = st[S_PEAK]
    return lo


@jit
def vad_hysteresis(energy_db, webrtc, voiced, periodicity, n, prm, st, ring, hist, pend,
                   out_speech, out_evidence, out_lead, out_loud):
    """Speech decision with onset/offset hysteresis against a percentile noise floor.

    Parameters
    ----------
    energy_db : float array, shape (>= n,)
        Frame energy in dBFS (broadband, or the band measure of :mod:`.bands`: ``vad.band_*``).
    webrtc, voiced : bool arrays, shape (>= n,)
        webrtcvad's decision and the pitch tracker's voicing, per frame.
    periodicity : float array, shape (>= n,)
        The pitch tracker's periodicity (0..1) per frame.
    n : int
        Frames to process.
    prm : float64[N_VAD_PARAMS]
        ``P_ON_DB``: an onset needs energy this far above the floor and webrtcvad's yes;
        ``P_VOICED_DB``: a voiced frame this far above the floor is speech (onset or not);
        ``P_OFF_DB``: speech goes on while the energy stays this far above the floor, and
        ``P_TAIL_DB`` above it where that lies under the speech level by ``P_TAIL_REL_DB`` or
        more (a quiet room: a decaying tail ends where it is heard over the floor, not 4 dB
        over it; in noise the floor is close to the level and ``P_OFF_DB`` applies);
        ``P_FLOOR_Q``: the floor is this quantile of the recent non-speech frames;
        ``P_MAX_UNVOICED``: speech with this many frames in a row without a voiced frame ends,
        and those frames are taken as noise (they join the floor's history), and no new onset
        comes before a frame within ``P_OFF_DB`` of the floor;
        ``P_REL_DB``: an unvoiced frame is speech only within this many dB of the speaker's
        speech level (breaths and lip noise lie further down), once a voiced frame was heard;
        speech going on continues through frames whose periodicity reaches ``P_PERIODIC`` (a
        breath is not periodic; a soft "um" the tracker does not call voiced is);
        ``P_LEVEL_Q``, ``P_LEVEL_STEP``: the speech level is this quantile of the voiced speech
        frames' energies (voiced speech frames clear of the noise peaks), tracked online in steps
        of ``P_LEVEL_STEP`` dB; ``P_LEAD_MAX``: the onset look-back (frames, see ``out_lead``);
        ``P_LOUD_DB``: see ``out_loud``.
    st : float64[N_VAD_STATE]
        Scalar state (all zeros when fresh); ``st[S_FLOOR]`` is the floor after the last frame,
        ``st[S_LEVEL]`` the speech level (0 before the first voiced speech frame).
    ring : int32[W]
        Histogram bins of the last ``W`` non-speech frames (W frames: the floor's memory).
    hist : int32[HIST_BINS]
        Counts of ``ring``'s bins.
    pend : int32[>= max_unvoiced]
        Bins of the current stretch of speech without voicing.
    out_speech : bool array, shape (>= n,)
        Filled with the decision.
    out_evidence : bool array, shape (>= n,)
        Speech frames that show a voice and not the background: voiced, clear of the noise's
        own peaks (``P_PEAK_ON_DB`` over the peak quantile) and, once the speaker's level is
        known, above a fraction of the range from the floor to that level (in dB):
        ``P_EVID_FRAC`` (0.5: its upper half) within ``P_EVID_HOLD`` frames after the last
        evidence frame (the voice goes on), ``P_EVID_FRAC_NEW`` after longer (a voice that
        starts anew must stand further out of the background: a talker further away, riding
        10 dB under the speaker, is not this channel's voice). The turn
        tracker keeps a stretch of speech only with enough of them: a murmur of babble or an
        engine's hum that the pitch tracker calls voiced, riding a few dB over the noise's usual
        level, is not a voice of this channel.
    out_lead : int array, shape (>= n,)
        At the first frame of speech after non-speech: how many of the non-speech frames just
        before it (at most ``P_LEAD_MAX``) were a rise out of the background: each louder than
        the one before, ``P_OFF_DB`` over the floor and clear of the noise peaks as an onset is
        (``P_PEAK_ON_DB``), waiting for webrtcvad's or the voicing's word (a breath's plateau
        and the noise's flicker are no rise). 0 elsewhere. Bookkeeping on frames already
        decided: the turn tracker dates the IPU's start back by it.
    out_loud : bool array, shape (>= n,)
        Speech frames within ``P_LOUD_DB`` of the speaker's speech level (none while that level
        is not known yet). The turn tracker does not start an IPU with a
        voiceless run that never gets this loud and stands apart from the word after it (a
        breath, a lip click).

    Frames under ``ABS_FLOOR_DB`` are never speech. Before any non-speech frame the floor is
    the first frame's energy.
    """
    on_db = prm[P_ON_DB]
    off_db = prm[P_OFF_DB]
    v_db = prm[P_VOICED_DB]
    q = prm[P_FLOOR_Q]
    max_uv = int(prm[P_MAX_UNVOICED])
    rel_db = prm[P_REL_DB]
    lq = prm[P_LEVEL_Q]
    lstep = prm[P_LEVEL_STEP]
    per_min = prm[P_PERIODIC]
    q_hi = prm[P_PEAK_Q]
    pk_on = prm[P_PEAK_ON_DB]
    pk_off = prm[P_PEAK_OFF_DB]
    m_range = prm[P_MASK_RANGE_DB]
    m_slope = prm[P_MASK_SLOPE_DB]
    m_max = prm[P_MASK_MAX]
    m_run = prm[P_MASK_MIN_RUN]
    lead_max = prm[P_LEAD_MAX]
    loud_db = prm[P_LOUD_DB]
    tail_db = prm[P_TAIL_DB]
    tail_rel = prm[P_TAIL_REL_DB]
    ev_frac = prm[P_EVID_FRAC]
    ev_frac_new = prm[P_EVID_FRAC_NEW]
    ev_hold = prm[P_EVID_HOLD]
    for i in range(n):
        e = float(energy_db[i])
        b = energy_bin(e)
        floor = _floor_values(q, q_hi, st, hist)
        peak = st[S_PEAK]
        if not (floor == floor):
            floor = e
            peak = e
        level = st[S_LEVEL]
        speech = False
        faded = False
        if e > ABS_FLOOR_DB:
            if voiced[i] and e > floor + v_db:
                speech = True
            elif level != 0.0 and e < level - rel_db and (
                    periodicity[i] < per_min or st[S_IN_SPEECH] == 0.0):
                speech = False
            elif st[S_IN_SPEECH] > 0:
                go_on = floor + off_db
                if level != 0.0:
                    go_on = max(go_on, min(floor + tail_db, level - tail_rel))
                speech = e > go_on and e > peak + pk_off
                # under noise the tail goes on (masked, below); in a quiet room it ends here
                faded = not speech and go_on == floor + off_db
            elif st[S_NOISE] > 0:  # after noise taken for speech: no onset before a quiet frame
                speech = False
            else:
                speech = webrtc[i] and e > floor + on_db and e > peak + pk_on
        if e <= floor + off_db:
            st[S_NOISE] = 0.0
        # a voiced frame clear of the noise it rides on: the speech level learns from these;
        # evidence of the voice when also in the upper part of the floor..level range: over the
        # fraction ev_frac of it while the voice goes on (evidence in the last ev_hold frames),
        # ev_frac_new when it starts anew
        clear = speech and voiced[i] and e > peak + pk_on
        frac = ev_frac if st[S_EVID_HOLD] > 0 else ev_frac_new
        evid = clear and (level == 0.0 or e > floor + frac * (level - floor))
        if evid:
            st[S_EVID_HOLD] = ev_hold
        elif st[S_EVID_HOLD] > 0:
            st[S_EVID_HOLD] -= 1.0
        if clear:
            if level == 0.0:
                st[S_LEVEL] = e
            elif e > level:
                st[S_LEVEL] = level + lstep * lq
            else:
                st[S_LEVEL] = level - lstep * (1.0 - lq)
        if speech:
            if voiced[i]:
                st[S_UNVOICED] = 0
                st[S_N_PEND] = 0
            else:
                k = int(st[S_N_PEND])
                if k < pend.shape[0]:
                    pend[k] = b
                    st[S_N_PEND] = k + 1
                st[S_UNVOICED] += 1
                if st[S_UNVOICED] >= max_uv:
                    # no voicing in this long: noise, not speech; it joins the floor's history
                    for j in range(int(st[S_N_PEND]) - 1):
                        _floor_add(pend[j], st, ring, hist)
                    speech = False
                    st[S_NOISE] = 1.0
        if not speech:
            st[S_UNVOICED] = 0
            st[S_N_PEND] = 0
            _floor_add(b, st, ring, hist)
        st[S_IN_SPEECH] = 1.0 if speech else 0.0
        # speech that faded into the background: its tail goes on under it, down to m_range dB
        # under the speech level at m_slope dB per frame (in silence, no frames are added); only
        # after a run of at least m_run speech frames (a blip is not made longer)
        if speech:
            st[S_MASKED] = 0.0
            st[S_RUN] += 1.0
        elif (faded and level != 0.0 and m_slope > 0.0 and st[S_RUN] >= m_run
              and st[S_RING_FILL] >= MASK_MIN_FILL):
            h = (max(floor + off_db, peak + pk_off) - (level - m_range)) / m_slope
            st[S_MASKED] = min(m_max, max(0.0, np.floor(h + 0.5)))
        if not speech:
            st[S_RUN] = 0.0
        masked = False
        if not speech and st[S_MASKED] > 0:
            st[S_MASKED] -= 1.0
            masked = True
        out = speech or masked
        out_speech[i] = out
        out_evidence[i] = evid
        out_loud[i] = out and level != 0.0 and e > level - loud_db
        # the onset's look-back: S_RISE counts the non-speech frames of the rise going on (-1
        # while speech goes on), S_PREV_E holds the last frame's energy
        if out:
            out_lead[i] = int(min(st[S_RISE], lead_max)) if st[S_RISE] > 0 else 0
            st[S_RISE] = -1.0
        else:
            out_lead[i] = 0
            if e > floor + off_db and e > peak + pk_on and e > ABS_FLOOR_DB:
                # a rise: each frame louder than the one before (a breath's plateau, noise's
                # flicker start it again)
                st[S_RISE] = st[S_RISE] + 1.0 if st[S_RISE] > 0 and e > st[S_PREV_E] else 1.0
            else:
                st[S_RISE] = 0.0
        st[S_PREV_E] = e
    st[S_FLOOR] = _floor_values(q, q_hi, st, hist)


# ----------------------------------------------------------------------------- cross-talk


@jit
def channel_correlation(xa, xb, pre, n, hop, win, max_lag, need, out, scratch):
    """Largest normalised cross-correlation of two channels at small lags, per frame.

    Parameters
    ----------
    xa, xb : float32 arrays
        The two channels, aligned: ``pre`` samples of history, then the ``hop`` samples of each
        of the ``n`` frames.
    pre : int
        History samples before frame 0 (at least ``win + 2 * max_lag``).
    n, hop : int
        Frames and samples per frame.
    win : int
        Window length (samples). The window of frame ``i`` ends ``max_lag`` samples before the
        end of its hop, so every lag stays inside the samples given.
    max_lag : int
        Lags ``-max_lag .. max_lag`` samples are searched (both signs: either channel may hear
        the other).
    need : bool array, shape (>= n,)
        Only frames where this is True are computed (the others get 0).
    out : float64 array, shape (>= n,)
        ``max |r(lag)|`` over the lags, with ``r`` the correlation coefficient of the window of
        ``xa`` and the window of ``xb`` shifted by ``lag`` (every second sample).
    scratch : float64 array, shape (2, >= 2 * max_lag + 1)
        Caller-owned: the sums of every lag, accumulated side by side (the lag loop is the
        inner one, contiguous, so it runs in SIMD lanes; each sum adds its terms in time order).

    Cross-talk (one voice reaching both microphones, a few ms apart) gives values near 1; two
    people speaking at once, each into their own microphone, give low values whatever their levels.
    """
    nl = 2 * max_lag + 1
    sab = scratch[0]
    sbb = scratch[1]
    for i in range(n):
        if not need[i]:
            out[i] = 0.0
            continue
        end = pre + (i + 1) * hop - max_lag
        a0 = end - win
        saa = 0.0
        for t in range(a0, end, 2):
            saa += float(xa[t]) * float(xa[t])
        best = 0.0
        if saa > 0.0:
            for k in range(nl):
                sab[k] = 0.0
                sbb[k] = 0.0
            for t in range(a0, end, 2):
                va = float(xa[t])
                seg = xb[t - max_lag:t - max_lag + nl]
                for k in range(nl):
                    vb = float(seg[k])
                    sab[k] += va * vb
                    sbb[k] += vb * vb
            for k in range(nl):
                if sbb[k] > 0.0:
                    r = abs(sab[k]) / np.sqrt(saa * sbb[k])
                    if r > best:
                        best = r
        out[i] = best


@jit
def remove_cross_talk(energy_a, speech_a, energy_b, speech_b, corr, n, corr_min):
    """Drop a channel's speech where it is only the other channel's voice (cross-talk).

    Where both channels are marked speech and their correlation ``corr`` at small lags is at
    least ``corr_min``, the two microphones carry one voice: the quieter channel's flag is
    cleared. Uncorrelated channels keep both flags, however quiet one of them is (a second
    speaker talking softly into their own microphone). Flags are changed in place.
    """
    for i in range(n):
        if speech_a[i] and speech_b[i] and corr[i] >= corr_min:
            if energy_a[i] < energy_b[i]:
                speech_a[i] = False
            else:
                speech_b[i] = False
